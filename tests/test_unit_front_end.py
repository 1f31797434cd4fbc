"""The panel's front end as one anywidget ES module: committed bundle up to date, traits typed once, pane actions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kfp_notebook.view import front_end, panel_actions, saved_state
from kfp_notebook.view.panel import PipelinePanel

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_bundle_was_built_from_the_sources_as_they_are():
    assert front_end.bundle_digest() == front_end.sources_digest(), (
        "frontend/ (or a trait of PipelinePanel, or a state) changed and the bundle was not rebuilt: "
        "cd frontend && npm ci && npm run build (or `make frontend`), then commit kfp_notebook/view/static/"
    )
    assert front_end.bundle_digest(front_end.CSS) == front_end.sources_digest()


def test_the_digest_changes_with_a_trait_a_source_or_the_lock_file(tmp_path, monkeypatch):
    copy = tmp_path / "frontend"
    for name in ("src", "style"):
        shutil.copytree(ROOT / "frontend" / name, copy / name)
    shutil.copy(ROOT / "frontend" / "package-lock.json", copy)
    digest = front_end.sources_digest(copy)
    assert digest == front_end.sources_digest()
    (copy / "src" / "widget.ts").write_text("// changed\n", encoding="utf-8")
    assert front_end.sources_digest(copy) != digest
    shutil.copy(ROOT / "frontend" / "src" / "widget.ts", copy / "src")
    monkeypatch.setattr(front_end, "traits_typescript", lambda: "export interface PanelTraits { extra: string; }\n")
    assert front_end.sources_digest(copy) != digest


def test_every_synced_trait_is_typed_once_for_the_front_end():
    typescript = front_end.traits_typescript()
    declared = {n for n in PipelinePanel.class_own_traits(sync=True) if not n.startswith("_")}
    assert set(re.findall(r"^  (\w+): ", typescript, re.M)) == declared
    assert "  run_view: RunView;" in typescript and "  submit_enabled: boolean;" in typescript
    messages = (ROOT / "frontend" / "src" / "messages.ts").read_text(encoding="utf-8")
    for name in re.search(r"import type \{ (.*) \}", typescript).group(1).split(", "):
        assert re.search(rf"export (interface|type) {name}\b", messages), f"{name} is not declared in messages.ts"


def test_the_panel_is_an_anywidget_whose_module_carries_no_graphviz():
    import anywidget

    assert issubclass(PipelinePanel, anywidget.AnyWidget)
    module = front_end.ESM.read_text(encoding="utf-8")
    assert str(PipelinePanel._esm) == module and str(PipelinePanel._css) == front_end.CSS.read_text(encoding="utf-8")
    assert "export{" in module.replace(" ", "") and "render" in module
    assert "viz" not in module.lower() and len(module) < 100_000  # saved with the widget state: kept small
    assert not (ROOT / "frontend" / "package.json").read_text(encoding="utf-8").count("@viz-js")


@pytest.mark.slow  # builds a wheel (a few seconds)
def test_the_wheel_carries_the_bundle_and_an_installed_package_finds_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 and "hatchling" in done.stderr:
        pytest.skip("hatchling is not installed in this environment (pip install hatchling)")
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"kfp_notebook/view/static/panel.js", "kfp_notebook/view/static/panel.css"} <= names
    assert not any("labextension" in name for name in names)
    enabled = "etc/jupyter/jupyter_server_config.d/kfp_notebook.json"
    assert any(name.endswith(f".data/data/{enabled}") for name in names), "pip enables the server extension"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from kfp_notebook.view import front_end as f; print(f.ESM.stat().st_size, f.ESM.is_relative_to(r'%s'))"
    shown = subprocess.run(
        [sys.executable, "-c", code % site], cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert shown.stdout.split()[1] == "True", shown.stderr


@pytest.mark.parametrize(
    ("task_id", "line"),
    [
        ("train", "%kfp debug train --run run-1"),
        ("for-loop-2[3]/square", "%kfp debug square --run run-1 --item 3"),
        ("outer[1]/for-loop-4[0]/shard", "%kfp debug shard --run run-1 --item 0"),
    ],
)
def test_the_debug_line_names_the_task_the_run_and_the_iteration(task_id, line):
    assert panel_actions.debug_command(task_id, "run-1") == line


def _notebook_with_panel(model_id: str, state: dict) -> dict:
    picture = {
        "output_type": "display_data",
        "data": {"image/svg+xml": "<svg/>"},
        "metadata": {saved_state.KEY: saved_state.snapshot(model_id, state)},
    }
    live = {
        "output_type": "display_data",
        "data": {saved_state.VIEW_MIME: {"model_id": model_id, "version_major": 2, "version_minor": 0}},
        "metadata": {},
    }
    cell = {"id": "c1", "cell_type": "code", "source": "%%pipeline", "metadata": {}, "execution_count": 1}
    cell["outputs"] = [picture, live]
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_saved_notebook_carries_its_panels_widget_state_with_the_module():
    state = {"_anywidget_id": saved_state.PANEL_ID, "_model_name": "AnyModel", "_model_module": "anywidget",
             "_model_module_version": "~0.9.*", "title": "fan", "layout": "IPY_MODEL_x", "_esm": "old", "busy": "run"}  # fmt: skip
    notebook = _notebook_with_panel("m1", state)
    frontend_saved = {"model_name": "IntSliderModel", "state": {"value": 3}}
    stale = {"model_name": "AnyModel", "state": {"_anywidget_id": saved_state.PANEL_ID}}
    notebook["metadata"]["widgets"] = {saved_state.STATE_MIME: {"state": {"slider": frontend_saved, "gone": stale}}}
    saved = saved_state.with_saved_state(notebook, "ESM", "CSS")["metadata"]["widgets"][saved_state.STATE_MIME]
    assert set(saved["state"]) == {"slider", "m1"}, "a panel no longer shown goes; a slider the front end saved stays"
    model = saved["state"]["m1"]
    assert (model["model_name"], model["model_module"], model["model_module_version"]) == (
        "AnyModel",
        "anywidget",
        "~0.9.*",
    )
    assert model["state"]["_esm"] == "ESM" and model["state"]["_css"] == "CSS" and model["state"]["title"] == "fan"
    assert "layout" not in model["state"], "no reference to a model that is not saved"
    assert model["state"]["busy"] == "", "an action in progress when saved is not in progress when reopened"
    cleared = _notebook_with_panel("m3", state)
    cleared["cells"][0]["outputs"].pop()  # the live output cleared, its picture kept: nothing to restore
    assert "widgets" not in saved_state.with_saved_state(cleared, "ESM", "CSS")["metadata"]
    cleared = _notebook_with_panel("m3", state)
    cleared["cells"][0]["outputs"].pop()  # the live output cleared, its picture kept: nothing to restore
    assert "widgets" not in saved_state.with_saved_state(cleared, "ESM", "CSS")["metadata"]
    plain = {"cells": [], "metadata": {"kernelspec": {}}}
    assert saved_state.with_saved_state(plain, "ESM", "CSS") == {"cells": [], "metadata": {"kernelspec": {}}}


def test_the_server_extension_writes_the_state_when_jupyter_saves_the_notebook(tmp_path):
    import json

    from jupyter_server.services.contents.filemanager import FileContentsManager

    from kfp_notebook import jupyter_server

    manager = FileContentsManager(root_dir=str(tmp_path))
    manager.register_pre_save_hook(jupyter_server.save_panels)
    notebook = _notebook_with_panel("m2", {"_anywidget_id": saved_state.PANEL_ID, "title": "fan"})
    manager.save({"type": "notebook", "format": "json", "content": notebook}, "saved.ipynb")
    written = json.loads((tmp_path / "saved.ipynb").read_text(encoding="utf-8"))
    model = written["metadata"]["widgets"][saved_state.STATE_MIME]["state"]["m2"]
    assert model["state"]["_esm"] == front_end.ESM.read_text(encoding="utf-8")
    manager.save({"type": "file", "format": "text", "content": "plain"}, "notes.txt")
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "plain"
    config = json.loads((ROOT / "jupyter-config" / "jupyter_server_config.d" / "kfp_notebook.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"kfp_notebook.jupyter_server": True}
    assert jupyter_server._jupyter_server_extension_points() == [{"module": "kfp_notebook.jupyter_server"}]
