"""The Kubeflow backend: upload a compiled pipeline, create one run, list runs, read logs and metrics."""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from kfp_notebook import kfp_compat
from kfp_notebook.backends.base import Backend, Capabilities, RecordedRun
from kfp_notebook.backends.defaults import DEFAULT_EXPERIMENT
from kfp_notebook.backends.kubeflow import KubeflowOptions
from kfp_notebook.backends.kubeflow.connection import Connection, KubeflowConnectionError, explain
from kfp_notebook.backends.kubeflow.redaction import server_message, server_text
from kfp_notebook.backends.kubeflow.tasks import executor_pod
from kfp_notebook.errors import KfpNotebookError, RetryRefused, UnknownNameError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.ir.parameters import typed_parameters
from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.records import ArtifactFiles, RunRecord
from kfp_notebook.tracking.results import TaskResult
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.task_ids import kfp_task_name

POLL_START, POLL_MAX = 1.0, 10.0
RECENT_RUNS = 10
#: The KFP API server refuses a run whose parameters take more than this many bytes as JSON
#: (its MaxParameterBytes: "The input parameter length exceed maximum size of 10000").
MAX_PARAMETER_BYTES = 10_000


class ParameterTooLarge(KfpNotebookError):
    """A run's parameters are larger than Kubeflow Pipelines accepts."""


def refuse_oversized(params: dict[str, Any]) -> None:
    """Raise naming the largest parameter and its size when the parameters exceed MAX_PARAMETER_BYTES."""
    total = len(json.dumps(params).encode("utf-8"))
    if total <= MAX_PARAMETER_BYTES:
        return
    sizes = {name: len(json.dumps(value).encode("utf-8")) for name, value in params.items()}
    largest = max(sizes, key=lambda name: sizes[name])
    raise ParameterTooLarge(
        f"parameter {largest!r} is {sizes[largest]:,} bytes ({total:,} for all parameters), and Kubeflow Pipelines "
        f"accepts at most {MAX_PARAMETER_BYTES:,} bytes of run parameters. Pass large data as an artifact "
        "(written by an upstream task), or run it on this machine with %kfp run, which has no such limit."
    )


class KubeflowBackend(Backend):
    """Runs pipelines on a Kubeflow Pipelines server through a hardened kfp.Client."""

    name = "kubeflow"
    capabilities = Capabilities(remote=True)
    options_type = KubeflowOptions

    def __init__(self, connection: Connection, client: Any):
        self.connection, self.client = connection, client
        self.poll_start, self.poll_max = POLL_START, POLL_MAX
        self.relogin: Any = None
        #: Inside the cluster: a cluster.ClusterAccess; task logs then come from the Kubernetes API.
        self.cluster: Any = None

    def refresh_session(self) -> bool:
        """After a 401/403: log in again once (Dex); False when there is no way to."""
        if self.relogin is None:
            return False
        kfp_compat.set_cookie(self.client, self.relogin())
        return True

    def start(self, yaml_text: str, params: dict[str, Any] | None = None, options: Any = None) -> RunHandle:
        """Upload the pipeline (a new version when the name exists), ensure the experiment, create one run."""
        options = self.options(options)
        assert isinstance(options, KubeflowOptions)
        experiment, run_name = options.experiment, options.run_name
        ir = PipelineIR.from_yaml(yaml_text)
        params = typed_parameters(ir, params or {})
        refuse_oversized(params)
        notices = [] if options.skip_checks else [self.check_cluster(ir)]
        with tempfile.TemporaryDirectory(prefix="kfp-notebook-") as folder:
            path = Path(folder) / f"{ir.name}.yaml"
            path.write_text(yaml_text, encoding="utf-8")
            pipeline_id, version_id = self._upload(str(path), ir.name)
        experiment_id = self._experiment(experiment or DEFAULT_EXPERIMENT)
        name = run_name or f"{ir.name} {time.strftime('%Y-%m-%d %H:%M:%S')} {secrets.token_hex(2)}"
        run = self._create_run_once(name, experiment_id, pipeline_id, version_id, params or {})
        handle = self.follow(run.run_id, ir)
        handle.notices += [n for n in notices if n]
        return handle

    def check_cluster(self, ir: PipelineIR) -> str:
        """Refuse (SubmitRefused) a run whose pods would miss a secret, key or PVC; one line of what was checked."""
        from kfp_notebook.backends.kubeflow.cluster.doctor import check_before_submit

        return check_before_submit(ir, self.connection.namespace)

    def _upload(self, path: str, name: str) -> tuple[str, str]:
        try:
            pipeline_id = self.client.get_pipeline_id(name)
            if pipeline_id is None:
                pipeline = kfp_compat.upload_pipeline(self.client, path, name, self.connection.namespace)
                versions = self.client.list_pipeline_versions(
                    pipeline.pipeline_id, page_size=1, sort_by="created_at desc"
                )
                return pipeline.pipeline_id, versions.pipeline_versions[0].pipeline_version_id
            version_name = f"{name} {time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            version = kfp_compat.upload_pipeline_version(self.client, path, version_name, pipeline_id)
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
            return kfp_compat.create_experiment(self.client, body).experiment_id
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
                return kfp_compat.create_run(self.client, body)
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

    def retry(self, run_id: str | None, options: Any = None) -> RunHandle:
        """Ask the server to retry a failed run in place (KFP keeps what succeeded and runs the rest, under the same
        run id) and follow it; a run the server does not have, or will not retry, is refused with its words."""
        if run_id is None:
            raise UnknownNameError(f"name the run on {self.connection.host} to retry: %kfp retry RUN")
        try:
            kfp_compat.retry_run(self.client, run_id)
        except Exception as exc:
            raise self._retry_refused(run_id, exc) from None
        return self.follow(run_id, self._pipeline_of(run_id))

    def _retry_refused(self, run_id: str, exc: Exception) -> Exception:
        status, said = getattr(exc, "status", None), server_message(getattr(exc, "body", None))
        if status == 404:
            return UnknownNameError(f"no run {run_id!r} on {self.connection.host} ({said}); `%kfp runs` lists them")
        if status == 400:
            return RetryRefused(f"{self.connection.host} refused to retry run {run_id}: {said}{self._why_not(run_id)}")
        return explain(self.connection, exc)

    def _why_not(self, run_id: str) -> str:
        """What the run's state means for a retry, when the server can say it."""
        try:
            state = TaskState.parse(str(self.client.get_run(run_id).state))
        except Exception:
            return ""
        if state is TaskState.SUCCEEDED:
            return f" (run {run_id} succeeded: there is nothing to retry)"
        if not state.finished:
            return f" (run {run_id} is still {state.value}: wait for it to end, or stop it with %kfp stop {run_id})"
        return ""

    def _pipeline_of(self, run_id: str) -> PipelineIR | None:
        """The run's compiled pipeline (its own spec, or its pipeline version's), None when it cannot be read."""
        try:
            run = self.client.get_run(run_id)
            spec = run.pipeline_spec
            reference = run.pipeline_version_reference
            if not spec and reference is not None and reference.pipeline_version_id:
                spec = self.client.get_pipeline_version(
                    reference.pipeline_id, reference.pipeline_version_id
                ).pipeline_spec
            return PipelineIR.from_yaml(json.dumps(spec)) if spec else None
        except Exception:  # the run is followed without its task names known ahead
            return None

    def follow(self, run_id: str, ir: PipelineIR | None = None) -> RunHandle:
        """A handle whose task states follow the run (one get_run per poll, backing off while nothing changes)."""
        from kfp_notebook.backends.kubeflow.follower import Follower

        follower = Follower(self, run_id, ir)
        threading.Thread(target=follower.poll, name=f"kfp-follow-{run_id}", daemon=True).start()
        return follower.handle

    def task_log(self, run_id: str | None, task: str, tail: int | None = None) -> str:
        """A task's log through the KFP UI's pod-log endpoint (the pod found from the run's task details)."""
        run_id = run_id or self._latest_run()
        try:
            run = self.client.get_run(run_id)
        except Exception as exc:
            raise explain(self.connection, exc) from None
        details = (run.run_details.task_details if run.run_details else None) or []
        name, _, index = task.partition("#")
        pod = executor_pod(details, kfp_task_name(name), int(index or 0))
        if pod is None:
            raise KubeflowConnectionError(f"no pod for task {task!r} in run {run_id} yet (has it started?)")
        if self.cluster is not None:
            from kfp_notebook.backends.kubeflow.cluster.logs import pod_log

            return pod_log(self.cluster, pod, tail).rstrip("\n")
        query = {"podname": pod, "runid": run_id}
        if self.connection.namespace:
            query["podnamespace"] = self.connection.namespace
        text = self._get_text("/k8s/pod/logs", query)
        lines = text.splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def parameters(self, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Task name → its input and output parameter values, from ML Metadata."""
        from kfp_notebook.backends.kubeflow.mlmd import MetadataClient

        return MetadataClient(self._grpc_web_post).run_parameters(run_id)

    def pipeline_outputs(self, run_id: str, ir: PipelineIR) -> dict[str, Any]:
        """The run's own outputs (its root DAG's), from what its tasks recorded in ML Metadata."""
        from kfp_notebook.backends.kubeflow.mlmd import MetadataClient
        from kfp_notebook.backends.kubeflow.outputs import Recorded, pipeline_outputs

        client = MetadataClient(self._grpc_web_post)
        return pipeline_outputs(ir, Recorded(client.run_executions(run_id), client.run_artifacts(run_id)))

    def metrics(self, run_id: str) -> list[tuple[str, dict[str, float]]]:
        """(task, {metric: value}) from ML Metadata, through the UI host's grpc-web proxy."""
        from kfp_notebook.backends.kubeflow.mlmd import MetadataClient

        return MetadataClient(self._grpc_web_post).run_metrics(run_id)

    def _grpc_web_post(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        import urllib3

        api_client = kfp_compat.api_client(self.client)
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

        api_client = kfp_compat.api_client(self.client)
        headers = {"Cookie": api_client.cookie} if api_client.cookie else {}
        headers.update(_authorization(api_client))
        url = f"{self.connection.ui}{path}?{urllib.parse.urlencode(query)}"
        try:
            response = api_client.rest_client.pool_manager.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise explain(self.connection, exc) from None
        if response.status != 200:
            body = server_text(response.data)
            raise KubeflowConnectionError(f"the KFP UI answered HTTP {response.status} for {path}: {body}")
        return response.data.decode("utf-8", "replace")

    def runs(self, pipeline: str | None = None, count: int = 0) -> list[RunRecord]:
        """The newest runs on the server (ten unless `count`); of one uploaded pipeline when its name is given."""
        count = count or RECENT_RUNS
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
            runs = [r for r in runs if _pipeline_id(r) == pipeline_id][:count]
        names = {pipeline_id: pipeline} if pipeline else self._pipeline_names({_pipeline_id(r) for r in runs})
        records = [_record(r, names.get(_pipeline_id(r)) or r.display_name, self.connection.host) for r in runs]
        for record in records:
            self._attach_metrics(record)
        return records

    def _attach_metrics(self, record: RunRecord) -> None:
        if record.state not in (TaskState.SUCCEEDED, TaskState.FAILED):
            return
        try:
            record.metrics = {task: dict(values) for task, values in self.metrics(record.run_id)}
        except Exception as exc:  # metrics are extra: the run is listed without them, saying why
            record.message = f"metrics of {record.run_id} unavailable: {server_text(str(exc))}"

    def task_outputs(self, run_id: str | None, task: str) -> tuple[TaskResult, ArtifactFiles]:
        """A task's output artifacts from ML Metadata; their files through the KFP UI's artifact endpoint."""
        from kfp_notebook.backends.kubeflow.artifacts import run_task

        return run_task(self, run_id or self._latest_run(), task)

    def run_inputs(self, run_id: str | None) -> RecordedRun:
        """A run's tasks as ML Metadata recorded what each received; artifact bytes through the KFP UI."""
        from kfp_notebook.backends.kubeflow.recorded import KubeflowRecordedRun

        return KubeflowRecordedRun(self, run_id or self._latest_run())

    def _latest_run(self) -> str:
        recent = self.runs(count=1)
        if not recent:
            raise UnknownNameError(f"no runs on {self.connection.host} yet")
        return recent[0].run_id

    def _pipeline_names(self, pipeline_ids: set[str | None]) -> dict[str | None, str]:
        """Display names of uploaded pipelines (a run only knows its pipeline's id); unknown ones left out."""
        names = {}
        for pipeline_id in pipeline_ids - {None}:
            try:
                names[pipeline_id] = self.client.get_pipeline(pipeline_id).display_name
            except Exception:  # a deleted pipeline: the run is listed under its own name
                continue
        return names

    def terminate(self, run_id: str) -> None:
        try:
            self.client.terminate_run(run_id)
        except Exception as exc:
            raise explain(self.connection, exc) from None


def _authorization(api_client: Any) -> dict[str, str]:
    """The bearer token kfp.Client sends, if any (it keeps it in its configuration)."""
    token = api_client.configuration.get_api_key_with_prefix("authorization")
    return {"Authorization": token} if token else {}


def _pipeline_id(run: Any) -> str | None:
    return getattr(run.pipeline_version_reference, "pipeline_id", None)


def _record(run: Any, pipeline: str, where: str) -> RunRecord:
    started = run.created_at.timestamp() if run.created_at else None
    finished = run.finished_at.timestamp() if getattr(run, "finished_at", None) else None
    parameters = dict(getattr(getattr(run, "runtime_config", None), "parameters", None) or {})
    return RunRecord(run.run_id, pipeline, where, str(run.state), started, finished, parameters)


def _name_filter(name: str) -> str:
    import json

    return json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "string_value": name}]})
