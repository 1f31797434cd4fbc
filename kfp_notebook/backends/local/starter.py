"""A warm task starter: one process that has imported kfp's executor and forks a fresh child per task.

Starting Python and importing kfp's executor costs far more than a task's own work; a fork of a
process that already did costs a few milliseconds. The starter is that process. It never runs task
code itself, so every child starts from the same pristine state: nothing one task changes
(`sys.modules`, `os.environ`, builtins, module globals) reaches the next. Each child gets its own
process group (the starter is a session of its own, without a terminal), working directory,
stdout/stderr files and environment, exactly as a fresh `python -m ...task_main` would.

The kernel talks to the starter over a Unix socket: one connection per task, a JSON request, the
child's pid back, then its exit status when it ends. The starter watches its stdin (a pipe from the
kernel): when the kernel goes, the starter stops every task's process group and exits. Where fork
is unsafe or unavailable (not Linux/macOS) callers start fresh processes instead (`available()`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

TASK_MODULE = "kfp_notebook.backends.local.task_main"
#: Modules every task needs, imported once by the starter (children inherit them).
WARM_MODULES = ("kfp.dsl.executor_main", TASK_MODULE, "json", "typing")


def available() -> bool:
    """Fork-based starting: on POSIX systems with fork, unless `KFP_NOTEBOOK_STARTER=0`.

    Not on Windows (no fork) nor where `fork` is missing; tasks then start as fresh processes.
    """
    return hasattr(os, "fork") and sys.platform != "win32" and os.environ.get("KFP_NOTEBOOK_STARTER", "1") != "0"


class StarterError(RuntimeError):
    """The starter could not be started or answered something unexpected (callers fall back to a fresh process)."""


class ForkedTask:
    """A task process forked by the starter: its pid (= its process group) and, once it ended, its exit status."""

    def __init__(self, connection: socket.socket, replies: Any, pid: int):
        self._connection, self._replies, self.pid = connection, replies, pid
        self.returncode: int | None = None
        self._ended = threading.Event()
        threading.Thread(target=self._read_exit, name=f"kfp-task-{pid}", daemon=True).start()

    def _read_exit(self) -> None:
        try:
            line = self._replies.readline()
            self.returncode = int(json.loads(line)["exit"]) if line else -signal.SIGKILL
        except (OSError, ValueError, KeyError):  # the starter is gone: the task went with it
            self.returncode = -signal.SIGKILL
        finally:
            self._replies.close()
            self._connection.close()
            self._ended.set()

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal), as subprocess.Popen.wait gives it."""
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(TASK_MODULE, timeout or 0)
        return int(self.returncode if self.returncode is not None else -signal.SIGKILL)


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
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        replies = connection.makefile("rb")  # one line with the pid, one with the exit status (maybe in one read)
        try:
            connection.connect(self.address)
            request = {"arguments": arguments, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr}
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(replies.readline() or b"{}")
        except (OSError, ValueError) as exc:
            replies.close()
            connection.close()
            raise StarterError(f"the task starter did not answer: {exc}") from None
        if "pid" not in answer:
            replies.close()
            connection.close()
            raise StarterError(f"the task starter could not start the task: {answer.get('error')}")
        return ForkedTask(connection, replies, int(answer["pid"]))

    def _ensure_running(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self._folder = tempfile.mkdtemp(prefix="kfp-notebook-starter-")
            command = [sys.executable, "-m", "kfp_notebook.backends.local.starter", self.address]
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=self._pass_fds,
                start_new_session=True, env=self._env, cwd=self._folder,
            )  # fmt: skip
            assert process.stdout is not None
            if process.stdout.readline().strip() != b"ready":
                process.kill()
                raise StarterError("the task starter did not start")
            self._process = process

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


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise OSError("the task starter closed the connection")
        data += chunk
    return data


# -- the starter process --------------------------------------------------------------------------------

#: The signals the starter handles itself; a forked child starts with them blocked and resets them.
_STARTER_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


class _Server:
    """Accepts task requests, forks children, reports their exit; ends with the kernel."""

    def __init__(self, address: str):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(address)
        self.listener.listen(128)
        self.waiting: dict[int, socket.socket] = {}
        self.selector = selectors.DefaultSelector()
        self.wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self._shutdown())
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, "child")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "kernel")

    def serve(self) -> None:
        print("ready", flush=True)
        while True:
            for key, _ in self.selector.select():
                if key.data == "accept":
                    self._accept()
                elif key.data == "child":
                    os.read(self.wakeup_read, 4096)
                    self._reap()
                else:
                    if not os.read(sys.stdin.fileno(), 4096):
                        self._shutdown()

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        try:
            request = json.loads(_read_line(connection))
            pid = self._fork(request)
        except (OSError, ValueError) as exc:
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            connection.close()
            return
        self.waiting[pid] = connection
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        self._reap()

    def _fork(self, request: dict[str, Any]) -> int:
        """Fork the task's child; its process group exists before its pid is reported.

        The starter's signals stay blocked across the fork until the child has reset their handlers: a
        cancel's SIGTERM that reached a child still running the starter's own handler would stop every
        *other* task (`_shutdown`). Parent and child both set the child's group, so a cancel sent as soon as
        the pid is known never misses it.
        """
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STARTER_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child(request, previous)
            with contextlib.suppress(OSError):  # the child may have set it (or ended) already
                os.setpgid(pid, pid)
            return pid
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _reap(self) -> None:
        while self.waiting:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.waiting.pop(pid, None)
            if connection is not None:
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
                connection.close()

    def _child(self, request: dict[str, Any], signal_mask: set[int | signal.Signals]) -> None:
        """In the forked child: become the task (never returns)."""
        code = 1
        try:
            siblings, self.waiting = list(self.waiting.values()), {}
            _become_task(request, [self.listener, *siblings], [self.wakeup_read])
            signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)  # default actions from here on
            code = _run_task(request["arguments"])
        finally:
            os._exit(code)

    def _shutdown(self) -> None:
        """The kernel is gone (or asked us to stop): stop every task's process group, then exit."""
        for pid in list(self.waiting):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        os._exit(0)


def _become_task(request: dict[str, Any], sockets: list[socket.socket], fds: list[int]) -> None:
    """A fresh task's process state: own process group, cwd, stdio files, exactly its environment, default signals."""
    os.setpgid(0, 0)
    signal.set_wakeup_fd(-1)
    for sig in _STARTER_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    for sock in sockets:
        sock.close()
    for fd in fds:
        os.close(fd)
    os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for target, path in ((1, request["stdout"]), (2, request["stderr"])):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # as `python -m` started in the task's folder would have it
    import io

    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", write_through=True)


def _run_task(arguments: list[str]) -> int:
    """Run the task module's main as `python -m` would; its exit status."""
    import traceback

    from kfp_notebook.backends.local import task_main

    sys.argv = [TASK_MODULE, *arguments]
    try:
        task_main.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def main() -> None:
    import importlib

    for module in WARM_MODULES:
        importlib.import_module(module)
    gc.freeze()  # what is imported stays shared with the children: their collections do not touch (copy) it
    _Server(sys.argv[1]).serve()


if __name__ == "__main__":
    main()
