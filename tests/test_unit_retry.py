"""Retrying a local run with a fake task handler (no processes): what runs again, what is reused, which run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_unit_scheduler import FakeTaskHandler, chain_yaml  # noqa: F401 (a fixture)

from kfp_notebook.backends.local import LocalOptions
from kfp_notebook.backends.local.retrying import RetrySource
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.errors import RetryRefused, UnknownNameError
from kfp_notebook.tracking.records import RunRecord, latest_unsuccessful
from kfp_notebook.tracking.results import TaskResult
from kfp_notebook.tracking.states import TaskState


def backend(tmp_path, script):
    fake = FakeTaskHandler(script)
    return LocalBackend(tmp_path / "runs", task_handler=lambda: fake), fake


def test_only_what_did_not_succeed_runs_again_and_the_exit_task_runs_after_it(tmp_path, chain_yaml):  # noqa: F811
    failing, _ = backend(tmp_path, {"produce": "exited with code 1"})
    first = failing.start(chain_yaml, {"n": 5}, LocalOptions(workers=2, cache=False))
    assert first.wait(30) and first.state is TaskState.FAILED
    fixed, again = backend(tmp_path, {})
    handle = fixed.retry(first.run_id, LocalOptions(workers=2, cache=False))
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED
    assert sorted(again.calls) == ["cleanup", "consume", "produce"]  # the loop's three consumes are reused
    result = handle.result()
    assert result["consume"].output == 5  # the parameters of the failed run
    loop = [t for t in result.tasks.values() if t.name == "consume-2"]
    assert len(loop) == 3 and {t.state for t in loop} == {"CACHED"}
    original = failing.task_result(first.run_id, loop[0].task_id)
    assert loop[0].folder == original.folder and loop[0].parameters == original.parameters
    assert loop[0].message == f"outputs reused from run {first.run_id}, which this run retries"
    assert fixed.runs()[0].retry_of == first.run_id and fixed.runs()[1].retry_of == ""


def test_the_newest_unsuccessful_run_that_no_run_retries_is_chosen(tmp_path, chain_yaml):  # noqa: F811
    failing, _ = backend(tmp_path, {"produce": "exited with code 1"})
    first = failing.start(chain_yaml, {}, LocalOptions(cache=False))
    assert first.wait(30)
    retried = failing.retry(None, LocalOptions(cache=False))  # fails again: the newest failed run is now this one
    assert retried.wait(30) and retried.state is TaskState.FAILED
    fixed, _ = backend(tmp_path, {})
    last = fixed.retry(None, LocalOptions(cache=False))
    assert last.wait(30) and last.state is TaskState.SUCCEEDED
    assert [r.retry_of for r in fixed.runs()] == [retried.run_id, first.run_id, ""]
    with pytest.raises(UnknownNameError, match="no failed or canceled run to retry in"):
        fixed.retry(None, LocalOptions(cache=False))
    with pytest.raises(RetryRefused, match=f"run {last.run_id} succeeded: there is nothing to retry"):
        fixed.retry(last.run_id)


@pytest.mark.parametrize(
    ("states", "retry_of", "chosen"),
    [
        (["SUCCEEDED", "FAILED"], ["", ""], "r1"),
        (["FAILED", "FAILED"], ["r1", ""], "r0"),  # r0 retries r1: r0 is the one to retry now
        (["SUCCEEDED", "CANCELED"], ["r1", ""], None),  # r1 is retried already
        (["LOST", "SUCCEEDED"], ["", ""], "r0"),
        (["RUNNING", "SUCCEEDED"], ["", ""], None),
    ],
)
def test_which_run_a_retry_without_a_run_takes(states, retry_of, chosen):
    records = [
        RunRecord(f"r{i}", "p", "local", s, retry_of=r) for i, (s, r) in enumerate(zip(states, retry_of, strict=True))
    ]
    found = latest_unsuccessful(records)
    assert (found.run_id if found else None) == chosen


def test_a_task_whose_files_are_gone_or_an_exit_task_runs_again(tmp_path):
    kept = tmp_path / "kept"
    kept.write_text("x", encoding="utf-8")
    artifact = {"name": "a", "type": {"schemaTitle": "system.Dataset"}, "uri": str(kept), "metadata": {}}
    succeeded = {
        "kept": TaskResult("kept", "kept", "c", "SUCCEEDED", {}, {"a": [artifact]}),
        "gone": TaskResult("gone", "gone", "c", "CACHED", {}, {"a": [{**artifact, "uri": str(tmp_path / "gone")}]}),
        # under a remote root, written as no file (a Metrics output): never uploaded, so the store is not asked
        # (tests/test_debug_loop_trial.py asks moto's S3 server for the ones that were uploaded)
        "remote": TaskResult(
            "remote", "remote", "c", "SUCCEEDED", {}, {"a": [{**artifact, "uri": "s3://b/k"}]}, folder=str(tmp_path)
        ),
        "exit": TaskResult("exit", "exit", "c", "SUCCEEDED"),
    }
    source = RetrySource("r", tmp_path, succeeded)

    def node(task_id, exit_task=False):
        return SimpleNamespace(id=task_id, task=SimpleNamespace(runs_after_failure=exit_task))

    assert source.reused(node("kept")) is succeeded["kept"] and source.reused(node("remote")) is not None
    assert source.reused(node("gone")) is None and source.reused(node("exit", exit_task=True)) is None
    assert source.reused(node("never-ran")) is None
