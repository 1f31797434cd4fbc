"""Access to the cluster through the kubernetes client's standard configuration (kubeconfig or in-cluster)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp_notebook.errors import KfpNotebookError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: Every call the checks make is a read with this timeout (seconds): a doctor never hangs.
CALL_TIMEOUT = 10.0


class ClusterError(KfpNotebookError):
    """The cluster cannot be reached or read; the message says why and what to do."""


@dataclass(frozen=True)
class ClusterAccess:
    """A CoreV1Api client, the namespace the pipeline's pods run in, and where the configuration came from."""

    core: Any
    namespace: str
    source: str

    @property
    def server(self) -> str:
        return str(self.core.api_client.configuration.host)


def kubeconfig_path() -> str | None:
    """KUBECONFIG (read now, not at import as the client does), else ~/.kube/config when it exists."""
    given = os.environ.get("KUBECONFIG")
    if given:
        return given
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else None


def cluster_access(namespace: str | None = None) -> ClusterAccess | None:
    """Access from the kubeconfig, else the pod's service account; None when there is neither."""
    path = kubeconfig_path()
    if path is not None:
        return _from_kubeconfig(path, namespace)
    if (SERVICE_ACCOUNT / "token").exists():
        return _in_cluster(namespace)
    return None


def _from_kubeconfig(path: str, namespace: str | None) -> ClusterAccess:
    from kubernetes import client, config

    try:
        api_client = config.new_client_from_config(config_file=path, persist_config=False)
        _, active = config.list_kube_config_contexts(config_file=path)
    except Exception as exc:
        raise ClusterError(f"cannot use the kubeconfig {path!r}: {exc}; check it with `kubectl config view`") from None
    context_namespace = (active or {}).get("context", {}).get("namespace")
    source = f"kubeconfig {path} (context {(active or {}).get('name', '?')})"
    return ClusterAccess(client.CoreV1Api(api_client), namespace or context_namespace or "default", source)


def _in_cluster(namespace: str | None) -> ClusterAccess:
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except Exception as exc:
        raise ClusterError(f"cannot use the pod's service account: {exc}") from None
    own = (SERVICE_ACCOUNT / "namespace").read_text(encoding="utf-8").strip()
    core = client.CoreV1Api(client.ApiClient(configuration))
    return ClusterAccess(core, namespace or own, "in-cluster service account")
