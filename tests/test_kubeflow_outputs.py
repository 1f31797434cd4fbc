"""A Kubeflow run's own outputs: its root DAG's outputs resolved against what its tasks recorded in ML Metadata."""

from __future__ import annotations

import pytest

import kfp_notebook
from kfp_notebook.ir import PipelineIR

from kfp_contract_server import argo_details, connected_notebook

CELLS = [
    "from typing import NamedTuple",
    "%%component\ndef train(lr: float, model: Output[Model]) -> float:\n    return lr * 10\n",
    "%%component\ndef pick(flag: bool) -> str:\n    return 'yes' if flag else 'no'\n",
    "%%pipeline\ndef fit(lr: float = 0.1) -> Model:\n    return train(lr=lr).outputs['model']\n",
    "%%pipeline\ndef experiment(lr: float = 0.1) -> NamedTuple('Outputs', score=float, model=Model, label=str):\n"
    "    trained = train(lr=lr)\n"
    "    inner = fit(lr=lr)\n"
    "    Outputs = NamedTuple('Outputs', score=float, model=Model, label=str)\n"
    "    return Outputs(score=trained.outputs['Output'], model=inner.output, label=pick(flag=True).output)\n",
]


@pytest.fixture
def connected(ip, tmp_path, monkeypatch, mlmd):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", "t0ken")
    with connected_notebook(ip, mlmd.url, CELLS) as (_, state):
        yield state


def _script(ip, state, run_state: str) -> None:
    ir = PipelineIR.from_yaml(kfp_notebook.compile(ip.user_ns["experiment"]))
    names = {task.name: "SUCCEEDED" for task in ir.walk()}
    state.next_script = [(run_state, argo_details(ir, names, run_state))]


def test_a_kubeflow_runs_outputs_come_from_the_tasks_its_root_dag_names(ip, connected, mlmd):
    _script(ip, connected, "SUCCEEDED")
    handle = ip.run_cell("%kfp submit experiment --no-wait --param lr=0.5").result
    assert handle.wait(30)
    model = {"name": "model", "type": "system.Model", "uri": "minio://mlpipeline/v2/artifacts/m", "metadata": {"a": 1}}
    other = {**model, "uri": "minio://mlpipeline/v2/artifacts/root-train-model"}
    parameters = {
        "train": {"outputs": {"Output": 5.0}},
        "fit/train": {"outputs": {"Output": 99.0}},
        "pick": {"outputs": {"Output": "yes"}},
    }
    # two tasks named train: the score is the root's, the model is the one train made inside the sub-pipeline fit
    tasks = {"train": {}, "fit/train": {}, "pick": {}}
    mlmd.seed(handle.run_id, tasks, {"fit/train": [model], "train": [other]}, parameters)
    outputs = handle.result().outputs
    assert outputs["score"] == 5.0 and outputs["label"] == "yes"
    assert outputs["model"]["uri"] == model["uri"] and outputs["model"]["metadata"] == {"a": 1.0}
    assert outputs["model"]["type"] == {"schemaTitle": "system.Model"}


def test_a_failed_kubeflow_run_has_no_outputs(ip, connected, mlmd):
    _script(ip, connected, "FAILED")
    handle = ip.run_cell("%kfp submit experiment --no-wait").result
    assert handle.wait(30)
    assert handle.result().outputs == {}
