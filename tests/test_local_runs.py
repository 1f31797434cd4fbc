"""Local runs: the compiled pipeline runs on this machine with kfp's executor, in parallel, with live events."""

from __future__ import annotations

import json
import time

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

from helpers import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def run(ip, tmp_path):
    """Run the pipeline bound to `name` in the shell, in a runs folder of this test."""

    def run_pipeline(name: str, params: dict | None = None, **options):
        options.setdefault("runs_folder", tmp_path / "runs")
        return kfp_notebook.run(ip.user_ns[name], params, **options)

    return run_pipeline


def define(ip, *cells: str) -> None:
    for cell in cells:
        ip.run_cell(cell)


CHAIN = [
    "%%component\ndef make(n: int, data: OutputPath('dict')):\n    import json\n    with open(data, 'w') as f:\n        json.dump(list(range(n)), f)\n",
    "%%component\ndef total(data: InputPath('dict')) -> int:\n    import json\n    with open(data) as f:\n        return sum(json.load(f))\n",
    "%%component\ndef evaluate(value: int, metrics: Output[Metrics]):\n    metrics.log_metric('value', float(value))\n",
    "%%pipeline\ndef chain(n: int = 4):\n    made = make(n=n)\n    summed = total(data=made.outputs['data'])\n    evaluate(value=summed.output)\n",
]


def test_a_chain_runs_with_the_right_values_and_metrics(ip, run):
    define(ip, *CHAIN)
    handle = run("chain", {"n": 5})
    assert handle.state is TaskState.SUCCEEDED
    result = handle.result()
    assert result["total"].output == 10
    assert result["evaluate"].metrics() == {"value": "10.000"}
    assert repr(result.metrics_table()).splitlines()[1].split() == ["evaluate", "10.000"]


def test_events_arrive_in_order_with_timestamps(ip, run):
    define(ip, *CHAIN)
    handle = run("chain", wait=False)
    seen = []
    handle.subscribe(seen.append)
    handle.wait(60)
    for task in ("make", "total", "evaluate"):
        states = [e.state for e in seen if e.task_id == task]
        assert states == [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED]
    times = [e.time for e in seen]
    assert times == sorted(times)
    assert seen[-1].task_id == "" and seen[-1].state is TaskState.SUCCEEDED


CONDITION = [
    "%%component\ndef pick(x: int) -> int:\n    return x\n",
    "%%component\ndef branch(label: str) -> str:\n    return label\n",
    """%%pipeline
def choose(x: int = 1):
    n = pick(x=x)
    with dsl.If(n.output < 10):
        branch(label='small')
    with dsl.Elif(n.output < 100):
        branch(label='medium')
    with dsl.Else():
        branch(label='large')
""",
]


@pytest.mark.parametrize(("x", "taken"), [(1, "small"), (50, "medium"), (500, "large")])
def test_a_condition_takes_each_branch_and_skips_the_others(ip, run, x, taken):
    define(ip, *CONDITION)
    result = run("choose", {"x": x}).result()
    ran = {t.output for t in result.tasks.values() if t.name.startswith("branch") and t.state == "SUCCEEDED"}
    assert ran == {taken}
    skipped = [t for t in result.tasks.values() if t.state == "SKIPPED"]
    assert len(skipped) == 2 and all(t.message == "condition is false" for t in skipped)


PARALLEL = [
    """%%component
def work(item: int, log_dir: str) -> int:
    import os, time
    start = time.time()
    time.sleep(0.4)
    with open(os.path.join(log_dir, f"{item}.json"), "w") as f:
        f.write(f"[{start}, {time.time()}]")
    return item * 10
""",
    "%%component\ndef add_all(values: list) -> int:\n    return sum(values)\n",
    """%%pipeline
def fan(items: list = [1, 2, 3, 4, 5], log_dir: str = ""):
    with dsl.ParallelFor(items, parallelism=2) as item:
        w = work(item=item, log_dir=log_dir)
    add_all(values=dsl.Collected(w.output))
""",
]


def test_parallel_for_honours_parallelism_and_collects_in_order(ip, run, tmp_path):
    define(ip, *PARALLEL)
    result = run("fan", {"log_dir": str(tmp_path)}, workers=4, cache=False).result()
    assert result["add_all"].output == 150
    spans = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(1, 6)]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2


def test_tasks_of_one_component_share_one_program_file_and_write_no_bytecode(ip, run, tmp_path):
    define(ip, *CHAIN[:2])
    ip.run_cell("%%pipeline\ndef twice(n: int = 3):\n    total(data=make(n=n).outputs['data'])\n    make(n=4)\n")
    handle = run("twice")
    assert handle.state is TaskState.SUCCEEDED, handle.message
    run_folder = tmp_path / "runs" / handle.run_id
    programs = sorted(run_folder.glob("programs/*/ephemeral_component.py"))
    assert len(programs) == 2  # make (two tasks) and total
    assert {"def make(" in p.read_text() for p in programs} == {True, False}
    assert not list(run_folder.rglob("__pycache__")) and not list(run_folder.rglob(".ephemeral_component.py.*"))


def test_independent_tasks_run_at_the_same_time(ip, run, tmp_path):
    define(
        ip,
        PARALLEL[0],
        "%%pipeline\ndef four(log_dir: str):\n    for i in range(4):\n        work(item=i, log_dir=log_dir)\n",
    )
    run("four", {"log_dir": str(tmp_path)}, workers=4, cache=False)
    spans = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(4)]
    assert max(s for s, _ in spans) < min(e for _, e in spans)


FAILING = [
    "%%component\ndef fails(x: int) -> int:\n    raise RuntimeError(f'bad input {x}')\n",
    "%%component\ndef after(x: int) -> int:\n    return x\n",
    "%%component\ndef cleanup(status: dsl.PipelineTaskFinalStatus) -> str:\n    return status.state\n",
    """%%pipeline
def guarded(x: int = 3):
    with dsl.ExitHandler(cleanup()):
        f = fails(x=x)
        after(x=f.output)
""",
]


def test_a_failure_skips_downstream_and_the_exit_handler_still_runs(ip, run):
    define(ip, *FAILING)
    handle = run("guarded")
    result = handle.result()
    assert handle.state is TaskState.FAILED
    assert result["fails"].state == "FAILED"
    assert "RuntimeError: bad input 3" in result["fails"].message
    assert result["after"].state == "SKIPPED"
    assert result["cleanup"].state == "SUCCEEDED" and result["cleanup"].output == "FAILED"


def test_retries_run_the_task_again(ip, run, tmp_path):
    counter = tmp_path / "count"
    define(
        ip,
        f"%%component --retries 2\ndef flaky() -> int:\n    import pathlib\n    p = pathlib.Path({str(counter)!r})\n    n = int(p.read_text()) + 1 if p.exists() else 1\n    p.write_text(str(n))\n    if n < 3:\n        raise RuntimeError('not yet')\n    return n\n",
        "%%pipeline\ndef retrying():\n    flaky()\n",
    )
    handle = run("retrying", cache=False)
    assert handle.state is TaskState.SUCCEEDED
    assert handle.tasks["flaky"].attempts == 3


def test_the_second_run_is_served_from_the_cache_unless_disabled(ip, run):
    define(ip, *CHAIN)
    first = run("chain", {"n": 3})
    second = run("chain", {"n": 3})
    assert all(t.state is TaskState.CACHED for t in second.tasks.values())
    assert second.result()["total"].output == 3
    assert "reused from run " + first.run_id in second.tasks["total"].message
    other = run("chain", {"n": 4})
    assert all(t.state is TaskState.SUCCEEDED for t in other.tasks.values())


def test_no_cache_components_always_run(ip, run):
    define(
        ip,
        "%%component --no-cache\ndef stamp() -> float:\n    import time\n    return time.time()\n",
        "%%pipeline\ndef stamped():\n    stamp()\n",
    )
    first, second = run("stamped").result()["stamp"].output, run("stamped").result()["stamp"].output
    assert first != second


def test_a_pvc_is_a_folder_shared_by_the_tasks_that_mount_it(ip, run):
    define(
        ip,
        "import kfp_notebook",
        "%%component\ndef write(text: str):\n    with open('/shared/note.txt', 'w', encoding='utf-8') as f:\n        f.write(text)\n",
        "%%component\ndef read() -> str:\n    import glob, pathlib\n    assert glob.glob('/shared/*') and pathlib.Path('/shared/note.txt').exists()\n    return open('/shared/note.txt', encoding='utf-8').read()\n",
        """%%pipeline
def shared(text: str = "안녕"):
    with kfp_notebook.Volume("scratch", size="1Gi") as volume:
        w = volume.mount(write(text=text), "/shared")
        volume.mount(read().after(w), "/shared")
""",
    )
    handle = run("shared")
    result = handle.result()
    assert result["read"].output == "안녕"
    assert result["deletepvc"].state == "SUCCEEDED"
    assert not list((result.folder and __import__("pathlib").Path(result.folder) / "volumes").glob("*"))


def test_an_existing_volume_option_mounts_a_run_folder(ip, run):
    define(
        ip,
        "%%component --volume data:/data\ndef put() -> str:\n    open('/data/x', 'w').write('1')\n    return 'ok'\n",
        "%%component --volume data:/data\ndef get(dep: str) -> str:\n    return open('/data/x').read()\n",
        "%%pipeline\ndef existing():\n    get(dep=put().output)\n",
    )
    assert run("existing").result()["get"].output == "1"


def test_a_missing_secret_is_refused_before_the_run_starts(ip, run, tmp_path, monkeypatch):
    monkeypatch.setenv("KFP_NOTEBOOK_SECRETS", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("KFP_SECRET_DB_CREDS_PASSWORD", raising=False)
    define(
        ip,
        "%%component --secret db-creds:password=DB_PASSWORD\ndef use() -> int:\n    import os\n    return len(os.environ['DB_PASSWORD'])\n",
        "%%pipeline\ndef secretive():\n    use()\n",
    )
    with pytest.raises(Exception, match=r"needs key 'password' of secret 'db-creds'.*KFP_SECRET_DB_CREDS_PASSWORD"):
        run("secretive")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("secretive-*"))


def test_secrets_come_from_the_environment_or_the_secrets_file(ip, run, tmp_path, monkeypatch):
    define(
        ip,
        "%%component --secret db-creds:password=DB_PASSWORD --secret api:token=TOKEN\ndef use() -> int:\n    import os\n    return len(os.environ['DB_PASSWORD']) + len(os.environ['TOKEN'])\n",
        "%%pipeline\ndef secretive():\n    use()\n",
    )
    monkeypatch.setenv("KFP_SECRET_DB_CREDS_PASSWORD", "s3cret")
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("api:\n  token: abcd\n", encoding="utf-8")
    monkeypatch.setenv("KFP_NOTEBOOK_SECRETS", str(secrets))
    handle = run("secretive", cache=False)
    assert handle.result()["use"].output == 10
    stored = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "runs").rglob("*") if p.is_file()
    )
    assert "s3cret" not in stored and "abcd" not in stored


def test_resources_are_announced_as_not_enforced(ip, run):
    define(
        ip,
        "%%component --cpu 2 --memory 1G --gpu 1\ndef heavy() -> int:\n    return 1\n",
        "%%pipeline\ndef needs():\n    heavy()\n",
    )
    handle = run("needs")
    assert handle.state is TaskState.SUCCEEDED
    assert handle.notices == ["CPU, memory and GPU settings are not enforced locally (heavy)"]


def test_kubernetes_only_settings_are_announced(ip, run):
    define(
        ip,
        "from kfp import kubernetes",
        "%%component\ndef placed() -> int:\n    return 1\n",
        "%%pipeline\ndef pinned():\n    kubernetes.add_node_selector(placed(), label_key='disk', label_value='ssd')\n",
    )
    assert run("pinned").notices == ["nodeSelector of placed: Kubernetes-only, not applied locally"]


def test_container_components_are_refused_before_start(ip, run):
    define(
        ip,
        "@dsl.container_component\ndef echo():\n    return dsl.ContainerSpec(image='alpine', command=['echo', 'hi'])\n",
        "%%pipeline\ndef shell():\n    echo()\n",
    )
    with pytest.raises(
        Exception,
        match=r"echo runs the container image alpine with its own command: local runs execute Python components",
    ):
        run("shell")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"nope": 1}, r"chain has no parameter 'nope' \(its parameters: n\)"),
        ({"n": "three"}, r"--param n='three' is not an integer"),
    ],
)
def test_bad_parameters_are_refused(ip, run, params, message):
    define(ip, *CHAIN)
    with pytest.raises(Exception, match=message):
        run("chain", params)


def test_kfp_run_magic_shows_states_and_metrics(ip, tmp_path, capsys):
    define(ip, *CHAIN)
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    capsys.readouterr()
    ip.run_cell("%kfp run --param n=6")
    out = capsys.readouterr().out
    assert "SUCCEEDED · 3/3 tasks" in out
    assert "evaluate  15.000" in out.replace("   ", "  ")
    ip.run_cell("%kfp logs total")
    assert "Wrote executor output file" in capsys.readouterr().out
    ip.run_cell("%kfp runs")
    assert capsys.readouterr().out.splitlines()[1].split()[1:4] == ["chain", "local", "SUCCEEDED"]
    with pytest.raises(UsageError, match=r"--param n='x' is not an integer"):
        ip.run_cell("%kfp run --param n=x")
    with pytest.raises(UsageError, match=r"no task 'nope' in run"):
        ip.run_cell("%kfp logs nope")


def test_results_survive_a_restart(ip, run, tmp_path):
    from kfp_notebook.backends.local.store import RunStore

    define(ip, *CHAIN)
    handle = run("chain", {"n": 2})
    again = RunStore(tmp_path / "runs").load(handle.run_id)
    assert again.state == "SUCCEEDED" and again["total"].output == 1
    assert RunStore(tmp_path / "runs").list_runs()[0]["run_id"] == handle.run_id


def test_pipeline_parameters_use_defaults_and_types(ip, run):
    define(ip, "%%component\ndef echo(a: int, b: float, c: bool, d: list, e: dict, f: str) -> str:\n    return repr((a, b, c, d, e, f))\n",
           "%%pipeline\ndef typed(a: int = 1, b: float = 2.0, c: bool = False, d: list = [1, 2], e: dict = {'k': 1}, f: str = 'x'):\n    echo(a=a, b=b, c=c, d=d, e=e, f=f)\n")  # fmt: skip
    assert run("typed").result()["echo"].output == "(1, 2.0, False, [1, 2], {'k': 1}, 'x')"
    assert (
        run("typed", {"a": "5", "c": "true", "d": "[3]"}).result()["echo"].output
        == "(5, 2.0, True, [3], {'k': 1}, 'x')"
    )


def test_a_run_can_be_stopped_without_leaving_processes(ip, run, tmp_path):
    pids = tmp_path / "pids"
    define(
        ip,
        f"%%component --no-cache\ndef sleepy(i: int) -> int:\n    import os, subprocess, time\n    child = subprocess.Popen(['sleep', '60'])\n    open(os.path.join({str(pids)!r}, f'{{i}}'), 'w').write(f'{{os.getpid()}} {{child.pid}}')\n    time.sleep(60)\n    return i\n",
        "%%pipeline\ndef slow():\n    for i in range(3):\n        sleepy(i=i)\n",
    )
    pids.mkdir()
    handle = run("slow", wait=False, workers=3)
    eventually(lambda: len(list(pids.iterdir())) >= 3, 30)
    handle.cancel()
    assert handle.wait(30)
    assert handle.state is TaskState.CANCELED
    assert all(t.state is TaskState.CANCELED for t in handle.tasks.values())
    time.sleep(0.2)
    for file in pids.iterdir():
        for pid in map(int, file.read_text().split()):
            assert not _alive(pid), f"process {pid} survived the cancel"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] != "Z"


def test_interrupting_kfp_run_stops_the_run(ip, tmp_path, capsys):
    import _thread
    import threading

    define(
        ip,
        "%%component --no-cache\ndef nap() -> int:\n    import time\n    time.sleep(30)\n    return 1\n",
        "%%pipeline\ndef napping():\n    nap()\n",
    )
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    started = time.time()
    ip.run_cell("%kfp run")
    assert time.time() - started < 20
    assert "CANCELED" in capsys.readouterr().out
    magics = ip.magics_manager.registry["KfpMagics"]
    assert magics.session.last_run and not magics.session.runs  # ended, so read from its folder from now on
    assert magics.session.recorded_run(magics.session.last_run).state == TaskState.CANCELED.value
