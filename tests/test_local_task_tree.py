"""Fault injection: a task's whole process tree, its temporary files and its stdin end with the task.

Children that left the task's session (`start_new_session=True`, `os.setsid`, a double-forked daemon) must not
survive the task, whether it succeeds, fails, is canceled or its kernel dies; tasks started as fresh processes
and tasks forked by the warm starter alike (as a pod's end kills everything in it on Kubeflow).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from kfp import dsl

import kfp_notebook
from kfp_notebook.backends.local import process_tree
from kfp_notebook.backends.local.launch import kernel_starter
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper and /proc are Linux's"),
]


@dsl.component(base_image="python:3.11")
def escape(marker: str, then: str) -> str:
    """Start three children that leave the task's session, record them and the temporary folder, then `then`."""
    import json
    import os
    import subprocess
    import tempfile
    import time

    escaped = [subprocess.Popen(["sleep", "300"], start_new_session=True).pid]
    child = os.fork()
    if child == 0:  # a child in a session of its own
        os.setsid()
        time.sleep(300)
        os._exit(0)
    escaped.append(child)
    reading, writing = os.pipe()
    if os.fork() == 0:  # a daemon: fork, setsid, fork again, the middle one exits
        os.setsid()
        if os.fork() == 0:
            os.write(writing, str(os.getpid()).encode())
            time.sleep(300)
        os._exit(0)
    escaped.append(int(os.read(reading, 32)))
    temp = tempfile.mkdtemp()
    with open(os.path.join(temp, "scratch"), "w") as scratch:
        scratch.write("x")
    with open(f"/proc/{os.getppid()}/stat") as stat:
        grandparent = int(stat.read().rsplit(")", 1)[1].split()[1])
    record = {"escaped": escaped, "tmp": tempfile.gettempdir(), "TMPDIR": os.environ.get("TMPDIR"),
              "grandparent": grandparent, "stdin": os.readlink("/proc/self/fd/0")}  # fmt: skip
    with open(marker + ".part", "w") as handle:
        json.dump(record, handle)
    os.replace(marker + ".part", marker)
    if then == "fail":
        raise SystemExit(3)
    if then == "sleep":
        time.sleep(300)
    return "done"


@dsl.pipeline
def escaping(marker: str, then: str = "return"):
    escape(marker=marker, then=then)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def recorded(marker: Path, seconds: float = 60) -> dict:
    return eventually(lambda: marker.exists() and json.loads(marker.read_text()), timeout=seconds)


def assert_all_ended(record: dict) -> None:
    escaped = record["escaped"]
    assert len(escaped) >= 3
    eventually(lambda: not [pid for pid in escaped if running(pid)], timeout=20)
    eventually(lambda: not os.path.exists(record["tmp"]), timeout=20)


@pytest.fixture(params=["fresh", "forked"])
def start_path(request, monkeypatch):
    """Tasks start as fresh processes (starter off) or forked by the warm starter (warmed first)."""
    if request.param == "fresh":
        monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "0")
        return None
    if not hasattr(os, "fork"):
        pytest.skip("the warm starter needs fork")
    monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "1")
    started = kernel_starter()
    started.warm_up()
    eventually(lambda: started.ready, 60)
    return started.pid


def check_path(record: dict, starter_pid: int | None) -> None:
    """The task ran the way the test asked (forked: its supervisor is the starter's child)."""
    if starter_pid is None:
        assert record["grandparent"] == os.getpid()
    else:
        assert record["grandparent"] == starter_pid


@pytest.mark.parametrize("then", ["return", "fail"])
def test_children_outside_the_task_session_end_with_the_task(start_path, then, tmp_path):
    marker = tmp_path / "marker.json"
    handle = kfp_notebook.run(
        escaping, {"marker": str(marker), "then": then}, runs_folder=tmp_path / "runs", cache=False
    )
    assert handle.state is (TaskState.SUCCEEDED if then == "return" else TaskState.FAILED), handle.message
    record = recorded(marker)
    check_path(record, start_path)
    assert_all_ended(record)


def test_a_cancel_ends_the_whole_tree_and_its_temporary_folder(start_path, tmp_path):
    marker = tmp_path / "marker.json"
    handle = kfp_notebook.run(
        escaping, {"marker": str(marker), "then": "sleep"}, runs_folder=tmp_path / "runs", cache=False, wait=False
    )
    record = recorded(marker)
    check_path(record, start_path)
    assert all(running(pid) for pid in record["escaped"]) and os.path.isdir(record["tmp"])
    handle.cancel()
    assert handle.wait(30) and handle.state is TaskState.CANCELED
    assert_all_ended(record)


def test_a_task_has_a_private_temporary_folder_and_reads_dev_null(start_path, tmp_path):
    marker = tmp_path / "marker.json"
    handle = kfp_notebook.run(escaping, {"marker": str(marker)}, runs_folder=tmp_path / "runs", cache=False)
    assert handle.state is TaskState.SUCCEEDED, handle.message
    record = recorded(marker)
    assert record["tmp"] == record["TMPDIR"] and os.path.basename(record["tmp"]).startswith("kfp-notebook-task-")
    assert os.path.dirname(record["tmp"]) == tempfile.gettempdir()  # where the kernel's own temp files go
    assert record["stdin"] == "/dev/null"
    assert not os.path.exists(record["tmp"])


# A "kernel" with a terminal-like stdin (a pipe) that runs the escaping task and waits; killed by the test.
KERNEL = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, sys.argv[3])
    import kfp_notebook
    from test_local_task_tree import escaping
    if sys.argv[2] == "forked":
        from kfp_notebook.backends.local.launch import kernel_starter
        started = kernel_starter()
        started.warm_up()
        while not started.ready:
            time.sleep(0.05)
    marker = sys.argv[1]
    kfp_notebook.run(escaping, {"marker": marker, "then": "sleep"}, wait=False, runs_folder=marker + "-runs",
                     cache=False)
    time.sleep(300)
""")


@pytest.mark.parametrize("path", ["fresh", "forked"])
def test_a_killed_kernel_takes_every_process_of_its_tasks_and_their_temporary_folders(path, tmp_path):
    marker = tmp_path / "marker.json"
    env = {**os.environ, "KFP_NOTEBOOK_STARTER": "1" if path == "forked" else "0", "TMPDIR": str(tmp_path)}
    here = str(Path(__file__).parent)
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL, str(marker), path, here], stdin=subprocess.PIPE,
                              env=env, start_new_session=True)  # fmt: skip
    try:
        record = recorded(marker, 90)
        assert record["stdin"] == "/dev/null", "a task never reads its kernel's stdin"
        assert record["grandparent"] != kernel.pid if path == "forked" else record["grandparent"] == kernel.pid
        assert all(running(pid) for pid in record["escaped"])
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(10)
        assert_all_ended(record)
        eventually(lambda: not list(tmp_path.glob("kfp-notebook-*")), timeout=20)  # starter's and tasks' folders
    finally:
        kernel.kill()
        kernel.wait()
        process_tree.signal_all([pid for pid in _recorded_pids(marker) if running(pid)], signal.SIGKILL)


def _recorded_pids(marker: Path) -> list[int]:
    try:
        return json.loads(marker.read_text())["escaped"]
    except (OSError, ValueError):
        return []


def test_the_starter_kills_orphans_of_a_supervisor_that_was_killed(tmp_path, monkeypatch):
    """The last resort: a supervisor SIGKILLed before it ended its tree leaves orphans to the starter
    (a subreaper too), which kills them when it reaps the supervisor."""
    monkeypatch.setenv("KFP_NOTEBOOK_STARTER", "1")
    started = kernel_starter()
    started.warm_up()
    eventually(lambda: started.ready, 60)
    marker = tmp_path / "marker.json"
    handle = kfp_notebook.run(
        escaping, {"marker": str(marker), "then": "sleep"}, runs_folder=tmp_path / "runs", cache=False, wait=False
    )
    record = recorded(marker)
    supervisor = json.loads(next((tmp_path / "runs").glob("*/tasks/escape/process.json")).read_text())["pid"]
    os.kill(supervisor, signal.SIGKILL)
    assert handle.wait(30) and handle.state is TaskState.FAILED
    eventually(lambda: not [pid for pid in record["escaped"] if running(pid)], timeout=20)
    eventually(lambda: not os.path.exists(record["tmp"]), timeout=20)


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    import kfp_notebook
    from kfp_notebook.backends.local.launch import kernel_starter
    if sys.argv[1] == "warming":  # the script ends while its starter is still importing
        import time

        kernel_starter().warm_up()
        time.sleep(0.3)
    else:
        from kfp import dsl

        @dsl.component(base_image="python:3.11")
        def one() -> int:
            return 1

        @dsl.pipeline
        def short():
            one()

        assert kfp_notebook.run(short, runs_folder=sys.argv[3], cache=False).state.value == "SUCCEEDED"
""")


@pytest.mark.parametrize("how", ["warming", "after a run"])
def test_a_script_leaves_no_starter_folder_and_no_traceback(how, tmp_path):
    """Every way a short-lived kernel or script ends: its starter's folder goes, nothing is printed."""
    here = str(Path(__file__).parent)
    env = {**os.environ, "KFP_NOTEBOOK_STARTER": "1", "TMPDIR": str(tmp_path)}
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    for _ in range(3):
        done = subprocess.run([sys.executable, str(script), how, here, str(tmp_path / "runs")], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0 and "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    # the output pipes close when the starter ends too: by now it is gone
    assert not list(tmp_path.glob("kfp-notebook-*"))


def test_a_tree_is_found_through_proc_children_or_every_process_parent(monkeypatch):
    """Both ways of listing children give the same tree (kernels built without /proc/PID/task/TID/children)."""
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        eventually(lambda: len(process_tree.descendants(shell.pid)) == 2, timeout=10)
        listed = process_tree.descendants(shell.pid)
        monkeypatch.setattr(process_tree, "children", process_tree._children_by_parent)
        assert sorted(process_tree.descendants(shell.pid)) == sorted(listed)
        process_tree.kill_descendants(shell.pid)
        assert shell.wait(10) is not None and not [pid for pid in listed if running(pid)]
    finally:
        shell.kill()
        shell.wait()
