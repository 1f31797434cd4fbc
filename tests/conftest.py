"""Shared fixtures: an IPython testing shell with kfp_notebook loaded, and a tidy working folder."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


class TestingShell(InteractiveShell):
    """An IPython shell whose run_cell re-raises what the cell raised (UsageError included)."""

    def run_cell(self, raw_cell, *args, store_history=True, **kwargs):
        result = super().run_cell(raw_cell, *args, store_history=store_history, **kwargs)
        result.raise_error()
        return result


@pytest.fixture(scope="session")
def _shell() -> TestingShell:
    return TestingShell.instance()


@pytest.fixture
def ip(_shell: TestingShell, tmp_path, monkeypatch):
    """A clean shell per test: empty namespace, fresh magics (fresh registry), cwd in tmp_path."""
    from kfp_notebook.magics import KfpMagics

    monkeypatch.chdir(tmp_path)
    _shell.reset(new_session=False)
    _shell.config.pop("KfpMagics", None)
    _shell.register_magics(KfpMagics(_shell))
    _shell.run_cell("from kfp import dsl\nfrom kfp.dsl import *")
    return _shell


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["KfpMagics"]
