"""A Kubeflow run's artifacts: metadata from ML Metadata, files through the KFP UI's /artifacts/get endpoint.

The UI endpoint is what the KFP UI itself uses: it reads the object store with the UI's own credentials
(and, in multi-user Kubeflow, checks the user may read the namespace), so no object-store secret is
needed here. A folder artifact comes back as a .tar.gz of its files.
"""

from __future__ import annotations

import io
import tarfile
import urllib.parse
from typing import Any

from kfp_notebook import kfp_compat
from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, explain
from kfp_notebook.backends.kubeflow.redaction import server_text
from kfp_notebook.errors import UnknownNameError
from kfp_notebook.tracking.results import TaskResult
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.task_ids import spellings

#: URI scheme → the UI's `source` parameter
SOURCES = {"minio": "minio", "s3": "s3", "gs": "gcs"}
DOWNLOAD_LIMIT = 64 * 1024 * 1024


def object_location(uri: str) -> dict[str, str]:
    """The UI's source, bucket and key for an artifact URI (minio://, s3:// or gs://)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in SOURCES or not parts.netloc:
        known = ", ".join(f"{scheme}://" for scheme in SOURCES)
        raise KubeflowConnectionError(f"artifact URI {uri!r} is not in an object store the KFP UI reads ({known})")
    return {"source": SOURCES[parts.scheme], "bucket": parts.netloc, "key": parts.path.lstrip("/")}


class UiArtifactFiles:
    """Reads artifact files through `<ui>/artifacts/get` with the connection's credentials."""

    def __init__(self, backend: Any):
        self.backend = backend
        self._downloads: dict[str, tuple[bytes, str]] = {}

    def read(self, uri: str, limit: int) -> tuple[bytes, int | None]:
        if uri in self._downloads:
            data = self._downloads[uri][0]
            return data[:limit], len(data)
        data, _ = self._get(uri, peek=limit)
        return data, len(data) if len(data) < limit else None

    def listing(self, uri: str) -> list[tuple[str, int]]:
        """A file's size, or a folder's files (the UI sends a folder as a .tar.gz)."""
        data, disposition = self._download(uri)
        if ".tar.gz" not in disposition:
            return [("", len(data))]
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            return [(member.name, member.size) for member in archive.getmembers() if member.isfile()]

    def _download(self, uri: str) -> tuple[bytes, str]:
        if uri not in self._downloads:
            self._downloads[uri] = self._get(uri)
        return self._downloads[uri]

    def _get(self, uri: str, peek: int | None = None) -> tuple[bytes, str]:
        import urllib3

        from kfp_notebook.backends.kubeflow.backend import _authorization

        query = object_location(uri)
        if self.backend.connection.namespace:
            query["namespace"] = self.backend.connection.namespace
        if peek is not None:
            query["peek"] = str(peek)
        api_client = kfp_compat.api_client(self.backend.client)
        headers = {"Cookie": api_client.cookie} if api_client.cookie else {}
        headers.update(_authorization(api_client))
        url = f"{self.backend.connection.ui}/artifacts/get?{urllib.parse.urlencode(query)}"
        try:
            response = api_client.rest_client.pool_manager.request("GET", url, headers=headers, preload_content=False)
            data = response.read(DOWNLOAD_LIMIT)
            response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise explain(self.backend.connection, exc) from None
        if response.status != 200:
            text = data.decode("utf-8", "replace")[:300]
            raise KubeflowConnectionError(f"the KFP UI answered HTTP {response.status} for artifact {uri}: {text}")
        return data, response.headers.get("Content-Disposition", "")


def run_task(backend: Any, run_id: str, task: str) -> tuple[TaskResult, UiArtifactFiles]:
    """A Kubeflow run's task with its output artifacts (from ML Metadata), and the reader of their files."""
    from kfp_notebook.backends.kubeflow.mlmd import MetadataClient

    try:
        outputs = MetadataClient(backend._grpc_web_post).run_artifacts(run_id)
    except KubeflowConnectionError:
        raise
    except Exception as exc:
        said = server_text(str(exc))
        raise KubeflowConnectionError(f"cannot read the artifacts of run {run_id} from ML Metadata: {said}") from None
    wanted = spellings(task)
    mine = [o for o in outputs if o["task"] in wanted]
    if not mine:
        known = ", ".join(sorted({o["task"] for o in outputs})) or "none yet"
        raise UnknownNameError(f"no artifacts of task {task!r} in run {run_id} (tasks with artifacts: {known})")
    result = TaskResult(mine[0]["task"], mine[0]["task"], "", TaskState.SUCCEEDED)
    for output in mine:
        artifact = {
            "name": output["name"],
            "type": {"schemaTitle": output["type"]},
            "uri": output["uri"],
            "metadata": output["metadata"],
        }
        result.artifacts.setdefault(output["name"], []).append(artifact)
    return result, UiArtifactFiles(backend)
