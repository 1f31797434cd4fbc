"""`%kfp retry` of a Kubeflow run: the API's retry of the run in place, followed to its end, against the contract
server (which retries only failed or terminated runs, as KFP's API server does)."""

from __future__ import annotations

import pytest
from test_kubeflow import CELLS, backend

import kfp_notebook
from kfp_notebook.backends.kubeflow import KubeflowOptions
from kfp_notebook.errors import RetryRefused, UnknownNameError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.session import Session
from kfp_notebook.tracking.states import TaskState

from kfp_contract_server import argo_details, contract_server

pytestmark = pytest.mark.slow


@pytest.fixture
def fan(ip):
    for cell in CELLS:
        ip.run_cell(cell)
    return kfp_notebook.compile(ip.user_ns["fan"])


@pytest.fixture
def server():
    with contract_server() as (host, state):
        yield host, state


def failed_then_fixed(state, fan_yaml: str) -> None:
    """The run fails in total; once retried, the server runs total again and the run succeeds."""
    ir = PipelineIR.from_yaml(fan_yaml)
    done = {"flag": "SUCCEEDED", "condition-1": "SKIPPED", "for-loop-2": "SUCCEEDED", "sq-2": ["SUCCEEDED"] * 2}
    state.next_script = [
        ("RUNNING", argo_details(ir, {"flag": "RUNNING"})),
        ("FAILED", argo_details(ir, {**done, "total": "FAILED"}, "FAILED")),
    ]
    state.retry_script = [
        ("RUNNING", argo_details(ir, {**done, "total": "RUNNING"})),
        ("SUCCEEDED", argo_details(ir, {**done, "total": "SUCCEEDED"}, "SUCCEEDED")),
    ]


def connected(host: str) -> Session:
    session = Session()
    session.connect(backend(host))
    return session


def test_a_failed_run_is_retried_in_place_and_followed_to_its_end(server, fan, ip):
    host, state = server
    failed_then_fixed(state, fan)
    session = connected(host)
    first = session.start(ip.user_ns["fan"], None, "kubeflow", KubeflowOptions(experiment="notebook"))
    assert first.wait(30) and first.state is TaskState.FAILED
    handle = session.retry(first)
    assert handle.run_id == first.run_id and state.retries == [first.run_id]
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED
    assert handle.tasks["total"].state is TaskState.SUCCEEDED and handle.pipeline_name == "fan"
    assert session.last_run == first.run_id and session.runs[first.run_id] is handle
    retried = [path for method, path, _ in state.requests if method == "POST" and path.endswith(":retry")]
    assert retried == [f"/apis/v2beta1/runs/{first.run_id}:retry"]


def test_without_a_run_the_kernels_latest_failed_run_is_retried(server, fan, ip):
    host, state = server
    failed_then_fixed(state, fan)
    session = connected(host)
    first = session.start(ip.user_ns["fan"], None, "kubeflow")
    assert first.wait(30) and first.state is TaskState.FAILED
    session.settings.runs_dir = str(session.settings.runs_dir) + "-none"  # no local runs to choose from
    handle = session.retry()
    assert handle.run_id == first.run_id and handle.wait(30) and handle.state is TaskState.SUCCEEDED


def test_a_run_that_did_not_fail_is_refused_with_the_servers_words(server, fan, ip):
    host, state = server
    session = connected(host)
    done = session.start(ip.user_ns["fan"], None, "kubeflow")
    assert done.wait(30) and done.state is TaskState.SUCCEEDED
    with pytest.raises(RetryRefused) as refused:
        session.retry(done.run_id)
    assert str(refused.value) == (
        f"{host} refused to retry run {done.run_id}: Failed to retry a run: Failed to retry run {done.run_id}: "
        "BadRequestError: Workflow must be Failed/Error to retry: workflow cannot be retried "
        f"(run {done.run_id} succeeded: there is nothing to retry)"
    )
    assert state.retries == [] and state.runs[done.run_id].state == "SUCCEEDED"


def test_an_unknown_run_is_named(server):
    host, _ = server
    with pytest.raises(UnknownNameError, match=r"no run 'nope' on .*Run nope not found"):
        connected(host).retry("nope")


def test_the_magic_retries_the_kernels_failed_run_and_the_panel_follows_it(
    ip, server, fan, tmp_path, monkeypatch, capsys
):
    host, state = server
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ip.run_cell(f"%kfp connect --host {host} --auth none")
    failed_then_fixed(state, fan)
    ip.run_cell("%kfp submit")
    assert "(kubeflow): FAILED" in capsys.readouterr().out
    session = ip.magics_manager.registry["KfpMagics"].session
    run_id = session.last_run
    ip.run_cell("%kfp retry")
    out = capsys.readouterr().out
    assert f"retrying run {run_id}: {host}/#/runs/details/{run_id}" in out and "(kubeflow): SUCCEEDED" in out
    assert state.retries == [run_id]
    panel = session.panels["fan"]
    assert panel.handle is session.runs[run_id] and panel.handle.state is TaskState.SUCCEEDED
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="Workflow must be Failed/Error to retry"):
        ip.run_cell(f"%kfp retry {run_id}")


def test_a_running_run_is_refused_saying_to_wait_or_stop_it(server, fan, ip):
    host, state = server
    state.next_script = [("RUNNING", [])] * 1000
    session = connected(host)
    running = session.start(ip.user_ns["fan"], None, "kubeflow")
    try:
        with pytest.raises(RetryRefused, match=r"Workflow must be Failed/Error to retry.*still RUNNING: wait for it"):
            session.retry(running.run_id)
    finally:
        running.cancel()
    assert running.wait(30) and running.state is TaskState.CANCELED
