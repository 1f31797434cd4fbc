"""Walks a compiled pipeline's DAG on this machine: a task starts as soon as what it needs exists.

One scheduler thread owns the graph; a pool of worker threads runs task processes (at most
`workers` at once) and reports back through a queue. Every state change is an event on the run handle.
The scheduler is also the handle's controls: cancel, interrupt, results, logs and task details.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import details, instances
from kfp_notebook.backends.local.attempts import Attempts, Prepared
from kfp_notebook.backends.local.cache import TaskCache
from kfp_notebook.backends.local.cel import CelError
from kfp_notebook.backends.local.executor import Outcome, TaskRun
from kfp_notebook.backends.local.fairness import FairQueue, branch_of
from kfp_notebook.backends.local.instances import Artifacts, DagInstance, InputError, Loop, Node
from kfp_notebook.backends.local.placeholders import RunInfo
from kfp_notebook.backends.local.retrying import RetrySource
from kfp_notebook.backends.local.store import RunStore, stop_requested
from kfp_notebook.backends.local.task_handlers import ProcessTaskHandler, TaskHandler
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.handle import RunHandle, TaskDetails, TaskEvent, TaskStatus
from kfp_notebook.tracking.results import RunResult, TaskResult
from kfp_notebook.tracking.states import TaskState

_CANCEL = object()
_BROKEN = object()
_CHECKPOINT = object()  # a worker's event: the scheduler writes the run's live state
#: run.json is rewritten at most this often while a run goes (events are appended every batch); a big run
#: would otherwise rewrite all its tasks after every event. A rewrite that takes long (thousands of tasks) waits
#: STATE_SHARE times its own length, so that writing the state never takes more than 1/STATE_SHARE of the run.
STATE_SECONDS = 0.5
STATE_SHARE = 20
#: The scheduler looks for a stop request another kernel (or the CLI) left in the run's folder before it starts
#: anything, and at least this often while it waits.
STOP_CHECK_SECONDS = 0.2
STOPPED_FROM_OUTSIDE = "stopped by `%kfp stop` from another kernel or the kfp-notebook command"


class Scheduler:
    """Runs one pipeline run; `handle` is what callers watch."""

    def __init__(self, ir: PipelineIR, run_id: str, parameters: dict[str, Any], folder: Path, store: RunStore,
                 prepared: Prepared, workers: int, cache: TaskCache | None,
                 environments: Path | None = None, handler: TaskHandler | None = None,
                 retried: RetrySource | None = None):  # fmt: skip
        self.ir, self.parameters, self.folder, self.store = ir, parameters, folder, store
        self.handle = RunHandle(
            run_id, ir.name, "local", self, notices=list(prepared.notices), expected=ir.expected_runs()
        )
        self.info = RunInfo.for_run(run_id)
        self.handler = handler if handler is not None else ProcessTaskHandler()
        self.attempts = Attempts(self, prepared, cache, environments, retried)
        self.workers = max(1, workers)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"kfp-task-{run_id}")
        #: tasks ready to run that wait for a worker, taken in turn across the run's branches (`fairness`)
        self.waiting: FairQueue[tuple[Node, TaskRun, dict[str, Any], Artifacts]] = FairQueue()
        self.busy = 0  # tasks handed to a worker that did not report back yet
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.dags: list[DagInstance] = []
        self.ready: deque[Node] = deque()  # nodes whose upstream tasks all finished, not started yet
        self.nodes: dict[str, Node] = {}
        self.canceled = False
        self.broken = False
        self.outputs: dict[str, Any] = {}  # the pipeline's own outputs, once its root DAG succeeded
        self.store_failure = ""
        self._state_saved, self._state_due, self._state_every = 0.0, False, STATE_SECONDS
        self._stop_checked = float("-inf")
        self._emit_lock = threading.Lock()
        self.events = store.open_events(folder)
        self.thread = threading.Thread(target=self._main, name=f"kfp-run-{run_id}", daemon=True)

    @property
    def run_id(self) -> str:
        return self.handle.run_id

    def start(self) -> RunHandle:
        self.thread.start()
        return self.handle

    # -- the handle's controls ------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop every task process (whole process groups) and end the run CANCELED."""
        self.canceled = True
        self.inbox.put(_CANCEL)
        self.handler.stop_all()

    def interrupt(self) -> str:
        self.cancel()
        self.handle.wait(30)
        return f"run {self.run_id} stopped: {self.handle.state.value}"

    def task_log(self, task_id: str, tail: int | None = None) -> str:
        return details.task_log(self.nodes[task_id].folder, tail)

    def task_details(self, task_id: str) -> TaskDetails:
        return details.task_details(self._task_result(self.nodes[task_id]))

    def task_log_parts(self, task_id: str, lines: int) -> TaskDetails:
        return details.log_parts(self.nodes[task_id].folder, lines, lines)

    # -- the scheduler thread -------------------------------------------------------------------------

    def _main(self) -> None:
        self._emit("", TaskState.RUNNING)
        root = DagInstance("", self.ir.root, dict(self.parameters), {}, None)
        try:
            self._open(root)
            while not root.closed:
                if self._stop_requested():  # before anything more starts
                    self.handle.message = STOPPED_FROM_OUTSIDE
                    self._cancel_everything()
                    break
                self._advance()
                if root.closed:
                    break
                self._checkpoint()
                try:
                    message = self.inbox.get(timeout=STATE_SECONDS if self._state_due else STOP_CHECK_SECONDS)
                except queue.Empty:
                    continue
                if message is _CHECKPOINT:
                    continue
                if message is _CANCEL:
                    self._cancel_everything()
                    break
                if message is _BROKEN:
                    raise RunnerError(self.store_failure)
                node, outcome = message
                self._finish_task(node, outcome)
        except Exception as exc:  # the run ends FAILED, saying why, whatever went wrong in the runner itself
            self.broken = True
            cause = str(exc) if isinstance(exc, RunnerError) else f"{type(exc).__name__}: {exc}"
            self.handle.message = f"the local runner failed: {cause}"
            self._cancel_everything(TaskState.FAILED)
        finally:
            self.pool.shutdown(wait=True)
            self._finish_run()

    def _stop_requested(self) -> bool:
        """Whether a stop request waits in the run's folder: looked for at the start, then every
        STOP_CHECK_SECONDS (not once per event: a file system call per task start and end adds up)."""
        now = time.monotonic()
        if now - self._stop_checked < STOP_CHECK_SECONDS:
            return False
        self._stop_checked = now
        return stop_requested(self.folder)

    def _open(self, dag: DagInstance) -> None:
        self.dags.append(dag)
        dag.execution_id = len(self.dags)
        for node in instances.open_dag(dag):
            self.nodes[node.id] = node
            status = TaskStatus(node.id, node.display_name, component=node.task.component.name)
            status.is_group = node.task.is_group
            self.handle.add_task(status)
            self._emit(node.id, TaskState.PENDING)
        self.ready.extend(instances.ready_nodes(dag))
        if not dag.nodes:
            self._close(dag)

    def _advance(self) -> None:
        """Start every node whose upstream tasks all finished, in the order they became ready; then give each
        free worker the next waiting task, one branch after another."""
        while not self.canceled:
            if self.ready:
                node = self.ready.popleft()
                if not node.started and not node.dag.closed:
                    self._start(node)
            elif self.waiting and self.busy < self.workers:
                self.busy += 1
                self.pool.submit(self.attempts.run, *self.waiting.take())
            else:
                return

    def _start(self, node: Node) -> None:
        node.started = True
        upstream = [node.dag.nodes[name] for name in instances.upstream(node)]
        if not node.task.runs_after_failure and any(other.blocks_downstream for other in upstream):
            failed = next(o.id for o in upstream if o.blocks_downstream)
            return self._settle(node, TaskState.SKIPPED, f"not run: upstream task {failed} did not succeed")
        try:
            parameters, artifacts = instances.resolve_inputs(node, self.info)
            if not instances.condition_holds(node, parameters):
                node.skipped_by_condition = True
                return self._settle(node, TaskState.SKIPPED, "condition is false")
        except (InputError, CelError) as exc:
            return self._settle(node, TaskState.FAILED, str(exc))
        if node.kind == "dag":
            return self._start_dag(node, parameters, artifacts)
        cached = self.attempts.cached(node, parameters, artifacts)
        if cached is not None:
            node.inputs = details.input_values(parameters, artifacts)
            if node.folder:
                self.handle.set_task_folder(node.id, node.folder)
            return self._settle(node, TaskState.CACHED, cached)
        if node.kind in ("createpvc", "deletepvc"):
            return self._settle(node, *self.attempts.volume_task(node, parameters))
        if node.kind == "importer":  # on a worker: a remote object's download holds up no other task
            self.busy += 1  # counted as any task is: its report frees the worker (_finish_task)
            self.pool.submit(self.attempts.import_artifact, node, parameters)
            return
        try:
            instances.check_sendable(node, parameters)
        except InputError as exc:
            return self._settle(node, TaskState.FAILED, str(exc))
        try:
            task = self.attempts.prepare(node, parameters, artifacts)
        except (KfpNotebookError, CelError) as exc:  # a secret or setting known only now is missing
            self.attempts.forget_secrets(node)
            return self._settle(node, TaskState.FAILED, str(exc))
        node.folder = str(task.folder)
        self.handle.set_task_folder(node.id, node.folder)
        self.waiting.put(branch_of(node), (node, task, parameters, artifacts))

    def _start_dag(self, node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> None:
        self._emit(node.id, TaskState.RUNNING)
        if node.task.loop is None:
            return self._open(DagInstance(f"{node.id}/", node.task.component, parameters, artifacts, node))
        items = instances.loop_items(node, parameters, artifacts)
        node.loop = Loop(items, node.task.loop.parallelism)
        node.parameters, node.artifacts = parameters, artifacts
        if not items:
            node.absent = instances.empty_loop_outputs(node)
            return self._settle(node, TaskState.SUCCEEDED, "the loop had no items")
        self._next_iterations(node)

    def _next_iterations(self, node: Node) -> None:
        loop, spec = node.loop, node.task.loop
        assert loop is not None and spec is not None
        while loop.started < len(loop.items) and (loop.limit == 0 or loop.running < loop.limit):
            index, item = loop.started, loop.items[loop.started]
            parameters, artifacts = dict(node.parameters), dict(node.artifacts)
            if spec.over_artifacts:
                artifacts[spec.item_input] = [item]
            else:
                parameters[spec.item_input] = item
            loop.started += 1
            loop.running += 1
            self._open(DagInstance(f"{node.id}[{index}]/", node.task.component, parameters, artifacts, node, index))

    def report(self, node: Node, outcome: Outcome) -> None:
        """A worker's last word on a task (called from a worker thread)."""
        self.inbox.put((node, outcome))

    # -- finishing ------------------------------------------------------------------------------------

    def _finish_task(self, node: Node, outcome: Outcome) -> None:
        self.busy -= 1
        if node.state.finished or self.canceled:
            return
        node.parameters, node.artifacts = outcome.parameters, outcome.artifacts
        self._settle(node, TaskState.SUCCEEDED if outcome.ok else TaskState.FAILED, outcome.message)

    def _settle(self, node: Node, state: TaskState, message: str = "") -> None:
        node.state, node.message = state, message
        self._emit(node.id, state, message)
        self.ready.extend(instances.settle(node))
        if not node.dag.unfinished and not node.dag.closed:
            self._close(node.dag)

    def _close(self, dag: DagInstance) -> None:
        dag.closed = True
        owner = dag.owner
        if owner is None:
            self.outputs = {} if dag.failed or self.canceled else instances.pipeline_outputs(dag)
            return
        parameters, artifacts = instances.dag_outputs(dag)
        if owner.loop is None:
            owner.parameters, owner.artifacts = parameters, artifacts
            owner.absent = instances.absent_dag_outputs(dag, parameters, artifacts)
            return self._settle(owner, TaskState.FAILED if dag.failed else TaskState.SUCCEEDED, _failed_message(dag))
        loop = owner.loop
        assert dag.index is not None
        loop.outputs[dag.index] = (parameters, artifacts)
        loop.running -= 1
        loop.failed = loop.failed or dag.failed
        if loop.started < len(loop.items) and not self.canceled:
            return self._next_iterations(owner)
        if loop.running == 0:
            owner.parameters, owner.artifacts = instances.collect_loop_outputs(loop)
            self._settle(owner, TaskState.FAILED if loop.failed else TaskState.SUCCEEDED)

    def _cancel_everything(self, state: TaskState = TaskState.CANCELED) -> None:
        self.canceled = True
        self.waiting.clear()
        self.handler.stop_all()
        message = "the run was stopped" if state is TaskState.CANCELED else self.handle.message
        for node in list(self.nodes.values()):
            if not node.state.finished:
                node.state = state
                self._emit(node.id, state, message)
        for dag in self.dags:
            dag.closed = True

    def _checkpoint(self) -> None:
        """Write the batch of events and the run's state so far (run.json), for `%kfp runs/status/logs` anywhere."""
        if self.store_failure:
            raise RunnerError(self.store_failure)
        with self._emit_lock:
            try:
                self.events.flush()
            except Exception as exc:
                self.store_failure = f"cannot write the run's events in {self.folder}: {exc}"
                raise RunnerError(self.store_failure) from None
        if time.monotonic() - self._state_saved < self._state_every:
            self._state_due = True
            return
        started = time.monotonic()
        try:
            self.store.save_result(self.result(), {})
        except Exception as exc:
            self.store_failure = f"cannot write the run's state in {self.folder / 'run.json'}: {exc}"
            raise RunnerError(self.store_failure) from None
        self._state_due, self._state_saved = False, time.monotonic()
        self._state_every = max(STATE_SECONDS, STATE_SHARE * (self._state_saved - started))

    def _finish_run(self) -> None:
        """Write the last event and run.json, then tell the handle; what cannot be written ends the run FAILED."""
        final = self._final_state()
        try:
            self._save_final(final, self.handle.message)
        except Exception as exc:  # the run still ends, FAILED, naming the file it could not write
            final = TaskState.FAILED
            saving = f"cannot save the run's results in {self.folder / 'run.json'}: {exc}"
            self.handle.message = self.store_failure or saving
            with contextlib.suppress(Exception):  # run.json says FAILED where it still can
                self.store.save_result(self._final_result(final), {"finished": time.time()})
        with self._emit_lock:
            self.handle.publish(TaskEvent(self.run_id, "", final, time.time(), self.handle.message))

    def _final_state(self) -> TaskState:
        if self.broken or any(n.state is TaskState.FAILED for n in self.nodes.values()):
            return TaskState.CANCELED if self.canceled and not self.broken else TaskState.FAILED
        return TaskState.CANCELED if self.canceled else TaskState.SUCCEEDED

    def _save_final(self, final: TaskState, message: str) -> None:
        with self._emit_lock:
            if self.store_failure:
                raise RunnerError(self.store_failure)
            try:
                self.events.append(TaskEvent(self.run_id, "", final, time.time(), message))
                self.events.close()
            except Exception as exc:
                self.store_failure = f"cannot write the run's events in {self.folder}: {exc}"
                raise
        self.store.save_result(self._final_result(final), {"finished": time.time(), "notices": self.handle.notices})

    def _final_result(self, final: TaskState) -> RunResult:
        result = self.result()
        result.state, result.message = final.value, self.handle.message
        return result

    def result(self) -> RunResult:
        live = self.handle.tasks  # RUNNING comes from the workers' events, not from the graph
        tasks = {node.id: self._task_result(node, live.get(node.id)) for node in list(self.nodes.values())}
        return RunResult(
            self.run_id, self.ir.name, self.handle.state.value, tasks, str(self.folder), self.handle.message,
            dict(self.outputs),
        )  # fmt: skip

    def _task_result(self, node: Node, live: TaskStatus | None = None) -> TaskResult:
        state = live.state if live is not None and not node.state.finished else node.state
        return TaskResult(node.id, node.display_name, node.task.kfp_name, state.value, node.parameters,
                          node.artifacts, node.message, node.folder, node.inputs)  # fmt: skip

    def _emit(self, task_id: str, state: TaskState, message: str = "") -> None:
        with self._emit_lock:
            event = TaskEvent(self.run_id, task_id, state, time.time(), message)
            self._record(event)
            self.handle.publish(event)

    def _record(self, event: TaskEvent) -> None:
        """Keep the event on disk; a failure to write ends the run (the scheduler thread sees _BROKEN)."""
        if self.store_failure:
            return
        try:
            self.events.append(event)
        except Exception as exc:
            self.store_failure = f"cannot write the run's events in {self.folder}: {exc}"
            self.inbox.put(_BROKEN)

    def emit(self, task_id: str, state: TaskState, message: str = "") -> None:
        """Report a task's state change (from any thread); the scheduler then writes the run's live state."""
        self._emit(task_id, state, message)
        self.inbox.put(_CHECKPOINT)


class RunnerError(Exception):
    """The runner's own work failed (writing events, results or the cache): the run ends FAILED."""


def _failed_message(dag: DagInstance) -> str:
    failed = [n.id for n in dag.nodes.values() if n.state is TaskState.FAILED]
    return f"failed: {', '.join(failed)}" if failed else ""
