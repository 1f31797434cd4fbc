"""A local task's details and log, read from its folder: what the panel and `%kfp logs` show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kfp_notebook.backends.defaults import DEFAULT_LOG_LINES
from kfp_notebook.backends.local import logs
from kfp_notebook.tracking.handle import TaskDetails
from kfp_notebook.tracking.results import TaskResult

DETAIL_LOG_LINES = 40
#: The user's own lines the details carry (the executor's come on demand: `task_log_part`).
USER_LOG_LINES = 200
EXECUTOR_LOG_LINES = 40


class DefaultTail(int):
    """A number of lines that no one asked for: the log then says how many earlier lines it left out."""


#: What `%kfp logs` shows of each stream without --tail.
DEFAULT_TAIL = DefaultTail(DEFAULT_LOG_LINES)


def task_log(folder: str | None, tail: int | None = None) -> str:
    """The task's stdout then stderr, as far as it has written them (the last `tail` lines of each, read from the
    end); for the default number, after a line saying how many earlier lines were left out."""
    if not isinstance(tail, DefaultTail) or not folder:
        return logs.task_log(folder, tail)
    parts = []
    for stream in logs.STREAMS:
        path = logs.log_path(folder, stream)
        lines = logs.last_lines(path, tail)
        if len(lines) == tail and (left_out := logs.line_count(path) - tail) > 0:
            lines.insert(0, f"({left_out:,} earlier lines of {stream} left out; --tail N shows the last N)")
        parts.append("\n".join(lines))
    return "\n".join(p for p in parts if p)


def task_details(task: TaskResult) -> TaskDetails:
    """Inputs, outputs, artifacts, metrics, log tail and message of one task instance."""
    found: TaskDetails = {
        "id": task.task_id,
        "state": task.state,
        "inputs": task.inputs or task_inputs(task.folder),
        "outputs": json.loads(json.dumps(task.parameters, default=str)),
        "artifacts": {name: [str(a["uri"]) for a in items if a.get("uri")] for name, items in task.artifacts.items()},
        "metrics": task.metrics(),
        "log": task_log(task.folder, DETAIL_LOG_LINES),
        "message": task.message,
    }
    found.update(log_parts(task.folder, USER_LOG_LINES, EXECUTOR_LOG_LINES))
    return found


def log_parts(folder: str | None, user: int, executor: int) -> TaskDetails:
    """{"log_user", "log_executor"}: the last lines the component's function wrote and the last lines of kfp's
    executor's around it, told apart by where the function started and ended writing ({} when not recorded)."""
    mine, theirs = logs.user_lines(folder, user), logs.executor_lines(folder, executor)
    if mine is None or theirs is None:
        return {}
    return {"log_user": mine, "log_executor": theirs}


def task_inputs(folder: str | None) -> dict[str, Any]:
    """The input values a task ran with (from its executor input)."""
    path = Path(folder or "") / "executor_input.json"
    if not folder or not path.exists():
        return {}
    inputs = json.loads(path.read_text(encoding="utf-8")).get("inputs", {})
    artifacts = {name: value.get("artifacts", []) for name, value in inputs.get("artifacts", {}).items()}
    return input_values(inputs.get("parameterValues", {}), artifacts)


def input_values(parameters: dict[str, Any], artifacts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Input name → its value, or the URIs of its artifacts (as the details show inputs)."""
    uris = {name: [a.get("uri") for a in items] for name, items in artifacts.items()}
    return {**json.loads(json.dumps(parameters, default=str)), **uris}


class LocalFiles:
    """Artifacts of local runs: their URIs are paths on this machine."""

    def read(self, uri: str, limit: int) -> tuple[bytes, int | None]:
        path = Path(uri)
        with open(path, "rb") as handle:
            return handle.read(limit), path.stat().st_size

    def listing(self, uri: str) -> list[tuple[str, int]]:
        path = Path(uri)
        if path.is_file():
            return [("", path.stat().st_size)]
        if not path.is_dir():
            return []
        found = [p for p in sorted(path.rglob("*")) if p.is_file()]
        return [(p.relative_to(path).as_posix(), p.stat().st_size) for p in found]


class LogFollower:
    """Reads what a task adds to its stdout and stderr since the last read (for `%kfp logs --follow`)."""

    def __init__(self, folder: str | None):
        self.folder = Path(folder or "")
        self.offsets = {"stdout": 0, "stderr": 0}

    def read_new(self) -> str:
        parts = []
        for stream, offset in self.offsets.items():
            text, self.offsets[stream] = logs.read_added(logs.log_path(self.folder, stream), offset)
            parts.append(text)
        return "".join(parts)
