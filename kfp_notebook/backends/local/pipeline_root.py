"""Where a local run's output artifacts go: its task folders (default), a local folder, or a remote pipeline root.

With a pipeline root, outputs are laid out as KFP's driver lays them out,
`{root}/{pipeline name}/{run UUID}/{task name}/{a new UUID per execution}/{output name}` (the run's UUID is
what PIPELINE_JOB_ID_PLACEHOLDER gives its tasks). Under a remote root
(s3://, gs://, minio://) a task sees its artifacts' remote URIs, and their `.path` (`/s3/bucket/...`, the
launcher's local mount) is mapped to a folder on this machine; after the task succeeds its outputs are uploaded,
and a downstream task's remote inputs are read back through `remote.read_artifact` before it starts.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kfp_notebook.backends.local import remote
from kfp_notebook.backends.local.mounts import mapper
from kfp_notebook.errors import OptionError

#: The remote stores a pipeline root may name (besides a local folder or file://).
ROOT_SCHEMES = ("s3", "gs", "minio")
_VALID = "a local folder, file:///folder, s3://bucket/prefix, gs://bucket/prefix or minio://bucket/prefix"


def checked_root(root: str | os.PathLike[str] | None, flag: str = "--pipeline-root") -> str | None:
    """The pipeline root as runs use it (a local folder made absolute, a remote URI without a trailing /), or
    None for none; raises OptionError naming the bad value, the valid ones and the fix."""
    if root is None or str(root).strip() == "":
        return None
    text = str(root).strip()
    parts = urlsplit(text)
    if parts.scheme in ("", "file"):
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
            raise OptionError(f"{flag} {remote.shown(text)!r}: a file:// root names a folder of this machine "
                              "(file:///folder)")  # fmt: skip
        path = parts.path if parts.scheme == "file" else text
        return os.path.abspath(os.path.expanduser(path))
    given = remote.shown(text) if parts.netloc else text.split("?", 1)[0]  # no password, no signature
    if parts.scheme not in ROOT_SCHEMES:
        raise OptionError(f"{flag} {given!r}: a pipeline root is {_VALID}")
    if not parts.netloc or parts.query or parts.fragment:
        raise OptionError(f"{flag} {given!r}: name a bucket and an optional prefix, no query ({_VALID})")
    if parts.username or parts.password:  # it would be written into every artifact's URI, and run.json
        raise OptionError(f"{flag} {given!r}: credentials do not belong in the URI; they come from "
                          f"{remote.STORES[parts.scheme].credentials}")  # fmt: skip
    problem = remote.problem(text, f"a pipeline root on {parts.scheme}://")
    if problem is not None:
        raise OptionError(f"{flag} {problem}")
    return text.rstrip("/")


def is_remote_root(root: str | None) -> bool:
    return root is not None and remote.is_remote(root)


def task_root(root: str, pipeline: str, run_uuid: str, task: str) -> str:
    """Where one execution of a task keeps its outputs (as KFP's driver: a new UUID for each execution)."""
    return f"{root.rstrip('/')}/{pipeline}/{run_uuid}/{task}/{uuid.uuid4()}"


@dataclass(frozen=True)
class OutputPlace:
    """Where one task's output artifacts go: their URIs' base, the local folder the task writes them in, and
    the mount that maps their `.path` there (a remote root only)."""

    base: str
    folder: Path
    mounts: dict[str, str] = field(default_factory=dict)

    def uri(self, output: str) -> str:
        return f"{self.base}/{output}"


def output_place(root: str | None, pipeline: str, run_uuid: str, task: str, folder: Path) -> OutputPlace:
    """The task's outputs in its folder (no root), under a local root, or uploaded under a remote one."""
    local = folder / "artifacts"
    if root is None:
        return OutputPlace(str(local), local)
    base = task_root(root, pipeline, run_uuid, task)
    mount = remote.mount_path(base)
    if mount is None:
        return OutputPlace(base, Path(base))
    return OutputPlace(base, local, {mount: str(local)})


def local_path(uri: str, mounts: dict[str, str]) -> str:
    """The file on this machine a task's artifact URI stands for (a remote URI's mount mapped; a path as it is)."""
    mount = remote.mount_path(uri)
    return str(mapper(mounts)(mount)) if mount is not None else uri


def fetch_inputs(artifacts: dict[str, list[dict[str, Any]]], cache: Path) -> dict[str, str]:
    """Download the task's remote input artifacts (unless `cache` holds their version): the mounts that show
    each at its `.path`. One the store says is not there is skipped, as the launcher skips it (a producer need
    not write a file: a Metrics output has none), so only reading it fails; otherwise raises
    remote.RemoteObjectError naming the artifact that cannot be read."""
    mounts = {}
    for name, items in artifacts.items():
        for artifact in items:
            uri = str(artifact.get("uri") or "")
            mount = remote.mount_path(uri)
            if mount is None:
                continue
            try:
                mounts[mount] = remote.read_artifact(uri, cache)
            except remote.MissingObjectError:
                continue
            except remote.RemoteObjectError as exc:
                raise remote.RemoteObjectError(f"its input {name!r} could not be read: {exc}") from None
    return mounts


def upload_outputs(artifacts: dict[str, list[dict[str, Any]]], mounts: dict[str, str]) -> None:
    """Upload each output artifact written under a remote root (all or none: what was uploaded before a failure
    is removed again); raises remote.RemoteObjectError naming the output."""
    done: list[str] = []
    try:
        for name, items in artifacts.items():
            for artifact in items:
                uri = str(artifact.get("uri") or "")
                local = local_path(uri, mounts)
                if remote.mount_path(uri) is None or not os.path.exists(local):
                    continue
                try:
                    remote.upload(local, uri)
                except remote.RemoteObjectError as exc:
                    raise remote.RemoteObjectError(f"its output {name!r} could not be uploaded: {exc}") from None
                done.append(uri)
    except remote.RemoteObjectError:
        for uri in done:
            remote.remove(uri)
        raise
