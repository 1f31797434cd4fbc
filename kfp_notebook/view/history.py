"""Run history: a record per run (local folder or Kubeflow) with its parameters and numeric metrics, as a table."""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Iterable
from typing import Any

from kfp_notebook.backends.base import Backend
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.tracking.records import RunRecord
from kfp_notebook.tracking.strict_json import dumps, jsonable
from kfp_notebook.tracking.task_ids import kfp_task_name

#: Characters a text table shows escaped: C0/C1 controls (newlines, ANSI escapes) and the bidi overrides.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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
        """Plain data for a table (the panel's Runs tab sorts it): columns, rows of cells; strict JSON as it is."""
        rows = self.rows()
        columns = list(dict.fromkeys(key for row in rows for key in row))
        cells = [[row.get(c) for c in columns] for row in rows]
        return {"columns": columns, "rows": jsonable(cells), "notes": self.notes}

    def __repr__(self) -> str:
        if not self:
            return "\n".join(["no runs yet", *self.notes])
        table = self.table()
        shown = [[_cell(c, v) for c, v in zip(table["columns"], row, strict=True)] for row in table["rows"]]
        widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(table["columns"])]
        lines = ["  ".join(c.ljust(w) for c, w in zip(table["columns"], widths, strict=True)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in shown]
        return "\n".join(lines + [shown_text(note) for note in self.notes])

    def _repr_html_(self) -> str:
        if not self:
            return f"<p>{html.escape(repr(self))}</p>"
        table = self.table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table["columns"])
        body = "".join(
            "<tr>" + "".join(_html_cell(c, v) for c, v in zip(table["columns"], row, strict=True)) + "</tr>"
            for row in table["rows"]
        )
        notes = "".join(f"<p class='kfp-notebook-note'>{html.escape(shown_text(n))}</p>" for n in self.notes)
        return f"<table class='kfp-notebook-runs'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"


def _flat(record: RunRecord, labels: dict[tuple[str, str], str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": record.run_id,
        "pipeline": record.pipeline,
        "where": record.where,
        "state": record.state,
        **({"retry_of": record.retry_of} if record.retry_of else {}),
        "started": record.started,
        "duration_s": round(record.duration, 2) if record.duration is not None else None,
    }
    row.update({f"params.{name}": value for name, value in record.parameters.items()})
    for task, values in record.metrics.items():
        row.update({f"metrics.{labels[(task, name)]}": value for name, value in values.items()})
    return row


#: Characters of a value a cell of the text and HTML tables shows (the rest is counted; table() keeps it whole).
MAX_CELL = 80


def _cell(column: str, value: Any) -> str:
    """How a value reads in the table (one line: control characters escaped, a long value cut)."""
    if value is None:
        return ""
    if column == "started" and isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    text = shown_value(value)
    return text if len(text) <= MAX_CELL else f"{text[: MAX_CELL - 1]}… ({len(text):,} characters)"


def shown_value(value: Any) -> str:
    """A parameter or metric as one line of a text table: numbers short, non-finite ones spelled, text escaped."""
    if isinstance(value, float):
        from kfp_notebook.view.plots import number

        return number(value)
    return shown_text(value if isinstance(value, str) else dumps(value, ensure_ascii=False))


def shown_text(text: str) -> str:
    """`text` with newlines, ANSI escapes and bidi overrides written as escapes (\\n, \\x1b, \\u202e)."""
    return _CONTROLS.sub(lambda found: _ESCAPES.get(found[0]) or repr(found[0])[1:-1], text)


def _html_cell(column: str, value: Any) -> str:
    sortable = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    sort_key = f" data-sort='{value}'" if sortable else ""
    return f"<td{sort_key}>{html.escape(_cell(column, value))}</td>"


def pipeline_name(pipeline: Any) -> str | None:
    """The kfp pipeline name runs are filed under: a pipeline object's name, or the text given."""
    if pipeline is None or isinstance(pipeline, str):
        return pipeline
    return str(getattr(pipeline, "name", pipeline))


def run_history(backends: Iterable[Backend], pipeline: Any = None) -> RunHistory:
    """The runs every backend knows, newest first; of one pipeline when given (a pipeline object or its name)."""
    name = pipeline_name(pipeline)
    records: list[RunRecord] = []
    unreachable: list[str] = []
    for backend in backends:
        try:
            found = backend.runs(name)
            if name is not None and not found and kfp_task_name(name) != name:  # kfp names pipelines as tasks
                found = backend.runs(kfp_task_name(name))
        except KfpNotebookError as exc:  # a server that does not answer hides its runs, not the others'
            if not backend.capabilities.remote:
                raise
            unreachable.append(f"{backend.name} runs are not listed: {exc}")
            continue
        records += found
    notes = unreachable + [r.message for r in records if r.message]
    return RunHistory(newest_first(records), notes)
