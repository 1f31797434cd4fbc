"""Artifacts are read-only once produced: sealed after their task, watched while a consumer runs.

The mechanism, measured in benchmarks/bench_artifacts.py: no copy and no link at all. A produced
artifact's files are made read-only (mode bits), a consumer's Python code is refused any write,
truncation, rename or removal under its input artifacts (an audit hook in task_main, which also
holds for root), and a consumer that changed its inputs anyway (a C library, a subprocess) is
found by comparing the files' sizes and modification times before and after it ran: the task fails
naming the artifact. A cache hit re-checks the content hashes recorded when the outputs were stored.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

Signature = list[tuple[str, int, int]]


def files_of(uri: str) -> list[Path]:
    """The files of an artifact: itself, or every file under its folder."""
    root = Path(uri)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def seal(uris: Iterable[str]) -> None:
    """Make every file of the artifacts read-only (folders stay removable, so runs can be deleted)."""
    for uri in uris:
        for file in files_of(uri):
            mode = file.stat().st_mode
            file.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def signature(uris: Iterable[str]) -> Signature:
    """Names, sizes and modification times of the artifacts' files: what a change to them changes."""
    found = []
    for uri in uris:
        for file in files_of(uri):
            info = file.stat()
            found.append((str(file), info.st_size, info.st_mtime_ns))
    found.extend((uri, -1, 0) for uri in uris if not os.path.exists(uri))
    return sorted(found)


def changed(before: Signature, after: Signature) -> list[str]:
    """The paths whose files were changed, added or removed between two signatures."""
    old, new = {p: (s, t) for p, s, t in before}, {p: (s, t) for p, s, t in after}
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
