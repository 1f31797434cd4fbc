"""Results of Kubeflow runs: history and comparison, and visual artifacts read through the KFP UI's endpoints."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.backends.kubeflow.artifacts import object_location
from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.view.compare import compare_data

from helpers import SVG, Tags
from kfp_contract_server import argo_details, connected_notebook

CELLS = [
    "%%component\ndef train(lr: float, metrics: Output[Metrics]):\n    metrics.log_metric('accuracy', lr)\n",
    "%%component\ndef evaluate(cm: Output[ClassificationMetrics], report: Output[Markdown]):\n    pass\n",
    "%%pipeline\ndef experiment(lr: float = 0.1):\n    train(lr=lr)\n    evaluate()\n",
]


@pytest.fixture
def connected(ip, tmp_path, monkeypatch, mlmd):
    """A notebook connected to a contract server whose UI proxies a real ML Metadata store."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", "t0ken")
    with connected_notebook(ip, mlmd.url, CELLS) as (host, state):
        ir = PipelineIR.from_yaml(kfp_notebook.compile(ip.user_ns["experiment"]))
        done = argo_details(ir, {"train": "SUCCEEDED", "evaluate": "SUCCEEDED"}, "SUCCEEDED")
        state.next_script = [("SUCCEEDED", done)]
        yield host, state


def submit(ip, mlmd, lr: float, artifacts: dict | None = None) -> str:
    handle = ip.run_cell(f"%kfp submit --no-wait --param lr={lr}").result
    assert handle.wait(30)
    mlmd.seed(handle.run_id, {"train": {"accuracy": lr, "loss": 1 - lr}, "evaluate": {}}, artifacts)
    return handle.run_id


def test_kubeflow_runs_are_in_the_history_and_compared(ip, connected, mlmd, capsys):
    host, _ = connected
    run_ids = [submit(ip, mlmd, lr) for lr in (0.7, 0.9, 0.8)]
    history = kfp_notebook.runs("experiment")
    assert sorted(r.run_id for r in history) == sorted(run_ids)
    assert {r.run_id: (r.where, r.parameters["lr"], r.metrics["train"]["accuracy"]) for r in history} == {
        run_ids[0]: (host, 0.7, 0.7),
        run_ids[1]: (host, 0.9, 0.9),
        run_ids[2]: (host, 0.8, 0.8),
    }
    compared = compare_data([next(r for r in history if r.run_id == run_id) for run_id in run_ids])
    accuracy = next(m for m in compared["metrics"] if m["name"] == "accuracy")
    loss = next(m for m in compared["metrics"] if m["name"] == "loss")
    assert accuracy["values"] == [0.7, 0.9, 0.8] and accuracy["best"] == [1]
    assert loss["best"] == [1] and pytest.approx(loss["values"]) == [0.3, 0.1, 0.2]
    plot = next(p for p in compared["plots"] if p["name"] == "accuracy")
    assert [(x, y) for x, y, _ in plot["points"]] == [(1, 0.7), (2, 0.9), (3, 0.8)]
    capsys.readouterr()
    ip.run_cell(f"%kfp compare {' '.join(run_ids)}")
    out = capsys.readouterr().out
    assert "0.9*" in out and "note:" not in out  # named runs of one pipeline: no mixing notice
    assert {r.pipeline for r in kfp_notebook.runs()} == {"experiment"}


def artifacts_of(run: str) -> dict:
    base = f"minio://mlpipeline/v2/artifacts/experiment/{run}"
    return {
        "evaluate": [
            {
                "name": "cm",
                "type": "system.ClassificationMetrics",
                "uri": f"{base}/evaluate/cm",
                "metadata": {
                    "confusionMatrix": {
                        "annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}],
                        "rows": [{"row": [4, 1]}, {"row": [0, 5]}],
                    },
                    "confidenceMetrics": [
                        {"falsePositiveRate": 0, "recall": 0, "confidenceThreshold": 1},
                        {"falsePositiveRate": 0, "recall": 1, "confidenceThreshold": 0.5},
                        {"falsePositiveRate": 1, "recall": 1, "confidenceThreshold": 0},
                    ],
                },
            },
            {"name": "report", "type": "system.Markdown", "uri": f"{base}/evaluate/report"},
            {"name": "page", "type": "system.HTML", "uri": f"{base}/evaluate/page"},
            {"name": "rows", "type": "system.Dataset", "uri": f"{base}/evaluate/rows"},
            {"name": "model", "type": "system.Model", "uri": f"{base}/evaluate/model", "metadata": {"framework": "x"}},
        ]
    }


def test_visual_artifacts_of_a_kubeflow_run_come_through_the_ui(ip, connected, mlmd, capsys):
    _, state = connected
    handle = ip.run_cell("%kfp submit --no-wait --param lr=0.5").result
    assert handle.wait(30)
    mlmd.seed(handle.run_id, {"evaluate": {}}, artifacts_of(handle.run_id))
    key = f"mlpipeline/v2/artifacts/experiment/{handle.run_id}/evaluate"
    state.objects.update(
        {
            f"{key}/report": b"# Remote report\n\n<script>alert(1)</script>",
            f"{key}/page": b"<p>hi</p><script>parent.location = 'x'</script>",
            f"{key}/rows": b"a,b\n1,2\n3,4\n5,6\n",
            f"{key}/model/weights.bin": b"0" * 2048,
            f"{key}/model/meta/config.json": b"{}",
        }
    )
    magics = ip.magics_manager.registry["KfpMagics"]
    from kfp_notebook.view.artifacts import show_artifact

    views = {v.title: v for v in show_artifact(magics.session, "evaluate", None)}
    matrix = ET.fromstring(views["evaluate.cm · confusion matrix"].html)
    assert [t.text for t in matrix.findall(f"{SVG}text") if t.text and t.text.isdigit()] == ["4", "1", "0", "5"]
    assert views["evaluate.cm · ROC"].text == "ROC curve, 3 points, AUC 1.000"
    report = Tags(views["evaluate.report"].html)
    assert report.named("h1") == [{}] and not report.named("script")
    [frame] = Tags(views["evaluate.page"].html).named("iframe")
    assert frame["sandbox"] == "" and "<script>" in frame["srcdoc"]
    assert views["evaluate.rows"].text.splitlines()[:2] == ["CSV · 3 rows · 16 B · first 3 shown", "a  b"]
    assert views["evaluate.model"].text.splitlines()[:3] == [
        "2 files · 2.0 KB",
        "file              size",
        "weights.bin       2.0 KB",
    ]
    fetched = [(m, p, h) for m, p, h in state.requests if p == "/artifacts/get"]
    assert fetched and all(h.get("authorization") == "Bearer t0ken" for _, _, h in fetched)
    capsys.readouterr()
    ip.run_cell("%kfp show-artifact evaluate.report")
    assert "# Remote report" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"no artifacts of task 'nope' in run .* \(tasks with artifacts: evaluate\)"):
        ip.run_cell("%kfp show-artifact nope")


def test_a_missing_object_is_one_clear_message_in_place_of_its_view(ip, connected, mlmd, capsys):
    handle = ip.run_cell("%kfp submit --no-wait").result
    assert handle.wait(30)
    mlmd.seed(handle.run_id, {"evaluate": {}}, artifacts_of(handle.run_id))
    capsys.readouterr()
    ip.run_cell("%kfp show-artifact evaluate.report")
    out = capsys.readouterr().out
    assert "cannot draw system.Markdown artifact at minio://mlpipeline/v2/artifacts/experiment/" in out
    assert "the KFP UI answered HTTP 404" in out and "No objects found" in out


@pytest.mark.parametrize(
    ("uri", "location"),
    [
        (
            "minio://mlpipeline/v2/artifacts/p/r/t/x",
            {"source": "minio", "bucket": "mlpipeline", "key": "v2/artifacts/p/r/t/x"},
        ),
        ("s3://bucket/a/b", {"source": "s3", "bucket": "bucket", "key": "a/b"}),
        ("gs://bucket/a", {"source": "gcs", "bucket": "bucket", "key": "a"}),
    ],
)
def test_artifact_uris_map_to_the_ui_endpoint(uri, location):
    assert object_location(uri) == location


def test_an_unknown_object_store_is_refused():
    with pytest.raises(
        KubeflowConnectionError, match=r"not in an object store the KFP UI reads \(minio://, s3://, gs://\)"
    ):
        object_location("hdfs://x/y")
