"""A failed local task reproduced in the kernel: `task_inputs` and `%kfp debug` see what the task saw.

Differential: the components print what they received (values, types, artifact contents and classes, the loop
item, a carried helper's and constant's result) and raise; the task's log and the kernel's output must agree,
as must the exception's type and message.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from pathlib import Path

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow

PROBE = """%%component
def probe(i: int, rate: float, flag: bool, label: str, cfg: dict, names: list, data: Input[Dataset]) -> int:
    import json
    with open(data.path) as handle:
        text = handle.read()
    seen = {"i": i, "rate": rate, "flag": flag, "label": label, "cfg": cfg, "names": names, "text": text,
            "types": [type(v).__name__ for v in (i, rate, flag, label, cfg, names)], "class": type(data).__name__,
            "metadata": data.metadata, "name": data.name, "helper": scaled(i), "constant": SCALE}
    print("SEEN " + json.dumps(seen, sort_keys=True))
    if i == 2:
        raise ValueError(f"bad shard {i}: {scaled(i)}")
    return scaled(i)
"""
CELLS = [
    "from typing import List\nSCALE = 3",
    "def scaled(x):\n    return x * SCALE\n",
    "%%component\ndef make(n: int, out: Output[Dataset]):\n"
    "    with open(out.path, 'w') as f:\n        f.write('x' * n)\n    out.metadata['rows'] = n\n",
    PROBE,
    "%%component\ndef gather(values: List[int]) -> int:\n    return sum(values)\n",
    "%%pipeline\ndef shards(n: int = 4):\n    made = make(n=n)\n    with dsl.ParallelFor([0, 1, 2]) as i:\n"
    "        p = probe(i=i, rate=0.5, flag=True, label='L', cfg={'k': [1, 2]}, names=['a'], data=made.outputs['out'])\n"
    "    gather(values=dsl.Collected(p.output))\n",
]
FIX = PROBE.replace('    if i == 2:\n        raise ValueError(f"bad shard {i}: {scaled(i)}")\n', "")


@pytest.fixture
def failed_run(ip):
    for cell in ["%config KfpMagics.panel = False", *CELLS]:
        ip.run_cell(cell)
    handle = kfp_notebook.run(ip.user_ns["shards"], {"n": 5})
    assert handle.state is TaskState.FAILED
    return handle


def _seen_in(text: str) -> dict:
    return json.loads(next(line for line in text.splitlines() if line.startswith("SEEN "))[5:])


def test_debug_sees_what_the_task_saw_and_raises_what_it_raised_with_the_users_frame_last(ip, failed_run, capsys):
    task = failed_run.result()["for-loop-2[2]/probe"]
    in_task = _seen_in(task.log())
    capsys.readouterr()
    with pytest.raises(ValueError) as raised:
        ip.run_cell("%kfp debug probe --item 2 --no-pdb")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith(f"probe [item 2] of run {failed_run.run_id}, the source the run shipped")
    assert _seen_in(printed) == in_task
    assert in_task["types"] == ["int", "float", "bool", "str", "dict", "list"] and in_task["text"] == "xxxxx"
    assert in_task["helper"] == 6 and in_task["class"] == "Dataset" and in_task["metadata"] == {"rows": 5}
    assert task.message.splitlines()[-1] == f"ValueError: {raised.value}" == "ValueError: bad shard 2: 6"
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert last.name == "probe" and last.line == 'raise ValueError(f"bad shard {i}: {scaled(i)}")'
    assert Path(last.filename).read_text().count("def probe(") == 1  # the shipped program, on disk and in linecache


def test_task_inputs_are_the_keyword_arguments_and_a_succeeded_iteration_returns_its_value(ip, failed_run):
    inputs = kfp_notebook.task_inputs("probe", item=1)
    data = inputs.pop("data")
    assert inputs == {"i": 1, "rate": 0.5, "flag": True, "label": "L", "cfg": {"k": [1, 2]}, "names": ["a"]}
    assert type(data).__name__ == "Dataset" and data.metadata == {"rows": 5} and data.name == "out"
    assert data.uri == failed_run.result()["make"].artifacts["out"][0]["uri"] and data.path != data.uri
    assert kfp_notebook.debug("probe", item=1) == 3 == failed_run.result()["for-loop-2[1]/probe"].output
    # the task id names the item too, as the panel's copyable line `%kfp debug TASK --run RUN` does
    assert ip.run_cell(f"%kfp debug for-loop-2[0]/probe --run {failed_run.run_id} --no-pdb").result == 0


def test_the_copy_is_read_only_and_the_runs_artifact_is_unchanged(ip, failed_run):
    original = Path(failed_run.result()["make"].artifacts["out"][0]["uri"])
    data = kfp_notebook.task_inputs("probe", item=0)["data"]
    assert Path(data.path).read_text() == "xxxxx"
    assert os.stat(data.path).st_mode & 0o222 == 0  # no write bit (as root only the hook below refuses writes)
    copy = Path(data.path)
    for write in (lambda: copy.write_text("y"), lambda: copy.open("a").close(), copy.unlink, lambda: copy.rename("z")):
        with pytest.raises(PermissionError, match="read-only copy of an input artifact"):
            write()
    assert original.read_text() == "xxxxx"
    again = kfp_notebook.task_inputs("probe", item=0)["data"]  # a fresh copy replaces the read-only one
    assert Path(again.path).read_text() == "xxxxx"


def test_current_runs_the_kernels_fixed_definition_on_the_same_inputs(ip, failed_run, capsys):
    ip.run_cell(FIX)
    with pytest.raises(ValueError, match="bad shard 2"):  # by default: the code that ran
        ip.run_cell("%kfp debug probe --item 2 --no-pdb")
    capsys.readouterr()
    assert ip.run_cell("%kfp debug probe --item 2 --current --no-pdb").result == 6
    printed = capsys.readouterr().out
    assert "the kernel's current definition" in printed.splitlines()[0] and _seen_in(printed)["text"] == "xxxxx"
    assert kfp_notebook.debug("probe", item=2, current=True) == 6


@pytest.mark.parametrize(
    "line, message",
    [
        ("probe --no-pdb", "probe runs inside a ParallelFor: say which iteration with --item N"),
        ("probe --item 7 --no-pdb", "probe has no iteration 7 in run .*: its iterations are 0, 1, 2; failed: 2"),
        ("nope", r"no task 'nope' in run .*\. Its tasks: gather, make, probe;"),
        ("gather", "gather never started in run .* debug a task that failed instead: for-loop-2\\[2\\]/probe"),
        ("make --item 1", "make is not inside a ParallelFor"),
        ("probe --item x", "--item 'x' is not an iteration index"),
        ("probe --item 1 --run nope-123", "no run 'nope-123'"),
    ],
)
def test_what_cannot_be_debugged_is_one_message(ip, failed_run, line, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%kfp debug {line}")


def test_the_run_is_a_handle_an_id_or_the_latest(ip, failed_run):
    newer = kfp_notebook.run(ip.user_ns["shards"], {"n": 2})
    assert Path(kfp_notebook.task_inputs("probe", item=0)["data"].path).read_text() == "xx"
    assert kfp_notebook.task_inputs("make") == {"n": 2}
    assert kfp_notebook.task_inputs("make", run=failed_run) == {"n": 5}
    assert kfp_notebook.task_inputs("make", run=failed_run.run_id) == {"n": 5}
    assert kfp_notebook.task_inputs("make", run=newer.run_id) == {"n": 2}
    elsewhere = kfp_notebook.run(ip.user_ns["shards"], {"n": 1}, runs_folder=Path("elsewhere"))
    assert kfp_notebook.task_inputs("make", run=elsewhere) == {"n": 1}  # a handle knows its runs folder
    # the panel's line: `%kfp debug TASK --run RUN`
    assert ip.run_cell(f"%kfp debug make --run {failed_run.run_id} --no-pdb").result is None


OUTPUTS = [
    "%%component\ndef write(n: int, table: Output[Dataset], count: OutputPath(int), notes: OutputPath('dict')) -> str:\n"
    "    with open(table.path, 'w') as f:\n        f.write('t' * n)\n"
    "    with open(count, 'w') as f:\n        f.write(str(n))\n"
    "    with open(notes, 'w') as f:\n        f.write('{}')\n"
    "    return dsl.get_uri('extra')\n",
    "%%component\ndef read(notes: InputPath('dict'), table: Input[Dataset]) -> str:\n"
    "    return open(notes).read() + open(table.path).read()\n",
    "%%component\ndef report(status: dsl.PipelineTaskFinalStatus) -> str:\n"
    "    return f'{status.state} {status.pipeline_task_name} {status.error_code}'\n",
    "%%component --env GREETING=hi\ndef greet() -> str:\n    import os\n    return os.environ['GREETING']\n",
    "%%pipeline\ndef io(n: int = 3):\n    with dsl.ExitHandler(report()):\n        w = write(n=n)\n        greet()\n"
    "        read(notes=w.outputs['notes'], table=w.outputs['table'])\n",
]


def test_outputs_go_to_the_scratch_folder_and_executor_conventions_hold(ip, tmp_path):
    for cell in ["%config KfpMagics.panel = False", *OUTPUTS]:
        ip.run_cell(cell)
    handle = kfp_notebook.run(ip.user_ns["io"], {"n": 3})
    assert handle.state is TaskState.SUCCEEDED
    scratch = tmp_path / "kfp_debug" / handle.run_id / "exit-handler-1__write" / "outputs"
    assert kfp_notebook.debug("write") == str(scratch / "extra")  # dsl.get_uri answers inside the scratch folder
    assert (scratch / "table").read_text() == "ttt" and (scratch / "count").read_text() == "3"
    assert kfp_notebook.task_inputs("read")["notes"].endswith("notes")  # InputPath: a path (to the copy)
    assert kfp_notebook.debug("read") == "{}ttt" == handle.result()["read"].output
    status = kfp_notebook.task_inputs("report")["status"]
    assert type(status).__name__ == "PipelineTaskFinalStatus" and status.state == "COMPLETE"
    assert kfp_notebook.debug("report") == handle.result()["report"].output
    assert kfp_notebook.debug("greet") == "hi" == handle.result()["greet"].output and "GREETING" not in os.environ


def test_the_debugger_opens_in_the_users_frame_after_the_traceback_and_only_for_that_cell(ip, failed_run, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("p i, scaled(i)\nq\n"))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    with pytest.raises(ValueError, match="bad shard 2"):
        ip.run_cell("%kfp debug probe --item 2")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "ValueError: bad shard 2: 6" in shown and "(2, 6)" in shown  # the traceback, then ipdb in probe's frame
    assert shown.index("bad shard 2: 6") < shown.index("ipdb> (2, 6)")
    assert ip.call_pdb is False


def test_a_return_value_is_checked_as_kfps_executor_checks_it(ip):
    ip.run_cell("from typing import NamedTuple")
    ip.run_cell("%%component\ndef wrong(n: int) -> int:\n    return str(n)\n")
    ip.run_cell("%%component\ndef pair(n: int) -> NamedTuple('Out', total=int, half=float):\n    return (n, n / 2)\n")
    failed = kfp_notebook.run(ip.user_ns["wrong"], {"n": 1})
    with pytest.raises(ValueError) as raised:
        ip.run_cell(f"%kfp debug wrong --run {failed.run_id} --no-pdb")
    assert failed.result()["wrong"].message.splitlines()[-1] == f"ValueError: {raised.value}"
    kfp_notebook.run(ip.user_ns["pair"], {"n": 3})
    assert tuple(kfp_notebook.debug("pair")) == (3, 1.5)


def test_a_remote_uri_in_a_local_runs_inputs_is_fetched_through_the_remote_cache(tmp_path):
    import http.server

    from kfp_notebook.backends.local.recorded import LocalRecordedRun

    from loopback import serving

    served = tmp_path / "served"
    served.mkdir()
    (served / "part.csv").write_text("a,b\n", encoding="utf-8")

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    record = object.__new__(LocalRecordedRun)  # only its reading of artifacts is under test here
    record.remote_cache = tmp_path / "runs" / ".remote-cache"
    with serving(Files) as url:
        record.fetch(f"{url}/part.csv", tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_text() == "a,b\n" and any(record.remote_cache.rglob("part.csv"))
