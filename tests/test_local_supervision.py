"""Local task processes die with their kernel, leave nothing running, and runs can be watched live from anywhere."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.backends.local import supervision
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.errors import UnknownNameError
from kfp_notebook.session import Session
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = pytest.mark.slow


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting for a parent that does not reap."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(path: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


# A "kernel": starts a run whose task records its pid and a background child's, then waits forever.
KERNEL = textwrap.dedent("""
    import sys, time
    from kfp import dsl
    import kfp_notebook

    @dsl.component(base_image="python:3.11")
    def linger(marker: str) -> int:
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"])
        with open(marker, "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(300)
        return 0

    @dsl.pipeline
    def lingering(marker: str):
        linger(marker=marker)

    handle = kfp_notebook.run(lingering, {"marker": sys.argv[2]}, wait=False, runs_folder=sys.argv[1], cache=False)
    print(handle.run_id, flush=True)
    time.sleep(300)
""")


@pytest.fixture
def kernel(tmp_path):
    """Start the kernel script; yields (process, run id, task pid, child pid)."""
    script, marker = tmp_path / "kernel.py", tmp_path / "pids"
    script.write_text(KERNEL)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs"), str(marker)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        run_id = process.stdout.readline().strip()
        task_pid, child_pid = map(int, wait_for(marker).split())
        yield process, run_id, task_pid, child_pid
    finally:
        process.kill()
        process.wait()


def test_a_killed_kernel_takes_its_tasks_with_it_and_its_run_shows_lost(kernel, tmp_path):
    process, run_id, task_pid, child_pid = kernel
    assert running(task_pid) and running(child_pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    eventually(lambda: not running(task_pid) and not running(child_pid), timeout=20)
    store = RunStore(tmp_path / "runs")
    assert [r["state"] for r in store.list_runs()] == ["LOST"]
    result = store.load(run_id)
    assert result.state == "LOST" and result["linger"].state == "LOST" and "kernel" in result.message
    assert "no process of it was running" in LocalBackend(tmp_path / "runs").stop_foreign(run_id)


def test_stop_from_another_kernel_is_honoured_by_the_kernel_that_runs_it(kernel, tmp_path):
    _, run_id, task_pid, child_pid = kernel
    second = Session()
    second.settings.runs_dir = str(tmp_path / "runs")
    assert second.recorded_run(run_id).state == "RUNNING"
    said = second.stop(run_id)
    assert said.startswith(f"run {run_id} (CANCELED)"), said
    eventually(lambda: not running(task_pid) and not running(child_pid), timeout=20)
    assert second.recorded_run(run_id).state == "CANCELED"


def test_stop_from_another_kernel_stops_what_a_frozen_kernel_left_running(kernel, tmp_path):
    process, run_id, task_pid, child_pid = kernel
    process.send_signal(signal.SIGSTOP)  # the owner cannot honour the stop request
    try:
        said = LocalBackend(tmp_path / "runs").stop_foreign(run_id, patience=1)
        assert "did not answer the stop request" in said and "stopped the processes of linger" in said, said
        eventually(lambda: not running(task_pid) and not running(child_pid), timeout=20)
    finally:
        process.send_signal(signal.SIGCONT)


def test_a_recorded_process_is_only_its_pid_with_its_start_time():
    me = supervision.identity()
    assert supervision.alive(me)
    assert not supervision.alive({**me, "started": me["started"] + 1})  # a new process reusing the pid
    assert not supervision.alive({"pid": 2**22 + 7, "started": 1}) and not supervision.alive(None)


def test_what_a_succeeded_task_left_running_is_stopped(ip, tmp_path):
    ip.run_cell(
        "%%component\ndef spawn() -> int:\n    import subprocess\n    return subprocess.Popen(['sleep', '300']).pid\n"
    )
    ip.run_cell("%%pipeline\ndef spawner():\n    spawn()\n")
    handle = kfp_notebook.run(ip.user_ns["spawner"], runs_folder=tmp_path / "runs", cache=False)
    assert handle.state is TaskState.SUCCEEDED
    eventually(lambda: not running(handle.result()["spawn"].output), timeout=20)


LIVE = [
    "%%component\ndef slow(gate: str) -> str:\n    import os, time\n    print('hello', flush=True)\n"
    "    for _ in range(600):\n        if os.path.exists(gate):\n            break\n        time.sleep(0.1)\n"
    "    print('bye')\n    return 'done'\n",
    "%%pipeline\ndef live(gate: str):\n    slow(gate=gate)\n",
]


def log_so_far(session: Session, run_id: str) -> str:
    try:
        return session.task_log("slow", run_id)
    except UnknownNameError:  # its run.json does not list the task yet
        return ""


def test_a_running_run_is_seen_from_a_second_kernel_and_its_log_followed(ip, tmp_path):
    for cell in LIVE:
        ip.run_cell(cell)
    gate = tmp_path / "gate"
    handle = kfp_notebook.run(ip.user_ns["live"], {"gate": str(gate)}, wait=False, runs_folder=tmp_path / "runs")
    second = Session()
    second.settings.runs_dir = str(tmp_path / "runs")
    try:
        eventually(lambda: "hello" in log_so_far(second, handle.run_id), timeout=30)
        assert [r.state for r in second.backend("local").runs()] == ["RUNNING"]
        assert second.recorded_run(handle.run_id)["slow"].state == "RUNNING"
        events = (tmp_path / "runs" / handle.run_id / "events.jsonl").read_text().splitlines()
        assert [json.loads(line)["state"] for line in events if json.loads(line)["task_id"] == "slow"][-1] == "RUNNING"
        gate.write_text("go")
        streamed: list[str] = []
        assert second.follow_log("slow", handle.run_id, streamed.append, poll=0.1) == "SUCCEEDED"
        lines = "".join(streamed).splitlines()
        assert lines.index("hello") < lines.index("bye") and lines.count("hello") == 1
    finally:
        gate.write_text("go")
        handle.wait(60)


def test_logs_show_the_last_200_lines_and_say_how_many_were_left_out(ip, tmp_path, capsys):
    ip.run_line_magic("config", f"KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    ip.run_cell("%%component\ndef chatty():\n    for i in range(250):\n        print('line', i)\n")
    ip.run_cell("%%pipeline\ndef talk():\n    chatty()\n")
    ip.run_line_magic("kfp", "run talk")
    capsys.readouterr()
    ip.run_line_magic("kfp", "logs chatty")
    shown = capsys.readouterr().out.splitlines()
    notice = re.fullmatch(r"\((\d+) earlier lines of stdout left out; --tail N shows the last N\)", shown[0])
    written = next((tmp_path / "runs").glob("talk-*/tasks/chatty/stdout.log")).read_text().splitlines()
    assert notice and int(notice.group(1)) == len(written) - 200 and shown[1:201] == written[-200:]
    assert "line 0" not in shown and "line 249" in shown
    capsys.readouterr()
    ip.run_line_magic("kfp", "logs chatty --tail 3")
    asked = capsys.readouterr().out.splitlines()  # the last 3 lines of each stream, and no note
    assert "line 249" in asked and "line 246" not in asked and not [line for line in asked if "left out" in line]
