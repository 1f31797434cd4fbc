"""A run as debugging reads it back: the pipeline it ran, its task instances, what each received, artifact bytes.

Each backend gives one (`Backend.run_inputs`): local runs from their folder, Kubeflow runs from the
server and ML Metadata. `kfp_notebook.task_inputs` and `%kfp debug` read only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfp_notebook.ir import PipelineIR


class RecordedRun(ABC):
    """A run's record: `states` holds every task instance it has (`for-loop-2[3]/shard` → its state)."""

    def __init__(self, run_id: str, ir: PipelineIR, states: dict[str, str]):
        self.run_id = run_id
        self.ir = ir  # the compiled pipeline the run ran
        self.states = states

    @abstractmethod
    def executor_inputs(self, task_id: str) -> dict[str, Any] | None:
        """The task instance's inputs as kfp's executor read them (`{"parameterValues": {...}, "artifacts":
        {name: {"artifacts": [runtime artifact, ...]}}}`); None when the task never got its inputs."""

    @abstractmethod
    def fetch(self, uri: str, destination: Path) -> None:
        """Write the artifact at `uri` to `destination` (a file, or a folder of its files); raises when it cannot."""
