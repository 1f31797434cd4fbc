"""Processes a debugged call started and left running end when it returns, as they end with the task's pod."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator

from kfp_notebook.backends.local import process_tree

#: Seconds the processes a call left running get to end after SIGTERM, before SIGKILL.
GRACE = 1.0
#: Command lines of the local backend's own processes (a run going on beside the call starts them): never ended.
OURS = b"kfp_notebook.backends.local"


@contextlib.contextmanager
def ended_when_done() -> Iterator[None]:
    """Around the call: the processes below the kernel it started (also in sessions of their own) are stopped when
    it returns or raises, and said on stderr. Linux only (elsewhere nothing lists them); a double-forked daemon,
    adopted by init, is out of reach."""
    before = set(process_tree.descendants(os.getpid()))
    try:
        yield
    finally:
        started = process_tree.descendants(os.getpid(), skip=before)
        ours = {pid for pid in started if _ours(pid)}  # with their whole trees (a run's tasks and their children)
        left = process_tree.descendants(os.getpid(), skip=before | ours) if ours else started
        if left:
            shown = ", ".join(f"{pid} ({_command(pid)})" for pid in left)
            _stop(left)
            print(f"ended the processes the call left running, as the end of its task's pod would: {shown}",
                  file=sys.stderr)  # fmt: skip


def _stop(pids: list[int]) -> None:
    process_tree.signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.02)
    process_tree.signal_all([pid for pid in pids if _alive(pid)], signal.SIGKILL)
    for pid in pids:  # the kernel's own children: collected, so no zombie stays (others are their parents')
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return process_tree.running(pid)


def _ours(pid: int) -> bool:
    return OURS in _cmdline(pid)


def _command(pid: int) -> str:
    words = _cmdline(pid).split(b"\0")
    text = " ".join(word.decode(errors="replace") for word in words if word)
    return text if len(text) <= 80 else text[:79] + "…"


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""
