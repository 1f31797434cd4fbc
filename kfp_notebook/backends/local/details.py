"""A local task's details and log, read from its folder: what the panel and `%kfp logs` show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kfp_notebook.tracking.results import TaskResult

DETAIL_LOG_LINES = 40


class DefaultTail(int):
    """A number of lines that no one asked for: the log then says how many earlier lines it left out."""


#: What `%kfp logs` shows of each stream without --tail.
DEFAULT_TAIL = DefaultTail(200)


def task_log(folder: str | None, tail: int | None = None) -> str:
    """The task's stdout then stderr, as far as it has written them (the last `tail` lines of each)."""
    if not folder:
        return ""
    parts = []
    for stream in ("stdout", "stderr"):
        path = Path(folder) / f"{stream}.log"
        if path.exists():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append("\n".join(_tail(lines, tail, stream)))
    return "\n".join(p for p in parts if p)


def _tail(lines: list[str], tail: int | None, stream: str) -> list[str]:
    """The last `tail` lines; for the default number, after a line saying how many were left out."""
    if not tail or len(lines) <= tail:
        return lines
    if not isinstance(tail, DefaultTail):
        return lines[-tail:]
    left_out = len(lines) - tail
    return [f"({left_out:,} earlier lines of {stream} left out; --tail N shows the last N)", *lines[-tail:]]


def task_details(task: TaskResult) -> dict[str, Any]:
    """Inputs, outputs, artifacts, metrics, log tail and message of one task instance."""
    return {
        "id": task.task_id,
        "state": task.state,
        "inputs": task_inputs(task.folder),
        "outputs": json.loads(json.dumps(task.parameters, default=str)),
        "artifacts": {name: [a.get("uri") for a in items] for name, items in task.artifacts.items()},
        "metrics": task.metrics(),
        "log": task_log(task.folder, DETAIL_LOG_LINES),
        "message": task.message,
    }


def task_inputs(folder: str | None) -> dict[str, Any]:
    """The input values a task ran with (from its executor input)."""
    path = Path(folder or "") / "executor_input.json"
    if not folder or not path.exists():
        return {}
    inputs = json.loads(path.read_text(encoding="utf-8")).get("inputs", {})
    artifacts = {
        name: [a.get("uri") for a in value.get("artifacts", [])] for name, value in inputs.get("artifacts", {}).items()
    }
    return {**inputs.get("parameterValues", {}), **artifacts}


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
            path = self.folder / f"{stream}.log"
            if not path.exists():
                continue
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
            cut = data.rfind(b"\n") + 1  # whole lines only; the rest comes with the next read
            self.offsets[stream] = offset + cut
            parts.append(data[:cut].decode("utf-8", errors="replace"))
        return "".join(parts)
