"""Imports, helpers and constants a component reads from the notebook ship with it; other notebook globals are refused."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from kfp_notebook.authoring.sources import CARRIED_HEADER

from executor_harness import load_pipeline_yaml, run_component
from helpers import compiled


def shipped_source(ip, name: str) -> str:
    spec = load_pipeline_yaml(compiled(ip, name))
    label = spec["components"][f"comp-{name.replace('_', '-')}"]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]["command"][-1]


def function_text(source: str, name: str) -> str:
    return source[source.index(f"def {name}(") :]


def carried_block(source: str, name: str) -> str:
    """What is carried: module-level source between kfp's imports and the function."""
    return source[source.index(CARRIED_HEADER) : source.index(f"\ndef {name}(")]


def test_imports_from_earlier_cells_are_carried_and_unused_ones_are_not(ip):
    ip.run_cell("import json as j\nimport os.path\nfrom textwrap import dedent, indent\nimport csv")
    ip.run_cell("%%component\ndef f(x: str) -> str:\n    return j.dumps(dedent(os.path.join(x, 'a')))\n")
    block = carried_block(shipped_source(ip, "f"), "f")
    assert "\nimport json as j\n" in block
    assert "\nimport os.path\n" in block
    assert "\nfrom textwrap import dedent\n" in block
    assert "indent" not in block.replace("dedent", "") and "csv" not in block


def test_imports_in_the_same_cell_are_carried(ip):
    ip.run_cell(
        "%%component\nimport base64\nfrom hashlib import sha256 as digest\n\ndef f(x: str) -> str:\n    return base64.b64encode(digest(x.encode()).digest()).decode()\n"
    )
    block = carried_block(shipped_source(ip, "f"), "f")
    assert "\nimport base64\n" in block and "\nfrom hashlib import sha256 as digest\n" in block


def test_nothing_is_carried_when_nothing_is_needed(ip):
    ip.run_cell("import json")
    ip.run_cell("%%component\ndef f(x: int) -> int:\n    import json\n    return len(json.dumps(x))\n")
    assert "carried from the notebook" not in shipped_source(ip, "f")


HELPERS = '''
SCALE = 2
LABELS = {"low": (0, 10), "high": (10, 100)}
GREETING = "안녕"

def double(x):
    """Doubles.
  (this docstring line keeps its indentation)
    """
    return x * SCALE

def describe(x):
    label = next(k for k, (lo, hi) in LABELS.items() if lo <= x < hi)
    return f"{GREETING} {label} {double(x)}"

class Counter:
    start = 1

    def total(self, items):
        return self.start + sum(double(i) for i in items)
'''


def test_helpers_constants_and_classes_are_carried_transitively(ip):
    ip.run_cell(HELPERS)
    ip.run_cell("%%component\ndef f(x: int) -> str:\n    return describe(x) + str(Counter().total([x]))\n")
    block = carried_block(shipped_source(ip, "f"), "f")
    for expected in ("\nSCALE = 2\n", '\nLABELS = {"low": (0, 10), "high": (10, 100)}\n', '\nGREETING = "안녕"\n',
                     "\ndef double(x):\n", "\ndef describe(x):\n", "\nclass Counter:\n",
                     '    """Doubles.\n  (this docstring line keeps its indentation)\n    """\n'):  # fmt: skip
        assert expected in block
    assert block.index("def double") < block.index("def describe")  # what a helper calls comes first


def test_the_shipped_component_runs_with_its_helpers(ip, tmp_path):
    ip.run_cell(HELPERS)
    ip.run_cell("import json")
    ip.run_cell("%%component\ndef f(x: int) -> str:\n    return json.dumps([describe(x), Counter().total([x, 1])])\n")
    spec = load_pipeline_yaml(compiled(ip, "f"))
    result = run_component(spec, "f", tmp_path, {"x": 3})
    assert json.loads(result["executor_output"]["parameterValues"]["Output"]) == ["안녕 low 6", 9]
    assert json.loads(ip.user_ns["f"].python_func(3)) == ["안녕 low 6", 9]


def test_helpers_are_carried_in_their_current_definition(ip):
    ip.run_cell("def double(x):\n    return x * 2\n")
    ip.run_cell("%%component\ndef f(x: int) -> int:\n    return double(x)\n")
    ip.run_cell("def double(x):\n    return x * 3\n")
    ip.run_cell("%%component\ndef f(x: int) -> int:\n    return double(x)\n")
    assert "return x * 3" in shipped_source(ip, "f") and "return x * 2" not in shipped_source(ip, "f")


def test_constant_defaults_are_written_as_values(ip):
    ip.run_cell("EPOCHS = 5")
    ip.run_cell("%%component\ndef f(epochs: int = EPOCHS) -> int:\n    return epochs\n")
    assert "def f(epochs: int = 5) -> int:" in shipped_source(ip, "f")


@pytest.mark.parametrize(
    ("setup", "cell", "message"),
    [
        ("class Frame:\n    pass\ndf = Frame()", "%%component\ndef f(x: int) -> int:\n    y = x\n    return len(df.columns) + y\n",
         r"line 4 of the cell: return len\(df.columns\) \+ y\nf reads 'df', which is a notebook variable \(of type Frame\) that the container does not have. Make it a parameter of the component .*, or write it as a literal in a cell \(`df = ...`\)\.$"),
        ("handle = open(__import__('os').devnull)", "%%component\ndef f() -> str:\n    return handle.read()\n",
         r"line 3 .*\nf reads 'handle', which is a notebook variable \(of type TextIOWrapper\)"),
        ("import random\ncomputed = random.Random(1)", "%%component\ndef f() -> float:\n    return computed.random()\n",
         r"f reads 'computed', which is a notebook variable \(of type Random\)"),
        ("", "%%component\ndef f() -> int:\n    return never_defined\n", r"line 3 .*\nf reads 'never_defined', which is not defined in the notebook"),
        ("data = object()\ndef helper():\n    return data", "%%component\ndef f() -> str:\n    return str(helper())\n",
         r"line 3 of the cell: return str\(helper\(\)\)\nf calls helper, which reads 'data', which is a notebook variable"),
        ("x = object()", "%%component\ndef f(n: int = x) -> int:\n    return n\n", r"line 2 .*\nthe default of 'n' reads the notebook variable 'x'"),
        ("import random\nrows = [random.random() for _ in range(3)]", "%%component\ndef f() -> float:\n    return sum(rows)\n",
         r"line 3 .*\nf reads 'rows', which is a value computed in the notebook \(of type list\), not a literal written there. Make it a parameter .*; `%%component --freeze rows` ships its current value"),
    ],
)  # fmt: skip
def test_notebook_globals_are_caught_with_name_and_line(ip, setup, cell, message):
    ip.run_cell(setup)
    with pytest.raises(UsageError, match=message):
        ip.run_cell(cell)
    assert "f" not in ip.user_ns


def test_a_component_called_inside_a_component_is_refused(ip):
    ip.run_cell("%%component\ndef g(x: int) -> int:\n    return x\n")
    with pytest.raises(UsageError, match=r"f reads 'g', which is a component; call it in a %%pipeline cell"):
        ip.run_cell("%%component\ndef f(x: int) -> int:\n    return g(x)\n")


def test_a_refused_cell_keeps_the_previous_component(ip):
    ip.run_cell("%%component\ndef f(x: int) -> int:\n    return x\n")
    before = ip.user_ns["f"]
    ip.run_cell("df = object()")
    with pytest.raises(UsageError):
        ip.run_cell("%%component\ndef f(x: int) -> int:\n    return len(df)\n")
    assert ip.user_ns["f"] is before


def test_builtins_and_kfp_names_need_nothing(ip):
    ip.run_cell(
        "%%component\ndef f(xs: list, out: Output[Metrics]):\n    out.log_metric('n', float(len(sorted(xs))))\n    print(Metrics, dsl, Optional)\n"
    )
    assert "carried from the notebook" not in shipped_source(ip, "f")


@pytest.mark.parametrize(
    "cell",
    [
        "%%component\ndef f(x: int) -> int:\n    !pip install numpy\n    return x\n",
        "%%component\ndef f(x: int) -> int:\n    %time y = x\n    return x\n",
        "%%component\n%%time\ndef f(x: int) -> int:\n    return x\n",
        "%%component\ndef f(x: int) -> str:\n    files = !ls\n    return str(files)\n",
    ],
)
def test_shell_and_magic_lines_are_refused_with_what_to_do_instead(ip, cell):
    with pytest.raises(
        UsageError,
        match=r"shell commands \(!cmd\) and magics \(%magic\) cannot be part of a %%component cell: they would ship as get_ipython\(\) calls .* Use --packages for `!pip install`, `subprocess.run",
    ):
        ip.run_cell(cell)


def test_freeze_ships_a_computed_literal_and_shows_its_size(ip, capsys, tmp_path):
    ip.run_cell("rows = [x * 2 for x in range(3)]")
    capsys.readouterr()
    ip.run_cell("%%component --freeze rows\ndef f() -> int:\n    return sum(rows)\n")
    assert "frozen    rows (16 bytes)" in capsys.readouterr().out
    assert "\nrows = [0, 2, 4]\n" in carried_block(shipped_source(ip, "f"), "f")
    result = run_component(load_pipeline_yaml(compiled(ip, "f")), "f", tmp_path)
    assert result["executor_output"]["parameterValues"]["Output"] == 6


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        ("rows = [1]", "--freeze cols", r"--freeze cols: f does not read 'cols'; remove the flag"),
        ("import random\nrows = random.Random(1)", "--freeze rows", r"f reads 'rows', which cannot be frozen: a Random is not written as a literal"),
    ],
)  # fmt: skip
def test_freeze_refuses_what_it_cannot_freeze(ip, setup, line, message):
    ip.run_cell(setup)
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%%component {line}\ndef f() -> int:\n    return len(rows)\n")


def test_a_module_from_a_local_file_is_refused_on_stock_images(ip, tmp_path, monkeypatch):
    (tmp_path / "local_helpers_11.py").write_text("def helper(x):\n    return x + 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "local_helpers_11", raising=False)
    ip.run_cell("from local_helpers_11 import helper")
    with pytest.raises(
        UsageError,
        match=r"f imports local_helpers_11, a module of this machine \(.*local_helpers_11.py\) that python:3.11 does not have: define what the component needs in a notebook cell",
    ):
        ip.run_cell("%%component\ndef f(x: int) -> int:\n    return helper(x)\n")
    ip.run_cell("%%component --base-image ghcr.io/org/with-helpers:1\ndef f(x: int) -> int:\n    return helper(x)\n")
