"""No password, token or session cookie reaches a notebook output, a log, a written file or a YAML."""

from __future__ import annotations

import pytest

from kfp_notebook.headless.notebooks import run_notebook

from helpers import nbformat, new_code_cell, new_notebook
from kfp_contract_server import contract_server

pytestmark = pytest.mark.slow

PASSWORD, TOKEN = "pa55-W0RD-xyz", "t0ken-abc-123"


def test_logging_in_and_submitting_leaves_no_secret_anywhere(tmp_path, monkeypatch):
    with contract_server() as (host, state), contract_server() as (plain_host, plain_state):
        state.dex_users["user@example.com"] = PASSWORD
        monkeypatch.setenv("KFP_NOTEBOOK_PASSWORD", PASSWORD)
        monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", TOKEN)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        cells = [
            "%load_ext kfp_notebook",
            "%%component --secret db:password=DB_PASSWORD\ndef step(x: int) -> int:\n    return x",
            "%%pipeline\ndef p(x: int = 1):\n    step(x=x)",
            f"%kfp connect --host {host}/pipeline --auth dex --user user@example.com",
            "%kfp submit --param x=2",
            f"%kfp connect --host {plain_host} --auth token",
            "%kfp submit",
            "%kfp compile",
        ]
        notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, tmp_path / "secrets.ipynb")
        run = run_notebook(tmp_path / "secrets.ipynb", tmp_path / "run")
        assert run.errors() == []
        cookies = list(state.sessions)
    assert cookies and len(state.runs) == 1 and len(plain_state.runs) == 1
    secrets = [PASSWORD, TOKEN, *cookies]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "ipynb_checkpoints" not in str(p)]
    assert any(p.name == "connection.json" for p in files) and any(p.suffix == ".yaml" for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for secret in secrets:
            assert secret not in text, f"a secret reached {path}"
