"""Every example notebook runs headless, and the YAML it compiles is what kfp writes for hand-written code.

Golden YAML lives in tests/golden/<notebook>.yaml, compiled by kfp from tests/golden/<notebook>.py.
Regenerate it only deliberately: `KFP_NOTEBOOK_REGEN_GOLDEN=1 pytest tests/test_notebooks.py` (never in CI).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.headless.notebooks import NotebookRun, run_notebook, text_outputs

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
NOTEBOOKS = {
    "quickstart": "add_pipeline.yaml",
    "data_passing": "data_passing.yaml",
    "metrics": "metrics.yaml",
    "condition": "condition.yaml",
    "parallel_for": "parallel_for.yaml",
    "resources": "resources.yaml",
}
REGENERATE = os.environ.get("KFP_NOTEBOOK_REGEN_GOLDEN") == "1" and not os.environ.get("CI")

# The tests that execute notebooks (the `runs` fixture) are marked slow; the golden YAML checks are fast.


def test_every_notebook_is_covered():
    assert {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} == set(NOTEBOOKS)


def handwritten_yaml(name: str) -> str:
    spec = importlib.util.spec_from_file_location(f"golden_{name}", GOLDEN / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return kfp_notebook.compile(module.PIPELINE)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_handwritten_kfp_code_compiles_to_the_golden_yaml(name):
    text = handwritten_yaml(name)
    golden = GOLDEN / f"{name}.yaml"
    if REGENERATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, NotebookRun]:
    return {
        name: run_notebook(ROOT / "notebooks" / f"{name}.ipynb", tmp_path_factory.mktemp(name)) for name in NOTEBOOKS
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless_without_errors(runs, name):
    assert runs[name].errors() == []


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_yaml_is_identical_to_handwritten_kfp(runs, name):
    written = runs[name].folder / NOTEBOOKS[name]
    assert written.read_text(encoding="utf-8") == (GOLDEN / f"{name}.yaml").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["quickstart", "metrics", "condition", "parallel_for"])
def test_notebooks_that_run_locally_succeed(runs, name):
    outputs = "\n".join(text_outputs(runs[name].notebook))
    assert re.search(r"\(local\): SUCCEEDED · (\d+)/\1 tasks", outputs), outputs[-2000:]


@pytest.mark.slow
def test_quickstart_shows_the_metrics_table(runs):
    assert "report  13.000" in "\n".join(text_outputs(runs["quickstart"].notebook))


@pytest.mark.slow
def test_seed_component_files_are_written(runs):
    folder = runs["data_passing"].folder / "components"
    assert sorted(p.name for p in folder.iterdir()) == ["test_1.component.yaml", "test_2.component.yaml"]
