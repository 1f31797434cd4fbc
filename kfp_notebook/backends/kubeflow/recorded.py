"""A Kubeflow run as debugging reads it back: its pipeline spec from the API, each task's inputs from ML Metadata.

KFP's driver records an execution per task with its input parameters (the custom property `inputs`) and an INPUT
event per input artifact (`metadata/client.go` CreateExecution), inside the DAG execution it ran in
(`parent_dag_id`); a ParallelFor iteration is a DAG execution with its `iteration_index`. The launcher then hands
the task its artifacts as `toRuntimeArtifact` builds them (`metadata/converter.go`): name the MLMD id, every custom
property in `metadata`, numbers as protobuf doubles. Artifact bytes come through the KFP UI's download endpoint,
as `%kfp show-artifact` reads them.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from kfp_notebook.backends.base import RecordedRun
from kfp_notebook.backends.kubeflow.artifacts import DOWNLOAD_LIMIT, UiArtifactFiles
from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, explain
from kfp_notebook.backends.kubeflow.mlmd import MetadataClient, messages
from kfp_notebook.backends.kubeflow.redaction import server_text
from kfp_notebook.ir import PipelineIR
from kfp_notebook.ir.parameters import protobuf_json
from kfp_notebook.tracking.states import TaskState

INPUT_EVENT = 3
#: MLMD's Execution.State → our states (CANCELED is how KFP records a task it did not trigger).
STATES = {1: TaskState.PENDING, 2: TaskState.RUNNING, 3: TaskState.SUCCEEDED, 4: TaskState.FAILED,
          5: TaskState.CACHED, 6: TaskState.SKIPPED}  # fmt: skip


class KubeflowRecordedRun(RecordedRun):
    """A run on the server: what ML Metadata recorded of each task instance."""

    def __init__(self, backend: Any, run_id: str):
        self.backend = backend
        self.metadata = MetadataClient(backend._grpc_web_post)
        try:
            executions = {e.id: e for e in self.metadata._executions(run_id)}
        except KubeflowConnectionError:
            raise
        except Exception as exc:
            raise KubeflowConnectionError(
                f"cannot read run {run_id} from ML Metadata: {server_text(str(exc))}"
            ) from None
        self.executions = {_task_id(e, executions): e for e in executions.values() if e.HasField("id")}
        self.executions.pop("", None)  # the root DAG
        states = {
            task_id: STATES.get(e.last_known_state, TaskState.PENDING).value for task_id, e in self.executions.items()
        }
        super().__init__(run_id, pipeline_ir(backend, run_id), states)
        self.files = UiArtifactFiles(backend)

    def executor_inputs(self, task_id: str) -> dict[str, Any] | None:
        execution = self.executions.get(task_id)
        recorded = execution.custom_properties.get("inputs") if execution is not None else None
        if execution is None or recorded is None or not recorded.HasField("struct_value"):
            return None
        parameters = protobuf_json(json_format.MessageToDict(recorded.struct_value))
        return {"parameterValues": parameters, "artifacts": self._input_artifacts(execution.id)}

    def _input_artifacts(self, execution_id: int) -> dict[str, Any]:
        m = messages()
        events = self.metadata.call(
            "GetEventsByExecutionIDs",
            m["GetEventsByExecutionIDsRequest"](execution_ids=[execution_id]),
            "GetEventsByExecutionIDsResponse",
        ).events
        inputs = [
            (next((s.key for s in e.path.steps if s.key), ""), e.artifact_id) for e in events if e.type == INPUT_EVENT
        ]
        if not inputs:
            return {}
        found = self.metadata.call(
            "GetArtifactsByID",
            m["GetArtifactsByIDRequest"](artifact_ids=sorted({i for _, i in inputs})),
            "GetArtifactsByIDResponse",
        ).artifacts
        by_id, kinds = {a.id: a for a in found}, self.metadata._type_names()
        artifacts: dict[str, Any] = {}
        for name, artifact_id in inputs:
            if artifact_id in by_id:
                runtime = _runtime_artifact(by_id[artifact_id], kinds)
                artifacts.setdefault(name, {"artifacts": []})["artifacts"].append(runtime)
        return artifacts

    def fetch(self, uri: str, destination: Path) -> None:
        data, disposition = self.files._download(uri)
        if len(data) >= DOWNLOAD_LIMIT:
            raise KubeflowConnectionError(
                f"the artifact {uri} is larger than the {DOWNLOAD_LIMIT // 2**20} MB the KFP UI is read for"
            )
        if ".tar.gz" not in disposition:
            destination.write_bytes(data)
            return
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            if hasattr(tarfile, "data_filter"):  # no member may land outside the destination
                archive.extractall(destination, filter="data")
            else:  # Python < 3.10.12: members checked by hand
                members = [m for m in archive.getmembers() if m.isfile() and _inside(m.name)]
                archive.extractall(destination, members=members)


def _inside(name: str) -> bool:
    return not name.startswith("/") and ".." not in Path(name).parts


def pipeline_ir(backend: Any, run_id: str) -> PipelineIR:
    """The compiled pipeline the run ran: its own spec, else its pipeline version's."""
    try:
        run = backend.client.get_run(run_id)
        spec = run.pipeline_spec
        reference = run.pipeline_version_reference
        if not spec and reference is not None and reference.pipeline_id:
            version = backend.client.get_pipeline_version(reference.pipeline_id, reference.pipeline_version_id)
            spec = version.pipeline_spec
    except Exception as exc:
        raise explain(backend.connection, exc) from None
    if not isinstance(spec, dict) or not spec:
        raise KubeflowConnectionError(f"run {run_id} has no pipeline spec on the server, so its tasks are unknown")
    if "pipeline_spec" in spec:  # a spec with a platform spec: both, under these keys
        return PipelineIR([spec["pipeline_spec"], spec.get("platform_spec") or {}])
    return PipelineIR([spec])


def _task_id(execution: Any, executions: dict[int, Any]) -> str:
    """An execution's task id from the DAG executions it ran in: `for-loop-2[3]/shard`; "" for the root DAG."""
    segments: list[str] = []
    current = execution
    while current is not None and "parent_dag_id" in current.custom_properties:
        name = _property(current, "task_name")
        if "iteration_index" in current.custom_properties:
            segments.insert(0, f"{name}[{current.custom_properties['iteration_index'].int_value}]")
            current = executions.get(current.custom_properties["parent_dag_id"].int_value)  # the loop's own DAG
        else:
            segments.insert(0, name)
        current = executions.get(current.custom_properties["parent_dag_id"].int_value) if current is not None else None
    return "/".join(segments)


def _property(execution: Any, key: str) -> str:
    value = execution.custom_properties.get(key)
    return value.string_value if value is not None else ""


def _runtime_artifact(artifact: Any, kinds: dict[int, str]) -> dict[str, Any]:
    """The artifact as the launcher gives it to the task (`toRuntimeArtifact`)."""
    return {
        "name": str(artifact.id),
        "type": {"schemaTitle": artifact.type or kinds.get(artifact.type_id, "system.Artifact")},
        "uri": artifact.uri,
        "metadata": {
            key: _value(value) for key, value in artifact.custom_properties.items() if _value(value) is not None
        },
    }


def _value(value: Any) -> Any:
    if value.HasField("string_value"):
        return value.string_value
    if value.HasField("double_value"):
        return protobuf_json(value.double_value)
    if value.HasField("int_value"):
        return protobuf_json(float(value.int_value))
    if value.HasField("struct_value"):
        return protobuf_json(json_format.MessageToDict(value.struct_value))
    return None
