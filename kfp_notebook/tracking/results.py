"""A run's results: per task its state, outputs, artifacts, log and metrics; per run the metrics table."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_notebook.tracking.artifacts import Artifact, is_metrics
from kfp_notebook.tracking.strict_json import number
from kfp_notebook.tracking.task_ids import find_task_id


@dataclass
class TaskResult:
    """What one task produced."""

    task_id: str
    name: str
    component: str
    state: str
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[Artifact]] = field(default_factory=dict)
    message: str = ""
    folder: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # what it ran with, kept where no folder holds it (cached)

    @property
    def output(self) -> Any:
        """The single output parameter (as kfp's `.output`), or None."""
        return next(iter(self.parameters.values())) if len(self.parameters) == 1 else None

    def metrics(self) -> dict[str, str]:
        """Metric name → formatted value, from this task's system.Metrics artifacts."""
        shown: dict[str, str] = {}
        for items in self.artifacts.values():
            for artifact in items:
                if is_metrics(artifact):
                    formats = _v1_formats(artifact.get("uri", ""))
                    for name, value in (artifact.get("metadata") or {}).items():
                        shown[name] = format_metric(value, formats.get(name, "RAW"))
        return shown

    def metric_values(self) -> dict[str, float]:
        """Metric name → number, from this task's system.Metrics artifacts (for comparing runs)."""
        values: dict[str, float] = {}
        for items in self.artifacts.values():
            for artifact in items:
                if is_metrics(artifact):
                    metadata = artifact.get("metadata") or {}
                    numbers = {k: number(v) for k, v in metadata.items()}  # "NaN" is how run.json keeps a NaN
                    values.update({k: v for k, v in numbers.items() if v is not None})
        return values

    def log(self, tail: int | None = None) -> str:
        """The task's stdout then stderr (the last `tail` lines of each, if given, read from the end)."""
        from kfp_notebook.backends.local.logs import task_log

        return task_log(self.folder, tail)


def format_metric(value: Any, kind: str = "RAW") -> str:
    """As the KFP v1 UI showed them: 0.800 raw, 90.000% for PERCENTAGE."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    return f"{value * 100:.3f}%" if kind.upper() == "PERCENTAGE" else f"{value:.3f}"


def is_artifact(value: Any) -> bool:
    """Whether a value is an artifact as results hold them (a dict with its type and uri)."""
    return isinstance(value, dict) and isinstance(value.get("type"), dict) and "uri" in value


def _v1_formats(uri: str) -> dict[str, str]:
    """Formats a v1 metrics file gives its metrics (the file stays next to the v2 metadata)."""
    path = Path(uri)
    if not uri or not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError, UnicodeDecodeError):
        return {}
    metrics = document.get("metrics", []) if isinstance(document, dict) else []
    return {str(m.get("name")): str(m.get("format", "RAW")) for m in metrics if isinstance(m, dict)}


@dataclass
class MetricsTable:
    """Component × metric, formatted values."""

    columns: list[str]
    rows: list[tuple[str, dict[str, str]]]

    def __repr__(self) -> str:
        if not self.rows:
            return "no metrics"
        width = max(len(name) for name, _ in self.rows)
        widths = [max(len(c), *(len(r.get(c, "")) for _, r in self.rows)) for c in self.columns]
        header = " " * width + "  " + "  ".join(c.rjust(w) for c, w in zip(self.columns, widths, strict=True))
        lines = [
            f"{name.ljust(width)}  "
            + "  ".join(r.get(c, "").rjust(w) for c, w in zip(self.columns, widths, strict=True))
            for name, r in self.rows
        ]
        return "\n".join([header, *lines])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in self.columns)
            + "</tr>"
            for name, r in self.rows
        )
        return f"<table class='kfp-notebook-metrics'><tr><th></th>{head}</tr>{body}</table>"


@dataclass
class RunResult:
    """Everything a finished run produced."""

    run_id: str
    pipeline: str
    state: str
    tasks: dict[str, TaskResult]
    folder: str | None = None
    message: str = ""
    #: The pipeline's own outputs, named as it declares them: parameter values, and artifacts (one artifact
    #: as its dict of name, uri, metadata and type; a list output as a list of them). Empty until it succeeds.
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> Any:
        """The pipeline's single output (`-> int: return t.output`), as kfp's `.output`; None otherwise."""
        return next(iter(self.outputs.values())) if len(self.outputs) == 1 else None

    def __getitem__(self, task: str) -> TaskResult:
        """A task by id or by name (the first instance, for tasks inside loops)."""
        found = find_task_id(self.tasks, task, {task_id: result.name for task_id, result in self.tasks.items()})
        if found is not None:
            return self.tasks[found]
        raise KeyError(f"no task {task!r} in run {self.run_id} (tasks: {', '.join(self.tasks)})")

    def metrics_table(self) -> MetricsTable:
        rows = [(t.task_id, t.metrics()) for t in self.tasks.values()]
        rows = [(name, values) for name, values in rows if values]
        columns = sorted({c for _, values in rows for c in values})
        return MetricsTable(columns, rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "state": self.state,
            "message": self.message,
            "folder": self.folder,
            "outputs": self.outputs,
            "tasks": {k: vars(v) for k, v in self.tasks.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        tasks = {k: TaskResult(**v) for k, v in data.get("tasks", {}).items()}
        outputs = dict(data.get("outputs") or {})
        return cls(
            data["run_id"], data["pipeline"], data["state"], tasks, data.get("folder"), data.get("message", ""), outputs
        )
