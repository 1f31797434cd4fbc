"""Artifact contents as static HTML: Markdown (sanitised), HTML (sandboxed iframe), dataset rows, model files."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from kfp_notebook.tracking.records import ArtifactFiles as Files

PREVIEW_ROWS = 10
READ_LIMIT = 8 * 1024 * 1024
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json", ".txt")


def size_text(size: int | None) -> str:
    """1000 B, 2.0 KB, 3.5 MB, 1.2 GB."""
    if size is None:
        return "size unknown"
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def markdown_html(text: str) -> str:
    """Markdown as HTML with raw HTML escaped and harmful links (javascript:, vbscript:, file:) dropped.

    mistune 3 is the renderer nbconvert uses (so it is already in every Jupyter install); with
    escape=True no tag of the text reaches the page, and its safe_url replaces harmful link targets.
    """
    import mistune

    render = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
    return f"<div class='kfp-notebook-markdown'>{render(text)}</div>"


def sandboxed_html(text: str, height: int = 360) -> str:
    """An HTML document in an iframe with an empty sandbox: no scripts, no same origin, no forms, no popups."""
    return (
        f'<iframe class="kfp-notebook-html" sandbox="" referrerpolicy="no-referrer" srcdoc="{html.escape(text)}" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd"></iframe>'
    )


def table_html(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table class='kfp-notebook-table'>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    shown = [[str(c) for c in header], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in shown) for i in range(len(shown[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in shown)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        from kfp_notebook.view.plots import number

        return number(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class Preview:
    """A dataset's first rows with its row count and size."""

    def __init__(self, header: list[str], rows: list[list[Any]], count: str, size: int | None, form: str):
        self.header, self.rows, self.count, self.size, self.form = header, rows, count, size, form

    @property
    def caption(self) -> str:
        return f"{self.form} · {self.count} rows · {size_text(self.size)} · first {len(self.rows)} shown"


def dataset_preview(files: Files, uri: str) -> Preview | str:
    """The first rows of a CSV/TSV, Parquet (with pyarrow) or JSON-lines file, or of a folder's first data file."""
    listing = files.listing(uri)
    if any(name for name, _ in listing):
        data_files = [n for n, _ in listing if n.lower().endswith(DATA_SUFFIXES)] or [n for n, _ in listing]
        if not data_files:
            return "an empty folder"
        preview = _file_preview(files, f"{uri.rstrip('/')}/{data_files[0]}")
        which = f"{data_files[0]}, 1 of the folder's {len(listing)} files"
        if isinstance(preview, str):
            return f"{which}: {preview}"
        preview.form = f"{preview.form} of {which}"
        return preview
    return _file_preview(files, uri)


def _file_preview(files: Files, uri: str) -> Preview | str:
    data, size = files.read(uri, READ_LIMIT)
    complete = size is not None and len(data) >= size
    if data[:4] == b"PAR1":
        return _parquet(data, size, complete)
    if b"\x00" in data[:4096]:
        return f"binary data ({size_text(size)}), no preview"
    text = data.decode("utf-8", "replace")
    if not complete:
        text = text[: text.rfind("\n") + 1]
    return _json_lines(text, size, complete) or _csv(text, size, complete)


def _count(n: int, complete: bool) -> str:
    return str(n) if complete else f"≥ {n}"


def _csv(text: str, size: int | None, complete: bool) -> Preview:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if r]
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    form = "TSV" if getattr(dialect, "delimiter", ",") == "\t" else "CSV"
    return Preview(header, body[:PREVIEW_ROWS], _count(len(body), complete), size, form)


def _json_lines(text: str, size: int | None, complete: bool) -> Preview | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].lstrip().startswith("{"):
        return None
    try:
        records = [json.loads(line) for line in lines[:PREVIEW_ROWS]]
    except ValueError:
        return None
    if not all(isinstance(r, dict) for r in records):
        return None
    header = list(dict.fromkeys(k for r in records for k in r))
    rows = [[r.get(k) for k in header] for r in records]
    return Preview(header, rows, _count(len(lines), complete), size, "JSON lines")


def _parquet(data: bytes, size: int | None, complete: bool) -> Preview | str:
    if not complete:
        return f"a Parquet file larger than {size_text(READ_LIMIT)}: download it to preview"
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return f"a Parquet file ({size_text(size)}): pip install pyarrow to preview it"
    table = pq.read_table(io.BytesIO(data))
    head = table.slice(0, PREVIEW_ROWS).to_pylist()
    header = list(table.column_names)
    return Preview(header, [[r.get(c) for c in header] for r in head], str(table.num_rows), size, "Parquet")


def model_files(files: Files, uri: str) -> tuple[list[tuple[str, int]], int]:
    """A model's files (name, size), largest first, and their total size."""
    listing = sorted(files.listing(uri), key=lambda item: -item[1])
    return listing, sum(size for _, size in listing)
