"""A Kubernetes API stand-in on 127.0.0.1 for the read-only calls the doctor makes.

Routes, methods, query parameters and response types are read from the `kubernetes` client's own
CoreV1Api operations, so a request the client would not send (a write, an unknown parameter, a wrong
path) is refused and recorded. Answers are `kubernetes.client` models serialized by its ApiClient;
a 403 is a V1Status as the API server writes it. Secrets carry values, which must never be shown.
"""

from __future__ import annotations

import inspect
import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

from loopback import serving

TOKEN = "kube-t0ken-do-not-show"
_API = client.ApiClient()
OPERATIONS = [
    "read_namespace",
    "list_namespaced_secret",
    "list_namespaced_persistent_volume_claim",
    "list_node",
    "list_namespaced_pod",
    "read_namespaced_pod_log",
]


@dataclass(frozen=True)
class Operation:
    """One CoreV1Api operation as the client defines it: method, path pattern, query names, response type."""

    name: str
    method: str
    pattern: re.Pattern[str]
    query: frozenset[str]
    response: str


def operation(name: str) -> Operation:
    source = inspect.getsource(getattr(client.CoreV1Api, f"{name}_with_http_info"))
    path, method = re.search(r"'(/api/v1[^']*)', '(\w+)'", source).groups()
    pattern = re.compile(re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(path)) + "$")
    query = frozenset(re.findall(r"query_params\.append\(\('(\w+)'", source))
    response = re.search(r"response_type='(\w+)'", source).group(1)
    return Operation(name, method, pattern, query, response)


ROUTES = [operation(name) for name in OPERATIONS]
RESOURCES = {
    "read_namespace": ("get", "namespaces"),
    "list_namespaced_secret": ("list", "secrets"),
    "list_namespaced_persistent_volume_claim": ("list", "persistentvolumeclaims"),
    "list_node": ("list", "nodes"),
    "list_namespaced_pod": ("list", "pods"),
    "read_namespaced_pod_log": ("get", "pods/log"),
}


@dataclass
class Cluster:
    namespaces: list[Any] = field(default_factory=list)
    secrets: list[Any] = field(default_factory=list)
    pvcs: list[Any] = field(default_factory=list)
    nodes: list[Any] = field(default_factory=list)
    pods: list[Any] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, operation_name: str) -> list[dict[str, str]]:
        route = next(r for r in ROUTES if r.name == operation_name)
        return [q for method, path, q in self.requests if route.pattern.match(path)]


class Handler(BaseHTTPRequestHandler):
    cluster: Cluster

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    do_PUT = do_PATCH = do_DELETE = do_POST

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.cluster.lock:
            self.cluster.requests.append((method, url.path, query))
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != TOKEN:  # the API server reads the scheme case-insensitively
            return self._status(401, "Unauthorized", "Unauthorized")
        for route in ROUTES:
            match = route.pattern.match(url.path)
            if match and route.method == method:
                return self._serve(route, query, match.groups())
        self.cluster.refused.append(f"{method} {url.path}")
        self._status(405 if method != "GET" else 404, "MethodNotAllowed", f"{method} {url.path} is not served")

    def _serve(self, route: Operation, query: dict[str, str], args: tuple[str, ...]) -> None:
        unknown = set(query) - route.query
        if unknown:
            self.cluster.refused.append(f"{route.name}: unknown query {sorted(unknown)}")
            return self._status(400, "BadRequest", f"unknown query parameters {sorted(unknown)}")
        self.route = route
        verb, resource = RESOURCES[route.name]
        if resource in self.cluster.forbidden:
            where = f' in the namespace "{args[0]}"' if args and route.name != "read_namespace" else ""
            message = f'{resource} is forbidden: User "tester" cannot {verb} resource "{resource}"{where}'
            return self._status(403, "Forbidden", message)
        getattr(self, f"_{route.name}")(query, *args)

    def _read_namespace(self, query: dict[str, str], name: str) -> None:
        found = next((n for n in self.cluster.namespaces if n.metadata.name == name), None)
        if found is None:
            return self._status(404, "NotFound", f'namespaces "{name}" not found')
        self._model(found)

    def _list_namespaced_secret(self, query: dict[str, str], namespace: str) -> None:
        self._model(client.V1SecretList(items=_in(self.cluster.secrets, namespace)))

    def _list_namespaced_persistent_volume_claim(self, query: dict[str, str], namespace: str) -> None:
        self._model(client.V1PersistentVolumeClaimList(items=_in(self.cluster.pvcs, namespace)))

    def _list_node(self, query: dict[str, str]) -> None:
        self._model(client.V1NodeList(items=self.cluster.nodes))

    def _list_namespaced_pod(self, query: dict[str, str], namespace: str) -> None:
        self._model(client.V1PodList(items=_in(self.cluster.pods, namespace)))

    def _read_namespaced_pod_log(self, query: dict[str, str], namespace: str, name: str) -> None:
        pod = next((p for p in _in(self.cluster.pods, namespace) if p.metadata.name == name), None)
        if pod is None:
            return self._status(404, "NotFound", f'pods "{name}" not found')
        containers = [c.name for c in pod.spec.containers]
        if query.get("container", containers[0] if len(containers) == 1 else None) not in containers:
            return self._status(400, "BadRequest", f"a container name must be specified for pod {name}")
        lines = self.cluster.logs.get(name, "").splitlines(keepends=True)
        tail = int(query["tailLines"]) if "tailLines" in query else len(lines)
        self._send(200, "".join(lines[len(lines) - tail :]).encode(), "text/plain")

    def _model(self, model: Any) -> None:
        if type(model).__name__ != self.route.response:
            self.cluster.refused.append(f"{self.route.name} answered {type(model).__name__}, not {self.route.response}")
        self._send(200, json.dumps(_API.sanitize_for_serialization(model)).encode(), "application/json")

    def _status(self, code: int, reason: str, message: str) -> None:
        status = client.V1Status(
            api_version="v1", kind="Status", status="Failure", message=message, reason=reason, code=code
        )
        self._send(code, json.dumps(_API.sanitize_for_serialization(status)).encode(), "application/json")

    def _send(self, code: int, body: bytes, kind: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _in(items: list[Any], namespace: str) -> list[Any]:
    return [item for item in items if item.metadata.namespace == namespace]


@contextmanager
def kube_api(cluster: Cluster, certificate: tuple[Path, Path] | None = None) -> Iterator[str]:
    """The stand-in's URL; over TLS with (certificate, key) files, as the in-cluster API server is."""
    handler = type("BoundHandler", (Handler,), {"cluster": cluster})
    tls = None
    if certificate is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*certificate)
    with serving(handler, tls) as url:
        yield url


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (it is also its own CA) and its key, as PEM files in `folder`."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes stand-in")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.crt", folder / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path.write_bytes(key_bytes)
    return cert_path, key_path


def write_kubeconfig(path: Path, server: str, namespace: str, token: str = TOKEN) -> Path:
    """A kubeconfig with one context pointing at the stand-in, its namespace, and the token it accepts."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": token}}],
        "contexts": [
            {"name": "stand-in", "context": {"cluster": "stand-in", "user": "tester", "namespace": namespace}}
        ],
        "current-context": "stand-in",
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


# -- models -------------------------------------------------------------------------------------


def namespace(name: str, profile: bool = True) -> Any:
    owners = [client.V1OwnerReference(api_version="kubeflow.org/v1", kind="Profile", name=name, uid="u-1")]
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name, owner_references=owners if profile else None))


def secret(name: str, ns: str, **values: str) -> Any:
    import base64

    data = {key.replace("_", "-"): base64.b64encode(value.encode()).decode() for key, value in values.items()}
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name, namespace=ns), data=data, type="Opaque")


def pvc(name: str, ns: str, phase: str = "Bound") -> Any:
    spec = client.V1PersistentVolumeClaimSpec(
        access_modes=["ReadWriteOnce"], resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})
    )
    status = client.V1PersistentVolumeClaimStatus(phase=phase)
    return client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name=name, namespace=ns), spec=spec, status=status
    )


def node(name: str, cpu: str = "8", memory: str = "32Gi", ready: bool = True, gpus: int = 0) -> Any:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110", **({"nvidia.com/gpu": str(gpus)} if gpus else {})}
    condition = client.V1NodeCondition(type="Ready", status="True" if ready else "False")
    status = client.V1NodeStatus(allocatable=allocatable, capacity=allocatable, conditions=[condition])
    return client.V1Node(metadata=client.V1ObjectMeta(name=name), spec=client.V1NodeSpec(), status=status)


def pod(name: str, ns: str) -> Any:
    containers = [client.V1Container(name=n, image="python:3.11") for n in ("wait", "main")]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=ns), spec=client.V1PodSpec(containers=containers)
    )
