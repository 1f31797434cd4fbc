"""The panel saved with its notebook: reopened with another kernel, the notebook draws the last panel instead of
logging "widget model not found" for a model that kernel never made.

The kernel puts a snapshot of the panel's synced traits and its model id in the metadata of the panel's picture
output (updated after each run; updating the live panel's own output would redraw it and lose the pane);
on save, the Jupyter server extension (kfp_notebook/jupyter_server.py) writes each snapshot as the notebook's
saved widget state (`metadata.widgets`), the ipywidgets format every widget manager restores models from, with
the panel's ES module and stylesheet read from the installed package.
"""

from __future__ import annotations

from typing import Any

KEY = "kfp_notebook_panel"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
PANEL_ID = "kfp_notebook.view.panel.PipelinePanel"  # anywidget's `_anywidget_id` of the panel's models
#: Not saved: the module and stylesheet (added on save from the package), references to other models.
UNSAVED = frozenset({"_esm", "_css", "layout"})
#: Saved empty: what is only meaningful while the kernel answers (a pane being read, a view asked for, an
#: action in progress); the front end reads every trait, so each is there.
EMPTY = {"details": {}, "busy": "", "field_errors": {}}


def snapshot(model_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """What the picture's metadata carries of a panel: its model id and widget state (`widget.get_state()`)."""
    kept = {name: EMPTY.get(name, value) for name, value in state.items() if name not in UNSAVED}
    return {"model_id": model_id, "state": kept}


def panel_states(notebook: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each panel's snapshot in a notebook (JSON as saved), by its widget model id, when its live output is there."""
    shown = set()
    found = {}
    for cell in notebook.get("cells") or []:
        for output in cell.get("outputs") or []:
            view = (output.get("data") or {}).get(VIEW_MIME)
            shown.add(view.get("model_id") if isinstance(view, dict) else None)
            saved = (output.get("metadata") or {}).get(KEY)
            if isinstance(saved, dict) and saved.get("model_id"):
                found[saved["model_id"]] = saved
    return {model_id: saved for model_id, saved in found.items() if model_id in shown}


def with_saved_state(notebook: dict[str, Any], esm: str, css: str) -> dict[str, Any]:
    """The notebook with its panels' widget state in `metadata.widgets`: panels saved by an earlier save and no
    longer shown are dropped, state the front end saved itself (JupyterLab's "Save Widget State") is kept."""
    panels = panel_states(notebook)
    widgets = notebook.setdefault("metadata", {}).setdefault("widgets", {})
    block = widgets.setdefault(STATE_MIME, {"version_major": 2, "version_minor": 0, "state": {}})
    models = block.setdefault("state", {})
    for model_id in [m for m, s in models.items() if _is_panel(s) and m not in panels]:
        del models[model_id]
    for model_id, saved in panels.items():
        state = {**saved.get("state", {}), "_esm": esm, "_css": css}
        models.setdefault(model_id, {
            "model_name": state.get("_model_name", "AnyModel"),
            "model_module": state.get("_model_module", "anywidget"),
            "model_module_version": state.get("_model_module_version", "*"),
            "state": state,
        })  # fmt: skip
    if not models:
        del widgets[STATE_MIME]
        if not widgets:
            del notebook["metadata"]["widgets"]
    return notebook


def _is_panel(model: Any) -> bool:
    return isinstance(model, dict) and (model.get("state") or {}).get("_anywidget_id") == PANEL_ID
