"""Local execution cache: a task's outputs keyed on its component and its inputs, as KFP keys its cache."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import remote


def fingerprint(path: str, known: Mapping[str, str] | None = None) -> str:
    """A hash of a file's or folder's content (names and bytes); of a remote artifact, what its store tells of
    its content (names and ETags; `known` when this run stored or reused it); one that cannot be read matches
    nothing."""
    if remote.is_remote(path):
        if known is not None and path in known:
            return known[path]
        try:
            return remote.content_fingerprint(path)
        except remote.MissingObjectError:
            return ABSENT  # (as a local path that does not exist: the same each time)
        except remote.RemoteObjectError:
            return f"unreadable {secrets.token_hex(8)}"
    digest = hashlib.sha256()
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    for file in files:
        digest.update(str(file.relative_to(root) if file != root else "").encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def unique_suffix() -> str:
    """A temporary file's suffix no other writer (process or thread) uses at the same time."""
    return f"{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}"


#: The fingerprint of a remote artifact its store says is not there (an output written as no file: Metrics).
ABSENT = "absent"
#: How output parameters are read (part of every key): outputs stored by an earlier way of reading are not reused.
OUTPUTS_READ_AS = "launcher-typed"


def cache_key(component: dict[str, Any], parameters: dict[str, Any], artifacts: dict[str, Any],
              pipeline_root: str | None = None, known: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """The same component (its definition and executor) with the same inputs and input contents: the same key
    (and, with a pipeline root, the same root: outputs asked for in a store are not reused from the disk)."""
    identity: dict[str, Any] = {
        "outputs": OUTPUTS_READ_AS,
        "component": component,
        "parameters": parameters,
        "artifacts": {name: [fingerprint(a["uri"], known) for a in items] for name, items in artifacts.items()},
    }
    if pipeline_root is not None:
        identity["pipeline_root"] = pipeline_root
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


class TaskCache:
    """Outputs of succeeded tasks on disk, one JSON file per key."""

    def __init__(self, folder: Path):
        self.folder = folder
        #: Remote outputs' content fingerprints this run stored or reused: a consumer's key needs no question to
        #: the store (on the scheduler's thread) for them.
        self.fingerprints: dict[str, str] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached outputs, or None if absent, damaged, or if an output artifact changed since it was stored."""
        path = self.folder / f"{key}.json"
        try:
            outputs = json.loads(path.read_text(encoding="utf-8"))
            hashes = outputs["hashes"]
            intact = all(os.path.exists(uri) and fingerprint(uri) == digest for uri, digest in hashes.items())
            intact = intact and all(_unchanged(uri, version) for uri, version in outputs.get("remote", {}).items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a miss, and the task runs again
            return None
        if intact:
            self.fingerprints.update(outputs.get("fingerprints") or {})
        return outputs if intact else None

    def put(self, key: str, outputs: dict[str, Any]) -> None:
        """Store outputs with the content hash of every artifact that exists now (checked on every hit)."""
        uris = [a["uri"] for items in outputs.get("artifacts", {}).values() for a in items]
        hashes = {uri: fingerprint(uri) for uri in uris if os.path.exists(uri)}
        versions, fingerprints = _describe_remote(uris)
        outputs = {**outputs, "hashes": hashes, "remote": versions, "fingerprints": fingerprints}
        self.fingerprints.update(fingerprints)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f"{key}.json.tmp-{unique_suffix()}"
        temporary.write_text(json.dumps(outputs), encoding="utf-8")
        temporary.replace(self.folder / f"{key}.json")


def _describe_remote(uris: list[str]) -> tuple[dict[str, str | None], dict[str, str]]:
    """The store's version of each remote output that exists now (what a hit checks), and the content
    fingerprint of each (ABSENT for one never written as a file)."""
    versions: dict[str, str | None] = {}
    fingerprints = {}
    for uri in uris:
        if remote.mount_path(uri) is None:
            continue
        try:
            versions[uri], fingerprints[uri] = remote.describe(uri)
        except remote.MissingObjectError:
            fingerprints[uri] = ABSENT
        except remote.RemoteObjectError:
            continue
    return versions, fingerprints


def _unchanged(uri: str, version: str | None) -> bool:
    """A remote output is still there as it was stored (else the task runs again)."""
    try:
        return remote.version(uri) == version
    except remote.RemoteObjectError:
        return False
