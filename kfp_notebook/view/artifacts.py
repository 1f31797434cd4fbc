"""A task's output artifacts drawn as the KFP UI draws them, as static HTML/SVG that survives save and export."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kfp_notebook.errors import KfpNotebookError, UnknownNameError
from kfp_notebook.tracking.artifacts import schema_title
from kfp_notebook.tracking.handle import TaskDetails
from kfp_notebook.tracking.results import TaskResult
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.view import previews
from kfp_notebook.view.plots import auc, heat_map, roc_plot
from kfp_notebook.view.previews import Files, markdown_html, sandboxed_html, table_html, table_text
from kfp_notebook.view.v1_outputs import is_v1_ui_metadata, v1_views

if TYPE_CHECKING:
    from kfp_notebook.session import Session

TEXT_LIMIT = 2 * 1024 * 1024
#: What a node's details carry inline of its task's outputs: the kinds the KFP UI draws on a node (and v1 UI
#: metadata), each view's HTML at most PREVIEW_LIMIT characters and all of a task's at most PREVIEWS_LIMIT.
VISUAL_KINDS = frozenset(
    {"system.Metrics", "system.ClassificationMetrics", "system.SlicedClassificationMetrics", "system.Markdown",
     "system.HTML"}
)  # fmt: skip
PREVIEW_LIMIT = 256 * 1024
PREVIEWS_LIMIT = 1024 * 1024
#: The most bytes of one artifact file the panel's download sends through the kernel.
DOWNLOAD_LIMIT = 16 * 1024 * 1024  # base64 makes it ≈ 21 MB in one comm message
#: How many task runs of a clicked node (loop iterations) get their visual outputs drawn inline.
PREVIEW_RUNS = 4


class ArtifactView:
    """One artifact drawn: HTML for notebooks (static), text for terminals."""

    def __init__(self, title: str, kind: str, html_body: str, text: str):
        self.title, self.kind, self.html, self.text = title, kind, html_body, text

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "kind": self.kind, "html": self._repr_html_(), "text": self.text}

    def _repr_html_(self) -> str:
        return (
            f"<div class='kfp-notebook-artifact' data-kind='{html.escape(self.kind)}'>"
            f"<h4>{html.escape(self.title)}</h4>{self.html}</div>"
        )

    def __repr__(self) -> str:
        return f"{self.title}\n{self.text}"


class ArtifactViews(list[ArtifactView]):
    """Several artifacts shown one after the other."""

    def _repr_html_(self) -> str:
        return "".join(view._repr_html_() for view in self)

    def __repr__(self) -> str:
        return "\n\n".join(repr(view) for view in self)


def artifact_view(task: TaskResult, output: str | None, files: Files) -> dict[str, Any]:
    """Plain data for the panel: {"html": …, "views": [{title, kind, html, text}, …]} for a task's outputs."""
    views = task_views(task, output, files)
    return {"html": views._repr_html_(), "views": [v.to_dict() for v in views]}


def inline_previews(task: TaskResult, files: Files) -> list[dict[str, Any]]:
    """The task's visual outputs drawn for its node's details (`%kfp show-artifact`'s renderers): for each view
    {output, title, kind, html, text, cut}; a view over the size limits says so (cut true) instead."""
    shown: list[dict[str, Any]] = []
    total = 0
    for name, items in task.artifacts.items():
        for artifact in items:
            if not _visual(artifact, files):
                continue
            for view in render(f"{task.task_id}.{name}", artifact, files):
                data: dict[str, Any] = {"output": name, **view.to_dict(), "cut": False}
                if len(data["html"]) > PREVIEW_LIMIT or total + len(data["html"]) > PREVIEWS_LIMIT:
                    note = f"too large to show here: %kfp show-artifact {task.task_id}.{name}"
                    data.update(html=f"<p>{html.escape(note)}</p>", cut=True)
                total += len(data["html"])
                shown.append(data)
    return shown


def _visual(artifact: dict[str, Any], files: Files) -> bool:
    if schema_title(artifact) in VISUAL_KINDS:
        return True
    uri = artifact.get("uri", "")
    return bool(uri) and is_v1_ui_metadata(artifact.get("name", ""), files, uri)


def with_previews(session: Session, run_id: str, runs: list[TaskDetails]) -> list[dict[str, Any]]:
    """Each task run's details with `previews`: its visual outputs drawn inline (for the first PREVIEW_RUNS
    finished runs that have output artifacts; [] for the others)."""
    shown: list[dict[str, Any]] = []
    for run in runs:
        wanted = run.get("artifacts") and TaskState.parse(str(run.get("state", ""))).finished
        drawn = sum(1 for s in shown if s["previews"])
        previews = task_previews(session, run["id"], run_id) if wanted and drawn < PREVIEW_RUNS else []
        shown.append({**run, "previews": previews})
    return shown


def task_previews(session: Session, task_id: str, run_id: str) -> list[dict[str, Any]]:
    """A run's task's inline previews from the backend that has the run ([] when its outputs cannot be read yet)."""
    try:
        task, files = session.task_outputs(task_id, run_id)
    except (KfpNotebookError, OSError, KeyError):
        return []
    return inline_previews(task, files)


def download(session: Session, task_id: str, run_id: str, output: str, name: str = "") -> dict[str, Any]:
    """An output artifact's bytes for the front end (base64), read through the kernel: the file, or the file
    `name` inside a folder artifact; at most DOWNLOAD_LIMIT bytes (`cut` says the file was longer)."""
    import base64
    import mimetypes

    task, files = session.task_outputs(task_id, run_id)
    items = task.artifacts.get(output) or []
    if not items or not items[0].get("uri"):
        known = ", ".join(task.artifacts) or "none"
        raise UnknownNameError(f"{task.task_id} has no output artifact {output!r} (its artifacts: {known})")
    uri = str(items[0]["uri"])
    listing = files.listing(uri)
    names = [n for n, _ in listing]
    if (name and name not in names) or (not name and names and names != [""]):
        raise UnknownNameError(f"{task.task_id}.{output} is a folder: name one of its files ({', '.join(names)})")
    path = f"{uri.rstrip('/')}/{name}" if name else uri
    data, size = files.read(path, DOWNLOAD_LIMIT)
    filename = name or os.path.basename(uri.rstrip("/")) or output
    return {
        "event": "download", "task": task.task_id, "output": output, "name": filename,
        "mime": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        "size": size, "cut": size is not None and size > len(data), "data": base64.b64encode(data).decode("ascii"),
    }  # fmt: skip


def task_views(task: TaskResult, output: str | None, files: Files) -> ArtifactViews:
    """Every output artifact of the task (or the one named `output`), drawn."""
    if output is not None and output not in task.artifacts:
        known = ", ".join(task.artifacts) or "none"
        raise UnknownNameError(f"{task.task_id} has no output artifact {output!r} (its artifacts: {known})")
    chosen = [output] if output is not None else list(task.artifacts)
    views = ArtifactViews()
    for name in chosen:
        for artifact in task.artifacts[name]:
            views += render(f"{task.task_id}.{name}", artifact, files)
    return views


def render(title: str, artifact: Any, files: Files) -> list[ArtifactView]:
    """One artifact drawn by its type (schema title); unknown types show their URI, size and metadata."""
    kind = schema_title(artifact)
    renderer = RENDERERS.get(kind, _generic)
    try:
        return renderer(title, artifact, files)
    except (OSError, ValueError, KeyError, TypeError, KfpNotebookError) as exc:
        reason = str(exc) if isinstance(exc, KfpNotebookError) else f"{type(exc).__name__}: {exc}"
        message = f"cannot draw {kind} artifact at {artifact.get('uri')}: {reason}"
        return [ArtifactView(title, "error", f"<p>{html.escape(message)}</p>", message)]


def _metadata_rows(metadata: dict[str, Any]) -> list[list[Any]]:
    return [[key, value] for key, value in metadata.items() if key != "display_name"]


def _metrics(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    rows = _metadata_rows(artifact.get("metadata") or {})
    return [
        ArtifactView(title, "metrics", table_html(["metric", "value"], rows), table_text(["metric", "value"], rows))
    ]


def classification_views(title: str, metadata: dict[str, Any]) -> list[ArtifactView]:
    """The confusion matrix as a heat map with counts and the ROC curve with its AUC."""
    views = []
    matrix = metadata.get("confusionMatrix")
    if matrix:
        categories = [str(spec.get("displayName", "")) for spec in matrix.get("annotationSpecs", [])]
        rows = [[float(v) for v in row.get("row", [])] for row in matrix.get("rows", [])]
        text = table_text(
            ["actual \\ predicted", *categories], [[c, *r] for c, r in zip(categories, rows, strict=False)]
        )
        views.append(ArtifactView(f"{title} · confusion matrix", "confusion_matrix", heat_map(categories, rows), text))
    points = metadata.get("confidenceMetrics")
    if points:
        fpr = [float(p.get("falsePositiveRate", 0)) for p in points]
        tpr = [float(p.get("recall", 0)) for p in points]
        area = auc(fpr, tpr)
        text = f"ROC curve, {len(points)} points, AUC {area:.3f}"
        views.append(ArtifactView(f"{title} · ROC", "roc", roc_plot([("", fpr, tpr, area)]), text))
    return views or [ArtifactView(title, "metrics", "<p>no confusion matrix or ROC curve logged</p>", "nothing logged")]


def _classification(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    return classification_views(title, artifact.get("metadata") or {})


def _sliced(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    views = []
    for entry in (artifact.get("metadata") or {}).get("evaluationSlices", []):
        name = str(entry.get("slice", "?"))
        views += classification_views(f"{title} · slice {name}", entry.get("sliceClassificationMetrics") or {})
    return views or [ArtifactView(title, "sliced_metrics", "<p>no slices logged</p>", "no slices logged")]


def read_text(files: Files, uri: str) -> str:
    data, size = files.read(uri, TEXT_LIMIT)
    text = data.decode("utf-8", "replace")
    return text if size is None or size <= len(data) else text + "\n\n… (cut at 2 MB)"


def _markdown(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    text = read_text(files, artifact["uri"])
    return [ArtifactView(title, "markdown", markdown_html(text), text)]


def _html(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    text = read_text(files, artifact["uri"])
    return [ArtifactView(title, "html", sandboxed_html(text), f"HTML document, {len(text)} characters")]


def _dataset(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    preview = previews.dataset_preview(files, artifact["uri"])
    if isinstance(preview, str):
        return [ArtifactView(title, "dataset", f"<p>{html.escape(preview)}</p>", preview)]
    body = table_html(preview.header, preview.rows, preview.caption)
    return [ArtifactView(title, "dataset", body, f"{preview.caption}\n{table_text(preview.header, preview.rows)}")]


def _model(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    listing, total = previews.model_files(files, artifact["uri"])
    rows = [[name or os.path.basename(artifact["uri"]), previews.size_text(size)] for name, size in listing]
    caption = f"{len(listing)} files · {previews.size_text(total)}"
    details = _metadata_rows(artifact.get("metadata") or {})
    extra = table_html(["metadata", "value"], details) if details else ""
    body = table_html(["file", "size"], rows, caption) + extra
    return [ArtifactView(title, "model", body, f"{caption}\n{table_text(['file', 'size'], rows)}")]


def _generic(title: str, artifact: dict[str, Any], files: Files) -> list[ArtifactView]:
    uri = artifact.get("uri", "")
    if is_v1_ui_metadata(artifact.get("name", ""), files, uri):
        return v1_views(title, read_text(files, uri), files)
    listing = files.listing(uri) if uri else []
    rows = [["uri", uri], ["size", previews.size_text(sum(s for _, s in listing)) if listing else "–"]]
    rows += _metadata_rows(artifact.get("metadata") or {})
    return [ArtifactView(title, "artifact", table_html(["", ""], rows), table_text(["", ""], rows))]


RENDERERS: dict[str, Callable[[str, dict[str, Any], Files], list[ArtifactView]]] = {
    "system.Metrics": _metrics,
    "system.ClassificationMetrics": _classification,
    "system.SlicedClassificationMetrics": _sliced,
    "system.Markdown": _markdown,
    "system.HTML": _html,
    "system.Dataset": _dataset,
    "system.Model": _model,
}


def split_target(target: str | None) -> tuple[str, str | None]:
    """TASK or TASK.OUTPUT (task names have no dots: kfp turns them into dashes)."""
    if not target:
        raise UnknownNameError("%kfp show-artifact needs a task (example: %kfp show-artifact evaluate.metrics)")
    task, _, output = target.partition(".")
    return task, output or None


def show_artifact(session: Session, target: str | None, run: str | None) -> ArtifactViews:
    """The views for `%kfp show-artifact TASK[.OUTPUT]`: the task's outputs, from whichever backend has the run."""
    task_name, output = split_target(target)
    task, files = session.task_outputs(task_name, run)
    return task_views(task, output, files)
