"""A run history one bad run cannot break: non-finite numbers, corrupt run.json files, id bursts, the runs folder."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.backends.local import store as store_module
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.errors import OptionError
from kfp_notebook.headless import cli
from kfp_notebook.ir.parameters import parse_parameter
from kfp_notebook.tracking import strict_json
from kfp_notebook.tracking.states import UNREADABLE
from kfp_notebook.view.compare import Comparison, compare_data
from kfp_notebook.view.history import RunHistory, shown_text

pytestmark = pytest.mark.slow

METRIC = [
    "%%component\ndef score(x: float, metrics: Output[Metrics]):\n"
    "    metrics.log_metric('loss', x * float('inf') if x != 1 else float('nan'))\n"
    "    metrics.log_metric('acc', x)\n",
    "%%pipeline\ndef scored(x: float = 1.0, note: str = 'plain'):\n    score(x=x)\n",
]


def strict(text: str) -> object:
    """Parse JSON as strict parsers do (JavaScript, jq, Go): NaN / Infinity words are an error."""

    def refuse(word: str) -> float:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def scored_runs(ip, tmp_path):
    for cell in METRIC:
        ip.run_cell(cell)
    folder = tmp_path / "runs"
    for x, note in ((1.0, "line\nbreak"), (2.0, "\x1b[31mred\u202e"), (-3.0, "ok")):
        handle = kfp_notebook.run(ip.user_ns["scored"], {"x": x, "note": note}, runs_folder=folder)
        assert handle.wait(120) and handle.state.value == "SUCCEEDED", handle.message
    ip.run_line_magic("config", f"KfpMagics.runs_dir = {str(folder)!r}")
    return folder


def test_non_finite_metrics_show_in_runs_compare_and_strict_json(ip, scored_runs, capsys):
    for path in scored_runs.glob("*/run.json"):
        strict(path.read_text(encoding="utf-8"))  # run.json itself is strict JSON
    history = kfp_notebook.runs()
    losses = sorted(map(str, (r.metric("score", "loss") for r in history)))
    assert losses == ["-inf", "inf", "nan"]  # read back as numbers, not lost
    text = repr(history)
    assert "NaN" in text and "Infinity" in text and "-Infinity" in text
    assert "line\\nbreak" in text and "\\x1b[31mred\\u202e" in text and "\x1b" not in text and "\u202e" not in text
    assert "\\u202e" in history._repr_html_() and "\u202e" not in history._repr_html_()
    strict(json.dumps(history.table()))  # the panel's data too
    ip.run_line_magic("kfp", "runs scored")
    ip.run_line_magic("kfp", "compare")
    comparison = Comparison(compare_data(list(reversed(history))))
    grid = "\n".join("  ".join(row) for row in comparison.grid())
    assert "NaN" in grid and "Infinity" in grid and "\x1b" not in grid
    assert "loss" not in {p["name"] for p in comparison.data["plots"]}  # nothing finite to draw
    assert "NaN" in comparison.to_csv() and "\x1b" not in comparison.to_csv()
    best = next(m for m in comparison.data["metrics"] if m["name"] == "loss")["best"]
    assert [comparison.data["metrics"][0]["values"][i] for i in best] == [-math.inf]

    capsys.readouterr()
    assert cli.main(["runs", "--runs-dir", str(scored_runs), "--json"]) == 0
    listed = strict(capsys.readouterr().out)
    assert sorted(str(r["metrics"]["score"]["loss"]) for r in listed) == ["-Infinity", "Infinity", "NaN"]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "inf", "nan"])
def test_non_finite_parameters_are_refused_whichever_way_they_are_written(text):
    with pytest.raises(OptionError, match=f"--param f={text!r} is not"):
        parse_parameter("f", text, "NUMBER_DOUBLE")


@pytest.mark.parametrize(("text", "kind"), [("[1, 1e400]", "LIST"), ('{"a": [-1e999]}', "STRUCT")])
def test_a_number_too_big_for_a_double_inside_a_list_or_object_is_refused(text, kind):
    with pytest.raises(OptionError, match=r"is not a finite number.*protobuf"):
        parse_parameter("v", text, kind)


@pytest.mark.parametrize(
    ("kind", "value"),
    [("float", float("nan")), ("float", float("inf")), ("list", [1.0, float("-inf")]), ("dict", {"a": [math.nan]})],
)
def test_non_finite_parameters_are_refused_from_python_before_a_run_starts(ip, tmp_path, kind, value):
    ip.run_cell(f"%%component\ndef use(v: {kind}) -> str:\n    return str(v)\n")
    ip.run_cell("%%pipeline\ndef takes(v: " + kind + "):\n    use(v=v)\n")
    with pytest.raises(OptionError, match=r"parameter 'v' of takes is .*, not .*(nan|inf)"):
        kfp_notebook.run(ip.user_ns["takes"], {"v": value}, runs_folder=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_strict_json_spells_non_finite_numbers_at_any_depth():
    data = {"a": [math.nan, {"b": math.inf}], "c": (-math.inf, 1.5), "d": Path("/x")}
    assert strict(strict_json.dumps(data)) == {"a": ["NaN", {"b": "Infinity"}], "c": ["-Infinity", 1.5], "d": "/x"}
    assert [strict_json.number(v) for v in ("NaN", "Infinity", 2, "2", True)][1:] == [math.inf, 2.0, None, None]


CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "not JSON": lambda text: "<html>oops</html>",
    "empty": lambda text: "",
    "a list": lambda text: "[1, 2]",
    "state a number": lambda text: json.dumps({**json.loads(text), "state": 3}),
    "tasks a list": lambda text: json.dumps({**json.loads(text), "tasks": [1]}),
    "started text": lambda text: json.dumps({**json.loads(text), "started": "yesterday"}),
}


def test_a_corrupt_run_json_is_a_row_naming_the_file_in_every_listing(ip, scored_runs, capsys):
    good = next(scored_runs.glob("*/run.json"))
    text = good.read_text(encoding="utf-8")
    for n, corrupt in enumerate(CORRUPTIONS.values()):
        folder = scored_runs / f"broken-{n}"
        folder.mkdir()
        (folder / "run.json").write_text(corrupt(text), encoding="utf-8")
    if os.geteuid() != 0:
        locked = scored_runs / "broken-locked"
        locked.mkdir()
        (locked / "run.json").write_text(text, encoding="utf-8")
        (locked / "run.json").chmod(0)
    records = RunStore(scored_runs).records("scored")
    broken = [r for r in records if r.state == UNREADABLE]
    assert len(broken) == len(CORRUPTIONS) + (os.geteuid() != 0)
    assert len(records) - len(broken) == 3  # the good runs are all still there
    for record in broken:
        assert record.run_id.startswith("broken-") and f"{record.folder}/run.json" in record.message
    messages = " ".join(r.message for r in broken)
    for words in ("is empty", "not JSON", "not a run record (a list)", "'state' is int", "'tasks' is list"):
        assert words in messages
    history = kfp_notebook.runs("scored")
    assert sum(1 for r in history if r.state == UNREADABLE) == len(broken) and len(history.notes) >= len(broken)
    assert "broken-0" in repr(history) and "UNREADABLE" in repr(history)

    with pytest.raises(UsageError, match=r"run broken-1: its record .*broken-1/run.json is not JSON"):
        ip.run_line_magic("kfp", "status broken-1")
    with pytest.raises(UsageError, match=r"run broken-4: its record .*broken-4/run.json is not a run record.*'state'"):
        ip.run_line_magic("kfp", "status broken-4")
    ip.run_line_magic("kfp", "status")  # the newest readable run
    capsys.readouterr()
    assert cli.main(["runs", "--runs-dir", str(scored_runs), "--json"]) == 0
    assert sum(1 for r in strict(capsys.readouterr().out) if r["state"] == UNREADABLE) == len(broken)
    assert cli.main(["runs", "--runs-dir", str(scored_runs)]) == 0
    assert "broken-2/run.json is empty" in capsys.readouterr().out


def test_run_ids_never_collide_even_when_the_random_part_does(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    monkeypatch.setattr(store_module.time, "strftime", lambda form: "20261207-200000")
    draws = iter(["aaaa0000"] * 3 + [f"{n:08x}" for n in range(10_000)])
    monkeypatch.setattr(store_module.secrets, "token_hex", lambda size: next(draws))
    ids: list[str] = []
    lock = threading.Lock()

    def start() -> None:
        run_id, _ = store.create("sweep", "yaml", {})
        with lock:
            ids.append(run_id)

    threads = [threading.Thread(target=start) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 60 and all(id_.startswith("sweep-20261207-200000-") for id_ in ids)
    assert sum(1 for r in store.records() if r.state != UNREADABLE) == 60


def test_run_ids_carry_32_random_bits():
    run_id, _ = RunStore(Path(os.environ.get("TMPDIR", "/tmp")) / f"ids-{os.getpid()}").create("p", "y", {})
    assert len(run_id.rsplit("-", 1)[1]) == 8


def test_the_runs_folder_is_fixed_when_the_extension_loads_and_by_config(ip, tmp_path, scored_runs):
    ip.run_line_magic("config", "KfpMagics.runs_dir = 'runs'")  # relative: resolved now, in tmp_path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    assert len(kfp_notebook.runs("scored")) == 3
    handle = kfp_notebook.run(ip.user_ns["scored"])
    assert handle.wait(120) and Path(handle.result().folder).parent == scored_runs
    assert not (elsewhere / "kfp_runs").exists() and not (elsewhere / "runs").exists()


def test_kfp_notebook_runs_is_honoured_after_load_ext(ip, tmp_path, monkeypatch):
    from kfp_notebook.magics import KfpMagics

    monkeypatch.setenv("KFP_NOTEBOOK_RUNS", "from-env")
    magics = KfpMagics(ip)
    assert magics.session.settings.runs_dir == str(tmp_path / "from-env")
    monkeypatch.chdir(tmp_path.parent)
    assert magics.session.settings.runs_dir == str(tmp_path / "from-env")


def test_control_characters_are_escaped_one_line():
    assert shown_text("a\nb\r\t\x1b[0m\u202e\u2066\x85") == "a\\nb\\r\\t\\x1b[0m\\u202e\\u2066\\x85"
    assert shown_text("naïve — ok ✓") == "naïve — ok ✓"
    assert "\n" not in repr(RunHistory([]))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "is empty"),
        ("not json {", "not JSON"),
        ('{"a": 1}', "not a Jupyter notebook"),
        ("[1]", "not a Jupyter"),
        ('{"nbformat": 4, "cells": ["x = 1"]}', "its cell 1 has no cell_type"),
    ],
)
@pytest.mark.parametrize("command", [["run"], ["compile"], ["submit", "--host", "http://127.0.0.1:9"]])
def test_a_file_that_is_not_a_notebook_is_a_usage_error_in_one_line(tmp_path, capsys, content, says, command):
    path = tmp_path / "broken.ipynb"
    path.write_text(content, encoding="utf-8")
    assert cli.main([command[0], str(path), *command[1:]]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and says in captured.err and "Traceback" not in captured.err
    assert cli.main([command[0], str(path), "--json", *command[1:]]) == cli.EXIT_USAGE
    assert says in strict(capsys.readouterr().out)["error"]


def test_cli_logs_refuses_tail_0_as_the_magic_does(tmp_path, capsys, ip):
    assert cli.main(["logs", "train", "--tail", "0", "--runs-dir", str(tmp_path)]) == cli.EXIT_USAGE
    cli_message = capsys.readouterr().err
    with pytest.raises(UsageError) as magic:
        ip.run_line_magic("kfp", "logs train --tail 0")
    assert "--tail '0' must be a whole number of at least 1" in cli_message and str(magic.value) in cli_message


def test_cli_messages_advise_runs_dir_not_config(tmp_path, capsys):
    from kfp_notebook.errors import command_line_audience

    assert cli.main(["logs", "train", "--runs-dir", str(tmp_path / "none")]) == cli.EXIT_USAGE
    message = capsys.readouterr().err
    assert "--runs-dir" in message and "%config" not in message and "%kfp run" not in message
    blocked = tmp_path / "file"
    blocked.write_text("x")
    from kfp_notebook.backends.local.runner import RunsFolderError, _create

    with pytest.raises(RunsFolderError) as refused, command_line_audience():
        _create(RunStore(blocked / "runs"), "p", "y", {})
    assert "--runs-dir DIR" in str(refused.value) and "%config" not in str(refused.value)
    with pytest.raises(RunsFolderError, match=r"%config KfpMagics\.runs_dir"):  # in a notebook, as before
        _create(RunStore(blocked / "runs"), "p", "y", {})
