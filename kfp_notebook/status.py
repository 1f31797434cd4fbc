"""Run and task states, the events that report them, and a run handle every backend shares."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class TaskState(str, Enum):
    """The state of one task (or of a whole run)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"
    CANCELED = "CANCELED"

    @property
    def finished(self) -> bool:
        return self not in (TaskState.PENDING, TaskState.RUNNING)

    @property
    def ok(self) -> bool:
        """Finished without failing: downstream tasks may run."""
        return self in (TaskState.SUCCEEDED, TaskState.CACHED, TaskState.SKIPPED)


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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value}


Subscriber = Callable[[TaskEvent], None]


@dataclass
class RunHandle:
    """A run in progress or finished: its state, its tasks' states, and events to subscribe to.

    Backends call `_publish`; callers read `state` and `tasks`, `subscribe`, `wait` and `cancel`.
    """

    run_id: str
    pipeline_name: str
    backend: str
    state: TaskState = TaskState.PENDING
    tasks: dict[str, TaskStatus] = field(default_factory=dict)
    events: list[TaskEvent] = field(default_factory=list)
    message: str = ""
    link: str = ""
    notices: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _subscribers: list[Subscriber] = field(default_factory=list, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _cancel: Callable[[], None] | None = field(default=None, repr=False)
    _result: Callable[[], Any] | None = field(default=None, repr=False)
    _detach: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.state.finished

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
        """Block until the run finishes (True) or `timeout` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(0.2 if left is None else min(left, 0.2))
        return True

    def cancel(self) -> None:
        """Stop the run: every running task is stopped and the run ends CANCELED."""
        if self._cancel is not None and not self.done:
            self._cancel()

    def detach(self) -> None:
        """Stop following a remote run (the run itself goes on)."""
        if self._detach is not None:
            self._detach()

    def result(self) -> Any:
        """The run's results (outputs, logs, metrics) once it has finished."""
        self.wait()
        return self._result() if self._result else None

    def counts(self) -> dict[TaskState, int]:
        counts = {state: 0 for state in TaskState}
        for status in self.tasks.values():
            counts[status.state] += 1
        return counts

    def _publish(self, event: TaskEvent) -> None:
        with self._changed:
            self._apply(event)
            self.events.append(event)
            subscribers = list(self._subscribers)
            self._changed.notify_all()
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                self._unsubscribe(callback)

    def _apply(self, event: TaskEvent) -> None:
        if event.task_id == "":
            self.state = event.state
            self.message = event.message or self.message
            if event.state.finished:
                self.finished = event.time
            return
        status = self.tasks[event.task_id]
        status.state = event.state
        status.message = event.message or status.message
        if event.state is TaskState.RUNNING:
            status.started = status.started or event.time
            status.attempts += 1
        elif event.state.finished:
            status.finished = event.time
