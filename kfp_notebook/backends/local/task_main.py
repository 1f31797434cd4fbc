"""Runs inside a local task's process: maps volume mount paths to local folders, then runs kfp's executor.

`KFP_NOTEBOOK_MOUNTS` holds {"/mount/path": "/local/folder"}. Path arguments of the file functions of
`open`, `os`, `os.path`, `glob`, `shutil` and `pathlib` that start with a mount path are rewritten,
so `open("/data/x")` works without root and without a container. (C extensions that open files
themselves, such as HDF5 or SQLite, do not see the mapping.)
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any

_ONE_PATH = (
    "stat", "lstat", "listdir", "scandir", "mkdir", "makedirs", "remove", "unlink", "rmdir", "chdir", "access",
    "utime", "chmod", "open", "removedirs", "truncate",
)  # fmt: skip
_TWO_PATHS = ("rename", "replace", "link", "symlink")
INPUT_FILE_FLAG = "--executor_input_file"


def mapper(mounts: dict[str, str]) -> Callable[[Any], Any]:
    """A function that rewrites a path under a mount path to the local folder (other values pass through)."""
    ordered = sorted(mounts.items(), key=lambda item: -len(item[0]))

    def map_path(path: Any) -> Any:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path.startswith("/"):
            return path
        for mount, local in ordered:
            mount = mount.rstrip("/") or "/"
            if path == mount or path.startswith(mount + "/"):
                return local + path[len(mount) :]
        return path

    return map_path


def _wrap(function: Callable[..., Any], map_path: Callable[[Any], Any], count: int) -> Callable[..., Any]:
    def mapped(*args: Any, **kwargs: Any) -> Any:
        args = tuple(map_path(a) if i < count else a for i, a in enumerate(args))
        for key in ("path", "file", "src", "dst", "name"):
            if key in kwargs:
                kwargs[key] = map_path(kwargs[key])
        return function(*args, **kwargs)

    mapped.__wrapped__ = function  # type: ignore[attr-defined]
    return mapped


def install(mounts: dict[str, str]) -> None:
    """Rewrite mount paths in this process's file functions."""
    map_path = mapper(mounts)
    builtins.open = io.open = _wrap(io.open, map_path, 1)  # type: ignore[assignment]
    for name in _ONE_PATH:
        if hasattr(os, name):
            setattr(os, name, _wrap(getattr(os, name), map_path, 1))
    for name in _TWO_PATHS:
        if hasattr(os, name):
            setattr(os, name, _wrap(getattr(os, name), map_path, 2))


def read_executor_input(argv: list[str]) -> list[str]:
    """kfp's arguments with `--executor_input_file PATH` replaced by `--executor_input` and the file's content.

    The executor input travels in a file, as a command line is limited in size (an input of ~128 KB would
    not fit); inside this process `sys.argv` has no such limit.
    """
    if INPUT_FILE_FLAG not in argv:
        return argv
    at = argv.index(INPUT_FILE_FLAG)
    with open(argv[at + 1], encoding="utf-8") as handle:
        content = handle.read()
    return [*argv[:at], "--executor_input", content, *argv[at + 2 :]]


_WRITES = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT
_CHANGES = {"os.remove": 0, "os.rename": 0, "os.truncate": 0, "os.rmdir": 0, "shutil.rmtree": 0, "os.chmod": 0}


def input_artifact_paths(argv: list[str]) -> list[str]:
    """The paths of the input artifacts named in kfp's `--executor_input` argument."""
    document = json.loads(argv[argv.index("--executor_input") + 1]) if "--executor_input" in argv else {}
    inputs = document.get("inputs", {}).get("artifacts", {})
    return [a["uri"] for value in inputs.values() for a in value.get("artifacts", []) if a.get("uri")]


def _writes(event: str, args: tuple[Any, ...]) -> Any:
    """The path an audited call would write, truncate, move or remove, else None."""
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2]
        if (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITES):
            return args[0]
        return None
    return args[_CHANGES[event]] if event in _CHANGES else None


def refuse_input_writes(paths: list[str]) -> None:
    """Refuse (PermissionError) any write, truncation, rename or removal under an input artifact."""
    roots = [os.path.abspath(p) for p in paths]

    def audit(event: str, args: tuple[Any, ...]) -> None:
        target = _writes(event, args)
        if target is None or isinstance(target, int):
            return
        path = os.path.abspath(os.fsdecode(target))
        for root in roots:
            if path == root or path.startswith(root + os.sep):
                raise PermissionError(
                    f"{path} is part of an input artifact, which is read-only: write changed data to an "
                    "output artifact (Output[...]) instead"
                )

    if roots:
        sys.addaudithook(audit)


def main() -> None:
    from kfp_notebook.backends.local import supervision

    watch = os.environ.pop(supervision.WATCH_ENV, "")
    if watch.isdigit():
        supervision.watch_kernel(int(watch))
    sys.argv = read_executor_input(sys.argv)
    refuse_input_writes(input_artifact_paths(sys.argv))
    mounts = json.loads(os.environ.get("KFP_NOTEBOOK_MOUNTS") or "{}")
    if mounts:
        install(mounts)
    from kfp.dsl import executor_main

    executor_main.executor_main()


if __name__ == "__main__":
    main()
