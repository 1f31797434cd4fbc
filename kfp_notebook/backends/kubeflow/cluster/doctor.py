"""The doctor (KFP API, auth, namespace, the pipeline's secrets, PVCs, nodes, pull secrets) and the pre-submit check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfp_notebook.backends.kubeflow.cluster import checks as c
from kfp_notebook.backends.kubeflow.cluster.access import ClusterAccess, ClusterError, cluster_access
from kfp_notebook.backends.kubeflow.cluster.checks import Check, Denied, Level
from kfp_notebook.backends.kubeflow.cluster.needs import PipelineNeeds, pipeline_needs
from kfp_notebook.backends.kubeflow.cluster.nodes import node_capacities, node_checks
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import PipelineIR

NO_CLUSTER = "no kubeconfig (KUBECONFIG or ~/.kube/config) and not inside a cluster"


class SubmitRefused(KfpNotebookError):
    """A run would fail in its pod on a missing secret, key or PVC; nothing was created."""


def doctor(ir: PipelineIR | None, access: ClusterAccess | None, kfp: list[Check]) -> list[Check]:
    """Every check, in order: KFP first, then the cluster, then what the pipeline needs from it."""
    if access is None:
        fix = "set KUBECONFIG (or ~/.kube/config), or run inside the cluster"
        return [*kfp, Check(Level.WARN, "cluster", f"{NO_CLUSTER}: cluster checks skipped", fix)]
    checks = [*kfp, Check(Level.OK, "cluster", f"{access.server} through the {access.source}")]
    try:
        checks.append(c.namespace_check(access))
        if ir is not None:
            checks += pipeline_checks(pipeline_needs(ir), access, nodes=True)
    except ClusterError as exc:
        fix = "check the kubeconfig's server and that the cluster is up"
        checks.append(Check(Level.FAIL, "cluster", str(exc), fix))
    return checks


def pipeline_checks(needs: PipelineNeeds, access: ClusterAccess, nodes: bool) -> list[Check]:
    """Secrets and pull secrets (one list), PVCs (one list), and with `nodes` the node fit (one list)."""
    checks: list[Check] = []
    if needs.secrets or needs.pull_secrets:
        checks += _section(
            "secrets",
            lambda: c.secret_keys(access),
            lambda found: c.secret_checks(access, needs, found) + c.pull_secret_checks(access, needs, found),
        )
    if needs.pvcs or needs.created_pvcs:
        checks += _section("PVCs", lambda: c.pvc_phases(access), lambda found: c.pvc_checks(access, needs, found))
    if nodes:
        checks += _section("nodes", lambda: node_capacities(access), lambda found: node_checks(needs, found))
    return checks


def _section(subject: str, fetch: Callable[[], Any], judge: Callable[[Any], list[Check]]) -> list[Check]:
    try:
        found = fetch()
    except Denied as denied:
        return [denied.check(subject)]
    return judge(found)


def kfp_checks(connection: Any, backend: Callable[[], Any]) -> list[Check]:
    """The KFP API answers (and its version), then the credentials are accepted (one list call)."""
    if connection is None:
        fix = "%kfp connect --host https://HOST/pipeline (or set KF_PIPELINES_ENDPOINT)"
        return [Check(Level.WARN, "Kubeflow Pipelines", "no host configured: API checks skipped", fix)]
    try:
        version = server_version(connection)
    except KfpNotebookError as exc:
        return [Check(Level.FAIL, "Kubeflow Pipelines", str(exc), "check the host, the network and the TLS options")]
    checks = [Check(Level.OK, "Kubeflow Pipelines", f"{connection.host} answers ({version})")]
    return [*checks, _auth_check(connection, backend)]


def _auth_check(connection: Any, backend: Callable[[], Any]) -> Check:
    from kfp_notebook.backends.kubeflow.connection import explain

    subject = f"auth ({connection.auth})"
    fix = "%kfp connect --auth ... with a valid token, cookie or login"
    try:
        made = backend()
        made.client.list_experiments(page_size=1, namespace=connection.namespace)
    except KfpNotebookError as exc:
        return Check(Level.FAIL, subject, str(exc), fix)
    except Exception as exc:
        return Check(Level.FAIL, subject, str(explain(connection, exc)), fix)
    where = f" in namespace {connection.namespace}" if connection.namespace else ""
    return Check(Level.OK, subject, f"the API accepts the credentials (experiments listed{where})")


def server_version(connection: Any) -> str:
    """The version KFP reports on its v1beta1 healthz route (no credentials are sent with this GET)."""
    import json

    import urllib3

    from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError

    pool = urllib3.PoolManager(
        cert_reqs="CERT_NONE" if connection.insecure else "CERT_REQUIRED", ca_certs=connection.ca_cert or None
    )
    try:
        response = pool.request(
            "GET", f"{connection.host}/apis/v1beta1/healthz", timeout=connection.timeout, retries=False, redirect=False
        )
    except Exception as exc:
        raise KubeflowConnectionError(f"cannot reach {connection.host}: {type(exc).__name__}: {exc}") from None
    if response.status != 200:
        return f"HTTP {response.status} without credentials: version not shown"
    try:
        return f"version {json.loads(response.data).get('tag_name') or 'not reported'}"
    except ValueError:
        return "version not reported"


def render(checks: list[Check]) -> str:
    counts = {level: sum(ch.level is level for ch in checks) for level in Level}
    summary = ", ".join(f"{n} {level.value}" for level, n in counts.items() if n)
    return "\n".join([*(ch.line() for ch in checks), summary])


def check_before_submit(ir: PipelineIR, namespace: str | None) -> str:
    """Refuse (SubmitRefused) a run whose pods would miss a secret, a key or a PVC; one line of what was done."""
    needs = pipeline_needs(ir)
    if not (needs.secrets or needs.pvcs):
        return ""
    try:
        access = cluster_access(namespace)
    except ClusterError as exc:
        return f"pre-submit checks skipped: {exc}"
    if access is None:
        return f"pre-submit checks skipped: {NO_CLUSTER}"
    try:
        found = pipeline_checks(PipelineNeeds(needs.secrets, needs.pvcs), access, nodes=False)
    except ClusterError as exc:
        return f"pre-submit checks skipped: {exc}"
    failed = [ch.line() for ch in found if ch.level is Level.FAIL]
    if failed:
        lines = "\n".join(failed)
        raise SubmitRefused(f"not submitted: the run would fail in its pods\n{lines}\n(--skip-checks submits anyway)")
    warnings = [ch.line() for ch in found if ch.level is Level.WARN]
    counts = f"{len(needs.secrets)} secret(s), {len(needs.pvcs)} PVC(s)"
    summary = f"pre-submit checks: {counts} found in {access.namespace}" if not warnings else "pre-submit checks:"
    return "\n".join([summary, *warnings])


@dataclass(frozen=True)
class DoctorReport:
    """The doctor's checks, as text lines (for people) or dicts (for --json)."""

    checks: list[Check]

    @property
    def text(self) -> str:
        return render(self.checks)

    @property
    def failed(self) -> bool:
        return any(ch.level is Level.FAIL for ch in self.checks)

    def as_dicts(self) -> list[dict[str, str]]:
        return [ch.as_dict() for ch in self.checks]


def doctor_report(
    ir: PipelineIR | None, backend: Any = None, namespace: str | None = None, connection: Any = None
) -> DoctorReport:
    """Run the doctor: through `backend` when connected, else `connection`, else the settings `%kfp connect` uses."""
    if connection is None:
        connection = backend.connection if backend is not None else _configured_connection(namespace)
    kfp = kfp_checks(connection, (lambda: backend) if backend is not None else (lambda: _connect(connection)))
    try:
        access = cluster_access(namespace or (connection.namespace if connection else None))
    except ClusterError as exc:
        return DoctorReport([*kfp, Check(Level.FAIL, "cluster", str(exc), "fix or unset KUBECONFIG")])
    return DoctorReport(doctor(ir, access, kfp))


def _configured_connection(namespace: str | None) -> Any:
    from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, resolve

    try:
        return resolve(None, namespace, None)
    except KubeflowConnectionError:
        return None


def _connect(connection: Any) -> Any:
    from kfp_notebook.backends.kubeflow import connect

    return connect(connection)
