"""End to end: a notebook written naturally (imports on top, helpers in their own cells) compiles into a
component whose shipped code runs under kfp's executor and returns the right value."""

from __future__ import annotations

import json

import pytest

from kfp_notebook.headless.notebooks import run_notebook

from executor_harness import load_pipeline_yaml, run_component
from helpers import nbformat, new_code_cell, new_notebook

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


ISSUE_CELLS = [
    "%load_ext kfp_notebook",
    "import json\nUSE_COMPLEX = True\nif USE_COMPLEX:\n    import cmath as m\nelse:\n    import math as m",
    "k = 10\n\ndef make_scaler(k):\n    def scale(x):\n        return x * k\n    return scale\n\ntriple = make_scaler(3)",
    "import functools\n\n@functools.lru_cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "class Box:\n    def __init__(self, v):\n        self.v = v",
    """%%component
def calc(x: int) -> str:
    import pickle
    return json.dumps([str(m.sqrt(-x)), triple(2), fib(20), pickle.loads(pickle.dumps(Box(x))).v])""",
    "triple = make_scaler(4)",
    "calc.python_func(1)",
    "%%pipeline\ndef issue_pipeline(x: int = 1):\n    calc(x=x)",
    "%kfp compile -o issue.yaml",
]


@pytest.mark.slow
def test_the_issues_examples_in_a_real_kernel_give_the_kernels_result(tmp_path):
    notebook = new_notebook(cells=[new_code_cell(c) for c in ISSUE_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "issue.ipynb"
    nbformat.write(notebook, path)
    run = run_notebook(path, tmp_path / "run")
    assert run.errors() == []
    in_kernel = json.loads(run.notebook.cells[7].outputs[0]["data"]["text/plain"].strip("'"))
    spec = load_pipeline_yaml((tmp_path / "run" / "issue.yaml").read_text(encoding="utf-8"))
    (tmp_path / "exec").mkdir()
    result = run_component(spec, "calc", tmp_path / "exec", {"x": 1})
    in_pipeline = json.loads(result["executor_output"]["parameterValues"]["Output"])
    assert in_pipeline == in_kernel == ["1j", 8, 6765, 1]
