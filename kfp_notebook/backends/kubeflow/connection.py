"""Connect to Kubeflow Pipelines: settings (never secrets) remembered, credentials asked for, a robust kfp.Client.

Every request gets a timeout; GETs retry with backoff on connection errors and 5xx; nothing else is
retried blindly. Failures become one message with the fix: wrong host, TLS, 401/403, not a KFP server.
"""

from __future__ import annotations

import getpass
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kfp_notebook import kfp_compat
from kfp_notebook.backends.kubeflow.redaction import redact, remember_client, server_text
from kfp_notebook.backends.kubeflow.redaction import remember as remember_secret
from kfp_notebook.errors import KfpNotebookError

AUTH_KINDS = ("none", "token", "cookie", "sa", "dex")
TOKEN_ENV = "KFP_NOTEBOOK_TOKEN"
COOKIE_ENV = "KFP_NOTEBOOK_COOKIE"
PASSWORD_ENV = "KFP_NOTEBOOK_PASSWORD"
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
REQUEST_TIMEOUT = 10.0
#: Inside the cluster the UI service serves pod logs and the grpc-web route to ML Metadata.
IN_CLUSTER_UI = "http://ml-pipeline-ui.kubeflow.svc.cluster.local"
GET_RETRIES = 3


class KubeflowConnectionError(KfpNotebookError):
    """Kubeflow Pipelines cannot be reached or refuses us; the message says why and what to do (never a secret)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


@dataclass(frozen=True)
class Connection:
    """Where Kubeflow Pipelines is and how we authenticate (the kind only: secrets are never kept)."""

    host: str
    namespace: str | None = None
    auth: str = "none"
    ui_host: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    timeout: float = REQUEST_TIMEOUT
    user: str | None = None

    @property
    def ui(self) -> str:
        return (self.ui_host or self.host).rstrip("/")

    def run_link(self, run_id: str) -> str:
        return f"{self.ui}/#/runs/details/{run_id}"


def settings_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "kfp-notebook" / "connection.json"


def remember(connection: Connection) -> None:
    """Keep every setting (host, namespace, auth kind, user, UI host, CA file, insecure, timeout), never a token,
    cookie or password, for the next session."""
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(connection), indent=2), encoding="utf-8")


def remembered() -> Connection | None:
    path = settings_file()
    if not path.exists():
        return None
    try:
        return Connection(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None


def resolve(host: str | None, namespace: str | None, auth: str | None, **options: Any) -> Connection:
    """The connection to use: given values, else kfp's environment variables, else the remembered connection,
    else the in-cluster defaults (the UI host: --ui-host, else KF_PIPELINES_UI_ENDPOINT, else remembered)."""
    if auth is not None and auth not in AUTH_KINDS:
        raise KubeflowConnectionError(f"--auth {auth!r} is not one of {', '.join(AUTH_KINDS)}")
    in_cluster = Path(os.environ.get("KF_PIPELINES_SA_TOKEN_PATH", SA_TOKEN_PATH)).exists()
    previous = remembered() if host is None and not os.environ.get("KF_PIPELINES_ENDPOINT") else None
    options = {k: v for k, v in options.items() if v is not None and v is not False}  # given explicitly
    fallback_ui = None
    if previous is not None:  # every setting remembered, each one given now winning
        namespace, auth = namespace or previous.namespace, auth or previous.auth
        if "ca_cert" in options:  # a CA given now means: verify with it, whatever was remembered
            options.setdefault("insecure", False)
        for key in ("user", "ca_cert", "insecure", "timeout"):
            options.setdefault(key, getattr(previous, key))
        host, fallback_ui = previous.host, previous.ui_host
    host = host or os.environ.get("KF_PIPELINES_ENDPOINT")
    if host is None and in_cluster:
        host, fallback_ui = "http://ml-pipeline.kubeflow.svc.cluster.local:8888", IN_CLUSTER_UI
    if host is None:
        raise KubeflowConnectionError(
            "no Kubeflow Pipelines host: `%kfp connect --host https://HOST/pipeline`, or set KF_PIPELINES_ENDPOINT"
        )
    if not host.startswith(("http://", "https://")):
        raise KubeflowConnectionError(
            f"--host {host!r} must start with http:// or https:// (example: https://kubeflow.example.com/pipeline)"
        )
    kind = auth or ("sa" if in_cluster else "none")
    ui_host = options.pop("ui_host", None) or os.environ.get("KF_PIPELINES_UI_ENDPOINT") or fallback_ui
    return Connection(host.rstrip("/"), namespace, kind, ui_host, **options)


def client(connection: Connection, secret: str | None = None) -> Any:
    """A kfp.Client for the connection, with request timeouts and GET retries, checked with one healthz call."""
    import kfp

    credentials = _credentials(connection, secret)
    probe(connection, credentials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            made = kfp.Client(
                host=connection.host,
                namespace=connection.namespace or "kubeflow",
                ssl_ca_cert=connection.ca_cert,
                verify_ssl=False if connection.insecure else None,
                ui_host=connection.ui_host,
                **credentials,
            )
        except Exception as exc:
            raise explain(connection, exc) from None
    remember_client(made)
    harden(made, connection.timeout)
    try:
        kfp_compat.healthz(made)
    except Exception as exc:
        raise explain(connection, exc) from None
    return made


def probe(connection: Connection, credentials: dict[str, Any]) -> None:
    """One GET of the healthz route, with a timeout, before kfp.Client (which retries it slowly) is made."""
    import urllib3

    headers = {"Accept": "application/json"}
    if credentials.get("existing_token"):
        headers["Authorization"] = f"Bearer {credentials['existing_token']}"
    if credentials.get("cookies"):
        headers["Cookie"] = credentials["cookies"]
    pool = urllib3.PoolManager(
        cert_reqs="CERT_NONE" if connection.insecure else "CERT_REQUIRED", ca_certs=connection.ca_cert or None
    )
    timeout = urllib3.Timeout(connect=min(5.0, connection.timeout), read=connection.timeout)
    url = f"{connection.host}/apis/v2beta1/healthz"
    try:
        response = pool.request("GET", url, headers=headers, timeout=timeout, retries=False)
    except Exception as exc:
        raise explain(connection, exc) from None
    if response.status != 200:
        raise explain(connection, _Status(response.status, server_text(response.data)))
    try:
        json.loads(response.data)
    except ValueError:
        raise explain(connection, _Status(404, "not JSON")) from None


class _Status(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}")
        self.status, self.body = status, body


def _credentials(connection: Connection, secret: str | None) -> dict[str, Any]:
    """What kfp.Client needs to authenticate; each secret in it is remembered, to be redacted from server texts."""
    credentials = _made_credentials(connection, secret)
    remember_secret(credentials.get("existing_token"), credentials.get("cookies"))
    return credentials


def _made_credentials(connection: Connection, secret: str | None) -> dict[str, Any]:
    if connection.auth == "dex":
        return {"cookies": login(connection, secret)}
    if connection.auth == "token":
        return {"existing_token": secret or os.environ.get(TOKEN_ENV) or getpass.getpass("Kubeflow token: ")}
    if connection.auth == "cookie":
        return {"cookies": secret or os.environ.get(COOKIE_ENV) or getpass.getpass("Kubeflow session cookie: ")}
    if connection.auth == "sa":
        from kfp.client import ServiceAccountTokenVolumeCredentials

        return {"credentials": ServiceAccountTokenVolumeCredentials(path=None)}
    return {}


def login(connection: Connection, password: str | None = None) -> str:
    """A Dex session cookie for the connection's user (the password from the argument, env or a prompt)."""
    from kfp_notebook.backends.kubeflow.dex import dex_session

    if not connection.user:
        raise KubeflowConnectionError("--auth dex needs --user EMAIL (for example --user user@example.com)")
    password = password or os.environ.get(PASSWORD_ENV) or getpass.getpass(f"Password for {connection.user}: ")
    remember_secret(password)
    verify: bool | str = False if connection.insecure else (connection.ca_cert or True)
    cookie = dex_session(connection.host, connection.user, password, verify, connection.timeout)
    remember_secret(cookie)
    return cookie


def harden(made: Any, timeout: float) -> None:
    """Timeouts on every request; GET retries with backoff on connection errors and 5xx (never POST)."""
    import urllib3

    retry = urllib3.Retry(
        total=GET_RETRIES, connect=GET_RETRIES, read=GET_RETRIES, status=GET_RETRIES, backoff_factor=0.3,
        status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET"}), raise_on_status=False,
    )  # fmt: skip
    pool = kfp_compat.pool_manager(made)
    pool.connection_pool_kw["timeout"] = urllib3.Timeout(connect=min(5.0, timeout), read=timeout)
    pool.connection_pool_kw["retries"] = retry
    pool.clear()


def explain(connection: Connection, exc: Exception) -> KubeflowConnectionError:
    """One message per kind of failure, with what to do."""
    status = getattr(exc, "status", None)
    text = f"{type(exc).__name__}: {server_text(str(exc))}"
    if status in (401, 403):
        return KubeflowConnectionError(
            f"{connection.host} refused the credentials (HTTP {status}); check --auth {connection.auth} "
            "(a token in KFP_NOTEBOOK_TOKEN, a session cookie in KFP_NOTEBOOK_COOKIE) and the namespace"
        )
    if status == 404:
        return KubeflowConnectionError(
            f"{connection.host} is not a Kubeflow Pipelines API (404 on /apis/v2beta1/healthz); "
            "did you mean the `/pipeline` path, e.g. https://HOST/pipeline ?"
        )
    if "SSL" in text or "certificate" in text.lower():
        return KubeflowConnectionError(
            f"TLS to {connection.host} failed ({server_text(str(exc))}); "
            "pass --ca-cert PATH, or --insecure for a test cluster"
        )
    if status is not None:
        said = server_text(getattr(exc, "body", "") or str(exc))
        return KubeflowConnectionError(f"{connection.host} answered HTTP {status}: {said}")
    return KubeflowConnectionError(f"cannot reach {connection.host}: {text}. Check the host and that Kubeflow is up")
