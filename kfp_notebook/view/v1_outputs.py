"""KFP v1 `mlpipeline-ui-metadata` outputs (table, markdown, confusion_matrix, roc, web-app) drawn as the v1 UI did."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from kfp_notebook.view.plots import auc, heat_map, roc_plot
from kfp_notebook.view.previews import Files, markdown_html, sandboxed_html, table_html, table_text

SNIFF_LIMIT = 64 * 1024
NAMES = ("mlpipeline_ui_metadata", "mlpipeline-ui-metadata")


def is_v1_ui_metadata(name: str, files: Files, uri: str) -> bool:
    """An output named mlpipeline_ui_metadata, or a small JSON file of the form {"outputs": [{"type": …}]}."""
    if any(name.startswith(n) for n in NAMES):
        return True
    try:
        data, size = files.read(uri, SNIFF_LIMIT)
        document = json.loads(data) if size is not None and size <= SNIFF_LIMIT else None
    except (OSError, ValueError):
        return False
    outputs = document.get("outputs") if isinstance(document, dict) else None
    return isinstance(outputs, list) and all(isinstance(o, dict) and "type" in o for o in outputs)


def v1_views(title: str, text: str, files: Files) -> list[Any]:
    """One view per entry of the metadata's `outputs` list."""
    from kfp_notebook.view.artifacts import ArtifactView

    try:
        outputs = json.loads(text).get("outputs", [])
    except (ValueError, AttributeError):
        return [ArtifactView(title, "error", "<p>not a v1 UI metadata document</p>", "not a v1 UI metadata document")]
    views = []
    for n, output in enumerate(outputs):
        kind = str(output.get("type", "?"))
        name = f"{title} · {kind}" + (f" {n + 1}" if len(outputs) > 1 else "")
        draw = CONVERTERS.get(kind)
        if draw is None:
            note = f"v1 output type {kind!r} is not drawn in the notebook (source: {output.get('source', '')})"
            views.append(ArtifactView(name, kind, f"<p>{html.escape(note)}</p>", note))
            continue
        body, plain = draw(output, files)
        views.append(ArtifactView(name, kind, body, plain))
    return views


def source_text(output: dict[str, Any], files: Files) -> str:
    """The output's content: inline text, or the file its `source` path/URI names."""
    source = str(output.get("source", ""))
    if output.get("storage") == "inline":
        return source
    data, _ = files.read(source, 8 * 1024 * 1024)
    return data.decode("utf-8", "replace")


def csv_rows(output: dict[str, Any], files: Files) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(source_text(output, files))) if row]


def _columns(output: dict[str, Any], defaults: list[str]) -> list[str]:
    schema = output.get("schema") or []
    return [str(c.get("name")) for c in schema] if schema else defaults


def _table(output: dict[str, Any], files: Files) -> tuple[str, str]:
    rows = csv_rows(output, files)
    header = [str(h) for h in output.get("header") or []] or (rows.pop(0) if rows else [])
    return table_html(header, rows), table_text(header, rows)


def _markdown(output: dict[str, Any], files: Files) -> tuple[str, str]:
    text = source_text(output, files)
    return markdown_html(text), text


def _web_app(output: dict[str, Any], files: Files) -> tuple[str, str]:
    text = source_text(output, files)
    return sandboxed_html(text), f"web app, {len(text)} characters of HTML"


def _confusion_matrix(output: dict[str, Any], files: Files) -> tuple[str, str]:
    columns = _columns(output, ["target", "predicted", "count"])
    records = [dict(zip(columns, row, strict=False)) for row in csv_rows(output, files)]
    seen = [r.get("target", "") for r in records] + [r.get("predicted", "") for r in records]
    labels = [str(label) for label in output.get("labels") or sorted(set(seen))]
    matrix = [[0.0] * len(labels) for _ in labels]
    for r in records:
        if r.get("target") in labels and r.get("predicted") in labels:
            matrix[labels.index(r["target"])][labels.index(r["predicted"])] += float(r.get("count") or 0)
    text = table_text(
        ["actual \\ predicted", *labels], [[label, *row] for label, row in zip(labels, matrix, strict=True)]
    )
    return heat_map(labels, matrix), text


def _roc(output: dict[str, Any], files: Files) -> tuple[str, str]:
    columns = _columns(output, ["fpr", "tpr", "thresholds"])
    records = [dict(zip(columns, row, strict=False)) for row in csv_rows(output, files)]
    fpr = [float(r["fpr"]) for r in records]
    tpr = [float(r["tpr"]) for r in records]
    area = auc(fpr, tpr)
    return roc_plot([("", fpr, tpr, area)]), f"ROC curve, {len(records)} points, AUC {area:.3f}"


CONVERTERS = {
    "table": _table,
    "markdown": _markdown,
    "web-app": _web_app,
    "confusion_matrix": _confusion_matrix,
    "roc": _roc,
}
