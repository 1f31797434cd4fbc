"""Dataset and model previews, unit by unit: CSV, TSV, JSON lines, Parquet, binary, folders, long files."""

from __future__ import annotations

import pytest

from kfp_notebook.backends.local.details import LocalFiles
from kfp_notebook.view import previews


def preview(path):
    return previews.dataset_preview(LocalFiles(), str(path))


def test_csv_shows_ten_rows_the_count_and_the_size(tmp_path):
    (tmp_path / "d").write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(30)), encoding="utf-8")
    shown = preview(tmp_path / "d")
    assert (shown.form, shown.header, shown.rows[0], len(shown.rows), shown.count) == (
        "CSV",
        ["a", "b"],
        ["0", "x0"],
        10,
        "30",
    )
    assert shown.caption == f"CSV · 30 rows · {(tmp_path / 'd').stat().st_size} B · first 10 shown"


def test_tsv_and_json_lines_are_recognised(tmp_path):
    (tmp_path / "t").write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert (preview(tmp_path / "t").form, preview(tmp_path / "t").rows) == ("TSV", [["1", "2"]])
    (tmp_path / "j").write_text('{"a": 1}\n{"a": 2, "b": "é"}\n', encoding="utf-8")
    shown = preview(tmp_path / "j")
    assert (shown.form, shown.header, shown.rows, shown.count) == ("JSON lines", ["a", "b"], [[1, None], [2, "é"]], "2")


def test_a_file_longer_than_the_read_limit_counts_at_least(tmp_path, monkeypatch):
    monkeypatch.setattr(previews, "READ_LIMIT", 100)
    (tmp_path / "d").write_text("a\n" + "".join(f"{i}\n" for i in range(1000)), encoding="utf-8")
    shown = preview(tmp_path / "d")
    assert shown.count.startswith("≥ ") and int(shown.count[2:]) < 1000


def test_a_folder_previews_its_first_data_file(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "README").write_text("x", encoding="utf-8")
    (tmp_path / "f" / "part-0.csv").write_text("k\n1\n", encoding="utf-8")
    assert preview(tmp_path / "f").rows == [["1"]]


def test_binary_data_is_not_shown(tmp_path):
    (tmp_path / "b").write_bytes(b"\x00\x01\x02" * 10)
    assert preview(tmp_path / "b") == "binary data (30 B), no preview"


def test_parquet_with_pyarrow(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": list(range(12)), "y": [f"v{i}" for i in range(12)]}), tmp_path / "p")
    shown = preview(tmp_path / "p")
    assert (shown.form, shown.header, shown.rows[1], shown.count) == ("Parquet", ["x", "y"], [1, "v1"], "12")


@pytest.mark.parametrize(
    ("size", "text"), [(None, "size unknown"), (1000, "1000 B"), (2048, "2.0 KB"), (3 * 1024**3, "3.0 GB")]
)
def test_sizes_read_well(size, text):
    assert previews.size_text(size) == text


def test_model_files_largest_first(tmp_path):
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "small").write_bytes(b"1")
    (tmp_path / "m" / "sub" / "big").write_bytes(b"1" * 10)
    assert previews.model_files(LocalFiles(), str(tmp_path / "m")) == ([("sub/big", 10), ("small", 1)], 11)
