"""Editing a component cell and compiling again uses the new definition without re-running the pipeline cell."""

from __future__ import annotations

import re

import kfp_notebook

from helpers import compiled

STEP = "%%component\ndef step(x: int) -> int:\n    return x + {n}\n"
PIPELINE = "%%pipeline\ndef p(x: int = 1):\n    step(x=step(x=x).output)\n"


def test_kfp_compile_picks_up_an_edited_component(ip, tmp_path, capsys):
    ip.run_cell(STEP.format(n=1))
    ip.run_cell(PIPELINE)
    old = ip.user_ns["p"]
    ip.run_cell(STEP.format(n=2))
    capsys.readouterr()
    ip.run_cell("%kfp list")
    assert re.search(r"pipeline p +components changed since defined: step", capsys.readouterr().out)
    ip.run_cell("%kfp compile")
    text = (tmp_path / "p.yaml").read_text(encoding="utf-8")
    assert "return x + 2" in text and "return x + 1" not in text
    assert ip.user_ns["p"] is not old
    capsys.readouterr()
    ip.run_cell("%kfp list")
    assert re.search(r"pipeline p +up to date", capsys.readouterr().out)


def test_the_python_api_compiles_the_edited_version_too(ip):
    ip.run_cell(STEP.format(n=1))
    ip.run_cell(PIPELINE)
    stale = ip.user_ns["p"]
    ip.run_cell(STEP.format(n=5))
    assert "return x + 5" in kfp_notebook.compile(stale)


def test_an_edit_that_breaks_the_pipeline_is_reported_at_the_pipeline_line(ip):
    import pytest
    from IPython.core.error import UsageError

    ip.run_cell(STEP.format(n=1))
    ip.run_cell(PIPELINE)
    ip.run_cell("%%component\ndef step(y: int) -> int:\n    return y\n")
    with pytest.raises(
        UsageError,
        match=r"line 3 of the cell: step\(x=step\(x=x\).output\)\nTypeError: step\(\) got an unexpected keyword argument",
    ):
        ip.run_cell("%kfp compile")


def test_unchanged_pipelines_are_not_rebuilt(ip):
    ip.run_cell(STEP.format(n=1))
    ip.run_cell(PIPELINE)
    before = ip.user_ns["p"]
    compiled(ip, "p")
    ip.run_cell("%kfp compile")
    assert ip.user_ns["p"] is before
