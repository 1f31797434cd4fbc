"""KFP v1 compatibility mappers: a v1 metrics file → v2 Metrics (authoring/v1_metrics.py, run in the task), and
v1 `mlpipeline-ui-metadata` outputs → views (view/v1_outputs.py)."""

import json
import xml.etree.ElementTree as ET

import pytest
from kfp import dsl

from kfp_notebook.authoring.v1_metrics import _kfp_notebook_v1_metrics
from kfp_notebook.view import v1_outputs

from helpers import SVG


def metrics_from(tmp_path, content: str, stored: dict | None = None) -> tuple[dict, str]:
    """What kfp's executor reads from the Metrics artifact after the function wrote `content` to the v1 path."""
    artifact = dsl.Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata=dict(stored or {}))
    path = _kfp_notebook_v1_metrics(artifact)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    return artifact.metadata, path


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"metrics": [{"name": "accuracy", "numberValue": 0.9}]}, {"accuracy": 0.9}),
        ({"metrics": [{"name": "loss", "number_value": 1}]}, {"loss": 1.0}),  # snake case, an int
        ({"metrics": [{"NAME": "f1", "NumberValue": 0.5, "format": "RAW"}]}, {"f1": 0.5}),
        ({"metrics": [{"name": "flag", "numberValue": True}]}, {}),  # a bool is not a number
        ({"metrics": [{"name": "text", "numberValue": "0.9"}]}, {}),
        ({"metrics": [{"numberValue": 0.9}]}, {}),  # no name
        ({"metrics": [{"name": "a", "numberValue": 1}, {"name": "b", "numberValue": 2}]}, {"a": 1.0, "b": 2.0}),
        ({"metrics": []}, {}),
        ({"other": 1}, {}),
        ([1, 2], {}),  # not a v1 document at all
    ],
)
def test_a_v1_metrics_file_becomes_the_artifacts_metadata(tmp_path, document, expected):
    metadata, _ = metrics_from(tmp_path, json.dumps(document))
    assert metadata == expected


def test_what_is_skipped_or_unreadable_is_said_on_stderr(tmp_path, capsys):
    assert metrics_from(tmp_path, json.dumps({"metrics": [{"name": "flag", "numberValue": True}]}))[0] == {}
    assert "skipped v1 metric" in capsys.readouterr().err
    assert metrics_from(tmp_path, "not json")[0] == {}
    assert "no v1 metrics read from" in capsys.readouterr().err


def test_metadata_already_set_is_kept_and_the_file_is_read_when_the_executor_asks(tmp_path):
    artifact = dsl.Metrics(name="metrics", uri=str(tmp_path / "m"), metadata={"kept": 1.0})
    path = _kfp_notebook_v1_metrics(artifact)
    assert path == str(tmp_path / "m") and artifact.metadata == {"kept": 1.0}  # no file yet: nothing read
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"metrics": [{"name": "kept", "numberValue": 2}, {"name": "new", "numberValue": 3}]}, handle)
    assert artifact.metadata == {"kept": 2.0, "new": 3.0}, "the file wins, read at the moment it is asked for"
    artifact.metadata = {"set": 1}
    assert artifact.metadata["set"] == 1 and isinstance(artifact, dsl.Metrics)


class MemoryFiles:
    """Artifact files by URI, in memory."""

    def __init__(self, files: dict[str, str]):
        self.files = files

    def read(self, uri: str, limit: int) -> tuple[bytes, int | None]:
        if uri not in self.files:
            raise OSError(f"no such file: {uri}")
        data = self.files[uri].encode("utf-8")
        return data[:limit], len(data)

    def listing(self, uri: str) -> list[tuple[str, int]]:
        return []


@pytest.mark.parametrize(
    ("name", "files", "expected"),
    [
        ("mlpipeline_ui_metadata", {}, True),  # by its name alone
        ("mlpipeline-ui-metadata-2", {}, True),
        ("report", {"u": json.dumps({"outputs": [{"type": "table"}, {"type": "roc"}]})}, True),
        ("report", {"u": json.dumps({"outputs": [{"source": "x"}]})}, False),  # an output without a type
        ("report", {"u": json.dumps({"outputs": "table"})}, False),
        ("report", {"u": "a,b\n1,2\n"}, False),
        ("report", {}, False),  # unreadable
        ("report", {"u": json.dumps({"outputs": [{"type": "table"}], "pad": "x" * v1_outputs.SNIFF_LIMIT})}, False),
    ],
)
def test_v1_ui_metadata_is_told_by_its_name_or_its_shape(name, files, expected):
    assert v1_outputs.is_v1_ui_metadata(name, MemoryFiles(files), "u") is expected


def views(outputs: list[dict], files: dict[str, str] | None = None):
    return v1_outputs.v1_views("t.ui", json.dumps({"outputs": outputs}), MemoryFiles(files or {}))


@pytest.mark.parametrize(
    ("output", "files", "text"),
    [
        ({"type": "table", "storage": "inline", "source": "a,b\n1,2\n", "format": "csv"}, {}, "a  b\n1  2"),
        ({"type": "table", "source": "data.csv", "header": ["x", "y"]}, {"data.csv": "1,2\n3,4\n"}, "x  y\n1  2\n3  4"),
        ({"type": "markdown", "storage": "inline", "source": "# Hi"}, {}, "# Hi"),
        ({"type": "web-app", "storage": "inline", "source": "<p>x</p>"}, {}, "web app, 8 characters of HTML"),
        (
            {"type": "roc", "storage": "inline", "source": "0,0,1\n0.5,1,0.5\n1,1,0\n"},
            {},
            "ROC curve, 3 points, AUC 0.750",
        ),
        (
            {"type": "roc", "source": "roc.csv", "schema": [{"name": "tpr"}, {"name": "fpr"}, {"name": "t"}]},
            {"roc.csv": "0,0,1\n1,0,0.5\n1,1,0\n"},
            "ROC curve, 3 points, AUC 1.000",
        ),
    ],
)
def test_each_v1_output_type_is_drawn_with_a_plain_text_form(output, files, text):
    (view,) = views([output], files)
    assert view.kind == output["type"] and view.title == f"t.ui · {output['type']}" and view.text == text


def test_a_confusion_matrix_is_counted_into_its_labels_cells():
    output = {"type": "confusion_matrix", "storage": "inline", "labels": ["cat", "dog"],
              "source": "cat,cat,8\ncat,dog,2\ndog,cat,1\ndog,dog,9\ndog,dog,1\nbird,cat,5\n"}  # fmt: skip
    (view,) = views([output])
    assert view.text.splitlines() == [
        "actual \\ predicted  cat  dog",
        "cat                 8    2",
        "dog                 1    10",
    ]
    cells = [t.text for t in ET.fromstring(view.html).iter(f"{SVG}text") if t.text and t.text.isdigit()]
    assert cells == ["8", "2", "1", "10"], "a label outside the list is left out, repeated rows add up"


def test_labels_come_from_the_rows_when_not_given_and_columns_from_the_schema():
    output = {"type": "confusion_matrix", "storage": "inline", "source": "5,b,a\n7,a,a\n",
              "schema": [{"name": "count"}, {"name": "predicted"}, {"name": "target"}]}  # fmt: skip
    (view,) = views([output])
    assert view.text.splitlines()[1:] == ["a                   7  5", "b                   0  0"]


def test_several_outputs_are_numbered_and_an_unknown_type_says_so():
    drawn = views(
        [{"type": "markdown", "storage": "inline", "source": "x"}, {"type": "tensorboard", "source": "gs://b"}]
    )
    assert [v.title for v in drawn] == ["t.ui · markdown 1", "t.ui · tensorboard 2"]
    assert drawn[1].text == "v1 output type 'tensorboard' is not drawn in the notebook (source: gs://b)"


def test_a_document_that_is_not_v1_metadata_is_one_error_view():
    (view,) = v1_outputs.v1_views("t.ui", "[1, 2]", MemoryFiles({}))
    assert view.kind == "error" and view.text == "not a v1 UI metadata document"
