"""A stop from another kernel or the command line is honoured by the kernel that runs the run (two processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.headless import cli

from helpers import eventually

pytestmark = pytest.mark.slow

OWNER = textwrap.dedent(
    """
    import sys
    from kfp import dsl
    import kfp_notebook

    @dsl.component
    def slow(marker: str) -> str:
        import pathlib, time
        pathlib.Path(marker).write_text("started")
        time.sleep(120)
        return "done"

    @dsl.component
    def then(x: str, marker: str):
        import pathlib
        pathlib.Path(marker).write_text("started")

    @dsl.pipeline
    def chain(first: str, second: str, other: str, sibling: str):
        then(x=slow(marker=first).output, marker=second)
        then(x="independent", marker=sibling).after(slow(marker=other))

    names = ("first", "second", "other", "sibling")
    values = {name: f"{sys.argv[2]}/{name}" for name in names}
    handle = kfp_notebook.run(chain, values, runs_folder=sys.argv[1], wait=False)
    print(handle.run_id, flush=True)
    handle.wait(180)
    print(handle.state.value, handle.message, flush=True)
    """
)


@pytest.fixture
def owner(tmp_path):
    """Another process (a kernel of its own) running a two-step pipeline whose first step sleeps."""
    script = tmp_path / "owner.py"
    script.write_text(OWNER, encoding="utf-8")
    runs, markers = tmp_path / "runs", tmp_path / "markers"
    markers.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(script), str(runs), str(markers)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    eventually(lambda: process.poll() is not None or (markers / "first").exists(), timeout=60)
    assert process.poll() is None, "the owner process ended before its first task started"
    yield process, runs, run_id, markers
    if process.poll() is None:
        process.kill()
        process.wait()


def finished(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=60)
    return out.strip()


def test_kfp_stop_from_another_kernel_ends_the_run_canceled_and_starts_nothing_more(ip, owner):
    process, runs, run_id, markers = owner
    ip.run_line_magic("config", f"KfpMagics.runs_dir = {str(runs)!r}")
    ip.run_line_magic("kfp", f"stop {run_id}")
    assert finished(process).startswith("CANCELED stopped by `%kfp stop` from another kernel")
    assert process.returncode == 0
    result = RunStore(runs).load(run_id)
    assert result.state == "CANCELED"
    assert sorted(p.name for p in markers.iterdir()) in (["first"], ["first", "other"])  # nothing more started
    assert {t.state for t in result.tasks.values()} <= {"CANCELED"}
    assert "FAILED" not in (runs / run_id / "events.jsonl").read_text(encoding="utf-8")


def test_kfp_notebook_stop_from_the_command_line(owner, capsys):
    process, runs, run_id, markers = owner
    assert cli.main(["stop", run_id, "--runs-dir", str(runs), "--json"]) == cli.EXIT_OK
    said = json.loads(capsys.readouterr().out)
    assert said["state"] == "CANCELED" and run_id in said["message"]
    assert finished(process).startswith("CANCELED")
    assert not (markers / "second").exists() and not (markers / "sibling").exists()


def test_a_run_whose_kernel_is_gone_has_its_processes_stopped(owner):
    process, runs, run_id, _ = owner
    process.kill()
    process.wait()
    said = LocalBackend(runs).stop_foreign(run_id, patience=1)
    assert f"run {run_id} (LOST)" in said
