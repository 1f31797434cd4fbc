"""The newest runs of a pipeline are found by their folders' names, reading only those runs' records."""

import json

from kfp_notebook.backends.local import store as store_module
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.backends.local.store import RunStore


def _run(root, run_id: str, pipeline: str, started: float) -> None:
    folder = root / run_id
    folder.mkdir(parents=True)
    record = {"run_id": run_id, "pipeline": pipeline, "state": "SUCCEEDED", "tasks": {}, "parameters": {"n": started},
              "started": started, "finished": started + 1, "folder": str(folder)}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")


def test_the_newest_runs_of_a_pipeline_read_only_its_newest_records(tmp_path, monkeypatch):
    _run(tmp_path, "train-20261201-100000-aaaaaaaa", "train", 1.0)
    _run(tmp_path, "train-20261203-100000-bbbbbbbb", "train", 3.0)
    _run(tmp_path, "train-20261203-100000-cccccccc", "train", 3.5)  # the same second: the later start first
    _run(tmp_path, "train-20261202-100000-dddddddd", "train", 2.0)
    _run(tmp_path, "train-20261209-100000-eeeeeeee", "Train", 9.0)  # another pipeline with the same id prefix
    _run(tmp_path, "train-eval-20261210-100000-ffffffff", "train-eval", 10.0)
    _run(tmp_path, "other-20261211-100000-00000000", "other", 11.0)
    read = []
    record_of = store_module._record_of
    monkeypatch.setattr(store_module, "_record_of", lambda path: read.append(path.parent.name) or record_of(path))
    newest = RunStore(tmp_path).newest("train", 2)
    assert [r.run_id for r in newest] == ["train-20261203-100000-cccccccc", "train-20261203-100000-bbbbbbbb"]
    assert sorted(read) == ["train-20261203-100000-bbbbbbbb", "train-20261203-100000-cccccccc",
                            "train-20261209-100000-eeeeeeee"]  # fmt: skip
    assert [r.run_id for r in LocalBackend(tmp_path).runs("train", count=3)][-1] == "train-20261202-100000-dddddddd"
    assert [r.run_id for r in RunStore(tmp_path).newest("train", 10)] == [
        r.run_id for r in RunStore(tmp_path).records("train")
    ]
    assert RunStore(tmp_path).newest("absent", 1) == []
