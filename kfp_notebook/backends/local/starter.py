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
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TASK_MODULE = "kfp_notebook.backends.local.task_main"
#: Modules every task needs, imported once by the starter (children inherit them).
WARM_MODULES = ("kfp.dsl.executor_main", TASK_MODULE, "kfp_notebook.backends.local.supervision", "json", "typing")


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
                line, rest = _read_line(connection).split(b"\n", 1)
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
        if self._folder is not None:  # the starter removes it on its way out, unless it was killed
            shutil.rmtree(self._folder, ignore_errors=True)


def _read_line(connection: socket.socket) -> bytes:
    """What the peer sent up to and including a newline (and whatever came with it after)."""
    data = b""
    while b"\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise OSError("the task starter closed the connection")
        data += chunk
    return data


# -- the starter process --------------------------------------------------------------------------------

#: The signals the starter handles itself; a forked child starts with them blocked and resets them.
_STARTER_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


#: Children forked ahead of requests, so that a task's start waits for no fork (two cover workers = CPUs here).
SPARES = 2


class _Spare:
    """A child forked ahead of a request: pristine, in its own process group, waiting on `control`."""

    def __init__(self, pid: int, control: socket.socket):
        self.pid, self.control = pid, control


class _Server:
    """Accepts task requests, hands each to a spare child, reports deaths by signal; ends with the kernel.

    A task reports its own exit status to the kernel (it holds the request's connection) just before it
    exits, so the kernel does not wait for the process's teardown; the starter reports the status of a
    task that died without saying so (killed by a signal) once it reaps it.
    """

    def __init__(self, address: str):
        self.address = address
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(address)
        self.listener.listen(128)
        self.running: dict[int, socket.socket] = {}  # task pid → the kernel's connection for it
        self.spares: list[_Spare] = []
        self.refill_at = 0.0  # when forking a spare may be tried again
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
            wanted = len(self.spares) < SPARES
            events = self.selector.select(max(0.0, self.refill_at - time.monotonic()) if wanted else None)
            if not events and wanted:  # nothing waits: fork a spare now rather than when a task asks for one
                self._refill_one()
            for key, _ in events:
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
            request = _read_line(connection)
            pid = self._hand_over(request, connection)
        except OSError as exc:
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            connection.close()
            return
        self.running[pid] = connection
        self._reap()

    def _hand_over(self, request: bytes, connection: socket.socket) -> int:
        """Give the request and the kernel's connection to a live spare (forked now if none is left); its pid.

        The child itself answers the kernel with its pid, then with its exit status: a spare that died idle
        is skipped here, and one that dies before answering never ran the task (the kernel starts it afresh).
        """
        for _ in range(SPARES + 1):  # each spare, then one forked now
            spare = self.spares.pop(0) if self.spares else self._fork_spare()
            try:
                socket.send_fds(spare.control, [request], [connection.fileno()])
                return spare.pid
            except OSError:  # it died idle (killed from outside): reaped as a spare, never as a task
                continue
            finally:
                spare.control.close()
        raise OSError("no child of the task starter took the task")

    def _refill_one(self) -> None:
        try:
            self.spares.append(self._fork_spare())
        except OSError:  # out of processes now: requests fork on demand (or fail, and the kernel starts fresh)
            self.refill_at = time.monotonic() + 0.1

    def _fork_spare(self) -> _Spare:
        """Fork a spare child; its process group exists before its pid is ever reported.

        The starter's signals stay blocked across the fork until the child has reset their handlers: a
        cancel's SIGTERM that reached a child still running the starter's own handler would stop every
        *other* task (`_shutdown`). Parent and child both set the child's group, so a cancel sent as soon as
        the pid is known never misses it.
        """
        ours, theirs = socket.socketpair()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STARTER_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._spare(theirs, ours, previous)
            with contextlib.suppress(OSError):  # the child may have set it (or ended) already
                os.setpgid(pid, pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            theirs.close()
        return _Spare(pid, ours)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.running.pop(pid, None)
            if connection is not None:  # after the task's own report the kernel reads no further
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                connection.close()
            for spare in [s for s in self.spares if s.pid == pid]:  # a spare killed while idle
                spare.control.close()
                self.spares.remove(spare)

    def _spare(self, control: socket.socket, ours: socket.socket, signal_mask: set[int | signal.Signals]) -> None:
        """In the forked child: wait for a request, become that task, report its exit (never returns)."""
        code = 0
        try:
            others = [self.listener, ours, *self.running.values(), *(s.control for s in self.spares)]
            self.running, self.spares = {}, []
            _leave_starter(others, [self.wakeup_read], signal_mask)
            received = _receive(control)
            if received is None:  # the starter is gone before a task came
                return
            request, connection = received
            code = 1
            connection.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
            _become_task(request)
            code = _run_task(request["arguments"])
            with contextlib.suppress(OSError):  # the kernel may have stopped listening (cancel, exit)
                connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
        finally:
            os._exit(code)

    def _shutdown(self) -> None:
        """The kernel is gone (or asked us to stop): stop every task's process group, then exit (spares follow)."""
        for pid in list(self.running):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):  # the socket's private folder goes with it
            os.unlink(self.address)
            os.rmdir(os.path.dirname(self.address))
        os._exit(0)


def _leave_starter(sockets: list[socket.socket], fds: list[int], signal_mask: set[int | signal.Signals]) -> None:
    """A spare's own state: own process group, default signals, none of the starter's sockets."""
    os.setpgid(0, 0)
    signal.set_wakeup_fd(-1)
    for sig in _STARTER_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)  # default actions from here on
    for sock in sockets:
        sock.close()
    for fd in fds:
        os.close(fd)


def _receive(control: socket.socket) -> tuple[dict[str, Any], socket.socket] | None:
    """The request and the kernel's connection for it, or None when the starter closed `control`."""
    data, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
    if not fds:
        return None
    while not data.endswith(b"\n"):
        chunk = control.recv(1 << 20)
        if not chunk:
            return None
        data += chunk
    control.close()
    return json.loads(data), socket.socket(fileno=fds[0])


def _become_task(request: dict[str, Any]) -> None:
    """A fresh task's process state: cwd, stdio files, exactly its environment."""
    os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for target, path in ((1, request["stdout"]), (2, request["stderr"])):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # as `python -m` started in the task's folder would have it
    sys.dont_write_bytecode = True  # as `python -B`, which fresh task processes get
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


def _fill_caches() -> None:
    """Compile once the regular expressions every task's argument parsing compiles (kfp's executor_main uses
    argparse): `re`'s cache is all this leaves, and nothing a task can tell from a fresh interpreter."""
    import argparse

    parser = argparse.ArgumentParser(prog="warm-up")
    parser.add_argument("--flag", type=str)
    parser.parse_known_args(["--flag", "value"])


def main() -> None:
    import importlib

    for module in WARM_MODULES:
        importlib.import_module(module)
    _fill_caches()
    gc.freeze()  # what is imported stays shared with the children: their collections do not touch (copy) it
    _Server(sys.argv[1]).serve()


if __name__ == "__main__":
    main()
