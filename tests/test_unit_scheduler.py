"""The local scheduler's paths with a fake task handler (no processes): failures, retries, and faults in its own work.

Every run ends with a true state, whatever fails: the task's program, the cache, the run's files.
"""

import json
import threading

import pytest
from kfp import compiler, dsl

from kfp_notebook.backends.local import LocalOptions
from kfp_notebook.backends.local.cache import TaskCache, cache_key, fingerprint
from kfp_notebook.backends.local.executor import Outcome
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.backends.local.store import EventLog, RunStore
from kfp_notebook.tracking.states import TaskState

from helpers import eventually


@dsl.component(base_image="python:3.11")
def produce(n: int) -> int:
    return n


@dsl.component(base_image="python:3.11")
def consume(x: int) -> int:
    return x


@dsl.component(base_image="python:3.11")
def cleanup(status: dsl.PipelineTaskFinalStatus):
    pass


@dsl.pipeline
def chain(n: int = 2):
    with dsl.ExitHandler(cleanup()):
        first = produce(n=n).set_retry(2, backoff_duration="0s")
        consume(x=first.output)
        with dsl.ParallelFor([1, 2, 3]) as item:
            consume(x=item)


@pytest.fixture(scope="module")
def chain_yaml(tmp_path_factory):
    path = tmp_path_factory.mktemp("ir") / "chain.yaml"
    compiler.Compiler().compile(chain, str(path))
    return path.read_text()


class FakeTaskHandler:
    """Stands in for task processes (the backend's task-handler seam): answers by the component's function name,
    counting attempts."""

    def __init__(self, script):
        self.script, self.calls, self.stopped = script, [], threading.Event()

    def stop_all(self):
        self.stopped.set()

    def run(self, task):
        name = task.program.function
        self.calls.append(name)
        answer = self.script.get(name, "ok")
        if callable(answer):
            answer = answer(self.calls.count(name))
        if isinstance(answer, Exception):
            raise answer
        if answer == "ok":
            value = task.parameters.get("n", task.parameters.get("x"))
            return Outcome(True, {"Output": value} if task.output_parameters else {})
        return Outcome(False, message=answer)


def start(tmp_path, yaml_text, monkeypatch, script, cache=False):
    fake = FakeTaskHandler(script)
    backend = LocalBackend(tmp_path / "runs", task_handler=lambda: fake)
    handle = backend.start(yaml_text, {}, LocalOptions(workers=2, cache=cache))
    assert handle.wait(30), "the run did not end"
    return handle, fake


def test_a_cancel_goes_through_the_task_handler_and_the_run_ends_canceled(tmp_path, chain_yaml):
    """The scheduler starts and stops tasks only through its handler: a task blocked until the handler is told
    to stop ends the run CANCELED, and nothing else starts."""

    def blocked(_):
        return "ok" if fake.stopped.wait(30) else "never stopped"

    fake = FakeTaskHandler({"produce": blocked, "consume": blocked, "cleanup": blocked})
    handle = LocalBackend(tmp_path / "runs", task_handler=lambda: fake).start(chain_yaml, {}, LocalOptions(workers=2))
    assert eventually(lambda: len(fake.calls) == 2, timeout=10)  # one per worker, each waiting for the stop
    handle.cancel()
    assert handle.wait(30) and handle.state is TaskState.CANCELED
    assert fake.stopped.is_set() and len(fake.calls) == 2, fake.calls


def states(handle):
    return {task_id: status.state for task_id, status in handle.tasks.items()}


def test_a_clean_run_succeeds_and_runs_every_task_once(tmp_path, chain_yaml, monkeypatch):
    handle, fake = start(tmp_path, chain_yaml, monkeypatch, {})
    assert handle.state is TaskState.SUCCEEDED
    assert sorted(fake.calls) == ["cleanup", "consume", "consume", "consume", "consume", "produce"]
    assert handle.result()["consume"].output == 2


def test_a_failed_task_skips_its_downstream_and_the_exit_task_still_runs(tmp_path, chain_yaml, monkeypatch):
    handle, fake = start(tmp_path, chain_yaml, monkeypatch, {"produce": "exited with code 1"})
    found = states(handle)
    assert handle.state is TaskState.FAILED
    assert found["exit-handler-1/produce"] is TaskState.FAILED
    assert found["exit-handler-1/consume"] is TaskState.SKIPPED
    assert found["cleanup"] is TaskState.SUCCEEDED
    assert fake.calls.count("produce") == 3  # two retries


def test_retries_stop_at_the_first_success(tmp_path, chain_yaml, monkeypatch):
    handle, fake = start(tmp_path, chain_yaml, monkeypatch, {"produce": lambda n: "flaky" if n < 2 else "ok"})
    assert handle.state is TaskState.SUCCEEDED
    assert fake.calls.count("produce") == 2 and handle.tasks["exit-handler-1/produce"].attempts == 2


def test_an_exception_in_the_executor_fails_the_task_with_its_message(tmp_path, chain_yaml, monkeypatch):
    handle, _ = start(tmp_path, chain_yaml, monkeypatch, {"consume": OSError("no space left on device")})
    assert handle.state is TaskState.FAILED
    assert "no space left on device" in handle.tasks["exit-handler-1/consume"].message


def test_a_cache_that_cannot_store_fails_the_task_and_the_run_ends(tmp_path, chain_yaml, monkeypatch):
    def refuse(self, key, outputs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TaskCache, "put", refuse)
    handle, _ = start(tmp_path, chain_yaml, monkeypatch, {}, cache=True)
    assert handle.state is TaskState.FAILED
    message = handle.tasks["exit-handler-1/produce"].message
    assert "could not be stored in the cache" in message and "No space left" in message


def test_events_that_cannot_be_written_end_the_run_failed_naming_the_folder(tmp_path, chain_yaml, monkeypatch):
    def refuse(self, event):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(EventLog, "append", refuse)
    handle, _ = start(tmp_path, chain_yaml, monkeypatch, {})
    assert handle.state is TaskState.FAILED
    assert "cannot write the run's events in" in handle.message and "No space left" in handle.message


def test_results_that_cannot_be_saved_end_the_run_failed(tmp_path, chain_yaml, monkeypatch):
    def refuse(self, result, extra):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(RunStore, "save_result", refuse)
    handle, _ = start(tmp_path, chain_yaml, monkeypatch, {})
    assert handle.state is TaskState.FAILED and "run.json" in handle.message


def test_a_second_run_hits_the_cache(tmp_path, chain_yaml, monkeypatch):
    start(tmp_path, chain_yaml, monkeypatch, {}, cache=True)
    handle, fake = start(tmp_path, chain_yaml, monkeypatch, {}, cache=True)
    assert handle.state is TaskState.SUCCEEDED
    assert handle.tasks["exit-handler-1/produce"].state is TaskState.CACHED
    assert "produce" not in fake.calls


def test_cache_keys_follow_component_inputs_and_artifact_contents(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("one")
    artifacts = {"data": [{"uri": str(data)}]}
    key = cache_key({"c": 1}, {"x": 1}, artifacts)
    assert key == cache_key({"c": 1}, {"x": 1}, artifacts)
    assert key != cache_key({"c": 2}, {"x": 1}, artifacts)
    assert key != cache_key({"c": 1}, {"x": 2}, artifacts)
    before = fingerprint(str(data))
    data.write_text("two")
    assert fingerprint(str(data)) != before and key != cache_key({"c": 1}, {"x": 1}, artifacts)


def test_the_cache_misses_on_damaged_or_vanished_entries(tmp_path):
    cache = TaskCache(tmp_path / "cache")
    output = tmp_path / "out.txt"
    output.write_text("x")
    cache.put("k", {"parameters": {}, "artifacts": {"o": [{"uri": str(output)}]}})
    assert cache.get("k") is not None
    output.unlink()
    assert cache.get("k") is None
    (tmp_path / "cache" / "k2.json").write_text("{not json")
    assert cache.get("k2") is None and cache.get("absent") is None
    assert not [p for p in (tmp_path / "cache").iterdir() if ".tmp-" in p.name]
    assert list(json.loads((tmp_path / "cache" / "k.json").read_text())["hashes"]) == [str(output)]


def test_a_cache_hit_needs_the_contents_stored_with_it(tmp_path):
    cache = TaskCache(tmp_path / "cache")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    (folder / "b.bin").write_bytes(b"b")
    cache.put("k", {"parameters": {}, "artifacts": {"m": [{"uri": str(folder)}]}})
    assert cache.get("k") is not None
    (folder / "b.bin").unlink()
    assert cache.get("k") is None
    (folder / "b.bin").write_bytes(b"b")
    assert cache.get("k") is not None
    with open(folder / "a.bin", "ab") as handle:
        handle.write(b"appended")
    assert cache.get("k") is None


def test_a_last_event_that_cannot_be_written_ends_the_run_failed_and_run_json_says_so(
    tmp_path, chain_yaml, monkeypatch
):
    real = EventLog.append

    def refuse_the_end(self, event):
        if event.task_id == "" and event.state.finished:
            raise OSError(28, "No space left on device")
        real(self, event)

    monkeypatch.setattr(EventLog, "append", refuse_the_end)
    handle, _ = start(tmp_path, chain_yaml, monkeypatch, {})
    assert handle.state is TaskState.FAILED and "cannot write the run's events in" in handle.message
    saved = RunStore(tmp_path / "runs").load(handle.run_id)
    assert saved.state == "FAILED" and "No space left" in saved.message
