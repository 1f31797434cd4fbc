"""`%kfp doctor` and the pre-submit check: the real kubernetes client against a Kubernetes API stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from kfp_notebook.backends.kubeflow.cluster.access import cluster_access
from kfp_notebook.backends.kubeflow.cluster.needs import pipeline_needs
from kfp_notebook.ir import PipelineIR

from kfp_contract_server import argo_details, contract_server, executor_pod_name
from kube_api_server import TOKEN, Cluster, kube_api, namespace, node, pod, pvc, secret, write_kubeconfig

NS = "kubeflow-user"
SECRET_VALUE = "wandb-VALUE-never-shown"
GOLDEN = Path(__file__).resolve().parent / "golden"
RESOURCES = [
    "%%component --cpu 2 --memory 1G\ndef prep(rows: int) -> int:\n    return rows\n",
    "%%component --gpu 1 --memory 8Gi --secret wandb:api-key=WANDB_API_KEY --volume training-data:/data\n"
    "def train(rows: int) -> float:\n    return 0.5\n",
    "%%pipeline\ndef trainer(rows: int = 10):\n    train(rows=prep(rows=rows).output)\n",
]


def healthy() -> Cluster:
    return Cluster(
        namespaces=[namespace(NS)],
        secrets=[secret("wandb", NS, api_key=SECRET_VALUE), secret("other", "elsewhere", api_key="x")],
        pvcs=[pvc("training-data", NS)],
        nodes=[node("cpu-node"), node("gpu-node", memory="64Gi", gpus=2)],
    )


@pytest.fixture(autouse=True)
def _no_kfp_settings(tmp_path, monkeypatch):
    """No remembered connection and no KFP endpoint from the environment of whoever runs the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    state = healthy()
    with kube_api(state) as url:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", url, NS)))
        yield state
    assert state.refused == []
    assert all(method == "GET" for method, _, _ in state.requests), "the doctor only reads"


@pytest.fixture
def trainer(ip, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    for cell in RESOURCES:
        ip.run_cell(cell)
    return ip


def doctor(ip, capsys, line: str = "%kfp doctor") -> dict[str, str]:
    """The doctor's lines by subject: 'LEVEL message'."""
    ip.run_cell(line)
    out = capsys.readouterr().out
    assert SECRET_VALUE not in out and TOKEN not in out
    lines = [line for line in out.splitlines() if line[:4].strip() in ("OK", "WARN", "FAIL")]
    return {ln[6:].split(":", 1)[0]: ln[:4].strip() + " " + ln[6:].split(":", 1)[1].strip() for ln in lines}


def test_needs_are_read_from_the_compiled_yaml():
    needs = pipeline_needs(PipelineIR.from_yaml((GOLDEN / "resources.yaml").read_text(encoding="utf-8")))
    assert needs.secrets == {"wandb": {"api-key"}}
    assert needs.pvcs == {"training-data": "training"}
    gpu = next(r for r in needs.requests if r.gpu_count)
    assert (gpu.component, gpu.gpu_type, gpu.describe()) == (
        "training",
        "nvidia.com/gpu",
        "memory 8Gi, 1 × nvidia.com/gpu",
    )


def test_created_pvcs_parameter_names_and_pull_secrets(ip):
    ip.run_cell(
        "from kfp import kubernetes\n"
        "@dsl.component\ndef a(): pass\n"
        "@dsl.pipeline\ndef p(claim: str = 'from-param'):\n"
        "    made = kubernetes.CreatePVC(pvc_name_suffix='-x', access_modes=['ReadWriteOnce'], size='1Gi')\n"
        "    t = a()\n"
        "    kubernetes.mount_pvc(t, pvc_name=made.outputs['name'], mount_path='/d')\n"
        "    kubernetes.mount_pvc(t, pvc_name=claim, mount_path='/e')\n"
        "    kubernetes.set_image_pull_secrets(t, ['regcred'])\n"
        "    kubernetes.use_secret_as_volume(t, secret_name='certs', mount_path='/s')\n"
        "    t.set_cpu_limit('3')\n"
    )
    needs = pipeline_needs(PipelineIR.from_pipeline(ip.user_ns["p"]))
    assert needs.created_pvcs == 1 and needs.pvcs == {"from-param": "a"}
    assert needs.pull_secrets == {"regcred"} and needs.secrets == {"certs": set()}
    assert [r.describe() for r in needs.requests] == ["cpu 3"]


def test_everything_present_is_ok(cluster, trainer, capsys):
    lines = doctor(trainer, capsys)
    assert lines["Kubeflow Pipelines"].startswith("WARN no host configured")
    assert lines["cluster"].startswith("OK http://127.0.0.1:")
    assert lines[f"namespace {NS}"] == "OK exists (Kubeflow profile)"
    assert lines["secret wandb"] == "OK exists with key api-key"
    assert lines["PVC training-data"] == "OK exists and is Bound"
    assert lines["nodes"] == "OK 1 node(s) fit the largest request (train: memory 8Gi, 1 × nvidia.com/gpu)"
    assert len(cluster.calls("list_namespaced_secret")) == 1 and len(cluster.calls("list_node")) == 1


def test_a_missing_secret_key_fails_naming_the_key(cluster, trainer, capsys):
    cluster.secrets[0] = secret("wandb", NS, token=SECRET_VALUE)
    lines = doctor(trainer, capsys)
    assert lines["secret wandb"] == "FAIL has no key 'api-key' (its keys: token)"


def test_a_missing_secret_and_namespace(cluster, trainer, capsys):
    cluster.secrets.clear()
    cluster.namespaces.clear()
    lines = doctor(trainer, capsys)
    assert lines["secret wandb"] == f"FAIL not found in namespace {NS}"
    assert lines[f"namespace {NS}"] == "FAIL does not exist"


@pytest.mark.parametrize(("phase", "level"), [("Pending", "WARN"), ("Lost", "FAIL")])
def test_an_unbound_pvc(cluster, trainer, capsys, phase, level):
    cluster.pvcs[0] = pvc("training-data", NS, phase=phase)
    assert doctor(trainer, capsys)["PVC training-data"].startswith(f"{level} is {phase}")


def test_a_missing_pvc_fails(cluster, trainer, capsys):
    cluster.pvcs.clear()
    assert doctor(trainer, capsys)["PVC training-data"] == f"FAIL not found in namespace {NS} (mounted by train)"


def test_no_gpu_node_fails_for_the_component_that_needs_one(cluster, trainer, capsys):
    cluster.nodes[1] = node("gpu-node", memory="64Gi", gpus=2, ready=False)
    lines = doctor(trainer, capsys)
    assert lines["nodes for train"] == (
        "FAIL no Ready node has memory 8Gi, 1 × nvidia.com/gpu allocatable "
        "(the most any node has: cpu 8, memory 32Gi, 0 × nvidia.com/gpu)"
    )


def test_a_forbidden_list_is_a_warning_naming_the_rbac_rule(cluster, trainer, capsys):
    cluster.forbidden.add("nodes")
    trainer.run_cell("%kfp doctor")
    out = capsys.readouterr().out
    assert "WARN  nodes: not checked: no permission to list nodes (cluster-wide) (HTTP 403)" in out
    assert "RBAC needs verb 'list' on resource 'nodes'; test with `kubectl auth can-i list nodes`" in out
    assert "FAIL" not in out


def test_rejected_credentials_fail_and_say_so(cluster, trainer, capsys, tmp_path, monkeypatch):
    server = cluster_access().server
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "expired", server, NS, token="expired")))
    lines = doctor(trainer, capsys)
    assert lines[f"namespace {NS}"] == "FAIL the API server rejected the credentials (HTTP 401)"
    assert lines["secrets"].startswith("FAIL the API server rejected") and lines["nodes"].startswith("FAIL")


def test_without_a_pipeline_only_the_api_and_namespace_are_checked(cluster, ip, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lines = doctor(ip, capsys, "%kfp doctor --namespace missing")
    assert lines["namespace missing"] == "FAIL does not exist"
    assert not any(s.startswith(("secret", "nodes")) for s in lines)


def test_no_cluster_access_is_one_warning(ip, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lines = doctor(ip, capsys)
    assert lines["cluster"].startswith("WARN no kubeconfig")


def test_connected_doctor_checks_the_api_and_the_credentials(cluster, trainer, capsys):
    with contract_server() as (host, state):
        trainer.run_cell(f"%kfp connect --host {host} --namespace {NS}")
        lines = doctor(trainer, capsys)
    assert lines["Kubeflow Pipelines"] == f"OK {host} answers (version 2.5.0)"
    assert lines["auth (none)"] == f"OK the API accepts the credentials (experiments listed in namespace {NS})"
    assert ("GET", "/apis/v2beta1/experiments") in [(method, path) for method, path, _ in state.requests]


@pytest.fixture
def kubeflow(cluster, trainer):
    with contract_server() as (host, state):
        trainer.run_cell(f"%kfp connect --host {host} --namespace {NS}")
        yield state


def test_submit_is_refused_before_any_run_when_a_secret_key_is_missing(kubeflow, cluster, trainer, capsys):
    cluster.secrets[0] = secret("wandb", NS, token=SECRET_VALUE)
    with pytest.raises(
        UsageError, match=r"not submitted: the run would fail in its pods\nFAIL  secret wandb: has no key 'api-key'"
    ):
        trainer.run_cell("%kfp submit --no-wait")
    assert kubeflow.runs == {} and kubeflow.pipelines == {}
    assert len(cluster.calls("list_namespaced_secret")) == 1 and cluster.calls("list_node") == []


def test_submit_is_refused_when_a_pvc_is_missing_and_skip_checks_submits(kubeflow, cluster, trainer, capsys):
    cluster.pvcs.clear()
    with pytest.raises(UsageError, match=r"PVC training-data: not found in namespace kubeflow-user"):
        trainer.run_cell("%kfp submit --no-wait")
    assert kubeflow.runs == {}
    trainer.run_cell("%kfp submit --no-wait --skip-checks")
    assert len(kubeflow.runs) == 1


def test_submit_runs_the_checks_and_says_so(kubeflow, cluster, trainer, capsys):
    trainer.run_cell("%kfp submit --no-wait")
    assert f"pre-submit checks: 1 secret(s), 1 PVC(s) found in {NS}" in capsys.readouterr().out
    assert len(kubeflow.runs) == 1


def test_the_panels_submit_button_is_refused_too(kubeflow, cluster, trainer, magics):
    cluster.secrets.clear()
    panel = list(magics.session.panels.values())[-1]  # the latest panel shown
    panel._on_message(panel, {"action": "submit"}, [])
    assert panel.message["text"].startswith("not submitted: the run would fail in its pods\nFAIL  secret wandb")
    assert kubeflow.runs == {} and panel.busy == ""


def test_submit_goes_on_when_a_check_is_forbidden_and_shows_the_warning(kubeflow, cluster, trainer, capsys):
    cluster.forbidden.add("secrets")
    trainer.run_cell("%kfp submit --no-wait")
    out = capsys.readouterr().out
    assert (
        "pre-submit checks:\nWARN  secrets: not checked: no permission to list secrets in namespace kubeflow-user"
        in out
    )
    assert len(kubeflow.runs) == 1


def test_submit_without_cluster_access_skips_the_checks_with_one_line(trainer, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    with contract_server() as (host, state):
        trainer.run_cell(f"%kfp connect --host {host}")
        trainer.run_cell("%kfp submit --no-wait")
        assert len(state.runs) == 1
    assert "pre-submit checks skipped: no kubeconfig" in capsys.readouterr().out


def test_task_logs_come_from_the_kubernetes_api_inside_the_cluster(cluster, trainer):
    from kfp_notebook.backends.kubeflow.backend import KubeflowBackend
    from kfp_notebook.backends.kubeflow.connection import client, resolve

    with contract_server() as (host, state):
        yaml_text = __import__("kfp_notebook").compile(trainer.user_ns["trainer"])
        ir = PipelineIR.from_yaml(yaml_text)
        state.next_script = [("SUCCEEDED", argo_details(ir, {"prep": "SUCCEEDED", "train": "SUCCEEDED"}, "SUCCEEDED"))]
        state.pod_logs[executor_pod_name("train")] = "from the UI service\n"
        connection = resolve(host, NS, "none", timeout=2.0)
        made = KubeflowBackend(connection, client(connection))
        made.poll_start = made.poll_max = 0.05
        made.cluster = cluster_access()
        cluster.pods.append(pod(executor_pod_name("train"), NS))
        cluster.logs[executor_pod_name("train")] = "epoch 1\nepoch 2\nloss 0.1\n"
        handle = made.start(yaml_text)
        assert handle.wait(30)
        assert made.task_log(handle.run_id, "train") == "epoch 1\nepoch 2\nloss 0.1"
        assert made.task_log(handle.run_id, "train", tail=1) == "loss 0.1"
    assert [q for q in cluster.calls("read_namespaced_pod_log")] == [
        {"container": "main"},
        {"container": "main", "tailLines": "1"},
    ]
    assert not any(path == "/k8s/pod/logs" for _, path, _ in state.requests)


def test_doctor_json_shape_has_no_secret(cluster):
    from kfp_notebook.backends.kubeflow.cluster.doctor import doctor_report

    report = doctor_report(PipelineIR.from_yaml((GOLDEN / "resources.yaml").read_text(encoding="utf-8")))
    text = json.dumps(report.as_dicts())
    assert SECRET_VALUE not in text and TOKEN not in text
    assert {"level", "subject", "message", "fix"} == set(report.as_dicts()[0])
    assert not report.failed


def test_inside_the_cluster_connect_reads_task_logs_through_the_service_account(trainer, tmp_path, monkeypatch):
    """A Kubeflow notebook server: no kubeconfig, the pod's service account and the API server over TLS."""
    from kubernetes.config import incluster_config

    from kfp_notebook.backends.kubeflow import connect
    from kfp_notebook.backends.kubeflow.cluster import access
    from kfp_notebook.backends.kubeflow.connection import resolve

    from kube_api_server import self_signed

    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN, encoding="utf-8")
    (account / "namespace").write_text(NS, encoding="utf-8")
    certificate = self_signed(account)
    monkeypatch.setattr(access, "SERVICE_ACCOUNT", account)
    monkeypatch.setattr("kfp_notebook.backends.kubeflow.cluster.logs.SERVICE_ACCOUNT", account)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(certificate[0]))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    state = healthy()
    state.pods.append(pod(executor_pod_name("train"), NS))
    state.logs[executor_pod_name("train")] = "trained in the cluster\n"
    with kube_api(state, certificate) as url, contract_server() as (host, kfp):
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", url.rsplit(":", 1)[1])
        made = connect(resolve(host, None, "none", timeout=2.0))
        assert made.cluster is not None and made.cluster.namespace == NS
        made.poll_start = made.poll_max = 0.05
        yaml_text = __import__("kfp_notebook").compile(trainer.user_ns["trainer"])
        ir = PipelineIR.from_yaml(yaml_text)
        kfp.next_script = [("SUCCEEDED", argo_details(ir, {"prep": "SUCCEEDED", "train": "SUCCEEDED"}, "SUCCEEDED"))]
        handle = made.start(yaml_text)
        assert handle.wait(30)
        assert made.task_log(handle.run_id, "train") == "trained in the cluster"
    assert state.calls("read_namespaced_pod_log") == [{"container": "main"}] and state.refused == []
