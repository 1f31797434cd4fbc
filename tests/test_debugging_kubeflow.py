"""A failed Kubeflow task reproduced in the kernel: its inputs read from ML Metadata (parameters from the execution,
artifacts through its INPUT events, bytes through the KFP UI), against the contract server and a real MLMD store."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.ir import PipelineIR

from kfp_contract_server import argo_details, connected_notebook

pytestmark = pytest.mark.slow

CELLS = [
    "SCALE = 3",
    "def scaled(x):\n    return x * SCALE\n",
    "%%component\ndef make(n: int, out: Output[Dataset]):\n    open(out.path, 'w').write('x' * n)\n",
    "%%component\ndef probe(i: int, rate: float, flag: bool, cfg: dict, data: Input[Dataset]) -> int:\n"
    "    import json\n"
    "    seen = {'i': i, 'rate': rate, 'flag': flag, 'cfg': cfg, 'text': open(data.path).read(),\n"
    "            'types': [type(v).__name__ for v in (i, rate, flag, cfg)], 'class': type(data).__name__,\n"
    "            'metadata': data.metadata, 'helper': scaled(i)}\n"
    "    print('SEEN ' + json.dumps(seen, sort_keys=True))\n"
    "    if i == 1:\n"
    "        raise ValueError(f'bad shard {i}')\n"
    "    return scaled(i)\n",
    "%%component\ndef gather(values: List[int]) -> int:\n    return sum(values)\n",
    "%%pipeline\ndef shards(n: int = 5):\n    made = make(n=n)\n    with dsl.ParallelFor([0, 1]) as i:\n"
    "        p = probe(i=i, rate=0.5, flag=True, cfg={'k': 1}, data=made.outputs['out'])\n"
    "    gather(values=dsl.Collected(p.output))\n",
]


@pytest.fixture
def failed_run(ip, tmp_path, monkeypatch, mlmd):
    """A submitted run whose iteration 1 of probe failed, recorded in ML Metadata as KFP's driver records it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", "t0ken")
    with connected_notebook(ip, mlmd.url, ["from typing import List", *CELLS]) as (_, state):
        ir = PipelineIR.from_yaml(kfp_notebook.compile(ip.user_ns["shards"]))
        state.next_script = [("FAILED", argo_details(ir, {"make": "SUCCEEDED", "probe": ["SUCCEEDED", "FAILED"]}))]
        handle = ip.run_cell("%kfp submit shards --no-wait").result
        assert handle.wait(30)
        run_id = handle.run_id
        loop = next(task.path for task in ir.walk() if task.loop is not None)
        uri = f"minio://mlpipeline/v2/artifacts/shards/{run_id}/make/out"
        state.objects[uri.removeprefix("minio://")] = b"xxxxx"
        made = {"name": "out", "type": "system.Dataset", "uri": uri, "metadata": {"rows": 5}}
        shard = {"rate": 0.5, "flag": True, "cfg": {"k": 1}}
        mlmd.seed(
            run_id,
            {"make": {}, f"{loop}[0]/probe": {}, f"{loop}[1]/probe": {}},
            artifacts={"make": [made]},
            parameters={
                "make": {"inputs": {"n": 5}},
                f"{loop}[0]/probe": {"inputs": {"i": 0, **shard}},
                f"{loop}[1]/probe": {"inputs": {"i": 1, **shard}},
            },
            states={f"{loop}[1]/probe": "FAILED"},
            inputs={f"{loop}[0]/probe": {"data": [["make", "out"]]}, f"{loop}[1]/probe": {"data": [["make", "out"]]}},
        )
        handle.server_state = state  # the test's own attribute: the contract server's objects
        yield handle


def _seen(text: str) -> dict:
    return json.loads(next(line for line in text.splitlines() if line.startswith("SEEN "))[5:])


def test_a_failed_kubeflow_task_is_called_here_with_the_inputs_ml_metadata_recorded(ip, failed_run, capsys):
    run_id = failed_run.run_id
    with pytest.raises(ValueError, match=r"^bad shard 1$") as raised:
        ip.run_cell(f"%kfp debug probe --item 1 --run {run_id} --no-pdb")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith(f"probe [item 1] of run {run_id}, the source the run shipped")
    seen = _seen(printed)
    # numbers arrive as the launcher writes them (protobuf JSON: an integral double is an int), like on the cluster
    assert seen["types"] == ["int", "float", "bool", "dict"] and seen["i"] == 1 and seen["cfg"] == {"k": 1}
    assert seen["text"] == "xxxxx" and seen["class"] == "Dataset" and seen["helper"] == 3
    assert seen["metadata"] == {"display_name": "out", "rows": 5}  # every custom property, as toRuntimeArtifact
    last = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert last.name == "probe" and last.line == "raise ValueError(f'bad shard {i}')"


def test_kubeflow_task_inputs_are_typed_and_the_artifact_a_read_only_local_copy(ip, failed_run):
    inputs = kfp_notebook.task_inputs("probe", run=failed_run.run_id, item=0)
    data = inputs.pop("data")
    assert inputs == {"i": 0, "rate": 0.5, "flag": True, "cfg": {"k": 1}}
    assert data.uri.startswith("minio://mlpipeline/") and Path(data.path).read_text() == "xxxxx"
    with pytest.raises(PermissionError):
        Path(data.path).write_text("changed")
    assert kfp_notebook.debug("probe", run=failed_run, item=0) == 0
    assert kfp_notebook.task_inputs("make", run=failed_run) == {"n": 5}


def test_a_folder_artifact_arrives_as_a_read_only_folder(ip, failed_run):
    objects = failed_run.server_state.objects
    key = next(k for k in objects if k.endswith("/make/out"))
    objects[f"{key}/part-0"], objects[f"{key}/sub/part-1"] = objects.pop(key), b"yy"  # the UI sends a .tar.gz
    folder = Path(kfp_notebook.task_inputs("probe", run=failed_run.run_id, item=0)["data"].path)
    assert (folder / "part-0").read_text() == "xxxxx" and (folder / "sub" / "part-1").read_text() == "yy"
    with pytest.raises(PermissionError):
        (folder / "sub" / "part-1").unlink()


@pytest.mark.parametrize(
    "line, message",
    [
        ("gather", r"gather never started in run .* \(the run never reached it\).*instead: for-loop-2\[1\]/probe"),
        ("probe --item 4", "probe has no iteration 4 in run .*: its iterations are 0, 1; failed: 1"),
        ("nope", r"no task 'nope' in run .*\. Its tasks: gather, make, probe;"),
    ],
)
def test_what_cannot_be_debugged_on_kubeflow_is_one_message(ip, failed_run, line, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%kfp debug {line} --run {failed_run.run_id}")
