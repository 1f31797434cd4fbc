"""The notebook's cells so far, read incrementally: their import statements and their sources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kfp_notebook.authoring.dependencies import ImportIndex, NotebookContext


class NotebookHistory:
    """Indexes each executed cell once; `context()` gives what components are resolved against."""

    def __init__(self, read_cells: Callable[[int], list[str]]):
        self._read_cells = read_cells
        self._seen = 0
        self.imports = ImportIndex()
        self.sources: list[str] = []

    def context(self, namespace: Mapping[str, Any], current: str) -> NotebookContext:
        """Bring the index up to date (including the cell running now) and return the context."""
        for source in self._read_cells(self._seen):
            self._seen += 1
            self.sources.append(source)
            self.imports.add_source(source)
        self.imports.add_source(current)
        return NotebookContext(namespace, self.imports, [*self.sources, current])
