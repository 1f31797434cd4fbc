"""A volume's mount path inside a task's process: every path call of os, shutil, pathlib, glob and tempfile sees it.

The mapping patches the task process's `os`, so the calls run in a child Python (as a task does); each row of
the table runs against the mount path and must give what the same call gives on the local folder.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import types

import pytest

from kfp_notebook.backends.local import mounts

MOUNT = "/mnt/kfp-notebook-test-volume"
PATH_PARAMETERS = {"path", "src", "dst", "file", "top", "name", "filename"}


def test_every_function_of_os_that_takes_a_path_is_mapped_or_known_to_need_no_mapping():
    """A new Python adding a path function to `os` fails here until it is placed in one of the lists."""
    placed = {*mounts.ONE_PATH, *mounts.TWO_PATHS, *mounts.NOT_PATHS, *mounts.THROUGH_WRAPPED}
    unplaced = []
    for name in dir(os):
        function = getattr(os, name)
        if name.startswith("_") or not callable(function) or isinstance(function, type):
            continue
        try:
            parameters = set(inspect.signature(function).parameters)
        except (TypeError, ValueError):  # no signature (utime, posix_spawn...): placed by hand
            parameters = {"path"}
        if parameters & PATH_PARAMETERS and name not in placed:
            unplaced.append(name)
        if name in mounts.THROUGH_WRAPPED:
            assert isinstance(function, types.FunctionType), f"os.{name} is a C function: wrap it"
    assert not unplaced, f"os functions taking a path that the mount mapping does not know: {unplaced}"


CALLS = textwrap.dedent("""
    import errno, glob, json, os, shutil, sys, tempfile
    from pathlib import Path

    mount, local = sys.argv[1], sys.argv[2]
    from kfp_notebook.backends.local import mounts
    mounts.install({mount: local})
    results = {}
    m = Path(mount)

    def row(name, check):
        try:
            outcome = check()
            results[name] = "ok" if outcome in (None, True) else f"wrong: {outcome!r}"
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                results[name] = "unsupported here"
            else:
                results[name] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"

    def same(a, b):
        return True if a == b else (a, b)

    row("every wrapped function wraps", lambda: all(hasattr(getattr(os, n), "__wrapped__")
        for n in (*mounts.ONE_PATH, *mounts.TWO_PATHS) if hasattr(os, n)))
    row("open write", lambda: (m / "a.txt").write_text("hello") and None)
    row("open read", lambda: same(open(f"{mount}/a.txt").read(), "hello"))
    row("on the local folder", lambda: same(open(f"{local}/a.txt").read(), "hello"))
    row("os.mkdir / makedirs", lambda: os.makedirs(f"{mount}/d/e/f"))
    row("shutil.copy2", lambda: same(shutil.copy2(f"{mount}/a.txt", f"{mount}/d/b.txt"), f"{mount}/d/b.txt"))
    row("shutil.copystat", lambda: shutil.copystat(f"{mount}/a.txt", f"{mount}/d/b.txt"))
    row("shutil.copymode", lambda: shutil.copymode(f"{mount}/a.txt", f"{mount}/d/b.txt"))
    row("shutil.copy", lambda: same(shutil.copy(f"{mount}/a.txt", f"{mount}/d/e"), f"{mount}/d/e/a.txt"))
    row("shutil.copytree", lambda: shutil.copytree(f"{mount}/d", f"{mount}/d2") and None)
    row("copytree copied", lambda: same(sorted(os.listdir(f"{local}/d2")), ["b.txt", "e"]))
    row("shutil.disk_usage", lambda: same(shutil.disk_usage(mount).total, shutil.disk_usage(local).total))
    row("os.statvfs", lambda: same(os.statvfs(mount).f_blocks, os.statvfs(local).f_blocks))
    row("os.setxattr", lambda: os.setxattr(f"{mount}/a.txt", "user.kfp", b"v"))
    row("os.getxattr", lambda: same(os.getxattr(f"{mount}/a.txt", "user.kfp"), b"v"))
    row("os.listxattr", lambda: same(os.listxattr(f"{mount}/a.txt"), os.listxattr(f"{local}/a.txt")))
    row("os.removexattr", lambda: os.removexattr(f"{mount}/a.txt", "user.kfp"))
    row("os.symlink + readlink", lambda: (os.symlink(f"{mount}/a.txt", f"{mount}/link"),
                                         same(os.readlink(f"{mount}/link"), f"{mount}/a.txt"))[1])
    row("symlink works on the host", lambda: same(open(f"{local}/link").read(), "hello"))
    row("os.path.realpath", lambda: same(os.path.realpath(f"{mount}/link"), f"{mount}/a.txt"))
    row("Path.resolve", lambda: same((m / "link").resolve(), m / "a.txt"))
    row("shutil.copystat of a link", lambda: shutil.copystat(f"{mount}/link", f"{mount}/d/b.txt",
                                                             follow_symlinks=False))
    row("os.link", lambda: os.link(f"{mount}/a.txt", f"{mount}/hard"))
    row("os.path.samefile", lambda: os.path.samefile(f"{mount}/a.txt", f"{mount}/hard"))
    row("os.rename", lambda: os.rename(f"{mount}/hard", f"{mount}/hard2"))
    row("os.replace", lambda: os.replace(f"{mount}/hard2", f"{mount}/hard3"))
    row("os.truncate", lambda: (os.truncate(f"{mount}/hard3", 2), same(os.path.getsize(f"{mount}/a.txt"), 2))[1])
    row("os.utime", lambda: (os.utime(f"{mount}/a.txt", (1, 1)), same(os.stat(f"{local}/a.txt").st_mtime, 1))[1])
    row("os.chmod", lambda: (os.chmod(f"{mount}/a.txt", 0o640), same(os.stat(f"{local}/a.txt").st_mode & 0o777, 0o640))[1])
    row("os.access", lambda: os.access(f"{mount}/a.txt", os.R_OK))
    row("os.lstat", lambda: os.path.islink(f"{mount}/link"))
    row("os.mkfifo", lambda: os.mkfifo(f"{mount}/fifo"))
    row("os.pathconf", lambda: same(os.pathconf(mount, "PC_NAME_MAX"), os.pathconf(local, "PC_NAME_MAX")))
    row("os.chown", lambda: os.chown(f"{mount}/a.txt", os.getuid(), os.getgid()))
    row("os.open", lambda: os.close(os.open(f"{mount}/c.txt", os.O_CREAT | os.O_WRONLY)))
    row("os.scandir paths", lambda: same({e.path for e in os.scandir(mount)}, {f"{mount}/{n}" for n in os.listdir(local)}))
    row("os.scandir entries", lambda: same({e.name: e.is_dir() for e in os.scandir(mount)},
                                           {n: os.path.isdir(f"{local}/{n}") for n in os.listdir(local)}))
    row("os.walk", lambda: same([t for t, _, _ in os.walk(mount)][0], mount))
    row("os.fwalk", lambda: same(next(os.fwalk(mount))[0], mount))
    row("glob", lambda: same(sorted(glob.glob(f"{mount}/d*")), [f"{mount}/d", f"{mount}/d2"]))
    row("glob recursive", lambda: f"{mount}/d/e/f" in glob.glob(f"{mount}/**", recursive=True))
    row("Path.iterdir", lambda: same(sorted(p.name for p in m.iterdir()), sorted(os.listdir(local))))
    row("Path.glob", lambda: same(sorted(p.name for p in (m / "d").glob("*")), ["b.txt", "e"]))
    row("Path.rglob", lambda: m / "d" / "e" / "f" in set(m.rglob("*")))
    row("Path.stat / exists / is_dir", lambda: (m / "d").exists() and (m / "d").is_dir() and (m / "a.txt").stat().st_size == 2)
    row("Path.touch / unlink", lambda: ((m / "t").touch(), (m / "t").unlink(), not (m / "t").exists())[2])
    row("Path.mkdir / rmdir", lambda: ((m / "x").mkdir(), (m / "x").rmdir(), not os.path.exists(f"{local}/x"))[2])
    row("Path.rename", lambda: ((m / "c.txt").rename(m / "c2.txt"), os.path.exists(f"{local}/c2.txt"))[1])
    row("Path.owner", lambda: bool((m / "a.txt").owner()))
    row("tempfile.mkstemp", lambda: (lambda fd_name: (os.close(fd_name[0]), fd_name[1].startswith(mount + "/"))[1])(
        tempfile.mkstemp(dir=mount)))
    row("tempfile.TemporaryDirectory", lambda: tempfile.TemporaryDirectory(dir=mount).cleanup())
    row("shutil.move", lambda: same(shutil.move(f"{mount}/d2", f"{mount}/d3"), f"{mount}/d3"))
    row("shutil.rmtree", lambda: (shutil.rmtree(f"{mount}/d3"), not os.path.exists(f"{local}/d3"))[1])
    row("shutil.make_archive", lambda: shutil.make_archive(f"{mount}/arch", "gztar", f"{mount}/d").startswith(mount))
    row("os.chdir + getcwd", lambda: (os.chdir(f"{mount}/d"), same(os.getcwd(), f"{mount}/d"))[1])
    row("Path.cwd", lambda: same(Path.cwd(), m / "d"))
    row("os.getcwdb", lambda: same(os.getcwdb(), f"{mount}/d".encode()))
    row("relative paths in the mount", lambda: same(open("b.txt").read(), "hello"))
    row("os.path.abspath", lambda: same(os.path.abspath("b.txt"), f"{mount}/d/b.txt"))
    row("bytes paths", lambda: same(os.listdir(f"{mount}/d".encode()), [n.encode() for n in os.listdir(f"{local}/d")]))
    row("outside the mount untouched", lambda: os.path.exists(local) and not os.path.exists("/mnt/kfp-other"))
    print(json.dumps(results))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file functions")
def test_every_path_call_sees_the_mounted_volume(tmp_path):
    assert not os.path.exists(MOUNT)
    local = tmp_path / "volume"
    local.mkdir()
    script = tmp_path / "calls.py"
    script.write_text(CALLS)
    done = subprocess.run([sys.executable, str(script), MOUNT, str(local)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    failed = {name: outcome for name, outcome in results.items() if outcome not in ("ok", "unsupported here")}
    assert not failed
    assert sum(outcome == "ok" for outcome in results.values()) >= len(results) - 4  # xattrs may be unsupported


def test_paths_map_both_ways_by_the_longest_mount():
    mapping = {"/data": "/host/vol", "/data/inner": "/host/other"}
    to_local, to_mount = mounts.mapper(mapping), mounts.unmapper(mapping)
    assert to_local("/data/x") == "/host/vol/x" and to_local("/data/inner/y") == "/host/other/y"
    assert to_local("/database") == "/database" and to_local("relative/data") == "relative/data" and to_local(3) == 3
    assert to_local(b"/data/z") == b"/host/vol/z"
    assert to_mount("/host/vol/x") == "/data/x" and to_mount("/host/other/y") == "/data/inner/y"
    assert to_mount("/host/volume") == "/host/volume"
