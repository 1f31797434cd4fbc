"""Compare runs: parameters that differ, metrics side by side with the best marked, a plot per metric; CSV/Markdown."""

from __future__ import annotations

import csv
import html
import io
import math
import re
from pathlib import Path
from typing import Any

from kfp_notebook.errors import OptionError, UnknownNameError
from kfp_notebook.tracking.strict_json import dumps
from kfp_notebook.view.history import RunRecord, shown_text, shown_value
from kfp_notebook.view.plots import line_plot

LOWER_IS_BETTER = re.compile(r"loss|error|(^|_)err|mse|mae|rmse|mape|perplexity|latency|duration|seconds|time", re.I)
MIN_RUNS_FOR_PLOT = 3
EXPORT_FORMATS = (".csv", ".md")


def latest_runs(records: list[RunRecord], run_ids: list[str], last: int = 5) -> list[RunRecord]:
    """The named runs (in the order given), or the newest `last` runs, oldest first; records are newest first."""
    if not records:
        raise UnknownNameError("no runs to compare yet: run the pipeline a few times with `%kfp run` first")
    if not run_ids:
        return sorted(records[:last], key=lambda r: r.started or 0)
    by_id = {r.run_id: r for r in records}
    missing = [run_id for run_id in run_ids if run_id not in by_id]
    if missing:
        known = ", ".join(r.run_id for r in records[:5])
        raise UnknownNameError(f"no run {missing[0]!r} (recent runs: {known}); `%kfp runs` lists them")
    return [by_id[run_id] for run_id in run_ids]


def goal(metric: str) -> str:
    """'min' for metrics where lower is better (loss, error, …), else 'max'."""
    return "min" if LOWER_IS_BETTER.search(metric) else "max"


def compare_data(records: list[RunRecord], by: str | None = None) -> dict[str, Any]:
    """Plain data behind a comparison (for the cell view, exports and the panel's Compare tab)."""
    pipelines = list(dict.fromkeys(r.pipeline for r in records))
    metrics = _metric_rows(records)
    return {
        "runs": [_run(r) for r in records],
        "pipelines": pipelines,
        "notice": _mixed_notice(pipelines),
        "parameters": _parameter_rows(records),
        "metrics": metrics,
        "plots": _plots(records, metrics, by),
    }


def _run(record: RunRecord) -> dict[str, Any]:
    keys = ("run_id", "pipeline", "where", "state", "started", "duration")
    return {key: getattr(record, key) for key in keys}


def _mixed_notice(pipelines: list[str]) -> str:
    if len(pipelines) < 2:
        return ""
    return (
        f"these runs belong to {len(pipelines)} different pipelines ({', '.join(pipelines)}): "
        "parameters and metrics are matched by name only"
    )


def _parameter_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(name for r in records for name in r.parameters))
    rows = []
    for name in names:
        values = [r.parameters.get(name) for r in records]
        shown = {dumps(v, sort_keys=True) for v in values}
        rows.append({"name": name, "values": values, "differs": len(shown) > 1})
    return rows


def _metric_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    pairs = list(dict.fromkeys((task, name) for r in records for task, values in r.metrics.items() for name in values))
    rows = []
    for task, name in pairs:
        values = [r.metric(task, name) for r in records]
        rows.append({"task": task, "name": name, "values": values, "goal": goal(name), "best": _best(values, name)})
    return rows


def _best(values: list[float | None], name: str) -> list[int]:
    """Indices of the best value (all of them on a tie); none when fewer than two runs have the metric (NaN is
    never best: a diverged run has no value to compare)."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    if len(present) < 2 or len(set(present)) == 1:
        return []
    target = min(present) if goal(name) == "min" else max(present)
    return [i for i, v in enumerate(values) if v == target]


def _plots(records: list[RunRecord], metrics: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    """For each metric that ≥ 3 runs have a finite value of: its points against the run order or parameter `by`."""
    axis = _axis(records, by)
    plots = []
    for row in metrics:
        points = [(axis["x"][i], value, records[i].run_id) for i, value in enumerate(row["values"]) if _plotted(value)]
        if len(points) < MIN_RUNS_FOR_PLOT:
            continue
        title = f"{row['task']}: {row['name']}"
        svg = line_plot(points, title, axis["label"], axis["ticks"], _kept(row))
        plots.append({"task": row["task"], "name": row["name"], "x_label": axis["label"], "points": points, "svg": svg})
    return plots


def _plotted(value: float | None) -> bool:
    """Runs without the metric, or with a non-finite value (NaN, ±Infinity: no place on an axis), are not plotted."""
    return value is not None and math.isfinite(value)


def _kept(row: dict[str, Any]) -> list[int]:
    """Positions of the best runs among the plotted points."""
    plotted = [i for i, v in enumerate(row["values"]) if _plotted(v)]
    return [plotted.index(i) for i in row["best"] if i in plotted]


def _axis(records: list[RunRecord], by: str | None) -> dict[str, Any]:
    """x positions per run: 1..n in run order, or a parameter's values (categories when not numeric)."""
    if by is None:
        return {"label": "run (oldest → newest)", "x": list(range(1, len(records) + 1)), "ticks": None}
    known = list(dict.fromkeys(name for r in records for name in r.parameters))
    if by not in known:
        raise OptionError(f"--by {by!r} is not a parameter of these runs (parameters: {', '.join(known) or 'none'})")
    values = [r.parameters.get(by) for r in records]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return {"label": by, "x": [float(v) for v in values], "ticks": None}  # type: ignore[arg-type]
    categories = list(dict.fromkeys(shown_value(v) for v in values))
    x = [float(categories.index(shown_value(v)) + 1) for v in values]
    return {"label": by, "x": x, "ticks": [(i + 1.0, c) for i, c in enumerate(categories)]}


class Comparison:
    """A comparison of runs: a table in a cell (best values marked, plots below), exportable to CSV/Markdown."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def grid(self, best_mark: str = "*") -> list[list[str]]:
        """Header then one row per parameter and metric; differing parameters and best values marked."""
        runs = [r["run_id"] for r in self.data["runs"]]
        rows = [["", "name", *runs]]
        for p in self.data["parameters"]:
            rows.append(["parameter" + (" (differs)" if p["differs"] else ""), p["name"], *map(_value, p["values"])])
        for m in self.data["metrics"]:
            cells = [_value(v) + (best_mark if i in m["best"] else "") for i, v in enumerate(m["values"])]
            rows.append([f"metric ({m['goal']})", f"{m['task']}.{m['name']}", *cells])
        return rows

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "name", *[r["run_id"] for r in self.data["runs"]], "best"])
        for p in self.data["parameters"]:
            writer.writerow(["parameter", p["name"], *[_value(v) for v in p["values"]], ""])
        for m in self.data["metrics"]:
            best = " ".join(self.data["runs"][i]["run_id"] for i in m["best"])
            writer.writerow(["metric", f"{m['task']}.{m['name']}", *[_raw(v) for v in m["values"]], best])
        return buffer.getvalue()

    def to_markdown(self) -> str:
        grid = self.grid(best_mark=" **best**")
        lines = [f"> {self.data['notice']}", ""] if self.data["notice"] else []
        lines.append("| " + " | ".join(_md(c) for c in grid[0]) + " |")
        lines.append("|" + "---|" * len(grid[0]))
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in grid[1:]]
        return "\n".join(lines) + "\n"

    def save(self, path: str) -> Path:
        """Write the comparison as CSV or Markdown, by the file's extension."""
        target = Path(path)
        if target.suffix.lower() not in EXPORT_FORMATS:
            raise OptionError(f"-o {path!r}: comparisons are written as {' or '.join(EXPORT_FORMATS)} files")
        text = self.to_csv() if target.suffix.lower() == ".csv" else self.to_markdown()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def __repr__(self) -> str:
        if not self.data["runs"]:
            return "no runs to compare"
        grid = self.grid()
        widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in grid]
        notice = [f"note: {self.data['notice']}"] if self.data["notice"] else []
        return "\n".join([*notice, *lines, "(* best value)" if self.data["metrics"] else ""]).rstrip()

    def _repr_html_(self) -> str:
        if not self.data["runs"]:
            return "<p>no runs to compare</p>"
        notice = (
            f"<p class='kfp-notebook-notice'>⚠ {html.escape(self.data['notice'])}</p>" if self.data["notice"] else ""
        )
        head = "".join(f"<th>{html.escape(shown_text(r['run_id']))}</th>" for r in self.data["runs"])
        body = [self._html_parameter(p) for p in self.data["parameters"]]
        body += [self._html_metric(m) for m in self.data["metrics"]]
        plots = "".join(f"<div class='kfp-notebook-plot'>{p['svg']}</div>" for p in self.data["plots"])
        table = f"<table class='kfp-notebook-compare'><thead><tr><th></th>{head}</tr></thead>{''.join(body)}</table>"
        return f"{notice}{table}<div class='kfp-notebook-plots'>{plots}</div>"

    @staticmethod
    def _html_parameter(row: dict[str, Any]) -> str:
        style = " class='differs' style='background:#fff3cd'" if row["differs"] else ""
        cells = "".join(f"<td>{html.escape(_value(v))}</td>" for v in row["values"])
        return f"<tr{style}><th style='text-align:left'>{html.escape(shown_text(row['name']))}</th>{cells}</tr>"

    @staticmethod
    def _html_metric(row: dict[str, Any]) -> str:
        cells = "".join(
            f"<td class='best' style='font-weight:bold;background:#d4edda'>{html.escape(_value(v))} ★</td>"
            if i in row["best"]
            else f"<td>{html.escape(_value(v))}</td>"
            for i, v in enumerate(row["values"])
        )
        name = f"{row['task']}: {row['name']} ({'lower' if row['goal'] == 'min' else 'higher'} is better)"
        return f"<tr class='metric'><th style='text-align:left'>{html.escape(name)}</th>{cells}</tr>"


def _value(value: Any) -> str:
    return "–" if value is None else shown_value(value)


def _raw(value: float | None) -> str:
    """A metric in CSV: every digit (repr), non-finite values spelled as in JSON (NaN, Infinity, -Infinity)."""
    return "" if value is None else shown_value(value) if not math.isfinite(value) else repr(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
