"""A local task's process: its supervisor, then in its child the task's inputs, volume mounts and kfp's executor.

Volume mount paths (`KFP_NOTEBOOK_MOUNTS`) are mapped to local folders by `mounts`; input artifacts are
read-only (an audit hook refuses writes); the executor input comes from a file.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

INPUT_FILE_FLAG = "--executor_input_file"


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
    """The task's supervisor (ends the task's whole tree with it), running kfp's executor in its child."""
    from kfp_notebook.backends.local import supervision, task_supervisor

    watch = os.environ.pop(supervision.WATCH_ENV, "")
    temp = os.environ.pop(task_supervisor.TEMP_ENV, None)
    raise SystemExit(task_supervisor.supervise(execute, int(watch) if watch.isdigit() else None, temp))


def execute() -> None:
    """In the task's own process: its inputs, its mounts, its temporary folder, then kfp's executor (where the
    component's function starts and ends writing to the logs is recorded: logs.USER_BOUNDS_FILE)."""
    import tempfile

    # this task's own folder (a forked task would keep the starter's), without tempfile's probe of candidates
    tempfile.tempdir = os.environ.get("TMPDIR") or None
    sys.argv = read_executor_input(sys.argv)
    refuse_input_writes(input_artifact_paths(sys.argv))
    mounts = json.loads(os.environ.get("KFP_NOTEBOOK_MOUNTS") or "{}")
    if mounts:
        from kfp_notebook.backends.local import mounts as mounting

        mounting.install(mounts)
    from kfp.dsl import executor_main

    from kfp_notebook import kfp_compat
    from kfp_notebook.backends.local import logs

    kfp_compat.around_user_function(*logs.mark_user_function(os.getcwd()))  # the task's folder, its logs beside

    executor_main.executor_main()


if __name__ == "__main__":
    main()
