"""What is carried is re-checked at compile/run/submit; kfp names stay distinct; the YAML is the same in any kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.errors import StaleComponentError

HELPER = "def h(x):\n    return x + 1\n"
COMPONENT = "%%component\ndef f(x: int) -> int:\n    return h(x) * K\n"
PIPELINE = "%%pipeline\ndef p(x: int = 1):\n    f(x=x)\n"


def listing(ip, capsys) -> str:
    capsys.readouterr()
    ip.run_cell("%kfp list")
    return capsys.readouterr().out


def define(ip) -> None:
    ip.run_cell(HELPER + "K = 2")
    ip.run_cell(COMPONENT)
    ip.run_cell(PIPELINE)


def test_an_edited_helper_is_listed_then_shipped_in_its_current_form(ip, capsys, tmp_path):
    define(ip)
    assert "up to date" in listing(ip, capsys)
    ip.run_cell("def h(x):\n    return x + 100\n")
    out = listing(ip, capsys)
    assert "changed in the notebook since its cell ran: h" in out and "components changed since defined: f" in out
    ip.run_cell(f"%kfp compile -o {tmp_path / 'p.yaml'}")
    text = (tmp_path / "p.yaml").read_text(encoding="utf-8")
    assert "return x + 100" in text and "return x + 1\n" not in text
    out = listing(ip, capsys)
    assert "up to date" in out and "changed" not in out


def test_a_constant_edited_to_another_literal_is_shipped_as_now(ip):
    define(ip)
    ip.run_cell("K = 3")
    assert "\nK = 3\n" in kfp_notebook.compile(ip.user_ns["p"]).replace("\\n", "\n")


def test_a_change_that_cannot_be_carried_is_refused_at_compile_with_what_changed(ip, capsys):
    define(ip)
    before = ip.user_ns["f"]
    ip.run_cell("K = sum([1, 2])")
    assert "changed in the notebook since its cell ran: K" in listing(ip, capsys)
    with pytest.raises(UsageError, match=r"component f: K changed in the notebook since its %%component cell ran(.|\n)*"
                       r"'K', which is a value computed in the notebook(.|\n)*Re-run the %%component cell of f"):  # fmt: skip
        ip.run_cell("%kfp compile")
    with pytest.raises(StaleComponentError, match="K changed"):
        kfp_notebook.compile(ip.user_ns["p"])
    with pytest.raises(StaleComponentError, match="K changed"):
        kfp_notebook.compile(ip.user_ns["f"])
    assert ip.user_ns["f"] is before


def test_run_rechecks_too(ip, tmp_path):
    define(ip)
    ip.run_cell("K = sum([1, 2])")
    with pytest.raises(UsageError, match="K changed"):
        ip.run_cell("%kfp run")
    with pytest.raises(StaleComponentError):
        kfp_notebook.run(ip.user_ns["p"], runs_folder=str(tmp_path))


def test_a_deleted_helper_is_refused(ip):
    define(ip)
    ip.run_cell("del h")
    with pytest.raises(StaleComponentError, match=r"h changed(.|\n)*'h', which is not defined in the notebook"):
        kfp_notebook.compile(ip.user_ns["p"])


def test_components_kfp_would_name_alike_are_refused_at_pipeline_time(ip):
    ip.run_cell("%%component\ndef train_model(x: int) -> int:\n    return x\n")
    ip.run_cell("%%component\ndef Train_Model(x: int) -> int:\n    return x + 1\n")
    with pytest.raises(
        UsageError,
        match=r"components train_model and Train_Model both get the kfp name 'train-model'.* rename one with --name",
    ):
        ip.run_cell("%%pipeline\ndef p():\n    train_model(x=1)\n    Train_Model(x=2)\n")
    assert "p" not in ip.user_ns


@pytest.mark.slow
def test_results_are_found_by_the_notebooks_name(ip, tmp_path):
    ip.run_cell("%%component\ndef Prepare_Data(x: int) -> int:\n    return x * 10\n")
    ip.run_cell("%%component\ndef train_model(x: int) -> int:\n    return x + 1\n")
    ip.run_cell("%%pipeline\ndef p():\n    train_model(x=Prepare_Data(x=2).output)\n")
    result = kfp_notebook.run(ip.user_ns["p"], runs_folder=str(tmp_path)).result()
    assert result["Prepare_Data"].output == 20 and result["train_model"].output == 21


NOTEBOOK = textwrap.dedent(
    """
    import json
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "kfp_notebook")
    cells = [
        "from kfp import dsl\\nTAGS = {'alpha', 'beta', 'gamma', 'delta'}\\nLIMITS = {'b': 2, 'a': 1}",
        "def make(k):\\n    def scale(x):\\n        return sorted(x | k)\\n    return scale\\nwith_tags = make({'x', 'y', 'z'})",
        "computed = {str(i) for i in range(5)}",
        "%%component --freeze computed\\ndef f() -> str:\\n    return str((sorted(TAGS), LIMITS, with_tags({'w'}), sorted(computed)))\\n",
        "%%pipeline\\ndef p():\\n    f()\\n",
    ]
    for cell in cells:
        ip.run_cell(cell, store_history=True).raise_error()
    import kfp_notebook
    print(kfp_notebook.compile(ip.user_ns["p"]))
    """
)


@pytest.mark.slow
def test_the_same_notebook_compiles_to_the_same_bytes_under_any_hash_seed(tmp_path):
    texts = set()
    for seed in ("0", "1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", NOTEBOOK], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        texts.add(done.stdout[done.stdout.index("# PIPELINE DEFINITION") :])
    assert len(texts) == 1
    assert "computed = {'0'," in texts.pop()  # the frozen set, in sorted order
