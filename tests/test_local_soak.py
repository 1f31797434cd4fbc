"""Soak: 50 runs of a ParallelFor of 20, two at a time, random cancels and one injected store failure.

Every run ends; no process of any run is left; every SUCCEEDED run's outputs equal the plain functions'.
The item work is tiny and runs repeat five inputs, so the cache (its hashes checked on every hit) takes
much of the load; a third of the runs go without it, so every one of their tasks is a process.
"""

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kfp import compiler, dsl

from kfp_notebook.backends.local import LocalOptions, supervision
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.backends.local.store import EventLog
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = pytest.mark.slow

RUNS, ITEMS = 50, 20


@dsl.component(base_image="python:3.11")
def square(x: int, offset: int) -> int:
    return (x + offset) ** 2


@dsl.component(base_image="python:3.11")
def total(values: list) -> int:
    return sum(values)


@dsl.pipeline
def soak(offset: int = 0):
    with dsl.ParallelFor(list(range(ITEMS)), parallelism=4) as item:
        s = square(x=item, offset=offset)
    total(values=dsl.Collected(s.output))


class OneStoreFailure:
    """EventLog.append that fails once, at its `at`-th call across every run."""

    def __init__(self, at: int):
        self.at, self.calls, self.lock, self.real = at, 0, threading.Lock(), EventLog.append

    def __call__(self, log: EventLog, event) -> None:
        with self.lock:
            self.calls += 1
            fail = self.calls == self.at
        if fail:
            raise OSError(28, "No space left on device (injected)")
        self.real(log, event)


def test_fifty_runs_end_leave_no_process_and_compute_what_the_functions_compute(tmp_path, monkeypatch):
    yaml_path = tmp_path / "soak.yaml"
    compiler.Compiler().compile(soak, str(yaml_path))
    yaml_text = yaml_path.read_text()
    failure = OneStoreFailure(at=700)
    monkeypatch.setattr(EventLog, "append", lambda log, event: failure(log, event))
    backend, chance = LocalBackend(tmp_path / "runs"), random.Random(10)
    plan = [(index % 5, index % 3 == 0, chance.random() < 0.2, chance.randint(1, 40)) for index in range(RUNS)]

    def one(step):
        offset, fresh, cancel, events = step  # a third of the runs without the cache: every task a process
        handle = backend.start(yaml_text, {"offset": offset}, LocalOptions(workers=2, cache=not fresh))
        if cancel:  # at a random point of the run: after its first `events` events (runs are fast, times vary)
            for _ in range(2000):
                if handle.done or len(handle.events) >= events:
                    break
                time.sleep(0.005)
            handle.cancel()
        assert handle.wait(120), f"run {handle.run_id} did not end"
        return offset, handle

    with ThreadPoolExecutor(max_workers=2) as pool:
        ended = list(pool.map(one, plan))
    states = [handle.state for _, handle in ended]
    assert set(states) <= {TaskState.SUCCEEDED, TaskState.CANCELED, TaskState.FAILED}
    failed = [h for _, h in ended if h.state is TaskState.FAILED]
    assert failure.calls > failure.at, f"only {failure.calls} events: the failure was not injected"
    assert len(failed) == 1 and "No space left on device (injected)" in failed[0].message, [
        (h.message, [t.message for t in h.tasks.values() if t.state is TaskState.FAILED][:2]) for h in failed
    ]
    assert states.count(TaskState.SUCCEEDED) >= RUNS // 2 and states.count(TaskState.CANCELED) >= 1
    for offset, handle in ended:
        if handle.state is TaskState.SUCCEEDED:
            result = handle.result()
            squares = [result[f"for-loop-2[{i}]/square"].output for i in range(ITEMS)]
            assert squares == [square.python_func(x=i, offset=offset) for i in range(ITEMS)]
            assert result["total"].output == total.python_func(values=squares)
    recorded = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/tasks/*/process.json")]
    # A forked task tells the kernel its exit status just before it exits: its teardown may take a moment more.
    assert recorded
    eventually(lambda: not [r for r in recorded if supervision.alive(r) or supervision.group_exists(r["pid"])], 5)
