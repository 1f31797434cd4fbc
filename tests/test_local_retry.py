"""`%kfp retry` of local runs: nothing that succeeded runs again (a counter outside the run proves it), reused
outputs are the very files, the original run is untouched, and runs that cannot be retried say why."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.errors import RetryRefused, UnknownNameError
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow


def counted(ip, tmp_path: Path, *cells: str) -> Path:
    """Define the cells with COUNTER and FIX replaced by a counter file and a file the test creates to fix a run."""
    counter = tmp_path / "counter.txt"
    counter.write_text("", encoding="utf-8")
    for cell in cells:
        ip.run_cell(cell.replace("COUNTER", str(counter)).replace("FIX", str(tmp_path / "fix")))
    return counter


def calls(counter: Path) -> list[str]:
    return counter.read_text(encoding="utf-8").split()


def digests(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under the folder: its content hash and modification time."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


STEP = """%%component --no-cache
def step(name: str, x: int, data: Output[Dataset], needs_fix: bool = False) -> int:
    import os
    with open('COUNTER', 'a') as f:
        f.write(name + '\\n')
    if needs_fix and not os.path.exists('FIX'):
        raise FileNotFoundError('FIX')
    with open(data.path, 'w') as f:
        f.write(f'{name}:{x}')
    return x + 1
"""


def test_a_chain_that_failed_in_the_middle_runs_only_what_did_not_succeed(ip, tmp_path, magics):
    counter = counted(
        ip,
        tmp_path,
        STEP,
        """%%pipeline
def chain():
    a = step(name='a', x=1)
    b = step(name='b', x=a.outputs['Output'], needs_fix=True)
    step(name='c', x=b.outputs['Output'])
""",
    )
    ip.run_cell("%kfp run")
    first = magics.session.recorded_run(magics.session.last_run)
    assert first.state == "FAILED" and calls(counter) == ["a", "b"]
    before = digests(Path(first.folder))
    (tmp_path / "fix").write_text("", encoding="utf-8")  # the fix between the runs

    ip.run_cell("%kfp retry")
    retried = magics.session.recorded_run(magics.session.last_run)
    assert retried.run_id != first.run_id and retried.state == "SUCCEEDED"
    assert calls(counter) == ["a", "b", "b", "c"]  # a did not run again
    reused = retried["step"]
    assert (
        reused.state == "CACHED" and reused.message == f"outputs reused from run {first.run_id}, which this run retries"
    )
    assert reused.parameters == first["step"].parameters == {"Output": 2}
    (data,) = reused.artifacts["data"]
    assert Path(data["uri"]).read_bytes() == Path(first["step"].artifacts["data"][0]["uri"]).read_bytes() == b"a:1"
    assert retried["step-3"].parameters == {"Output": 4}
    assert digests(Path(first.folder)) == before  # the original run's files are untouched
    record = next(r for r in kfp_notebook.runs() if r.run_id == retried.run_id)
    assert record.retry_of == first.run_id
    assert retried.run_id in repr(kfp_notebook.runs()) and "retry_of" in repr(kfp_notebook.runs())


def test_a_retry_uses_the_pipeline_as_the_failed_run_compiled_it_with_its_parameters(ip, tmp_path, magics):
    counter = counted(
        ip,
        tmp_path,
        STEP,
        """%%pipeline
def chain(start: int = 1):
    a = step(name='a', x=start)
    step(name='b', x=a.outputs['Output'], needs_fix=True)
""",
    )
    first = kfp_notebook.run(ip.user_ns["chain"], {"start": 10}, runs_folder=tmp_path / "elsewhere")
    assert first.state is TaskState.FAILED
    ip.run_cell("%%pipeline\ndef chain(start: int = 1):\n    step(name='changed', x=start)\n")  # redefined since
    (tmp_path / "fix").write_text("", encoding="utf-8")
    with pytest.raises(UnknownNameError, match=f"no run '{first.run_id}'"):  # an id: not in the kernel's runs folder
        kfp_notebook.retry(first.run_id)
    handle = kfp_notebook.retry(first)  # a handle: retried in its own runs folder
    assert handle.state is TaskState.SUCCEEDED and handle.run_id != first.run_id
    assert (tmp_path / "elsewhere" / handle.run_id / "run.json").is_file()
    assert calls(counter) == ["a", "b", "b"]
    assert handle.result()["step-2"].parameters == {"Output": 12}
    assert any("not this kernel's current definition" in n for n in handle.notices)


def test_a_parallel_for_reruns_only_the_failed_iterations_then_the_fan_in(ip, tmp_path, magics):
    counter = counted(
        ip,
        tmp_path,
        """%%component --no-cache
def shard(i: int) -> int:
    import os
    with open('COUNTER', 'a') as f:
        f.write(f'shard{i}\\n')
    if i in (3, 7) and not os.path.exists('FIX'):
        raise ValueError(f'shard {i}')
    return i * i
""",
        """%%component --no-cache
def total(values: list) -> int:
    with open('COUNTER', 'a') as f:
        f.write('total\\n')
    return sum(values)
""",
        """%%pipeline
def fan():
    with dsl.ParallelFor(list(range(10)), parallelism=3) as i:
        s = shard(i=i)
    total(values=dsl.Collected(s.output))
""",
    )
    first = kfp_notebook.run(ip.user_ns["fan"])
    assert first.state is TaskState.FAILED
    assert sorted(calls(counter)) == sorted(f"shard{i}" for i in range(10))
    (tmp_path / "fix").write_text("", encoding="utf-8")
    counter.write_text("", encoding="utf-8")
    handle = kfp_notebook.retry(first.run_id)
    assert handle.state is TaskState.SUCCEEDED
    assert sorted(calls(counter)) == ["shard3", "shard7", "total"]
    result = handle.result()
    assert result["total"].output == sum(i * i for i in range(10))
    states = {t.task_id: t.state for t in result.tasks.values() if t.name == "shard"}
    assert sorted(k for k, v in states.items() if v == "SUCCEEDED") == [
        k for k in sorted(states) if k.endswith(("[3]/shard", "[7]/shard"))
    ]
    assert sum(v == "CACHED" for v in states.values()) == 8


def test_tasks_inside_a_condition_that_succeeded_are_reused(ip, tmp_path, magics):
    counter = counted(
        ip,
        tmp_path,
        STEP,
        """%%pipeline
def branch(flag: bool = True):
    a = step(name='a', x=1)
    with dsl.If(flag == True):
        inside = step(name='inside', x=a.outputs['Output'])
        step(name='after', x=inside.outputs['Output'], needs_fix=True)
    with dsl.Else():
        step(name='never', x=0)
""",
    )
    first = kfp_notebook.run(ip.user_ns["branch"])
    assert first.state is TaskState.FAILED and calls(counter) == ["a", "inside", "after"]
    (tmp_path / "fix").write_text("", encoding="utf-8")
    handle = kfp_notebook.retry()
    assert handle.state is TaskState.SUCCEEDED
    assert calls(counter) == ["a", "inside", "after", "after"]
    inside = handle.result()["step-2"]
    assert inside.state == "CACHED" and inside.task_id.startswith("condition-")
    assert "never" not in calls(counter)


def test_runs_that_cannot_be_retried_say_why(ip, tmp_path, magics):
    counted(ip, tmp_path, STEP, "%%pipeline\ndef single():\n    step(name='a', x=1)\n")
    done = kfp_notebook.run(ip.user_ns["single"])
    assert done.state is TaskState.SUCCEEDED
    with pytest.raises(RetryRefused, match=rf"run {done.run_id} succeeded: there is nothing to retry"):
        kfp_notebook.retry(done)
    with pytest.raises(UnknownNameError, match="no run 'no-such-run'"):
        kfp_notebook.retry("no-such-run")
    with pytest.raises(UnknownNameError, match="no failed or canceled run to retry"):
        kfp_notebook.retry()


def test_a_running_run_is_refused_until_it_is_stopped(ip, tmp_path, magics):
    counted(
        ip,
        tmp_path,
        """%%component --no-cache
def wait_for_fix() -> int:
    import os, time
    for _ in range(600):
        if os.path.exists('FIX'):
            return 1
        time.sleep(0.1)
    return 0
""",
        "%%pipeline\ndef slow():\n    wait_for_fix()\n",
    )
    running = kfp_notebook.run(ip.user_ns["slow"], wait=False)
    try:
        with pytest.raises(
            RetryRefused, match=rf"run {running.run_id} is still (PENDING|RUNNING): wait for it.*%kfp stop"
        ):
            kfp_notebook.retry(running.run_id)
    finally:
        running.cancel()
        running.wait(30)
    assert running.state is TaskState.CANCELED
    (tmp_path / "fix").write_text("", encoding="utf-8")
    handle = kfp_notebook.retry(running)
    assert handle.state is TaskState.SUCCEEDED and handle.result()["wait-for-fix"].output == 1


def test_the_magic_refuses_a_succeeded_run_in_one_line(ip, tmp_path, magics, capsys):
    counted(ip, tmp_path, STEP, "%%pipeline\ndef single():\n    step(name='a', x=1)\n")
    ip.run_cell("%kfp run")
    run_id = magics.session.last_run
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="nothing to retry"):
        ip.run_cell(f"%kfp retry {run_id}")
    record = json.loads((tmp_path / "kfp_runs" / run_id / "run.json").read_text(encoding="utf-8"))
    assert record["state"] == "SUCCEEDED" and "retry_of" not in record


VOLUME = [
    "import kfp_notebook",
    """%%component --no-cache
def write(path: str) -> int:
    with open('COUNTER', 'a') as f:
        f.write('write\\n')
    with open(path, 'w') as f:
        f.write('written before the failure')
    return 1
""",
    """%%component --no-cache
def read(path: str, x: int) -> str:
    import os
    with open('COUNTER', 'a') as f:
        f.write('read\\n')
    if not os.path.exists('FIX'):
        raise RuntimeError('not fixed yet')
    with open(path) as f:
        return f.read()
""",
    """%%pipeline
def shared():
    with kfp_notebook.Volume("data") as volume:
        written = volume.mount(write(path='/data/f.txt'), '/data')
        volume.mount(read(path='/data/f.txt', x=written.output), '/data')
""",
]


def test_a_retried_run_starts_with_the_failed_runs_volumes(ip, tmp_path, magics):
    counter = counted(ip, tmp_path, *VOLUME)
    first = kfp_notebook.run(ip.user_ns["shared"])
    assert first.state is TaskState.FAILED and calls(counter) == ["write", "read"]
    volumes = Path(first.result().folder) / "volumes"
    before = digests(volumes)
    (tmp_path / "fix").write_text("", encoding="utf-8")
    handle = kfp_notebook.retry()
    assert handle.state is TaskState.SUCCEEDED and calls(counter) == ["write", "read", "read"]
    assert handle.result()["read"].output == "written before the failure"
    assert digests(volumes) == before  # the failed run's volume is untouched (the retry deleted its own copy)
