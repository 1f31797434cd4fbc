"""Run and task states, the events that report them, and the run handle every backend delivers.

A backend makes a `RunHandle` with its `RunControls` (how to cancel, interrupt, read results, logs and
details) and reports progress through `publish`, `add_task`, `set_task_folder` and `set_connection`;
callers read snapshots, subscribe to events and call the handle's methods. Nothing outside a
backend needs to know which backend a handle came from.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypedDict

from kfp_notebook.tracking.states import ConnectionState, TaskCounts, TaskState, count_tasks
from kfp_notebook.tracking.task_ids import path_of

_log = logging.getLogger("kfp_notebook")


@dataclass
class TaskStatus:
    """What is known about one task: its state, times, attempts, message and where its files are."""

    task_id: str
    name: str
    state: TaskState = TaskState.PENDING
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    message: str = ""
    folder: str | None = None
    component: str | None = None
    is_group: bool = False  # a condition, loop or exit-handler group, not a task that runs a container

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass(frozen=True)
class TaskEvent:
    """A state change of a task (task_id "" is the run itself), as it happens."""

    run_id: str
    task_id: str
    state: TaskState
    time: float
    message: str = ""
    connection: ConnectionState | None = None  # set: the event reports whether the backend hears from the run

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "state": self.state.value}
        if self.connection is None:
            del data["connection"]
        return data


Subscriber = Callable[[TaskEvent], None]


class TaskDetails(TypedDict, total=False):
    """What a backend tells of one task instance (the panel's details pane shows it)."""

    id: str
    state: str
    message: str
    inputs: dict[str, Any]  # input name → the value, or the URIs of its artifacts
    outputs: dict[str, Any]  # output parameter name → value
    artifacts: dict[str, list[str]]  # output artifact name → URIs
    metrics: dict[str, Any]  # metric name → value
    log: str  # the end of its stdout and stderr
    log_user: str  # the end of what the component's function wrote (where the backend tells it apart)
    log_executor: str  # the end of what kfp's executor wrote around it (its arguments, the input JSON, a traceback)


class RunControls(Protocol):
    """What a backend does for a handle: the same calls for a local run and a remote one."""

    def cancel(self) -> None:
        """Stop the run: every task stops and the run ends CANCELED."""

    def interrupt(self) -> str:
        """What an interrupt of the waiting cell does (stop a local run; stop following a remote one); says what."""

    def result(self) -> Any:
        """The run's results (a RunResult): outputs, artifacts, metrics."""

    def task_log(self, task_id: str, tail: int | None = None) -> str:
        """What the task has printed so far (the last `tail` lines)."""

    def task_details(self, task_id: str) -> TaskDetails:
        """Inputs, outputs, artifacts, metrics, log tail and message of one task instance."""


class RunHandle:
    """A run in progress or finished: its state, its tasks' states, and events to subscribe to."""

    def __init__(self, run_id: str, pipeline_name: str, backend: str, controls: RunControls,
                 *, link: str = "", notices: list[str] | None = None,
                 expected: dict[str, int] | None = None):  # fmt: skip
        self.run_id, self.pipeline_name, self.backend, self.link = run_id, pipeline_name, backend, link
        self.expected: dict[str, int] = dict(expected or {})  # node path → task instances known to come
        self.notices: list[str] = list(notices or [])
        self.state = TaskState.PENDING
        self.message = ""
        self.connection = ConnectionState.OK
        self.connection_message = ""
        self.started = time.time()
        self.finished: float | None = None
        self.events: list[TaskEvent] = []
        self._controls = controls
        self._tasks: dict[str, TaskStatus] = {}
        self._subscribers: list[Subscriber] = []
        self._delivering: list[int] = []  # threads calling subscribers now (wait() returns after them)
        self._failed_subscribers: list[Subscriber] = []
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"RunHandle({self.run_id!r}, {self.backend}, {self.state.value})"

    # -- for callers ------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state.finished

    @property
    def tasks(self) -> dict[str, TaskStatus]:
        """A consistent copy of every task's status (safe to iterate while the run goes on)."""
        with self._changed:
            return {k: copy.copy(v) for k, v in self._tasks.items()}

    def subscribe(self, callback: Subscriber, replay: bool = True) -> Callable[[], None]:
        """Call `callback` for every event (and first for the past ones); returns a function that unsubscribes."""
        with self._changed:
            past = list(self.events) if replay else []
            self._subscribers.append(callback)
        for event in past:
            callback(event)
        return lambda: self._unsubscribe(callback)

    def _unsubscribe(self, callback: Subscriber) -> None:
        with self._changed:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run finishes and its subscribers have had every event (True), or `timeout` seconds
        pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self.done or set(self._delivering) - {threading.get_ident()}:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(0.2 if left is None else min(left, 0.2))
        return True

    def cancel(self) -> None:
        """Stop the run: every running task is stopped and the run ends CANCELED."""
        if not self.done:
            self._controls.cancel()

    def interrupt(self) -> str:
        """The cell that waits on this run was interrupted: do what that means for this backend; says what."""
        return self._controls.interrupt()

    def result(self) -> Any:
        """The run's results (outputs, logs, metrics) once it has finished."""
        self.wait()
        return self._controls.result()

    def task_log(self, task_id: str, tail: int | None = None) -> str:
        return self._controls.task_log(task_id, tail)

    def task_details(self, task_id: str) -> TaskDetails:
        return self._controls.task_details(task_id)

    def task_log_parts(self, task_id: str, lines: int) -> TaskDetails:
        """{"log_user", "log_executor"} (the last `lines` of each) where the backend tells the component's own
        lines from kfp's executor's where they are written, else {"log": the last `lines`}."""
        parts = getattr(self._controls, "task_log_parts", None)
        found: TaskDetails = parts(task_id, lines) if parts is not None else {}
        return found or {"log": self._controls.task_log(task_id, lines)}

    def task_counts(self, tasks: list[TaskStatus] | None = None) -> TaskCounts:
        """Container tasks finished, failed, canceled, running, and in all (fixed from the start where it can be)."""
        tasks = list(self.tasks.values()) if tasks is None else tasks
        groups = {path_of(t.task_id): t.state for t in tasks if t.is_group}
        return count_tasks(((path_of(t.task_id), t.state) for t in tasks if not t.is_group), self.expected, groups)

    # -- for the backend that made the handle ---------------------------------------------------------------

    def add_task(self, status: TaskStatus) -> None:
        with self._changed:
            self._tasks.setdefault(status.task_id, status)

    def set_task_folder(self, task_id: str, folder: str) -> None:
        with self._changed:
            self._tasks[task_id].folder = folder

    def set_connection(self, state: ConnectionState, message: str = "") -> None:
        """Report whether the backend hears from the run; subscribers get a run event when it changes."""
        if (state, message) != (self.connection, self.connection_message):
            self.publish(TaskEvent(self.run_id, "", self.state, time.time(), message, connection=state))

    def publish(self, event: TaskEvent) -> None:
        with self._changed:
            self._apply(event)
            self.events.append(event)
            subscribers = list(self._subscribers)
            self._delivering.append(threading.get_ident())
            self._changed.notify_all()
        try:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception as exc:  # the run goes on, and so do the subscriber's updates; the user is told
                    self._subscriber_failed(callback, exc)
        finally:
            with self._changed:
                self._delivering.remove(threading.get_ident())
                self._changed.notify_all()

    def _subscriber_failed(self, callback: Subscriber, exc: Exception) -> None:
        """Log a subscriber's first failure (with its traceback) and show it in the run's notices, once."""
        if any(failed is callback for failed in self._failed_subscribers):
            return
        self._failed_subscribers.append(callback)
        name = getattr(callback, "__qualname__", None) or type(callback).__name__
        _log.error("a subscriber of run %s (%s) failed; it keeps getting events", self.run_id, name, exc_info=exc)
        self.notices.append(f"showing this run's progress failed ({name}: {type(exc).__name__}: {exc}); it goes on")

    def _apply(self, event: TaskEvent) -> None:
        if event.connection is not None:
            self.connection, self.connection_message = event.connection, event.message
            return
        if event.task_id == "":
            self.state = event.state
            self.message = event.message or self.message
            if event.state.finished:
                self.finished = event.time
            return
        status = self._tasks[event.task_id]
        status.state = event.state
        status.message = event.message or status.message
        if event.state is TaskState.RUNNING:
            status.started = status.started or event.time
            status.attempts += 1
        elif event.state.finished:
            status.finished = event.time
