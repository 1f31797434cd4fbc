"""The namespace, secret, PVC and pull-secret checks: one read per resource kind, a WARN where RBAC forbids it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from kfp_notebook.backends.kubeflow.cluster.access import CALL_TIMEOUT, ClusterAccess, ClusterError
from kfp_notebook.backends.kubeflow.cluster.needs import PipelineNeeds


class Level(str, Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the doctor: what was checked, what was found, and the fix when it is not OK."""

    level: Level
    subject: str
    message: str
    fix: str = ""

    def line(self) -> str:
        fix = f"\n      fix: {self.fix}" if self.fix else ""
        return f"{self.level.value:<4}  {self.subject}: {self.message}{fix}"

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "level": self.level.value}


class Denied(Exception):
    """The API refused a read (401/403); the check becomes a WARN naming the RBAC rule it needs."""

    def __init__(self, verb: str, resource: str, namespace: str | None, status: int):
        super().__init__(f"{verb} {resource}")
        self.verb, self.resource, self.namespace, self.status = verb, resource, namespace, status

    def check(self, subject: str) -> Check:
        if self.status == 401:
            fix = "renew the credentials of the kubeconfig's user (test with `kubectl get namespaces`)"
            return Check(Level.FAIL, subject, "the API server rejected the credentials (HTTP 401)", fix)
        where = f" in namespace {self.namespace}" if self.namespace else " (cluster-wide)"
        flag = f" -n {self.namespace}" if self.namespace else ""
        return Check(
            Level.WARN,
            subject,
            f"not checked: no permission to {self.verb} {self.resource}{where} (HTTP {self.status})",
            f"RBAC needs verb '{self.verb}' on resource '{self.resource}'; test with "
            f"`kubectl auth can-i {self.verb} {self.resource}{flag}`",
        )


def read(call: Callable[..., Any], verb: str, resource: str, namespace: str | None, *args: Any) -> Any:
    """One read through the kubernetes client; 401/403 raise Denied, other failures one ClusterError."""
    from kubernetes.client.exceptions import ApiException

    try:
        return call(*args, _request_timeout=CALL_TIMEOUT)
    except ApiException as exc:
        if exc.status in (401, 403):
            raise Denied(verb, resource, namespace, exc.status) from None
        raise
    except Exception as exc:
        raise ClusterError(f"cannot reach the Kubernetes API ({type(exc).__name__}: {exc})") from None


def namespace_check(access: ClusterAccess) -> Check:
    from kubernetes.client.exceptions import ApiException

    subject = f"namespace {access.namespace}"
    try:
        namespace = read(access.core.read_namespace, "get", "namespaces", None, access.namespace)
    except Denied as denied:
        return denied.check(subject)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"the Kubernetes API answered HTTP {exc.status} for {subject}") from None
        fix = "create the Kubeflow profile (or the namespace), or pass --namespace with the right one"
        return Check(Level.FAIL, subject, "does not exist", fix)
    return Check(Level.OK, subject, "exists" + (" (Kubeflow profile)" if _is_profile(namespace) else ""))


def _is_profile(namespace: Any) -> bool:
    owners = namespace.metadata.owner_references or []
    labels = namespace.metadata.labels or {}
    return any(o.kind == "Profile" for o in owners) or labels.get("app.kubernetes.io/part-of") == "kubeflow-profile"


def secret_keys(access: ClusterAccess) -> dict[str, set[str]]:
    """Each secret's name and key names (values are never kept)."""
    listing = read(access.core.list_namespaced_secret, "list", "secrets", access.namespace, access.namespace)
    return {s.metadata.name: set((s.data or {}).keys()) | set((s.string_data or {}).keys()) for s in listing.items}


def secret_checks(access: ClusterAccess, needs: PipelineNeeds, found: dict[str, set[str]]) -> list[Check]:
    return [_secret_check(access.namespace, name, keys, found) for name, keys in sorted(needs.secrets.items())]


def _secret_check(namespace: str, name: str, keys: set[str], found: dict[str, set[str]]) -> Check:
    subject = f"secret {name}"
    literals = " ".join(f"--from-literal={k}=..." for k in sorted(keys)) or "--from-file=..."
    if name not in found:
        fix = f"kubectl create secret generic {name} -n {namespace} {literals}"
        return Check(Level.FAIL, subject, f"not found in namespace {namespace}", fix)
    missing = sorted(keys - found[name])
    if missing:
        have = ", ".join(sorted(found[name])) or "none"
        fix = f"add the key to the secret: kubectl edit secret {name} -n {namespace}"
        return Check(Level.FAIL, subject, f"has no key {', '.join(map(repr, missing))} (its keys: {have})", fix)
    return Check(Level.OK, subject, f"exists with key {', '.join(sorted(keys))}" if keys else "exists")


def pull_secret_checks(access: ClusterAccess, needs: PipelineNeeds, found: dict[str, set[str]]) -> list[Check]:
    fix = "kubectl create secret docker-registry {name} -n {namespace} --docker-server=... --docker-username=..."
    return [
        Check(Level.OK, f"imagePullSecret {name}", "exists")
        if name in found
        else Check(
            Level.FAIL,
            f"imagePullSecret {name}",
            f"not found in namespace {access.namespace}",
            fix.format(name=name, namespace=access.namespace),
        )
        for name in sorted(needs.pull_secrets)
    ]


def pvc_phases(access: ClusterAccess) -> dict[str, str]:
    listing = read(
        access.core.list_namespaced_persistent_volume_claim,
        "list",
        "persistentvolumeclaims",
        access.namespace,
        access.namespace,
    )
    return {claim.metadata.name: (claim.status.phase if claim.status else None) or "Pending" for claim in listing.items}


def pvc_checks(access: ClusterAccess, needs: PipelineNeeds, phases: dict[str, str]) -> list[Check]:
    checks = [_pvc_check(access.namespace, name, user, phases) for name, user in sorted(needs.pvcs.items())]
    if needs.created_pvcs:
        checks.append(Check(Level.OK, "created PVCs", f"{needs.created_pvcs} mount(s) of a PVC the pipeline creates"))
    return checks


def _pvc_check(namespace: str, name: str, component: str, phases: dict[str, str]) -> Check:
    subject = f"PVC {name}"
    phase = phases.get(name)
    if phase is None:
        fix = f"create it (kubectl apply -f pvc.yaml -n {namespace}) or create it in the pipeline with CreatePVC"
        return Check(Level.FAIL, subject, f"not found in namespace {namespace} (mounted by {component})", fix)
    if phase == "Bound":
        return Check(Level.OK, subject, "exists and is Bound")
    fix = f"kubectl describe pvc {name} -n {namespace}: a Pending claim binds only when a volume matches it"
    if phase == "Pending":
        message = "is Pending, not Bound: the task waits until it binds (fine for WaitForFirstConsumer storage)"
        return Check(Level.WARN, subject, message, fix)
    return Check(Level.FAIL, subject, f"is {phase}: pods that mount it cannot start", fix)
