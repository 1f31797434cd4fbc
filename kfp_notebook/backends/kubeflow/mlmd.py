"""A run's metrics from ML Metadata, read the way the KFP UI reads them (grpc-web to MetadataStoreService).

The `ml-metadata` package cannot be installed beside kfp 2.17 (protobuf < 5 against kfp's >= 6.31),
so the few messages these calls need are declared here, with MLMD's field numbers
(ml_metadata/proto/metadata_store.proto and metadata_store_service.proto, MLMD 1.14 as KFP 2.17 vendors
it). Unknown fields in answers are kept by protobuf and ignored here.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2

SERVICE = "ml_metadata.MetadataStoreService"
RUN_CONTEXT_TYPE = "system.PipelineRun"
METRICS_TYPE = "system.Metrics"
OUTPUT_EVENT = 4
NOT_METRICS = {"display_name", "store_session_info"}

_T = descriptor_pb2.FieldDescriptorProto
#: The subset of MLMD's messages these calls use, written as in the .proto files.
_MESSAGES: dict[str, list[str]] = {
    "Value": ["optional int64 int_value = 1", "optional double double_value = 2", "optional string string_value = 3",
              "optional google.protobuf.Struct struct_value = 4", "optional bool bool_value = 6"],
    "Artifact": ["optional int64 id = 1", "optional int64 type_id = 2", "optional string uri = 3",
                 "optional string name = 7", "optional string type = 8"],
    "ArtifactType": ["optional int64 id = 1", "optional string name = 2"],
    "Execution": ["optional int64 id = 1", "optional int64 type_id = 2", "optional int32 last_known_state = 3",
                  "optional string name = 6", "optional string type = 7"],
    "Context": ["optional int64 id = 1", "optional int64 type_id = 2", "optional string name = 3",
                "optional string type = 6"],
    "EventStep": ["optional int64 index = 1", "optional string key = 2"],
    "EventPath": ["repeated EventStep steps = 1"],
    "Event": ["optional int64 artifact_id = 1", "optional int64 execution_id = 2", "optional EventPath path = 3",
              "optional int32 type = 4"],
    "GetContextByTypeAndNameRequest": ["optional string type_name = 1", "optional string context_name = 2"],
    "GetContextByTypeAndNameResponse": ["optional Context context = 1"],
    "GetExecutionsByContextRequest": ["optional int64 context_id = 1"],
    "GetExecutionsByContextResponse": ["repeated Execution executions = 1"],
    "GetEventsByExecutionIDsRequest": ["repeated int64 execution_ids = 1"],
    "GetEventsByExecutionIDsResponse": ["repeated Event events = 1"],
    "GetArtifactsByIDRequest": ["repeated int64 artifact_ids = 1"],
    "GetArtifactsByIDResponse": ["repeated Artifact artifacts = 1"],
    "GetArtifactTypesRequest": [],
    "GetArtifactTypesResponse": ["repeated ArtifactType artifact_types = 1"],
}  # fmt: skip
_SCALARS = {
    "int64": _T.TYPE_INT64,
    "int32": _T.TYPE_INT32,
    "double": _T.TYPE_DOUBLE,
    "string": _T.TYPE_STRING,
    "bool": _T.TYPE_BOOL,
}
#: messages whose field 5 is `map<string, Value> custom_properties`
_WITH_CUSTOM_PROPERTIES = ("Artifact", "Execution", "Context")


@functools.lru_cache(maxsize=1)
def messages() -> dict[str, Any]:
    """The message classes, built once from the declarations above."""
    file = descriptor_pb2.FileDescriptorProto(
        name="kfp_notebook/ml_metadata_subset.proto", package="ml_metadata", syntax="proto2"
    )
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for declaration in fields:
            label, kind, field_name, _, number = declaration.split()
            field = message.field.add(name=field_name, number=int(number))
            field.label = _T.LABEL_REPEATED if label == "repeated" else _T.LABEL_OPTIONAL
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type, field.type_name = _T.TYPE_MESSAGE, f".{kind}" if "." in kind else f".ml_metadata.{kind}"
        if name in _WITH_CUSTOM_PROPERTIES:
            entry = message.nested_type.add(name="CustomPropertiesEntry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_T.TYPE_STRING, label=_T.LABEL_OPTIONAL)
            entry.field.add(
                name="value", number=2, type=_T.TYPE_MESSAGE, label=_T.LABEL_OPTIONAL, type_name=".ml_metadata.Value"
            )
            message.field.add(name="custom_properties", number=5, type=_T.TYPE_MESSAGE, label=_T.LABEL_REPEATED,
                              type_name=f".ml_metadata.{name}.CustomPropertiesEntry")  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    struct_file = descriptor_pb2.FileDescriptorProto()
    struct_pb2.DESCRIPTOR.CopyToProto(struct_file)
    pool.Add(struct_file)
    file.dependency.append(struct_file.name)
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"ml_metadata.{name}")) for name in _MESSAGES
    }


class MlmdError(Exception):
    """A grpc-web call to ML Metadata failed (its grpc-status and message)."""


def frame(payload: bytes) -> bytes:
    """A grpc-web data frame: flag 0, big-endian length, the message."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def unframe(body: bytes, headers: dict[str, str]) -> bytes:
    """The message of a grpc-web answer; raises MlmdError for a non-zero grpc-status."""
    message, status, text = b"", headers.get("grpc-status", "0"), headers.get("grpc-message", "")
    position = 0
    while position + 5 <= len(body):
        flag, length = body[position], int.from_bytes(body[position + 1 : position + 5], "big")
        chunk = body[position + 5 : position + 5 + length]
        position += 5 + length
        if flag & 0x80:
            trailers = dict(line.split(":", 1) for line in chunk.decode().splitlines() if ":" in line)
            status = trailers.get("grpc-status", status).strip()
            text = urllib.parse.unquote(trailers.get("grpc-message", text).strip())
        else:
            message = chunk
    if status != "0":
        raise MlmdError(f"grpc-status {status}: {text}")
    return message


Post = Callable[[str, bytes], tuple[int, bytes, dict[str, str]]]


class MetadataClient:
    """Calls MetadataStoreService through a POST function (the UI host's grpc-web proxy)."""

    def __init__(self, post: Post):
        self.post = post

    def call(self, method: str, request: Any, response_type: str) -> Any:
        status, body, headers = self.post(f"/{SERVICE}/{method}", frame(request.SerializeToString()))
        if status != 200:
            raise MlmdError(f"HTTP {status} from {SERVICE}/{method}")
        reply = messages()[response_type]()
        reply.ParseFromString(unframe(body, {k.lower(): v for k, v in headers.items()}))
        return reply

    def run_metrics(self, run_id: str) -> list[tuple[str, dict[str, float]]]:
        """(task name, {metric: value}) for every system.Metrics artifact the run's executions produced."""
        rows = [
            (task, _values(artifact)) for task, _, kind, artifact, _ in self.run_outputs(run_id) if kind == METRICS_TYPE
        ]
        return [(name, values) for name, values in rows if values]

    def run_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """Every output artifact of the run: task, output name, type, uri and metadata (lists and dicts included),
        and the id of the execution that produced it."""
        return [
            {"task": task, "name": output, "type": kind, "uri": artifact.uri, "metadata": _metadata(artifact),
             "execution": execution}
            for task, output, kind, artifact, execution in self.run_outputs(run_id)
        ]  # fmt: skip

    def run_executions(self, run_id: str) -> list[dict[str, Any]]:
        """The run's executions as a tree: id, task name, the id of the DAG execution it ran in (None for the
        root DAG), and the output parameter values the launcher recorded."""
        found = []
        for execution in self._executions(run_id):
            properties = execution.custom_properties
            parent = properties["parent_dag_id"].int_value if "parent_dag_id" in properties else None
            outputs = properties.get("outputs")
            recorded = outputs is not None and outputs.HasField("struct_value")
            values = json_format.MessageToDict(outputs.struct_value) if recorded else {}
            found.append({"id": execution.id, "name": execution.name, "task": _task_name(execution),
                          "parent": parent, "outputs": values})  # fmt: skip
        return found

    def run_parameters(self, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Task name → {"inputs": {...}, "outputs": {...}}: the parameter values KFP's driver and launcher recorded."""
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for execution in self._executions(run_id):
            values = found.setdefault(_task_name(execution), {"inputs": {}, "outputs": {}})
            for key in ("inputs", "outputs"):
                value = execution.custom_properties.get(key)
                if value is not None and value.HasField("struct_value"):
                    values[key].update(json_format.MessageToDict(value.struct_value))
        return found

    def _executions(self, run_id: str) -> list[Any]:
        m = messages()
        context = self.call(
            "GetContextByTypeAndName",
            m["GetContextByTypeAndNameRequest"](type_name=RUN_CONTEXT_TYPE, context_name=run_id),
            "GetContextByTypeAndNameResponse",
        ).context
        if not context.id:
            return []
        return list(
            self.call(
                "GetExecutionsByContext",
                m["GetExecutionsByContextRequest"](context_id=context.id),
                "GetExecutionsByContextResponse",
            ).executions
        )

    def run_outputs(self, run_id: str) -> list[tuple[str, str, str, Any, int]]:
        """(task name, output name, type name, MLMD artifact, execution id) for each artifact the run's executions
        produced."""
        m = messages()
        executions = self._executions(run_id)
        if not executions:
            return []
        events = self.call(
            "GetEventsByExecutionIDs",
            m["GetEventsByExecutionIDsRequest"](execution_ids=[e.id for e in executions]),
            "GetEventsByExecutionIDsResponse",
        ).events
        produced = {e.artifact_id: e for e in events if e.type == OUTPUT_EVENT}
        if not produced:
            return []
        artifacts = self.call(
            "GetArtifactsByID", m["GetArtifactsByIDRequest"](artifact_ids=sorted(produced)), "GetArtifactsByIDResponse"
        ).artifacts
        type_names = self._type_names() if any(not a.type for a in artifacts) else {}
        by_id = {e.id: e for e in executions}
        rows = []
        for artifact in artifacts:
            event = produced[artifact.id]
            output = next((step.key for step in event.path.steps if step.key), "") or artifact.name
            kind = artifact.type or type_names.get(artifact.type_id, "")
            rows.append((_task_name(by_id.get(event.execution_id)), output, kind, artifact, event.execution_id))
        return rows

    def _type_names(self) -> dict[int, str]:
        types = self.call(
            "GetArtifactTypes", messages()["GetArtifactTypesRequest"](), "GetArtifactTypesResponse"
        ).artifact_types
        return {t.id: t.name for t in types}


def _task_name(execution: Any) -> str:
    if execution is None:
        return "?"
    for key in ("task_name", "display_name"):
        if key in execution.custom_properties and execution.custom_properties[key].string_value:
            return execution.custom_properties[key].string_value
    return execution.name or str(execution.id)


def _values(artifact: Any) -> dict[str, float]:
    values = {}
    for key, value in artifact.custom_properties.items():
        if key in NOT_METRICS:
            continue
        kind = value.WhichOneof("value") if value.DESCRIPTOR.oneofs else None
        if kind is None:
            kind = (
                "double_value"
                if value.HasField("double_value")
                else "int_value"
                if value.HasField("int_value")
                else None
            )
        if kind in ("double_value", "int_value"):
            values[key] = float(getattr(value, kind))
    return values


def _metadata(artifact: Any) -> dict[str, Any]:
    """An artifact's custom properties as plain values; KFP stores a list as a struct {"list": [...]}."""
    values: dict[str, Any] = {}
    for key, value in artifact.custom_properties.items():
        if value.HasField("struct_value"):
            plain = json_format.MessageToDict(value.struct_value)
            values[key] = plain["list"] if set(plain) == {"list"} else plain
        else:
            for kind in ("string_value", "double_value", "int_value", "bool_value"):
                if value.HasField(kind):
                    values[key] = getattr(value, kind)
    return values
