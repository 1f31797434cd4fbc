"""The backend interface: start a compiled pipeline, list its runs, read a task's log; each run is a RunHandle.

Local runs (the embedded default) and Kubeflow implement it. Callers choose a backend by name
(`backend_names`) and never ask which one a handle came from: per-run behaviour (cancel, interrupt,
results, logs, task details) lives in the handle's controls.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from kfp_notebook.errors import OptionError
from kfp_notebook.results import TaskResult
from kfp_notebook.status import RunHandle

#: Backends by the name users give (`%kfp run` is local, `%kfp submit` is kubeflow).
BACKEND_NAMES = ("local", "kubeflow")


@dataclass(frozen=True)
class RunOptions:
    """How to run. Each backend applies the options it knows and refuses the others with a message."""

    workers: int | None = None
    cache: bool = True
    runs_folder: str | os.PathLike[str] | None = None
    experiment: str | None = None
    run_name: str | None = None
    skip_checks: bool = False  # Kubeflow: submit without checking the cluster for the secrets and PVCs first

    def refuse(self, backend: str, names: tuple[str, ...]) -> None:
        """Refuse options set to something other than their default that `backend` cannot apply."""
        defaults = RunOptions()
        for name in names:
            if getattr(self, name) != getattr(defaults, name):
                flag = "--" + name.replace("_", "-")
                raise OptionError(f"{flag} does not apply to {backend} runs ({_where(name)})")


def _where(name: str) -> str:
    if name in ("experiment", "run_name", "skip_checks"):
        return "it is about runs in Kubeflow: use it with %kfp submit"
    return "it sets how runs on this machine work: use it with %kfp run"


@dataclass
class RunRecord:
    """One run as listings and the run history show it; `metrics` maps task → metric → value."""

    run_id: str
    pipeline: str
    where: str
    state: str
    started: float | None = None
    finished: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    folder: str | None = None
    message: str = ""  # what could not be read about the run (its metrics, say)

    @property
    def duration(self) -> float | None:
        return self.finished - self.started if self.started and self.finished else None

    def metric(self, task: str, name: str) -> float | None:
        return self.metrics.get(task, {}).get(name)


class Backend(ABC):
    """Runs compiled pipelines somewhere."""

    name: str = ""
    #: Finished runs can be read back from the backend (`runs`, `task_log`…), so a session need not hold them.
    keeps_finished_runs: bool = False

    @abstractmethod
    def start(self, yaml_text: str, parameters: dict[str, Any] | None, options: RunOptions) -> RunHandle:
        """Start a run of the compiled pipeline; returns at once with its handle."""

    @abstractmethod
    def runs(self, pipeline: str | None = None, count: int = 0) -> list[RunRecord]:
        """Runs with their parameters and metrics, newest first (of one pipeline when its kfp name is given).

        `count` 0 is the backend's default: every local run, Kubeflow's newest ten.
        """

    @abstractmethod
    def task_log(self, run_id: str | None, task: str, tail: int | None = None) -> str:
        """The log of a task of a run that this kernel may not have started (the newest run when None)."""

    @abstractmethod
    def task_outputs(self, run_id: str | None, task: str) -> tuple[TaskResult, ArtifactFiles]:
        """A task's result with its output artifacts, and a reader of their files (raises UnknownNameError)."""


class ArtifactFiles(Protocol):
    """Where an artifact's bytes come from: the local disk, or Kubeflow's artifact endpoint."""

    def read(self, uri: str, limit: int) -> tuple[bytes, int | None]:
        """Up to `limit` bytes of the file at `uri`, and its full size when known."""

    def listing(self, uri: str) -> list[tuple[str, int]]:
        """The files at `uri` with their sizes: [("", size)] for one file, relative names for a folder."""
