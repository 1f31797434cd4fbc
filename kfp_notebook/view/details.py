"""A clicked node's details as the side pane shows them: values formatted, user log first, traceback in cell terms."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.task_ids import path_of
from kfp_notebook.view.dag import DagModel, node_element_id
from kfp_notebook.view.states import item_suffix, iterations

EXECUTOR_LINE = re.compile(r"^\[KFP Executor ")
USER_FRAME = re.compile(r'^\s*File "([^"]*ephemeral_component\.py)", line (\d+), in (\w+)')
FRAME = re.compile(r'^\s*File "')
ORDER = {TaskState.FAILED: 0, TaskState.RUNNING: 1, TaskState.CANCELED: 2}
#: The lines of a log the pane gets at most (the user's and the executor's each): more come on demand.
LOG_LINES = 200

DetailsReader = Callable[[str], dict[str, Any]]  # a node's element id → what the pane shows of it


def details_for(
    selected: str, model: DagModel, handle: RunHandle | None, task_details: DetailsReader
) -> dict[str, Any]:
    """The pane's content for a node (element id), a loop (its iterations) or one task run ('loop[3]/task')."""
    if "[" in selected or "/" in selected:
        details = task_details(node_element_id(path_of(selected)))
        details["runs"] = [run for run in details.get("runs", []) if run.get("id") == selected]
        return presented(details, model, handle)
    loop = next((m for m, g in model.groups.items() if node_element_id(m) == selected and g.kind == "loop"), None)
    if loop is not None:
        return loop_details(model, loop, handle)
    return presented(task_details(selected), model, handle)


def presented(details: dict[str, Any], model: DagModel, handle: RunHandle | None) -> dict[str, Any]:
    """Task details with formatted values, the user's log lines apart from the executor's, a trimmed traceback."""
    if not details:
        return {}
    details["kind"] = "task"
    details["runs"] = [_run(run, model, handle) for run in details.get("runs", [])] if handle is not None else None
    if details["runs"] is None:
        del details["runs"]
    return details


def _run(run: dict[str, Any], model: DagModel, handle: RunHandle | None) -> dict[str, Any]:
    shown = dict(run)
    shown["item"] = item_suffix(model, run["id"]).strip(" []") or run["id"]
    shown["duration"] = _duration(handle, run["id"])
    shown["inputs"] = {k: value_text(v) for k, v in (run.get("inputs") or {}).items()}
    shown["outputs"] = {k: value_text(v) for k, v in (run.get("outputs") or {}).items()}
    shown["metrics"] = {k: value_text(v) for k, v in (run.get("metrics") or {}).items()}
    shown["artifacts"] = {k: [relative_path(u) for u in v if u] for k, v in (run.get("artifacts") or {}).items()}
    shown["log_user"], shown["log_executor"] = log_parts(run)
    shown["log"] = "\n".join((run.get("log") or "").splitlines()[-LOG_LINES:])
    shown["note"] = note(run)
    failed = TaskState.parse(str(run.get("state") or "")) in (TaskState.FAILED, TaskState.LOST)
    shown["traceback"] = user_traceback(run.get("message") or "", cell_of) if failed else ""
    return shown


def note(run: dict[str, Any]) -> dict[str, str]:
    """The task's message as data: {"kind": "error"} for a failed or lost task, {"kind": "info"} otherwise
    ("outputs reused from run …", "condition is false"); {} without one."""
    message = str(run.get("message") or "")
    if not message:
        return {}
    state = TaskState.parse(str(run.get("state") or ""))
    return {"kind": "error" if state in (TaskState.FAILED, TaskState.LOST) else "info", "text": message}


def loop_details(model: DagModel, loop: str, handle: RunHandle | None) -> dict[str, Any]:
    """A ParallelFor's iterations, failed first: item, state, duration, and the failed one's last line."""
    group = model.groups[loop]
    details: dict[str, Any] = {"id": loop, "kind": "loop", "label": group.label, "component": group.label}
    if handle is None:
        return details
    tasks = list(handle.tasks.values())
    runs = []
    for key, state in iterations(loop, tasks).items():
        inside = [t for t in tasks if t.task_id.startswith(key + "/")]
        failed = next((t for t in inside if t.state is TaskState.FAILED), None)
        first = min((t.started for t in inside if t.started), default=None)
        last = max((t.finished for t in inside if t.finished), default=None)
        runs.append(
            {
                "id": failed.task_id if failed else (inside[0].task_id if inside else key),
                "state": state.value,
                "item": item_suffix(model, key).strip(" []"),
                "duration": f"{last - first:.1f} s" if first and last and state.finished else "",
                "message": _last_line(failed.message) if failed else "",
            }
        )
    details["runs"] = sorted(runs, key=lambda r: (ORDER.get(TaskState(r["state"]), 3), _index(r["id"])))
    return details


def _index(task_id: str) -> int:
    found = re.findall(r"\[(\d+)\]", task_id)
    return int(found[-1]) if found else 0


def _last_line(message: str) -> str:
    from kfp_notebook.view.states import last_line

    return last_line(message)


def _duration(handle: RunHandle | None, task_id: str) -> str:
    status = handle.tasks.get(task_id) if handle is not None else None
    if status is None or not status.started:
        return ""
    if not status.finished:
        return "running"
    return f"{status.finished - status.started:.2f} s"


def value_text(value: Any) -> str:
    """A value at sensible precision: 0.8999999999999999 → '0.9'; lists and dicts as compact JSON."""
    rounded = _rounded(value)
    if isinstance(rounded, str):
        return rounded
    return json.dumps(rounded, ensure_ascii=False)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def relative_path(uri: str) -> str:
    """An artifact's path relative to the notebook's folder when it lies below it (file:// stripped)."""
    path = uri.removeprefix("file://")
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") and os.path.isabs(path) else path


def log_parts(run: dict[str, Any], count: int = LOG_LINES) -> tuple[str, str]:
    """The user's lines and the executor's: as the backend told them apart where they were written (a local
    task), else read off the log's text; the last `count` of each."""
    if "log_user" in run and "log_executor" in run:
        user, executor = str(run["log_user"]), str(run["log_executor"])
    else:
        user, executor = split_log(run.get("log") or "")
    return _last(user, count), _last(executor, count)


def _last(text: str, count: int) -> str:
    return "\n".join(text.splitlines()[-count:])


def split_log(log: str) -> tuple[str, str]:
    """The user's own lines and the rest apart: the kfp executor's lines, the JSON they print, the traceback.

    (The traceback shows, trimmed to the user's frames, in the Overview tab.)
    """
    lines = log.splitlines()
    cut = _cut_json(lines)
    user: list[str] = []
    executor: list[str] = lines[:cut]
    in_json = in_traceback = False
    for line in lines[cut:]:
        in_traceback = in_traceback or line.startswith("Traceback (most recent call last):")
        if EXECUTOR_LINE.match(line) or in_json or in_traceback:
            executor.append(line)
            in_json = (in_json and line != "}") or (EXECUTOR_LINE.match(line) is not None and line.endswith(":"))
        else:
            user.append(line)
    return "\n".join(user), "\n".join(executor)


def _cut_json(lines: list[str]) -> int:
    """How many lines at the start of a log's tail are the end of the executor input's JSON whose first line the
    tail cut off (kfp's executor prints it indented by 4 and closed by a lone "}"); 0 for none."""
    end = next((i for i, line in enumerate(lines) if line == "}"), None)
    if end is None or not (lines[0].startswith("    ") or lines[0] == "{"):
        return 0
    inside = all(line.startswith("    ") or line.strip() in ("{", "}", "},", "]", "],") for line in lines[:end])
    return end + 1 if inside else 0


def user_traceback(message: str, cell_of: Callable[[str], tuple[str, int] | None]) -> str:
    """The traceback from the user's first frame on, with the component's file mapped to the notebook cell."""
    lines = message.splitlines()
    start = next((i for i, line in enumerate(lines) if USER_FRAME.match(line)), None)
    if start is None:
        return message
    trimmed = ["Traceback (most recent call last):"]
    for line in lines[start:]:
        match = USER_FRAME.match(line)
        trimmed.append(_cell_frame(match, cell_of) if match else line)
    return "\n".join(trimmed)


def _cell_frame(match: re.Match[str], cell_of: Callable[[str], tuple[str, int] | None]) -> str:
    """'  In [7], line 12, in boom' for a frame in kfp's copy of the component (its file as written)."""
    line, function = int(match.group(2)), match.group(3)
    where = cell_of(function)
    copied = _def_line(match.group(1), function)
    if where is None or copied is None:
        return match.group(0)
    return f"  {where[0]}, line {where[1] + line - copied}, in {function}"


def _def_line(path: str, function: str) -> int | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    return _first_def(text.splitlines(), function)


def _first_def(lines: list[str], function: str) -> int | None:
    pattern = re.compile(rf"\s*def {re.escape(function)}\(")
    return next((number for number, line in enumerate(lines, 1) if pattern.match(line)), None)


def cell_of(function: str) -> tuple[str, int] | None:
    """('In [7]', line of `def function(` in that cell): the latest %%component cell that defines it."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    manager = getattr(get_ipython(), "history_manager", None)
    history = list(getattr(manager, "input_hist_raw", []))
    for count in range(len(history) - 1, 0, -1):
        cell = history[count].splitlines()
        line = _first_def(cell, function)
        if cell and cell[0].lstrip().startswith("%%component") and line is not None:
            return f"In [{count}]", line
    return None
