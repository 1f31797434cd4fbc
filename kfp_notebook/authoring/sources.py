"""The source a component ships: the cell's function, with what it needs from the notebook carried in.

Edits are made to the function's own text: v1 path types become ones kfp v2 runs, defaults that
name notebook constants are written as values, and `--name` renames the function. What the function
reads from the notebook (imports, constants, helpers) is defined at module level of kfp's program,
between kfp's imports and the function, so it behaves as in the notebook (pickling, `global`, recursion).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfp_notebook.authoring.cells import Cell, register_text
from kfp_notebook.authoring.dependencies import container_names
from kfp_notebook.authoring.literals import is_literal, stable_repr
from kfp_notebook.errors import ComponentError
from kfp_notebook.kfp_compat import GENERATED_PREAMBLE, function_source

#: What kfp's generated program imports before the function (kfp 2.17 `component_factory`).
_PREAMBLE = GENERATED_PREAMBLE
_ARTIFACT = '"Artifact"'
_V1_METRICS_CALL = "_kfp_notebook_v1_metrics"
CARRIED_HEADER = "# --- carried from the notebook by kfp-notebook ---"


@dataclass(frozen=True)
class Edit:
    """Replace the text between two (line, column) positions of the cell (1-based lines, UTF-8 byte columns)."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str


@dataclass(frozen=True)
class ShippedFunction:
    """The function kfp turns into the component, and the extra functions shipped with it."""

    function: Callable[..., Any]
    additional_funcs: tuple[Callable[..., Any], ...] = ()


def shipped_function(
    cell: Cell, node: ast.FunctionDef, func: Callable[..., Any], rename: str | None = None
) -> ShippedFunction:
    """The user's function itself, or a rewritten copy when something must change to run in the container."""
    edits, metrics_params = _path_type_edits(cell, node, func)
    edits += _default_edits(cell, node, func)
    edits += _body_insertion(cell, node, metrics_params)
    if rename and rename != node.name:
        edits.append(_rename_edit(cell, node, rename))
    if not edits:
        return ShippedFunction(func)
    text = apply_edits(inspect.getsource(func), edits, first_line=node.lineno)
    rewritten = _define(text, func, rename or node.name, f"{cell.filename[:-1]}-shipped>")
    helpers = (_v1_metrics_helper(),) if metrics_params else ()
    return ShippedFunction(rewritten, helpers)


def _path_type_edits(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any]) -> tuple[list[Edit], list[str]]:
    edits: list[Edit] = []
    metrics: list[str] = []
    for arg in _arguments(node):
        annotation = func.__annotations__.get(arg.arg)
        kind = type(annotation).__name__
        if kind not in ("InputPath", "OutputPath") or not isinstance(arg.annotation, ast.Call):
            continue
        edit = _path_type_edit(cell, arg, annotation, kind)
        if edit is not None:
            edits.append(edit)
            if edit.text != _ARTIFACT:
                metrics.append(arg.arg)
    return edits, metrics


def _arguments(node: ast.FunctionDef) -> list[ast.arg]:
    return [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]


def _path_type_edit(cell: Cell, arg: ast.arg, annotation: Any, kind: str) -> Edit | None:
    call = arg.annotation
    assert isinstance(call, ast.Call)
    type_name = annotation.type
    if isinstance(type_name, str) and "@" in type_name:
        if kind == "OutputPath" and type_name.startswith("system.Metrics@"):
            return Edit(_start(call), _end(call), "Output[Metrics]")
        return None
    literal = call.args[0] if call.args else None
    if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
        return Edit(_start(literal), _end(literal), _ARTIFACT)
    if kind == "InputPath" and type_name is not None:
        shown = getattr(type_name, "__name__", type_name)
        raise cell.error(
            ComponentError,
            f"{arg.arg}: InputPath({shown}) compiles but fails at run time in kfp 2.17 (kfp issue 10378). "
            f"Take the value as a plain parameter (`{arg.arg}: {shown}`), or pass a file: "
            'OutputPath("Artifact") upstream and InputPath("Artifact") here',
            arg.lineno,
        )
    return None


def _default_edits(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any]) -> list[Edit]:
    """Defaults are evaluated where the function is defined: a notebook constant there is written as its value."""
    signature = inspect.signature(func)
    positional = [*node.args.posonlyargs, *node.args.args]
    with_default = positional[len(positional) - len(node.args.defaults) :]
    keyword = zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
    pairs = [*zip(with_default, node.args.defaults, strict=True), *((a, d) for a, d in keyword if d is not None)]
    edits = []
    for arg, expression in pairs:
        outside = {n.id for n in ast.walk(expression) if isinstance(n, ast.Name)} - container_names()
        if not outside:
            continue
        value = signature.parameters[arg.arg].default
        if not is_literal(value):
            name = sorted(outside)[0]
            raise cell.error(
                ComponentError,
                f"the default of {arg.arg!r} reads the notebook variable {name!r}, which the container does not have: "
                "write the value itself, or pass it from the pipeline",
                expression.lineno,
            )
        edits.append(Edit(_start(expression), _end(expression), stable_repr(value)))
    return edits


def _body_insertion(cell: Cell, node: ast.FunctionDef, metrics_params: list[str]) -> list[Edit]:
    """The v1 metrics lines at the top of the body (after the docstring); tracebacks still name the cell's own lines
    (view/tracebacks.py aligns kfp's copy with the cell)."""
    if not metrics_params:
        return []
    first = node.body[0]
    if first.lineno == node.lineno:
        message = f"put the body of {node.name} on its own lines, below the `def` line"
        raise cell.error(ComponentError, message, node.lineno)
    line = (first.end_lineno or first.lineno) + 1 if _has_docstring(node) else first.lineno
    indent = " " * first.col_offset
    text = "".join(f"{indent}{p} = {_V1_METRICS_CALL}({p})\n" for p in metrics_params)
    return [Edit((line, 0), (line, 0), text)]


def _rename_edit(cell: Cell, node: ast.FunctionDef, new_name: str) -> Edit:
    line_text = cell.code_at(node.lineno)
    match = re.match(r"\s*def\s+", line_text)
    assert match is not None
    start = len(line_text[: match.end()].encode("utf-8"))
    return Edit((node.lineno, start), (node.lineno, start + len(node.name.encode("utf-8"))), new_name)


def _has_docstring(node: ast.FunctionDef) -> bool:
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _start(node: ast.expr) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.expr) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return node.end_lineno, node.end_col_offset


def apply_edits(source: str, edits: list[Edit], first_line: int = 1) -> str:
    """Apply edits given in cell coordinates to the slice of the cell that starts at `first_line`."""
    text = source
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        lines = text.splitlines(keepends=True)
        start = _index(lines, edit.start, first_line)
        end = _index(lines, edit.end, first_line)
        text = text[:start] + edit.text + text[end:]
    return text


def _index(lines: list[str], position: tuple[int, int], first_line: int) -> int:
    line, byte_col = position
    row = line - first_line
    before = sum(len(x) for x in lines[:row])
    if row >= len(lines):
        return before
    return before + len(lines[row].encode("utf-8")[:byte_col].decode("utf-8"))


def _define(text: str, original: Callable[..., Any], name: str, filename: str) -> Callable[..., Any]:
    """Define the rewritten function the way the container will: after kfp's imports."""
    register_text(filename, text)
    namespace: dict[str, Any] = dict(original.__globals__)
    exec(compile(_PREAMBLE, "<kfp-preamble>", "exec", dont_inherit=True), namespace)
    exec(compile(text, filename, "exec", dont_inherit=True), namespace)
    return namespace[name]


def _v1_metrics_helper() -> Callable[..., Any]:
    from kfp_notebook.authoring.v1_metrics import _kfp_notebook_v1_metrics

    return _kfp_notebook_v1_metrics


def with_carried(container: Any, function: Callable[..., Any], carried: str) -> Any:
    """kfp's container spec with the carried definitions at module level of its program, just before the function."""
    program = container.command[-1]
    tail = function_source(function) + "\n"
    if not program.endswith(tail):
        raise RuntimeError("kfp's program does not end with the function's source: kfp changed how it writes it")
    head = program[: len(program) - len(tail)]
    block = f"{CARRIED_HEADER}\n{carried.rstrip()}\n\n\n"
    return dataclasses.replace(container, command=[*container.command[:-1], head + block + tail])
