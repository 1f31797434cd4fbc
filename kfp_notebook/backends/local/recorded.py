"""A local run as debugging reads it back: its folder's pipeline.yaml, run.json and each task's executor input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kfp_notebook.backends.base import RecordedRun
from kfp_notebook.backends.local import remote
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.results import RunResult

REMOTE_CACHE = ".remote-cache"


class LocalRecordedRun(RecordedRun):
    """A run of the runs folder: the executor input each task was given is in its task folder."""

    def __init__(self, store: RunStore, result: RunResult):
        folder = Path(result.folder or store.root / result.run_id)
        ir = PipelineIR.from_yaml((folder / "pipeline.yaml").read_text(encoding="utf-8"))
        super().__init__(result.run_id, ir, {})
        self.states = {task_id: task.state for task_id, task in result.tasks.items()}
        self.folders = {task_id: task.folder for task_id, task in result.tasks.items()}
        self.remote_cache = store.root / REMOTE_CACHE

    def executor_inputs(self, task_id: str) -> dict[str, Any] | None:
        folder = self.folders.get(task_id)
        path = Path(folder) / "executor_input.json" if folder else None
        if path is None or not path.is_file():
            return None
        inputs: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")).get("inputs", {})
        return inputs

    def fetch(self, uri: str, destination: Path) -> None:
        """A copy of the artifact at `destination`; none for one its producer wrote no file for (a Metrics output:
        in the store nothing, or nothing in the producer's output folder), as the task got it (the launcher skips
        its download)."""
        try:
            source = self.readable(uri)
        except remote.MissingObjectError:
            return
        if source.is_dir():
            shutil.copytree(source, destination, symlinks=True)
        elif source.is_file():
            shutil.copy2(source, destination)
        elif not source.parent.is_dir():
            raise KfpNotebookError(f"the artifact {uri} is gone: nothing is at {source} any more")

    def readable(self, uri: str) -> Path:
        """Where this machine reads an artifact: its path, or the local copy of a remote object (fetched once)."""
        if remote.is_remote(uri):
            return Path(remote.fetch(uri, self.remote_cache)[0])
        return Path(uri)
