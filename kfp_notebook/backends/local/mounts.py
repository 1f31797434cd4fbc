"""Volume mount paths inside a local task's process: every path call sees the mount, no root, no container.

`KFP_NOTEBOOK_MOUNTS` holds {"/mount/path": "/local/folder"}. Every C-level function of `os` that takes a
path (and `open`) is wrapped so that a path under a mount path reaches the local folder; what a call gives
back as a path (`os.getcwd`, `os.readlink`, `os.scandir`'s entries) is shown under the mount path again.
Python-level functions of `os`, `os.path`, `shutil`, `glob`, `pathlib` and `tempfile` call these, so
`shutil.copy2`, `copytree`, `disk_usage`, xattrs and `Path.cwd()` after `os.chdir` see the mount too.
(C extensions that open files themselves, such as HDF5 or SQLite, do not see the mapping.)
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

#: C functions of `os` whose first argument is a path.
ONE_PATH = (
    "access", "chdir", "chflags", "chmod", "chown", "chroot", "execv", "execve", "getxattr", "lchflags", "lchmod",
    "lchown", "listdir", "listxattr", "lstat", "mkdir", "mkfifo", "mknod", "open", "pathconf", "posix_spawn",
    "posix_spawnp", "readlink", "remove", "removexattr", "rmdir", "scandir", "setxattr", "stat", "statvfs",
    "truncate", "unlink", "utime",
)  # fmt: skip
#: C functions of `os` whose first two arguments are paths.
TWO_PATHS = ("link", "rename", "replace", "symlink")
#: Functions of `os` that take a name or descriptor but no path (nothing to map).
NOT_PATHS = (
    "confstr", "copy_file_range", "fpathconf", "fsdecode", "fsencode", "fspath", "get_terminal_size",
    "memfd_create", "putenv", "register_at_fork", "splice", "sysconf", "unsetenv",
)  # fmt: skip
#: Python functions of `os` that reach the file system only through the wrapped C functions.
THROUGH_WRAPPED = (
    "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "fwalk", "makedirs", "removedirs", "renames",
    "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "walk",
)  # fmt: skip
_PATH_KEYWORDS = ("path", "file", "src", "dst")
_SUPPORT_SETS = ("supports_dir_fd", "supports_effective_ids", "supports_fd", "supports_follow_symlinks")

PathMap = Callable[[Any], Any]


def mapper(mounts: dict[str, str]) -> PathMap:
    """A function that rewrites a path under a mount path to the local folder (other values pass through)."""
    return _rewriter([(mount.rstrip("/") or "/", local) for mount, local in mounts.items()])


def unmapper(mounts: dict[str, str]) -> PathMap:
    """The other way: a path in a local folder shown under its mount path."""
    return _rewriter([(local.rstrip("/") or "/", mount.rstrip("/") or "/") for mount, local in mounts.items()])


def _rewriter(pairs: list[tuple[str, str]]) -> PathMap:
    ordered = sorted(pairs, key=lambda pair: -len(pair[0]))

    def rewrite(path: Any) -> Any:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if isinstance(path, bytes):
            text = rewrite(os.fsdecode(path))
            return os.fsencode(text)
        if not isinstance(path, str) or not path.startswith("/"):
            return path
        for source, target in ordered:
            if path == source or path.startswith(source + "/"):
                return target + path[len(source) :]
        return path

    return rewrite


def _wrap(function: Callable[..., Any], map_path: PathMap, count: int) -> Callable[..., Any]:
    def mapped(*args: Any, **kwargs: Any) -> Any:
        args = tuple(map_path(a) if i < count else a for i, a in enumerate(args))
        for key in _PATH_KEYWORDS:
            if key in kwargs:
                kwargs[key] = map_path(kwargs[key])
        return function(*args, **kwargs)

    mapped.__wrapped__ = function  # type: ignore[attr-defined]
    mapped.__name__ = getattr(function, "__name__", "mapped")
    return mapped


def _returning(function: Callable[..., Any], unmap: PathMap) -> Callable[..., Any]:
    """`function`, with the path it returns shown under the mount path."""

    def shown(*args: Any, **kwargs: Any) -> Any:
        return unmap(function(*args, **kwargs))

    shown.__wrapped__ = function  # type: ignore[attr-defined]
    return shown


class _Entry:
    """An `os.DirEntry` whose `path` is under the mount path (the rest is the entry's own)."""

    def __init__(self, entry: os.DirEntry[Any], path: Any):
        self._entry, self.path = entry, path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry, name)

    def __fspath__(self) -> Any:
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self._entry.name!r}>"


class _Entries:
    """What `os.scandir` gives for a mapped folder: its entries with their paths under the mount path."""

    def __init__(self, iterator: Any, unmap: PathMap):
        self._iterator, self._unmap = iterator, unmap

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        entry = next(self._iterator)
        return _Entry(entry, self._unmap(entry.path))

    def __enter__(self) -> _Entries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._iterator.close()


def _scandir(function: Callable[..., Any], map_path: PathMap, unmap: PathMap) -> Callable[..., Any]:
    def scandir(path: Any = ".") -> Any:
        target = map_path(path)
        entries = function(target)
        unchanged = isinstance(path, int) or target == (os.fspath(path) if isinstance(path, os.PathLike) else path)
        return entries if unchanged else _Entries(entries, unmap)

    scandir.__wrapped__ = function  # type: ignore[attr-defined]
    return scandir


def install(mounts: dict[str, str]) -> None:
    """Rewrite mount paths in this process's file functions (and in what they return)."""
    map_path, unmap = mapper(mounts), unmapper(mounts)
    builtins.open = io.open = _wrap(io.open, map_path, 1)  # type: ignore[assignment]
    replaced: dict[Any, Any] = {}
    for names, count in ((ONE_PATH, 1), (TWO_PATHS, 2)):
        for name in names:
            if hasattr(os, name):
                replaced[getattr(os, name)] = _wrap(getattr(os, name), map_path, count)
    replaced[os.scandir] = _scandir(os.scandir, map_path, unmap)
    replaced[os.readlink] = _returning(replaced[os.readlink], unmap)
    for original, wrapper in replaced.items():
        setattr(os, original.__name__, wrapper)
    os.getcwd = _returning(os.getcwd, unmap)  # type: ignore[assignment]
    os.getcwdb = _returning(os.getcwdb, unmap)  # type: ignore[assignment]
    _keep_support_sets(replaced)


def _keep_support_sets(replaced: dict[Any, Any]) -> None:
    """A wrapper supports what its function supports (`shutil` and `pathlib` look functions up there)."""
    for name in _SUPPORT_SETS:
        supported = getattr(os, name, None)
        if isinstance(supported, set):
            supported.update(wrapper for original, wrapper in replaced.items() if original in supported)
