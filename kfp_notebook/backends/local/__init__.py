"""The embedded local backend: runs a compiled pipeline on this machine, in parallel, with live task states."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from kfp_notebook.backends.base import BackendOptions


@dataclass(frozen=True)
class LocalOptions(BackendOptions):
    """How a run on this machine goes: tasks at once (None: one per CPU), caching, where runs keep their files."""

    command: ClassVar[str] = "%kfp run"

    workers: int | None = None
    cache: bool = True
    runs_folder: str | os.PathLike[str] | None = None


OPTIONS = LocalOptions


def make(settings: Any, connected: Any = None) -> Any:
    """The local backend with the kernel's settings (it needs no connection)."""
    from kfp_notebook.backends.local.runner import LocalBackend

    return LocalBackend(settings.runs_dir, settings.environments_dir, settings.task_env_passthrough)
