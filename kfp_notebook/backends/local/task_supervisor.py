"""A task's supervisor: the task's first process, which runs the task in a child and ends the task's whole tree.

The supervisor is the process the kernel starts (fresh, or forked by the warm starter) and records, waits
for and signals. It makes itself a child subreaper (Linux), forks the task and waits. When the task ends,
however it ends, the supervisor kills every process left below it (children in a session of their own and
double-forked daemons included: orphans re-parent to it) and removes the task's private temporary folder,
then exits as the task did. A SIGTERM (cancel, `%kfp stop`) reaches every process of the tree; what has
not ended TERM_GRACE seconds later is killed. When the kernel's pipe reaches end-of-file (the kernel is
gone), the tree is killed at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable

from kfp_notebook.backends.local import process_tree
from kfp_notebook.backends.local.supervision import WATCH_ENV

#: The task's private temporary folder (its TMPDIR), which the supervisor removes; the task never sees this name.
TEMP_ENV = "KFP_NOTEBOOK_TASK_TMP"
#: Seconds a stopped task gets between SIGTERM and SIGKILL (less than the kernel's own grace, so the
#: supervisor is never killed before it killed the tree).
TERM_GRACE = 1.0
_STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_HANDLED = (signal.SIGCHLD, *_STOPS)

#: In the task's process: the start message → the task to run (its state set up from the message).
Setup = Callable[[bytes], Callable[[], object]]
Report = Callable[[int], None]


class Supervisor:
    """A task's supervisor whose task process is forked already and waits for its start message.

    The warm starter's spares make theirs ahead of any request, so that starting a task forks nothing.
    Descriptors in `private` are the supervisor's alone (closed in the task's process).
    """

    def __init__(self, setup: Setup, private: tuple[int, ...] = ()) -> None:
        process_tree.subreaper()
        self.wakeup = _Wakeup()
        go_read, self.go = os.pipe()
        self.done, done_write = os.pipe()
        _flush()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)  # a stop during the fork reaches both
        self.pid = os.fork()
        if self.pid == 0:
            self.wakeup.leave((self.go, self.done, *private))
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            process_tree.die_with_parent()
            os._exit(_task_process(setup, go_read, done_write))
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os.close(go_read)
        os.close(done_write)

    def run(self, message: bytes, watch: int | None, temp: str | None, report: Report | None = None) -> int:
        """Start the task and end its whole tree with it; its exit code.

        `report` gets the exit code as soon as the task said it and its tree is dead, before its process's
        teardown. A task killed by a signal makes the supervisor end by the same signal (as the kernel expects
        from a process that was killed), after the cleanup.
        """
        if self.wakeup.stop_requested:  # it came before the task's process existed, so that process did not get it
            process_tree.signal_all([self.pid], signal.SIGTERM)
        with contextlib.suppress(BrokenPipeError):
            os.write(self.go, message)
        os.close(self.go)
        status = _Waiting(self, watch, temp, report).status()
        _end_tree(temp)
        if os.WIFSIGNALED(status):
            _end_by(os.WTERMSIG(status))
        return os.waitstatus_to_exitcode(status)


def supervise(task: Callable[[], object], watch: int | None, temp: str | None) -> int:
    """Run `task` in a child process and end its whole tree with it; the task's exit code."""
    return Supervisor(lambda _: task).run(b"start", watch, temp)


def _task_process(setup: Setup, go: int, done: int) -> int:
    """In the task's process: wait for the start message, run the task, say its exit code before exiting."""
    chunks = []
    while chunk := os.read(go, 1 << 16):
        chunks.append(chunk)
    os.close(go)
    if not chunks:  # the supervisor ended before a task came
        return 0
    task = setup(b"".join(chunks))
    os.environ.pop(TEMP_ENV, None)
    watch = os.environ.pop(WATCH_ENV, "")
    if watch.isdigit():  # the kernel's pipe is the supervisor's to watch
        with contextlib.suppress(OSError):
            os.close(int(watch))
    code = exit_code_of(task)
    with contextlib.suppress(OSError):
        os.write(done, b"%d\n" % code)
    return code


def exit_code_of(task: Callable[[], object]) -> int:
    """Call `task` as `python -m` would run a module's main: its exit code (a traceback printed for an error)."""
    try:
        task()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    _flush()
    return code


class _Wakeup:
    """A pipe that signals write to, so that one `select` waits for the task, a stop and the kernel at once."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe()
        for end in (self.read, self.write):
            os.set_blocking(end, False)
        self.stop_requested = False
        signal.set_wakeup_fd(self.write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in _STOPS:
            signal.signal(sig, self._stop)

    def _stop(self, *_: object) -> None:
        self.stop_requested = True

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read, 4096):
                pass

    def leave(self, private: tuple[int, ...]) -> None:
        """In the task's process: default signals, none of the supervisor's descriptors."""
        signal.set_wakeup_fd(-1)
        for sig in _HANDLED:
            signal.signal(sig, signal.SIG_DFL)
        for fd in (self.read, self.write, *private):
            with contextlib.suppress(OSError):
                os.close(fd)


class _Waiting:
    """The supervisor's wait for its task: a stop forwarded through the tree, the kernel's end, the task's end."""

    def __init__(self, supervisor: Supervisor, watch: int | None, temp: str | None, report: Report | None):
        self.pid, self.wakeup = supervisor.pid, supervisor.wakeup
        self.done: int | None = supervisor.done
        self.watch, self.temp, self.report = watch, temp, report
        self.kill_at: float | None = None

    def status(self) -> int:
        """The task's wait status."""
        while True:
            for pid, status in process_tree.reap():
                if pid == self.pid:
                    return status
            self._wait_for_news()
            if self.wakeup.stop_requested and self.kill_at is None:
                self._forward_stop()
            if self.kill_at is not None and time.monotonic() >= self.kill_at:
                process_tree.kill_descendants()

    def _wait_for_news(self) -> None:
        watched = [self.wakeup.read, *(fd for fd in (self.watch, self.done) if fd is not None)]
        timeout = None if self.kill_at is None else max(0.0, self.kill_at - time.monotonic())
        ready, _, _ = select.select(watched, [], [], timeout)
        if self.watch is not None and self.watch in ready and not _read_some(self.watch):
            _kernel_gone(self.temp)
        if self.done is not None and self.done in ready:
            self._task_said_its_end(self.done)
        self.wakeup.drain()

    def _task_said_its_end(self, done: int) -> None:
        """The task is exiting with the code it wrote: kill the rest of its tree, then report the code without
        waiting for the task's process teardown."""
        said, self.done = _read_some(done), None
        if self.report is None or not said.strip().lstrip(b"-").isdigit():
            return
        process_tree.kill_descendants(keep=(self.pid,), reaping=False)
        self.report(int(said))
        self.report = None

    def _forward_stop(self) -> None:
        """SIGTERM to every process of the tree outside the task's process group (which had it already)."""
        group = os.getpgid(0)
        outside = [pid for pid in process_tree.descendants(os.getpid()) if _group(pid) != group]
        process_tree.signal_all(outside, signal.SIGTERM)
        self.kill_at = time.monotonic() + TERM_GRACE


def _kernel_gone(temp: str | None) -> None:
    """The kernel ended: kill the whole tree now, clean up, and end as killed."""
    _end_tree(temp)
    _end_by(signal.SIGKILL)


def _end_tree(temp: str | None) -> None:
    process_tree.kill_descendants()
    if temp:
        shutil.rmtree(temp, ignore_errors=True)


def _end_by(sig: int) -> None:
    """End this process by `sig` (its default action), as the task ended."""
    _flush()
    signal.set_wakeup_fd(-1)
    if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # a signal whose default action is not to end the process


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 4096) or b""
    except BlockingIOError:
        return b"-"
    except OSError:
        return b""


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
