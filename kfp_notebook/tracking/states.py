"""Task and run states: the one vocabulary every backend reports and every view shows."""

from __future__ import annotations

from enum import Enum


class TaskState(str, Enum):
    """The state of one task (or of a whole run)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"
    CANCELED = "CANCELED"
    LOST = "LOST"

    @property
    def finished(self) -> bool:
        return self not in (TaskState.PENDING, TaskState.RUNNING)

    @property
    def ok(self) -> bool:
        """Finished without failing: downstream tasks may run."""
        return self in (TaskState.SUCCEEDED, TaskState.CACHED, TaskState.SKIPPED)


class ConnectionState(str, Enum):
    """Whether the backend still hears from the run (a remote run goes on while we cannot reach it)."""

    OK = "OK"
    LOST = "LOST"  # retrying
    SESSION_EXPIRED = "SESSION_EXPIRED"  # logging in again failed
