"""dsl.importer, locally: an artifact at a local path or file:// URI, or a remote object fetched into a cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kfp_notebook.backends.local import remote
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


def importer_problem(uri: str, task: str, checked: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Why the importer `task` cannot import `uri` on this machine (None when it can): a remote object is asked
    for (its store, the package reading it, the credentials, the object itself) before the run starts; what the
    store told of it is kept in `checked` by URI, so that the import does not ask again."""
    if local_path(uri) is not None:
        return None
    if not remote.is_remote(uri):
        return (
            f"{task} imports {remote.shown(uri)!r}: local runs import a path, file://, s3://, minio://, gs://, "
            "http:// or https:// URI. Correct the URI, or submit this pipeline to Kubeflow."
        )
    try:
        info = remote.check(uri)
    except remote.RemoteObjectError as exc:
        return f"{task} imports {exc}"
    if checked is not None:
        checked[uri] = info
    return None


def missing_import(uri: str, task: str) -> str | None:
    """A notice when the local file `uri` names does not exist: the import itself goes on, as on Kubeflow,
    where the importer only records the URI and the launcher skips an input it cannot download."""
    path = local_path(uri)
    if path is None or os.path.exists(path):
        return None
    return f"{task} imports {uri!r}, which does not exist on this machine: a task that reads it will fail"


def imported_artifact(importer: Importer, parameters: dict[str, Any], cache: Path | None = None,
                      checked: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The artifact the importer outputs (its URI the local path, a remote object's copy in `cache`; metadata
    with input references filled in). `checked`: what the store told of the object in the preflight."""
    uri = importer.uri if importer.uri is not None else str(parameters.get("uri", ""))
    path = local_path(uri)
    if path is None:
        path = _fetched(uri, cache, checked)
    metadata = _filled(dict(importer.metadata), parameters)  # keys too: kfp writes an output used as a key there
    return {"name": "artifact", "type": importer.schema, "uri": path, "metadata": metadata}


def imported_source(uri: str, path: str) -> str:
    """What an importer's message names: the local path, or a remote URI (as shown) and its local copy."""
    return path if local_path(uri) is not None else f"{remote.shown(uri)} (local copy: {path})"


def _fetched(uri: str, cache: Path | None, checked: dict[str, Any] | None) -> str:
    problem = importer_problem(uri, "dsl.importer") if cache is None or not remote.is_remote(uri) else None
    if problem is not None or cache is None:
        raise ValueError(problem or f"dsl.importer imports {remote.shown(uri)}: no cache folder to fetch it into")
    try:
        return remote.fetch(uri, cache, checked)[0]
    except remote.RemoteObjectError as exc:
        raise ValueError(f"dsl.importer imports {exc}") from None


def _filled(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {_filled(k, parameters): _filled(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, parameters) for v in value]
    return input_references(value, parameters)
