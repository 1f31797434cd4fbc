"""What a task receives is what the kernel computes: every parameter type × every way of producing it × consumers.

For each value, the producer's Python function is called in the kernel; the same value then travels through a
local run (returned, written to an `OutputPath` file with str() or json.dumps(), or as a NamedTuple field) to a
consuming task's input and to a `dsl.If` comparing it, and arrives equal, as the KFP launcher and driver pass it.
Files the launcher cannot read fail their producer, naming the output, the text and the type.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import kfp_notebook
from kfp_notebook.errors import OptionError
from kfp_notebook.tracking.states import TaskState

from helpers import run_cells

pytestmark = pytest.mark.slow

VALUES: dict[str, list[Any]] = {
    "str": ["abc", "", "False", "tab\there", 'quote"s \\ ünï ☃', " spaced \n"],
    "int": [0, -12, 7, 2**40],
    "float": [0.5, -2.0, 1e-07, 3.0, 1234.5678],
    "bool": [True, False],
    "list": [[1, "a", None, True, [2.5, {"k": 3.0}]], []],
    "dict": [{"a": 1, "b": [True, None], "c": {"d": "e"}}, {}],
}
#: How an OutputPath file is written, per type (str(v) is what users write for scalars).
FILE_WRITERS = {"str": "v", "int": "str(v)", "float": "str(v)", "bool": "str(v)", "list": "json.dumps(v)",
                "dict": "json.dumps(v)"}  # fmt: skip
SCALARS = ("str", "int", "float", "bool")


def components(kind: str) -> list[str]:
    """The producers of one type (returned, file with its writer, file with json.dumps, NamedTuple) and a consumer."""
    cells = [
        f"%%component\ndef ret_{kind}(text: str) -> {kind}:\n    import json\n    return json.loads(text)\n",
        f"%%component\ndef file_{kind}(text: str, out: OutputPath({kind})):\n    import json\n    v = json.loads(text)\n"
        f"    with open(out, 'w') as f:\n        f.write({FILE_WRITERS[kind]})\n",
        f"%%component\ndef tuple_{kind}(text: str) -> NamedTuple('Outputs', [('value', {kind}), ('n', int)]):\n"
        "    import json\n    return (json.loads(text), 1)\n",
        f"%%component\ndef take_{kind}(x: {kind}, case: str) -> str:\n    import json\n    return json.dumps([case, x])\n",
    ]
    if kind in ("int", "float", "bool"):
        cells.append(
            f"%%component\ndef dumps_{kind}(text: str, out: OutputPath({kind})):\n    import json\n"
            "    with open(out, 'w') as f:\n        f.write(json.dumps(json.loads(text)))\n"
        )
    return cells


def cases() -> list[tuple[str, str, str, Any]]:
    """(case id, type, form, value) for every value of every type in every form."""
    rows = []
    for kind, values in VALUES.items():
        forms = ["ret", "file", "tuple"] + (["dumps"] if kind in ("int", "float", "bool") else [])
        for form in forms:
            rows += [(f"{form}-{kind}-{i}", kind, form, value) for i, value in enumerate(values)]
    return rows


def conditioned(kind: str, value: Any) -> bool:
    """Whether a dsl.If can compare with this value: CEL has no line break in a single-quoted string, and kfp
    writes the string as it is (cel-go refuses such a condition on Kubeflow too)."""
    return kind in SCALARS and not (isinstance(value, str) and ("\n" in value or "\\" in value or "'" in value))


def pipeline_cell(rows: list[tuple[str, str, str, Any]]) -> str:
    lines = ["%%pipeline", "def values():"]
    for number, (case, kind, form, value) in enumerate(rows):
        output = f"p{number}.outputs['value']" if form == "tuple" else f"p{number}.output"
        lines.append(f"    p{number} = {form}_{kind}(text={json.dumps(value)!r}).set_caching_options(False)")
        if conditioned(kind, value):
            lines.append(f"    with dsl.If({output} == {value!r}):")
            lines.append(f"        take_{kind}(x={output}, case={case!r})")
            if number % 3 == 0 or kind == "bool":
                lines.append(f"    with dsl.If({output} != {value!r}):")
                lines.append(f"        take_{kind}(x={output}, case={case + '-ne'!r})")
        else:
            lines.append(f"    take_{kind}(x={output}, case={case!r})")
    return "\n".join(lines) + "\n"


def same(left: Any, right: Any) -> bool:
    """Equal, with a bool never equal to a number (JSON tells them apart; Python's == does not)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return type(left) is type(right) and left == right


def received(result) -> dict[str, Any]:
    values = {}
    for task in result.tasks.values():
        if task.name.startswith("take-") and task.state == TaskState.SUCCEEDED.value:
            case, value = json.loads(task.output)
            values[case] = value
    return values


def test_every_type_and_form_arrives_as_the_kernel_computed_it(ip, tmp_path):
    run_cells(ip, "from typing import NamedTuple", *[cell for kind in VALUES for cell in components(kind)])
    rows = cases()
    run_cells(ip, pipeline_cell(rows))
    handle = kfp_notebook.run(ip.user_ns["values"], runs_folder=tmp_path / "runs", cache=False, workers=4)
    result = handle.result()
    assert result.state == "SUCCEEDED", result.message
    got = received(result)
    for case, kind, _, value in rows:
        in_kernel = ip.user_ns[f"ret_{kind}"].python_func(text=json.dumps(value))
        assert same(in_kernel, value)
        assert case in got, f"{case}: the consumer did not run ({kind} {value!r})"
        assert same(got[case], in_kernel), f"{case}: sent {in_kernel!r}, received {got[case]!r}"
    assert not [case for case in got if case.endswith("-ne")], "a != condition held for an equal value"


BAD_FILES = [
    ("int", "3.7", "3.7"),
    ("int", "true", "true"),
    ("int", "", "''"),
    ("int", "1_000", "1_000"),
    ("float", "true", "true"),
    ("float", "1e400", "1e400"),
    ("float", "1,5", "1,5"),
    ("bool", "yes", "yes"),
    ("bool", "tRUE", "tRUE"),
    ("list", '{"a": 1}', '{"a": 1}'),
    ("list", "[1, 'a']", "[1, 'a']"),
    ("dict", "[1]", "[1]"),
    ("dict", "{'a': 1}", "{'a': 1}"),
]


def failing_cells() -> list[str]:
    cells = [
        f"%%component\ndef bad_{kind}(text: str, out: OutputPath({kind})):\n"
        "    with open(out, 'w') as f:\n        f.write(text)\n"
        for kind in ("int", "float", "bool", "list", "dict")
    ]
    cells += [
        "%%component\ndef quits(how: str, out: OutputPath(int)):\n    import os, sys\n"
        "    if how == 'os._exit':\n        os._exit(0)\n    sys.exit(0)\n",
        "%%component\ndef returns_nan() -> float:\n    return float('nan')\n",
        "%%component\ndef double(x: int) -> int:\n    return 2 * x\n",
        "%%component\ndef total(xs: list) -> int:\n    return sum(xs)\n",
        "%%component\ndef fine() -> int:\n    return 1\n",
        "%%component\ndef nan_file(out: OutputPath(float)):\n    with open(out, 'w') as f:\n        f.write('nan')\n",
        "%%component\ndef use_float(x: float) -> float:\n    return x\n",
        "%%component\ndef truthy() -> int:\n    return True\n",
        "%%component\ndef use_int(x: int) -> int:\n    return x\n",
    ]
    body = [f"    bad_{kind}(text={text!r}).set_display_name('bad-{i}')" for i, (kind, text, _) in enumerate(BAD_FILES)]
    body += [
        "    quits(how='os._exit').set_display_name('exit-os')",
        "    quits(how='sys.exit').set_display_name('exit-sys')",
        "    returns_nan()",
        "    fine()",
        "    n = nan_file()",
        "    use_float(x=n.output)",
        "    use_int(x=truthy().output)",
        "    with dsl.If(n.output > 0):",
        "        use_float(x=n.output)",
        "    with dsl.ParallelFor(items) as item:",
        "        d = double(x=item)",
        "    total(xs=dsl.Collected(d.output))",
    ]
    return [*cells, "%%pipeline\ndef failing(items: list = []):\n" + "\n".join(body) + "\n"]


def test_what_the_launcher_cannot_read_fails_its_producer_naming_it(ip, tmp_path):
    run_cells(ip, *failing_cells())
    result = kfp_notebook.run(ip.user_ns["failing"], runs_folder=tmp_path / "runs", cache=False, workers=4).result()
    assert result.state == "FAILED"
    by_display = {t.task_id: t for t in result.tasks.values()}
    bad = sorted((t for t in by_display.values() if t.name.startswith("bad-")), key=lambda t: t.task_id)
    assert len(bad) == len(BAD_FILES)
    messages = [t.message for t in bad if t.state == TaskState.FAILED.value]
    assert len(messages) == len(BAD_FILES), [t.state for t in bad]
    for kind, _, shown in BAD_FILES:
        expected = f"output 'out' ({kind}) holds {shown!r}" if shown != "''" else f"output 'out' ({kind}) holds ''"
        assert any(expected in m for m in messages), (expected, messages)
    for name in ("quits", "quits-2"):
        assert result[name].state == TaskState.FAILED.value
        assert "output 'out' has no value" in result[name].message
    assert result["returns-nan"].state == TaskState.FAILED.value and "nan" in result["returns-nan"].message
    assert result["fine"].state == TaskState.SUCCEEDED.value
    assert result["truthy"].state == TaskState.SUCCEEDED.value  # kfp's executor takes True for an int (a bool is one)
    assert result["use-int"].state == TaskState.FAILED.value and "type mismatch" in result["use-int"].message
    assert result["nan-file"].state == TaskState.SUCCEEDED.value  # the launcher reads nan as a Go float
    assert (
        result["use-float"].state == TaskState.FAILED.value and "cannot pass to a task" in result["use-float"].message
    )
    condition = next(t for t in result.tasks.values() if t.name.startswith("condition"))
    assert condition.state == TaskState.SKIPPED.value  # NaN > 0 is false in CEL: the task under it does not run
    assert result["total"].state == TaskState.FAILED.value
    assert "had no items" in result["total"].message and "0 times" in result["total"].message


def test_a_loop_with_items_collects_them(ip, tmp_path):
    run_cells(ip, *[cell for cell in failing_cells() if "def double" in cell or "def total" in cell])
    run_cells(ip, "%%pipeline\ndef collecting(items: list = [1, 2]):\n    with dsl.ParallelFor(items) as item:\n"
                  "        d = double(x=item)\n    total(xs=dsl.Collected(d.output))\n")  # fmt: skip
    result = kfp_notebook.run(ip.user_ns["collecting"], runs_folder=tmp_path / "runs").result()
    assert result["total"].output == 6
    empty = kfp_notebook.run(ip.user_ns["collecting"], {"items": []}, runs_folder=tmp_path / "runs").result()
    assert empty["total"].state == TaskState.FAILED.value and "had no items" in empty["total"].message
    run_cells(ip, "%%pipeline\ndef inner(items: list) -> list:\n    with dsl.ParallelFor(items) as item:\n"
                  "        d = double(x=item)\n    return dsl.Collected(d.output)\n",
                  "%%pipeline\ndef outer(items: list = []):\n    total(xs=inner(items=items).output)\n")  # fmt: skip
    nested = kfp_notebook.run(ip.user_ns["outer"], runs_folder=tmp_path / "runs").result()
    assert nested["total"].state == TaskState.FAILED.value and "had no items" in nested["total"].message


def test_run_refuses_a_value_of_another_type(ip, tmp_path):
    run_cells(
        ip, "%%component\ndef show(i: int) -> int:\n    return i\n", "%%pipeline\ndef typed(i: int):\n    show(i=i)\n"
    )
    for bad in (2.7, True, None, "2.5"):
        with pytest.raises(OptionError, match=r"'i'|i='2.5'"):
            kfp_notebook.run(ip.user_ns["typed"], {"i": bad}, runs_folder=tmp_path / "runs")
    assert math.isclose(kfp_notebook.run(ip.user_ns["typed"], {"i": 3}, runs_folder=tmp_path / "runs").result()[
        "show"].output, 3)  # fmt: skip


def test_outputs_inside_an_fstring_are_written_as_the_launcher_writes_them(ip, tmp_path):
    run_cells(
        ip,
        "%%component\ndef tiny() -> float:\n    return 1e-07\n",
        "%%component\ndef flag() -> bool:\n    return True\n",
        "%%component\ndef pair() -> list:\n    return [1, 2.0]\n",
        "%%component\ndef echo(text: str) -> str:\n    return text\n",
        "%%pipeline\ndef fstrings():\n    echo(text=f'{tiny().output}|{flag().output}|{pair().output}')\n",
    )
    result = kfp_notebook.run(ip.user_ns["fstrings"], runs_folder=tmp_path / "runs").result()
    assert result["echo"].output == "0.0000001|true|[1,2]"
