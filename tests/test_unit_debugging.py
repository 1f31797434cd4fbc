"""The pure parts of debugging a task: which instance a user means, and the arguments kfp's executor would pass."""

# no `from __future__ import annotations`: kfp reads these components' annotations as objects

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, InputPath, Model, Output, OutputPath

from kfp_notebook import kfp_compat
from kfp_notebook.backends.base import RecordedRun
from kfp_notebook.debugging import arguments
from kfp_notebook.debugging.locating import NeverStartedError, locate
from kfp_notebook.errors import OptionError, UnknownNameError
from kfp_notebook.ir import PipelineIR


@dsl.component(base_image="python:3.11")
def make(n: int, out: Output[Dataset]):
    pass


@dsl.component(base_image="python:3.11")
def use(i: int, data: Input[Dataset], path: InputPath("Dataset"), note: str = "x") -> int:
    return i


def takes_a_list(parts: list[Dataset]) -> None:  # a dsl.Collected input's annotation
    pass


@dsl.component(base_image="python:3.11")
def final(status: dsl.PipelineTaskFinalStatus, model: Output[Model], count: OutputPath(int)):
    pass


@dsl.pipeline
def loops(n: int = 2):
    made = make(n=n)
    with dsl.ExitHandler(final()), dsl.ParallelFor([0, 1, 2]) as i:
        use(i=i, data=made.outputs["out"], path=made.outputs["out"])


class FakeRun(RecordedRun):
    def __init__(self, states: dict[str, str], inputs: dict[str, dict], files: Path | None = None):
        super().__init__("run-1", PipelineIR.from_pipeline(loops), states)
        self.inputs, self.files = inputs, files

    def executor_inputs(self, task_id: str) -> dict | None:
        return self.inputs.get(task_id)

    def fetch(self, uri: str, destination: Path) -> None:
        assert self.files is not None
        shutil.copy(self.files / uri, destination)


STATES = {
    "make": "SUCCEEDED",
    "exit-handler-1/for-loop-3[0]/use": "SUCCEEDED",
    "exit-handler-1/for-loop-3[1]/use": "FAILED",
    "exit-handler-1/for-loop-3[2]/use": "SKIPPED",
}
INPUTS = {task: {"parameterValues": {"i": int(task[-6])}} for task in STATES if "[" in task and "[2]" not in task}


@pytest.mark.parametrize(
    "task, item, found",
    [
        ("use", 1, "exit-handler-1/for-loop-3[1]/use"),
        ("exit-handler-1/for-loop-3[0]/use", None, "exit-handler-1/for-loop-3[0]/use"),
        ("for-loop-3[1]/use", None, "exit-handler-1/for-loop-3[1]/use"),
        ("use", 0, "exit-handler-1/for-loop-3[0]/use"),
    ],
)
def test_a_task_is_found_by_name_and_item_or_by_its_id(task, item, found):
    assert locate(FakeRun(STATES, INPUTS), task, item).task_id == found


@pytest.mark.parametrize(
    "task, item, error, message",
    [
        ("nope", None, UnknownNameError, r"no task 'nope' in run run-1\. Its tasks: final, make, use;"),
        ("use", None, OptionError, "use runs inside a ParallelFor: say which iteration .* 0, 1, 2; failed: 1$"),
        ("use", 5, OptionError, "use has no iteration 5 in run run-1: its iterations are 0, 1, 2; failed: 1"),
        ("make", 0, OptionError, "make is not inside a ParallelFor"),
        ("use", 2, NeverStartedError, r"for-loop-3\[2\]/use never started in run run-1 \(it is SKIPPED\).*failed "
         r"instead: exit-handler-1/for-loop-3\[1\]/use$"),
        ("final", None, NeverStartedError, "final never started in run run-1 \\(the run never reached it\\)"),
    ],
)  # fmt: skip
def test_what_cannot_be_found_says_what_can(task, item, error, message):
    with pytest.raises(error, match=message):
        locate(FakeRun(STATES, INPUTS), task, item)


def test_kfp_executor_passes_what_we_pass_for_each_annotation():
    kinds = {name: kind for name, (kind, _) in arguments.function_kinds(use.python_func).items()}
    assert kinds == {"i": "parameter", "data": "input_artifact", "path": "input_path", "note": "parameter"}
    assert arguments.function_kinds(takes_a_list)["parts"][0] == "artifact_list"
    kinds = {name: kind for name, (kind, _) in arguments.function_kinds(final.python_func).items()}
    assert kinds == {"status": "final_status", "model": "output_artifact", "count": "output_path"}
    assert kfp_compat.executor_argument_kind(Input[list[Dataset]]) == "artifact_list"
    assert kfp_compat.artifact_class(Output[Model]) is Model and kfp_compat.artifact_class(None) is dsl.Artifact


def test_arguments_are_typed_copies_and_outputs_point_into_the_scratch(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "out").write_text("data")
    runtime = {"name": "out", "type": {"schemaTitle": "system.Dataset"}, "uri": "out", "metadata": {"rows": 2}}
    inputs = {
        "parameterValues": {"i": 1, "note": None},
        "artifacts": {"data": {"artifacts": [runtime]}, "path": {"artifacts": [runtime]},
                      "parts": {"artifacts": [runtime, runtime]}},
    }  # fmt: skip
    record = FakeRun(STATES, {"exit-handler-1/for-loop-3[1]/use": inputs}, tmp_path / "store")
    located = locate(record, "use", 1)
    scratch = arguments.Scratch.of(tmp_path / "kfp_debug", located)
    kinds = {**arguments.function_kinds(use.python_func), **arguments.function_kinds(takes_a_list)}
    given = arguments.input_arguments(kinds, located, scratch, {})
    assert set(given) == {"i", "data", "path", "parts"}  # a None parameter is left out: the default applies
    assert isinstance(given["data"], Dataset) and given["data"].uri == "out" and given["data"].metadata == {"rows": 2}
    assert Path(given["data"].path).read_text() == "data" and Path(given["data"].path).is_relative_to(scratch.inputs)
    assert given["path"] == str(scratch.inputs / "path" / "out")
    assert [Path(p.path).parent.name for p in given["parts"]] == ["0", "1"]
    outputs = arguments.output_arguments(arguments.function_kinds(final.python_func), located.task, scratch)
    assert outputs == {"count": str(scratch.outputs / "count"), "model": outputs["model"]}
    assert type(outputs["model"]) is Model and outputs["model"].path == str(scratch.outputs / "model")


def test_a_final_status_the_run_did_not_record_is_refused_with_the_way_out(tmp_path):
    record = FakeRun({**STATES, "final": "SUCCEEDED"}, {"final": {}})
    located = locate(record, "final")
    kinds = arguments.function_kinds(final.python_func)
    with pytest.raises(arguments.MissingInputError, match=r"PipelineTaskFinalStatus of .* call the function yourself"):
        arguments.input_arguments(kinds, located, arguments.Scratch.of(tmp_path, located), {})


def test_help_lists_debug_with_its_options():
    from kfp_notebook.commands import kfp_help

    assert "%kfp debug TASK [--run RUN] [--item N] [--current] [--no-pdb]" in kfp_help()


@dsl.pipeline
def nested():
    with dsl.ParallelFor([0, 1]), dsl.ParallelFor([0, 1]) as inner:
        make(n=inner)


def test_an_item_of_nested_loops_that_names_several_instances_asks_for_the_id():
    ir = PipelineIR.from_pipeline(nested)
    path = next(task.path for task in ir.walk() if task.name == "make")
    outer, inner = path.split("/")[:2]
    ids = [f"{outer}[{i}]/{inner}[1]/make" for i in (0, 1)]
    record = FakeRun({task_id: "SUCCEEDED" for task_id in ids}, {task_id: {} for task_id in ids})
    record.ir = ir
    with pytest.raises(OptionError, match=r"make has 2 instances with item 1 \(nested loops\)"):
        locate(record, "make", 1)
    assert locate(record, ids[1]).task_id == ids[1]


class Pair(NamedTuple):
    a: int
    m: Model


def test_get_uri_answers_in_the_scratch_folder_only_while_the_function_runs_and_returns_are_classified(monkeypatch):
    from kfp.dsl.types import artifact_types

    monkeypatch.setattr(artifact_types, "CONTAINER_TASK_ROOT", None)  # whatever an earlier test left there
    with kfp_compat.task_root("/scratch/outputs"):
        assert dsl.get_uri("extra") == "/scratch/outputs/extra"
    with pytest.raises(RuntimeError, match="can only be called at task runtime"):
        dsl.get_uri()
    kinds = [kfp_compat.return_kind(a) for a in (int, list, Model, Pair, set)]
    assert kinds == ["parameter", "parameter", "artifact", "named_tuple", ""]


def test_the_shipped_program_is_its_own_module_and_its_failures_are_the_users(tmp_path):
    import linecache

    from kfp_notebook.debugging import programs, user_code

    module = programs._load("import json\nVALUE = json.dumps([1])\n", tmp_path / "p.py", "t")
    assert module.VALUE == "[1]" and module.__name__ == "ephemeral_component" and "VALUE" not in globals()
    with pytest.raises(ZeroDivisionError) as raised:
        programs._load("x = 1\ny = x / 0\n", tmp_path / "q.py", "t")
    assert user_code.raised_by_user_code(raised.value)  # the magics let it reach the cell
    assert linecache.getline(str(tmp_path / "q.py"), 2) == "y = x / 0\n"  # registered: no file needed
    with pytest.raises(programs.ProgramError, match="imports 'no_such_module_here', which this kernel does not have"):
        programs._load("import no_such_module_here\n", tmp_path / "r.py", "t")


def test_a_task_config_and_an_embedded_asset_are_built_as_the_executor_builds_them(tmp_path):
    record = FakeRun(STATES, {"make": {"parameterValues": {"config": {"nodeSelector": {"gpu": "a100"}}}}})
    located = locate(record, "make")
    kinds = {"config": ("task_config", dsl.TaskConfig), "asset": ("embedded_input", dsl.EmbeddedInput[Dataset])}
    given = arguments.input_arguments(kinds, located, arguments.Scratch.of(tmp_path, located),
                                      {"__KFP_EMBEDDED_ASSET_FILE": "/assets/table.csv"})  # fmt: skip
    assert given["config"].node_selector == {"gpu": "a100"} and given["config"].env is None
    assert type(given["asset"]) is Dataset and given["asset"].path == "/assets/table.csv"


def test_a_misspelled_task_gets_the_close_name():
    with pytest.raises(UnknownNameError, match=r"no task 'mkae' in run run-1\. Did you mean 'make'\?"):
        locate(FakeRun(STATES, INPUTS), "mkae")
