"""Conformance: kfp's compiled test pipelines run locally with default parameters; prints each one's outcome.

kfp's repository keeps, next to each test pipeline, the YAML kfp compiled from it
(test_data/sdk_compiled_pipelines/valid/**.yaml). This script runs each of those YAML files through the local
backend exactly as a user's compiled pipeline would run, and prints one line per file: SUCCEEDED, FAILED (the
first failing task and why), REFUSED (the refusal before the run: a container component, a remote importer,
a parameter without a default, ...), or TIMEOUT. Nothing of kfp's is copied here: the folder is given.

Run: .venv/bin/python benchmarks/kfp_conformance.py PATH/TO/test_data/sdk_compiled_pipelines/valid [--timeout 120]
     (a checkout of kubeflow/pipelines; `git archive HEAD test_data/sdk_compiled_pipelines/valid | tar -x`)
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.tracking.states import TaskState


def outcome(backend: LocalBackend, path: Path, timeout: float) -> tuple[str, str]:
    """How the pipeline in `path` ends locally: (SUCCEEDED | FAILED | REFUSED | TIMEOUT | UNREADABLE, detail)."""
    text = path.read_text(encoding="utf-8")
    try:
        handle = backend.start(text)
    except KfpNotebookError as exc:
        return "REFUSED", str(exc).splitlines()[0][:160]
    except Exception as exc:  # not a pipeline this backend reads (a component file, an old schema)
        return "UNREADABLE", f"{type(exc).__name__}: {exc}"[:160]
    if not handle.wait(timeout):
        handle.cancel()
        return "TIMEOUT", f"still running after {timeout:.0f} s"
    if handle.state is TaskState.SUCCEEDED:
        return "SUCCEEDED", ""
    failed = [t for t in handle.result().tasks.values() if t.state == "FAILED" and t.message]
    detail = f"{failed[-1].task_id}: {failed[-1].message.splitlines()[-1]}" if failed else handle.message
    return handle.state.value, detail[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", default="", help="run only files whose path contains this text")
    arguments = parser.parse_args()
    files = sorted(p for p in arguments.folder.rglob("*.yaml") if arguments.only in str(p))
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as runs:
        backend = LocalBackend(runs)
        for path in files:
            state, detail = outcome(backend, path, arguments.timeout)
            counts[state] += 1
            print(f"{state:<11} {path.relative_to(arguments.folder)}  {detail}", flush=True)
    print(" ".join(f"{state}={count}" for state, count in sorted(counts.items())))


if __name__ == "__main__":
    main()
