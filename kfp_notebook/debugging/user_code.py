"""Which exception the debugged task's own code raised: the magics let that one reach the cell unchanged."""

from __future__ import annotations

_LATEST: list[BaseException] = []  # the latest only (exceptions take no weak references)


def mark(error: BaseException) -> None:
    """`error` was raised by the task's code (its function, or its program's module-level code)."""
    _LATEST[:] = [error]


def raised_by_user_code(error: BaseException) -> bool:
    """Whether the task's code raised `error`; the mark is then dropped (no exception, with its frames, is kept)."""
    found = any(error is raised for raised in _LATEST)
    forget()
    return found


def forget() -> None:
    _LATEST.clear()
