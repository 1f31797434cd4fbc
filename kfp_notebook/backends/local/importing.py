"""dsl.importer, locally: an artifact at a local path or file:// URI; remote schemes are refused before the run."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlparse

from kfp_notebook.backends.local.placeholders import input_references
from kfp_notebook.ir import Importer

LOCAL_SCHEMES = ("", "file")


def local_path(uri: str) -> str | None:
    """The local file a URI names (a plain path or file://), or None for a remote scheme (gs://, s3://, ...)."""
    parsed = urlparse(uri)
    if parsed.scheme not in LOCAL_SCHEMES or (parsed.scheme == "file" and parsed.netloc not in ("", "localhost")):
        return None
    path = unquote(parsed.path) if parsed.scheme == "file" else uri
    return os.path.abspath(os.path.expanduser(path))


def importer_problem(uri: str, task: str) -> str | None:
    """Why the importer `task` cannot import `uri` on this machine (None when it can)."""
    if local_path(uri) is None:
        return (
            f"{task} imports {uri!r}: local runs import local files only (a path or file:// URI); "
            f"{urlparse(uri).scheme}:// needs the cluster's object store. Download it and import the local copy, "
            "or submit this pipeline to Kubeflow."
        )
    return None


def missing_import(uri: str, task: str) -> str | None:
    """A notice when the local file `uri` names does not exist: the import itself goes on, as on Kubeflow,
    where the importer only records the URI and the launcher skips an input it cannot download."""
    path = local_path(uri)
    if path is None or os.path.exists(path):
        return None
    return f"{task} imports {uri!r}, which does not exist on this machine: a task that reads it will fail"


def imported_artifact(importer: Importer, parameters: dict[str, Any]) -> dict[str, Any]:
    """The artifact the importer outputs (its URI the local path; metadata with input references filled in)."""
    uri = importer.uri if importer.uri is not None else str(parameters.get("uri", ""))
    problem = importer_problem(uri, "dsl.importer")
    if problem is not None:
        raise ValueError(problem)
    metadata = _filled(dict(importer.metadata), parameters)  # keys too: kfp writes an output used as a key there
    return {"name": "artifact", "type": importer.schema, "uri": local_path(uri), "metadata": metadata}


def _filled(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {_filled(k, parameters): _filled(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, parameters) for v in value]
    return input_references(value, parameters)
