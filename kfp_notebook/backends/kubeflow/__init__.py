"""The Kubeflow Pipelines backend: connect, submit, follow, stop — through kfp.Client."""

from __future__ import annotations

import os
from typing import Any

from kfp_notebook.backends.kubeflow.connection import PASSWORD_ENV, Connection, KubeflowConnectionError, client, login


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
