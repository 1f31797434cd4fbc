"""Starting a task's process: forked by the kernel's warm starter or fresh, each with its private temporary
folder, /dev/null as stdin, and its process group kept so that a cancel stops every task of a run."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from kfp_notebook.backends.local import starter, supervision, task_supervisor
from kfp_notebook.backends.local.task_environment import base_environment

#: Grace a cancel gives a task between SIGTERM and SIGKILL (its supervisor kills the tree sooner).
STOP_GRACE = 3.0


class TaskProcess(Protocol):
    """A running task: a fresh process (subprocess.Popen) or one forked by the warm starter."""

    pid: int

    def wait(self, timeout: float | None = None) -> int: ...


class ProcessGroups:
    """The process groups of running tasks, so that a cancel stops every one of them.

    A task is forked by the kernel's warm starter when it is ready and the task needs no package folder
    (its interpreter state would differ); otherwise it starts as a fresh process. Either way its first
    process is its supervisor (task_supervisor), which ends the task's whole tree with it.
    """

    def __init__(self, use_starter: bool = True) -> None:
        self._running: dict[int, TaskProcess] = {}
        self._temp: dict[int, str] = {}
        self._lock = threading.Lock()
        self.stopped = False
        self._starter = kernel_starter() if use_starter and starter.available() else None

    def start(self, command: list[str], cwd: Path, env: dict[str, str], logs: tuple[Path, Path], fresh: bool = False
              ) -> TaskProcess:  # fmt: skip
        """Start the task (`command` is `python -m task_main ARGS`); stdout and stderr go to the two log files.

        The task gets a private temporary folder as TMPDIR (unless its component sets TMPDIR), removed when
        it ends, as a container's /tmp.
        """
        with self._lock:
            if self.stopped:
                raise InterruptedError("the run was stopped")
            watch = supervision.KernelWatch.read_end()
            temp = tempfile.mkdtemp(prefix="kfp-notebook-task-")
            env = {"TMPDIR": temp, **env, supervision.WATCH_ENV: str(watch), task_supervisor.TEMP_ENV: temp}
            try:
                process = None if fresh else self._forked(command, cwd, env, logs)
                if process is None:
                    process = _fresh(command, cwd, env, logs, watch)
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
            self._running[process.pid] = process
            self._temp[process.pid] = temp
            return process

    def _forked(
        self, command: list[str], cwd: Path, env: dict[str, str], logs: tuple[Path, Path]
    ) -> TaskProcess | None:
        if self._starter is None:
            return None
        if not self._starter.ready:
            self._starter.warm_up()
            return None
        arguments = command[command.index(starter.TASK_MODULE) + 1 :]
        try:
            return self._starter.spawn(arguments, env, str(cwd), str(logs[0]), str(logs[1]))
        except starter.StarterError:  # the starter went away: this task starts fresh, the next warms a new one
            return None

    def finished(self, process: TaskProcess) -> None:
        """The task's supervisor ended: stop whatever is left in its process group, remove its temporary folder."""
        supervision.signal_group(process.pid, signal.SIGKILL)
        with self._lock:
            self._running.pop(process.pid, None)
            temp = self._temp.pop(process.pid, None)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    def stop_all(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every task's process group, then SIGKILL whatever is left after `grace` seconds."""
        with self._lock:
            self.stopped = True
            running = list(self._running.values())
        for process in running:
            supervision.signal_group(process.pid, signal.SIGTERM)
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
            supervision.signal_group(process.pid, signal.SIGKILL)


def _fresh(command: list[str], cwd: Path, env: dict[str, str], logs: tuple[Path, Path], watch: int) -> TaskProcess:
    """A new Python process for the task, in a session of its own, reading /dev/null as a forked task does."""
    with open(logs[0], "wb") as out, open(logs[1], "wb") as err:
        return subprocess.Popen(command, start_new_session=True, pass_fds=(watch,), env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)  # fmt: skip


def kernel_starter() -> starter.TaskStarter:
    """The kernel's warm starter: it holds the kernel's watch pipe and only the base environment (no secrets)."""
    return starter.TaskStarter.shared((supervision.KernelWatch.read_end(),), base_environment())
