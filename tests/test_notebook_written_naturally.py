"""End to end: a notebook written naturally (imports on top, helpers in their own cells) compiles into a
component whose shipped code runs under kfp's executor and returns the right value."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kfp_notebook.headless import run_notebook

from executor_harness import load_pipeline_yaml, run_component

CELLS = [
    "%load_ext kfp_notebook",
    "import json\nfrom statistics import mean as average\n\nTHRESHOLD = 0.5",
    '''def normalize(xs):
    """Scales so the largest value is 1."""
    top = max(xs)
    return [x / top for x in xs]


class Report:
    def __init__(self, xs):
        self.xs = normalize(xs)

    def summary(self):
        return json.dumps({"mean": average(self.xs), "above": sum(x > THRESHOLD for x in self.xs)})''',
    '''%%component
def summarize(values: list) -> str:
    """Summarizes the values; 요약."""
    return Report(values).summary()''',
    "summarize.python_func([1, 2, 4])",
    """%%pipeline
def report_pipeline(values: list = [1, 2, 4]):
    summarize(values=values)""",
    "%kfp compile -o traps.yaml",
]


@pytest.mark.slow
def test_natural_notebook_compiles_and_the_component_runs(tmp_path):
    notebook = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "natural.ipynb"
    nbformat.write(notebook, path)
    run = run_notebook(path, tmp_path / "run")
    assert run.errors() == []
    local = json.loads(run.notebook.cells[4].outputs[0]["data"]["text/plain"].strip("'"))
    spec = load_pipeline_yaml((tmp_path / "run" / "traps.yaml").read_text(encoding="utf-8"))
    (tmp_path / "exec").mkdir()
    result = run_component(spec, "summarize", tmp_path / "exec", {"values": [1, 2, 4]})
    shipped = json.loads(result["executor_output"]["parameterValues"]["Output"])
    assert shipped == local == {"mean": pytest.approx((0.25 + 0.5 + 1) / 3), "above": 1}
