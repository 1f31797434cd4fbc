"""The warm starter's own process: it has imported kfp's executor, forks spare children and hands each a task.

Started by the kernel (`starter.TaskStarter`) as `python -m kfp_notebook.backends.local.starter_process
SOCKET`. It never runs task code itself: a spare child, forked before any request came, takes one request,
becomes that task (working directory, stdio, environment) and reports its exit status to the kernel. The
starter ends when the kernel does (its stdin reaches end-of-file), stopping every task it still runs, and
removes its socket's private folder on every way out.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import time
from typing import Any

from kfp_notebook.backends.local import process_tree, task_supervisor
from kfp_notebook.backends.local.starter import TASK_MODULE, read_line
from kfp_notebook.backends.local.supervision import WATCH_ENV

#: Modules every task needs, imported once by the starter (children inherit them). kfp is imported as inside
#: a task (`_KFP_RUNTIME=true`, as its environment has it): the runtime's modules only, without kfp's client and
#: the Kubernetes client under it (a quarter of the memory, so each fork and exit costs a quarter as much).
RUNTIME_ENV = ("_KFP_RUNTIME", "true")
WARM_MODULES = (
    "kfp.dsl.executor_main",
    TASK_MODULE,
    "kfp_notebook.backends.local.supervision",
    "json",
    "typing",
    "tempfile",
    "encodings.ascii",  # the supervisor reads /proc with it when the task ends
)

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
        self.temp: dict[int, str] = {}  # task pid → its private temporary folder, removed if the kernel dies
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
            request = read_line(connection)
            pid = self._hand_over(request, connection)
        except OSError as exc:
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            connection.close()
            return
        self.running[pid] = connection
        self.temp[pid] = _temporary_folder(request)
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
            self.temp.pop(pid, None)
            if connection is not None:  # after the task's own report the kernel reads no further
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                connection.close()
            for spare in [s for s in self.spares if s.pid == pid]:  # a spare killed while idle
                spare.control.close()
                self.spares.remove(spare)
            self._kill_strays()

    def _kill_strays(self) -> None:
        """Kill what a task's tree left here: a task's supervisor killed before it ended the tree (a stop's last
        resort) leaves its orphans to the starter, the subreaper above it."""
        known = {*self.running, *(s.pid for s in self.spares)}
        for stray in [pid for pid in process_tree.children(os.getpid()) if pid not in known]:
            process_tree.kill_descendants(stray, reaping=False)
            process_tree.signal_all([stray], signal.SIGKILL)

    def _spare(self, control: socket.socket, ours: socket.socket, signal_mask: set[int | signal.Signals]) -> None:
        """In the forked child: the task's supervisor, with the task's process forked already; wait for a
        request, run it, report its exit (never returns)."""
        code = 0
        try:
            others = [self.listener, ours, *self.running.values(), *(s.control for s in self.spares)]
            self.running, self.spares = {}, []
            _leave_starter(others, [self.wakeup_read], signal_mask)
            supervisor = task_supervisor.Supervisor(_task_setup, private=(control.fileno(),))
            received = _receive(control)
            if received is None:  # the starter is gone before a task came
                return
            request, connection = received
            code = 1
            connection.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
            _become_task(request)  # the supervisor's own output goes to the task's logs too
            code = _supervise(supervisor, request, connection)
        finally:
            os._exit(code)

    def _shutdown(self) -> None:
        """The kernel is gone (or asked us to stop): kill every task's whole tree and the spares, remove the
        socket's folder, exit."""
        for pid in list(self.running):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        process_tree.kill_descendants()
        for folder in self.temp.values():  # their supervisors were killed before they could
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        _remove_folder(self.address)
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


def _task_setup(message: bytes) -> Any:
    """In the task's process: become the requested task; kfp's executor to run."""
    from kfp_notebook.backends.local import task_main

    request = json.loads(message)
    _become_task(request)
    sys.argv = [TASK_MODULE, *request["arguments"]]
    return task_main.execute


def _supervise(supervisor: task_supervisor.Supervisor, request: dict[str, Any], connection: socket.socket) -> int:
    """Run the request's task; its exit status reaches the kernel as soon as it is known (the tree dead)."""
    reported = False

    def report(code: int) -> None:
        nonlocal reported
        reported = True
        with contextlib.suppress(OSError):  # the kernel may have stopped listening (cancel, exit)
            connection.sendall(json.dumps({"exit": code}).encode() + b"\n")

    watch, temp = request["env"].get(WATCH_ENV, ""), request["env"].get(task_supervisor.TEMP_ENV)
    message = json.dumps(request).encode()
    code = task_supervisor.exit_code_of(
        lambda: sys.exit(supervisor.run(message, int(watch) if watch.isdigit() else None, temp, report))
    )
    if not reported:
        report(code)
    return code


def _fill_caches() -> None:
    """Compile once the regular expressions every task's argument parsing compiles (kfp's executor_main uses
    argparse): `re`'s cache is all this leaves, and nothing a task can tell from a fresh interpreter."""
    import argparse

    parser = argparse.ArgumentParser(prog="warm-up")
    parser.add_argument("--flag", type=str)
    parser.parse_known_args(["--flag", "value"])


def _temporary_folder(request: bytes) -> str:
    """The task's private temporary folder named in its request ("" if none)."""
    try:
        return str(json.loads(request).get("env", {}).get(task_supervisor.TEMP_ENV) or "")
    except (ValueError, AttributeError):
        return ""


def _remove_folder(address: str) -> None:
    """The socket and its private folder (the kernel made the folder for this starter alone)."""
    with contextlib.suppress(OSError):
        os.unlink(address)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(address))


def main() -> None:
    """Warm up, then serve until the kernel goes; the folder is removed on every way out, quietly when the
    kernel went while the starter was warming (nothing reads its "ready" then)."""
    import importlib

    address = sys.argv[1]
    try:
        process_tree.subreaper()  # orphans of a task whose supervisor was killed come here, to be killed
        os.environ[RUNTIME_ENV[0]] = RUNTIME_ENV[1]
        for module in WARM_MODULES:
            importlib.import_module(module)
        _fill_caches()
        gc.freeze()  # what is imported stays shared with the children: their collections do not touch (copy) it
        _Server(address).serve()
    except (BrokenPipeError, ConnectionError, FileNotFoundError, KeyboardInterrupt):
        pass  # the kernel went first (its pipe closed, or it removed the folder at exit)
    finally:
        _remove_folder(address)
    os._exit(0)


if __name__ == "__main__":
    main()
