"""Fuzzing the magic line and the cell body: the only outcomes are a component or one clear usage error.

Never a traceback of another kind, never a half-defined component, and the previous definition
of the name stays usable.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.authoring.components import NotebookComponent

FLAGS = [
    "--name", "--base-image", "--packages", "--pip-index-url", "--cpu", "--cpu-limit", "--memory",
    "--memory-limit", "--gpu", "--gpu-type", "--env", "--secret", "--volume", "--retries", "--no-cache",
    "--display-name", "--cpus", "--memroy", "-x", "--",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "500m",
            "two",
            "-1",
            "0",
            "1Gi",
            "1GG",
            "A=b",
            "NOEQ",
            "s:k=E",
            "bad",
            "p:/m",
            "nocolon",
            "f",
            "인사",
            "python:3.12",
            "numpy==1.26.4",
            "numpy = 1",
            "auto",
            "https://x.example/simple",
            "'quoted value'",
            '"unclosed',
            "''",
            "\\",
            "=",
            ":",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
LINE = st.lists(st.one_of(st.sampled_from(FLAGS), VALUES), max_size=8).map(" ".join)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

GOOD_BODY = "def f(x: int) -> int:\n    return x + 1\n"
SNIPPETS = [
    GOOD_BODY,
    "def f(x):\n    return x\n",
    "def f(x: set) -> int:\n    return 1\n",
    "def f(x: int) -> int:\n    return (x\n",
    "def f(x: int) -> int:\n    !ls\n    return x\n",
    "%time\n",
    "def g(y: int) -> int:\n    return y\n",
    "def 인사(이름: str) -> str:\n    return 이름\n",
    "@staticmethod\ndef f(x: int) -> int:\n    return x\n",
    "x = 1 / 0\n",
    "def f(x: int) -> int:\n    return undefined_name\n",
    "import json\n",
    "def f(x: InputPath(str)):\n    pass\n",
    'def f(m: OutputPath("metrics")):\n    """d"""\n',
    "class C:\n    pass\n",
    "async def f(x: int):\n    pass\n",
    "def f(*a: int):\n    pass\n",
    "    indented = True\n",
    "",
]
BODY = st.lists(
    st.one_of(st.sampled_from(SNIPPETS), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)),
    min_size=1,
    max_size=4,
).map("\n".join)


def defined_names(ip) -> set[str]:
    return {name for name in ip.user_ns if not name.startswith("_")}


def assert_component_or_usage_error(ip, cell: str) -> None:
    ip.run_cell("%%component\n" + GOOD_BODY)
    registry = ip.magics_manager.registry["KfpMagics"].registry
    previous = ip.user_ns["f"]
    names = defined_names(ip)
    try:
        ip.run_cell(cell)
    except UsageError:
        assert ip.user_ns["f"] is previous
        assert defined_names(ip) == names
        ip.run_cell("%%pipeline\ndef fuzz_pipeline():\n    f(x=1)\n")
        return
    newest = list(registry.components.values())[-1]
    assert isinstance(ip.user_ns[newest.name], NotebookComponent)
    assert newest.component is ip.user_ns[newest.name]
    kfp_notebook.compile(newest.component)


@pytest.mark.slow
@SETTINGS
@given(line=LINE)
def test_fuzzed_magic_line(ip, line):
    assert_component_or_usage_error(ip, f"%%component {line}\n{GOOD_BODY}")


@pytest.mark.slow
@SETTINGS
@given(body=BODY)
def test_fuzzed_cell_body(ip, body):
    assert_component_or_usage_error(ip, f"%%component\n{body}")
