"""A notebook's definitions executed in an IPython shell inside the command's own fresh process (no kernel).

`kfp-notebook compile` needs only what the notebook's cells define: starting a kernel (and importing kfp
a second time in it) costs more than the rest together. The cells run here as a kernel would run them:
the same shell machinery (magics, history, `__main__` namespace, IPython's tracebacks), in the notebook's
folder, with `kfp-skip` and action cells left out (`kernel.runnable`), each cell limited to `--timeout`
seconds. What they print goes to `echo`, as the kernel's streams do; rich displays are not rendered (the
kernel path does not show them either). `--kernel NAME` keeps the kernel path.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.headless.kernel import COMMAND, RESULT, NotebookCellError, runnable

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class CellTimeout(BaseException):
    """A cell ran longer than --timeout (a BaseException, so that no `except Exception` in the cell keeps it)."""


class _Echo(io.TextIOBase):
    """A text stream that passes everything written to `echo` and keeps it."""

    def __init__(self, echo: Callable[[str], None]):
        self.echo, self.kept = echo, io.StringIO()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.kept.write(text)
        self.echo(text)
        return len(text)


class InProcessNotebook:
    """A notebook read as JSON, its cells executed in this process's IPython shell, in the notebook's folder."""

    def __init__(self, path: Path, timeout: int, echo: Callable[[str], None]):
        self.path, self.timeout, self.echo = path, timeout, echo
        self.cells = _code_cells(path)
        self.shell: Any = None

    @staticmethod
    def possible() -> bool:
        """Whether this process has no IPython shell of its own yet (the command called from a notebook or a
        test runs the notebook in a kernel instead: its cells must not run in the caller's shell)."""
        from IPython.core.interactiveshell import InteractiveShell

        return not InteractiveShell.initialized()

    @contextmanager
    def started(self) -> Iterator[InProcessNotebook]:
        """The shell, in the notebook's folder (as the kernel's working folder), until the command is done."""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        before, path = os.getcwd(), list(sys.path)
        os.chdir(self.path.resolve().parent)
        sys.path.insert(0, "")  # as in a kernel: the working folder's modules are importable
        from kfp_notebook import kfp_compat

        kfp_compat.kfp_client_on_first_use()  # a notebook that never uses kfp.Client does not import it
        config = Config({
            "HistoryManager": {"hist_file": ":memory:"},  # the cells' own history, not the user's file
            "KfpMagics": {"panel": False},  # no panel to show: its DAG is not drawn (displays are dropped)
        })  # fmt: skip
        self.shell = InteractiveShell.instance(config=config, colors="NoColor")
        self.shell.display_pub.publish = lambda *args, **kwargs: None  # rich displays: the kernel path drops them
        try:
            yield self
        finally:
            InteractiveShell.clear_instance()
            os.chdir(before)
            sys.path[:] = path

    def define(self) -> None:
        """Execute the definition cells in order; the first failing cell ends it with NotebookCellError."""
        for index, cell in enumerate(self.cells):
            if runnable(cell):
                first = (cell.source.strip().splitlines() or [""])[0]
                self._execute(cell.source, f"cell {index + 1} ({first[:60]!r})", self.timeout)

    def act(self, code: str) -> dict[str, Any]:
        """Execute the command's own cell; return the JSON it reported."""
        printed = self._execute(code, COMMAND, None)
        found = [line for line in printed.splitlines() if line.startswith(RESULT)]
        if not found:
            raise KfpNotebookError("the notebook reported no result (did its code exit?)")
        return dict(json.loads(found[-1][len(RESULT) :]))

    def _execute(self, source: str, where: str, timeout: int | None) -> str:
        stream = _Echo(self.echo)
        with _time_limit(timeout), contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            result = self.shell.run_cell(source, store_history=True)
        error = result.error_in_exec or result.error_before_exec
        if isinstance(error, CellTimeout):
            raise NotebookCellError(where, "Timeout", f"ran longer than {timeout} s (--timeout)")
        if error is not None:
            raise NotebookCellError(where, type(error).__name__, str(error), self._traceback(error)) from None
        return stream.kept.getvalue()

    def _traceback(self, error: BaseException) -> str:
        """IPython's own traceback of the error, as the kernel shows it (without colours)."""
        lines = self.shell.InteractiveTB.structured_traceback(type(error), error, error.__traceback__)
        return _ANSI.sub("", "\n".join(lines))


class _Cell:
    def __init__(self, raw: dict[str, Any]):
        source = raw.get("source", "")
        self.source = "".join(source) if isinstance(source, list) else str(source)
        self.cell_type = raw.get("cell_type")
        self.metadata = raw.get("metadata") or {}

    def get(self, key: str, default: Any = None) -> Any:
        return {"metadata": self.metadata}.get(key, default)


def _code_cells(path: Path) -> list[_Cell]:
    """The notebook's cells (a version-4 notebook read as JSON; an older one through nbformat's conversion)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("nbformat") != 4:
        import nbformat

        document = json.loads(nbformat.writes(nbformat.read(path, as_version=4)))
    return [_Cell(cell) for cell in document.get("cells", [])]


@contextmanager
def _time_limit(seconds: int | None) -> Iterator[None]:
    """Raise CellTimeout in this (main) thread after `seconds` (no limit when None)."""
    if not seconds:
        yield
        return

    def expired(*_: object) -> None:
        raise CellTimeout()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
