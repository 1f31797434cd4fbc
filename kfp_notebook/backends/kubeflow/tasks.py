"""KFP's `run_details.task_details` (a flat copy of the run's Argo nodes) → states of the pipeline's tasks.

In KFP 2.17 each Argo node becomes one entry: the task itself (`display_name` = the task's name, e.g.
`train`, `condition-2`, `for-loop-3`), plus `<task>-driver`, `executor`, `root`, `root-driver`, the
workflow's own node and loop plumbing (`iteration-driver`, `iteration-iterations(0:0)`, `iteration-item`).
No entry says which loop iteration it belongs to, so tasks inside a ParallelFor are numbered in the
order the server lists them; `tracking.task_ids.path_of` folds them into their node either way.
"""

from __future__ import annotations

from typing import Any

from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.states import TaskState

#: Kubeflow's run and task states (V2beta1RuntimeState) as ours: the one map, for runs and tasks alike.
KUBEFLOW_STATES = {
    "PENDING": TaskState.PENDING,
    "RUNNING": TaskState.RUNNING,
    "SUCCEEDED": TaskState.SUCCEEDED,
    "SKIPPED": TaskState.SKIPPED,
    "FAILED": TaskState.FAILED,
    "CANCELING": TaskState.RUNNING,
    "CANCELED": TaskState.CANCELED,
    "PAUSED": TaskState.RUNNING,
}


def task_paths(ir: PipelineIR) -> dict[str, tuple[str, ...]]:
    """Each task name of the pipeline (kfp makes them unique) → its path of DAG segments."""
    return {task.name: tuple(task.path.split("/")) for task in ir.walk()}


def loops(ir: PipelineIR) -> set[str]:
    """Names of the ParallelFor tasks."""
    return {task.name for task in ir.walk() if task.loop is not None}


def task_states(details: list[Any], ir: PipelineIR | None) -> dict[str, tuple[TaskState, str]]:
    """Task id (as local runs name them) → (state, error message) for the entries that are pipeline tasks."""
    if ir is None:
        return {}
    paths, loop_names = task_paths(ir), loops(ir)
    seen: dict[str, int] = {}
    states: dict[str, tuple[TaskState, str]] = {}
    for detail in details:
        name = getattr(detail, "display_name", None) or ""
        state = KUBEFLOW_STATES.get(str(getattr(detail, "state", "") or ""))
        if name not in paths or state is None:
            continue
        index = seen.get(name, 0)
        seen[name] = index + 1
        error = getattr(getattr(detail, "error", None), "message", "") or ""
        states[_task_id(paths[name], loop_names, index)] = (state, error)
    return states


def _task_id(path: tuple[str, ...], loop_names: set[str], index: int) -> str:
    """`for-loop-2/square` → `for-loop-2[index]/square` for a task inside the (innermost) loop."""
    segments = list(path)
    inner = [i for i, segment in enumerate(segments[:-1]) if segment in loop_names]
    if inner:
        segments[inner[-1]] = f"{segments[inner[-1]]}[{index}]"
    return "/".join(segments)


def executor_pod(details: list[Any], task_name: str, index: int = 0) -> str | None:
    """The pod that ran a task's container, derived as the KFP UI does from the task's Argo node.

    The task's entry lists its executor node (`<workflow>-<hash>`) among `child_tasks`; the pod of a
    `system-container-impl` template is named `<workflow>-system-container-impl-<hash>`.
    """
    entries = [d for d in details if getattr(d, "display_name", None) == task_name and getattr(d, "child_tasks", None)]
    if len(entries) <= index:
        return None
    node = entries[index].child_tasks[0].pod_name or ""
    workflow, _, digest = node.rpartition("-")
    return f"{workflow}-system-container-impl-{digest}" if workflow and digest.isdigit() else None
