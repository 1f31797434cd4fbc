"""A warm task starter: one process that has imported kfp's executor and forks a fresh child per task.

Starting Python and importing kfp's executor costs far more than a task's own work; a fork of a
process that already did costs a few milliseconds. The starter is that process. It never runs task
code itself, so every child starts from the same pristine state: nothing one task changes
(`sys.modules`, `os.environ`, builtins, module globals) reaches the next. Each child gets its own
process group (the starter is a session of its own, without a terminal), working directory,
stdout/stderr files and environment, exactly as a fresh `python -m ...task_main` would.

This module is the kernel's side; the starter's own process is `starter_process`. The kernel talks
to the starter over a Unix socket in a private folder: one connection per task, a JSON request, the
child's pid back, then its exit status when it ends. The starter watches its stdin (a pipe from the
kernel): when the kernel goes, the starter stops every task's process group, removes its folder and
exits; the kernel removes the folder too when it exits, whichever goes first. Where fork is unsafe or
unavailable (not Linux/macOS) callers start fresh processes instead (`available()`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TASK_MODULE = "kfp_notebook.backends.local.task_main"
STARTER_MODULE = "kfp_notebook.backends.local.starter_process"


def available() -> bool:
    """Fork-based starting: on POSIX systems with fork, unless `KFP_NOTEBOOK_STARTER=0`.

    Not on Windows (no fork) nor where `fork` is missing; tasks then start as fresh processes.
    """
    return hasattr(os, "fork") and sys.platform != "win32" and os.environ.get("KFP_NOTEBOOK_STARTER", "1") != "0"


class StarterError(RuntimeError):
    """The starter could not be started or answered something unexpected (callers fall back to a fresh process)."""


class ForkedTask:
    """A task process forked by the starter: its pid (= its process group) and, once it ended, its exit status.

    The exit status is the next line on the task's connection (from the task itself, or from the starter when
    the task died by a signal); whoever waits reads it, so no thread is kept per task.
    """

    def __init__(self, connection: socket.socket, received: bytes, pid: int):
        self._connection, self._received, self.pid = connection, received, pid
        self.returncode: int | None = None
        self._reading = threading.Lock()

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal), as subprocess.Popen.wait gives it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._reading.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise subprocess.TimeoutExpired(TASK_MODULE, timeout or 0)
        try:
            while self.returncode is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if b"\n" not in self._received and remaining is not None and remaining <= 0:
                    raise subprocess.TimeoutExpired(TASK_MODULE, timeout or 0)
                self._read(remaining)
            return self.returncode
        finally:
            self._reading.release()

    def _read(self, timeout: float | None) -> None:
        if b"\n" not in self._received:
            poller = select.poll()
            poller.register(self._connection, select.POLLIN)
            if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
                return
            try:
                chunk = self._connection.recv(4096)
            except OSError:
                chunk = b""
            self._received += chunk
            if chunk:
                return
        line = self._received.partition(b"\n")[0]
        try:
            self.returncode = int(json.loads(line)["exit"]) if line else -signal.SIGKILL
        except (ValueError, KeyError, TypeError):  # the starter is gone: the task went with it
            self.returncode = -signal.SIGKILL
        self._connection.close()


class TaskStarter:
    """The kernel's side of one starter process (started lazily, kept for the kernel's life)."""

    _shared: TaskStarter | None = None
    _shared_lock = threading.Lock()

    def __init__(self, pass_fds: tuple[int, ...] = (), env: dict[str, str] | None = None) -> None:
        self._pass_fds, self._env = pass_fds, env
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: str | None = None
        self._warming: threading.Thread | None = None
        self._owner = os.getpid()

    @classmethod
    def shared(cls, pass_fds: tuple[int, ...], env: dict[str, str]) -> TaskStarter:
        """This kernel process's starter (a forked kernel makes its own)."""
        with cls._shared_lock:
            if cls._shared is None or cls._shared._owner != os.getpid():
                cls._shared = cls(pass_fds, env)
            return cls._shared

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def ready(self) -> bool:
        """Started and answering: tasks can be forked from it now."""
        process = self._process
        return process is not None and process.poll() is None and self._warming is None

    def warm_up(self) -> None:
        """Start the starter in the background (tasks start fresh processes until it is ready)."""
        with self._lock:
            if self._warming is not None or (self._process is not None and self._process.poll() is None):
                return
            self._warming = threading.Thread(target=self._warm, name="kfp-starter-warm-up", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        try:
            self._ensure_running()
        except (OSError, StarterError):  # tasks go on starting fresh processes
            pass
        finally:
            self._warming = None

    @property
    def address(self) -> str:
        assert self._folder is not None
        return str(Path(self._folder) / "starter.sock")

    def spawn(self, arguments: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> ForkedTask:
        """Fork a child that runs the task module with `arguments`, in `cwd`, with exactly `env`."""
        self._ensure_running()
        request = json.dumps({"arguments": arguments, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr})
        for _ in range(3):  # a child that died before it answered never started the task: ask again
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(self.address)
                connection.sendall(request.encode() + b"\n")
                line, rest = read_line(connection).split(b"\n", 1)
                answer = json.loads(line)
            except (OSError, ValueError) as exc:
                answer = {"error": f"the task starter did not answer: {exc}"}
            if "pid" in answer:
                return ForkedTask(connection, rest, int(answer["pid"]))
            connection.close()
            if "exit" not in answer:
                break
        raise StarterError(f"the task starter could not start the task: {answer.get('error', answer)}")

    def _ensure_running(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            if self._folder is None:
                atexit.register(self._remove_folder)
            self._remove_folder()  # a starter that was killed left its folder (with a stale socket)
            self._folder = tempfile.mkdtemp(prefix="kfp-notebook-starter-")
            command = [sys.executable, "-m", STARTER_MODULE, self.address]
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=self._pass_fds,
                start_new_session=True, env=self._env, cwd=self._folder,
            )  # fmt: skip
            assert process.stdout is not None
            if process.stdout.readline().strip() != b"ready":
                process.kill()
                raise StarterError("the task starter did not start")
            self._process = process

    def _remove_folder(self) -> None:
        """The socket's private folder, when this kernel exits (the starter removes it too, on its way out)."""
        if self._folder is not None and self._owner == os.getpid():
            shutil.rmtree(self._folder, ignore_errors=True)

    def close(self) -> None:
        """Stop the starter (and with it any task it still runs)."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        self._remove_folder()  # the starter removes it on its way out, unless it was killed


def read_line(connection: socket.socket) -> bytes:
    """What the peer sent up to and including a newline (and whatever came with it after)."""
    data = b""
    while b"\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise OSError("the task starter closed the connection")
        data += chunk
    return data
