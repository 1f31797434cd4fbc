"""`%kfp run/compile NAME` and the CLI's PIPELINE argument find plain `@dsl.pipeline` objects of the kernel too."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from kfp_notebook.headless import cli

from helpers import nbformat

pytestmark = pytest.mark.slow

PLAIN = """
from kfp import dsl, compiler

@dsl.component
def add(a: int, b: int) -> int:
    return a + b

@dsl.pipeline(name="adding-up")
def plain_sum(a: int = 1, b: int = 2):
    add(a=add(a=a, b=b).output, b=b)
"""


def test_kfp_run_runs_a_plain_component_on_its_own(ip, tmp_path):
    """kfp.local runs `add(a=1, b=2)`; `%kfp run add` does the same with a plain @dsl.component of the kernel."""
    ip.run_cell(PLAIN)
    handle = ip.run_line_magic("kfp", "run add --param a=2 --param b=3 --no-wait")
    assert handle.wait(120) and handle.state.value == "SUCCEEDED" and handle.result().output == 5
    with pytest.raises(UsageError, match=r"named 'ad'\. Did you mean 'add'.*components: add"):
        ip.run_line_magic("kfp", "run ad")


def test_kfp_run_and_compile_find_a_plain_pipeline_by_name(ip, tmp_path, capsys):
    ip.run_cell(PLAIN)
    ip.run_line_magic("kfp", "compile plain_sum -o ours.yaml")
    ip.run_cell(f"compiler.Compiler().compile(plain_sum, {str(tmp_path / 'kfp.yaml')!r})")
    assert (tmp_path / "ours.yaml").read_bytes() == (tmp_path / "kfp.yaml").read_bytes()
    handle = ip.run_line_magic("kfp", "run adding-up --param a=5 --no-wait")  # by its kfp name
    assert handle.wait(120) and handle.state.value == "SUCCEEDED" and handle.result()["add-2"].output == 9
    handle = ip.run_line_magic("kfp", "run --no-wait")  # the only pipeline of the kernel
    assert handle.wait(120) and handle.result()["add-2"].output == 5
    with pytest.raises(UsageError, match=r"named 'plain_sun'\. Did you mean 'plain_sum'.*pipelines: plain_sum"):
        ip.run_line_magic("kfp", "run plain_sun")


def test_a_percent_pipeline_stays_the_default_and_both_kinds_are_listed(ip):
    ip.run_cell(PLAIN)
    ip.run_cell("%%component\ndef one() -> int:\n    return 1\n")
    ip.run_cell("%%pipeline\ndef magic_one():\n    one()\n")
    registry = ip.magics_manager.registry["KfpMagics"].session.registry
    assert registry.pipeline().name == "magic_one" and registry.pipeline("plain_sum").pipeline.name == "adding-up"
    with pytest.raises(UsageError, match="Defined pipelines: magic_one, plain_sum"):
        ip.run_line_magic("kfp", "compile nothing")


def test_the_cli_finds_a_plain_pipeline(tmp_path, capsys):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext kfp_notebook"), nbformat.v4.new_code_cell(PLAIN)]
    nbformat.write(notebook, tmp_path / "plain.ipynb")
    code = cli.main(["compile", str(tmp_path / "plain.ipynb"), "plain_sum", "-o", str(tmp_path), "--json"])
    assert code == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["path"] == str(tmp_path / "plain_sum.yaml")
