"""A run as listings and the history show it (RunRecord), and where an artifact's bytes come from (ArtifactFiles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kfp_notebook.tracking.states import TaskState


@dataclass
class RunRecord:
    """One run as listings and the run history show it; `metrics` maps task → metric → value, `outputs` are
    the pipeline's own (as RunResult.outputs)."""

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
    outputs: dict[str, Any] = field(default_factory=dict)
    retry_of: str = ""  # the run this one retries (a local retry is a new run; Kubeflow retries in place)

    @property
    def duration(self) -> float | None:
        return self.finished - self.started if self.started and self.finished else None

    def metric(self, task: str, name: str) -> float | None:
        return self.metrics.get(task, {}).get(name)


def latest_unsuccessful(records: list[RunRecord]) -> RunRecord | None:
    """The newest of the runs (newest first) that failed, was canceled or was lost, and that no run retries yet."""
    retried = {r.retry_of for r in records}
    return next((r for r in records if TaskState.parse(r.state).unsuccessful and r.run_id not in retried), None)


class ArtifactFiles(Protocol):
    """Where an artifact's bytes come from: the local disk, or Kubeflow's artifact endpoint."""

    def read(self, uri: str, limit: int) -> tuple[bytes, int | None]:
        """Up to `limit` bytes of the file at `uri`, and its full size when known."""

    def listing(self, uri: str) -> list[tuple[str, int]]:
        """The files at `uri` with their sizes: [("", size)] for one file, relative names for a folder."""
