"""The Kubeflow Pipelines backend: connect, submit, follow, stop — through kfp.Client."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from kfp_notebook.backends.base import BackendOptions
from kfp_notebook.backends.kubeflow.connection import PASSWORD_ENV, Connection, KubeflowConnectionError, client, login
from kfp_notebook.errors import OptionError


@dataclass(frozen=True)
class KubeflowOptions(BackendOptions):
    """How a run is created in Kubeflow: its experiment, its name, and whether the cluster is checked first."""

    command: ClassVar[str] = "%kfp submit"

    experiment: str | None = None
    run_name: str | None = None
    skip_checks: bool = False  # submit without checking the cluster for the secrets and PVCs first


OPTIONS = KubeflowOptions


def make(settings: Any, connected: Any = None) -> Any:
    """The backend `%kfp connect` made; before a connection there is none."""
    if connected is None:
        raise OptionError("not connected to Kubeflow: run `%kfp connect --host https://HOST/pipeline` first")
    return connected


def connect(connection: Connection, secret: str | None = None) -> Any:
    """A KubeflowBackend for the connection; with Dex, one that logs in again once when the session expires."""
    import getpass

    from kfp_notebook.backends.kubeflow.backend import KubeflowBackend

    if connection.auth == "dex" and not connection.user:
        raise KubeflowConnectionError("--auth dex needs --user EMAIL (for example --user user@example.com)")
    if connection.auth == "dex" and secret is None:
        secret = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"Password for {connection.user}: ")
    from kfp_notebook.backends.kubeflow.cluster.logs import in_cluster_logs

    backend = KubeflowBackend(connection, client(connection, secret))
    backend.cluster = in_cluster_logs(connection.namespace)
    if connection.auth == "dex":
        backend.relogin = lambda: login(connection, secret)
    return backend
