"""Small helpers for the tests: run cells in the testing shell, compare YAML with kfp's, wait for a condition."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

import kfp_notebook


def run_cells(ip: Any, *cells: str) -> None:
    for cell in cells:
        ip.run_cell(cell)


def compiled(ip: Any, name: str) -> str:
    """YAML of the pipeline or component bound to `name` in the shell, via kfp's compiler."""
    return kfp_notebook.compile(ip.user_ns[name])


def documents(text: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(text))


def fresh(ip: Any) -> None:
    """Empty the shell's namespace (between the magic version and the hand-written version)."""
    ip.reset(new_session=False)
    ip.run_cell("from kfp import dsl\nfrom kfp.dsl import *")


def same_as_handwritten(ip: Any, magic_cells: list[str], handwritten_cells: list[str], name: str) -> tuple[str, str]:
    """Compile `name` defined through the magics, then through hand-written kfp code; return both YAMLs."""
    run_cells(ip, *magic_cells)
    ours = compiled(ip, name)
    fresh(ip)
    run_cells(ip, *handwritten_cells)
    theirs = compiled(ip, name)
    return ours, theirs


def eventually(condition: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    """Poll `condition` until it returns something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {getattr(condition, '__name__', condition)}")
        time.sleep(every)


SVG = "{http://www.w3.org/2000/svg}"


class Tags(HTMLParser):
    """The start tags of an HTML fragment with their attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


LABEXTENSION = Path(__file__).resolve().parent.parent / "frontend"
#: Node: load the lab extension's TypeScript modules through its own compiler, call one exported function.
_CALL_TS = """
const ts = require(process.argv[1] + '/node_modules/typescript');
const fs = require('fs');
require.extensions['.ts'] = (module, filename) => module._compile(ts.transpileModule(fs.readFileSync(filename, 'utf8'),
  { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText, filename);
const [file, name, calls] = process.argv.slice(2);
const exported = require(file)[name];
process.stdout.write(JSON.stringify(JSON.parse(calls).map(args => exported(...args) ?? null)));
"""


def front_end_calls(module: str, function: str, calls: list[list[Any]]) -> list[Any]:
    """Call `function` exported by the panel's front end, frontend/src/MODULE.ts in Node once per argument list (JSON in and out).

    For the front end's pure functions (no DOM); one Node process for all the calls. Skipped without Node
    or the front end's node_modules.
    """
    if shutil.which("node") is None or not (LABEXTENSION / "node_modules" / "typescript").is_dir():
        pytest.skip("needs Node and the front end's node_modules (make frontend, or: cd frontend && npm ci)")
    source = str(LABEXTENSION / "src" / f"{module}.ts")
    command = ["node", "-e", _CALL_TS, str(LABEXTENSION), source, function, json.dumps(calls)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class _LazyModule:
    """A module imported on first use: importing nbformat costs ~3 s (jsonschema's format checkers build a grammar),
    which only the tests that write or read notebooks (all slow) should pay, not the fast layer's collection."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attribute)


nbformat: Any = _LazyModule("nbformat")


def new_notebook(**kwargs: Any) -> Any:
    return nbformat.v4.new_notebook(**kwargs)


def new_code_cell(source: str = "", **kwargs: Any) -> Any:
    return nbformat.v4.new_code_cell(source, **kwargs)
