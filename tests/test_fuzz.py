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
    "--display-name", "--freeze", "--cpus", "--memroy", "-x", "--",
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


# Carried code: generated notebooks of constants, helpers, lambdas, closures, decorated functions and classes,
# some edited after the component cell. The component gives the kernel's result, or it is refused naming a
# variable that cannot be carried.

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
    st.binary(max_size=6),
)
HASHABLE = st.one_of(SCALARS, st.tuples(SCALARS, SCALARS))
LITERALS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(HASHABLE, inner, max_size=3),
        st.sets(HASHABLE, max_size=3),
    ),
    max_leaves=6,
)
CANON = """def canon(v):
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(sorted(canon(x) for x in v)) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(canon(k) + ": " + canon(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "(" + ", ".join(canon(x) for x in v) + ")"
    return repr(v)
"""
_examples = iter(range(10**9))


@st.composite
def notebooks(draw):
    """(cells before the component, the expressions f returns, cells after, names that must be refused)."""
    tag = next(_examples)
    cells, reads, after, bad = [CANON + "import functools"], [], [], set()
    for i in range(draw(st.integers(1, 4))):
        name = f"v{i}_{tag}"
        kind = draw(st.sampled_from(["literal", "computed", "helper", "cached", "lambda", "closure", "class"]))
        inner = reads[draw(st.integers(0, len(reads) - 1))] if reads and draw(st.booleans()) else repr(draw(LITERALS))
        cell, read = _piece(kind, name, inner, repr(draw(LITERALS)), draw(st.booleans()))
        cells.append(cell)
        reads.append(read)
        if kind == "computed" or (kind == "closure" and "object()" in cell):
            bad.add(name)
        if kind == "literal" and draw(st.booleans()):
            edit_is_computed = draw(st.booleans())
            after.append(f"{name} = list(range(3))" if edit_is_computed else f"{name} = {draw(LITERALS)!r}")
            if edit_is_computed:
                bad.add(name)
        if kind in ("helper", "class") and draw(st.booleans()):
            after.append(_piece(kind, name, repr(draw(LITERALS)), "None", flag=False)[0])
    return cells, reads, after, bad


def _piece(kind: str, name: str, inner: str, literal: str, flag: bool) -> tuple[str, str]:
    if kind == "literal":
        return f"{name} = {literal}", name
    if kind == "computed":
        return f"{name} = [len(str(x)) for x in range(3)]", name
    if kind == "helper":
        return f"def {name}():\n    return [{inner}]", f"{name}()"
    if kind == "cached":
        return f"@functools.lru_cache\ndef {name}():\n    return ({inner},)", f"{name}()"
    if kind == "lambda":
        return f"{name} = lambda: ({inner}, 1)", f"{name}()"
    if kind == "closure":
        value = "object()" if flag else literal
        return (
            f"def make_{name}(k):\n    def inner():\n        return (k, {inner})\n    return inner\n{name} = make_{name}({value})",
            f"{name}()[1:]",
        )
    return f"class {name}:\n    def get(self):\n        return {{'v': {inner}}}", f"{name}().get()"


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notebook=notebooks())
def test_fuzzed_carried_code_gives_the_kernels_result_or_is_refused(ip, tmp_path, notebook):
    from kfp_notebook.errors import KfpNotebookError

    from executor_harness import load_pipeline_yaml, run_component

    cells, reads, after, bad = notebook
    for cell in cells:
        ip.run_cell(cell)
    try:
        ip.run_cell(f"%%component\ndef f() -> str:\n    return canon(({', '.join(reads)},))\n")
        for cell in after:
            ip.run_cell(cell)
        spec = load_pipeline_yaml(kfp_notebook.compile(ip.user_ns["f"]))
    except (UsageError, KfpNotebookError) as refused:
        assert bad, f"refused although everything can be carried: {refused}"
        assert any(f"'{name}'" in str(refused) for name in bad), str(refused)
        return
    assert not bad, f"carried {sorted(bad)} although they cannot be"
    result = run_component(spec, "f", tmp_path)
    assert result["executor_output"]["parameterValues"]["Output"] == ip.user_ns["f"].python_func()
