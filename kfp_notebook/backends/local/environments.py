"""Package environments for local tasks: the kernel's interpreter plus a component's packages, built once and cached.

An environment is a folder of packages installed with `--target`; a task runs with the kernel's
interpreter and that folder first on `PYTHONPATH`, so the kernel's own environment is never changed.
One folder per (Python version, package set, index URLs), reused across tasks and runs. `uv` installs
when it is available (much faster); otherwise pip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kfp_notebook.errors import KfpNotebookError

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class PackageEnvironmentError(KfpNotebookError):
    """A package environment could not be built (no network, unknown package, ...)."""


def cache_folder() -> Path:
    """Where environments live: $KFP_NOTEBOOK_CACHE, else $XDG_CACHE_HOME/kfp-notebook, else ~/.cache/kfp-notebook."""
    if os.environ.get("KFP_NOTEBOOK_CACHE"):
        return Path(os.environ["KFP_NOTEBOOK_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kfp-notebook"


def environment_key(packages: tuple[str, ...], index_urls: tuple[str, ...]) -> str:
    identity = {
        "python": sys.version,
        "executable": sys.executable,
        "packages": sorted(packages),
        "index_urls": list(index_urls),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def installer() -> list[str]:
    """The install command: uv when present, else this interpreter's pip."""
    uv = shutil.which("uv") or _uv_next_to_python()
    if uv and os.environ.get("KFP_NOTEBOOK_INSTALLER", "auto") in ("auto", "uv"):
        return [uv, "pip", "install", "--python", sys.executable, "--quiet"]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]


def _uv_next_to_python() -> str | None:
    candidate = Path(sys.executable).parent / "uv"
    return str(candidate) if candidate.exists() else None


def ensure_environment(packages: tuple[str, ...], index_urls: tuple[str, ...], root: Path | None = None) -> Path:
    """The folder holding `packages` for this interpreter, built now if it is not cached yet."""
    root = root or cache_folder() / "envs"
    key = environment_key(packages, index_urls)
    target = root / key
    with _lock(root, key):
        if (target / ".complete").exists():
            return target
        _build(target, packages, index_urls)
    return target


def _build(target: Path, packages: tuple[str, ...], index_urls: tuple[str, ...]) -> None:
    building = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    command = [*installer(), "--target", str(building), *_index_arguments(index_urls), *packages]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise PackageEnvironmentError(_failure(packages, target, done.stderr or done.stdout))
    (building / ".complete").write_text(json.dumps({"packages": list(packages), "index_urls": list(index_urls)}))
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)


def _index_arguments(index_urls: tuple[str, ...]) -> list[str]:
    if not index_urls:
        return []
    arguments = ["--index-url", index_urls[0]]
    for url in index_urls[1:]:
        arguments += ["--extra-index-url", url]
    return arguments


def _failure(packages: tuple[str, ...], target: Path, output: str) -> str:
    tail = "\n".join(output.strip().splitlines()[-6:])
    return (
        f"could not install {', '.join(packages)} for the local run (environment folder {target}). "
        f"Is the package index reachable, and are the names and versions right?\n{tail}"
    )


@contextmanager
def _lock(root: Path, key: str) -> Iterator[None]:
    """One builder per environment, across threads and across kernels."""
    with _LOCKS_GUARD:
        thread_lock = _LOCKS.setdefault(key, threading.Lock())
    root.mkdir(parents=True, exist_ok=True)
    with thread_lock, open(root / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
