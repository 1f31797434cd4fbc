"""Retrying a local run: which run, whether it may be retried, and the outputs of its tasks that succeeded.

A retry is a new run of the pipeline as the failed run compiled it (its pipeline.yaml), with its
parameters. Every task instance that succeeded there (also inside loops and conditions, also with
caching off) is not run again: the scheduler asks `Attempts.cached`, which takes its outputs from
here before it looks in the cache. Its artifacts are the very files that run wrote (sealed read-only).
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import remote
from kfp_notebook.backends.local.instances import Node
from kfp_notebook.backends.local.store import RunStore, read_run_file
from kfp_notebook.errors import RetryRefused, UnknownNameError, advice
from kfp_notebook.tracking.records import latest_unsuccessful
from kfp_notebook.tracking.results import RunResult, TaskResult
from kfp_notebook.tracking.states import TaskState

#: A run's folders that tasks write to besides their own (PVC stand-ins, the workspace): the retry starts with a copy.
SHARED_FOLDERS = ("volumes", "workspace")


@dataclass
class RetrySource:
    """The run a new run retries: its id and folder, and its task instances that succeeded, by task id."""

    run_id: str
    folder: Path
    succeeded: dict[str, TaskResult] = field(default_factory=dict)

    @classmethod
    def of(cls, result: RunResult, folder: Path) -> RetrySource:
        ok = (TaskState.SUCCEEDED.value, TaskState.CACHED.value)
        return cls(result.run_id, folder, {k: t for k, t in result.tasks.items() if t.state in ok})

    def reused(self, node: Node) -> TaskResult | None:
        """The task's result in the retried run when it succeeded there and its files are all still there.

        An exit task (dsl.ExitHandler) runs again: it is there to run after the rest of the run.
        """
        found = self.succeeded.get(node.id)
        if found is None or node.task.runs_after_failure or not _files_present(found):
            return None
        return found

    def take(self, node: Node) -> str | None:
        """Give the node the outputs it had in the retried run (copies of the values, the same files); the message,
        or None when it must run."""
        found = self.reused(node)
        if found is None:
            return None
        node.parameters, node.artifacts = copy.deepcopy(found.parameters), copy.deepcopy(found.artifacts)
        node.folder = found.folder  # its log and inputs are those of the run that produced the outputs
        return f"outputs reused from run {self.run_id}, which this run retries"


def _files_present(task: TaskResult) -> bool:
    """Whether every output artifact is still there: a file on this machine, an object in its store."""
    return all(_present(str(a.get("uri", "")), task.folder) for items in task.artifacts.values() for a in items)


def _present(uri: str, folder: str | None) -> bool:
    """An output under a remote root is looked for in its store, as a cache hit is, unless the task wrote no file
    for it (a Metrics output), which was never uploaded; other remote URIs (importers) are taken as they are."""
    path = uri.removeprefix("file://")
    if remote.mount_path(uri) is None:
        return "://" in path or os.path.exists(path)
    if folder and not (Path(folder) / "artifacts" / uri.rstrip("/").rsplit("/", 1)[-1]).exists():
        return True
    try:
        remote.check(uri)
    except remote.RemoteObjectError:
        return False
    return True


def run_to_retry(store: RunStore, run_id: str | None) -> RunResult:
    """The run to retry as its folder shows it (the newest failed, canceled or lost one when None); refused when
    it succeeded or is still going."""
    result = store.load(run_id or _latest_unsuccessful(store))
    state = TaskState.parse(result.state)
    if state in (TaskState.SUCCEEDED, TaskState.SKIPPED):
        raise RetryRefused(f"run {result.run_id} succeeded: there is nothing to retry (every task has its outputs)")
    if not state.finished:
        stop = advice(f"`%kfp stop {result.run_id}`", f"`kfp-notebook stop {result.run_id}`")
        raise RetryRefused(
            f"run {result.run_id} is still {state.value}: wait for it to end, or stop it with {stop}, then retry it"
        )
    return result


def _latest_unsuccessful(store: RunStore) -> str:
    record = latest_unsuccessful(store.records())
    if record is None:
        raise UnknownNameError(f"no failed or canceled run to retry in {store.root}; `%kfp runs` lists the runs")
    return record.run_id


def retried_pipeline(store: RunStore, result: RunResult) -> tuple[Path, str, dict[str, Any]]:
    """The retried run's folder, its compiled pipeline (as it ran) and its parameters."""
    folder = Path(result.folder or store.root / result.run_id)
    try:
        yaml_text = (folder / "pipeline.yaml").read_text(encoding="utf-8")
    except OSError as exc:
        raise RetryRefused(
            f"run {result.run_id} cannot be retried: its compiled pipeline {folder / 'pipeline.yaml'} cannot be read "
            f"({exc.strerror or exc}); run the pipeline again instead"
        ) from None
    data, _ = read_run_file(folder / "run.json")
    return folder, yaml_text, dict(data.get("parameters") or {})


def retried_root(folder: Path) -> str | None:
    """The pipeline root the retried run put its outputs under (None: its task folders): its retry's too, so the
    outputs it runs again go where the ones it reuses are, as a retry on Kubeflow keeps the run's root."""
    data, _ = read_run_file(folder / "run.json")
    root = data.get("pipeline_root")
    return str(root) if root else None


def copy_shared_folders(source: Path, target: Path) -> None:
    """The retried run's volumes and workspace as they were, copied (the retried run's own stay untouched)."""
    for name in SHARED_FOLDERS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, symlinks=True, dirs_exist_ok=True)


def retry_notice(source: RetrySource, pipeline_root: str | None = None) -> str:
    root = f" and its pipeline root {pipeline_root}" if pipeline_root else ""
    return (
        f"retries run {source.run_id}: its pipeline as that run compiled it (not this kernel's current definition), "
        f"with its parameters{root}; the tasks that succeeded there are not run again"
    )
