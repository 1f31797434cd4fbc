"""kfp.local's API on our backend: `kfp.local.init(runner=kfp_notebook.LocalRunner())`, then plain kfp code."""

# no `from __future__ import annotations`: kfp reads the components' annotations as types
from pathlib import Path
from typing import NamedTuple

import pytest
from kfp import dsl, local
from kfp.dsl import Dataset, Input, Output
from kfp.local import config

import kfp_notebook
from kfp_notebook.errors import OptionError

pytestmark = pytest.mark.slow


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path / "outputs"
    config.LocalExecutionConfig.instance = None


@dsl.component
def add(a: int, b: int) -> int:
    print(f"adding {a} and {b}")
    return a + b


@dsl.component
def make(text: str, data: Output[Dataset]) -> NamedTuple("Made", size=int, shout=str):
    with open(data.path, "w", encoding="utf-8") as f:
        f.write(text)
    data.metadata["length"] = len(text)
    Made = NamedTuple("Made", size=int, shout=str)  # noqa: UP014
    return Made(len(text), text.upper())


@dsl.component
def read(data: Input[Dataset]) -> str:
    with open(data.path, encoding="utf-8") as f:
        return f.read()


@dsl.component
def fail(text: str):
    raise ValueError(f"broken: {text}")


@dsl.pipeline
def inner(text: str) -> str:
    fail(text=text)
    return read(data=make(text=text).outputs["data"]).output


@dsl.pipeline
def nested(text: str = "x") -> str:
    return inner(text=text).output


@dsl.pipeline
def pipeline(text: str = "hello") -> NamedTuple("Outputs", copy=str, data=Dataset, total=int):
    made = make(text=text)
    copied = read(data=made.outputs["data"])
    total = add(a=made.outputs["size"], b=1)
    Outputs = NamedTuple("Outputs", copy=str, data=Dataset, total=int)  # noqa: UP014
    return Outputs(copy=copied.output, data=made.outputs["data"], total=total.output)


def test_a_component_called_on_its_own_returns_its_output_and_prints_its_log(root, capsys):
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root))
    task = add(a=2, b=3)
    assert task.output == 5
    assert "adding 2 and 3" in capsys.readouterr().out
    made = make(text="abc")
    assert made.outputs["size"] == 3 and made.outputs["shout"] == "ABC"
    assert isinstance(made.outputs["data"], Dataset) and Path(made.outputs["data"].path).read_text() == "abc"


def test_a_pipeline_returns_its_named_outputs_with_artifacts_at_local_paths(root):
    local.init(runner=kfp_notebook.LocalRunner(workers=2), pipeline_root=str(root))
    task = pipeline(text="hey")
    assert task.outputs["copy"] == "hey" and task.outputs["total"] == 4
    data = task.outputs["data"]
    assert isinstance(data, Dataset) and data.metadata == {"length": 3}
    assert data.path.startswith(str(root)) and Path(data.path).read_text() == "hey"
    records = kfp_notebook.runs(runs_folder=root)  # our run folders and history, in kfp.local's pipeline_root
    assert [r.pipeline for r in records] == ["pipeline"] and records[0].outputs["total"] == 4


def test_a_failure_raises_kfp_locals_error_naming_the_task_inside_its_groups(root):
    local.init(runner=kfp_notebook.LocalRunner(show_logs=False), pipeline_root=str(root))
    expected = "Pipeline \x1b[95m'nested'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m. Inner task failed: "
    with pytest.raises(RuntimeError) as raised:
        nested(text="x")
    assert str(raised.value) == expected + "\x1b[96m'fail'\x1b[0m inside \x1b[96m'inner'\x1b[0m."


def test_without_raise_on_error_a_failure_is_logged_and_gives_no_outputs(root, capsys):
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root), raise_on_error=False)
    task = fail(text="quiet")
    assert task.outputs == {}
    shown = capsys.readouterr().out
    assert "ValueError: broken: quiet" in shown  # the task's log
    assert "ERROR - Task \x1b[96m'fail'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m" in shown


def test_caching_follows_kfp_locals_enable_caching(root):
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root), enable_caching=True)
    add(a=1, b=1)
    assert add(a=1, b=1).output == 2
    states = [r.state for r in kfp_notebook.runs(runs_folder=root)]
    assert states == ["SUCCEEDED", "SUCCEEDED"]
    second = kfp_notebook.runs(runs_folder=root)[0]
    from kfp_notebook.backends.local.store import RunStore

    assert RunStore(root).load(second.run_id)["add"].state == "CACHED"
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root))  # kfp.local's default: no cache
    add(a=1, b=1)
    assert RunStore(root).load()["add"].state == "SUCCEEDED"


def test_options_that_do_not_apply_are_refused(root):
    with pytest.raises(TypeError):
        kfp_notebook.LocalRunner(use_venv=True)  # packages always go into environments of their own
    with pytest.raises(OptionError, match=r"LocalRunner\(workers=0\).*1 or more"):
        kfp_notebook.LocalRunner(workers=0)
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root), cache_root=str(root / "c"))
    with pytest.raises(OptionError, match=r"cache_root=.* does not apply to kfp_notebook\.LocalRunner"):
        add(a=1, b=2)


def test_a_containerized_python_component_is_refused_before_it_runs(root):
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root))

    @dsl.component(target_image="registry.example/add:1")
    def packaged(a: int) -> int:
        return a

    with pytest.raises(RuntimeError, match=r"packaged is a containerized Python component .*'registry.example/add:1'"):
        packaged(a=1)
    assert not list(root.glob("*/tasks/*"))  # nothing ran


def test_kfp_locals_own_runner_still_runs_after_ours_was_used(root):
    local.init(runner=kfp_notebook.LocalRunner(), pipeline_root=str(root))
    add(a=1, b=2)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root / "kfp"))
    assert add(a=1, b=2).output == 3
    assert (root / "kfp").is_dir() and len(kfp_notebook.runs(runs_folder=root)) == 1
