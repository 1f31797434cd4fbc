"""The debugging loop tried as a new user would: defects found by trying `%kfp debug`, `task_inputs`, `%kfp retry`
and `--pipeline-root` together on a realistic notebook, each with the test that failed before its fix."""

# no `from __future__ import annotations`: kfp reads the components' annotations as objects

import json
from pathlib import Path

import pytest
import s3_store
from kfp import dsl
from s3_store import BUCKET

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

s3_server, s3 = s3_store.s3_server, s3_store.s3  # the fixtures


@dsl.component
def make_data(text: str, data: dsl.Output[dsl.Dataset], metrics: dsl.Output[dsl.Metrics]):
    with open(data.path, "w") as handle:
        handle.write(text)
    metrics.log_metric("size", len(text))  # a Metrics output: no file, so nothing is uploaded for it


@dsl.component
def refine(data: dsl.Input[dsl.Dataset], flag: str, model: dsl.Output[dsl.Model]):
    import os

    if not os.path.exists(flag):
        raise RuntimeError(f"{flag} is missing")
    with open(data.path) as source, open(model.path, "w") as target:
        target.write(source.read() + "!")


@dsl.component
def read_model(model: dsl.Input[dsl.Model]) -> str:
    with open(model.path) as handle:
        return f"{handle.read()}|{model.uri}"


@dsl.pipeline(name="refining")
def refining(text: str = "hello", flag: str = "/nonexistent"):
    made = make_data(text=text)
    read_model(model=refine(data=made.outputs["data"], flag=flag).outputs["model"])


def messages(handle) -> str:
    return "\n".join(f"{t.task_id}: {t.message}" for t in handle.result().tasks.values() if t.message)


def _failed_under(root: str, tmp_path: Path):
    flag = tmp_path / "flag"
    failed = kfp_notebook.run(refining, {"flag": str(flag)}, runs_folder=tmp_path / "runs", pipeline_root=root)
    assert failed.state is TaskState.FAILED and failed.tasks["refine"].state is TaskState.FAILED, messages(failed)
    flag.touch()
    return failed


@pytest.mark.slow
def test_a_retry_puts_its_outputs_under_the_failed_runs_pipeline_root(s3, tmp_path):
    """A retry runs as the failed run ran: the tasks it runs again upload under the same root as the outputs it
    reuses (before: the root was not recorded, so the rest of the run wrote local files)."""
    root = f"s3://{BUCKET}/trial"
    failed = _failed_under(root, tmp_path)
    assert json.loads((Path(failed.result().folder) / "run.json").read_text())["pipeline_root"] == root
    retried = kfp_notebook.retry(failed.run_id, runs_folder=tmp_path / "runs")
    assert retried.state is TaskState.SUCCEEDED, messages(retried)
    assert retried.tasks["make-data"].state is TaskState.CACHED
    text, uri = retried.result()["read-model"].output.split("|")
    assert text == "hello!" and uri.startswith(f"{root}/refining/") and uri.split("/")[-3:-2] == ["refine"]
    assert json.loads((Path(retried.result().folder) / "run.json").read_text())["pipeline_root"] == root
    assert any(notice.endswith(f"with its parameters and its pipeline root {root}; the tasks that succeeded there "
                               "are not run again") for notice in retried.notices)  # fmt: skip


@pytest.mark.slow
def test_a_retry_runs_as_the_failed_run_ran_whatever_the_kernels_root_is_now(s3, tmp_path, ip):
    """The kernel's `%config KfpMagics.pipeline_root` set after a run without a root does not move a retry's outputs
    into the bucket (its reused outputs are on this machine)."""
    failed = _failed_under(None, tmp_path)  # type: ignore[arg-type]
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    ip.run_cell(f"%config KfpMagics.pipeline_root = 's3://{BUCKET}/elsewhere'")
    try:
        retried = ip.run_cell(f"%kfp retry {failed.run_id} --no-wait").result
        assert retried.wait(120) and retried.state is TaskState.SUCCEEDED, messages(retried)
    finally:  # the shell (and so Session.current()) outlives the test
        ip.run_cell("%config KfpMagics.pipeline_root = ''")
    assert "://" not in retried.result()["read-model"].output.split("|")[1]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="elsewhere/").get("KeyCount", 0) == 0


@pytest.mark.slow
def test_a_retry_runs_again_a_task_whose_uploaded_output_is_gone_from_the_store(s3, tmp_path):
    """A succeeded task is reused only when its outputs are still there, in the store too (as a cache hit is
    checked); a Metrics output, never uploaded, does not count as gone."""
    root = f"s3://{BUCKET}/trial"
    failed = _failed_under(root, tmp_path)
    data = failed.result()["make-data"].artifacts["data"][0]["uri"]
    s3.delete_object(Bucket=BUCKET, Key=data.removeprefix(f"s3://{BUCKET}/"))
    retried = kfp_notebook.retry(failed.run_id, runs_folder=tmp_path / "runs")
    assert retried.state is TaskState.SUCCEEDED, messages(retried)
    assert retried.tasks["make-data"].state is TaskState.SUCCEEDED
    assert retried.result()["read-model"].output.startswith("hello!|")
    again = _failed_under(root, tmp_path / "second")  # nothing deleted: the producer (with its Metrics) is reused
    assert kfp_notebook.retry(again.run_id, runs_folder=tmp_path / "second" / "runs").tasks["make-data"].state is (
        TaskState.CACHED
    )


@pytest.mark.parametrize("run", [42, 3.5, ["refining-20261207-000000-00000000"], b"refining"])
def test_retry_of_something_that_is_not_a_run_says_what_a_run_is(run, tmp_path):
    """Before: `kfp_notebook.retry(42)` raised TypeError "unsupported operand type(s) for /: 'PosixPath' and 'int'"."""
    from kfp_notebook.errors import OptionError

    with pytest.raises(OptionError, match=r"^run=.* is not a run: pass a run handle, a run id \(see %kfp runs\)"):
        kfp_notebook.retry(run, runs_folder=tmp_path / "runs")


@dsl.component
def shard(i: int, j: str) -> int:
    return i


@dsl.component
def bye():
    pass


@dsl.pipeline
def grid():
    with dsl.ExitHandler(bye()), dsl.ParallelFor([0, 1, 2, 3]) as i, dsl.ParallelFor(["a"]) as j:
        shard(i=i, j=j)


def _grid_run():
    from kfp_notebook.backends.base import RecordedRun
    from kfp_notebook.ir import PipelineIR

    ir = PipelineIR.from_pipeline(grid)
    group, outer, inner, _ = next(task.path for task in ir.walk() if task.name == "shard").split("/")
    ids = [f"{group}/{outer}[{i}]/{inner}[0]/shard" for i in range(4)]
    states = {task_id: "FAILED" if "[3]" in task_id else "SUCCEEDED" for task_id in ids}

    class Recorded(RecordedRun):
        def executor_inputs(self, task_id):
            return {"parameterValues": {"i": int(task_id.split("[")[1][0]), "j": "a"}}

        def fetch(self, uri, destination):
            raise AssertionError("no artifacts here")

    return Recorded("run-1", ir, states), ids, outer, inner


@pytest.mark.parametrize("item", [3, None])
def test_an_item_in_nested_loops_is_explained_with_the_ids_to_name(item):
    """Before: `%kfp debug shard --item 3` said "shard has no iteration 3: its iterations are 0; failed: 0" (the
    inner loop's one index), though the failed instance is the outer loop's iteration 3."""
    from kfp_notebook.debugging.locating import locate
    from kfp_notebook.errors import OptionError

    record, ids, _, _ = _grid_run()
    with pytest.raises(OptionError) as refused:
        locate(record, "shard", item)
    said = str(refused.value)
    assert said.startswith("shard ") and "nested ParallelFor loops" in said and "failed: 0" not in said
    assert "--item N is the innermost loop's index (0 in run run-1)" in said
    assert said.endswith(f"Name the instance by its id instead (the end of it is enough), the failed ones: {ids[3]}")


def test_an_instance_in_nested_loops_is_found_by_the_end_of_its_id():
    from kfp_notebook.debugging.locating import locate

    record, ids, outer, inner = _grid_run()
    assert locate(record, f"{outer}[3]/{inner}[0]/shard").task_id == ids[3]
    assert locate(record, f"{outer}[3]/{inner}[0]/shard").shown == "shard [item 3, 0]"  # was "shard [item 0]"
    assert locate(record, ids[1]).task_id == ids[1]


@dsl.component
def starts_a_daemon(marker: str, fail: bool) -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    with open(marker, "w") as handle:
        handle.write(str(child.pid))
    if fail:
        raise RuntimeError("failed after starting a daemon")
    return child.pid


@dsl.pipeline(name="daemon")
def daemon(marker: str = "/dev/null", fail: bool = True):
    starts_a_daemon(marker=marker, fail=fail)


def _gone(pid: int) -> bool:
    from kfp_notebook.backends.local import process_tree

    return not process_tree.running(pid)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="processes are listed through /proc (Linux)")
@pytest.mark.parametrize("fail", [True, False])
def test_a_debugged_call_leaves_no_process_running_as_its_pod_would_not(fail, tmp_path, monkeypatch, capsys):
    """Before: `%kfp debug` of a task that starts a background process (its own session) left it running in the
    kernel's tree for good; the task in the run had it ended with its pod (the run's supervisor)."""
    from helpers import eventually

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pid"
    run = kfp_notebook.run(daemon, {"marker": str(marker), "fail": fail}, runs_folder=tmp_path / "runs")
    assert eventually(lambda: _gone(int(marker.read_text())), 30)  # the run left none
    if fail:
        with pytest.raises(RuntimeError, match="failed after starting a daemon"):
            kfp_notebook.debug("starts-a-daemon", run=run)
    else:
        assert kfp_notebook.debug("starts-a-daemon", run=run) == int(marker.read_text())
    pid = int(marker.read_text())
    assert _gone(pid)
    said = capsys.readouterr().err
    assert f"ended the processes the call left running, as the end of its task's pod would: {pid} (" in said


def test_a_big_parameter_is_cut_in_the_runs_table_and_kept_whole_in_its_data():
    """Before: a run with a 200,000-character parameter made every line of `%kfp runs` 200,000 characters wide."""
    from kfp_notebook.tracking.records import RunRecord
    from kfp_notebook.view.history import RunHistory

    big = "한" * 200_000
    history = RunHistory([RunRecord("p-1", "p", "local", "FAILED", parameters={"big": big, "n": 3})])
    lines = repr(history).splitlines()
    assert max(map(len, lines)) < 400 and "… (200,000 characters)" in lines[1] and lines[1].count("한") == 79
    assert "(200,000 characters)" in history._repr_html_() and len(history._repr_html_()) < 2_000
    assert history.table()["rows"][0][history.table()["columns"].index("params.big")] == big


SHARD_CELL = """%%component
def cut(i: int, data: Input[Dataset]SIGNATURE) -> int:
    if i == 1:
        raise ValueError("one")
    return i
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signature", "says"),
    [
        (", needed: int", "cut's current definition needs 'needed', which the task was not given in run "),
        (", a: int, b: str", "needs 'a', 'b', which the task was not given"),
    ],
)
def test_current_with_a_new_required_parameter_says_what_the_task_received(ip, tmp_path, signature, says):
    """Before: `%kfp debug cut --current` after adding a parameter raised TypeError "cut() missing 1 required
    positional argument: 'needed'" from a frame of ours."""
    from IPython.core.error import UsageError

    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell("%%component\ndef source(out: Output[Dataset]):\n    open(out.path, 'w').write('x')\n")
    ip.run_cell(SHARD_CELL.replace("SIGNATURE", ""))
    ip.run_cell("%%pipeline\ndef cuts():\n    s = source()\n    with dsl.ParallelFor([0, 1]) as i:\n"
                "        cut(i=i, data=s.outputs['out'])\n")  # fmt: skip
    run = kfp_notebook.run(ip.user_ns["cuts"])
    assert run.state is TaskState.FAILED
    ip.run_cell(SHARD_CELL.replace("SIGNATURE", signature))
    with pytest.raises(UsageError) as refused:
        ip.run_cell("%kfp debug cut --item 1 --current --no-pdb")
    assert says in str(refused.value) and "(it received: i, data)" in str(refused.value)
    assert str(refused.value).endswith("or leave out --current to call the code the run shipped; `%kfp run` runs "
                                       "the new definition")  # fmt: skip
    ip.run_cell(SHARD_CELL.replace("SIGNATURE", signature.replace("int", "int = 0").replace("str", "str = ''")))
    assert ip.run_cell("%kfp debug cut --item 0 --current --no-pdb").result == 0  # with defaults it runs


def test_a_run_folder_without_its_record_is_named_as_such_not_as_no_run(tmp_path):
    """Before: `%kfp retry RUN` (or status, debug) of a run whose run.json was deleted said "no run 'RUN' in
    FOLDER (recent runs: ...)", though its folder is there."""
    from kfp_notebook.backends.local.store import RunStore, UnreadableRunError

    store = RunStore(tmp_path / "runs")
    run_id, folder = store.create("p", "{}", {})
    (folder / "run.json").unlink()
    with pytest.raises(UnreadableRunError) as refused:
        store.load(run_id)
    assert str(refused.value) == (
        f"run {run_id}: its record {folder / 'run.json'} is missing (a part of the run's folder was deleted): run "
        f"the pipeline again; the run's files are in {folder}"
    )
    with pytest.raises(kfp_notebook.errors.UnknownNameError, match="no run 'p-20990101-000000-00000000'"):
        store.load("p-20990101-000000-00000000")


@dsl.component
def log_size(metrics: dsl.Output[dsl.Metrics]):
    metrics.log_metric("size", 3)  # written as metadata: no file at metrics.path


@dsl.component
def read_size(metrics: dsl.Input[dsl.Metrics]) -> str:
    import os

    raise ValueError(f"{os.path.exists(metrics.path)} {metrics.metadata}")


@dsl.pipeline(name="sizes")
def sizes():
    read_size(metrics=log_size().outputs["metrics"])


@pytest.mark.slow
@pytest.mark.parametrize("under", ["s3", "local", "none"])
def test_debug_gives_an_input_written_as_no_file_as_the_task_got_it(under, s3, tmp_path, monkeypatch):
    """A Metrics output has no file; its consumer gets a path where nothing is (the launcher skips the download).
    Before: `%kfp debug read-size` refused under an s3:// root (MissingObjectError: 'check the URI') and without
    one ('the artifact ... is gone'), though the task ran with that input."""
    monkeypatch.chdir(tmp_path)
    root = {"s3": f"s3://{BUCKET}/m", "local": str(tmp_path / "root"), "none": None}[under]
    run = kfp_notebook.run(sizes, runs_folder=tmp_path / "runs", pipeline_root=root)
    in_task = run.result()["read-size"].message.splitlines()[-1]
    assert in_task == "ValueError: False {'size': 3}", messages(run)
    with pytest.raises(ValueError) as raised:
        kfp_notebook.debug("read-size", run=run)
    assert f"ValueError: {raised.value}" == in_task


@pytest.mark.slow
def test_an_input_that_is_gone_is_named_with_the_task_and_the_way_out(tmp_path, monkeypatch):
    """Before: 'the artifact /…/tasks/make-data/artifacts/data is gone: nothing is at … any more', naming neither
    the input nor what to do."""
    import shutil

    from kfp_notebook.debugging.arguments import MissingInputError

    monkeypatch.chdir(tmp_path)
    failed = _failed_under(None, tmp_path)  # type: ignore[arg-type]
    shutil.rmtree(Path(failed.result()["make-data"].folder))
    with pytest.raises(MissingInputError) as refused:
        kfp_notebook.task_inputs("refine", run=failed)
    said = str(refused.value)
    assert said.startswith(f"refine's input 'data' in run {failed.run_id} cannot be read: the artifact ")
    assert "is gone" in said and said.endswith("Reach it again, or run the pipeline again (`%kfp run`) to produce it")


@pytest.mark.slow
def test_a_handle_of_a_run_in_another_runs_folder_is_retried_there(tmp_path, monkeypatch):
    """Before: `kfp_notebook.retry(handle)` of `kfp_notebook.run(..., runs_folder=X)` said "no run '…' in
    ./kfp_runs (recent runs: none)"; `kfp_notebook.debug(task, run=handle)` already found it."""
    monkeypatch.chdir(tmp_path)
    failed = _failed_under(None, tmp_path)  # type: ignore[arg-type]
    retried = kfp_notebook.retry(failed)
    assert retried.state is TaskState.SUCCEEDED, messages(retried)
    assert Path(retried.result().folder).parent == tmp_path / "runs"
    assert not (tmp_path / "kfp_runs").exists()


DEEP_HELPERS = """import json

def level(n, text):
    if n == 0:
        return json.loads(text)
    return level(n - 1, text)
"""
DEEP_COMPONENT = """%%component
def parse(text: str) -> int:
    try:
        return level(6, text)
    except ValueError as error:
        raise RuntimeError("could not parse the settings") from error
"""


@pytest.mark.slow
def test_a_deep_or_chained_failure_keeps_the_users_first_frame_and_its_cause(ip, capsys):
    """Before: the message kept the last 15 lines of stderr, so a traceback 7 frames deep lost the user's entry
    frame and a chained exception lost its cause (the JSONDecodeError) in `%kfp run`, `%kfp status` and the panel."""
    for cell in ("%config KfpMagics.panel = False", DEEP_HELPERS, DEEP_COMPONENT, "%%pipeline\ndef p():\n"
                 "    parse(text='{bad')\n"):  # fmt: skip
        ip.run_cell(cell)
    capsys.readouterr()
    ip.run_cell("%kfp run")
    ran = capsys.readouterr().out
    ip.run_cell("%kfp status")
    for shown in (ran, capsys.readouterr().out):
        lines = [line for line in shown.splitlines() if "^^^" not in line]
        start = lines.index("Traceback (most recent call last):")
        assert lines[start + 1].endswith(", line 4, in parse") and lines[start + 1].startswith("  In [")
        assert sum(line.endswith(", in level") for line in lines) == 4  # Python shows 3, then counts the rest
        assert "  [Previous line repeated 3 more times]" in lines
        assert "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 " \
               "(char 1)" in lines  # fmt: skip
        cause = lines.index("The above exception was the direct cause of the following exception:")
        assert lines[cause + 2 : cause + 4] == ["Traceback (most recent call last):", lines[cause + 4 - 1]]
        assert lines[cause + 3].endswith(", line 6, in parse") and lines[-1] != ""
        assert "RuntimeError: could not parse the settings" in lines
        assert "task_supervisor" not in shown and "executor_main" not in shown and "kfp/dsl/executor" not in shown


def test_the_message_keeps_the_last_traceback_with_its_chain_and_the_view_trims_each(tmp_path):
    from kfp_notebook.backends.local.executor import _failure_message
    from kfp_notebook.view.tracebacks import failure_text

    program = tmp_path / "ephemeral_component.py"
    program.write_text("def t():\n    x = {}['k']\n    raise ValueError('while')\n", encoding="utf-8")
    kfp_frame = '  File "/venv/kfp/dsl/executor.py", line 453, in execute\n    result = self.func(**func_kwargs)\n'
    user = f'  File "{program}", line LINE, in t\n'
    stderr = (
        "INFO lots of logging\n" * 50 + "Traceback (most recent call last):\n" + kfp_frame + user.replace("LINE", "2")
        + "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n"
        + "Traceback (most recent call last):\n" + kfp_frame * 20 + user.replace("LINE", "3") + "ValueError: while\n"
    )  # fmt: skip
    (tmp_path / "stderr.log").write_text(stderr, encoding="utf-8")
    message = _failure_message(tmp_path, 1)
    assert message.startswith("exited with code 1; end of its stderr:\nTraceback (most recent call last):\n")
    assert "INFO" not in message and message.endswith("ValueError: while")
    assert failure_text(message, lambda name: None).splitlines() == [
        "exited with code 1",
        "Traceback (most recent call last):",
        f'  File "{program}", line 2, in t',
        "KeyError: 'k'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        f'  File "{program}", line 3, in t',
        "ValueError: while",
    ]
    (tmp_path / "stderr.log").write_text("no traceback\n" * 40, encoding="utf-8")  # the last lines, as before
    assert _failure_message(tmp_path, 2).count("no traceback") == 15


@dsl.component
def guarded(a: int) -> int:
    return a


@dsl.pipeline
def guarded_loop():
    with dsl.ParallelFor([1, 5, 2]) as a, dsl.If(a < 3):
        guarded(a=a)


def test_an_iteration_where_a_condition_skipped_the_task_says_so():
    """Before: "guarded has no iteration 1 in run run-1: its iterations are 0, 2" (iteration 1 ran; its dsl.If
    was false)."""
    from kfp_notebook.backends.base import RecordedRun
    from kfp_notebook.debugging.locating import locate
    from kfp_notebook.errors import OptionError
    from kfp_notebook.ir import PipelineIR

    ir = PipelineIR.from_pipeline(guarded_loop)
    loop, condition, _ = next(task.path for task in ir.walk() if task.name == "guarded").split("/")
    states = {f"{loop}[{i}]/{condition}": "SUCCEEDED" for i in (0, 2)} | {f"{loop}[1]/{condition}": "SKIPPED"}
    states |= {f"{loop}[{i}]/{condition}/guarded": "SUCCEEDED" for i in (0, 2)}

    class Recorded(RecordedRun):
        def executor_inputs(self, task_id):
            return {}

        def fetch(self, uri, destination):
            raise AssertionError("no artifacts here")

    with pytest.raises(OptionError) as refused:
        locate(Recorded("run-1", ir, states), "guarded", 1)
    assert str(refused.value) == (
        f"guarded did not run in iteration 1 of run run-1: {loop}[1]/{condition} around it is SKIPPED there (a "
        "condition that was false, or a failure upstream). Its iterations that ran: 0, 2"
    )
    with pytest.raises(OptionError, match="guarded has no iteration 7 in run run-1: its iterations are 0, 2"):
        locate(Recorded("run-1", ir, states), "guarded", 7)


@pytest.mark.slow
def test_debug_names_the_secrets_and_volumes_the_kernel_call_does_not_get(ip, tmp_path, monkeypatch, capsys):
    """Before: a task reading its secret failed in `%kfp debug` with a bare KeyError: 'DB_PASSWORD'."""
    monkeypatch.setenv("KFP_SECRET_DB_CREDS_PASSWORD", "s3cr3t-value")
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell("%%component --secret db-creds:password=DB_PASSWORD --volume data-pvc:/data\n"
                "def connects(n: int) -> int:\n    import os\n    assert os.environ['DB_PASSWORD']\n"
                "    raise ValueError('later')\n")  # fmt: skip
    ip.run_cell("%%pipeline\ndef connecting():\n    connects(n=1)\n")
    assert kfp_notebook.run(ip.user_ns["connecting"]).state is TaskState.FAILED
    capsys.readouterr()
    with pytest.raises(KeyError):
        ip.run_cell("%kfp debug connects --no-pdb")
    printed = capsys.readouterr().out
    assert printed.splitlines()[1] == (
        "not set in the kernel, as the task had them: $DB_PASSWORD (secret), /data (volume)"
    )
    assert "s3cr3t-value" not in printed


@pytest.mark.slow
def test_a_failure_of_a_run_maps_to_the_cell_that_ran_not_to_a_redefinition(ip, capsys):
    """Before: after the component's cell was run again with another body (a fix, before `%kfp retry`), the failed
    run's traceback named the new cell ('In [9], line 3, in plain' above the old line 'raise ValueError')."""
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell("%%component\ndef plain(x: int) -> int:\n    if x > 1:\n        raise ValueError(f'x={x}')\n"
                "    return x\n")  # fmt: skip
    first = max(i for i, c in enumerate(ip.history_manager.input_hist_raw) if c.startswith("%%component"))
    ip.run_cell("%%pipeline\ndef pp(x: int = 2):\n    plain(x=x)\n")
    run = kfp_notebook.run(ip.user_ns["pp"])
    assert run.state is TaskState.FAILED
    ip.run_cell("%%component\ndef plain(x: int) -> int:\n    print('fixed')\n    return x * 100\n")
    capsys.readouterr()
    ip.run_cell(f"%kfp status {run.run_id}")
    lines = capsys.readouterr().out.splitlines()
    frame = lines.index("Traceback (most recent call last):") + 1
    assert lines[frame : frame + 2] == [f"  In [{first}], line 4, in plain", "    raise ValueError(f'x={x}')"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="processes are listed through /proc (Linux)")
def test_the_local_backends_own_processes_and_their_children_are_spared(capsys):
    """A run going on beside the debugged call (another thread) starts task processes below the kernel too."""
    import signal
    import subprocess
    import sys

    from kfp_notebook.backends.local import process_tree
    from kfp_notebook.debugging.processes import ended_when_done

    from helpers import eventually

    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); " \
            "time.sleep(30)"  # fmt: skip
    with ended_when_done():
        ours = subprocess.Popen([sys.executable, "-c", child, "kfp_notebook.backends.local.task_main"])
        stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
        grandchild = eventually(lambda: process_tree.children(ours.pid), 10)[0]
    try:
        assert stray.poll() is not None and process_tree.running(ours.pid) and process_tree.running(grandchild)
        assert f"{stray.pid} (" in capsys.readouterr().err
    finally:
        process_tree.signal_all([grandchild, ours.pid], signal.SIGKILL)
        ours.wait(10)


def test_a_folder_dataset_preview_says_which_of_its_files_it_shows(tmp_path):
    """Before: `%kfp show-artifact make.out` of a folder of 4 files said "binary data (1 B), no preview" (or "CSV ·
    0 rows · 5 B") as if the dataset were that one file."""
    from kfp_notebook.backends.local.details import LocalFiles
    from kfp_notebook.view import previews

    folder = tmp_path / "out"
    folder.mkdir()
    for number in range(4):
        (folder / f"샤드-{number}.bin").write_bytes(bytes([number]) * (number + 1))
    assert previews.dataset_preview(LocalFiles(), str(folder)) == (
        "샤드-0.bin, 1 of the folder's 4 files: binary data (1 B), no preview"
    )
    (tmp_path / "csvs").mkdir()
    (tmp_path / "csvs" / "part-0.csv").write_text("k\n1\n", encoding="utf-8")
    (tmp_path / "csvs" / "part-1.csv").write_text("k\n2\n", encoding="utf-8")
    shown = previews.dataset_preview(LocalFiles(), str(tmp_path / "csvs"))
    assert shown.caption == "CSV of part-0.csv, 1 of the folder's 2 files · 1 rows · 4 B · first 1 shown"


@pytest.mark.slow
def test_a_retry_whose_root_cannot_be_written_now_says_it_keeps_the_runs_root(s3, s3_server, tmp_path):
    """The user typed `%kfp retry`, not --pipeline-root: the refusal says where that root comes from."""
    from kfp_notebook.backends.local.runner import NotRunnableLocally

    failed = _failed_under(f"s3://{BUCKET}/trial", tmp_path)
    s3_store.refusing_keys(s3_server)
    try:
        with pytest.raises(NotRunnableLocally) as refused:
            kfp_notebook.retry(failed)
    finally:
        s3_store.accepting_keys(s3_server)
    said = str(refused.value)
    assert said.startswith(f"the retry of run {failed.run_id} keeps its pipeline root: --pipeline-root s3://{BUCKET}/")
    assert said.endswith("The run did not start.") and s3_store.SECRET not in said
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith("refining-")] == [failed.run_id]
