"""The notebook's cells so far, read incrementally: their Python sources, oldest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kfp_notebook.authoring.dependencies import NotebookContext


class NotebookHistory:
    """Collects each executed cell once; `context()` gives what components are resolved against."""

    def __init__(self, read_cells: Callable[[int], list[str]]):
        self._read_cells = read_cells
        self._seen = 0
        self.sources: list[str] = []

    def context(self, namespace: Mapping[str, Any], current: str = "") -> NotebookContext:
        """Bring the sources up to date (and add the cell running now, if given) and return the context."""
        for source in self._read_cells(self._seen):
            self._seen += 1
            self.sources.append(source)
        history = [*self.sources, current] if current else list(self.sources)
        return NotebookContext(namespace, history, later=lambda: self.context(namespace))
