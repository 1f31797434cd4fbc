"""The pod a task would run in, locally: its name, labels and annotations, read through the downward API."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, field

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import Platform

NAMESPACE = "local"  # the namespace a local task's pod reports (there is no cluster)
_FIXED = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
          "status.hostIP", "status.podIP", "status.podIPs")  # fmt: skip
_KEYED = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class UnsupportedFieldPath(KfpNotebookError):
    """A downward-API field path that Kubernetes does not offer as an environment variable."""


@dataclass(frozen=True)
class Pod:
    """The metadata a task's pod would have."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def field(self, path: str) -> str:
        """The value of a field path, as the kubelet fills an env var from it (a missing label gives '')."""
        keyed = _KEYED.match(path)
        if keyed:
            found = self.labels if keyed.group(1) == "labels" else self.annotations
            return found.get(keyed.group(2), "")
        values = {
            "metadata.name": self.name, "metadata.namespace": NAMESPACE,
            "metadata.uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, self.name)), "spec.nodeName": socket.gethostname(),
            "spec.serviceAccountName": "default", "status.hostIP": "127.0.0.1", "status.podIP": "127.0.0.1",
            "status.podIPs": "127.0.0.1",
        }  # fmt: skip
        return values[path]


def pod_name(resource_name: str, task_id: str) -> str:
    """A pod name like the backend's: the run's object name and the task, lower case, at most 63 characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", f"{resource_name}-{task_id}".lower()).strip("-")
    return text[:63].rstrip("-")


def pod_environment(platform: Platform, pod: Pod) -> dict[str, str]:
    """The environment variables `use_field_path_as_env` gives the task."""
    return {variable: pod.field(path) for variable, path in platform.field_path_env}


def check_field_paths(platform: Platform, component: str) -> None:
    """Refuse a field path the downward API has no environment variable for, before the run starts."""
    for variable, path in platform.field_path_env:
        if path not in _FIXED and not _KEYED.match(path):
            raise UnsupportedFieldPath(
                f"use_field_path_as_env({variable!r}, {path!r}) of {component}: Kubernetes offers no such field as "
                f"an environment variable, so the run did not start. Valid: {', '.join(_FIXED)}, "
                "metadata.labels['KEY'], metadata.annotations['KEY']."
            )
