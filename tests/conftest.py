"""Shared fixtures: an IPython testing shell with kfp_notebook loaded, and a tidy working folder."""

from __future__ import annotations

import gc
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell

# nbformat imports jsonschema, which builds rfc3987_syntax's grammar (~3 s here) only to check the "iri" string format;
# no test validates one, so the test process does without it (as `kfp-notebook compile` does, headless/kernel.py).
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


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
    _shell.reset(new_session=False)  # its full gc.collect scans only what earlier tests left unfrozen (see below)
    _shell.config.pop("KfpMagics", None)
    _shell.register_magics(KfpMagics(_shell))
    _shell.run_cell("from kfp import dsl\nfrom kfp.dsl import *")
    # Move what lives now (kfp, IPython, session fixtures: ~300k objects) out of the cyclic collector's
    # reach: the next reset's gc.collect then takes milliseconds instead of ~0.2 s. Reference counting
    # still frees everything; only cycles among these survivors are kept.
    gc.freeze()
    return _shell


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["KfpMagics"]


class MlmdServer:
    """The real ML Metadata store of tests/mlmd_server.py, running in .venv-mlmd."""

    def __init__(self, url: str):
        self.url = url

    def seed(self, run_id: str, tasks: dict, artifacts: dict | None = None, parameters: dict | None = None,
             states: dict | None = None, inputs: dict | None = None) -> None:  # fmt: skip
        import json
        import urllib.request

        document = {"run_id": run_id, "tasks": tasks, "artifacts": artifacts or {}, "parameters": parameters or {}}
        document.update({"states": states or {}, "inputs": inputs or {}})
        body = json.dumps(document).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{self.url}/seed", data=body), timeout=10) as response:
            assert response.status == 200


@pytest.fixture(scope="session")
def mlmd():
    """A real MLMD store over grpc-web on 127.0.0.1 (skipped without .venv-mlmd, which `make test` creates)."""
    import subprocess
    from pathlib import Path

    python = Path(__file__).resolve().parent.parent / ".venv-mlmd" / "bin" / "python"
    if not python.exists():
        pytest.skip(
            "no .venv-mlmd with ml-metadata 1.17.1: `make test` creates it (python3 -m venv .venv-mlmd && .venv-mlmd/bin/pip install ml-metadata==1.17.1)"
        )
    server = subprocess.Popen(
        [str(python), str(Path(__file__).parent / "mlmd_server.py")], stdout=subprocess.PIPE, text=True
    )
    port = server.stdout.readline().strip()
    if not port.isdigit():
        server.kill()
        pytest.fail("the MLMD server did not start")
    yield MlmdServer(f"http://127.0.0.1:{port}")
    server.terminate()
    server.wait(10)
