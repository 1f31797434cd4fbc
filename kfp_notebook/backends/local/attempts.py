"""One task of a local run, on a worker: cache lookup, its files and environment, attempts with retries, volumes."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfp_notebook.backends.local import instances
from kfp_notebook.backends.local.cache import TaskCache, cache_key
from kfp_notebook.backends.local.environments import PackageEnvironmentError, ensure_environment
from kfp_notebook.backends.local.executor import Outcome, TaskRun
from kfp_notebook.backends.local.importing import imported_artifact, imported_source
from kfp_notebook.backends.local.instances import Artifacts, Node
from kfp_notebook.backends.local.mounts import mapper
from kfp_notebook.backends.local.pipeline_root import (
    OutputPlace,
    fetch_inputs,
    local_path,
    output_place,
    upload_outputs,
)
from kfp_notebook.backends.local.placeholders import WORKSPACE_PATH
from kfp_notebook.backends.local.platform import secret_environment, volume_folder, write_secret_volume
from kfp_notebook.backends.local.pod import Pod, pod_environment, pod_name
from kfp_notebook.backends.local.remote import RemoteObjectError
from kfp_notebook.backends.local.retrying import RetrySource
from kfp_notebook.backends.local.task_environment import task_environment
from kfp_notebook.ir import ArtifactType, ValueSource
from kfp_notebook.tracking.states import TaskState

if TYPE_CHECKING:
    from kfp_notebook.backends.local.scheduler import Scheduler

#: The folder under the runs folder keeping the remote objects importers fetched, by URI and version.
REMOTE_CACHE = ".remote-cache"
Requirements = tuple[tuple[str, ...], tuple[str, ...]]  # (packages, index URLs)


@dataclass
class Prepared:
    """What the preflight worked out, by component name: package sets; and notices."""

    environments: dict[str, Requirements] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    base_environment: dict[str, str] = field(default_factory=dict)  # what every task gets from the kernel
    pipeline_root: str | None = None  # where output artifacts go (None: the task folders); see pipeline_root.py
    checked: dict[str, dict[str, Any]] = field(default_factory=dict)  # remote objects the preflight asked for


class Attempts:
    """Runs the Python tasks of one scheduler: cached outputs, task folders, processes, retries."""

    def __init__(self, scheduler: Scheduler, prepared: Prepared, cache: TaskCache | None, environments: Path | None,
                 retried: RetrySource | None = None):  # fmt: skip
        self.scheduler, self.prepared, self.cache, self.environments = scheduler, prepared, cache, environments
        self.retried = retried  # the run this one retries: its tasks that succeeded are not run again
        self.secret_folders: dict[str, Path] = {}  # by task id: secrets mounted as files, removed when it ends

    def cached(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> str | None:
        """Outputs reused from an earlier run: the message saying which, or None.

        From the run this one retries when the task succeeded there (whatever its caching), else from the cache
        when a run had the same component with the same inputs (Python tasks with caching on).
        """
        reused = self.retried.take(node) if self.retried is not None else None
        if reused is not None:
            return reused
        key = self._key(node, parameters, artifacts)
        hit = self.cache.get(key) if self.cache is not None and key is not None else None
        if hit is None:
            return None
        node.parameters, node.artifacts = hit["parameters"], hit["artifacts"]
        return f"outputs reused from run {hit.get('run_id', '?')}"

    def _key(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> str | None:
        if self.cache is None or not node.task.caching or node.kind != "python":
            return None
        root, known = self.prepared.pipeline_root, self.cache.fingerprints
        return cache_key(node.task.component.identity, parameters, artifacts, root, known)

    def prepare(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> TaskRun:
        """The task's folder, program, inputs, outputs, environment and mounts."""
        component = node.task.component
        assert component.program is not None and component.container is not None
        scheduler = self.scheduler
        folder = scheduler.store.task_folder(scheduler.folder, node.id)
        root = self.prepared.pipeline_root
        place = output_place(root, scheduler.ir.name, scheduler.info.job_id, node.task.kfp_name, folder)
        outputs = component.outputs
        output_artifacts = {name: _new_artifact(name, kind, place) for name, kind in outputs.artifacts.items()}
        return TaskRun(
            folder, component.program, parameters, artifacts, {n: p.type for n, p in outputs.parameters.items()},
            output_artifacts, scheduler.folder / "programs", self._environment(node),
            {**self._mounts(node), **self._secret_volumes(node), **place.mounts},
        )  # fmt: skip

    def _environment(self, node: Node) -> dict[str, str]:
        """The kernel's base, the container's env and the downward API's values for its pod, then its secrets."""
        platform = node.task.component.platform
        assert node.task.component.container is not None
        secrets = secret_environment(platform, lambda source: self._secret_name(node, source))
        pod = Pod(pod_name(self.scheduler.info.resource_name, node.id), platform.pod_labels, platform.pod_annotations)
        declared = {**node.task.component.container.env, **pod_environment(platform, pod)}
        return task_environment(self.prepared.base_environment, declared, secrets)

    def _secret_name(self, node: Node, source: ValueSource) -> str:
        """A secret's name in this task instance (a constant, a pipeline parameter, a loop item, an output)."""
        return str(instances.parameter_value(node, "secret name", source, self.scheduler.info))

    def _secret_volumes(self, node: Node) -> dict[str, str]:
        """Mount path → a private temporary folder holding the secret's keys as read-only files."""
        mounts = {}
        for number, entry in enumerate(node.task.component.platform.secrets_as_volume):
            if node.id not in self.secret_folders:
                self.secret_folders[node.id] = Path(tempfile.mkdtemp(prefix="kfp-notebook-secrets-"))
            folder = self.secret_folders[node.id] / str(number)
            write_secret_volume(self._secret_name(node, entry.secret), folder)
            mounts[entry.mount_path] = str(folder)
        return mounts

    def forget_secrets(self, node: Node) -> None:
        folder = self.secret_folders.pop(node.id, None)
        if folder is not None:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(0o700)
            shutil.rmtree(folder, ignore_errors=True)

    def _mounts(self, node: Node) -> dict[str, str]:
        """Mount path → the local folder standing for the PVC (created by CreatePVC or named with --volume)."""
        mounts = {}
        for mount in node.task.component.platform.pvc_mounts:
            pvc = instances.parameter_value(node, "pvc name", mount.pvc, self.scheduler.info)
            folder = volume_folder(self.scheduler.folder, str(pvc))
            folder.mkdir(parents=True, exist_ok=True)
            mounts[mount.path] = str(folder)
        if self.scheduler.ir.workspace:
            workspace = self.scheduler.folder / "workspace"
            workspace.mkdir(exist_ok=True)
            mounts[WORKSPACE_PATH] = str(workspace)
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

    def import_artifact(self, node: Node, parameters: dict[str, Any]) -> None:
        """dsl.importer: the artifact at a local path or file:// URI, or a remote object's cached copy (downloaded
        here, so other tasks are not held up), becomes the task's output `artifact`."""
        importer = node.task.component.importer
        assert importer is not None
        self.scheduler.emit(node.id, TaskState.RUNNING)
        source = importer.uri if importer.uri is not None else str(parameters.get("uri", ""))
        try:
            checked = self.prepared.checked.pop(source, None)
            artifact = imported_artifact(importer, parameters, self.remote_cache, checked)
            message = f"imported {imported_source(source, artifact['uri'])}"
            outcome = Outcome(True, {}, {"artifact": [artifact]}, message)
        except ValueError as exc:
            outcome = Outcome(False, message=str(exc))
        except Exception as exc:  # whatever failed on this worker ends the task, never the worker silently
            outcome = Outcome(False, message=f"the local runner failed on this task: {type(exc).__name__}: {exc}")
        self.scheduler.report(node, outcome)

    @property
    def remote_cache(self) -> Path:
        return self.scheduler.store.root / REMOTE_CACHE

    def run(self, node: Node, task: TaskRun, parameters: dict[str, Any], artifacts: Artifacts) -> None:
        """Every attempt the retry policy allows; the outcome always goes back to the scheduler."""
        scheduler = self.scheduler
        try:
            task.mounts.update(fetch_inputs(artifacts, self.remote_cache))
            outcome = self._attempts(node, task)
            if outcome is None or scheduler.canceled:
                return
            if outcome.ok:
                keep_custom_paths(outcome, task.mounts)
                upload_outputs(outcome.artifacts, task.mounts)
                self._store(node, outcome, parameters, artifacts)
        except RemoteObjectError as exc:  # an input that cannot be read, an output that cannot be uploaded
            outcome = Outcome(False, message=str(exc))
        except Exception as exc:  # whatever failed on this worker ends the task, never the worker silently
            outcome = Outcome(False, message=f"the local runner failed on this task: {type(exc).__name__}: {exc}")
        finally:
            self.forget_secrets(node)
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
                outcome = scheduler.handler.run(task)
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


def _new_artifact(name: str, kind: ArtifactType, place: OutputPlace) -> dict[str, Any]:
    return {"name": name, "type": kind.schema, "uri": place.uri(name), "metadata": {}}


def keep_custom_paths(outcome: Outcome, mounts: dict[str, str]) -> None:
    """An artifact the component wrote to a path of its choosing (`set_path`) is copied to its URI, as the launcher
    uploads it, so that downstream tasks find it there (a path under a mount path read from its local folder)."""
    local = mapper(mounts)
    for items in outcome.artifacts.values():
        for artifact in items:
            custom = local(artifact.pop("custom_path", None))
            target = Path(local_path(artifact["uri"], mounts))
            if not custom or not Path(custom).exists() or Path(custom) == target:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(custom).is_dir():
                shutil.copytree(custom, target, dirs_exist_ok=True)
            else:
                shutil.copy2(custom, target)
