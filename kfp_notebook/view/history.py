"""Run history: a record per run (local folder or Kubeflow) with its parameters and numeric metrics, as a table."""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.results import RunResult


@dataclass
class RunRecord:
    """One run as the history shows it; `metrics` maps task → metric → value."""

    run_id: str
    pipeline: str
    where: str
    state: str
    started: float | None = None
    finished: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    folder: str | None = None

    @property
    def duration(self) -> float | None:
        return self.finished - self.started if self.started and self.finished else None

    def metric(self, task: str, name: str) -> float | None:
        return self.metrics.get(task, {}).get(name)


def local_records(runs_folder: str | os.PathLike[str] | None, pipeline: str | None = None) -> list[RunRecord]:
    """Every local run in the runs folder (of one pipeline when named), newest first."""
    from kfp_notebook.backends.local.store import RunStore

    records = []
    for path in RunStore(runs_folder).root.glob("*/run.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if pipeline is None or data.get("pipeline") == pipeline:
            records.append(local_record(data))
    return newest_first(records)


def local_record(data: dict[str, Any]) -> RunRecord:
    """A record from a local run.json."""
    result = RunResult.from_dict({"tasks": {}, **data})
    return RunRecord(
        run_id=result.run_id,
        pipeline=result.pipeline,
        where="local",
        state=result.state,
        started=data.get("started"),
        finished=data.get("finished"),
        parameters=dict(data.get("parameters") or {}),
        metrics=task_metrics(result),
        folder=result.folder,
    )


def task_metrics(result: RunResult) -> dict[str, dict[str, float]]:
    """Task id → its numeric metrics, for the tasks that logged any."""
    values = {task_id: task.metric_values() for task_id, task in result.tasks.items()}
    return {task_id: metrics for task_id, metrics in values.items() if metrics}


def kubeflow_records(backend: Any, pipeline: str | None, count: int = 10) -> tuple[list[RunRecord], list[str]]:
    """The newest runs on Kubeflow (of one uploaded pipeline when named) with their metrics; and notes."""
    records, notes = [], []
    for summary in backend.recent_runs(pipeline, count):
        record = RunRecord(
            run_id=summary["run_id"],
            pipeline=pipeline or summary.get("pipeline", "?"),
            where=backend.connection.host,
            state=summary.get("state", "?"),
            started=summary.get("started") or None,
            finished=summary.get("finished") or None,
            parameters=dict(summary.get("parameters") or {}),
        )
        if record.state in ("SUCCEEDED", "FAILED"):
            try:
                record.metrics = {task: dict(values) for task, values in backend.metrics(record.run_id)}
            except Exception as exc:  # metrics are extra: the run is listed without them
                notes.append(f"metrics of {record.run_id} unavailable: {exc}")
        records.append(record)
    return records, notes


def newest_first(records: list[RunRecord]) -> list[RunRecord]:
    return sorted(records, key=lambda r: r.started or 0, reverse=True)


def metric_labels(records: list[RunRecord]) -> dict[tuple[str, str], str]:
    """(task, metric) → its column name: the metric's name, or task.metric where two tasks log the same name."""
    pairs = sorted({(task, name) for r in records for task, values in r.metrics.items() for name in values})
    clashing = {name for _, name in pairs if sum(1 for _, other in pairs if other == name) > 1}
    return {(task, name): f"{task}.{name}" if name in clashing else name for task, name in pairs}


class RunHistory(list[RunRecord]):
    """Runs as records (a list), a table in a cell, and a DataFrame with `.to_pandas()`."""

    notes: list[str]

    def __init__(self, records: Iterable[RunRecord] = (), notes: list[str] | None = None):
        super().__init__(records)
        self.notes = list(notes or [])

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per run: run_id, pipeline, where, state, started, duration_s, params.*, metrics.*."""
        labels = metric_labels(list(self))
        return [_flat(record, labels) for record in self]

    def to_pandas(self) -> Any:
        """The history as a pandas DataFrame (one row per run; params.* and metrics.* columns)."""
        try:
            import pandas as pd
        except ImportError:
            from kfp_notebook.errors import OptionError

            raise OptionError("to_pandas() needs pandas: pip install pandas (or use the records as a list)") from None
        frame = pd.DataFrame(self.rows())
        if "started" in frame:
            frame["started"] = pd.to_datetime(frame["started"], unit="s")
        return frame

    def table(self) -> dict[str, Any]:
        """Plain data for a table (the panel's Runs tab sorts it): columns, rows of cells."""
        rows = self.rows()
        columns = list(dict.fromkeys(key for row in rows for key in row))
        return {"columns": columns, "rows": [[row.get(c) for c in columns] for row in rows], "notes": self.notes}

    def __repr__(self) -> str:
        if not self:
            return "\n".join(["no runs yet", *self.notes])
        table = self.table()
        shown = [[_cell(c, v) for c, v in zip(table["columns"], row, strict=True)] for row in table["rows"]]
        widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(table["columns"])]
        lines = ["  ".join(c.ljust(w) for c, w in zip(table["columns"], widths, strict=True)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in shown]
        return "\n".join(lines + self.notes)

    def _repr_html_(self) -> str:
        if not self:
            return f"<p>{html.escape(repr(self))}</p>"
        table = self.table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table["columns"])
        body = "".join(
            "<tr>" + "".join(_html_cell(c, v) for c, v in zip(table["columns"], row, strict=True)) + "</tr>"
            for row in table["rows"]
        )
        notes = "".join(f"<p class='kfp-notebook-note'>{html.escape(n)}</p>" for n in self.notes)
        return f"<table class='kfp-notebook-runs'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"


def _flat(record: RunRecord, labels: dict[tuple[str, str], str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": record.run_id,
        "pipeline": record.pipeline,
        "where": record.where,
        "state": record.state,
        "started": record.started,
        "duration_s": round(record.duration, 2) if record.duration is not None else None,
    }
    row.update({f"params.{name}": value for name, value in record.parameters.items()})
    for task, values in record.metrics.items():
        row.update({f"metrics.{labels[(task, name)]}": value for name, value in values.items()})
    return row


def _cell(column: str, value: Any) -> str:
    """How a value reads in the table."""
    if value is None:
        return ""
    if column == "started":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if isinstance(value, float):
        from kfp_notebook.view.plots import number

        return number(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _html_cell(column: str, value: Any) -> str:
    sort_key = "" if value is None or not isinstance(value, (int, float)) else f" data-sort='{value}'"
    return f"<td{sort_key}>{html.escape(_cell(column, value))}</td>"


def pipeline_name(pipeline: Any) -> str | None:
    """The kfp pipeline name runs are filed under: a pipeline object's name, or the text given."""
    if pipeline is None or isinstance(pipeline, str):
        return pipeline
    return str(getattr(pipeline, "name", pipeline))


def run_history(
    pipeline: Any = None, runs_folder: str | os.PathLike[str] | None = None, kubeflow: Any = None, count: int = 10
) -> RunHistory:
    """Local runs and (when connected) Kubeflow runs together, newest first; of one pipeline when given."""
    name = pipeline_name(pipeline)
    records = local_records(runs_folder, name)
    if name is not None and not records and "_" in name:
        records = local_records(runs_folder, name.replace("_", "-"))
    notes: list[str] = []
    if kubeflow is not None:
        remote, notes = kubeflow_records(kubeflow, name, count)
        records = newest_first(records + remote)
    return RunHistory(records, notes)
