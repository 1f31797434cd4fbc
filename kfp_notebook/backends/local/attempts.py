"""One task of a local run, on a worker: cache lookup, its files and environment, attempts with retries, volumes."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfp_notebook.backends.local import instances
from kfp_notebook.backends.local.cache import TaskCache, cache_key
from kfp_notebook.backends.local.environments import PackageEnvironmentError, ensure_environment
from kfp_notebook.backends.local.executor import Outcome, TaskRun, run_python_task
from kfp_notebook.backends.local.instances import Artifacts, Node
from kfp_notebook.backends.local.platform import volume_folder
from kfp_notebook.backends.local.task_environment import task_environment
from kfp_notebook.ir import ArtifactType
from kfp_notebook.status import TaskState

if TYPE_CHECKING:
    from kfp_notebook.backends.local.scheduler import Scheduler

Requirements = tuple[tuple[str, ...], tuple[str, ...]]  # (packages, index URLs)


@dataclass
class Prepared:
    """What the preflight worked out, by component name: package sets, secret environments; and notices."""

    environments: dict[str, Requirements] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    base_environment: dict[str, str] = field(default_factory=dict)  # what every task gets from the kernel


class Attempts:
    """Runs the Python tasks of one scheduler: cached outputs, task folders, processes, retries."""

    def __init__(self, scheduler: Scheduler, prepared: Prepared, cache: TaskCache | None, environments: Path | None):
        self.scheduler, self.prepared, self.cache, self.environments = scheduler, prepared, cache, environments

    def cached(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> str | None:
        """Outputs reused from an earlier run with the same component and inputs: the message, or None."""
        key = self._key(node, parameters, artifacts)
        hit = self.cache.get(key) if self.cache is not None and key is not None else None
        if hit is None:
            return None
        node.parameters, node.artifacts = hit["parameters"], hit["artifacts"]
        return f"outputs reused from run {hit.get('run_id', '?')}"

    def _key(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> str | None:
        if self.cache is None or not node.task.caching:
            return None
        return cache_key(node.task.component.identity, parameters, artifacts)

    def prepare(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> TaskRun:
        """The task's folder, program, inputs, outputs, environment and mounts."""
        component = node.task.component
        assert component.program is not None and component.container is not None
        folder = self.scheduler.store.task_folder(self.scheduler.folder, node.id)
        outputs = component.outputs
        output_artifacts = {name: _new_artifact(name, kind, folder) for name, kind in outputs.artifacts.items()}
        secrets = self.prepared.secrets.get(component.name, {})
        environment = task_environment(self.prepared.base_environment, component.container.env, secrets)
        return TaskRun(
            folder, component.program, parameters, artifacts, {n: p.type for n, p in outputs.parameters.items()},
            output_artifacts, environment, self._mounts(node),
        )  # fmt: skip

    def _mounts(self, node: Node) -> dict[str, str]:
        """Mount path → the local folder standing for the PVC (created by CreatePVC or named with --volume)."""
        mounts = {}
        for mount in node.task.component.platform.pvc_mounts:
            pvc = instances.parameter_value(node, "pvc name", mount.pvc, self.scheduler.run_id)
            folder = volume_folder(self.scheduler.folder, str(pvc))
            folder.mkdir(parents=True, exist_ok=True)
            mounts[mount.path] = str(folder)
        return mounts

    def volume_task(self, node: Node, parameters: dict[str, Any]) -> tuple[TaskState, str]:
        """CreatePVC makes the folder standing for the claim; DeletePVC removes it."""
        self.scheduler.emit(node.id, TaskState.RUNNING)
        run_folder = self.scheduler.folder
        if node.kind == "createpvc":
            name = parameters.get("pvc_name") or f"{self.scheduler.run_id}{parameters.get('pvc_name_suffix', '')}"
            volume_folder(run_folder, name).mkdir(parents=True, exist_ok=True)
            node.parameters = {"name": name}
            return TaskState.SUCCEEDED, f"volume {name} is the folder {volume_folder(run_folder, name)}"
        shutil.rmtree(volume_folder(run_folder, parameters["pvc_name"]), ignore_errors=True)
        return TaskState.SUCCEEDED, f"volume {parameters['pvc_name']} deleted"

    # -- on a worker thread -----------------------------------------------------------------------------

    def run(self, node: Node, task: TaskRun, parameters: dict[str, Any], artifacts: Artifacts) -> None:
        """Every attempt the retry policy allows; the outcome always goes back to the scheduler."""
        scheduler = self.scheduler
        try:
            outcome = self._attempts(node, task)
            if outcome is None or scheduler.canceled:
                return
            if outcome.ok:
                self._store(node, outcome, parameters, artifacts)
        except Exception as exc:  # whatever failed on this worker ends the task, never the worker silently
            outcome = Outcome(False, message=f"the local runner failed on this task: {type(exc).__name__}: {exc}")
        scheduler.report(node, outcome)

    def _store(self, node: Node, outcome: Outcome, parameters: dict[str, Any], artifacts: Artifacts) -> None:
        key = self._key(node, parameters, artifacts)
        if key is None or self.cache is None:
            return
        entry = {"parameters": outcome.parameters, "artifacts": outcome.artifacts, "run_id": self.scheduler.run_id}
        try:
            self.cache.put(key, entry)
        except Exception as exc:
            outcome.ok = False
            outcome.message = f"its outputs could not be stored in the cache {self.cache.folder}: {exc}"

    def _attempts(self, node: Node, task: TaskRun) -> Outcome | None:
        scheduler, retry = self.scheduler, node.task.retry
        attempts = 1 + (retry.max_retries if retry else 0)
        packages = self.prepared.environments.get(node.task.component.name)
        outcome = Outcome(False, message="not started")
        try:
            if packages is not None:
                scheduler.emit(node.id, TaskState.PENDING, f"installing {' '.join(packages[0])}")
                task.package_folder = ensure_environment(*packages, self.environments)
            for attempt in range(1, attempts + 1):
                if scheduler.canceled:
                    return None
                scheduler.emit(
                    node.id, TaskState.RUNNING, f"retry {attempt - 1} of {attempts - 1}" if attempt > 1 else ""
                )
                outcome = run_python_task(task, scheduler.groups)
                if outcome.ok or scheduler.canceled or attempt == attempts:
                    break
                time.sleep(retry.backoff_seconds if retry else 0)
        except InterruptedError:
            return None
        except PackageEnvironmentError as exc:
            outcome = Outcome(False, message=str(exc))
        except Exception as exc:
            outcome = Outcome(False, message=f"{type(exc).__name__}: {exc}")
        return outcome


def _new_artifact(name: str, kind: ArtifactType, folder: Path) -> dict[str, Any]:
    uri = str(folder / "artifacts" / name)
    return {"name": name, "type": kind.schema, "uri": uri, "metadata": {}}
