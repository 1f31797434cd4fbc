"""Kubeflow's run details → our task ids and states, and a task's executor pod (backends/kubeflow/tasks.py)."""

from types import SimpleNamespace

import pytest
from kfp import dsl

from kfp_notebook.backends.kubeflow import tasks
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.states import TaskState


@dsl.component(base_image="python:3.11")
def step(x: int) -> int:
    return x


@dsl.pipeline
def nested(flag: int = 1):
    first = step(x=flag)
    with dsl.ParallelFor([1, 2]) as outer:
        with dsl.ParallelFor([3, 4]) as inner:
            step(x=inner)
        step(x=outer)
    with dsl.If(first.output > 0):
        step(x=2)


@pytest.fixture(scope="module")
def ir():
    return PipelineIR.from_pipeline(nested)


def detail(name: str, state: str = "SUCCEEDED", error: str = "", pod: str | None = None):
    children = [SimpleNamespace(pod_name=pod)] if pod is not None else None
    return SimpleNamespace(display_name=name, state=state, error=SimpleNamespace(message=error), child_tasks=children)


def names(ir) -> dict[str, str]:
    """The kfp name of each container task, by where it sits: 'top', 'outer', 'inner', 'branch'."""
    found = {}
    for task in ir.walk():
        if task.is_group:
            continue
        depth = task.path.count("for-loop")
        found["branch" if "condition" in task.path else ("top", "outer", "inner")[depth]] = task.name
    return found


@pytest.mark.parametrize(
    ("kubeflow", "ours"),
    [
        ("PENDING", TaskState.PENDING),
        ("RUNNING", TaskState.RUNNING),
        ("SUCCEEDED", TaskState.SUCCEEDED),
        ("SKIPPED", TaskState.SKIPPED),
        ("FAILED", TaskState.FAILED),
        ("CANCELING", TaskState.RUNNING),
        ("CANCELED", TaskState.CANCELED),
        ("PAUSED", TaskState.RUNNING),
    ],
)
def test_every_kubeflow_state_maps_to_ours(ir, kubeflow, ours):
    assert tasks.KUBEFLOW_STATES[kubeflow] is ours
    assert tasks.task_states([detail(names(ir)["top"], kubeflow)], ir) == {names(ir)["top"]: (ours, "")}


def test_plumbing_entries_and_unknown_states_are_left_out(ir):
    top = names(ir)["top"]
    plumbing = [detail(f"{top}-driver"), detail("executor"), detail("root"), detail("root-driver"),
                detail("iteration-iterations(0:0)"), detail(top, "RUNTIME_STATE_UNSPECIFIED")]  # fmt: skip
    assert tasks.task_states(plumbing, ir) == {}
    assert tasks.task_states([detail(top)], None) == {}, "without the IR nothing is known to be a task"


def test_tasks_in_loops_are_numbered_in_the_innermost_loop_in_listing_order(ir):
    inner, outer = names(ir)["inner"], names(ir)["outer"]
    listed = [detail(inner), detail(inner, "FAILED", "ValueError: no"), detail(outer, "RUNNING")]
    states = tasks.task_states(listed, ir)
    ids = sorted(states)
    assert [i.count("[") for i in ids] == [1, 1, 1], "one index: the innermost loop's"
    inner_ids = sorted(i for i in ids if i.endswith("/" + inner))
    assert [i.split("/")[-2][-3:] for i in inner_ids] == ["[0]", "[1]"]
    assert states[inner_ids[1]] == (TaskState.FAILED, "ValueError: no")
    (outer_id,) = [i for i in ids if i.endswith("/" + outer)]
    assert outer_id.split("/")[-2].endswith("[0]") and states[outer_id] == (TaskState.RUNNING, "")


def test_a_conditional_task_keeps_its_condition_in_its_path(ir):
    branch = names(ir)["branch"]
    (task_id,) = tasks.task_states([detail(branch, "SKIPPED")], ir)
    assert task_id.startswith("condition-") and task_id.endswith("/" + branch) and "[" not in task_id


def test_every_task_name_has_its_path_and_loops_are_known(ir):
    paths = tasks.task_paths(ir)
    assert all(paths[t.name] == tuple(t.path.split("/")) for t in ir.walk())
    assert tasks.loops(ir) == {t.name for t in ir.walk() if t.loop is not None} and len(tasks.loops(ir)) == 2


@pytest.mark.parametrize(
    ("listed", "index", "pod"),
    [
        ([detail("train", pod="fit-abc12-3344556677")], 0, "fit-abc12-system-container-impl-3344556677"),
        ([detail("train", pod="fit-1"), detail("train", pod="fit-2")], 1, "fit-system-container-impl-2"),
        ([detail("train", pod="fit-abc12-3344556677")], 1, None),  # no second run of it
        ([detail("train")], 0, None),  # no executor node yet
        ([detail("train", pod="nodigits-here")], 0, None),
        ([detail("other", pod="fit-1")], 0, None),
    ],
)
def test_the_executor_pod_is_derived_as_the_kfp_ui_does(listed, index, pod):
    assert tasks.executor_pod(listed, "train", index) == pod
