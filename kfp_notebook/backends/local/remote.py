"""Remote objects a local run imports (s3://, minio://, gs://, http(s)://): checked, fetched through fsspec, cached.

Credentials and endpoints come from each store's own configuration (s3fs: the AWS_* environment including
AWS_ENDPOINT_URL, ~/.aws; gcsfs: GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default login). A fetched
object is kept in a cache folder under a key made of its URI and its version (VersionId, ETag, generation, or size
and modification time), so a rerun finds it there; its files are read-only like every input artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kfp_notebook.backends.local.immutability import seal
from kfp_notebook.errors import KfpNotebookError


@dataclass(frozen=True)
class Store:
    """A kind of remote store: the fsspec protocol, the package it needs, the pip extra holding it, credentials."""

    protocol: str
    package: str
    extra: str
    credentials: str


_AWS = "the AWS_* environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE) or ~/.aws"
_GCS = "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login` (STORAGE_EMULATOR_HOST: an emulator)"
_HTTP = "the URL itself (a public or pre-signed URL)"
STORES = {
    "s3": Store("s3", "s3fs", "s3", _AWS),
    "minio": Store("s3", "s3fs", "s3", _AWS),
    "gs": Store("gcs", "gcsfs", "gcs", _GCS),
    "http": Store("http", "aiohttp", "http", _HTTP),
    "https": Store("http", "aiohttp", "http", _HTTP),
}
#: What minio:// names: the S3 API of the cluster's object store (KFP's launcher defaults to this endpoint, region
#: "minio", keys from the secret mlpipeline-minio-artifact); from this machine it is reached through a port-forward.
MINIO_IN_CLUSTER = "seaweedfs.kubeflow:9000"
_VERSION_FIELDS = ("VersionId", "ETag", "generation", "md5Hash", "etag", "Digest", "Content-MD5")


class RemoteObjectError(KfpNotebookError):
    """A remote object a local run imports cannot be read from this machine (the message says why and the fix)."""


class MissingObjectError(RemoteObjectError):
    """The store answered that the object is not there (rather than refusing or failing)."""


def is_remote(uri: str) -> bool:
    """Whether a URI names an object in a remote store (or a registry) rather than a local file."""
    return urlsplit(uri).scheme in (*STORES, "oci")


def shown(uri: str) -> str:
    """The URI as messages show it: no user or password, no query (a pre-signed URL's signature is a credential)."""
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def problem(uri: str, doing: str = "") -> str | None:
    """Why `uri` cannot be read from here without asking the store (None when it may be): the scheme, the extra.
    `doing` is what needs the store, as messages say it (default: importing objects of its scheme)."""
    scheme = urlsplit(uri).scheme
    doing = doing or f"importing {scheme}:// objects locally"
    if scheme == "oci":
        return (
            f"{shown(uri)}: local runs cannot import oci:// artifacts (a model in an OCI registry): no registry "
            "client is used here. Pull it (e.g. `oras pull`) and import the local copy, or submit to Kubeflow."
        )
    store = STORES[scheme]
    missing = [p for p in ("fsspec", store.package) if not _installed(p)]
    if missing:
        return (
            f"{shown(uri)}: {doing} needs {' and '.join(missing)}: "
            f"pip install 'kfp-notebook-magics[{store.extra}]', then rerun."
        )
    if scheme == "minio" and not _endpoint():
        return (
            f"{shown(uri)}: minio:// is the S3 API of the cluster's object store ({MINIO_IN_CLUSTER} inside "
            "Kubeflow), which this machine reaches only through an endpoint you name: e.g. `kubectl port-forward -n "
            "kubeflow svc/seaweedfs 9000` and AWS_ENDPOINT_URL=http://127.0.0.1:9000, with AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY set to the keys of the secret mlpipeline-minio-artifact."
        )
    return None


def check(uri: str) -> dict[str, Any]:
    """What the store tells of the object (its size, type and version); raises RemoteObjectError with the fix."""
    found = problem(uri)
    if found is not None:
        raise RemoteObjectError(found)
    filesystem, path = _open(uri)
    try:
        info = dict(filesystem.info(path))
        if info.get("type") == "directory":
            info["files"] = filesystem.find(path, detail=True)
        return info
    except Exception as exc:
        error = MissingObjectError if _not_found(exc) else RemoteObjectError
        raise error(_failure(uri, exc)) from None


def fetch(uri: str, cache: Path, info: dict[str, Any] | None = None) -> tuple[str, bool]:
    """The local copy of the object (downloaded unless the cache holds this version) and whether it was downloaded.
    `info`: what `check` told of it just before (the store is not asked twice). An object whose store tells no
    version (an HTTP server without ETag or Last-Modified) is downloaded each time and kept by its content's hash."""
    info = info if info is not None else check(uri)
    version = _version(info)
    name = Path(urlsplit(uri).path.rstrip("/")).name or "object"
    key = _cache_key(uri, version) if version is not None else None
    if key is not None and (cache / key / name).exists():
        return str(cache / key / name), False
    return str(cache / _download(uri, info, cache, key, name) / name), True


def read_artifact(uri: str, cache: Path | None = None) -> str:
    """The local file (or folder) holding the artifact at `uri`: a remote object's copy in `cache` (default: the
    user's cache folder), downloaded unless it holds this version; a local path as it is. Raises
    RemoteObjectError saying why and the fix. The one reader of remote artifacts: tasks' inputs, the results views."""
    if not is_remote(uri):
        return uri
    return fetch(uri, cache if cache is not None else default_cache())[0]


def default_cache() -> Path:
    """Where remote artifacts read outside a run are kept: $XDG_CACHE_HOME/kfp-notebook/remote (~/.cache/...)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "kfp-notebook" / "remote"


def mount_path(uri: str) -> str | None:
    """The path kfp's SDK gives an artifact at a remote `uri` inside a task, where the launcher mounts it
    (`/s3/bucket/key` for s3://bucket/key; /gcs/ for gs://, /minio/ for minio://), or None for another scheme."""
    scheme, separator, rest = uri.partition("://")
    prefix = MOUNT_PREFIXES.get(scheme)
    return prefix + rest if separator and prefix else None


#: The launcher's local mount of each store kfp's SDK knows (dsl.Artifact.path of a remote URI).
MOUNT_PREFIXES = {"gs": "/gcs/", "minio": "/minio/", "s3": "/s3/"}


def _cache_key(uri: str, version: str) -> str:
    return hashlib.sha256(f"{shown(uri)}\n{uri}\n{version}".encode()).hexdigest()[:32]


def _download(uri: str, info: dict[str, Any], cache: Path, key: str | None, name: str) -> str:
    """Download into a private folder, seal it read-only, then move it into place (whole or not at all); the key
    it is kept under (`key`, or one made of the content's hash when the store tells no version)."""
    partial = cache / f".partial-{uuid.uuid4().hex}"
    partial.mkdir(parents=True)
    try:
        filesystem, path = _open(uri)
        directory = info.get("type") == "directory"
        filesystem.get(path.rstrip("/") + ("/" if directory else ""), str(partial / name), recursive=directory)
        seal([str(partial / name)])
        key = key or _cache_key(uri, "content=" + _content_hash(partial / name))
        os.rename(partial, cache / key)
    except OSError as exc:  # FileExistsError and the like: another run fetched the same version meanwhile
        if key is None or not (cache / key / name).exists():
            raise RemoteObjectError(_failure(uri, exc)) from None
    except Exception as exc:
        raise RemoteObjectError(_failure(uri, exc)) from None
    finally:
        if partial.exists():
            _remove(partial)
    return key


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() if file != path else b"")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def upload(local: str, uri: str) -> None:
    """Put the file or folder `local` at `uri` (a folder's files under it); when any part fails, what was put is
    removed again and RemoteObjectError says why, so no half artifact stays there."""
    filesystem, path = _open(uri)
    root = Path(local)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    put: list[str] = []
    try:
        for file in files:
            target = path if file == root else f"{path}/{file.relative_to(root).as_posix()}"
            filesystem.put_file(str(file), target)
            put.append(target)
    except Exception as exc:
        if put:
            with contextlib.suppress(Exception):
                filesystem.rm(put)
        raise RemoteObjectError(_write_failure(uri, exc)) from None


def remove(uri: str) -> None:
    """Remove the object or prefix at `uri` if it can be (best effort: after a failed upload)."""
    with contextlib.suppress(Exception):
        filesystem, path = _open(uri)
        filesystem.rm(path, recursive=True)


def content_fingerprint(uri: str, info: dict[str, Any] | None = None) -> str:
    """What the store tells of the artifact's content (each file's relative name and ETag, MD5 or version): the
    same for the same bytes at another URI, so a cache key made of it holds across runs. `info`: `check`'s."""
    info = info if info is not None else check(uri)
    base = _open(uri)[1].rstrip("/")
    files = info.get("files") if info.get("type") == "directory" else {base: info}
    entries = files.values() if isinstance(files, dict) else files or []
    parts = sorted(f"{str(f.get('name', '')).removeprefix(base)}={_content_version(dict(f))}" for f in entries)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def version(uri: str) -> str | None:
    """The object's version as the store tells it now (raises RemoteObjectError when it is gone)."""
    return _version(check(uri))


def describe(uri: str) -> tuple[str | None, str]:
    """The object's version and its content's fingerprint, from one question to the store."""
    info = check(uri)
    return _version(info), content_fingerprint(uri, info)


def check_root(uri: str) -> None:
    """A pipeline root's bucket can be reached with the credentials found here (RemoteObjectError otherwise)."""
    found = problem(uri, f"a pipeline root on {urlsplit(uri).scheme}://")
    if found is not None:
        raise RemoteObjectError(found)
    filesystem, path = _open(uri)
    try:
        filesystem.info(path.split("/", 1)[0])
    except Exception as exc:
        raise RemoteObjectError(_write_failure(uri, exc)) from None


def _content_version(info: dict[str, Any]) -> str | None:
    for name in ("ETag", "md5Hash", "etag", "Content-MD5", "crc32c"):
        if info.get(name):
            return f"{name}={info[name]}"
    return _version(info)


def _write_failure(uri: str, exc: BaseException) -> str:
    """Why writing under `uri` failed, with the fix; never the exception's text where a credential could be."""
    credentials = STORES[urlsplit(uri).scheme].credentials
    code = _error_code(exc)
    bucket = urlsplit(uri).netloc
    if isinstance(exc, FileNotFoundError) or code in ("404", "NoSuchBucket"):
        where = f"the bucket {bucket!r} does not exist (or cannot be seen with these credentials)"
        return f"{shown(uri)} cannot be written: {where}."
    if isinstance(exc, PermissionError) or code in _REFUSED or type(exc).__name__ in _NO_CREDENTIALS:
        why = "no credentials were found" if type(exc).__name__ in _NO_CREDENTIALS else "the store refused access"
        code_text = f" ({code})" if code else ""
        return f"{shown(uri)} cannot be written: {why}{code_text}. Credentials come from {credentials}."
    reason = f"{type(exc).__name__}{f' ({code})' if code else ''}"
    return f"{shown(uri)} cannot be written: {reason}; check the URI and {credentials}."


def _open(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem for the URI's store (configured from the store's own settings) and the object's path."""
    parts = urlsplit(uri)
    store = STORES[parts.scheme]
    if store.protocol == "http":
        return _filesystem("http", ()), uri
    options: dict[str, Any] = {}
    if parts.scheme == "minio":
        options["endpoint_url"] = _endpoint()
    if parts.scheme == "gs" and os.environ.get("STORAGE_EMULATOR_HOST"):
        options["token"] = "anon"  # an emulator (fake-gcs-server and the like) takes no credentials
    return _filesystem(store.protocol, tuple(sorted(options.items()))), parts.netloc + parts.path


_FILESYSTEMS: dict[str, Any] = {}
_FILESYSTEMS_LOCK = threading.Lock()


def _filesystem(protocol: str, options: tuple[tuple[str, Any], ...]) -> Any:
    """One filesystem per store, options and store configuration in the environment (making one costs ~0.5 s:
    its client and credentials), with no listing kept from an earlier call (objects change between calls)."""
    import fsspec

    configuration = [(k, v) for k, v in sorted(os.environ.items()) if k.startswith(_CONFIGURATION)]
    key = hashlib.sha256(repr((protocol, options, configuration)).encode()).hexdigest()
    with _FILESYSTEMS_LOCK:
        filesystem = _FILESYSTEMS.get(key)
        if filesystem is None:
            filesystem = _FILESYSTEMS[key] = fsspec.filesystem(protocol, skip_instance_cache=True, **dict(options))
    filesystem.invalidate_cache()
    return filesystem


#: Environment variables that configure a store's client: a change makes a new filesystem.
_CONFIGURATION = ("AWS_", "GOOGLE_", "STORAGE_EMULATOR_HOST", "GCSFS_", "CLOUDSDK_")


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""


def _version(info: dict[str, Any]) -> str | None:
    """What changes when the object changes: its version or ETag; size and time when the store gives nothing else."""
    if "files" in info:
        files = info["files"].values() if isinstance(info["files"], dict) else info["files"]
        parts = [f"{f.get('name')}={_version(dict(f))}" for f in files]
        return "\n".join(sorted(parts)) if parts and all(not p.endswith("=None") for p in parts) else None
    for name in _VERSION_FIELDS:
        if info.get(name):
            return f"{name}={info[name]}"
    modified = info.get("LastModified") or info.get("updated") or info.get("Last-Modified") or info.get("mtime")
    return f"size={info.get('size')} modified={modified}" if modified else None


def _failure(uri: str, exc: BaseException) -> str:
    """Why reading the object failed, with the fix; never the exception's text where a credential could be."""
    scheme = urlsplit(uri).scheme
    credentials = STORES[scheme].credentials
    code = _error_code(exc)
    if _not_found(exc):
        return f"{shown(uri)} does not exist (or these credentials cannot list it): check the URI."
    if isinstance(exc, PermissionError) or code in _REFUSED or type(exc).__name__ in _NO_CREDENTIALS:
        why = "no credentials were found" if type(exc).__name__ in _NO_CREDENTIALS else "the store refused access"
        return f"{shown(uri)}: {why}{f' ({code})' if code else ''}. Credentials come from {credentials}."
    reason = f"{type(exc).__name__}{f' ({code})' if code else ''}"
    return f"{shown(uri)} could not be read: {reason}; check the URI and {credentials}."


def _not_found(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or _error_code(exc) in ("404", "NoSuchKey", "NoSuchBucket")


_REFUSED = ("401", "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "Forbidden")
_NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError")


def _error_code(exc: BaseException) -> str:
    """The store's error code (an S3 code, an HTTP status), from the exception or the one it was raised from."""
    for error in (exc, exc.__cause__, exc.__context__):
        response = getattr(error, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return str(response["Error"]["Code"])
        status = getattr(error, "status", None) or getattr(error, "code", None)
        if isinstance(status, int):
            return str(status)
    return ""


def _remove(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    shutil.rmtree(folder, ignore_errors=True)


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None
