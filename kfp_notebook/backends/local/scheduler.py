"""Walks a compiled pipeline's DAG on this machine: a task starts as soon as what it needs exists.

One scheduler thread owns the graph; a pool of worker threads runs task processes (at most
`workers` at once) and reports back through a queue. Every state change is an event on the run handle.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import instances
from kfp_notebook.backends.local.cache import TaskCache, cache_key
from kfp_notebook.backends.local.cel import CelError
from kfp_notebook.backends.local.environments import PackageEnvironmentError, ensure_environment
from kfp_notebook.backends.local.executor import Outcome, ProcessGroups, TaskRun, run_python_task
from kfp_notebook.backends.local.instances import DagInstance, InputError, Loop, Node
from kfp_notebook.backends.local.platform import volume_folder
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.ir import PipelineIR
from kfp_notebook.results import RunResult, TaskResult
from kfp_notebook.status import RunHandle, TaskEvent, TaskState, TaskStatus

_CANCEL = object()
Requirements = tuple[tuple[str, ...], tuple[str, ...]]  # (packages, index URLs)


@dataclass
class Prepared:
    """What the preflight worked out: package folders per component, secrets per component, notices."""

    environments: dict[str, Requirements] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


class Scheduler:
    """Runs one pipeline run; `handle` is what callers watch."""

    def __init__(self, ir: PipelineIR, handle: RunHandle, parameters: dict[str, Any], folder: Path,
                 store: RunStore, prepared: Prepared, workers: int, cache: TaskCache | None,
                 environments: Path | None = None):  # fmt: skip
        self.ir, self.handle, self.parameters, self.folder = ir, handle, parameters, folder
        self.store, self.prepared, self.cache, self.environments = store, prepared, cache, environments
        self.groups = ProcessGroups()
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"kfp-task-{handle.run_id}")
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.dags: list[DagInstance] = []
        self.nodes: dict[str, Node] = {}
        self.canceled = False
        self.broken = False
        self._emit_lock = threading.Lock()
        self.thread = threading.Thread(target=self._main, name=f"kfp-run-{handle.run_id}", daemon=True)
        handle._cancel = self.cancel
        handle._result = self.result

    def start(self) -> RunHandle:
        self.thread.start()
        return self.handle

    def cancel(self) -> None:
        """Stop every task process (whole process groups) and end the run CANCELED."""
        self.canceled = True
        self.inbox.put(_CANCEL)
        self.groups.stop_all()

    # -- the scheduler thread -------------------------------------------------------------------------

    def _main(self) -> None:
        self._emit("", TaskState.RUNNING)
        root = DagInstance("", self.ir.root, dict(self.parameters), {}, None)
        try:
            self._open(root)
            while not root.closed:
                self._advance()
                if root.closed:
                    break
                message = self.inbox.get()
                if message is _CANCEL:
                    self._cancel_everything()
                    break
                node, outcome = message
                self._finish_task(node, outcome)
        except Exception as exc:
            self.broken = True
            self.handle.message = f"the local runner failed: {type(exc).__name__}: {exc}"
            self._cancel_everything(TaskState.FAILED)
        finally:
            self.pool.shutdown(wait=True)
            self._finish_run()

    def _open(self, dag: DagInstance) -> None:
        self.dags.append(dag)
        for node in instances.open_dag(self.ir, dag):
            self.nodes[node.id] = node
            self.handle.tasks[node.id] = TaskStatus(
                node.id, node.display_name, component=node.spec["componentRef"]["name"]
            )
            self._emit(node.id, TaskState.PENDING)
        if not dag.nodes:
            self._close(dag)

    def _advance(self) -> None:
        progressed = True
        while progressed and not self.canceled:
            progressed = False
            for dag in [d for d in self.dags if not d.closed]:
                for node in list(dag.nodes.values()):
                    if not node.started and self._ready(node):
                        self._start(node)
                        progressed = True

    def _ready(self, node: Node) -> bool:
        upstream = [node.dag.nodes[name] for name in node.dependencies]
        return all(other.state.finished for other in upstream)

    def _start(self, node: Node) -> None:
        node.started = True
        upstream = [node.dag.nodes[name] for name in node.dependencies]
        if not node.waits_for_all and any(other.blocks_downstream for other in upstream):
            failed = next(o.id for o in upstream if o.blocks_downstream)
            return self._settle(node, TaskState.SKIPPED, f"not run: upstream task {failed} did not succeed")
        try:
            parameters, artifacts = instances.resolve_inputs(node, self.handle.run_id)
            if not instances.condition_holds(node, parameters):
                node.skipped_by_condition = True
                return self._settle(node, TaskState.SKIPPED, "condition is false")
        except (InputError, CelError) as exc:
            return self._settle(node, TaskState.FAILED, str(exc))
        if node.kind == "dag":
            return self._start_dag(node, parameters, artifacts)
        if node.kind in ("createpvc", "deletepvc"):
            return self._volume_task(node, parameters)
        self._start_python(node, parameters, artifacts)

    def _start_dag(self, node: Node, parameters: dict[str, Any], artifacts: dict[str, list[Any]]) -> None:
        self._emit(node.id, TaskState.RUNNING)
        if "parameterIterator" not in node.spec and "artifactIterator" not in node.spec:
            return self._open(DagInstance(f"{node.id}/", node.component, parameters, artifacts, node))
        items, item_input, artifact_items = instances.loop_items(node, parameters, artifacts)
        limit = int(node.spec.get("iteratorPolicy", {}).get("parallelismLimit", 0) or 0)
        node.loop = Loop(items, limit)
        node.parameters, node.artifacts = parameters, artifacts
        if not items:
            return self._settle(node, TaskState.SUCCEEDED)
        self._next_iterations(node, item_input, artifact_items)

    def _next_iterations(self, node: Node, item_input: str, artifact_items: bool) -> None:
        loop = node.loop
        assert loop is not None
        while loop.started < len(loop.items) and (loop.limit == 0 or loop.running < loop.limit):
            index, item = loop.started, loop.items[loop.started]
            parameters, artifacts = dict(node.parameters), dict(node.artifacts)
            if artifact_items:
                artifacts[item_input] = [item]
            else:
                parameters[item_input] = item
            loop.started += 1
            loop.running += 1
            self._open(DagInstance(f"{node.id}[{index}]/", node.component, parameters, artifacts, node, index))

    def _start_python(self, node: Node, parameters: dict[str, Any], artifacts: dict[str, list[Any]]) -> None:
        container = self.ir.container(node.component)
        key = None
        if self.cache is not None and node.spec.get("cachingOptions", {}).get("enableCache"):
            key = cache_key(node.component, container, parameters, artifacts)
            cached = self.cache.get(key)
            if cached is not None:
                node.parameters, node.artifacts = cached["parameters"], cached["artifacts"]
                return self._settle(node, TaskState.CACHED, f"outputs reused from run {cached.get('run_id', '?')}")
        task = self._task_run(node, parameters, artifacts, container)
        self.handle.tasks[node.id].folder = str(task.folder)
        self.pool.submit(
            self._execute, node, task, key, self.prepared.environments.get(self.ir.executor_label(node.component))
        )

    def _task_run(
        self, node: Node, parameters: dict[str, Any], artifacts: dict[str, list[Any]], container: dict[str, Any]
    ) -> TaskRun:
        folder = self.store.task_folder(self.folder, node.id)
        outputs = node.component.get("outputDefinitions", {})
        output_parameters = {n: p.get("parameterType", "STRING") for n, p in outputs.get("parameters", {}).items()}
        output_artifacts = {
            name: _new_artifact(name, definition, folder) for name, definition in outputs.get("artifacts", {}).items()
        }
        label = self.ir.executor_label(node.component)
        environment = {e["name"]: e.get("value", "") for e in container.get("env", [])}
        environment.update(self.prepared.secrets.get(label, {}))
        return TaskRun(
            folder, self.ir.program(node.component), parameters, artifacts, output_parameters, output_artifacts,
            environment, self._mounts(node),
        )  # fmt: skip

    def _mounts(self, node: Node) -> dict[str, str]:
        """Mount path → the local folder standing for the PVC (created by CreatePVC or named with --volume)."""
        mounts = {}
        for mount in self.ir.platform(node.component).get("pvcMount", []):
            pvc = instances.parameter_value(node, "pvc name", _pvc_source(mount), self.handle.run_id)
            folder = volume_folder(self.folder, str(pvc))
            folder.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"]] = str(folder)
        return mounts

    def _volume_task(self, node: Node, parameters: dict[str, Any]) -> None:
        self._emit(node.id, TaskState.RUNNING)
        if node.kind == "createpvc":
            name = parameters.get("pvc_name") or f"{self.handle.run_id}{parameters.get('pvc_name_suffix', '')}"
            volume_folder(self.folder, name).mkdir(parents=True, exist_ok=True)
            node.parameters = {"name": name}
            return self._settle(
                node, TaskState.SUCCEEDED, f"volume {name} is the folder {volume_folder(self.folder, name)}"
            )
        shutil.rmtree(volume_folder(self.folder, parameters["pvc_name"]), ignore_errors=True)
        self._settle(node, TaskState.SUCCEEDED, f"volume {parameters['pvc_name']} deleted")

    # -- worker threads -------------------------------------------------------------------------------

    def _execute(self, node: Node, task: TaskRun, key: str | None, packages: Requirements | None) -> None:
        policy = node.spec.get("retryPolicy", {})
        attempts = 1 + int(policy.get("maxRetryCount", 0) or 0)
        outcome = Outcome(False, message="not started")
        try:
            if packages is not None:
                self._emit(node.id, TaskState.PENDING, f"installing {' '.join(packages[0])}")
                task.package_folder = ensure_environment(*packages, self.environments)
            for attempt in range(1, attempts + 1):
                if self.canceled:
                    return
                retry = f"retry {attempt - 1} of {attempts - 1}" if attempt > 1 else ""
                self._emit(node.id, TaskState.RUNNING, retry)
                outcome = run_python_task(task, self.groups)
                if outcome.ok or self.canceled or attempt == attempts:
                    break
                time.sleep(_seconds(policy.get("backoffDuration", "0s")))
        except InterruptedError:
            return
        except PackageEnvironmentError as exc:
            outcome = Outcome(False, message=str(exc))
        except Exception as exc:
            outcome = Outcome(False, message=f"{type(exc).__name__}: {exc}")
        if self.canceled:
            return
        if outcome.ok and key is not None and self.cache is not None:
            self.cache.put(
                key, {"parameters": outcome.parameters, "artifacts": outcome.artifacts, "run_id": self.handle.run_id}
            )
        self.inbox.put((node, outcome))

    # -- finishing ------------------------------------------------------------------------------------

    def _finish_task(self, node: Node, outcome: Outcome) -> None:
        if node.state.finished or self.canceled:
            return
        node.parameters, node.artifacts = outcome.parameters, outcome.artifacts
        self._settle(node, TaskState.SUCCEEDED if outcome.ok else TaskState.FAILED, outcome.message)

    def _settle(self, node: Node, state: TaskState, message: str = "") -> None:
        node.state, node.message = state, message
        self._emit(node.id, state, message)
        if node.dag.finished and not node.dag.closed:
            self._close(node.dag)

    def _close(self, dag: DagInstance) -> None:
        dag.closed = True
        owner = dag.owner
        if owner is None:
            return
        parameters, artifacts = instances.dag_outputs(dag)
        if owner.loop is None:
            owner.parameters, owner.artifacts = parameters, artifacts
            return self._settle(owner, TaskState.FAILED if dag.failed else TaskState.SUCCEEDED, _failed_message(dag))
        loop = owner.loop
        assert dag.index is not None
        loop.outputs[dag.index] = (parameters, artifacts)
        loop.running -= 1
        loop.failed = loop.failed or dag.failed
        if loop.started < len(loop.items) and not self.canceled:
            iterator = owner.spec.get("artifactIterator") or owner.spec["parameterIterator"]
            return self._next_iterations(owner, iterator["itemInput"], "artifactIterator" in owner.spec)
        if loop.running == 0:
            owner.parameters, owner.artifacts = instances.collect_loop_outputs(loop)
            self._settle(owner, TaskState.FAILED if loop.failed else TaskState.SUCCEEDED)

    def _cancel_everything(self, state: TaskState = TaskState.CANCELED) -> None:
        self.canceled = True
        self.groups.stop_all()
        for node in list(self.nodes.values()):
            if not node.state.finished:
                node.state = state
                self._emit(
                    node.id, state, "the run was stopped" if state is TaskState.CANCELED else self.handle.message
                )
        for dag in self.dags:
            dag.closed = True

    def _finish_run(self) -> None:
        if self.broken or any(n.state is TaskState.FAILED for n in self.nodes.values()):
            final = TaskState.CANCELED if self.canceled and not self.broken else TaskState.FAILED
        else:
            final = TaskState.CANCELED if self.canceled else TaskState.SUCCEEDED
        result = self.result()
        result.state = final.value
        self.store.save_result(result, {"finished": time.time(), "notices": self.prepared.notices})
        self._emit("", final, self.handle.message)

    def result(self) -> RunResult:
        tasks = {
            node.id: TaskResult(
                node.id,
                node.display_name,
                node.spec["componentRef"]["name"].removeprefix("comp-"),
                node.state.value,
                node.parameters,
                node.artifacts,
                node.message,
                self.handle.tasks[node.id].folder,
            )
            for node in self.nodes.values()
        }
        return RunResult(
            self.handle.run_id, self.ir.name, self.handle.state.value, tasks, str(self.folder), self.handle.message
        )

    def _emit(self, task_id: str, state: TaskState, message: str = "") -> None:
        with self._emit_lock:
            event = TaskEvent(self.handle.run_id, task_id, state, time.time(), message)
            self.store.record_event(self.folder, event)
            self.handle._publish(event)


def _new_artifact(name: str, definition: dict[str, Any], folder: Path) -> dict[str, Any]:
    uri = str(folder / "artifacts" / name)
    return {"name": name, "type": definition.get("artifactType", {}), "uri": uri, "metadata": {}}


def _failed_message(dag: DagInstance) -> str:
    failed = [n.id for n in dag.nodes.values() if n.state is TaskState.FAILED]
    return f"failed: {', '.join(failed)}" if failed else ""


def _pvc_source(mount: dict[str, Any]) -> dict[str, Any]:
    """Where a mount's PVC name comes from (kfp-kubernetes writes it in a few shapes)."""
    if "pvcNameParameter" in mount:
        return mount["pvcNameParameter"]
    for key in ("taskOutputParameter", "componentInputParameter"):
        if key in mount:
            return {key: mount[key]}
    return {"runtimeValue": {"constant": mount.get("constant", "")}}


def _seconds(duration: str) -> float:
    text = str(duration).strip().lower()
    try:
        return float(text.rstrip("s")) if text.endswith("s") else float(text)
    except ValueError:
        return 0.0
