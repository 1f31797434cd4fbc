"""Carried code means what the notebook means: each snippet's component gives the kernel's result, or is refused.

Every row defines something in the notebook, a component `f` that reads it, and maybe edits after the
component cell. The component then runs two ways: the plain function in the kernel, and the compiled
component under kfp's executor (a few rows as full local runs). The outcome is the same result, or a
refusal at `%%component` or at compile that names the variable — never a different result, and never a
NameError or ImportError at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.errors import KfpNotebookError

from executor_harness import load_pipeline_yaml, run_component


@dataclass(frozen=True)
class Row:
    """A notebook snippet: cells before the component, the component's body, cells after; `refused` names the variable."""

    setup: str
    body: str
    after: str = ""
    refused: str | None = None
    line: str = ""
    signature: str = "()"
    args: tuple[tuple[str, object], ...] = ()


def ret(expression: str) -> str:
    return f"return str({expression})"


ROWS = {
    # imports of every shape
    "import": Row("import json", ret("json.dumps({'a': 1})")),
    "import-as": Row("import json as j", ret("j.dumps([1, 2])")),
    "from-import": Row("from os.path import join", ret("join('a', 'b')")),
    "from-import-as": Row("from collections import OrderedDict as OD", ret("list(OD(a=1))")),
    "star-import": Row("from os.path import *", ret("join('a', basename('/x/y'))")),
    "dotted-import": Row("import os.path", ret("os.path.basename('/x/y')")),
    "dotted-import-as": Row("import xml.etree.ElementTree as ET", ret("ET.fromstring('<a>1</a>').text")),
    "conditional-import-true": Row(
        "USE_COMPLEX = True\nif USE_COMPLEX:\n    import cmath as m\nelse:\n    import math as m", ret("m.sqrt(-1)")
    ),
    "conditional-import-false": Row(
        "USE_COMPLEX = False\nif USE_COMPLEX:\n    import cmath as m\nelse:\n    import math as m", ret("m.sqrt(4)")
    ),
    "try-import-fallback": Row(
        "try:\n    import tomllib as toml\nexcept ImportError:\n    import toml", ret("toml.loads('a = 1')")
    ),
    "reimport-rebinds": Row("import math as m\nimport cmath as m", ret("m.sqrt(-4)")),
    "import-then-literal": Row("from math import pi\npi = 3", ret("pi * 2")),
    "object-from-module": Row("import json\ndumps = json.dumps", ret("dumps({'b': [1]})")),
    "annotation-alias": Row(
        "from typing import List as L", ret("sum(xs)"), signature="(xs: L[int])", args=(("xs", [1, 2]),)
    ),
    "import-in-same-cell": Row("", ret("base64.b64encode(b'hi')"), line="", signature="()"),
    # closures
    "closure-literal": Row(
        "k = 10\ndef make_scaler(k):\n    def scale(x):\n        return x * k\n    return scale\ntriple = make_scaler(3)",
        ret("triple(2)"),
    ),
    "closure-non-literal": Row(
        "class Obj:\n    x = 1\n    def get(self):\n        return self.x\n"
        "def make(o):\n    def get():\n        return o.get()\n    return get\ngetter = make(Obj())",
        ret("getter()"),
        refused="getter",
    ),
    "closure-nonlocal": Row(
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n        return n\n    return inc\n"
        "inc = counter()",
        ret("inc() + inc()"),
    ),
    "closure-recursive": Row(
        "def outer():\n    def rec(n):\n        return 1 if n < 2 else n * rec(n - 1)\n    return rec\nfact = outer()",
        ret("fact(5)"),
    ),
    "partial": Row(
        "import functools\ndef add(a, b):\n    return a + b\nadd3 = functools.partial(add, 3)",
        ret("add3(1)"),
        refused="add3",
    ),
    # decorators
    "lru-cache": Row(
        "import functools\n@functools.lru_cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
        ret("(fib(30), fib.cache_info().hits > 0)"),
    ),
    "cache-from-import": Row("from functools import cache\n@cache\ndef sq(n):\n    return n * n", ret("sq(7)")),
    "decorator-with-wraps": Row(
        "import functools\ndef twice(fn):\n    @functools.wraps(fn)\n    def wrapper(x):\n        return fn(fn(x))\n"
        "    return wrapper\n@twice\ndef inc(x):\n    return x + 1",
        ret("inc(1)"),
    ),
    "decorator-without-wraps": Row(
        "def twice(fn):\n    def wrapper(x):\n        return fn(fn(x))\n    return wrapper\n@twice\ndef inc(x):\n    return x + 1",
        ret("inc(1)"),
        refused="inc",
    ),
    "dataclass": Row(
        "from dataclasses import dataclass\n@dataclass\nclass Pt:\n    x: int\n    y: int = 2\n    def total(self):\n"
        "        return self.x + self.y",
        ret("(Pt(1).total(), Pt(1))"),
    ),
    # lambdas
    "lambda": Row("sq = lambda x: x * x", ret("sq(9)")),
    "lambda-reads-constant": Row("K = 5\naddk = lambda x: x + K", ret("addk(1)")),
    "lambda-alias": Row("sq = lambda x: x * x\nsquare = sq", ret("square(4)")),
    # classes
    "class-pickles": Row(
        "class Box:\n    def __init__(self, v):\n        self.v = v",
        "import pickle\n    return str(pickle.loads(pickle.dumps(Box(3))).v)",
    ),
    "class-without-methods": Row(
        "class Oops(Exception):\n    pass",
        "try:\n        raise Oops('x')\n    except Oops as e:\n        return type(e).__name__ + str(e)",
    ),
    "enum": Row(
        "from enum import Enum\nclass Color(Enum):\n    RED = 1\n    BLUE = 2", ret("(Color(2).name, Color.RED.value)")
    ),
    "class-decorated-members": Row(
        "import functools\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n    @functools.cached_property\n"
        "    def area(self):\n        return 3 * self.r * self.r\n    @staticmethod\n    def unit():\n        return Circle(1)\n"
        "    @property\n    def d(self):\n        return 2 * self.r",
        ret("(Circle(2).area, Circle.unit().d)"),
    ),
    "class-attribute-from-constant": Row(
        "RATE = 2\nclass Pricer:\n    rate = RATE\n    double = RATE * 2\n    def price(self, x):\n        return x * self.rate\nRATE = 5",
        ret("(Pricer().price(3), Pricer.double, RATE)"),
    ),
    "class-inheritance": Row(
        "class A:\n    def v(self):\n        return 1\nclass B(A):\n    def v(self):\n        return super().v() + 1",
        ret("(B().v(), isinstance(B(), A))"),
    ),
    "class-attribute-changed": Row(
        "class C:\n    n = 1\n    def get(self):\n        return self.n\nC.n = 2", ret("C().get()"), refused="C"
    ),
    "class-method-patched": Row(
        "class C:\n    def get(self):\n        return 1\ndef other(self):\n    return 2\nC.get = other",
        ret("C().get()"),
        refused="C",
    ),
    # global
    "helper-global": Row(
        "COUNT = 0\ndef bump():\n    global COUNT\n    COUNT += 1\n    return COUNT", ret("bump() + bump()")
    ),
    "component-global": Row("", "global TOTAL\n    TOTAL = 5\n    return str(TOTAL)"),
    "recursion": Row("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)", ret("fact(6)")),
    "mutual-recursion": Row(
        "def even(n):\n    return n == 0 or odd(n - 1)\ndef odd(n):\n    return n != 0 and even(n - 1)", ret("even(10)")
    ),
    "default-from-constant-changed-since": Row(
        "K = 1\ndef h(x, k=K, *, scale=K * 10):\n    return x * k + scale\nK = 2", ret("(h(1), K)")
    ),
    "closure-default-idiom": Row(
        "adders = []\nfor i in range(3):\n    def add(x, i=i):\n        return x + i\n    adders.append(add)\nlast = adders[-1]",
        ret("last(10)"),
    ),
    "default-object-rebound": Row(
        "def shout(s):\n    return s.upper()\ndef h(s, fmt=shout):\n    return fmt(s)\ndef shout(s):\n    return s + '!'",
        ret("h('a')"),
        refused="h",
    ),
    "default-object-builtin": Row("def h(xs, agg=max):\n    return agg(xs)", ret("h([1, 3, 2])")),
    "helper-alias": Row("def double(x):\n    return 2 * x\ntwo_times = double", ret("two_times(4)")),
    "parameter-shadows-helper-global": Row(
        "factor = 2\ndef double(v):\n    return v * factor",
        ret("double(factor)"),
        signature="(factor: int)",
        args=(("factor", 5),),
    ),
    # constants of every literal kind
    "numbers": Row("A = 3\nB = 2.5\nC = 1+2j\nNEG = -1.5", ret("(A, B, C, NEG)")),
    "text": Row("S = '안녕'\nBY = b'\\x00\\xff'", ret("(S, BY)")),
    "bool-none": Row("FLAG = True\nNOTHING = None", ret("(FLAG, NOTHING)")),
    "nested-containers": Row("CFG = {'a': [1, 2, (3, 4)], 'b': {'c': None}}", ret("CFG")),
    "set": Row("TAGS = {'b', 'a', 'c'}", ret("sorted(TAGS)")),
    "annotated": Row("N: int = 7", ret("N")),
    "chained-assignment": Row("A = B = 4", ret("A + B")),
    "conditional-constant": Row("FAST = True\nif FAST:\n    N = 10\nelse:\n    N = 1000", ret("N")),
    "constant-default": Row("EPOCHS = 5", ret("epochs"), signature="(epochs: int = EPOCHS)", args=(("epochs", 5),)),
    # computed values
    "computed-random": Row("import random\nrows = [random.random() for _ in range(3)]", ret("rows"), refused="rows"),
    "computed-large": Row("big = list(range(1_000_000))", ret("len(big)"), refused="big"),
    "computed-expression": Row("INF = float('inf')", ret("INF"), refused="INF"),
    "literal-too-large": Row("BIG = '" + "x" * 70_000 + "'", ret("len(BIG)"), refused="BIG"),
    "mutated-literal": Row("ROWS = [1, 2]\nROWS.append(3)", ret("ROWS"), refused="ROWS"),
    "reassigned-computed": Row("N = 3\nN = len('abcd')", ret("N"), refused="N"),
    "secret-like-constant": Row("API_TOKEN = 'abc123'", ret("len(API_TOKEN)"), refused="API_TOKEN"),
    "object": Row("class Frame:\n    pass\ndf = Frame()", ret("df"), refused="df"),
    "frozen": Row("rows = [x * 2 for x in range(3)]", ret("rows"), line="--freeze rows"),
    # edits after the component cell
    "helper-edited": Row("def h(x):\n    return x + 1", ret("h(1)"), after="def h(x):\n    return x + 2"),
    "constant-edited": Row("K = 1", ret("K"), after="K = 2"),
    "constant-edited-to-computed": Row("K = 1", ret("K"), after="K = sum([1, 1])", refused="K"),
    "import-edited": Row(
        "import math as m", ret("m.sqrt(-1) if m.__name__ == 'cmath' else 0"), after="import cmath as m"
    ),
    "class-attribute-set-after": Row(
        "class C:\n    n = 1\n    def get(self):\n        return self.n", ret("C().get()"), after="C.n = 2", refused="C"
    ),
    "method-replaced-after": Row(
        "class C:\n    def get(self):\n        return 1", ret("C().get()"), after="C.get = lambda self: 2", refused="C"
    ),
    "closure-moved-on-after": Row(
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n        return n\n    return inc\n"
        "tick = counter()",
        ret("tick()"),
        after="tick()\ntick()",
    ),
    "list-mutated-after": Row("L = [1]", ret("L"), after="L.append(2)", refused="L"),
    "helper-edited-to-read-variable": Row(
        "def h():\n    return 1", ret("h()"), after="data = object()\ndef h():\n    return data", refused="data"
    ),
}


def component_cell(name: str, row: Row) -> str:
    imports = "import base64\n" if name == "import-in-same-cell" else ""
    return f"%%component {row.line}\n{imports}def f{row.signature} -> str:\n    {row.body}\n"


def define(ip, name: str, row: Row) -> None:
    """Run the snippet's cells; a refusal must name the variable, at %%component or at compile."""
    if row.setup:
        ip.run_cell(row.setup)
    ip.run_cell(component_cell(name, row))
    if row.after:
        ip.run_cell(row.after)


def assert_refused(ip, name: str, row: Row) -> None:
    with pytest.raises((UsageError, KfpNotebookError), match=f"'{row.refused}'"):
        define(ip, name, row)
        kfp_notebook.compile(ip.user_ns["f"])


def pipeline_result(ip, row: Row, tmp_path) -> str:
    spec = load_pipeline_yaml(kfp_notebook.compile(ip.user_ns["f"]))
    result = run_component(spec, "f", tmp_path, dict(row.args))
    return result["executor_output"]["parameterValues"]["Output"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ROWS))
def test_component_computes_what_the_kernel_computes(ip, tmp_path, name):
    row = ROWS[name]
    if row.refused:
        assert_refused(ip, name, row)
        return
    define(ip, name, row)
    in_pipeline = pipeline_result(ip, row, tmp_path)
    in_kernel = ip.user_ns["f"].python_func(**dict(row.args))
    assert in_pipeline == in_kernel


@pytest.mark.parametrize("name", [n for n, r in ROWS.items() if r.refused])
def test_refusals_name_the_variable(ip, name):
    assert_refused(ip, name, ROWS[name])


def test_the_table_is_wide_enough():
    assert len(ROWS) >= 40 and sum(1 for r in ROWS.values() if r.refused) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ["closure-literal", "class-pickles", "lru-cache", "constant-edited"])
def test_full_local_run_gives_the_kernels_result(ip, tmp_path, name):
    row = ROWS[name]
    define(ip, name, row)
    ip.run_cell("%%pipeline\ndef p():\n    f()\n")
    handle = kfp_notebook.run(ip.user_ns["p"], runs_folder=str(tmp_path / "runs"))
    assert handle.result()["f"].output == ip.user_ns["f"].python_func()
