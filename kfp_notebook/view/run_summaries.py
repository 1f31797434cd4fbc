"""How a run looks in a cell: a live progress view, the final summary, the list of runs (text and HTML)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from kfp_notebook.tracking.artifacts import schema_title
from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.results import is_artifact
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.view.summaries import Summary
from kfp_notebook.view.tracebacks import failure_text

MAX_TASK_ROWS = 40
#: The order of a big run's rows: failures first, then what is running; the rest in the pipeline's order.
URGENCY = {TaskState.FAILED: 0, TaskState.LOST: 1, TaskState.RUNNING: 2}


def progress(handle: RunHandle) -> Summary:
    """One line for the run (n/m tasks, elapsed) and a row per task with its state."""
    tasks = list(handle.tasks.values())  # one consistent copy for the title and the rows
    counts = handle.task_counts(tasks).text()
    elapsed = (handle.finished or time.time()) - handle.started
    title = f"run {handle.run_id} ({handle.backend}): {handle.state.value} · {counts} · {elapsed:.1f} s"
    if len(tasks) > MAX_TASK_ROWS:  # a big run: what failed and what runs first, the rest counted by state
        tasks.sort(key=lambda status: URGENCY.get(status.state, len(URGENCY)))
    rows = [(status.task_id, _task_line(status)) for status in tasks[:MAX_TASK_ROWS]]
    if len(tasks) > MAX_TASK_ROWS:
        rest = Counter(status.state.value.lower() for status in tasks[MAX_TASK_ROWS:])
        counted = ", ".join(f"{count} {state}" for state, count in rest.most_common())
        rows.append(("…", f"{len(tasks) - MAX_TASK_ROWS} more tasks ({counted})"))
    if handle.message:
        rows.insert(0, ("run", handle.message))
    if handle.connection_message:
        rows.insert(0, ("connection", handle.connection_message))
    return Summary(title, rows, list(handle.notices))


def handle_summary(handle: RunHandle) -> Summary:
    """A run handle as text: its progress, then each failed task with its traceback in the user's terms."""
    summary = progress(handle)
    summary.warnings += failures(handle)
    return summary


def recorded(result: Any) -> Summary:
    """A run as its folder shows it (a RunResult): also a run of another kernel, running or LOST."""
    tasks = list(result.tasks.values())
    title = f"run {result.run_id} (local, from its folder): {result.state} · {len(tasks)} tasks"
    rows = [(task.task_id, task.state + (f" · {_message(task)}" if task.message else "")) for task in tasks]
    rows = rows[:MAX_TASK_ROWS] + (
        [("…", f"{len(rows) - MAX_TASK_ROWS} more tasks")] if len(rows) > MAX_TASK_ROWS else []
    )
    rows += output_rows(result)
    return Summary(title, [("run", result.message)] * bool(result.message) + rows, [])


def _message(task: Any) -> str:
    return failure_text(task.message) if task.state == TaskState.FAILED.value else task.message


def output_rows(result: Any) -> list[tuple[str, str]]:
    """A row per pipeline output (RunResult.outputs), for the run's summary."""
    return [(f"output {name}", output_text(value)) for name, value in result.outputs.items()]


def _task_line(status: Any) -> str:
    line = status.state.value
    if status.started and status.finished:
        line += f" · {status.finished - status.started:.2f} s"
    if status.attempts > 1:
        line += f" · {status.attempts} attempts"
    if status.message and status.state is not TaskState.FAILED:
        line += f" · {status.message}"
    return line


def failures(handle: RunHandle) -> list[str]:
    """For each failed task, its message, the traceback at its end trimmed to the user's frames in cell terms."""
    return [
        f"{s.task_id} failed: {failure_text(s.message)}"
        for s in handle.tasks.values()
        if s.state is TaskState.FAILED and s.message
    ]


def pipeline_outputs(result: Any) -> Summary | None:
    """The pipeline's own outputs (RunResult.outputs), one row each; None when it has none."""
    if not result.outputs:
        return None
    rows = [(name, output_text(value)) for name, value in result.outputs.items()]
    return Summary(f"outputs of {result.pipeline}", rows)


def output_text(value: Any) -> str:
    """A parameter as Python shows it; an artifact as its type and where it is; a list of artifacts counted."""
    if is_artifact(value):
        return f"{schema_title(value)} · {value.get('uri', '')}"
    if isinstance(value, list) and value and all(is_artifact(item) for item in value):
        kinds = sorted({schema_title(item) for item in value})
        return f"{len(value)} × {', '.join(kinds)}"
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
