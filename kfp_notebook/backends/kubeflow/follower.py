"""Follow one Kubeflow run into its RunHandle: poll its state, and be the handle's controls (stop, logs, details)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from kfp_notebook.backends.kubeflow.connection import explain
from kfp_notebook.backends.kubeflow.redaction import server_text
from kfp_notebook.backends.kubeflow.tasks import KUBEFLOW_STATES, task_states
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.artifacts import METRICS_SCHEMA, artifact
from kfp_notebook.tracking.handle import RunHandle, TaskDetails, TaskEvent, TaskStatus
from kfp_notebook.tracking.results import RunResult, TaskResult
from kfp_notebook.tracking.states import ConnectionState, TaskState
from kfp_notebook.tracking.task_ids import TaskId, find_task_id

if TYPE_CHECKING:
    from kfp_notebook.backends.kubeflow.backend import KubeflowBackend

#: The end of a pod's log the details read: enough to hold the executor input's JSON that precedes the user's lines
#: (view/details.py tells them apart and keeps the last of each).
DETAIL_LOG_LINES = 1000


class Follower:
    """Polls one run and publishes what changed; a lost connection is reported and retried."""

    def __init__(self, backend: KubeflowBackend, run_id: str, ir: PipelineIR | None):
        self.backend, self.ir = backend, ir
        link, expected = backend.connection.run_link(run_id), ir.expected_runs() if ir else {}
        self.handle = RunHandle(run_id, ir.name if ir else run_id, "kubeflow", self, link=link, expected=expected)
        self.detached = False
        self.metrics: list[tuple[str, dict[str, float]]] | None = None
        self.metrics_error = ""
        self.outputs: dict[str, Any] | None = None
        self.outputs_error = ""
        self._metrics_lock = threading.Lock()
        self.relogged = False
        self.last: Any = None

    # -- the handle's controls ------------------------------------------------------------------------

    def cancel(self) -> None:
        """Terminate the run on the server; polling goes on until the server says CANCELED."""
        self.backend.terminate(self.handle.run_id)

    def interrupt(self) -> str:
        self.detached = True
        run_id = self.handle.run_id
        return f"stopped following run {run_id}; it goes on in Kubeflow: %kfp stop {run_id}"

    def task_log(self, task_id: str, tail: int | None = None) -> str:
        parsed = TaskId(task_id)
        name, index = parsed.name, parsed.last_index
        return self.backend.task_log(self.handle.run_id, f"{name}#{index}" if index else name, tail)

    def task_details(self, task_id: str) -> TaskDetails:
        """State and message from the run, the log tail from the pod, metrics from ML Metadata once finished."""
        status = self.handle.tasks.get(task_id)
        if status is None:
            return {}
        details: TaskDetails = {"id": task_id, "state": status.state.value, "message": status.message,
                                   "inputs": {}, "outputs": {}, "artifacts": {}, "metrics": {}}  # fmt: skip
        details["log"] = self._log_or_reason(task_id)
        try:
            recorded = self.backend.parameters(self.handle.run_id).get(status.name, {})
            details["inputs"], details["outputs"] = recorded.get("inputs", {}), recorded.get("outputs", {})
        except Exception as exc:  # the details show what they can, saying what is missing
            missing = f"inputs and outputs unavailable: {server_text(str(exc))}"
            details["message"] = f"{status.message}; {missing}".lstrip("; ")
        if self.handle.done:
            details["metrics"] = self._task_metrics(status.name)
        return details

    def _log_or_reason(self, task_id: str) -> str:
        try:
            return self.task_log(task_id, DETAIL_LOG_LINES)
        except Exception as exc:  # the details show what they can: a log that cannot be read says why
            return f"(no log: {server_text(str(exc))})"

    def result(self) -> RunResult:
        """States, and the metrics ML Metadata holds for the run (once it has finished)."""
        tasks = {
            task_id: TaskResult(
                task_id, status.name, status.component or "", status.state.value, message=status.message
            )
            for task_id, status in self.handle.tasks.items()
        }
        handle = self.handle
        result = RunResult(handle.run_id, handle.pipeline_name, handle.state.value, tasks, None, handle.message)
        if handle.done:
            self._attach_metrics(result)
        if handle.state is TaskState.SUCCEEDED and self.ir is not None and _has_outputs(self.ir):
            self._attach_outputs(result, self.ir)
        return result

    def _attach_outputs(self, result: RunResult, ir: PipelineIR) -> None:
        """The pipeline's own outputs, read once from ML Metadata (a failure to read is said in the message)."""
        with self._metrics_lock:
            if self.outputs is None:
                try:
                    self.outputs = self.backend.pipeline_outputs(self.handle.run_id, ir)
                except Exception as exc:  # outputs are extra: the run's result stands without them
                    self.outputs, self.outputs_error = {}, f"pipeline outputs unavailable: {server_text(str(exc))}"
        result.outputs = dict(self.outputs)
        if self.outputs_error:
            result.message = f"{result.message}; {self.outputs_error}".lstrip("; ")

    # -- polling --------------------------------------------------------------------------------------

    def poll(self) -> None:
        delay = self.backend.poll_start
        while not self.handle.done and not self.detached:
            try:
                run = self.backend.client.get_run(self.handle.run_id)
            except Exception as exc:  # the run goes on: we keep asking, slower
                if getattr(exc, "status", None) in (401, 403) and not self.relogged:
                    self.relogged = True
                    if self._relogin():
                        continue
                message = f"connection lost, retrying: {explain(self.backend.connection, exc)}"
                self.handle.set_connection(ConnectionState.LOST, message)
                delay = min(delay * 2, self.backend.poll_max)
                time.sleep(delay)
                continue
            self.handle.set_connection(ConnectionState.OK)
            changed = self._apply(run)
            delay = self.backend.poll_start if changed else min(delay * 1.5, self.backend.poll_max)
            if not self.handle.done:
                time.sleep(delay)

    def _relogin(self) -> bool:
        try:
            return self.backend.refresh_session()
        except Exception as exc:  # reported: the session expired and the new login failed
            message = f"the session expired and logging in again failed: {server_text(str(exc))}"
            self.handle.set_connection(ConnectionState.SESSION_EXPIRED, message)
            return False

    def _apply(self, run: Any) -> bool:
        self.last = run
        changed = False
        details = (run.run_details.task_details if run.run_details else None) or []
        known = self.handle.tasks
        for task_id, (state, message) in task_states(details, self.ir).items():
            status = known.get(task_id)
            if status is None:
                self.handle.add_task(self._status(task_id))
            if status is None or status.state is not state:
                self._publish(task_id, state, message)
                changed = True
        state = KUBEFLOW_STATES.get(str(run.state), TaskState.RUNNING)
        if state is not self.handle.state:
            error = getattr(run.error, "message", "") if run.error else ""
            self._publish("", state, error)
            changed = True
        return changed

    def _status(self, task_id: str) -> TaskStatus:
        task = self.ir.task(task_id) if self.ir else None
        component = task.component.name if task else None
        return TaskStatus(
            task_id, task_id.rsplit("/", 1)[-1], component=component, is_group=bool(task and task.is_group)
        )

    def _publish(self, task_id: str, state: TaskState, message: str) -> None:
        self.handle.publish(TaskEvent(self.handle.run_id, task_id, state, time.time(), message))

    # -- metrics --------------------------------------------------------------------------------------

    def _run_metrics(self) -> list[tuple[str, dict[str, float]]]:
        """The run's metrics from ML Metadata, read once (errors recorded in the run's message)."""
        with self._metrics_lock:
            if self.metrics is None:
                try:
                    self.metrics = self.backend.metrics(self.handle.run_id)
                except Exception as exc:  # metrics are extra: the run's result stands without them
                    self.metrics = []
                    self.metrics_error = f"metrics unavailable: {server_text(str(exc))}"
            return self.metrics

    def _task_metrics(self, task_name: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for task, metrics in self._run_metrics():
            if task == task_name:
                values.update(metrics)
        return values

    def _attach_metrics(self, result: RunResult) -> None:
        rows = self._run_metrics()
        if self.metrics_error:
            result.message = f"{result.message}; {self.metrics_error}".lstrip("; ")
        for task, values in rows:
            found = find_task_id(result.tasks, task, {t.task_id: t.name for t in result.tasks.values()})
            entry = result.tasks.get(found) if found is not None else None
            if entry is None:
                entry = result.tasks.setdefault(task, TaskResult(task, task, task, TaskState.SUCCEEDED))
            entry.artifacts.setdefault("metrics", []).append(artifact("metrics", METRICS_SCHEMA, "", values))


def _has_outputs(ir: PipelineIR) -> bool:
    dag = ir.root.dag
    return dag is not None and bool(dag.output_parameters or dag.output_artifacts)
