"""The one reader of a local task's log files (stdout.log, stderr.log in its folder): tails read from the end.

Showing the last lines of a log never reads the whole file: the file is read backwards in chunks until
enough lines are found (at most TAIL_BYTES_PER_LINE bytes per line asked for and TAIL_BYTES in all, so a
huge line shows its end). Counting a log's lines reads it a chunk at a time; following a log reads what
was added since, at most FOLLOW_BYTES per read. Lines end at "\\n", "\\r\\n" or a lone "\\r" (a progress
bar's redraws are lines), as `str.splitlines` reads them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

STREAMS = ("stdout", "stderr")
CHUNK = 1 << 16
#: A tail of N lines reads at most N times this from the end of the file, and never more than TAIL_BYTES.
TAIL_BYTES_PER_LINE = 1 << 16
TAIL_BYTES = 1 << 21
#: What one read of a followed log returns at most (the rest comes with the next reads).
FOLLOW_BYTES = 1 << 20


def log_path(folder: str | os.PathLike[str], stream: str) -> Path:
    return Path(folder) / f"{stream}.log"


def last_lines(path: str | os.PathLike[str], count: int) -> list[str]:
    """The last `count` lines of a text file (fewer when it has fewer); [] when it does not exist."""
    if count <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            data = _end_of(handle, count)
    except FileNotFoundError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-count:]


def _end_of(handle: BinaryIO, count: int) -> bytes:
    """The shortest end of the file that starts at a line's start and holds `count` lines (or the byte limit)."""
    size = handle.seek(0, os.SEEK_END)
    floor = size - min(size, count * TAIL_BYTES_PER_LINE, TAIL_BYTES)
    chunks: list[bytes] = []
    breaks, position = 0, size
    while position > floor and breaks <= count:  # one break more than lines: the one before the first line
        step = min(CHUNK, position - floor)
        position -= step
        handle.seek(position)
        chunk = handle.read(step)
        joined = chunk.endswith(b"\r") and bool(chunks) and chunks[0].startswith(b"\n")
        breaks += _breaks(chunk) - joined
        chunks.insert(0, chunk)
    data = b"".join(chunks)
    return data[_start_of_lines(_without_last_break(data), count) :] if position > 0 else data


def _breaks(data: bytes) -> int:
    """Line breaks in `data` ("\\r\\n" counts once)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _without_last_break(data: bytes) -> bytes:
    for ending in (b"\r\n", b"\n", b"\r"):
        if data.endswith(ending):
            return data[: -len(ending)]
    return data


def _start_of_lines(data: bytes, count: int) -> int:
    """Where the last `count` lines of `data` start (after the break before them; 0 without one)."""
    end, start = len(data), 0
    for _ in range(count):
        found = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
        if found < 0:
            return 0
        start = found + 1
        end = found - 1 if data[found : found + 1] == b"\n" and data[found - 1 : found] == b"\r" else found
    return start


def line_count(path: str | os.PathLike[str]) -> int:
    """How many lines the file has, counted a chunk at a time (0 when it does not exist)."""
    lines, last, pending_cr = 0, b"", False
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK * 16):
                if pending_cr and chunk.startswith(b"\n"):
                    lines -= 1  # a "\r\n" split across two chunks
                lines += _breaks(chunk)
                pending_cr, last = chunk.endswith(b"\r"), chunk[-1:]
    except FileNotFoundError:
        return 0
    return lines + (1 if last and last not in (b"\n", b"\r") else 0)


def read_log(path: str | os.PathLike[str], tail: int | None = None) -> list[str]:
    """The file's lines: all of them, or the last `tail` (read from the end)."""
    if tail:
        return last_lines(path, tail)
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def task_log(folder: str | None, tail: int | None = None) -> str:
    """A task's stdout then stderr, as far as it has written them (the last `tail` lines of each)."""
    if not folder:
        return ""
    parts = ["\n".join(read_log(log_path(folder, stream), tail)) for stream in STREAMS]
    return "\n".join(p for p in parts if p)


def read_added(path: str | os.PathLike[str], offset: int) -> tuple[str, int]:
    """Whole lines added to the file since `offset` (at most FOLLOW_BYTES of them), and the offset after them."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(FOLLOW_BYTES)
    except FileNotFoundError:
        return "", offset
    cut = data.rfind(b"\n") + 1  # whole lines only; the rest comes with the next read
    if cut == 0 and len(data) == FOLLOW_BYTES:  # one line longer than a read: shown in pieces
        cut = len(data)
    return data[:cut].decode("utf-8", errors="replace"), offset + cut


# -- the user's lines apart from kfp's executor's, told apart where they are written ------------------------

#: Where in each log the component's own function wrote: {"stdout": [start, end], "stderr": [...]}, byte
#: offsets written by the task's process right before and after kfp's executor calls the function (end is
#: null while it runs). Everything outside is the executor's (its arguments, the executor input's JSON, the
#: output file it wrote, a traceback), so no marker line is needed and no tail can cut one off.
USER_BOUNDS_FILE = "user_log.json"


def mark_user_function(folder: str | os.PathLike[str]) -> tuple[Callable[[], None], Callable[[], None]]:
    """In the task's process (its stdout and stderr are the two log files): the functions that record where
    the user's function starts and ends writing."""
    path = Path(folder) / USER_BOUNDS_FILE
    path.unlink(missing_ok=True)  # a retried attempt's logs start again
    starts: dict[str, int] = {}

    def before() -> None:
        starts.update(_positions())
        _write_bounds(path, {stream: [start, None] for stream, start in starts.items()})

    def after() -> None:
        ends = _positions()
        _write_bounds(path, {stream: [starts[stream], ends.get(stream)] for stream in starts})

    return before, after


def _positions() -> dict[str, int]:
    """How far stdout and stderr have been written (each stream flushed first); a stream that is no file is left out."""
    import sys

    positions = {}
    for stream, fd, handle in (("stdout", 1, sys.stdout), ("stderr", 2, sys.stderr)):
        with contextlib.suppress(Exception):
            handle.flush()
        with contextlib.suppress(OSError):
            positions[stream] = os.lseek(fd, 0, os.SEEK_CUR)
    return positions


def _write_bounds(path: Path, bounds: dict[str, list[int | None]]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with contextlib.suppress(OSError):
        partial.write_text(json.dumps(bounds), encoding="utf-8")
        os.replace(partial, path)


def user_bounds(folder: str | None) -> dict[str, tuple[int, int | None]] | None:
    """The byte ranges the user's function wrote in each log; None when the task never reached it (or wrote
    its logs before kfp-notebook recorded them)."""
    try:
        raw = json.loads((Path(folder or "") / USER_BOUNDS_FILE).read_text(encoding="utf-8"))
        return {stream: (int(raw[stream][0]), _int_or_none(raw[stream][1])) for stream in STREAMS if stream in raw}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def user_lines(folder: str | None, count: int) -> str | None:
    """The last `count` lines the user's function wrote to stdout, then to stderr; None without bounds."""
    bounds = user_bounds(folder) if folder else None
    if bounds is None:
        return None
    parts = [lines_between(log_path(folder or "", s), start, end, count) for s, (start, end) in bounds.items()]
    return "\n".join(line for part in parts for line in part)


def executor_lines(folder: str | None, count: int) -> str | None:
    """The rest of the logs: what kfp's executor wrote before the function (the last `count` lines of it) and
    after it (the output file, a traceback: the last `count`), stdout then stderr; None without bounds."""
    bounds = user_bounds(folder) if folder else None
    if bounds is None:
        return None
    lines: list[str] = []
    for stream, (start, end) in bounds.items():
        path = log_path(folder or "", stream)
        lines += lines_between(path, 0, start, count)
        lines += lines_between(path, end, None, count) if end is not None else []
    return "\n".join(lines)


def lines_between(path: str | os.PathLike[str], start: int, end: int | None, count: int) -> list[str]:
    """The last `count` lines of the bytes from `start` to `end` (the file's end when None), read from the end."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END) if end is None else end
            floor = max(start, end - min(count * TAIL_BYTES_PER_LINE, TAIL_BYTES))
            handle.seek(floor)
            data = handle.read(max(0, end - floor))
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if floor > start and lines:
        lines = lines[1:]  # the first line was cut by the byte limit
    return lines[-count:] if count > 0 else []
