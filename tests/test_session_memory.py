"""A kernel's session holds runs going on, not finished ones; subscribers that fail are reported; panels are not kept."""

from __future__ import annotations

import gc
import logging
import threading
import time
import tracemalloc

import pytest

from kfp_notebook.session import Session
from kfp_notebook.tracking.handle import RunHandle, TaskEvent, TaskStatus
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = pytest.mark.slow

#: Bytes a finished 1-task run may leave in the kernel (its handle with events was ~33 KB).
BYTES_PER_RUN = 4_000


@pytest.fixture
def one_task(ip):
    ip.run_cell("%%component\ndef tiny(x: int) -> int:\n    return x + 1\n")
    ip.run_cell("%%pipeline\ndef one(x: int = 1):\n    tiny(x=x)\n")
    return ip.user_ns["one"]


def run_once(session: Session, pipeline, x: int) -> None:
    handle = session.start(pipeline, {"x": x})
    assert handle.wait(60) and handle.state is TaskState.SUCCEEDED, handle.message


def test_finished_runs_are_read_from_disk_not_held(one_task, magics, ip):
    session = magics.session
    session.panels.clear()  # a panel's picture updates are kept by IPython's output history, not by us
    for x in range(8):  # warm up: the starter, kfp's compiler caches, the cache folder
        run_once(session, one_task, x)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runs = 30
        for x in range(100, 100 + runs):
            run_once(session, one_task, x)
        # the last scheduler thread lets go of its run
        eventually(lambda: not any(t.name.startswith("kfp-run-") for t in threading.enumerate()), timeout=10)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / runs < BYTES_PER_RUN, f"{grown / runs:.0f} bytes per finished run"
    assert session.runs == {}
    ip.run_line_magic("kfp", "status")  # the latest run, read from its folder
    assert "tiny" in session.task_log("tiny")  # also its log
    assert len(session.history()) == 38


class Controls:
    """A run handle's controls with a log that grows (a remote run's task)."""

    def __init__(self):
        self.log = ""

    def task_log(self, task_id, tail=None):
        self.log += "line\n"
        return self.log

    def cancel(self):
        pass


def a_handle(run_id: str = "remote-1") -> RunHandle:
    handle = RunHandle(run_id, "p", "kubeflow", Controls())  # type: ignore[arg-type]
    handle.add_task(TaskStatus("train", "train"))
    return handle


def test_a_failing_subscriber_is_reported_once_and_keeps_its_updates(caplog):
    handle, seen = a_handle(), []

    def shaky(event: TaskEvent) -> None:
        seen.append(event.state)
        raise ValueError("widget gone")

    handle.subscribe(shaky)
    with caplog.at_level(logging.ERROR, logger="kfp_notebook"):
        for state in (TaskState.RUNNING, TaskState.SUCCEEDED):
            handle.publish(TaskEvent(handle.run_id, "train", state, time.time()))
    assert seen == [TaskState.RUNNING, TaskState.SUCCEEDED]  # not unsubscribed
    assert len(caplog.records) == 1 and "widget gone" in caplog.text and caplog.records[0].exc_info
    assert len(handle.notices) == 1 and "ValueError: widget gone" in handle.notices[0]


def test_logs_follow_follows_this_kernels_latest_run_even_when_it_was_submitted(one_task, magics):
    session = magics.session
    run_once(session, one_task, 1)  # a newer local run exists on disk…
    handle = a_handle()
    session.runs[handle.run_id], session.last_run = handle, handle.run_id  # …but the latest run is remote
    handle.publish(TaskEvent(handle.run_id, "train", TaskState.RUNNING, time.time()))
    written: list[str] = []

    def write(text: str) -> None:
        written.append(text)
        if len(written) == 3:
            handle.publish(TaskEvent(handle.run_id, "train", TaskState.SUCCEEDED, time.time()))

    assert session.follow_log("train", None, write, poll=0.01) == "SUCCEEDED"
    assert "".join(written) == "line\n" * 4


def test_panels_that_are_gone_are_not_kept(one_task, magics):
    import weakref

    session = magics.session
    closed = []
    for _ in range(4):
        panel = session.show(one_task)
        panel.close()
        closed.append(weakref.ref(panel))
    del panel
    gc.collect()
    alive = [ref() for ref in closed if ref() is not None]
    assert alive == [session.panels[one_task.name]]  # only the pipeline's latest panel, which the session names
    assert all(p in session.shown for p in alive)
