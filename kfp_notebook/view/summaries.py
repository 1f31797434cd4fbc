"""Summaries shown after a magic: plain text and HTML, built from what was defined (no IPython here)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.authoring.task_defaults import describe_defaults


@dataclass
class Summary:
    """A titled list of (label, value) rows that renders as text and as HTML."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        width = max((len(label) for label, _ in self.rows), default=0)
        lines = [self.title] + [f"  {label.ljust(width)}  {value}" for label, value in self.rows]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for label, value in self.rows
        )
        notes = "".join(f"<div style='color:#b35900'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        title = html.escape(self.title)
        return f"<div class='kfp-notebook-summary'><b>{title}</b><table>{body}</table>{notes}</div>"


def short_type(type_name: Any) -> str:
    """kfp's type names made readable: 'system.Dataset@0.0.1' → 'Dataset'."""
    text = str(type_name)
    if text.startswith(("system.", "google.")) and "@" in text:
        return text.split("@")[0].split(".", 1)[1]
    return text


def component_summary(name: str, component: Any) -> Summary:
    spec = component.component_spec
    rows = [
        ("inputs", _inputs(spec.inputs or {})),
        ("outputs", ", ".join(f"{k}: {short_type(v.type)}" for k, v in (spec.outputs or {}).items()) or "none"),
        ("image", component.image),
        ("packages", " ".join(component.packages) or "none"),
    ]
    rows += describe_defaults(component.defaults)
    frozen = getattr(getattr(component, "needs", None), "frozen", {})
    if frozen:
        rows.append(("frozen", ", ".join(f"{name} ({size:,} bytes)" for name, size in sorted(frozen.items()))))
    return Summary(f"component {name} (kfp name {spec.name!r})", rows, list(component.warnings))


def _inputs(inputs: dict[str, Any]) -> str:
    parts = []
    for name, spec in inputs.items():
        default = f" = {spec.default!r}" if spec.default is not None else (" = None" if spec.optional else "")
        parts.append(f"{name}: {short_type(spec.type)}{default}")
    return ", ".join(parts) or "none"


def pipeline_summary(name: str, pipeline: Any, written: str | None = None) -> Summary:
    spec = pipeline.component_spec
    tasks = len(pipeline.pipeline_spec.root.dag.tasks)
    rows = [
        ("parameters", _inputs(spec.inputs or {})),
        ("top-level tasks", str(tasks)),
    ]
    if pipeline.description:
        rows.append(("description", pipeline.description))
    if written:
        rows.append(("compiled to", written))
    return Summary(f"pipeline {name} (kfp name {pipeline.name!r})", rows)


def compiled_summary(name: str, path: str, size: int) -> Summary:
    return Summary(f"compiled pipeline {name}", [("file", path), ("size", f"{size:,} bytes")])


def definitions_summary(registry: Any) -> Summary:
    stale = {e.name: _stale(e.component) for e in registry.components.values()}
    rows = [(f"component {e.name}", _component_note(e.component, stale[e.name])) for e in registry.components.values()]
    for entry in registry.pipelines.values():
        changed = [n for n in entry.uses if stale.get(n)] + registry.changed_components(entry)
        note = f"components changed since defined: {', '.join(sorted(set(changed)))}" if changed else "up to date"
        rows.append((f"pipeline {entry.name}", note))
    return Summary("defined in this kernel" if rows else "nothing defined yet", rows)


def _stale(component: Any) -> list[str]:
    stale = getattr(component, "stale", None)
    return stale() if stale is not None else []


def _component_note(component: Any, changed: list[str]) -> str:
    image = short_type(component.image)
    if not changed:
        return image
    return (
        f"{image}; changed in the notebook since its cell ran: {', '.join(changed)} "
        "(compile/run rebuild it from its cell, or tell why not)"
    )
