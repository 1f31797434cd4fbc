"""Local runs leave the kernel as it was: print, logging, sys.path, environment and packages, over 100 runs."""

from __future__ import annotations

import builtins
import logging
import os
import sys
from importlib import metadata

import pytest

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow


def kernel_state() -> dict:
    return {
        "print": builtins.print,
        "root handlers": list(logging.getLogger().handlers),
        "root level": logging.getLogger().level,
        "sys.path": list(sys.path),
        "environ": dict(os.environ),
        "packages": sorted((d.metadata["Name"], d.version) for d in metadata.distributions()),
        "cwd": os.getcwd(),
    }


def test_one_hundred_runs_leave_the_kernel_unchanged(ip, tmp_path):
    ip.run_cell(
        "%%component\ndef noisy(x: int) -> int:\n    import logging\n    logging.basicConfig(level=logging.DEBUG)\n    print('hello', x)\n    return x + 1\n"
    )
    ip.run_cell("%%pipeline\ndef chain(x: int = 1):\n    noisy(x=noisy(x=x).output)\n")
    ip.run_cell(
        "%%pipeline\ndef fan(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items, parallelism=2) as item:\n        noisy(x=item)\n"
    )
    before = kernel_state()
    for index in range(100):
        pipeline = ip.user_ns["fan" if index % 2 else "chain"]
        handle = kfp_notebook.run(pipeline, runs_folder=tmp_path / "runs", cache=False, workers=4)
        assert handle.state is TaskState.SUCCEEDED, handle.message
    assert kernel_state() == before
