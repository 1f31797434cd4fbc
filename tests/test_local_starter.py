"""The warm task starter: tasks forked from it start pristine, stop with cancel, and die with their kernel."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import kfp_notebook
from kfp_notebook.backends.local.executor import _starter
from kfp_notebook.status import TaskState

from helpers import eventually

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork-based task starting needs fork")


@pytest.fixture(autouse=True)
def starter_on(monkeypatch):
    """The starter is opt-in (KFP_NOTEBOOK_STARTER=1) for now; these tests turn it on."""
    monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "1")


CELLS = [
    textwrap.dedent("""
    %%component --no-cache
    def mutate() -> int:
        import builtins, os, sys, types
        import kfp.dsl
        os.environ["LEAKED"] = "1"
        builtins.leaked = 1
        kfp.dsl.LEAKED = 1
        sys.modules["leaked_module"] = types.ModuleType("leaked_module")
        return os.getppid()
    """),
    textwrap.dedent("""
    %%component --no-cache
    def observe(after: int) -> dict:
        import builtins, os, sys
        import kfp.dsl
        return {
            "environ": "LEAKED" in os.environ,
            "builtins": hasattr(builtins, "leaked"),
            "module global": hasattr(kfp.dsl, "LEAKED"),
            "sys.modules": "leaked_module" in sys.modules,
            "parent": os.getppid(),
            "cwd is the task folder": os.getcwd().endswith("observe"),
            "path[0] is the task folder": sys.path[0] == os.getcwd(),
        }
    """),
    "%%pipeline\ndef leaky():\n    observe(after=mutate().output)\n",
]


@pytest.fixture
def warm(ip):
    for cell in CELLS:
        ip.run_cell(cell.lstrip("\n"))
    started = _starter()
    started.warm_up()
    eventually(lambda: started.ready, 60)
    return started


def test_a_task_forked_by_the_starter_sees_nothing_the_previous_one_changed(ip, warm, tmp_path):
    handle = kfp_notebook.run(ip.user_ns["leaky"], runs_folder=tmp_path / "runs")
    assert handle.state is TaskState.SUCCEEDED, handle.message
    result = handle.result()
    seen = result["observe"].output
    assert result["mutate"].output == warm.pid and seen.pop("parent") == warm.pid, "both tasks were forked"
    assert seen == {
        "environ": False,
        "builtins": False,
        "module global": False,
        "sys.modules": False,
        "cwd is the task folder": True,
        "path[0] is the task folder": True,
    }


def test_a_forked_task_is_stopped_with_its_process_group(ip, warm, tmp_path):
    ip.run_cell("%%component --no-cache\ndef nap() -> int:\n    import subprocess, time\n"
                "    subprocess.Popen(['sleep', '60'])\n    time.sleep(60)\n    return 1\n")  # fmt: skip
    ip.run_cell("%%pipeline\ndef napping():\n    nap()\n")
    handle = kfp_notebook.run(ip.user_ns["napping"], wait=False, runs_folder=tmp_path / "runs")
    eventually(lambda: handle.tasks.get("nap") and handle.tasks["nap"].state is TaskState.RUNNING, 30)
    eventually(lambda: (tmp_path / "runs" / handle.run_id / "tasks" / "nap" / "process.json").exists(), 10)
    import json

    pid = json.loads((tmp_path / "runs" / handle.run_id / "tasks" / "nap" / "process.json").read_text())["pid"]
    handle.cancel()
    assert handle.wait(30) and handle.state is TaskState.CANCELED
    eventually(lambda: not _group_alive(pid), 10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_starter_and_its_tasks_die_with_their_kernel(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from kfp_notebook.backends.local.starter import TaskStarter
        starter = TaskStarter()
        starter._ensure_running()
        task = starter.spawn(["--not-a-task"], {{"PATH": "/usr/bin:/bin"}}, {str(tmp_path)!r},
                             {str(tmp_path / "out")!r}, {str(tmp_path / "err")!r})
        print(starter.pid, flush=True)
        time.sleep(60)
    """)
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    starter_pid = int(kernel.stdout.readline())
    os.kill(kernel.pid, signal.SIGKILL)
    kernel.wait(10)
    eventually(lambda: not _pid_alive(starter_pid), 10)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
