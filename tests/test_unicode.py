"""Korean (any Unicode) text in code, comments, strings, descriptions and display names survives, in any locale."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from executor_harness import load_pipeline_yaml
from helpers import compiled

GREET = '''%%component --display-name "인사 단계 👋"
def greet(name: str = "세계") -> str:
    """이름에게 인사한다. Greets by name."""
    # 한글 주석: 예전에는 YAML이 만들어지지 않았다
    return f"안녕하세요, {name}!"
'''

PIPELINE = """%%pipeline --description "한글 설명 — with an em dash"
def hello(name: str = "세계"):
    greet(name=name)
"""


def test_unicode_round_trips_through_the_yaml(ip):
    ip.run_cell(GREET)
    ip.run_cell(PIPELINE)
    text = compiled(ip, "hello")
    spec = load_pipeline_yaml(text)
    source = spec["deploymentSpec"]["executors"]["exec-greet"]["container"]["command"][-1]
    cell_function = GREET.split("\n", 1)[1]
    assert cell_function in source
    assert spec["pipelineInfo"]["description"] == "한글 설명 — with an em dash"
    assert spec["root"]["dag"]["tasks"]["greet"]["taskInfo"]["name"] == "인사 단계 👋"
    assert spec["components"]["comp-greet"]["inputDefinitions"]["parameters"]["name"]["defaultValue"] == "세계"
    assert spec["root"]["inputDefinitions"]["parameters"]["name"]["defaultValue"] == "세계"


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import TestingShell
    from kfp_notebook.magics import KfpMagics
    ip = TestingShell.instance()
    ip.register_magics(KfpMagics(ip))
    for cell in {cells}:
        ip.run_cell(cell)
    ip.run_cell("%kfp compile hello -o " + {out!r})
    """
)


@pytest.mark.slow  # a Python of its own under LC_ALL=C
def test_compiling_under_an_ascii_locale_writes_the_same_utf8_file(ip, tmp_path):
    ip.run_cell(GREET)
    ip.run_cell(PIPELINE)
    expected = compiled(ip, "hello")
    out = tmp_path / "c-locale.yaml"
    script = SCRIPT.format(tests=str(Path(__file__).parent), cells=ascii([GREET, PIPELINE]), out=str(out))
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii:backslashreplace"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_text(encoding="utf-8") == expected


def test_a_non_ascii_function_name_is_refused_with_the_fix(ip):
    from IPython.core.error import UsageError

    with pytest.raises(
        UsageError,
        match=r"line 2 .*\nthe function name '인사' leaves kfp no component name .*`%%component --name greet`",
    ):
        ip.run_cell("%%component\ndef 인사(name: str) -> str:\n    return name\n")
    assert "인사" not in ip.user_ns


def test_name_gives_the_component_an_ascii_name(ip):
    ip.run_cell("%%component --name greet\ndef 인사(name: str) -> str:\n    return '안녕 ' + name\n")
    component = ip.user_ns["greet"]
    assert component.name == "greet"
    assert component.python_func("철수") == "안녕 철수"
    source = load_pipeline_yaml(compiled(ip, "greet"))["deploymentSpec"]["executors"]["exec-greet"]["container"]
    assert "def greet(name: str) -> str:\n    return '안녕 ' + name\n" in source["command"][-1]
    assert source["args"][-1] == "greet"


@pytest.mark.parametrize(
    "cell",
    [
        "%%component\ndef greet(이름: str) -> str:\n    return 이름\n",
        "%%pipeline\ndef p(이름: str):\n    pass\n",
        "%%component\ndef greet(_name: str) -> str:\n    return _name\n",
    ],
)
def test_non_ascii_parameter_names_are_refused(ip, cell):
    from IPython.core.error import UsageError

    with pytest.raises(
        UsageError,
        match=r"line 2 .*\nparameter '.+' of (greet|p): kfp accepts only ASCII letters, digits and '_' in input names",
    ):
        ip.run_cell(cell)
