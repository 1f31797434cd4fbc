"""Small helpers for the tests: run cells in the testing shell, compare YAML with kfp's, wait for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

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
