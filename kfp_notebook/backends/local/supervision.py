"""Task processes die with their kernel, leave nothing behind, and are found again safely by pid + start time.

The kernel holds the write end of one pipe (`KernelWatch`); every task's supervisor (task_supervisor)
inherits only the read end and kills the task's whole tree when that pipe reaches end-of-file, which
happens when the kernel exits or is killed (even by SIGKILL). A run records its kernel and each task
process as {"pid", "started"} (the start time from /proc), so a later kernel tells a live process from
a new one that reuses its pid: runs of a kernel that is gone are LOST, and `%kfp stop` ends what is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

WATCH_ENV = "KFP_NOTEBOOK_KERNEL_WATCH"
PROCESS_FILE = "process.json"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None if it is not running
    (absent, or a zombie that no parent reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def identity(pid: int | None = None) -> dict[str, Any]:
    """{"pid", "started"} of a process (this one when None)."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "started": start_time(pid)}


def alive(found: dict[str, Any] | None) -> bool:
    """Whether the process recorded as `found` still runs (the same pid with the same start time)."""
    if not found or not isinstance(found.get("pid"), int):
        return False
    return found.get("started") is not None and start_time(found["pid"]) == found["started"]


class KernelWatch:
    """The pipe whose end-of-file tells task processes that their kernel is gone (one per kernel process)."""

    _lock = threading.Lock()
    _pipe: tuple[int, int] | None = None
    _owner = 0

    @classmethod
    def read_end(cls) -> int:
        with cls._lock:
            if cls._pipe is None or cls._owner != os.getpid():  # a forked kernel makes its own
                cls._pipe, cls._owner = os.pipe(), os.getpid()
            return cls._pipe[0]


def record_process(folder: Path, pid: int) -> None:
    """Keep the task process's identity in its folder, for a `%kfp stop` from this or another kernel."""
    (folder / PROCESS_FILE).write_text(json.dumps(identity(pid)), encoding="utf-8")


def stop_group(pid: int, grace: float = 2.0) -> None:
    """SIGTERM the process group `pid` leads, then SIGKILL whatever is left after `grace` seconds."""
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_exists(pid):
        time.sleep(0.05)
    signal_group(pid, signal.SIGKILL)


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def group_exists(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_leftovers(run_folder: Path) -> list[str]:
    """Stop the process group of every task of a run whose recorded process still runs; the tasks stopped."""
    stopped = []
    for path in sorted(run_folder.glob(f"tasks/*/{PROCESS_FILE}")):
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if alive(found):
            stop_group(found["pid"])
            stopped.append(path.parent.name)
    return stopped
