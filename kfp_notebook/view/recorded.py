"""A run read back from its record (a new kernel's panel shows the pipeline's latest run), and which run and
parameters a panel shows (`run_info`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfp_notebook.tracking.handle import RunHandle, TaskDetails, TaskStatus
from kfp_notebook.tracking.records import RunRecord
from kfp_notebook.tracking.results import RunResult
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.task_ids import path_of

if TYPE_CHECKING:
    from kfp_notebook.backends.base import Backend
    from kfp_notebook.view.dag import DagModel


class RecordedControls:
    """A finished (or foreign) run's controls: its results, logs and details read from the backend's record."""

    def __init__(self, backend: Backend, result: RunResult):
        self.backend, self.recorded = backend, result

    def cancel(self) -> None:
        """Nothing to stop from here (`%kfp stop RUN` stops another kernel's run)."""

    def interrupt(self) -> str:
        return ""

    def result(self) -> RunResult:
        return self.recorded

    def task_log(self, task_id: str, tail: int | None = None) -> str:
        return self.backend.task_log(self.recorded.run_id, task_id, tail)

    def task_details(self, task_id: str) -> TaskDetails:
        return self.backend.recorded_task_details(self.recorded.run_id, task_id)

    def task_log_parts(self, task_id: str, lines: int) -> TaskDetails:
        return self.backend.recorded_log_parts(self.recorded.run_id, task_id, lines)


def recorded_handle(backend: Backend, result: RunResult, record: RunRecord | None, model: DagModel) -> RunHandle:
    """A handle on a recorded run: its tasks' states and messages as recorded, its times from its record."""
    handle = RunHandle(result.run_id, result.pipeline, backend.name, RecordedControls(backend, result))
    for task in result.tasks.values():
        state = TaskState.parse(task.state)
        group = path_of(task.task_id) in model.groups
        status = TaskStatus(task.task_id, task.name, state, message=task.message, folder=task.folder, is_group=group)
        handle.add_task(status)
    handle.state, handle.message = TaskState.parse(result.state), result.message
    if record is not None:
        handle.started = record.started or handle.started
        handle.finished = record.finished or (handle.started if handle.state.finished else None)
    return handle


def latest_record(backend: Backend, pipeline: str) -> RunRecord | None:
    """The pipeline's newest run that the backend keeps a record of (None: none yet)."""
    return next(iter(backend.runs(pipeline, count=1)), None)


def run_info(record: RunRecord | None, handle: RunHandle, defaults: dict[str, str], reloaded: bool) -> dict[str, Any]:
    """Which run the panel shows: id, where, state, when, the parameters it used (those that differ from the
    form's defaults named), and whether it was read back from disk rather than started in this kernel."""
    parameters = dict(record.parameters) if record is not None else {}
    return {
        "run_id": handle.run_id,
        "where": record.where if record is not None else handle.backend,
        "state": handle.state.value,
        "started": record.started if record is not None and record.started else handle.started,
        "finished": handle.finished,
        "parameters": parameters,
        "defaults": dict(defaults),
        "differs": [name for name, value in parameters.items() if _text(value) != defaults.get(name, _text(value))],
        "reloaded": reloaded,
    }


def picture_title(run_id: str, view: dict[str, Any], info: dict[str, Any]) -> str:
    """The run the saved picture shows: 'run ID · failed · 3/4 tasks · 1 failed · 2026-12-07 22:50 · n=5' (the
    parameters that differ from the form's defaults)."""
    import time

    parts = [f"run {run_id}" if run_id else "", str(view.get("state", "")).lower(), str(view.get("counts", ""))]
    if run_id and info.get("run_id") == run_id:
        started = info.get("started")
        parts.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else "")
        parts += [f"{name}={_text(info['parameters'][name])}" for name in info.get("differs", [])]
    return " · ".join(part for part in parts if part)


def _text(value: Any) -> str:
    """A parameter's value as the form writes it (view/form.py): JSON, except text as is and booleans lower case."""
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value)


class ShownRun:
    """Which run a panel shows and with which parameters (a mixin of PipelinePanel: the `run_info` trait), and
    the pipeline's latest recorded run shown when the panel opens (a new kernel remembers the last run)."""

    handle: RunHandle | None
    run_id: str
    run_info: dict[str, Any]
    parameters: list[dict[str, Any]]
    session: Any
    ir: Any
    model: DagModel

    def _defaults(self) -> dict[str, str]:
        return {field["name"]: field["default"] for field in self.parameters}

    def _show_run_info(self, handle: RunHandle) -> None:
        """The run's id, where and when at once; the parameters it used once its record is read (off the loop)."""
        self.run_info = run_info(None, handle, self._defaults(), reloaded=False)

        def record() -> RunRecord | None:
            backend = self.session.backend(handle.backend)
            return next((r for r in backend.runs(self.ir.name) if r.run_id == handle.run_id), None)

        def show(found: RunRecord | None) -> None:
            if found is not None and self.handle is handle:
                self.run_info = run_info(found, handle, self._defaults(), reloaded=False)

        in_background(record, show, lambda exc: None)  # no record (yet): the id, where and when still show

    def _update_run_info(self, handle: RunHandle) -> None:
        if self.run_info.get("run_id") == handle.run_id:
            self.run_info = {**self.run_info, "state": handle.state.value, "finished": handle.finished}

    def _reload_latest(self) -> None:
        """Show the pipeline's latest run: one this kernel follows (live), else the newest in the runs folder
        (read off the event loop) unless a run started meanwhile."""
        live = [h for h in self.session.runs.values() if h.pipeline_name == self.ir.name]
        if live:
            return self.follow(live[-1])  # type: ignore[attr-defined, no-any-return]

        def latest() -> tuple[Backend, RunResult, RunRecord] | None:
            backend = next((b for b in self.session.backends() if b.capabilities.reads_records), None)
            record = latest_record(backend, self.ir.name) if backend is not None else None
            return (backend, backend.run_record(record.run_id), record) if backend and record else None

        def show(found: tuple[Backend, RunResult, RunRecord] | None) -> None:
            if found is not None and self.handle is None:
                self._show_recorded(*found)

        in_background(latest, show, lambda exc: None)  # an unreadable runs folder: the panel opens without a run

    def _show_recorded(self, backend: Backend, result: RunResult, record: RunRecord) -> None:
        handle = recorded_handle(backend, result, record, self.model)
        self.handle, self.run_id = handle, handle.run_id
        self.run_info = run_info(record, handle, self._defaults(), reloaded=True)  # before the picture is drawn
        self.flush()  # type: ignore[attr-defined]
        self._finished(result)  # type: ignore[attr-defined]


def in_background(work: Any, then: Any, failed: Any) -> None:
    from kfp_notebook.view.panel import in_background as background

    background(work, then, failed)
