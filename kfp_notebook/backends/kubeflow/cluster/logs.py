"""A task pod's log read from the Kubernetes API (inside the cluster, instead of the KFP UI service)."""

from __future__ import annotations

import functools

from kfp_notebook.backends.kubeflow.cluster.access import SERVICE_ACCOUNT, ClusterAccess, ClusterError, cluster_access
from kfp_notebook.backends.kubeflow.cluster.checks import Denied, read

#: The container of an Argo executor pod that runs the component (the others are Argo's and KFP's).
MAIN_CONTAINER = "main"


def pod_log(access: ClusterAccess, pod: str, tail: int | None = None) -> str:
    """The log of the pod's main container; permission and absence become one message."""
    from kubernetes.client.exceptions import ApiException

    options = {"container": MAIN_CONTAINER, **({"tail_lines": tail} if tail else {})}
    call = functools.partial(access.core.read_namespaced_pod_log, **options)
    try:
        return str(read(call, "get", "pods/log", access.namespace, pod, access.namespace))
    except Denied as denied:
        if denied.status == 401:
            raise ClusterError("the Kubernetes API rejected the credentials (HTTP 401) reading a pod log") from None
        raise ClusterError(
            f"no permission to read pod logs in {access.namespace} (RBAC needs verb 'get' on 'pods/log')"
        ) from None
    except ApiException as exc:
        raise ClusterError(f"no log for pod {pod} in {access.namespace} (HTTP {exc.status}: {exc.reason})") from None


def in_cluster_logs(namespace: str | None) -> ClusterAccess | None:
    """Access for pod logs when this kernel runs in a pod (a Kubeflow notebook server); None elsewhere."""
    if not (SERVICE_ACCOUNT / "token").exists():
        return None
    try:
        return cluster_access(namespace)
    except ClusterError:
        return None
