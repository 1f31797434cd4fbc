"""Editing a component cell and compiling again uses the new definition without re-running the pipeline cell."""

from __future__ import annotations

import re

import pytest

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


# -- an unchanged pipeline is not compiled again -----------------------------------------------------------

HELPER = "def h(x):\n    return x + 1\n"
CARRYING = "%%component\ndef f(x: int) -> int:\n    return h(x)\n"
CARRIER = "%%pipeline\ndef q(x: int = 1):\n    f(x=x)\n"


def compiler_calls(monkeypatch) -> list[str]:
    """Every call of kfp's Compiler.compile from now on (the pipeline's name each time)."""
    from kfp import compiler

    calls: list[str] = []
    real = compiler.Compiler.compile

    def counted(self, pipeline_func, package_path, *args, **kwargs):
        calls.append(pipeline_func.name)
        return real(self, pipeline_func, package_path, *args, **kwargs)

    monkeypatch.setattr(compiler.Compiler, "compile", counted)
    return calls


def test_compiling_an_unchanged_pipeline_again_reuses_its_yaml_byte_for_byte(ip, tmp_path, monkeypatch):
    ip.run_cell(HELPER)
    ip.run_cell(CARRYING)
    ip.run_cell(CARRIER)
    calls = compiler_calls(monkeypatch)
    ip.run_cell(f"%kfp compile q -o {tmp_path / 'first.yaml'}")
    after_first = len(calls)
    ip.run_cell(f"%kfp compile q -o {tmp_path / 'second.yaml'}")
    assert len(calls) == after_first <= 1, calls
    assert (tmp_path / "first.yaml").read_bytes() == (tmp_path / "second.yaml").read_bytes()
    ip.run_cell("def h(x):\n    return x + 100\n")  # a helper it carries changed: compiled again, with it
    ip.run_cell(f"%kfp compile q -o {tmp_path / 'edited.yaml'}")
    assert len(calls) == after_first + 1, calls
    assert "return x + 100" in (tmp_path / "edited.yaml").read_text(encoding="utf-8")


def test_a_changed_option_or_constant_is_a_changed_pipeline(ip, monkeypatch):
    ip.run_cell("%%component\ndef g(x: int) -> int:\n    return x\n")
    ip.run_cell("%%pipeline\ndef r(x: int = 1):\n    g(x=x)\n")
    calls = compiler_calls(monkeypatch)
    first = kfp_notebook.compile(ip.user_ns["r"])
    ip.run_cell("%%pipeline\ndef r(x: int = 1):\n    g(x=x).set_caching_options(False)\n")
    second = kfp_notebook.compile(ip.user_ns["r"])
    assert first != second and len(calls) == 2, calls


@pytest.mark.slow
def test_a_second_run_of_an_unchanged_pipeline_is_not_compiled_and_an_edited_helper_is(ip, monkeypatch):
    ip.run_cell(HELPER)
    ip.run_cell(CARRYING)
    ip.run_cell(CARRIER)
    calls = compiler_calls(monkeypatch)
    ip.run_cell("%kfp run q")
    compiled_for_the_first = len(calls)
    ip.run_cell("%kfp run q")
    assert len(calls) == compiled_for_the_first, calls
    ip.run_cell("def h(x):\n    return x + 700\n")  # (no other test compiles this: nothing cached has it)
    ip.run_cell("%kfp run q")
    assert len(calls) == compiled_for_the_first + 1, calls
    session = ip.magics_manager.registry["KfpMagics"].session
    latest = session.recorded_run(None)  # the run after the edit used the edited helper
    assert latest.state == "SUCCEEDED" and latest["f"].output == 701
