"""Local runs on disk: one folder per run (the YAML, events, task folders, results), listed and reloaded later."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from kfp_notebook.backends.defaults import DEFAULT_RUNS_FOLDER
from kfp_notebook.backends.local import supervision
from kfp_notebook.backends.local.cache import unique_suffix
from kfp_notebook.errors import KfpNotebookError, UnknownNameError, advice
from kfp_notebook.tracking import strict_json
from kfp_notebook.tracking.handle import TaskEvent
from kfp_notebook.tracking.records import RunRecord
from kfp_notebook.tracking.results import RunResult
from kfp_notebook.tracking.states import UNREADABLE, TaskState

RUNS_ENV = "KFP_NOTEBOOK_RUNS"
STOP_REQUEST = "stop-request"  # a file in a run's folder: any kernel or the CLI asks the run's owner to stop it
_RUN_ID = re.compile(r"(?!\.)[A-Za-z0-9._-]{1,200}")  # a folder name in the runs folder, never a path
_ID_ATTEMPTS = 20  # fresh ids tried when one is taken (a collision of 32 random bits in the same second)


def default_runs_folder() -> Path:
    """$KFP_NOTEBOOK_RUNS, else ./kfp_runs in the working directory, as an absolute path (fixed from now on)."""
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS_FOLDER).expanduser().resolve()


class RunStore:
    """The runs folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = (Path(root) if root is not None else default_runs_folder()).expanduser().resolve()
        self._written: dict[Path, dict[str, Any]] = {}  # run.json → what this store wrote there last

    def create(self, pipeline: str, yaml_text: str, parameters: dict[str, Any], extra: dict[str, Any] | None = None
               ) -> tuple[str, Path]:  # fmt: skip
        """A new run's folder with its compiled pipeline and its first run.json (`extra`: more fields of it)."""
        run_id, folder = self._new_folder(pipeline)
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
                **(extra or {}),
            },
        )
        return run_id, folder

    def _new_folder(self, pipeline: str) -> tuple[str, Path]:
        """A run id `<pipeline>-<time>-<hex>` whose folder this call created (never one another run has)."""
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = _id_prefix(pipeline)
        for _ in range(_ID_ATTEMPTS):
            run_id = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
            try:
                (self.root / run_id).mkdir()
            except FileExistsError:
                continue
            return run_id, self.root / run_id
        raise FileExistsError(f"{_ID_ATTEMPTS} fresh run ids were all taken in {self.root}")

    def open_events(self, run_folder: Path) -> EventLog:
        """The run's event log, open for appending while the run goes."""
        return EventLog(run_folder / "events.jsonl")

    def task_folder(self, run_folder: Path, task_id: str) -> Path:
        return run_folder / "tasks" / re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", task_id.replace("/", "__"))

    def save_result(self, result: RunResult, extra: dict[str, Any]) -> None:
        assert result.folder is not None
        path = Path(result.folder) / "run.json"
        previous = self._written.get(path)
        if previous is None:  # only the run's own store writes its run.json: read it once, not on every save
            previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self._write(path, {**previous, **extra, **result.to_dict()})
        if "finished" in extra:  # the run's last save: nothing is kept for it
            self._written.pop(path, None)

    def list_runs(self) -> list[dict[str, Any]]:
        """Summaries of every run in the folder, newest first (a run whose run.json is unreadable: UNREADABLE)."""
        keys = ("run_id", "pipeline", "state", "started", "finished", "message")
        runs = [{key: getattr(record, key) for key in keys} for record in self.records()]
        return runs

    def records(self, pipeline: str | None = None) -> list[RunRecord]:
        """Every run in the folder (of one pipeline when named) with its parameters and metrics, newest first.

        A run whose run.json cannot be read is listed whatever the pipeline, as an UNREADABLE row saying why.
        """
        records = []
        for path in self.root.glob("*/run.json"):
            record = _record_of(path)
            if pipeline is None or record.pipeline == pipeline or record.state == UNREADABLE:
                records.append(record)
        return sorted(records, key=lambda r: r.started or 0, reverse=True)

    def newest(self, pipeline: str, count: int) -> list[RunRecord]:
        """The newest `count` runs of a pipeline, newest first, reading only the records of the folders named
        after it (run ids start with the pipeline's name and the time: see _new_folder), newest name first."""
        named = re.compile(re.escape(_id_prefix(pipeline)) + r"-(\d{8}-\d{6})-[0-9a-f]+")
        folders: dict[str, list[Path]] = {}
        for path in self.root.glob("*/run.json"):
            match = named.fullmatch(path.parent.name)
            if match is not None:
                folders.setdefault(match[1], []).append(path)
        records: list[RunRecord] = []
        for stamp in sorted(folders, reverse=True):  # the runs of one second: by their start
            same = [record for record in map(_record_of, folders[stamp]) if record.pipeline == pipeline]
            records += sorted(same, key=lambda r: r.started or 0, reverse=True)
            if len(records) >= count:
                break
        return records[:count]

    def has(self, run_id: str) -> bool:
        """Whether a run of that id has a folder with a run.json here."""
        return bool(_RUN_ID.fullmatch(run_id)) and (self.root / run_id / "run.json").is_file()

    def _newest_readable(self) -> str:
        readable = [r for r in self.list_runs() if r["state"] != UNREADABLE]
        if not readable:
            how = advice("`%kfp run`", "`kfp-notebook run NOTEBOOK`, or pass the folder with --runs-dir DIR")
            raise UnknownNameError(f"no local runs in {self.root}: run a pipeline with {how} first")
        return str(readable[0]["run_id"])

    def load(self, run_id: str | None = None) -> RunResult:
        """A run's results from disk (the newest readable run when no id is given)."""
        chosen = run_id or self._newest_readable()
        path = self.root / chosen / "run.json"
        if _RUN_ID.fullmatch(chosen) and path.parent.is_dir() and not path.exists():
            problem = "is missing (a part of the run's folder was deleted): run the pipeline again"
            raise UnreadableRunError(unreadable_message(chosen, path, problem))
        if not _RUN_ID.fullmatch(chosen) or not path.exists():  # only then is every record read, to list some
            known = ", ".join(r["run_id"] for r in self.list_runs()[:5]) or "none"
            raise UnknownNameError(f"no run {chosen!r} in {self.root} (recent runs: {known})")
        data, problem = read_run_file(path)
        try:
            _check_shape(data)
        except TypeError as exc:
            problem = problem or f"is not a run record as kfp-notebook writes it ({exc})"
        if problem:
            raise UnreadableRunError(unreadable_message(chosen, path, problem))
        return RunResult.from_dict(with_liveness(data))

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        temporary = path.with_suffix(f".tmp-{unique_suffix()}")
        temporary.write_text(strict_json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)
        self._written[path] = data


class UnreadableRunError(KfpNotebookError):
    """A run's run.json is missing its content, is not JSON or is not a run record."""


def read_run_file(path: Path) -> tuple[dict[str, Any], str]:
    """A run.json's content, or what is wrong with it ("" when nothing is)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if not text.strip():
        return {}, "is empty"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, f"is not JSON, or was cut short ({exc})"
    return (data, "") if isinstance(data, dict) else ({}, f"is JSON but not a run record (a {type(data).__name__})")


def unreadable_message(run_id: str, path: Path, problem: str) -> str:
    return f"run {run_id}: its record {path} {problem}; the run's files are in {path.parent}"


def _id_prefix(pipeline: str) -> str:
    """How a run id starts: the pipeline's name in lower case, other characters as dashes, at most 40."""
    return re.sub(r"[^a-z0-9-]", "-", pipeline.lower())[:40]


def _record_of(path: Path) -> RunRecord:
    """The record of the run whose run.json is at `path`; an UNREADABLE record saying why when it cannot be read."""
    run_id = path.parent.name
    data, problem = read_run_file(path)
    if not problem:
        try:
            return _record(with_liveness(data))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"is not a run record as kfp-notebook writes it ({type(exc).__name__}: {exc})"
    message = unreadable_message(run_id, path, problem)
    return RunRecord(run_id, "?", "local", UNREADABLE, folder=str(path.parent), message=message)


def request_stop(run_folder: Path, who: str) -> None:
    """Ask the kernel that runs the run in `run_folder` to stop it (its scheduler looks for this file)."""
    temporary = run_folder / f".{STOP_REQUEST}.tmp-{unique_suffix()}"
    temporary.write_text(strict_json.dumps({"by": who, "time": time.time()}), encoding="utf-8")
    temporary.replace(run_folder / STOP_REQUEST)


def stop_requested(run_folder: Path) -> bool:
    return (run_folder / STOP_REQUEST).exists()


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
    stop = advice("`%kfp stop RUN`", "`%kfp stop RUN` in a notebook")
    message = f"the kernel that ran it is gone; {stop} stops any of its tasks still running"
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
        self._handle.write(strict_json.dumps(event.to_dict(), ensure_ascii=False) + "\n")

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
    _check_shape(data)
    result = RunResult.from_dict({"tasks": {}, **data})
    metrics = {task_id: task.metric_values() for task_id, task in result.tasks.items()}
    return RunRecord(
        run_id=result.run_id, pipeline=result.pipeline, where="local", state=result.state,
        started=data.get("started"), finished=data.get("finished"), parameters=dict(data.get("parameters") or {}),
        metrics={task: values for task, values in metrics.items() if values}, folder=result.folder,
        outputs=result.outputs, retry_of=str(data.get("retry_of") or ""),
    )  # fmt: skip


def _check_shape(data: dict[str, Any]) -> None:
    """Raise TypeError naming the first field of a run.json that is missing or of the wrong kind."""
    kinds = {"run_id": str, "pipeline": str, "state": str, "tasks": dict, "parameters": dict}
    for key, kind in kinds.items():
        if key in ("tasks", "parameters") and data.get(key) is None:
            continue
        if not isinstance(data.get(key), kind):
            raise TypeError(f"{key!r} is {type(data.get(key)).__name__}, not {kind.__name__}")
    for key in ("started", "finished"):
        if data.get(key) is not None and not isinstance(data[key], (int, float)):
            raise TypeError(f"{key!r} is {type(data[key]).__name__}, not a time")
