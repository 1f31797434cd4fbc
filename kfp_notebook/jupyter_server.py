"""A Jupyter server extension (enabled by `pip install`): a notebook is saved with its panels' widget state, so a
new kernel's notebook draws them instead of "widget model not found" (view/saved_state.py)."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kfp_notebook.jupyter_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(save_panels)


def save_panels(model: dict[str, Any], **_kwargs: Any) -> None:
    """Before a notebook is written: its panels' snapshots become saved widget state (other files untouched)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    from kfp_notebook.view import front_end, saved_state

    if not front_end.ESM.exists():
        return
    esm, css = front_end.ESM.read_text(encoding="utf-8"), front_end.CSS.read_text(encoding="utf-8")
    saved_state.with_saved_state(model["content"], esm, css)
