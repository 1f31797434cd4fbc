"""The seed's data example and metrics example, as written in the example notebooks, run locally with the right values."""

from __future__ import annotations

from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

from helpers import nbformat

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_code_cells(ip, notebook: str, drop: tuple[str, ...] = ()) -> None:
    """Execute a notebook's code cells in the testing shell (leaving out the given texts)."""
    for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells:
        if cell.cell_type == "code" and not cell.source.startswith(("%load_ext", "%kfp")):
            source = cell.source
            for text in drop:
                source = source.replace(text, "")
            ip.run_cell(source)


def test_the_seed_data_example_gives_the_array_shape(ip, tmp_path):
    pytest.importorskip("numpy")
    # the kernel's numpy stands in for `--packages numpy==…` so the test needs no package index
    run_code_cells(ip, "data_passing.ipynb", drop=("--packages numpy==2.2.6 ",))
    handle = kfp_notebook.run(
        ip.user_ns["data_example"], {"value_1": 2, "value_2": 3, "value_3": 4}, runs_folder=tmp_path
    )
    assert handle.state is TaskState.SUCCEEDED, handle.message
    result = handle.result()
    assert result["data_test_2"].output == [2, 3, 4]
    assert [result[t].state for t in ("createpvc", "deletepvc")] == ["SUCCEEDED", "SUCCEEDED"]


def test_the_seed_metrics_example_gives_the_seeds_table(ip, tmp_path):
    run_code_cells(ip, "metrics.ipynb")
    result = kfp_notebook.run(ip.user_ns["export_metrics_pipeline"], runs_folder=tmp_path).result()
    assert result["export_metric_op"].metrics() == {"name_1": "0.800", "name_2": "90.000%"}
    assert result["evaluate"].metrics() == {"accuracy": "0.920", "threshold": "0.500"}
    assert repr(result.metrics_table()).splitlines() == [
        "                  accuracy  name_1   name_2  threshold",
        "evaluate             0.920                       0.500",
        "export-metric-op             0.800  90.000%           ",
    ]
