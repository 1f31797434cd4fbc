"""A real ML Metadata store (ml-metadata 1.17.1, in-process) served over grpc-web on 127.0.0.1.

Runs in its own virtual environment (.venv-mlmd: ml-metadata needs protobuf < 5, kfp needs >= 6.31).
POST /ml_metadata.MetadataStoreService/<Method> answers with the store's real messages; POST /seed
records a run the way KFP's launcher does (context system.PipelineRun named by the run id, one
system.ContainerExecution per task with task_name, its system.Metrics artifact as an OUTPUT event).
Prints its port on the first line of stdout.
"""

import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2

config = metadata_store_pb2.ConnectionConfig()
config.fake_database.SetInParent()
STORE = metadata_store.MetadataStore(config)


def type_id(kind, name):
    put = {
        "context": STORE.put_context_type,
        "execution": STORE.put_execution_type,
        "artifact": STORE.put_artifact_type,
    }
    message = {
        "context": metadata_store_pb2.ContextType,
        "execution": metadata_store_pb2.ExecutionType,
        "artifact": metadata_store_pb2.ArtifactType,
    }
    return put[kind](message[kind](name=name))


def artifact_of(spec):
    """An artifact as the launcher records it: numbers as doubles, texts as strings, lists/dicts as structs."""
    artifact = metadata_store_pb2.Artifact(type_id=type_id("artifact", spec["type"]), uri=spec["uri"])
    artifact.custom_properties["display_name"].string_value = spec["name"]
    for key, value in spec.get("metadata", {}).items():
        target = artifact.custom_properties[key]
        if isinstance(value, str):
            target.string_value = value
        elif isinstance(value, (int, float)):
            target.double_value = value
        else:
            target.struct_value.update({"list": value} if isinstance(value, list) else value)
    return artifact


def seed(run_id, tasks, artifacts=None, parameters=None, states=None, inputs=None):
    """Record a run as KFP's launcher does: its context, an execution per task, Metrics artifacts as outputs.

    `artifacts` maps a task to more output artifacts: {"name", "type", "uri", "metadata"} each;
    `parameters` maps a task to {"inputs": {...}, "outputs": {...}}, recorded as the driver and launcher do
    (struct custom properties `inputs` and `outputs` of the execution). A task named by its path ("fit/train")
    runs in the DAG executions of its groups; every task runs in the root DAG's execution (run/<run id>); a group
    with an index ("for-loop-2[1]/shard") is a ParallelFor's iteration, a DAG execution with its iteration_index
    inside the loop's own. `states` maps a task to its MLMD state name (FAILED, ...; COMPLETE by default);
    `inputs` maps a task to {input name: [[producer task, output name], ...]}, recorded as the driver records
    input artifacts (an INPUT event per artifact, keyed by the input's name).
    """
    artifacts, parameters = artifacts or {}, parameters or {}
    context = metadata_store_pb2.Context(type_id=type_id("context", "system.PipelineRun"), name=run_id)
    [context_id] = STORE.put_contexts([context])
    context.id = context_id
    execution_type = type_id("execution", "system.ContainerExecution")
    metrics_type = type_id("artifact", "system.Metrics")
    dataset_type = type_id("artifact", "system.Dataset")
    dags = {"": dag_execution(f"run/{run_id}", "", None, context)}
    made = {}  # (task, output name) → artifact id
    for task, values in tasks.items():
        state = (states or {}).get(task, "COMPLETE")
        execution = metadata_store_pb2.Execution(
            type_id=execution_type, last_known_state=metadata_store_pb2.Execution.State.Value(state)
        )
        group, _, name = task.rpartition("/")  # "fit/train": task train inside the DAG execution of fit
        execution.custom_properties["task_name"].string_value = name
        execution.custom_properties["display_name"].string_value = name
        execution.custom_properties["parent_dag_id"].int_value = dag_of(group, dags, context)
        for key, recorded in parameters.get(task, {}).items():
            execution.custom_properties[key].struct_value.update(recorded)
        metrics = metadata_store_pb2.Artifact(
            type_id=metrics_type, uri=f"minio://mlpipeline/v2/artifacts/{run_id}/{task}/metrics"
        )
        metrics.custom_properties["display_name"].string_value = "metrics"
        for name, value in values.items():
            metrics.custom_properties[name].double_value = value
        dataset = metadata_store_pb2.Artifact(
            type_id=dataset_type, uri=f"minio://mlpipeline/v2/artifacts/{run_id}/{task}/data"
        )
        produced = [(metrics, "metrics"), (dataset, "data")]
        for extra in artifacts.get(task, []):
            produced.append((artifact_of(extra), extra["name"]))
        outputs = []
        for artifact, key in produced:
            event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
            event.path.steps.add().key = key
            outputs.append((artifact, event))
        for name, sources in (inputs or {}).get(task, {}).items():
            for producer, key in sources:
                event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.INPUT)
                event.path.steps.add().key = name
                [existing] = STORE.get_artifacts_by_id([made[(producer, key)]])
                outputs.append((existing, event))
        _, artifact_ids, _ = STORE.put_execution(execution, outputs, [context])
        for (_, key), artifact_id in zip(produced, artifact_ids[: len(produced)], strict=True):  # inputs come after
            made[(task, key)] = artifact_id
    return context_id


def dag_execution(name, task, parent, context, iteration=None):
    """A system.DAGExecution as KFP's driver records it: the root named run/<run id>, others with their task_name
    and the id of the DAG execution they ran in (parent_dag_id)."""
    execution = metadata_store_pb2.Execution(
        type_id=type_id("execution", "system.DAGExecution"), last_known_state=metadata_store_pb2.Execution.COMPLETE
    )
    if name:
        execution.name = name
    execution.custom_properties["task_name"].string_value = task
    execution.custom_properties["display_name"].string_value = task
    if parent is not None:
        execution.custom_properties["parent_dag_id"].int_value = parent
    if iteration is not None:
        execution.custom_properties["iteration_index"].int_value = iteration
    [execution_id, *_] = STORE.put_execution(execution, [], [context])
    return execution_id


def dag_of(group, dags, context):
    """The DAG execution of a group path ("" the root, "fit", "fit/inner"), made on first use."""
    if group not in dags:
        parent, _, task = group.rpartition("/")
        name, _, index = task.partition("[")
        if index:  # an iteration: inside the loop's own DAG execution, with its index
            loop = dag_of(f"{parent}/{name}" if parent else name, dags, context)
            dags[group] = dag_execution("", name, loop, context, int(index.rstrip("]")))
        else:
            dags[group] = dag_execution("", task, dag_of(parent, dags, context), context)
    return dags[group]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        return

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urllib.parse.urlparse(self.path).path
        if path == "/seed":
            document = json.loads(body)
            context_id = seed(
                document["run_id"],
                document["tasks"],
                document.get("artifacts"),
                document.get("parameters"),
                document.get("states"),
                document.get("inputs"),
            )
            return self.reply(200, json.dumps({"context_id": context_id}).encode(), "application/json")
        method = path.rsplit("/", 1)[1]
        request = getattr(metadata_store_service_pb2, f"{method}Request")()
        response = getattr(metadata_store_service_pb2, f"{method}Response")()
        request.ParseFromString(body[5 : 5 + int.from_bytes(body[1:5], "big")])
        try:
            STORE._call(method, request, response)
            status, text = "0", ""
        except Exception as exc:  # the error goes back as grpc-status, as envoy's grpc-web filter does
            status, text = "5" if "NotFound" in type(exc).__name__ else "13", urllib.parse.quote(str(exc))
        payload = response.SerializeToString()
        trailer = f"grpc-status:{status}\r\ngrpc-message:{text}\r\n".encode()
        data = b"\x00" + len(payload).to_bytes(4, "big") + payload + b"\x80" + len(trailer).to_bytes(4, "big") + trailer
        self.reply(200, data, "application/grpc-web+proto")

    def reply(self, status, data, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()
