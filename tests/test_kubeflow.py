"""Submitting to Kubeflow Pipelines: the real kfp.Client against a contract server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.backends.kubeflow import KubeflowOptions
from kfp_notebook.backends.kubeflow.backend import KubeflowBackend, ParameterTooLarge
from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, client, resolve
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.states import ConnectionState, TaskState

from helpers import eventually
from kfp_contract_server import Fault, argo_details, contract_server, executor_pod_name

CELLS = [
    "%%component\ndef flag() -> bool:\n    return False\n",
    "%%component\ndef sq(x: int) -> int:\n    return x * x\n",
    "%%component\ndef total(values: list) -> int:\n    return sum(values)\n",
    """%%pipeline
def fan(items: list = [1, 2]):
    f = flag()
    with dsl.If(f.output == True):
        sq(x=0)
    with dsl.ParallelFor(items) as item:
        s = sq(x=item)
    total(values=dsl.Collected(s.output))
""",
]


@pytest.fixture
def server():
    with contract_server() as (host, state):
        yield host, state


@pytest.fixture
def fan(ip):
    for cell in CELLS:
        ip.run_cell(cell)
    return kfp_notebook.compile(ip.user_ns["fan"])


def backend(host: str) -> KubeflowBackend:
    connection = resolve(host, None, "none", timeout=2.0)
    made = KubeflowBackend(connection, client(connection))
    made.poll_start, made.poll_max = 0.05, 0.2
    return made


def script(fan_yaml: str):
    ir = PipelineIR.from_yaml(fan_yaml)
    return [
        ("RUNNING", argo_details(ir, {"flag": "RUNNING"})),
        (
            "RUNNING",
            argo_details(
                ir,
                {
                    "flag": "SUCCEEDED",
                    "condition-1": "SKIPPED",
                    "for-loop-2": "RUNNING",
                    "sq-2": ["SUCCEEDED", "RUNNING"],
                },
            ),
        ),
        (
            "SUCCEEDED",
            argo_details(
                ir,
                {
                    "flag": "SUCCEEDED",
                    "condition-1": "SKIPPED",
                    "for-loop-2": "SUCCEEDED",
                    "sq-2": ["SUCCEEDED", "SUCCEEDED"],
                    "total": "SUCCEEDED",
                },
                "SUCCEEDED",
            ),
        ),
    ]


def test_submit_uploads_creates_the_run_and_follows_it(server, fan):
    host, state = server
    state.next_script = script(fan)
    handle = backend(host).start(fan, {"items": [3, 4]}, KubeflowOptions(experiment="notebook"))
    assert handle.wait(30)
    assert handle.state is TaskState.SUCCEEDED
    states = {task: status.state for task, status in handle.tasks.items()}
    assert states == {
        "flag": TaskState.SUCCEEDED,
        "condition-1": TaskState.SKIPPED,
        "for-loop-2": TaskState.SUCCEEDED,
        "for-loop-2[0]/sq-2": TaskState.SUCCEEDED,
        "for-loop-2[1]/sq-2": TaskState.SUCCEEDED,
        "total": TaskState.SUCCEEDED,
    }
    run = next(iter(state.runs.values()))
    assert run.runtime_config.parameters == {"items": [3, 4]}
    assert [e.display_name for e in state.experiments.values()] == ["notebook"]
    assert handle.link == f"{host}/#/runs/details/{run.run_id}"
    seen = [e.state for e in handle.events if e.task_id == "flag"]
    assert seen == [TaskState.RUNNING, TaskState.SUCCEEDED]


def test_a_parameter_too_large_for_kubeflow_is_refused_before_anything_is_sent(server, fan):
    host, state = server
    with pytest.raises(ParameterTooLarge, match=r"parameter 'items' is 12,001 bytes .*at most 10,000 bytes.*%kfp run"):
        backend(host).start(fan, {"items": ["x" * 11_997]}, KubeflowOptions())
    assert not state.runs and not state.pipelines


def test_the_second_submit_uploads_a_new_version_into_the_same_experiment(server, fan):
    host, state = server
    made = backend(host)
    for _ in range(2):
        assert made.start(fan, None, KubeflowOptions(experiment="notebook")).wait(30)
    assert len(state.pipelines) == 1 and len(next(iter(state.versions.values()))) == 2
    assert len(state.experiments) == 1 and len(state.runs) == 2


def test_stop_terminates_the_run_and_polling_ends_on_canceled(server, fan):
    host, state = server
    ir = PipelineIR.from_yaml(fan)
    state.next_script = [("RUNNING", argo_details(ir, {"flag": "RUNNING"}))] * 1000
    handle = backend(host).start(fan)
    eventually(lambda: handle.state is TaskState.RUNNING, 10)
    handle.cancel()
    assert handle.wait(30)
    assert handle.state is TaskState.CANCELED
    assert any(method == "POST" and path.endswith(":terminate") for method, path, _ in state.requests)


def test_a_run_canceled_from_outside_ends_the_follow(server, fan):
    host, state = server
    state.next_script = [("RUNNING", []), ("CANCELING", []), ("CANCELED", [])]
    handle = backend(host).start(fan)
    assert handle.wait(30) and handle.state is TaskState.CANCELED


def test_server_errors_during_polling_are_retried_and_the_status_recovers(server, fan):
    host, state = server
    state.next_script = script(fan)
    state.faults.append(Fault("GET", r"/apis/v2beta1/runs/[^/]+", "status:500", count=2))
    handle = backend(host).start(fan)
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED


@pytest.mark.slow
def test_an_unanswered_create_never_makes_two_runs(server, fan):
    host, state = server
    state.faults.append(Fault("POST", r"/apis/v2beta1/runs", "delay:3", count=1))
    handle = backend(host).start(fan)
    assert handle.wait(30)
    time.sleep(3.5)
    assert len(state.runs) == 1


def test_401_in_the_middle_of_polling_is_reported_then_recovers(server, fan):
    host, state = server
    state.next_script = script(fan)
    state.faults.append(Fault("GET", r"/apis/v2beta1/runs/[^/]+", "status:401", count=2))
    handle = backend(host).start(fan)
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED
    lost = [e.message for e in handle.events if e.connection is ConnectionState.LOST]
    assert any("refused the credentials (HTTP 401)" in message for message in lost)
    assert handle.connection is ConnectionState.OK and handle.connection_message == ""


@pytest.mark.parametrize(
    ("make_host", "message"),
    [
        (lambda host: "http://127.0.0.1:9", r"cannot reach http://127.0.0.1:9"),
        (lambda host: host + "/wrong", r"is not a Kubeflow Pipelines API \(404 .*did you mean the `/pipeline` path"),
        (lambda host: "ftp://x", r"must start with http:// or https://"),
    ],
)
def test_connection_failures_have_their_own_messages(server, make_host, message):
    host, _ = server
    with pytest.raises(KubeflowConnectionError, match=message):
        backend(make_host(host))


def test_credentials_refused(server):
    host, state = server
    state.faults.append(Fault("GET", r"/apis/v2beta1/healthz", "status:403", count=5))
    with pytest.raises(KubeflowConnectionError, match=r"refused the credentials \(HTTP 403\); check --auth none"):
        backend(host)


def test_magics_connect_submit_status_and_the_panel(ip, server, tmp_path, monkeypatch, capsys):
    host, state = server
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", "t0ken-SECRET-value")
    for cell in CELLS:
        ip.run_cell(cell)
    panel = ip.magics_manager.registry["KfpMagics"].session.panels["fan"]
    assert not panel.submit_enabled and "Connect to Kubeflow" in panel.submit_reason
    ip.run_cell(f"%kfp connect --host {host} --auth token")
    assert panel.submit_enabled
    state.next_script = script(kfp_notebook.compile(ip.user_ns["fan"]))
    ip.run_cell("%kfp submit --experiment nb --param items=[5]")
    out = capsys.readouterr().out
    assert "(kubeflow): SUCCEEDED" in out and "/#/runs/details/" in out
    assert next(iter(state.runs.values())).runtime_config.parameters == {"items": [5]}
    assert all(h.get("authorization") == "Bearer t0ken-SECRET-value" for _, _, h in state.requests)
    saved = json.loads((tmp_path / "config" / "kfp-notebook" / "connection.json").read_text())
    assert saved["host"] == host and saved["auth"] == "token"
    assert resolve(None, None, None).host == host and resolve(None, None, None).auth == "token"
    assert "SECRET" not in json.dumps(saved) and "SECRET" not in out
    ip.run_cell("%kfp status")
    assert "SUCCEEDED" in capsys.readouterr().out
    ip.run_cell("%kfp runs")
    header, listed = capsys.readouterr().out.splitlines()[:2]
    assert listed.split()[:4] == [next(iter(state.runs)), "fan", host, "SUCCEEDED"]
    assert header.split()[-1] == "params.items" and listed.split()[-1] == "[5]"
    state.pod_logs[executor_pod_name("total")] = "remote log line\n"
    ip.run_cell("%kfp logs total")
    assert "remote log line" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"--auth dex needs --user EMAIL"):
        ip.run_cell(f"%kfp connect --host {host} --auth dex")


def test_a_tasks_log_comes_from_the_ui_pod_log_endpoint(server, fan):
    host, state = server
    state.next_script = script(fan)
    state.pod_logs[executor_pod_name("total")] = "line 1\nsum is 30\n"
    made = backend(host)
    handle = made.start(fan)
    assert handle.wait(30)
    assert made.task_log(handle.run_id, "total") == "line 1\nsum is 30"
    assert made.task_log(handle.run_id, "total", tail=1) == "sum is 30"
    with pytest.raises(KubeflowConnectionError, match=r"no pod for task 'nope'"):
        made.task_log(handle.run_id, "nope")


def test_dex_login_follows_the_redirects_posts_the_form_and_keeps_the_cookie(
    server, fan, monkeypatch, tmp_path, capsys
):
    from kfp_notebook.backends.kubeflow import connect

    host, state = server
    state.dex_users["user@example.com"] = "12341234"
    monkeypatch.setenv("KFP_NOTEBOOK_PASSWORD", "12341234")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    made = connect(resolve(host + "/pipeline", None, "dex", user="user@example.com", timeout=2.0))
    made.poll_start, made.poll_max = 0.05, 0.2
    state.next_script = script(fan)
    state.session_uses = 6  # the session expires while the run is followed: one new login, then it goes on
    for cookie in list(state.sessions):
        state.sessions[cookie] = 6
    handle = made.start(fan)
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED
    assert state.logins == 2
    assert all(
        h.get("cookie", "").startswith("oauth2_proxy_kubeflow=")
        for m, p, h in state.requests
        if p.startswith("/pipeline/apis")
    )
    printed = capsys.readouterr()
    assert "12341234" not in printed.out + printed.err + repr(handle.events)


def test_dex_with_a_wrong_password_is_one_clear_message(server, monkeypatch):
    from kfp_notebook.backends.kubeflow import connect
    from kfp_notebook.backends.kubeflow.dex import DexLoginError

    host, state = server
    state.dex_users["user@example.com"] = "12341234"
    with pytest.raises(DexLoginError, match=r"Dex refused the login of user@example.com: wrong email or password"):
        connect(resolve(host + "/pipeline", None, "dex", user="user@example.com", timeout=2.0), secret="nope")


def test_a_reset_connection_on_create_never_makes_two_runs(server, fan):
    host, state = server
    state.faults.append(Fault("POST", r"/apis/v2beta1/runs", "reset", count=1))
    handle = backend(host).start(fan)
    assert handle.wait(30)
    assert len(state.runs) == 1


def test_interrupting_the_follow_detaches_without_stopping_the_remote_run(server, fan):
    host, state = server
    state.next_script = [("RUNNING", [])] * 1000
    handle = backend(host).start(fan)

    def polls() -> int:
        return sum(1 for m, p, _ in state.requests if m == "GET" and "/runs/" in p)

    def following() -> bool:
        return any(t.name == f"kfp-follow-{handle.run_id}" for t in threading.enumerate())

    eventually(lambda: polls() >= 2, 10)  # it was following
    assert "it goes on in Kubeflow" in handle.interrupt()
    eventually(lambda: not following(), 10)  # the poller ends at its next turn: no request after it
    assert not handle.done
    assert not any(p.endswith(":terminate") for _, p, _ in state.requests)


def test_a_kubeflow_tasks_details_show_inputs_outputs_log_tail_and_metrics(server, fan, mlmd):
    from kfp_notebook.backends.kubeflow import follower

    host, state = server
    state.mlmd_upstream = mlmd.url
    state.next_script = script(fan)
    handle = backend(host).start(fan)
    assert handle.wait(30)
    parameters = {"total": {"inputs": {"values": [1, 4]}, "outputs": {"Output": 5}}}
    mlmd.seed(handle.run_id, {"total": {"accuracy": 0.9}}, parameters=parameters)
    state.pod_logs[executor_pod_name("total")] = "".join(f"line {n}\n" for n in range(1500))
    details = handle.task_details("total")
    assert details["state"] == "SUCCEEDED"
    assert details["inputs"] == {"values": [1, 4]} and details["outputs"] == {"Output": 5}
    assert details["metrics"] == {"accuracy": 0.9}
    assert details["log"].splitlines() == [f"line {n}" for n in range(1500 - follower.DETAIL_LOG_LINES, 1500)]


def test_metrics_come_from_ml_metadata_as_the_ui_reads_them(server, fan, mlmd):
    host, state = server
    state.mlmd_upstream = mlmd.url
    state.next_script = script(fan)
    handle = backend(host).start(fan)
    assert handle.wait(30)
    mlmd.seed(handle.run_id, {"total": {"accuracy": 0.9, "loss": 0.25}, "flag": {}})
    result = handle.result()
    assert result["total"].metrics() == {"accuracy": "0.900", "loss": "0.250"}
    assert repr(result.metrics_table()).splitlines() == ["       accuracy   loss", "total     0.900  0.250"]
    assert [p for m, p, _ in state.requests if p.startswith("/ml_metadata")] == [
        "/ml_metadata.MetadataStoreService/GetContextByTypeAndName",
        "/ml_metadata.MetadataStoreService/GetExecutionsByContext",
        "/ml_metadata.MetadataStoreService/GetEventsByExecutionIDs",
        "/ml_metadata.MetadataStoreService/GetArtifactsByID",
    ]  # MLMD 1.17 fills each artifact's type name, so GetArtifactTypes is not needed


def test_a_run_without_metrics_has_an_empty_table(server, fan, mlmd):
    host, state = server
    state.mlmd_upstream = mlmd.url
    handle = backend(host).start(fan)
    assert handle.wait(30)
    assert handle.result().metrics_table().rows == []


def test_older_mlmd_without_type_names_is_asked_for_the_types():
    from kfp_notebook.backends.kubeflow.mlmd import MetadataClient, frame, messages

    m = messages()
    metrics = m["Artifact"](id=5, type_id=11)
    metrics.custom_properties["f1"].double_value = 0.5
    execution = m["Execution"](id=3)
    execution.custom_properties["task_name"].string_value = "train"
    answers = {
        "GetContextByTypeAndName": m["GetContextByTypeAndNameResponse"](context=m["Context"](id=1)),
        "GetExecutionsByContext": m["GetExecutionsByContextResponse"](executions=[execution]),
        "GetEventsByExecutionIDs": m["GetEventsByExecutionIDsResponse"](
            events=[m["Event"](artifact_id=5, execution_id=3, type=4)]
        ),
        "GetArtifactsByID": m["GetArtifactsByIDResponse"](artifacts=[metrics]),
        "GetArtifactTypes": m["GetArtifactTypesResponse"](
            artifact_types=[m["ArtifactType"](id=11, name="system.Metrics")]
        ),
    }

    def post(path, body):
        return 200, frame(answers[path.rsplit("/", 1)[1]].SerializeToString()), {"grpc-status": "0"}

    assert MetadataClient(post).run_metrics("r") == [("train", {"f1": 0.5})]


def test_inside_the_cluster_no_configuration_is_needed(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("sa-token")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    monkeypatch.delenv("KF_PIPELINES_UI_ENDPOINT", raising=False)
    connection = resolve(None, None, None)
    assert (connection.host, connection.auth) == ("http://ml-pipeline.kubeflow.svc.cluster.local:8888", "sa")
    assert connection.ui == "http://ml-pipeline-ui.kubeflow.svc.cluster.local"
    monkeypatch.setenv("KF_PIPELINES_ENDPOINT", "https://kf.example.com/pipeline")
    assert resolve(None, "team-a", "token").host == "https://kf.example.com/pipeline"
