"""Submit a compiled pipeline to Kubeflow Pipelines and follow the run into the shared RunHandle."""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from kfp_notebook.backends.kubeflow.connection import Connection, KubeflowConnectionError, explain
from kfp_notebook.backends.kubeflow.tasks import executor_pod, task_states
from kfp_notebook.backends.local.runner import typed_parameters
from kfp_notebook.ir import PipelineIR
from kfp_notebook.results import RunResult, TaskResult
from kfp_notebook.status import RunHandle, TaskEvent, TaskState, TaskStatus

FINISHED = {
    "SUCCEEDED": TaskState.SUCCEEDED,
    "FAILED": TaskState.FAILED,
    "SKIPPED": TaskState.SKIPPED,
    "CANCELED": TaskState.CANCELED,
}
RUN_STATES = {
    "PENDING": TaskState.PENDING,
    "RUNNING": TaskState.RUNNING,
    "CANCELING": TaskState.RUNNING,
    "PAUSED": TaskState.RUNNING,
    **FINISHED,
}
POLL_START, POLL_MAX = 1.0, 10.0


class KubeflowBackend:
    """Runs pipelines on a Kubeflow Pipelines server through a hardened kfp.Client."""

    def __init__(self, connection: Connection, client: Any):
        self.connection, self.client = connection, client
        self.poll_start, self.poll_max = POLL_START, POLL_MAX
        self.relogin: Any = None
        #: Inside the cluster: a kfp_notebook.cluster ClusterAccess; task logs then come from the Kubernetes API.
        self.cluster: Any = None

    def refresh_session(self) -> bool:
        """After a 401/403: log in again once (Dex); False when there is no way to."""
        if self.relogin is None:
            return False
        self.client._run_api.api_client.cookie = self.relogin()
        return True

    def submit(
        self,
        yaml_text: str,
        params: dict[str, Any] | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
    ) -> RunHandle:
        """Upload the pipeline (a new version when the name exists), ensure the experiment, create one run."""
        ir = PipelineIR.from_yaml(yaml_text)
        with tempfile.TemporaryDirectory(prefix="kfp-notebook-") as folder:
            path = Path(folder) / f"{ir.name}.yaml"
            path.write_text(yaml_text, encoding="utf-8")
            pipeline_id, version_id = self._upload(str(path), ir.name)
        params = typed_parameters(ir, params or {})
        experiment_id = self._experiment(experiment or "Default")
        name = run_name or f"{ir.name} {time.strftime('%Y-%m-%d %H:%M:%S')} {secrets.token_hex(2)}"
        run = self._create_run_once(name, experiment_id, pipeline_id, version_id, params or {})
        return self.follow(run.run_id, ir)

    def _upload(self, path: str, name: str) -> tuple[str, str]:
        try:
            pipeline_id = self.client.get_pipeline_id(name)
            if pipeline_id is None:
                pipeline = self.client._upload_api.upload_pipeline(path, name=name, namespace=self.connection.namespace)
                versions = self.client.list_pipeline_versions(
                    pipeline.pipeline_id, page_size=1, sort_by="created_at desc"
                )
                return pipeline.pipeline_id, versions.pipeline_versions[0].pipeline_version_id
            version_name = f"{name} {time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            version = self.client._upload_api.upload_pipeline_version(path, name=version_name, pipelineid=pipeline_id)
            return pipeline_id, version.pipeline_version_id
        except KubeflowConnectionError:
            raise
        except Exception as exc:
            raise explain(self.connection, exc) from None

    def _experiment(self, name: str) -> str:
        import kfp_server_api

        try:
            found = self.client.list_experiments(
                filter=_name_filter(name), namespace=self.connection.namespace, page_size=1
            )
            if found.experiments:
                return found.experiments[0].experiment_id
            body = kfp_server_api.V2beta1Experiment(display_name=name, namespace=self.connection.namespace)
            return self.client._experiment_api.experiment_service_create_experiment(experiment=body).experiment_id
        except Exception as exc:
            raise explain(self.connection, exc) from None

    def _create_run_once(
        self, name: str, experiment_id: str, pipeline_id: str, version_id: str, params: dict[str, Any]
    ) -> Any:
        """Create the run; after an unanswered request, look for it by name before trying again (never two runs)."""
        import kfp_server_api

        body = kfp_server_api.V2beta1Run(
            display_name=name,
            experiment_id=experiment_id,
            pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
                pipeline_id=pipeline_id, pipeline_version_id=version_id
            ),
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters=params),
        )
        for attempt in range(2):
            try:
                return self.client._run_api.run_service_create_run(run=body)
            except Exception as exc:
                if getattr(exc, "status", None) is not None and exc.status < 500:  # type: ignore[attr-defined]
                    raise explain(self.connection, exc) from None
                existing = self._run_named(name, experiment_id)
                if existing is not None:
                    return existing
                if attempt == 1:
                    raise explain(self.connection, exc) from None
        raise AssertionError("unreachable")

    def _run_named(self, name: str, experiment_id: str) -> Any:
        try:
            runs = self.client.list_runs(experiment_id=experiment_id, filter=_name_filter(name), page_size=5).runs or []
        except Exception:
            return None
        return next((r for r in runs if r.display_name == name), None)

    def follow(self, run_id: str, ir: PipelineIR | None = None) -> RunHandle:
        """A handle whose task states follow the run (one get_run per poll, backing off while nothing changes)."""
        handle = RunHandle(run_id, ir.name if ir else run_id, "kubeflow")
        handle.link = self.connection.run_link(run_id)
        follower = Follower(self, handle, ir)
        handle._cancel = follower.stop
        handle._result = follower.result
        handle._detach = follower.detach
        threading.Thread(target=follower.poll, name=f"kfp-follow-{run_id}", daemon=True).start()
        return handle

    def logs(self, run_id: str, task: str, tail: int | None = None) -> str:
        """A task's log through the KFP UI's pod-log endpoint (the pod found from the run's task details)."""
        try:
            run = self.client.get_run(run_id)
        except Exception as exc:
            raise explain(self.connection, exc) from None
        details = (run.run_details.task_details if run.run_details else None) or []
        name, _, index = task.partition("#")
        pod = executor_pod(details, name.replace("_", "-"), int(index or 0))
        if pod is None:
            raise KubeflowConnectionError(f"no pod for task {task!r} in run {run_id} yet (has it started?)")
        if self.cluster is not None:
            from kfp_notebook.cluster.logs import pod_log

            return pod_log(self.cluster, pod, tail).rstrip("\n")
        query = {"podname": pod, "runid": run_id}
        if self.connection.namespace:
            query["podnamespace"] = self.connection.namespace
        text = self._get_text("/k8s/pod/logs", query)
        lines = text.splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def metrics(self, run_id: str) -> list[tuple[str, dict[str, float]]]:
        """(task, {metric: value}) from ML Metadata, through the UI host's grpc-web proxy."""
        from kfp_notebook.backends.kubeflow.mlmd import MetadataClient

        return MetadataClient(self._grpc_web_post).run_metrics(run_id)

    def _grpc_web_post(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        import urllib3

        api_client = self.client._run_api.api_client
        headers = {
            "Content-Type": "application/grpc-web+proto",
            "Accept": "application/grpc-web+proto",
            "X-Grpc-Web": "1",
        }
        if api_client.cookie:
            headers["Cookie"] = api_client.cookie
        headers.update(_authorization(api_client))
        parts = urllib.parse.urlsplit(self.connection.ui)
        url = f"{parts.scheme}://{parts.netloc}{path}"
        try:
            response = api_client.rest_client.pool_manager.request(
                "POST", url, body=body, headers=headers, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise explain(self.connection, exc) from None
        return response.status, response.data, dict(response.headers)

    def _get_text(self, path: str, query: dict[str, str]) -> str:
        import urllib3

        api_client = self.client._run_api.api_client
        headers = {"Cookie": api_client.cookie} if api_client.cookie else {}
        headers.update(_authorization(api_client))
        url = f"{self.connection.ui}{path}?{urllib.parse.urlencode(query)}"
        try:
            response = api_client.rest_client.pool_manager.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise explain(self.connection, exc) from None
        if response.status != 200:
            body = response.data.decode("utf-8", "replace")[:300]
            raise KubeflowConnectionError(f"the KFP UI answered HTTP {response.status} for {path}: {body}")
        return response.data.decode("utf-8", "replace")

    def recent_runs(self, pipeline: str | None = None, count: int = 10) -> list[dict[str, Any]]:
        """The newest runs on the server; of one uploaded pipeline when its name is given."""
        try:
            pipeline_id = self.client.get_pipeline_id(pipeline) if pipeline else None
            page = 50 if pipeline else count
            runs = (
                self.client.list_runs(
                    page_size=page, sort_by="created_at desc", namespace=self.connection.namespace
                ).runs
                or []
            )
        except Exception as exc:
            raise explain(self.connection, exc) from None
        if pipeline:
            runs = [r for r in runs if getattr(r.pipeline_version_reference, "pipeline_id", None) == pipeline_id][
                :count
            ]
        return [_summary(r) for r in runs]

    def terminate(self, run_id: str) -> None:
        try:
            self.client.terminate_run(run_id)
        except Exception as exc:
            raise explain(self.connection, exc) from None


def _authorization(api_client: Any) -> dict[str, str]:
    """The bearer token kfp.Client sends, if any (it keeps it in its configuration)."""
    token = api_client.configuration.get_api_key_with_prefix("authorization")
    return {"Authorization": token} if token else {}


def _summary(run: Any) -> dict[str, Any]:
    started = run.created_at.timestamp() if run.created_at else 0
    return {"run_id": run.run_id, "pipeline": run.display_name, "state": str(run.state), "started": started}


def _name_filter(name: str) -> str:
    import json

    return json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "string_value": name}]})


class Follower:
    """Polls one run and publishes what changed; a lost connection is reported and retried."""

    def __init__(self, backend: KubeflowBackend, handle: RunHandle, ir: PipelineIR | None):
        self.backend, self.handle, self.ir = backend, handle, ir
        self.detached = False
        self.metrics: list[tuple[str, dict[str, float]]] | None = None
        self.relogged = False
        self.last: Any = None

    def _relogin(self) -> bool:
        try:
            return self.backend.refresh_session()
        except Exception as exc:  # reported: the session expired and the new login failed
            self._publish("", self.handle.state, f"the session expired and logging in again failed: {exc}")
            return False

    def detach(self) -> None:
        self.detached = True

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
                self._publish(
                    "", self.handle.state, f"connection lost, retrying: {explain(self.backend.connection, exc)}"
                )
                delay = min(delay * 2, self.backend.poll_max)
                time.sleep(delay)
                continue
            changed = self._apply(run)
            delay = self.backend.poll_start if changed else min(delay * 1.5, self.backend.poll_max)
            if not self.handle.done:
                time.sleep(delay)

    def _apply(self, run: Any) -> bool:
        self.last = run
        changed = False
        details = (run.run_details.task_details if run.run_details else None) or []
        for task_id, (state, message) in task_states(details, self.ir).items():
            status = self.handle.tasks.get(task_id)
            if status is None:
                self.handle.tasks[task_id] = TaskStatus(
                    task_id, task_id.rsplit("/", 1)[-1], component=_component(self.ir, task_id)
                )
            if status is None or status.state is not state:
                self._publish(task_id, state, message)
                changed = True
        state = RUN_STATES.get(str(run.state), TaskState.RUNNING)
        if state is not self.handle.state or self.handle.message.startswith("connection lost"):
            error = getattr(run.error, "message", "") if run.error else ""
            self._publish("", state, error)
            changed = True
        return changed

    def _publish(self, task_id: str, state: TaskState, message: str) -> None:
        self.handle._publish(TaskEvent(self.handle.run_id, task_id, state, time.time(), message))

    def stop(self) -> None:
        """Terminate the run on the server; polling goes on until the server says CANCELED."""
        self.backend.terminate(self.handle.run_id)

    def result(self) -> RunResult:
        """States, and the metrics ML Metadata holds for the run (once it has finished)."""
        tasks = {
            task_id: TaskResult(
                task_id, status.name, status.component or "", status.state.value, message=status.message
            )
            for task_id, status in self.handle.tasks.items()
        }
        result = RunResult(
            self.handle.run_id, self.handle.pipeline_name, self.handle.state.value, tasks, None, self.handle.message
        )
        if self.handle.done:
            self._attach_metrics(result)
        return result

    def _attach_metrics(self, result: RunResult) -> None:
        if self.metrics is None:
            try:
                self.metrics = self.backend.metrics(self.handle.run_id)
            except Exception as exc:  # metrics are extra: the run's result stands without them
                self.metrics = []
                result.message = f"{result.message}; metrics unavailable: {exc}".lstrip("; ")
        for task, values in self.metrics:
            entry = next(
                (t for t in result.tasks.values() if t.name == task or t.task_id.rsplit("/", 1)[-1] == task), None
            )
            if entry is None:
                entry = result.tasks.setdefault(task, TaskResult(task, task, task, "SUCCEEDED"))
            artifact = {"name": "metrics", "type": {"schemaTitle": "system.Metrics"}, "uri": "", "metadata": values}
            entry.artifacts.setdefault("metrics", []).append(artifact)


def _component(ir: PipelineIR | None, task_id: str) -> str | None:
    if ir is None:
        return None
    dag = ir.root
    for part in re.sub(r"\[\d+\]", "", task_id).split("/"):
        task = dag.get("dag", {}).get("tasks", {}).get(part)
        if task is None:
            return None
        dag = ir.component(task)
        name = task["componentRef"]["name"]
    return name
