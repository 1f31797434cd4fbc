"""Backends by name (backends/registry.py): built-in and third-party ones, their typed options, their capabilities."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

import pytest

from kfp_notebook.backends import registry
from kfp_notebook.backends.base import Backend, BackendOptions, Capabilities
from kfp_notebook.backends.kubeflow import KubeflowOptions
from kfp_notebook.backends.local import LocalOptions
from kfp_notebook.errors import OptionError
from kfp_notebook.session import Session
from kfp_notebook.tracking.handle import RunHandle


@dataclass(frozen=True)
class VertexOptions(BackendOptions):
    command: ClassVar[str] = "%kfp submit"

    region: str = "us-central1"


class VertexBackend(Backend):
    """A third-party backend that runs the same YAML elsewhere: here it only records what it was asked."""

    name = "vertex"
    capabilities = Capabilities(remote=True)
    options_type = VertexOptions

    def __init__(self) -> None:
        self.started: list[tuple[str, Any, VertexOptions]] = []

    def start(self, yaml_text: str, parameters: Any, options: Any = None) -> RunHandle:
        options = self.options(options)
        self.started.append((yaml_text, parameters, options))
        return RunHandle("vertex-run-1", "p", self.name, controls=None)  # type: ignore[arg-type]

    def runs(self, pipeline: str | None = None, count: int = 0) -> list:
        return []

    def task_log(self, run_id: str | None, task: str, tail: int | None = None) -> str:
        return ""

    def task_outputs(self, run_id: str | None, task: str) -> Any:
        raise NotImplementedError


@pytest.fixture
def vertex_installed(monkeypatch):
    """A package that declares `vertex = "vertex_backend:make"` in the kfp_notebook.backends entry-point group."""
    module = types.ModuleType("vertex_backend")
    module.OPTIONS = VertexOptions  # type: ignore[attr-defined]
    module.make = lambda settings, connected: connected or VertexBackend()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vertex_backend", module)
    entry = metadata.EntryPoint("vertex", "vertex_backend:make", registry.ENTRY_POINT_GROUP)
    real = metadata.entry_points

    def entry_points(**kwargs: Any) -> Any:
        return [entry] if kwargs.get("group") == registry.ENTRY_POINT_GROUP else real(**kwargs)

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    registry._targets.cache_clear()
    yield
    registry._targets.cache_clear()


def test_built_in_backends_are_found_by_name():
    assert registry.names()[:2] == ["local", "kubeflow"]
    assert Session().backend("local").name == "local"


def test_an_unknown_backend_is_refused_listing_the_known_ones():
    with pytest.raises(OptionError, match=r"unknown backend 'vertx' \(backends: local, kubeflow"):
        Session().backend("vertx")


def test_kubeflow_before_a_connection_says_how_to_connect():
    with pytest.raises(OptionError, match="not connected to Kubeflow: run `%kfp connect"):
        Session().backend("kubeflow")


def test_a_third_party_backend_registers_through_an_entry_point_and_runs_the_same_yaml(vertex_installed, ip):
    ip.run_cell("%%component\ndef add(a: int) -> int:\n    return a + 1\n")
    ip.run_cell("%%pipeline\ndef p(a: int = 1):\n    add(a=a)\n")
    p = ip.user_ns["p"]
    assert "vertex" in registry.names()
    session = Session()
    backend = session.backend("vertex")
    session.connect(backend)
    assert session.remote() is backend
    handle = session.start(p, {"a": 2}, "vertex", {"region": "europe-west4"})
    yaml_text, parameters, options = backend.started[0]
    assert handle.backend == "vertex" and parameters == {"a": 2}
    assert options == VertexOptions(region="europe-west4") and "pipelineInfo" in yaml_text
    with pytest.raises(OptionError, match=r"--workers does not apply to vertex runs: it applies to local runs"):
        session.start(p, {}, "vertex", {"workers": 2})


def test_options_belong_to_their_backend_and_a_foreign_one_says_where_it_applies():
    assert LocalOptions.from_values("local", {"workers": 2}) == LocalOptions(workers=2)
    with pytest.raises(
        OptionError, match=r"--experiment does not apply to local runs: it applies to kubeflow runs \(%kfp submit\)"
    ):
        LocalOptions.from_values("local", {"experiment": "x"})
    with pytest.raises(
        OptionError, match=r"--runs-folder does not apply to kubeflow runs: it applies to local runs \(%kfp run\)"
    ):
        KubeflowOptions.from_values("kubeflow", {"runs_folder": "/tmp/x"})
    assert KubeflowOptions.from_values("kubeflow", {"workers": None}) == KubeflowOptions(), "unset is not set"


def test_the_settings_give_the_defaults_each_backend_has(tmp_path):
    session = Session()
    session.settings.runs_dir, session.settings.workers = str(tmp_path), 3
    local = session.backend("local")
    defaults = session.settings.run_defaults()
    assert local.options({"cache": False}, defaults) == LocalOptions(workers=3, cache=False, runs_folder=str(tmp_path))


def test_callers_ask_for_an_ability_not_a_name(tmp_path):
    session = Session()
    session.settings.runs_dir = str(tmp_path)
    assert session._able("stops_foreign_runs").name == "local"
    assert session._able("reads_records").capabilities.reads_records
    with pytest.raises(OptionError):  # a backend without the ability says so instead of guessing
        Backend.stop_foreign(VertexBackend(), "some-run")
