"""Every local run ends with a true state under faults: a full disk, a file size limit, a read-only runs folder,
and concurrent runs of one pipeline (in one kernel, and in two kernels sharing the cache folder)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow

# A kernel of its own: runs a ParallelFor of 20 and prints how the run ended as JSON (or the error it raised).
KERNEL = textwrap.dedent("""
    import json, resource, sys
    from kfp import dsl
    import kfp_notebook

    @dsl.component(base_image="python:3.11")
    def square(x: int) -> int:
        print("squaring", x)
        return x * x

    @dsl.component(base_image="python:3.11")
    def total(values: list) -> int:
        return sum(values)

    @dsl.pipeline
    def fan(items: list = list(range(20))):
        with dsl.ParallelFor(items, parallelism=4) as item:
            s = square(x=item)
        total(values=dsl.Collected(s.output))

    runs, limit = sys.argv[1], int(sys.argv[2])
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        handle = kfp_notebook.run(fan, runs_folder=runs, workers=4)
        result = handle.result()
        messages = [handle.message] + [t.message for t in result.tasks.values()]
        total = result["total"].output if handle.state.value == "SUCCEEDED" else None
        print(json.dumps({"state": handle.state.value, "messages": messages, "total": total}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "messages": [str(exc)]}))
""")


def kernel(tmp_path: Path, runs: Path, limit: int = 0, wrap: list[str] | None = None) -> subprocess.Popen[str]:
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    # -B: under the file size limit a bytecode file would be written cut short, and break every later import
    command = [*(wrap or []), sys.executable, "-B", str(script), str(runs), str(limit)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ended(process: subprocess.Popen[str]) -> dict:
    """How the kernel's run ended; it must end (a bounded wait) and say so in one JSON line."""
    out, err = process.communicate(timeout=240)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no outcome; stderr:\n{err[-2000:]}"
    return json.loads(lines[-1])


def test_a_file_size_limit_ends_the_run_failed_naming_where(tmp_path):
    outcome = ended(kernel(tmp_path, tmp_path / "runs", limit=6000))
    assert outcome.get("state") == "FAILED" or outcome.get("error") == "RunsFolderError", outcome
    said = " ".join(outcome["messages"])
    assert str(tmp_path / "runs") in said and "File too large" in said and "unexpectedly" not in said


def in_namespace(mount: str) -> list[str] | None:
    """A command prefix that runs in a private mount namespace with `mount` done first (None: not allowed here)."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True)
    return ["unshare", "-rm", "sh", "-c", mount + ' && exec "$@"', "sh"] if probe.returncode == 0 else None


def test_a_full_filesystem_ends_the_run_failed_naming_where(tmp_path):
    runs = tmp_path / "tiny"
    runs.mkdir()
    wrap = in_namespace(f"mount -t tmpfs -o size=48k tmpfs {runs}")
    if wrap is None:
        pytest.skip("no private mount namespace here (unshare -rm is not allowed)")
    outcome = ended(kernel(tmp_path, runs, wrap=wrap))
    assert outcome.get("state") == "FAILED" or outcome.get("error") == "RunsFolderError", outcome
    said = " ".join(outcome["messages"])
    assert str(runs) in said and "No space left" in said and "unexpectedly" not in said


def test_a_read_only_runs_folder_is_refused_before_the_run_starts(tmp_path):
    runs = tmp_path / "readonly"
    runs.mkdir()
    wrap = in_namespace(f"mount -t tmpfs tmpfs {runs} && mount -o remount,ro {runs}")
    if wrap is None:
        pytest.skip("no private mount namespace here (unshare -rm is not allowed)")
    outcome = ended(kernel(tmp_path, runs, wrap=wrap))
    assert outcome.get("error") == "RunsFolderError", outcome
    assert f"cannot write a run folder in {runs} (Read-only file system)" in outcome["messages"][0]
    assert "KfpMagics.runs_dir" in outcome["messages"][0]


def test_two_kernels_sharing_the_cache_folder_both_succeed(tmp_path):
    first, second = kernel(tmp_path, tmp_path / "runs"), kernel(tmp_path, tmp_path / "runs")
    outcomes = [ended(first), ended(second)]
    assert [(o["state"], o["total"]) for o in outcomes] == [("SUCCEEDED", sum(x * x for x in range(20)))] * 2
    assert not [p for p in (tmp_path / "runs" / ".cache").iterdir() if ".tmp-" in p.name]


def test_two_runs_of_one_pipeline_in_one_kernel_with_equal_items_both_succeed(ip, tmp_path):
    ip.run_cell("%%component\ndef square(x: int) -> int:\n    return x * x\n")
    ip.run_cell("%%component\ndef total(values: list) -> int:\n    return sum(values)\n")
    ip.run_cell(
        "%%pipeline\ndef same(items: list = [3] * 8):\n    with dsl.ParallelFor(items) as item:\n"
        "        s = square(x=item)\n    total(values=dsl.Collected(s.output))\n"
    )
    handles = [kfp_notebook.run(ip.user_ns["same"], wait=False, runs_folder=tmp_path / "runs", workers=4)
               for _ in range(2)]  # fmt: skip
    for handle in handles:
        assert handle.wait(120), "a run did not end"
        assert handle.state is TaskState.SUCCEEDED, handle.message
        assert handle.result()["total"].output == 72
    assert not [p for p in (tmp_path / "runs" / ".cache").iterdir() if ".tmp-" in p.name]
