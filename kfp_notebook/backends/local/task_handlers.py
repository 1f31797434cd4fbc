"""The seam between a run's scheduler and its tasks: a task handler runs one attempt of a Python task.

The scheduler asks its handler to run each attempt and to stop everything on cancel; it never starts a
process itself. `ProcessTaskHandler` is the real one (a task process per attempt, forked by the warm
starter or fresh); a test passes its own handler to `LocalBackend(task_handler=...)` to fake task
execution without processes (as kfp.local's task handlers are chosen by runner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kfp_notebook.backends.local.executor import Outcome, TaskRun, run_python_task
from kfp_notebook.backends.local.launch import ProcessGroups


class TaskHandler(Protocol):
    """Runs attempts of one run's Python tasks."""

    def run(self, task: TaskRun) -> Outcome:
        """Run one attempt to its end (raise InterruptedError when the run was stopped before it started)."""
        ...

    def stop_all(self) -> None:
        """Stop every attempt running now and refuse new ones (the run is canceled)."""
        ...


#: Makes the handler of one run (each run gets its own, so a cancel stops only that run's tasks).
TaskHandlerFactory = Callable[[], TaskHandler]


class ProcessTaskHandler:
    """Each attempt is a task process: its supervisor ends the task's whole tree and temporary files with it."""

    def __init__(self) -> None:
        self.groups = ProcessGroups()

    def run(self, task: TaskRun) -> Outcome:
        return run_python_task(task, self.groups)

    def stop_all(self) -> None:
        self.groups.stop_all()
