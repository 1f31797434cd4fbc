"""A failed task's traceback in the user's terms: from their first frame on, each frame mapped to its notebook cell.

kfp runs a component from its own copy of the code (`ephemeral_component.py`: kfp's imports, the helpers
carried from the notebook, then the function, with the lines kfp-notebook inserted, such as v1 metrics). A
frame in that file becomes `In [7], line 12, in boom`: the cell that defines the function, and the line
there, found by aligning the copy's lines with the cell's (so inserted or rewritten lines shift nothing).
The panel's details pane and the text views (`%kfp run`, `%kfp status`) show the same text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

HEADER = "Traceback (most recent call last):"
USER_FRAME = re.compile(r'^\s*File "([^"]*ephemeral_component\.py)", line (\d+), in (\w+)')
#: Where a function is defined in the notebook: ('In [7]', the cell's lines, the line of its `def` there).
CellOf = Callable[[str], "tuple[str, list[str], int] | None"]


def user_traceback(message: str, cell_of: CellOf | None = None) -> str:
    """The traceback from the user's first frame on, frames in the component's file mapped to notebook cells, each
    exception of a chain (`raise ... from`, an exception while handling another) trimmed so; the message as it is
    when it has no such frame."""
    cell_of = cell_of or defining_cell
    lines = message.splitlines()
    if not any(USER_FRAME.match(line) for line in lines):
        return message
    trimmed: list[str] = []
    for traceback in _chain(lines):
        trimmed += _from_user_frames(traceback, cell_of)
    return "\n".join(trimmed)


def _chain(lines: list[str]) -> list[list[str]]:
    """The tracebacks of a chain, each from its header to the next (a chain's sentence ends the one before it);
    what comes before the first header is left out. Lines without a header are one traceback."""
    starts = [i for i, line in enumerate(lines) if line == HEADER]
    if not starts:
        return [lines]
    return [lines[start:end] for start, end in zip(starts, [*starts[1:], len(lines)], strict=True)]


def _from_user_frames(traceback: list[str], cell_of: CellOf) -> list[str]:
    """One traceback from the user's first frame on (as it is when it has none), frames mapped to cells."""
    start = next((i for i, line in enumerate(traceback) if USER_FRAME.match(line)), None)
    if start is None:
        return traceback
    shown = [HEADER]
    for line in traceback[start:]:
        match = USER_FRAME.match(line)
        shown.append(_cell_frame(match, cell_of) if match else line)
    return shown


def failure_text(message: str, cell_of: CellOf | None = None) -> str:
    """A failed task's message for a cell: what happened (`exited with code 1`), then the user's traceback."""
    trimmed = user_traceback(message, cell_of)
    if trimmed == message:
        return message
    head = message.split("\n", 1)[0].removesuffix(":").removesuffix("; end of its stderr")
    return f"{head}\n{trimmed}"


def _cell_frame(match: re.Match[str], cell_of: CellOf) -> str:
    """'  In [7], line 12, in boom' for a frame in kfp's copy of the component (its file as written): the newest cell
    defining the function whose line there reads as the copy's (a cell redefined since the run does not take the
    frame of the code that ran), else the newest one defining it."""
    line, function = int(match.group(2)), match.group(3)
    copied = _read_lines(match.group(1))
    copied_def = first_def(copied, function) if copied is not None else None
    if copied is None or copied_def is None:
        return match.group(0)
    found = None
    for cell, cell_lines, cell_def in _candidates(cell_of, function):
        mapped = cell_line(copied, copied_def, cell_lines, cell_def, line)
        found = found or (cell, mapped)
        if _reads_the_same(copied, line, cell_lines, mapped):
            found = (cell, mapped)
            break
    return f"  {found[0]}, line {found[1]}, in {function}" if found else match.group(0)


def _candidates(cell_of: CellOf, function: str) -> Iterator[tuple[str, list[str], int]]:
    """The cells that define the function, newest first (the default reads the kernel's history)."""
    if cell_of is defining_cell:
        yield from defining_cells(function)
        return
    where = cell_of(function)
    if where is not None:
        yield where


def _reads_the_same(copied: list[str], line: int, cell: list[str], mapped: int) -> bool:
    return 0 < line <= len(copied) and 0 < mapped <= len(cell) and copied[line - 1].strip() == cell[mapped - 1].strip()


def cell_line(copied: list[str], copied_def: int, cell: list[str], cell_def: int, line: int) -> int:
    """The cell's line for line `line` of the copy: the copy from its `def` aligned with the cell from its `def`
    (a line the copy inserted stands for the cell line it was inserted before)."""
    ours, theirs = copied[copied_def - 1 :], cell[cell_def - 1 :]
    wanted = line - copied_def
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= wanted < i2:
            offset = min(wanted - i1, max(j2 - j1 - 1, 0)) if tag != "insert" else 0
            return cell_def + j1 + offset
    return cell_def + wanted


def _read_lines(path: str) -> list[str] | None:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None


def first_def(lines: list[str], function: str) -> int | None:
    """The line number of the first `def function(` in the lines (at any indentation), or None."""
    pattern = re.compile(rf"\s*(async\s+)?def {re.escape(function)}\(")
    return next((number for number, line in enumerate(lines, 1) if pattern.match(line)), None)


def defining_cell(function: str) -> tuple[str, list[str], int] | None:
    """The latest cell of the kernel's history that defines the function (a `%%component` cell, or any cell for a
    helper it carries): ('In [7]', its lines, the line of the `def`)."""
    return next(defining_cells(function), None)


def defining_cells(function: str) -> Iterator[tuple[str, list[str], int]]:
    """Every cell of the kernel's history that defines the function, newest first."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    manager = getattr(get_ipython(), "history_manager", None)
    history = list(getattr(manager, "input_hist_raw", []))
    for count in range(len(history) - 1, 0, -1):
        cell = history[count].splitlines()
        line = first_def(cell, function)
        if line is not None:
            yield f"In [{count}]", cell, line
