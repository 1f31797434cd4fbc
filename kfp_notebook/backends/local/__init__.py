"""The embedded local backend: runs a compiled pipeline on this machine, in parallel, with live task states."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from kfp_notebook.backends.base import BackendOptions


@dataclass(frozen=True)
class LocalOptions(BackendOptions):
    """How a run on this machine goes: tasks at once (None: one per CPU), caching, where runs keep their files,
    where output artifacts go (None: the task folders; a local folder, or s3://, gs://, minio:// where Kubeflow
    would put them)."""

    command: ClassVar[str] = "%kfp run"

    workers: int | None = None
    cache: bool = True
    runs_folder: str | os.PathLike[str] | None = None
    pipeline_root: str | None = None

    def __post_init__(self) -> None:
        from kfp_notebook.backends.local.pipeline_root import checked_root

        object.__setattr__(self, "pipeline_root", checked_root(self.pipeline_root))


OPTIONS = LocalOptions


def make(settings: Any, connected: Any = None) -> Any:
    """The local backend with the kernel's settings (it needs no connection)."""
    from kfp_notebook.backends.local.runner import LocalBackend

    return LocalBackend(settings.runs_dir, settings.environments_dir, settings.task_env_passthrough)
