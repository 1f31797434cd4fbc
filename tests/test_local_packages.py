"""Package environments: built once from the kernel's interpreter plus the component's packages, cached, never in the kernel."""

from __future__ import annotations

import importlib.util
import socket

import pytest

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

from package_index import package_index

pytestmark = pytest.mark.slow


@pytest.fixture
def environments(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("KFP_NOTEBOOK_CACHE", str(folder))
    return folder


@pytest.mark.parametrize("installer", ["auto", "pip"])
def test_a_package_environment_is_built_once_and_reused(ip, tmp_path, environments, installer, monkeypatch):
    monkeypatch.setenv("KFP_NOTEBOOK_INSTALLER", installer)
    with package_index(tmp_path / "index", {"tinypkg": ("1.0", "VALUE = 42\n")}) as (url, requests):
        ip.run_cell(
            f"%%component --packages tinypkg==1.0 --pip-index-url {url}\ndef value() -> int:\n    import tinypkg\n    return tinypkg.VALUE\n"
        )
        ip.run_cell("%%pipeline\ndef packaged():\n    value()\n    value()\n")
        first = kfp_notebook.run(ip.user_ns["packaged"], runs_folder=tmp_path / "runs", cache=False)
        assert first.state is TaskState.SUCCEEDED, first.message
        assert [first.result()[t].output for t in ("value", "value-2")] == [42, 42]
        fetched = len(requests)
        second = kfp_notebook.run(ip.user_ns["packaged"], runs_folder=tmp_path / "runs", cache=False)
        assert second.state is TaskState.SUCCEEDED
        assert len(requests) == fetched
    assert len(list((environments / "envs").glob("*/.complete"))) == 1
    assert importlib.util.find_spec("tinypkg") is None


def test_an_unreachable_index_fails_the_run_naming_the_package_and_folder(ip, tmp_path, environments):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ip.run_cell(
        f"%%component --packages tinypkg==9.9 --pip-index-url http://127.0.0.1:{port}/simple\ndef value() -> int:\n    import tinypkg\n    return 1\n"
    )
    ip.run_cell("%%pipeline\ndef offline():\n    value()\n")
    handle = kfp_notebook.run(ip.user_ns["offline"], runs_folder=tmp_path / "runs")
    assert handle.state is TaskState.FAILED
    assert handle.tasks["value"].state is TaskState.FAILED
    message = handle.tasks["value"].message
    assert (
        "could not install tinypkg==9.9 for the local run (environment folder " + str(environments / "envs") in message
    )
