"""A contract server for the KFP v2beta1 REST routes kfp.Client uses, on 127.0.0.1.

Request bodies are read into kfp_server_api 2.17 models (unknown fields refused), responses are built
from those models and serialized by kfp_server_api, so the real `kfp.Client` parses them. Runs follow
scripted progressions (one step per GET); faults can be injected per route.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

import kfp_server_api
import yaml

from loopback import serving

API = "/apis/v2beta1"
_CLIENT = kfp_server_api.ApiClient()


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def serialize(model: Any) -> Any:
    return _CLIENT.sanitize_for_serialization(model)


def read_model(body: dict[str, Any], kind: str) -> Any:
    """The body as a kfp_server_api model; fields the model does not have are refused."""
    model = getattr(kfp_server_api, kind)
    unknown = set(body) - set(model.attribute_map.values())
    if unknown:
        raise ValueError(f"unknown fields for {kind}: {sorted(unknown)}")

    class _Response:
        data = json.dumps(body)

    return _CLIENT.deserialize(_Response(), kind)


@dataclass
class Fault:
    """Make `count` requests matching method and path fail: "status:500", "reset", "delay:3"."""

    method: str
    path: str
    kind: str
    count: int = 1


@dataclass
class State:
    experiments: dict[str, Any] = field(default_factory=dict)
    pipelines: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, list[Any]] = field(default_factory=dict)
    runs: dict[str, Any] = field(default_factory=dict)
    scripts: dict[str, list[tuple[str, list[dict[str, Any]]]]] = field(default_factory=dict)
    next_script: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    retry_script: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)  # a retried run's progression
    retries: list[str] = field(default_factory=list)  # run ids retried
    faults: list[Fault] = field(default_factory=list)
    pod_logs: dict[str, str] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    mlmd_upstream: str = ""
    dex_users: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    session_uses: int = 1_000_000
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        if self._dex(method):
            return
        url = urlparse(self.path.removeprefix("/pipeline"))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() in ("authorization", "cookie")}
        with self.state.lock:
            self.state.requests.append((method, url.path, headers))
        if self._fault(method, url.path):
            return
        if url.path.startswith("/ml_metadata.MetadataStoreService/") and method == "POST":
            return self._mlmd(url.path.rsplit("/", 1)[1])
        if url.path == "/apis/v1beta1/healthz" and method == "GET":  # the v1 route still reports the version
            return self._reply(200, {"commit_sha": "0123abc", "tag_name": "2.5.0", "multi_user": False})
        if url.path == "/k8s/pod/logs" and method == "GET":
            pod = query.get("podname", "")
            if not pod:
                return self._reply(400, {"error": "podname is required"})
            text = self.state.pod_logs.get(pod)
            return self._text(200, text) if text is not None else self._text(404, f"pod {pod} not found")
        if url.path == "/artifacts/get" and method == "GET":
            return self._artifact(query)
        for pattern, route_method, action in ROUTES:
            match = re.fullmatch(API + pattern, url.path)
            if match and route_method == method:
                try:
                    status, body = action(self, query, *match.groups())
                except (ValueError, KeyError) as exc:
                    status, body = 400, {"error": str(exc), "code": 3, "message": str(exc)}
                return self._reply(status, body)
        self._reply(404, {"error": f"no route {method} {url.path}", "code": 5, "message": "Not Found"})

    def _dex(self, method: str) -> bool:
        """With Dex users set: a login through redirects and a form; API calls need the session cookie."""
        if not self.state.dex_users:
            return False
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/dex/auth":
            return self._redirect(f"/dex/auth/local/login?back=&state={query.get('state', '')}")
        if url.path == "/dex/auth/local/login":
            if method == "GET":
                return self._html(
                    '<form method="post"><input name="login"><input name="password" type="password"></form>'
                )
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.state.dex_users.get(form.get("login", "")) != form.get("password"):
                return self._html("Invalid Email Address and password")
            return self._redirect(f"/oauth2/callback?code=c0de&state={query.get('state', '')}", 303)
        if url.path == "/oauth2/callback":
            cookie = uuid.uuid4().hex
            with self.state.lock:
                self.state.sessions[cookie] = self.state.session_uses
                self.state.logins += 1
            return self._redirect("/", cookie=f"oauth2_proxy_kubeflow={cookie}; Path=/")
        if self._session_ok():
            return self._html("Kubeflow Central Dashboard") if url.path in ("/", "/pipeline", "/pipeline/") else False
        if url.path.startswith(("/pipeline/apis", "/apis", "/k8s")):
            self._reply(401, {"error": "unauthorized", "code": 16, "message": "Unauthorized"})
            return True
        return self._redirect("/dex/auth?client_id=kubeflow-oidc-authservice&state=st4te")

    def _session_ok(self) -> bool:
        cookies = dict(
            part.strip().split("=", 1) for part in (self.headers.get("Cookie") or "").split(";") if "=" in part
        )
        value = cookies.get("oauth2_proxy_kubeflow")
        with self.state.lock:
            if value not in self.state.sessions or self.state.sessions[value] <= 0:
                return False
            self.state.sessions[value] -= 1
        return True

    def _redirect(self, location: str, status: int = 302, cookie: str | None = None) -> bool:
        self.send_response(status)
        self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _html(self, text: str) -> bool:
        data = f"<html><body>{text}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def _fault(self, method: str, path: str) -> bool:
        with self.state.lock:
            fault = next(
                (f for f in self.state.faults if f.method == method and re.fullmatch(f.path, path) and f.count > 0),
                None,
            )
            if fault is not None:
                fault.count -= 1
        if fault is None:
            return False
        kind, _, value = fault.kind.partition(":")
        if kind == "delay":
            time.sleep(float(value))
            return False
        if kind == "reset":
            self.connection.close()
            return True
        self._reply(int(value), {"error": "injected", "code": 13, "message": f"injected {value}"})
        return True

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _mlmd(self, method: str) -> None:
        """The UI host's grpc-web route to ML Metadata: forwarded to the MLMD server, as the KFP UI proxies it."""
        import urllib.request

        length = int(self.headers.get("Content-Length") or 0)
        if not self.state.mlmd_upstream:
            return self._text(503, "no ML Metadata behind this UI")
        request = urllib.request.Request(
            f"{self.state.mlmd_upstream}/ml_metadata.MetadataStoreService/{method}",
            data=self.rfile.read(length),
            headers={"Content-Type": self.headers.get("Content-Type", "")},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/grpc-web+proto")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _artifact(self, query: dict[str, str]) -> None:
        """The KFP UI's artifact download: an object (its first `peek` bytes), or a folder as a .tar.gz."""
        if query.get("source") not in ("minio", "s3", "gcs") or not query.get("bucket") or not query.get("key"):
            return self._text(400, "source, bucket and key are required")
        path = f"{query['bucket']}/{query['key']}"
        data = self.state.objects.get(path)
        if data is not None:
            peek = int(query.get("peek") or 0)
            return self._bytes(data[:peek] if peek else data, "application/octet-stream", "attachment")
        inside = {k[len(path) + 1 :]: v for k, v in self.state.objects.items() if k.startswith(path + "/")}
        if not inside:
            return self._text(404, f"No objects found at {path}")
        if query.get("peek"):
            return self._text(200, f"Directory artifact - {len(inside)} file(s). Download to view contents.\n")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in inside.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
        name = path.rsplit("/", 1)[-1]
        self._bytes(buffer.getvalue(), "application/gzip", f'attachment; filename="{name}.tar.gz"')

    def _bytes(self, data: bytes, content_type: str, disposition: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Disposition", disposition)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def upload(self) -> dict[str, Any]:
        """The pipeline spec from a multipart `uploadfile` field (as PipelineUploadService reads it)."""
        length = int(self.headers.get("Content-Length") or 0)
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + self.rfile.read(length))
        files = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "uploadfile"]
        if not files:
            raise ValueError("multipart field 'uploadfile' is missing")
        documents = list(yaml.safe_load_all(files[0].get_payload(decode=True)))
        if not documents or "pipelineInfo" not in documents[0]:
            raise ValueError("uploadfile is not a compiled pipeline")
        return documents[0]


# -- routes --------------------------------------------------------------------------------------


def healthz(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    return 200, serialize(kfp_server_api.V2beta1GetHealthzResponse(multi_user=False, pipeline_store="database"))


def _filtered(items: list[Any], query: dict[str, str], key: str) -> list[Any]:
    if "filter" not in query:
        return items
    predicates = json.loads(query["filter"]).get("predicates", [])
    for predicate in predicates:
        value = predicate.get("stringValue", predicate.get("string_value"))
        field_name = predicate["key"]
        items = [i for i in items if getattr(i, field_name if field_name != "name" else key, None) == value]
    return items


def list_experiments(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    items = _filtered(list(handler.state.experiments.values()), query, "display_name")
    return 200, serialize(
        kfp_server_api.V2beta1ListExperimentsResponse(experiments=items or None, total_size=len(items))
    )


def create_experiment(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    experiment = read_model(handler.body(), "V2beta1Experiment")
    if not experiment.display_name:
        raise ValueError("experiment display_name is required")
    experiment.experiment_id, experiment.created_at = str(uuid.uuid4()), now()
    handler.state.experiments[experiment.experiment_id] = experiment
    return 200, serialize(experiment)


def list_pipelines(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    items = _filtered(list(handler.state.pipelines.values()), query, "display_name")
    return 200, serialize(kfp_server_api.V2beta1ListPipelinesResponse(pipelines=items or None, total_size=len(items)))


def get_pipeline(handler: Handler, query: dict[str, str], pipeline_id: str) -> tuple[int, Any]:
    pipeline = handler.state.pipelines.get(pipeline_id)
    if pipeline is None:
        return 404, {"error": "pipeline not found", "code": 5, "message": "NotFound"}
    return 200, serialize(pipeline)


def upload_pipeline(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    spec = handler.upload()
    name = query.get("name") or spec["pipelineInfo"]["name"]
    if any(p.display_name == name for p in handler.state.pipelines.values()):
        return 409, {"error": f"pipeline {name} already exists", "code": 6, "message": "AlreadyExists"}
    pipeline = kfp_server_api.V2beta1Pipeline(
        pipeline_id=str(uuid.uuid4()), display_name=name, name=name, created_at=now()
    )
    handler.state.pipelines[pipeline.pipeline_id] = pipeline
    handler.state.versions[pipeline.pipeline_id] = [_version(pipeline.pipeline_id, name, spec)]
    return 200, serialize(pipeline)


def _version(pipeline_id: str, name: str, spec: dict[str, Any]) -> Any:
    return kfp_server_api.V2beta1PipelineVersion(
        pipeline_id=pipeline_id,
        pipeline_version_id=str(uuid.uuid4()),
        display_name=name,
        name=name,
        created_at=now(),
        pipeline_spec=spec,
    )


def upload_version(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    spec = handler.upload()
    pipeline_id = query["pipelineid"]
    if pipeline_id not in handler.state.pipelines:
        return 404, {"error": "pipeline not found", "code": 5, "message": "NotFound"}
    version = _version(pipeline_id, query.get("name") or "version", spec)
    handler.state.versions[pipeline_id].append(version)
    return 200, serialize(version)


def list_versions(handler: Handler, query: dict[str, str], pipeline_id: str) -> tuple[int, Any]:
    versions = list(reversed(handler.state.versions.get(pipeline_id, [])))
    size = int(query.get("page_size") or len(versions) or 1)
    return 200, serialize(
        kfp_server_api.V2beta1ListPipelineVersionsResponse(
            pipeline_versions=versions[:size] or None, total_size=len(versions)
        )
    )


def get_version(handler: Handler, query: dict[str, str], pipeline_id: str, version_id: str) -> tuple[int, Any]:
    found = [v for v in handler.state.versions.get(pipeline_id, []) if v.pipeline_version_id == version_id]
    if not found:
        return 404, {"error": "pipeline version not found", "code": 5, "message": "NotFound"}
    return 200, serialize(found[0])


def create_run(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    run = read_model(handler.body(), "V2beta1Run")
    if not run.display_name:
        raise ValueError("run display_name is required")
    reference = run.pipeline_version_reference
    if run.pipeline_spec is None and (reference is None or not reference.pipeline_id):
        raise ValueError("a run needs pipeline_spec or pipeline_version_reference")
    if run.experiment_id and run.experiment_id not in handler.state.experiments:
        return 404, {"error": "experiment not found", "code": 5, "message": "NotFound"}
    run.run_id, run.created_at, run.state = str(uuid.uuid4()), now(), "PENDING"
    run.storage_state = "AVAILABLE"
    handler.state.runs[run.run_id] = run
    handler.state.scripts[run.run_id] = list(handler.state.next_script) or [("SUCCEEDED", [])]
    return 200, serialize(run)


def get_run(handler: Handler, query: dict[str, str], run_id: str) -> tuple[int, Any]:
    run = handler.state.runs.get(run_id)
    if run is None:
        return 404, {"error": "run not found", "code": 5, "message": "NotFound"}
    script = handler.state.scripts[run_id]
    if script:
        state, details = script.pop(0)
        run.state = state
        tasks = [read_model({"run_id": run_id, **d}, "V2beta1PipelineTaskDetail") for d in details]
        run.run_details = kfp_server_api.V2beta1RunDetails(task_details=tasks or None)
        if state in ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"):
            run.finished_at = now()
    return 200, serialize(run)


def list_runs(handler: Handler, query: dict[str, str]) -> tuple[int, Any]:
    runs = [
        r
        for r in handler.state.runs.values()
        if not query.get("experiment_id") or r.experiment_id == query["experiment_id"]
    ]
    runs = _filtered(runs, query, "display_name")
    return 200, serialize(kfp_server_api.V2beta1ListRunsResponse(runs=runs or None, total_size=len(runs)))


def _retry_error(code: int, message: str, external: str) -> dict[str, Any]:
    """A KFP API error as grpc-gateway writes it: the wrapped internal message, the external one in details."""
    detail = {"@type": "type.googleapis.com/google.rpc.Status", "code": code, "message": external}
    return {"error": message, "code": code, "message": message, "details": [detail]}


def retry_run(handler: Handler, query: dict[str, str], run_id: str) -> tuple[int, Any]:
    """RetryRun as KFP's API server does it (resource_manager.RetryRun): an unknown run is NotFound; only a run
    whose workflow is Failed/Error (a FAILED run, or a terminated one: CANCELED) is retried, in place: the
    same run goes back to RUNNING; any other is InvalidArgument with the server's words."""
    run = handler.state.runs.get(run_id)
    if run is None:
        message = (
            f"Failed to retry a run: Failed to retry run {run_id} due to error fetching the run: "
            f"Failed to fetch run {run_id}: ResourceNotFoundError: Run {run_id} not found"
        )
        return 404, _retry_error(5, message, f"Run {run_id} not found")
    if run.state not in ("FAILED", "CANCELED"):
        external = "Workflow must be Failed/Error to retry"
        message = f"Failed to retry a run: Failed to retry run {run_id}: BadRequestError: {external}: workflow cannot be retried"
        return 400, _retry_error(3, message, external)
    run.state, run.finished_at = "RUNNING", None
    handler.state.retries.append(run_id)
    handler.state.scripts[run_id] = list(handler.state.retry_script) or [("SUCCEEDED", [])]
    return 200, {}


def terminate_run(handler: Handler, query: dict[str, str], run_id: str) -> tuple[int, Any]:
    if run_id not in handler.state.runs:
        return 404, {"error": "run not found", "code": 5, "message": "NotFound"}
    handler.state.runs[run_id].state = "CANCELING"
    handler.state.scripts[run_id] = [("CANCELED", [])]
    return 200, {}


ROUTES = [
    ("/healthz", "GET", healthz),
    ("/experiments", "GET", list_experiments),
    ("/experiments", "POST", create_experiment),
    ("/pipelines", "GET", list_pipelines),
    ("/pipelines/upload", "POST", upload_pipeline),
    ("/pipelines/upload_version", "POST", upload_version),
    ("/pipelines/([^/]+)/versions", "GET", list_versions),
    ("/pipelines/([^/]+)/versions/([^/]+)", "GET", get_version),
    ("/pipelines/([^/]+)", "GET", get_pipeline),
    ("/runs", "POST", create_run),
    ("/runs", "GET", list_runs),
    ("/runs/([^/:]+)", "GET", get_run),
    ("/runs/([^/:]+):terminate", "POST", terminate_run),
    ("/runs/([^/:]+):retry", "POST", retry_run),
]


@contextmanager
def contract_server() -> Iterator[tuple[str, State]]:
    """Serve the contract on 127.0.0.1; yields (host URL, state) and stops the server afterwards."""
    state = State()
    handler = type("BoundHandler", (Handler,), {"state": state})
    with serving(handler) as url:
        yield url, state


def argo_details(
    ir: Any, states: dict[str, Any], run_state: str = "RUNNING", workflow: str = "wf-x1y2z"
) -> list[dict[str, Any]]:
    """Task details shaped like KFP 2.17's (one flat entry per Argo node) for the tasks named in `states`.

    `states` maps a task name to its state, or, for a task inside a ParallelFor, to a list with one
    state per iteration.
    """
    entries = [_entry(workflow, run_state), _entry("root-driver", "SUCCEEDED"), _entry("root", run_state)]
    for task in ir.walk():
        name, is_dag = task.name, task.is_group
        state = states.get(name)
        if state is None:
            continue
        for one in state if isinstance(state, list) else [state]:
            if task.loop is not None:
                entries += [
                    _entry(name, one),
                    _entry("iteration-driver", "SUCCEEDED"),
                    _entry("iteration-iterations", one),
                ]
                continue
            entries += [_entry(f"{name}-driver", "SUCCEEDED"), _entry(name, one, children=1)]
            if not is_dag:
                entries.append(_entry("executor", one))
    return entries


def _entry(name: str, state: str, children: int = 0) -> dict[str, Any]:
    entry: dict[str, Any] = {"task_id": str(uuid.uuid4()), "display_name": name, "create_time": now().isoformat()}
    if state:
        entry["state"] = state
    if children:
        entry["child_tasks"] = [{"pod_name": f"wf-x1y2z-{_fnv32a(name)}"}]
    return entry


def _fnv32a(text: str) -> int:
    """Argo's node-id hash (FNV-1a, 32 bits) of a node name."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def executor_pod_name(task: str, workflow: str = "wf-x1y2z") -> str:
    return f"{workflow}-system-container-impl-{_fnv32a(task)}"


@contextmanager
def connected_notebook(ip: Any, mlmd_url: str, cells: list[str]) -> Iterator[tuple[str, State]]:
    """A notebook that ran `cells` and `%kfp connect`ed (token auth) to a contract server whose UI proxies ML
    Metadata at `mlmd_url`; the caller sets KFP_NOTEBOOK_TOKEN and a private XDG_CONFIG_HOME."""
    with contract_server() as (host, state):
        state.mlmd_upstream = mlmd_url
        for cell in ["%config KfpMagics.panel = False", *cells]:
            ip.run_cell(cell)
        ip.run_cell(f"%kfp connect --host {host} --auth token")
        yield host, state
