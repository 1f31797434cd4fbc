"""A process's whole tree: become a child subreaper, list descendants (any session), kill them all.

On Linux a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`) becomes the parent of every orphan below it,
so a child that left its session (`setsid`, `start_new_session=True`) or a double-forked daemon stays in
the tree and is found through `/proc/PID/task/TID/children`. Elsewhere (macOS) there is neither:
`subreaper()` says False and a task's tree is its process group only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterable

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Kill rounds before giving up on a tree that keeps forking (each round kills what the last one found).
KILL_ROUNDS = 200


def subreaper() -> bool:
    """Make this process the parent of every orphan below it; whether that worked (Linux only)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    """Have this process killed when its parent ends (Linux); ends it now if the parent already did."""
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the C library this Python is linked with
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The live children of `pid` (of all its threads); [] where there is no /proc."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    if not os.path.exists(f"/proc/{pid}/task/{threads[0]}/children"):  # a kernel built without it
        return _children_by_parent(pid)
    for thread in threads:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/task/{thread}/children") as handle:
            found.extend(int(word) for word in handle.read().split())
    return [child for child in found if _running(child)]


def descendants(pid: int, skip: Iterable[int] = ()) -> list[int]:
    """Every live process below `pid`, parents before their children (subtrees rooted at `skip` left out)."""
    left_out, found, queue = set(skip), [], children(pid)
    while queue:
        child = queue.pop(0)
        if child in left_out or child in found:
            continue
        found.append(child)
        queue.extend(children(child))
    return found


def signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_descendants(
    pid: int | None = None, skip: Iterable[int] = (), reaping: bool = True, keep: Iterable[int] = ()
) -> None:
    """SIGKILL every process below `pid` (this one when None), round after round until none is left.

    A killed parent's children re-parent to the nearest subreaper (this process, when it is one) and are
    found in the next round; with `reaping`, this process collects its ended children (so no zombie of its
    own stays behind); a caller that waits for some children itself passes False. Processes in `keep` are
    spared (their children are not).
    """
    pid = os.getpid() if pid is None else pid
    spared = set(keep)
    for _ in range(KILL_ROUNDS):
        found = [child for child in descendants(pid, skip) if child not in spared]
        if not found:
            return
        signal_all(found, signal.SIGKILL)
        if reaping and pid == os.getpid():
            reap()
        time.sleep(0.005)


def reap() -> list[tuple[int, int]]:
    """Collect every ended child of this process without waiting: (pid, wait status) of each."""
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, status))


def _children_by_parent(pid: int) -> list[int]:
    """The live children of `pid`, found by reading every process's parent (slower: each process's stat)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 1 and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(name))
    return found


def running(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie has)."""
    return _running(pid)


def _running(pid: int) -> bool:
    """Not ended (a zombie waits only for its parent to collect it)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
