"""Results inline: run history, comparing runs (table, plots, exports) and the visual artifacts of local runs."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.backends.local.details import LocalFiles
from kfp_notebook.view.artifacts import task_views

from helpers import SVG, Tags

# Tests that run pipelines are marked slow one by one; the views of given data are fast.

TRAIN = """%%component
def train(lr: float, epochs: int, data: Output[Dataset], model: Output[Model], metrics: Output[Metrics]):
    import os
    with open(data.path, "w") as f:
        f.write("x,y\\n" + "".join(f"{i},{i * 2}\\n" for i in range(25)))
    os.makedirs(model.path)
    with open(os.path.join(model.path, "weights.bin"), "wb") as f:
        f.write(b"0" * 1000)
    with open(os.path.join(model.path, "config.json"), "w") as f:
        f.write("{}")
    metrics.log_metric("accuracy", round(0.5 + lr * epochs / 10, 4))
    metrics.log_metric("loss", round(1 - lr * epochs / 10, 4))
"""
EVALUATE = """%%component
def evaluate(lr: float, cm: Output[ClassificationMetrics], report: Output[Markdown], page: Output[HTML]):
    cm.log_confusion_matrix(["cat", "dog"], [[8, 2], [1, 9]])
    cm.log_roc_curve([0.0, 0.2, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0])
    with open(report.path, "w") as f:
        f.write("# Report\\n\\n## lr %s\\n\\n<script>alert(1)</script> [x](javascript:alert(1))" % lr)
    with open(page.path, "w") as f:
        f.write("<h1>Page</h1><script>parent.document.body.innerHTML = 'pwned'</script>")
"""
PIPELINE = "%%pipeline\ndef experiment(lr: float = 0.1, epochs: int = 2):\n    train(lr=lr, epochs=epochs)\n    evaluate(lr=lr)\n"
OTHER = "%%component\ndef score(metrics: Output[Metrics]):\n    metrics.log_metric('accuracy', 0.99)\n"
OTHER_PIPELINE = "%%pipeline\ndef other(seed: int = 1):\n    score()\n"


@pytest.fixture
def three_runs(ip, tmp_path):
    """The experiment run locally with lr 0.1, 0.2, 0.3; returns the run ids, oldest first."""
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    ip.run_cell("%config KfpMagics.panel = False")
    for cell in (TRAIN, EVALUATE, PIPELINE):
        ip.run_cell(cell)
    handles = [ip.run_cell(f"%kfp run --no-wait --param lr={lr}").result for lr in (0.1, 0.2, 0.3)]
    for handle in handles:
        assert handle.wait(120) and handle.state.value == "SUCCEEDED"
    return [h.run_id for h in handles]


def comparison(ip, line: str):
    """The Comparison object a `%kfp compare` line displays."""
    shown = []
    ip.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    try:
        ip.run_cell(line)
    finally:
        del ip.display_pub.publish
    return shown


@pytest.mark.slow
def test_history_records_parameters_and_metrics_of_each_run(ip, three_runs, tmp_path):
    history = kfp_notebook.runs("experiment", runs_folder=tmp_path / "runs")
    assert [r.run_id for r in history] == three_runs[::-1]
    assert [r.parameters for r in history] == [{"lr": lr, "epochs": 2} for lr in (0.3, 0.2, 0.1)]
    assert [r.metrics["train"] for r in history] == [
        {"accuracy": 0.56, "loss": 0.94},
        {"accuracy": 0.54, "loss": 0.96},
        {"accuracy": 0.52, "loss": 0.98},
    ]
    assert all(r.where == "local" and r.state == "SUCCEEDED" and r.duration > 0 for r in history)
    row = history.rows()[0]
    assert row["params.lr"] == 0.3 and row["metrics.accuracy"] == 0.56 and row["metrics.loss"] == 0.94
    assert kfp_notebook.runs("nope", runs_folder=tmp_path / "runs") == []


@pytest.mark.slow
def test_history_to_pandas(ip, three_runs, tmp_path):
    pytest.importorskip("pandas")
    frame = kfp_notebook.runs(ip.user_ns["experiment"], runs_folder=tmp_path / "runs").to_pandas()
    assert list(frame["params.lr"]) == [0.3, 0.2, 0.1]
    assert frame.loc[frame["metrics.accuracy"].idxmax(), "run_id"] == three_runs[-1]
    assert str(frame["started"].dtype).startswith("datetime64")


@pytest.mark.slow
def test_kfp_runs_shows_the_table(ip, three_runs, capsys):
    capsys.readouterr()
    ip.run_cell("%kfp runs experiment")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "run_id", "pipeline", "where", "state", "started", "duration_s",
        "params.lr", "params.epochs", "metrics.accuracy", "metrics.loss",
    ]  # fmt: skip
    assert lines[1].split()[0] == three_runs[-1] and lines[1].split()[-2:] == ["0.56", "0.94"]


@pytest.mark.slow
def test_compare_marks_differing_parameters_and_best_metrics_and_plots_them(ip, three_runs):
    [data] = comparison(ip, "%kfp compare")
    html = data["text/html"]
    from kfp_notebook.view.compare import compare_data

    records = sorted(ip.magics_manager.registry["KfpMagics"].session.history("experiment"), key=lambda r: r.started)
    compared = compare_data(records)
    assert [r["run_id"] for r in compared["runs"]] == three_runs and compared["notice"] == ""
    assert {p["name"]: (p["values"], p["differs"]) for p in compared["parameters"]} == {
        "lr": ([0.1, 0.2, 0.3], True),
        "epochs": ([2, 2, 2], False),
    }
    metrics = {(m["task"], m["name"]): m for m in compared["metrics"]}
    assert metrics[("train", "accuracy")]["values"] == [0.52, 0.54, 0.56]
    assert metrics[("train", "accuracy")]["best"] == [2] and metrics[("train", "accuracy")]["goal"] == "max"
    assert metrics[("train", "loss")]["best"] == [2] and metrics[("train", "loss")]["goal"] == "min"
    plot = next(p for p in compared["plots"] if p["name"] == "accuracy")
    assert [(x, y) for x, y, _ in plot["points"]] == [(1, 0.52), (2, 0.54), (3, 0.56)]
    svg = ET.fromstring(plot["svg"])
    circles = svg.findall(f"{SVG}circle")
    assert len(circles) == 3 and circles[2].get("stroke") is not None and circles[0].get("stroke") is None
    assert [float(c.get("cy")) for c in circles] == sorted((float(c.get("cy")) for c in circles), reverse=True)
    assert "class='differs'" in html and html.count("class='best'") == 2 and html.count("<svg") == 2


@pytest.mark.slow
def test_compare_against_a_parameter(ip, three_runs):
    from kfp_notebook.view.compare import compare_data

    records = ip.magics_manager.registry["KfpMagics"].session.history("experiment")
    plot = compare_data(records, by="lr")["plots"][0]
    assert plot["x_label"] == "lr" and sorted((x, y) for x, y, _ in plot["points"]) == [
        (0.1, 0.52),
        (0.2, 0.54),
        (0.3, 0.56),
    ]
    with pytest.raises(UsageError, match=r"--by 'rate' is not a parameter of these runs \(parameters: lr, epochs\)"):
        ip.run_cell("%kfp compare --by rate")


@pytest.mark.slow
def test_compare_exports_csv_and_markdown(ip, three_runs, tmp_path):
    ip.run_cell(f"%kfp compare -o {tmp_path / 'cmp.csv'}")
    rows = list(csv.reader((tmp_path / "cmp.csv").open(encoding="utf-8")))
    assert rows[0] == ["kind", "name", *three_runs, "best"]
    assert rows[1] == ["parameter", "lr", "0.1", "0.2", "0.3", ""]
    assert ["metric", "train.accuracy", "0.52", "0.54", "0.56", three_runs[2]] in rows
    ip.run_cell(f"%kfp compare {three_runs[0]} {three_runs[1]} -o {tmp_path / 'cmp.md'}")
    text = (tmp_path / "cmp.md").read_text(encoding="utf-8")
    assert "| metric (min) | train.loss | 0.98 | 0.96 **best** |" in text
    with pytest.raises(UsageError, match=r"-o 'cmp.xlsx': comparisons are written as .csv or .md files"):
        ip.run_cell("%kfp compare -o cmp.xlsx")
    with pytest.raises(UsageError, match=r"no run 'nope' \(recent runs: .*\); `%kfp runs` lists them"):
        ip.run_cell("%kfp compare nope")


@pytest.mark.slow
def test_runs_of_two_pipelines_are_never_mixed_without_saying_so(ip, three_runs, capsys):
    for cell in (OTHER, OTHER_PIPELINE):
        ip.run_cell(cell)
    other = ip.run_cell("%kfp run --no-wait").result
    assert other.wait(60)
    capsys.readouterr()
    ip.run_cell("%kfp compare")  # the latest pipeline is `other`: only its run
    out = capsys.readouterr().out
    assert other.run_id in out and not any(run in out for run in three_runs) and "note:" not in out
    ip.run_cell(f"%kfp compare {three_runs[0]} {other.run_id}")
    out = capsys.readouterr().out
    assert "note: these runs belong to 2 different pipelines (experiment, other)" in out


def visuals(ip, target: str):
    magics = ip.magics_manager.registry["KfpMagics"]
    from kfp_notebook.view.artifacts import show_artifact

    return show_artifact(magics.session, target, None)


@pytest.mark.slow
def test_confusion_matrix_and_roc_render(ip, three_runs):
    matrix, roc = visuals(ip, "evaluate.cm")
    svg = ET.fromstring(matrix.html)
    cells = svg.findall(f"{SVG}rect[@class='cell']")
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert len(cells) == 4 and [t for t in labels if t and t.isdigit()] == ["8", "2", "1", "9"]
    shades = [c.get("fill") for c in cells]
    assert shades[3] != shades[2] and shades[0] != shades[1]  # counts 9 and 1, 8 and 2 shaded apart
    roc_svg = ET.fromstring(roc.html)
    assert roc_svg.find(f"{SVG}path[@class='roc']").get("d").startswith("M")
    assert "AUC 0.800" in [t.text for t in roc_svg.findall(f"{SVG}text")]


@pytest.mark.slow
def test_markdown_renders_headings_and_is_sanitised(ip, three_runs):
    [view] = visuals(ip, "evaluate.report")
    tags = Tags(view._repr_html_())
    assert [name for name, _ in tags.tags if name in ("h1", "h2")] == ["h1", "h2"]
    assert not tags.named("script") and "&lt;script&gt;" in view.html
    assert all("javascript" not in (a.get("href") or "") for a in tags.named("a"))


@pytest.mark.slow
def test_html_report_is_sandboxed_so_its_script_cannot_reach_the_page(ip, three_runs):
    [view] = visuals(ip, "evaluate.page")
    tags = Tags(view._repr_html_())
    assert not tags.named("script")
    [frame] = tags.named("iframe")
    assert frame["sandbox"] == "" and "<script>parent.document" in frame["srcdoc"]


@pytest.mark.slow
def test_dataset_preview_and_model_files(ip, three_runs):
    [data] = visuals(ip, "train.data")
    assert "CSV · 25 rows · " in data.text and data.text.splitlines()[1:3] == ["x  y", "0  0"]
    assert len(Tags(data.html).named("tr")) == 11
    [model] = visuals(ip, "train.model")
    assert model.text.splitlines()[:3] == ["2 files · 1002 B", "file         size", "weights.bin  1000 B"]
    with pytest.raises(
        UsageError, match=r"train has no output artifact 'nope' \(its artifacts: data, metrics, model\)"
    ):
        ip.run_cell("%kfp show-artifact train.nope")


@pytest.mark.slow
def test_show_artifact_magic_displays_every_output_of_a_task(ip, three_runs, capsys):
    capsys.readouterr()
    ip.run_cell("%kfp show-artifact evaluate")
    out = capsys.readouterr().out
    for title in ("evaluate.cm · confusion matrix", "evaluate.cm · ROC", "evaluate.report", "evaluate.page"):
        assert title in out


V1 = """%%component
def v1_viz(mlpipeline_ui_metadata: OutputPath()):
    import json
    outputs = [
        {"type": "table", "storage": "inline", "format": "csv", "header": ["a", "b"], "source": "1,2\\n3,4"},
        {"type": "markdown", "storage": "inline", "source": "# Inline <b>md</b>"},
        {"type": "confusion_matrix", "storage": "inline", "format": "csv", "labels": ["no", "yes"],
         "schema": [{"name": "target"}, {"name": "predicted"}, {"name": "count"}],
         "source": "no,no,5\\nno,yes,1\\nyes,no,2\\nyes,yes,7"},
        {"type": "roc", "storage": "inline", "format": "csv",
         "schema": [{"name": "fpr"}, {"name": "tpr"}, {"name": "thresholds"}], "source": "0,0,1\\n0.5,1,0.5\\n1,1,0"},
        {"type": "web-app", "storage": "inline", "source": "<p>app</p><script>alert(1)</script>"},
    ]
    with open(mlpipeline_ui_metadata, "w") as f:
        json.dump({"outputs": outputs}, f)
"""


@pytest.mark.slow
def test_v1_ui_metadata_outputs_are_converted(ip, tmp_path):
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell(V1)
    ip.run_cell("%%pipeline\ndef legacy():\n    v1_viz()\n")
    result = kfp_notebook.run(ip.user_ns["legacy"], runs_folder=tmp_path / "runs").result()
    table, markdown, matrix, roc, app = task_views(result["v1-viz"], None, LocalFiles())
    assert table.text.splitlines() == ["a  b", "1  2", "3  4"]
    assert Tags(markdown.html).named("h1") == [{}] and "&lt;b&gt;" in markdown.html
    counts = [t.text for t in ET.fromstring(matrix.html).findall(f"{SVG}text") if t.text and t.text.isdigit()]
    assert counts == ["5", "1", "2", "7"]
    assert roc.text == "ROC curve, 3 points, AUC 0.750"
    assert Tags(app.html).named("iframe")[0]["sandbox"] == "" and not Tags(app.html).named("script")


def test_sliced_classification_metrics_draw_each_slice():
    from kfp_notebook.tracking.results import TaskResult

    sliced = {
        "evaluationSlices": [
            {"slice": "north", "sliceClassificationMetrics": {"confidenceMetrics": [
                {"falsePositiveRate": 0, "recall": 0, "confidenceThreshold": 1},
                {"falsePositiveRate": 1, "recall": 1, "confidenceThreshold": 0}]}},
            {"slice": "south", "sliceClassificationMetrics": {"confusionMatrix": {
                "annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}], "rows": [{"row": [3, 0]}, {"row": [1, 4]}]}}},
        ]
    }  # fmt: skip
    artifact = {
        "name": "s",
        "type": {"schemaTitle": "system.SlicedClassificationMetrics"},
        "uri": "",
        "metadata": sliced,
    }
    views = task_views(TaskResult("t", "t", "t", "SUCCEEDED", artifacts={"s": [artifact]}), None, LocalFiles())
    assert [v.title for v in views] == ["t.s · slice north · ROC", "t.s · slice south · confusion matrix"]
    assert views[0].text == "ROC curve, 2 points, AUC 0.500"


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("# T\n\n<img src=x onerror=alert(1)>", "<h1>T</h1>", "<img"),
        ("[a](javascript:alert(1)) [b](vbscript:x)", "<a href=", "script:"),
        ("| a |\n|---|\n| <b>1</b> |", "<td>&lt;b&gt;1&lt;/b&gt;</td>", "<b>"),
    ],
)
def test_markdown_is_sanitised(text, present, absent):
    from kfp_notebook.view.previews import markdown_html

    rendered = markdown_html(text)
    assert present in rendered and absent not in rendered


@pytest.mark.slow
def test_compare_last_and_by_and_show_artifact_of_an_earlier_run(ip, three_runs, capsys):
    capsys.readouterr()
    ip.run_cell("%kfp compare --last 2 --by lr")
    out = capsys.readouterr().out
    assert three_runs[0] not in out and three_runs[1] in out and three_runs[2] in out
    [data] = comparison(ip, "%kfp compare --by lr")
    assert data["text/html"].count(">lr</text>") == 2  # the x axis of both plots is lr
    ip.run_cell(f"%kfp show-artifact evaluate.report --run {three_runs[0]}")
    assert "## lr 0.1" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"--last '0' must be a whole number of at least 1"):
        ip.run_cell("%kfp compare --last 0")


@pytest.mark.slow
def test_plain_data_for_the_panel(ip, three_runs):
    import json

    from kfp_notebook.backends.local.store import RunStore
    from kfp_notebook.view.artifacts import artifact_view

    runs_dir = ip.magics_manager.registry["KfpMagics"].runs_dir
    task = RunStore(runs_dir).load(three_runs[0])["evaluate"]
    data = artifact_view(task, "cm", LocalFiles())
    assert [v["kind"] for v in data["views"]] == ["confusion_matrix", "roc"] and data["html"].count("<svg") == 2
    table = kfp_notebook.runs("experiment", runs_folder=runs_dir).table()
    assert table["columns"][:4] == ["run_id", "pipeline", "where", "state"]
    assert [row[0] for row in table["rows"]] == three_runs[::-1]
    from kfp_notebook.view.compare import compare_data

    compared = compare_data(kfp_notebook.runs("experiment", runs_folder=runs_dir))
    json.dumps([data, table, compared])  # plain data: the panel can sync it as is


def test_a_log_tail_that_cut_the_executor_inputs_first_line_still_shows_only_the_users_lines():
    """A Kubeflow pod's log read from its end: its first lines may be the end of the executor input's JSON."""
    from kfp_notebook.view.details import log_parts, split_log

    whole = (
        "[KFP Executor 2026 INFO]: Got executor_input:\n{\n"
        + '    "inputs": {\n        "artifacts": {}\n    },\n' * 30
        + "}\nmy line 1\n    indented by the user\nmy line 3\n[KFP Executor 2026 INFO]: Wrote executor output file\n"
    )
    for cut in (0, 1, 2, 40, 91):
        tail = "\n".join(whole.splitlines()[cut:])
        user, executor = split_log(tail)
        assert user == "my line 1\n    indented by the user\nmy line 3", cut
        assert executor.endswith("Wrote executor output file")
    assert log_parts({"log": whole}, 2)[0] == "    indented by the user\nmy line 3"
    assert log_parts({"log": whole, "log_user": "a\nb\nc", "log_executor": ""}, 2) == ("b\nc", "")


def _visual_task(tmp_path, page_text: str = "<h1>Page</h1><script>parent.document.body.innerHTML = 'x'</script>"):
    from kfp_notebook.tracking.artifacts import artifact
    from kfp_notebook.tracking.results import TaskResult

    (tmp_path / "report.md").write_text("# Report\n\n<script>alert(1)</script> [x](javascript:alert(1))")
    (tmp_path / "page.html").write_text(page_text)
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00\x01" * 10)
    cm = {
        "confusionMatrix": {
            "annotationSpecs": [{"displayName": "cat"}, {"displayName": "<dog>"}],
            "rows": [{"row": [8, 2]}, {"row": [1, 9]}],
        },
        "confidenceMetrics": [{"falsePositiveRate": 0, "recall": 0}, {"falsePositiveRate": 1, "recall": 1}],
    }
    artifacts = {
        "cm": [artifact("cm", "system.ClassificationMetrics", str(tmp_path / "cm"), cm)],
        "report": [artifact("report", "system.Markdown", str(tmp_path / "report.md"))],
        "page": [artifact("page", "system.HTML", str(tmp_path / "page.html"))],
        "metrics": [artifact("metrics", "system.Metrics", str(tmp_path / "m"), {"accuracy": 0.9})],
        "data": [artifact("data", "system.Dataset", str(tmp_path / "data.csv"))],
        "model": [artifact("model", "system.Model", str(tmp_path / "model"))],
    }
    return TaskResult("evaluate", "evaluate", "evaluate", "SUCCEEDED", artifacts=artifacts)


def test_a_tasks_visual_outputs_are_drawn_inline_sanitised_and_bounded(tmp_path, monkeypatch):
    from kfp_notebook.view import artifacts

    previews = artifacts.inline_previews(_visual_task(tmp_path), LocalFiles())
    kinds = [(p["output"], p["kind"]) for p in previews]
    assert kinds == [("cm", "confusion_matrix"), ("cm", "roc"), ("report", "markdown"), ("page", "html"),
                     ("metrics", "metrics")]  # fmt: skip
    by_kind = {p["kind"]: p for p in previews}
    markdown = by_kind["markdown"]["html"]
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown and 'href="javascript' not in markdown
    assert '<iframe class="kfp-notebook-html" sandbox=""' in by_kind["html"]["html"]
    assert "<script>" not in by_kind["html"]["html"].split("srcdoc=")[0] and "&lt;script&gt;" in by_kind["html"]["html"]
    assert "&lt;dog&gt;" in by_kind["confusion_matrix"]["html"] and "<dog>" not in by_kind["confusion_matrix"]["html"]
    assert not any(p["cut"] for p in previews)
    big = artifacts.inline_previews(_visual_task(tmp_path, "<p>x</p>" * 40_000), LocalFiles())
    (page,) = [p for p in big if p["output"] == "page"]
    assert page["cut"] and "%kfp show-artifact evaluate.page" in page["html"] and len(page["html"]) < 200
    monkeypatch.setattr(artifacts, "PREVIEWS_LIMIT", 2000)  # the whole task's previews are bounded too
    bounded = artifacts.inline_previews(_visual_task(tmp_path), LocalFiles())
    assert sum(len(p["html"]) for p in bounded) <= 2000 + 200 * len(bounded) and any(p["cut"] for p in bounded)


def test_an_artifacts_bytes_come_through_the_kernel_for_hosts_that_cannot_open_its_path(tmp_path):
    import base64

    from kfp_notebook.errors import UnknownNameError
    from kfp_notebook.view.artifacts import download

    class Session:
        def task_outputs(self, task, run):
            assert (task, run) == ("evaluate", "run-1")
            return _visual_task(tmp_path), LocalFiles()

    sent = download(Session(), "evaluate", "run-1", "data")
    assert (sent["event"], sent["name"], sent["mime"], sent["size"], sent["cut"]) == (
        "download", "data.csv", "text/csv", 8, False)  # fmt: skip
    assert base64.b64decode(sent["data"]) == b"x,y\n1,2\n"
    with pytest.raises(UnknownNameError, match=r"is a folder: name one of its files \(weights\.bin\)"):
        download(Session(), "evaluate", "run-1", "model")
    assert (
        base64.b64decode(download(Session(), "evaluate", "run-1", "model", "weights.bin")["data"]) == b"\x00\x01" * 10
    )
    with pytest.raises(UnknownNameError, match="no output artifact 'nope'"):
        download(Session(), "evaluate", "run-1", "nope")
