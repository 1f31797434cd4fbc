"""Local runs on disk: one folder per run (the YAML, events, task folders, results), listed and reloaded later."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import supervision
from kfp_notebook.backends.local.cache import unique_suffix
from kfp_notebook.errors import UnknownNameError
from kfp_notebook.tracking.handle import TaskEvent
from kfp_notebook.tracking.records import RunRecord
from kfp_notebook.tracking.results import RunResult
from kfp_notebook.tracking.states import TaskState

RUNS_ENV = "KFP_NOTEBOOK_RUNS"
_RUN_ID = re.compile(r"(?!\.)[A-Za-z0-9._-]{1,200}")  # a folder name in the runs folder, never a path


def default_runs_folder() -> Path:
    """$KFP_NOTEBOOK_RUNS, else ./kfp_runs in the working directory."""
    return Path(os.environ.get(RUNS_ENV) or "kfp_runs")


class RunStore:
    """The runs folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = (Path(root) if root is not None else default_runs_folder()).expanduser().resolve()

    def create(self, pipeline: str, yaml_text: str, parameters: dict[str, Any]) -> tuple[str, Path]:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{re.sub(r'[^a-z0-9-]', '-', pipeline.lower())[:40]}-{stamp}-{secrets.token_hex(2)}"
        folder = self.root / run_id
        folder.mkdir(parents=True)
        (folder / "pipeline.yaml").write_text(yaml_text, encoding="utf-8")
        self._write(
            folder / "run.json",
            {
                "run_id": run_id,
                "pipeline": pipeline,
                "parameters": parameters,
                "state": TaskState.PENDING.value,
                "started": time.time(),
                "tasks": {},
                "kernel": supervision.identity(),
            },
        )
        return run_id, folder

    def open_events(self, run_folder: Path) -> EventLog:
        """The run's event log, open for appending while the run goes."""
        return EventLog(run_folder / "events.jsonl")

    def task_folder(self, run_folder: Path, task_id: str) -> Path:
        return run_folder / "tasks" / re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", task_id.replace("/", "__"))

    def save_result(self, result: RunResult, extra: dict[str, Any]) -> None:
        assert result.folder is not None
        path = Path(result.folder) / "run.json"
        previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self._write(path, {**previous, **extra, **result.to_dict()})

    def list_runs(self) -> list[dict[str, Any]]:
        """Summaries of every run in the folder, newest first."""
        runs = []
        for data in self._documents():
            runs.append({k: data.get(k) for k in ("run_id", "pipeline", "state", "started", "finished", "message")})
        return sorted(runs, key=lambda r: r.get("started") or 0, reverse=True)

    def records(self, pipeline: str | None = None) -> list[RunRecord]:
        """Every run in the folder (of one pipeline when named) with its parameters and metrics, newest first."""
        records = []
        for data in self._documents():
            if pipeline is None or data.get("pipeline") == pipeline:
                records.append(_record(data))
        return sorted(records, key=lambda r: r.started or 0, reverse=True)

    def load(self, run_id: str | None = None) -> RunResult:
        """A run's results from disk (the newest run when no id is given)."""
        runs = self.list_runs()
        if not runs:
            raise UnknownNameError(f"no local runs in {self.root}: run a pipeline with `%kfp run` first")
        chosen = run_id or runs[0]["run_id"]
        path = self.root / chosen / "run.json"
        if not _RUN_ID.fullmatch(chosen) or not path.exists():
            known = ", ".join(r["run_id"] for r in runs[:5])
            raise UnknownNameError(f"no run {chosen!r} in {self.root} (recent runs: {known})")
        return RunResult.from_dict(with_liveness(json.loads(path.read_text(encoding="utf-8"))))

    def _documents(self) -> list[dict[str, Any]]:
        """Every readable run.json, with runs of kernels that are gone shown LOST."""
        found = []
        for path in self.root.glob("*/run.json"):
            try:
                found.append(with_liveness(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, OSError, AttributeError):
                continue
        return found

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        temporary = path.with_suffix(f".tmp-{unique_suffix()}")
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        temporary.replace(path)


def with_liveness(data: dict[str, Any]) -> dict[str, Any]:
    """A run left PENDING/RUNNING by a kernel that no longer runs is LOST, with its unfinished tasks."""
    if TaskState.parse(data.get("state", "")).finished or supervision.alive(data.get("kernel")):
        return data
    tasks = {
        task_id: {**task, "state": TaskState.LOST.value}
        if not TaskState.parse(task.get("state", "")).finished
        else task
        for task_id, task in (data.get("tasks") or {}).items()
    }
    message = "the kernel that ran it is gone; `%kfp stop RUN` stops any of its tasks still running"
    return {**data, "state": TaskState.LOST.value, "tasks": tasks, "message": data.get("message") or message}


class EventLog:
    """A run's events.jsonl: appended through one open handle, flushed once per batch of events."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: Any = None
        self._closed = False

    def append(self, event: TaskEvent) -> None:
        if self._closed:
            raise ValueError(f"the events of {self.path.parent.name} are closed: the run has ended")
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (open for the run's length)
        self._handle.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        """Flush and close; the run's events end here (a later append raises)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()
        self._closed = True


def _record(data: dict[str, Any]) -> RunRecord:
    """A run's record from its run.json (metrics per task, for the tasks that logged any)."""
    result = RunResult.from_dict({"tasks": {}, **data})
    metrics = {task_id: task.metric_values() for task_id, task in result.tasks.items()}
    return RunRecord(
        run_id=result.run_id, pipeline=result.pipeline, where="local", state=result.state,
        started=data.get("started"), finished=data.get("finished"), parameters=dict(data.get("parameters") or {}),
        metrics={task: values for task, values in metrics.items() if values}, folder=result.folder,
        outputs=result.outputs,
    )  # fmt: skip
