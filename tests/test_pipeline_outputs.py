"""A pipeline's own outputs (its root DAG's): on the run's result, in its record on disk, and in `%kfp run`."""

# no `from __future__ import annotations`: kfp reads the components' annotations as types

from typing import NamedTuple

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Model, Output

import kfp_notebook
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow


@dsl.component
def double(x: int) -> int:
    return 2 * x


@dsl.component
def train(rate: float, model: Output[Model]) -> float:
    with open(model.path, "w") as f:
        f.write(f"rate={rate}")
    model.metadata["rate"] = rate
    return rate * 10


@dsl.component
def fail() -> int:
    raise ValueError("no")


@dsl.component
def write(text: str, data: Output[Dataset]):
    with open(data.path, "w") as f:
        f.write(text)


@dsl.pipeline
def doubled_twice(x: int = 3) -> int:
    return double(x=double(x=x).output).output


@dsl.pipeline
def trained(rate: float = 0.5) -> NamedTuple("Outputs", score=float, model=Model, doubled=int):
    fitted = train(rate=rate)
    inner = doubled_twice(x=2)  # a sub-pipeline's output handed up as the pipeline's
    Outputs = NamedTuple("Outputs", score=float, model=Model, doubled=int)  # noqa: UP014
    return Outputs(score=fitted.outputs["Output"], model=fitted.outputs["model"], doubled=inner.output)


@dsl.pipeline
def collected() -> list[Dataset]:
    with dsl.ParallelFor(["a", "b", "c"]) as text:
        written = write(text=text)
    return dsl.Collected(written.outputs["data"])


@dsl.pipeline
def failing() -> int:
    fail()
    return double(x=1).output


def test_a_single_return_is_the_runs_output_and_is_kept_in_its_record(tmp_path):
    handle = kfp_notebook.run(doubled_twice, {"x": 5}, runs_folder=tmp_path)
    result = handle.result()
    assert handle.state is TaskState.SUCCEEDED
    assert result.outputs == {"Output": 20}
    assert result.output == 20
    reloaded = RunStore(tmp_path).load(handle.run_id)  # read back from the run's folder
    assert reloaded.outputs == {"Output": 20} and reloaded.output == 20
    assert kfp_notebook.runs(runs_folder=tmp_path)[0].outputs == {"Output": 20}


def test_named_outputs_carry_parameters_artifacts_and_a_sub_pipelines_output(tmp_path):
    result = kfp_notebook.run(trained, {"rate": 0.25}, runs_folder=tmp_path).result()
    assert set(result.outputs) == {"score", "model", "doubled"}
    assert result.output is None  # several outputs: no single one
    assert result.outputs["score"] == 2.5 and result.outputs["doubled"] == 8
    model = result.outputs["model"]
    assert model["type"]["schemaTitle"] == "system.Model" and model["metadata"] == {"rate": 0.25}
    with open(model["uri"], encoding="utf-8") as f:
        assert f.read() == "rate=0.25"


def test_a_collected_artifact_output_is_the_list_of_every_iterations_artifact(tmp_path):
    result = kfp_notebook.run(collected, runs_folder=tmp_path).result()
    texts = []
    for artifact in result.outputs["Output"]:
        with open(artifact["uri"], encoding="utf-8") as f:
            texts.append(f.read())
    assert texts == ["a", "b", "c"]


def test_a_failed_run_has_no_outputs(tmp_path):
    handle = kfp_notebook.run(failing, runs_folder=tmp_path)
    assert handle.state is TaskState.FAILED
    assert handle.result().outputs == {} and handle.result().output is None


DOUBLE = "%%component\ndef double(x: int) -> int:\n    return 2 * x\n"
TWICE = "%%pipeline\ndef twice(x: int = 2) -> int:\n    return double(x=double(x=x).output).output\n"


def test_kfp_run_shows_the_pipelines_outputs(ip, tmp_path, capsys):
    ip.run_cell(DOUBLE)
    ip.run_cell(TWICE)
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path)!r}")
    capsys.readouterr()
    ip.run_cell("%kfp run twice --param x=3")
    shown = capsys.readouterr().out
    assert "outputs of twice" in shown and "Output  12" in shown


def test_kfp_run_runs_a_component_on_its_own_with_its_outputs_as_the_runs(ip, tmp_path, capsys):
    ip.run_cell(DOUBLE)
    ip.run_cell(TWICE)
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path)!r}")
    handle = ip.run_line_magic("kfp", "run double --param x=21 --no-wait")
    handle.wait(60)
    assert handle.result().output == 42 and list(handle.result().tasks) == ["double"]
    again = ip.run_line_magic("kfp", "run double --param x=21 --no-wait")
    again.wait(60)
    assert again.result()["double"].state == "CACHED" and again.result().output == 42  # the same guarantees
    assert RunStore(tmp_path).load(again.run_id).output == 42


def test_kfp_run_of_an_unknown_name_lists_pipelines_and_components(ip):
    from IPython.core.error import UsageError

    ip.run_cell(DOUBLE)
    with pytest.raises(UsageError, match=r"no pipeline or component named 'doubel'\. Did you mean 'double'\?"):
        ip.run_cell("%kfp run doubel")


def test_python_run_of_a_component_on_its_own(tmp_path):
    result = kfp_notebook.run(train, {"rate": 0.5}, runs_folder=tmp_path).result()
    assert result.outputs["Output"] == 5.0 and result.outputs["model"]["metadata"] == {"rate": 0.5}


@dsl.component
def say(text: str) -> str:
    return text


@dsl.pipeline
def branches(flag: bool = True) -> NamedTuple("Outputs", chosen=str, looped=list):
    with dsl.If(flag == True):  # noqa: E712
        yes = say(text="yes")
    with dsl.Else():
        no = say(text="no")
    with dsl.ParallelFor(["a", "b"]) as item:
        each = say(text=item)
    Outputs = NamedTuple("Outputs", chosen=str, looped=list)  # noqa: UP014
    return Outputs(chosen=dsl.OneOf(yes.output, no.output), looped=dsl.Collected(each.output))


def test_kubeflow_outputs_follow_oneof_branches_and_leave_out_what_a_loop_produced():
    from kfp_notebook.backends.kubeflow.outputs import Recorded, pipeline_outputs

    ir = PipelineIR.from_yaml(kfp_notebook.compile(branches))
    names = sorted(t.name for t in ir.walk() if t.component.kind == "python")
    assert len(names) == 3
    second_branch = names[1]  # say-2: the Else branch
    executions = [
        {"id": 1, "name": "run/x", "task": "", "parent": None, "outputs": {}},
        {"id": 2, "task": second_branch, "parent": 1, "outputs": {"Output": "no"}},  # no condition DAG: not seen
        {"id": 3, "task": "condition-branches-1", "parent": 1, "outputs": {}},
        {"id": 4, "task": "condition-3", "parent": 3, "outputs": {}},
        {"id": 5, "task": second_branch, "parent": 4, "outputs": {"Output": "no"}},
        {"id": 6, "task": names[2], "parent": 1, "outputs": {"Output": "b"}},
    ]
    assert pipeline_outputs(ir, Recorded(executions, [])) == {"chosen": "no"}
    by_name = [{**e, "parent": None} for e in executions if e["id"] == 2]  # a store without the tree: by name
    assert pipeline_outputs(ir, Recorded(by_name, [])) == {"chosen": "no"}


def test_a_local_runs_outputs_follow_oneof_branches_and_collect_a_loop(tmp_path):
    result = kfp_notebook.run(branches, {"flag": False}, runs_folder=tmp_path).result()
    assert result.outputs == {"chosen": "no", "looped": ["a", "b"]}
