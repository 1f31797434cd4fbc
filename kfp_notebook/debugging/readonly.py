"""Read-only copies of input artifacts in the kernel: mode bits, and an audit hook that also holds for root.

A debugged function gets a copy of what the producer wrote, never the run's own files. The copy's files are
made read-only, and Python code in the kernel is refused any write, truncation, rename or removal under a copy
(as a local task is refused them under its inputs), so a function that changes its input fails here as it
would in the run. The hook is added once per kernel and does nothing while no copy exists.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local.immutability import seal
from kfp_notebook.backends.local.task_main import written_under

_ROOTS: set[str] = set()  # the read-only copies handed out in this kernel
_HOOKED: list[bool] = []


def protect(path: Path) -> None:
    """Make the copy at `path` read-only, to its mode bits and to the kernel's Python code."""
    seal([str(path)])
    _ROOTS.add(os.path.abspath(path))
    if not _HOOKED:
        sys.addaudithook(_refuse_writes)
        _HOOKED.append(True)


def replace(folder: Path) -> None:
    """Remove an earlier folder of copies, so fresh ones take its place."""
    with _released(folder):
        if folder.exists():
            shutil.rmtree(folder)  # its files are read-only, its folders are not: it can be removed
    folder.mkdir(parents=True, exist_ok=True)


@contextmanager
def _released(folder: Path) -> Iterator[None]:
    root = os.path.abspath(folder)
    released = {r for r in _ROOTS if r == root or r.startswith(root + os.sep)}
    _ROOTS.difference_update(released)
    yield


def _refuse_writes(event: str, args: tuple[Any, ...]) -> None:
    if not _ROOTS:
        return
    path = written_under(event, args, _ROOTS)
    if path is not None:
        raise PermissionError(
            f"{path} is a read-only copy of an input artifact: the task received it read-only, so write "
            "changed data to an output artifact (Output[...]) instead"
        )
