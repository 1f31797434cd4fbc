"""The warm task starter: tasks forked from it start pristine, stop with cancel, and die with their kernel."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import kfp_notebook
from kfp_notebook.backends.local.launch import kernel_starter as _starter
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = [  # each test starts the starter, a process of its own
    pytest.mark.skipif(not hasattr(os, "fork"), reason="fork-based task starting needs fork"),
    pytest.mark.slow,
]


@pytest.fixture(autouse=True)
def starter_on(monkeypatch):
    """The starter is on by default; these tests make sure of it whatever the environment says."""
    monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "1")


def test_the_starter_is_on_by_default_and_off_with_the_variable(monkeypatch):
    from kfp_notebook.backends.local import starter

    monkeypatch.delenv("KFP_NOTEBOOK_STARTER")
    assert starter.available()
    monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "0")
    assert not starter.available()


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
        with open(f"/proc/{os.getppid()}/stat") as stat:  # the task's supervisor's parent
            return int(stat.read().rsplit(")", 1)[1].split()[1])
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
            "parent": int(open(f"/proc/{os.getppid()}/stat").read().rsplit(")", 1)[1].split()[1]),
            "cwd is the task folder": os.getcwd().endswith("observe"),
            "path[0] is the program's folder": sys.path[0] == os.path.dirname(sys.modules["ephemeral_component"].__file__),
            "path[1] is the task folder": sys.path[1] == os.getcwd(),
            "no bytecode written": sys.dont_write_bytecode,
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
    # (each task runs below its supervisor, which the starter forked)
    assert seen == {
        "environ": False,
        "builtins": False,
        "module global": False,
        "sys.modules": False,
        "cwd is the task folder": True,
        "path[0] is the program's folder": True,
        "path[1] is the task folder": True,
        "no bytecode written": True,
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
        print(starter.pid, starter.address, flush=True)
        time.sleep(60)
    """)
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    starter_pid, address = kernel.stdout.readline().split()
    os.kill(kernel.pid, signal.SIGKILL)
    kernel.wait(10)
    eventually(lambda: not _pid_alive(int(starter_pid)), 10)
    eventually(lambda: not os.path.exists(os.path.dirname(address)), 10)  # its socket's folder is removed


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _napping_task(folder, name: str) -> tuple[list[str], dict[str, str], str, str, str]:
    """task_main arguments for a task that sleeps 60 s (spawn's arguments, directly)."""
    from kfp_notebook.backends.local import task_main

    task = folder / name
    task.mkdir()
    (task / "program.py").write_text("def nap():\n    import time\n    time.sleep(60)\n")
    (task / "input.json").write_text('{"inputs": {}, "outputs": {"outputFile": "%s"}}' % (task / "out.json"))
    arguments = ["--component_module_path", str(task / "program.py"), task_main.INPUT_FILE_FLAG,
                 str(task / "input.json"), "--function_to_execute", "nap"]  # fmt: skip
    return arguments, {"PATH": os.environ["PATH"]}, str(task), str(task / "out.log"), str(task / "err.log")


def test_a_task_stopped_the_moment_it_is_forked_stops_alone(tmp_path):
    """A cancel's SIGTERM that reaches a child as it is forked ends that child, and only that child.

    (It once reached children still running the starter's own SIGTERM handler, which stopped every
    other task of the starter, those of other runs included; or arrived before the child had its own
    process group and was lost.)"""
    from kfp_notebook.backends.local.starter import TaskStarter

    starter = TaskStarter()
    try:
        survivor = starter.spawn(*_napping_task(tmp_path, "survivor"))
        for index in range(40):
            stopped = starter.spawn(*_napping_task(tmp_path, f"stopped-{index}"))
            os.killpg(stopped.pid, signal.SIGTERM)  # as a cancel does, as soon as the pid is known
            assert stopped.wait(10) == -signal.SIGTERM
        assert survivor.returncode is None and _group_alive(survivor.pid)
        os.killpg(survivor.pid, signal.SIGTERM)
        assert survivor.wait(10) == -signal.SIGTERM
    finally:
        starter.close()


def _children(pid: int) -> list[int]:
    found = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(stat))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the starter's children in /proc")
def test_spare_children_killed_while_idle_are_replaced_and_tasks_still_run(tmp_path):
    """The starter forks children ahead of requests; one killed from outside is never handed a task."""
    from kfp_notebook.backends.local.starter import TaskStarter
    from kfp_notebook.backends.local.starter_process import SPARES

    starter = TaskStarter()
    try:
        starter._ensure_running()
        eventually(lambda: len(_children(starter.pid)) == SPARES, 10)
        for spare in _children(starter.pid):
            os.kill(spare, signal.SIGKILL)
        arguments, env, cwd, out, err = _napping_task(tmp_path, "after")
        program = tmp_path / "after" / "program.py"
        program.write_text("def nap():\n    return None\n")
        task = starter.spawn(arguments, env, cwd, out, err)
        assert task.wait(10) == 0, (tmp_path / "after" / "err.log").read_text()
        assert (tmp_path / "after" / "out.json").exists()
        eventually(lambda: len(_children(starter.pid)) == SPARES, 10)  # refilled
    finally:
        starter.close()


def test_a_task_that_cannot_become_its_request_fails(tmp_path):
    """The task's process is forked before its request comes; a request it cannot take (its folder is gone) ends
    the task with a failure, never as a success."""
    from kfp_notebook.backends.local.starter import TaskStarter

    starter = TaskStarter()
    try:
        arguments, env, _, out, err = _napping_task(tmp_path, "gone")
        task = starter.spawn(arguments, env, str(tmp_path / "no-such-folder"), out, err)
        assert task.wait(10) not in (0, None)
    finally:
        starter.close()
