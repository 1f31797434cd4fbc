"""The source a component ships: the cell's function, with KFP v1 spellings made to run on kfp v2."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfp_notebook.cells import Cell, register_text
from kfp_notebook.errors import ComponentError

#: What kfp's generated program imports before the function (kfp 2.17 `component_factory`).
_PREAMBLE = "import kfp\nfrom kfp import dsl\nfrom kfp.dsl import *\nfrom typing import *\n"
_ARTIFACT = '"Artifact"'
_V1_METRICS_CALL = "_kfp_notebook_v1_metrics"


@dataclass(frozen=True)
class Edit:
    """Replace the text between two (line, column) positions of the function source (1-based lines)."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str


@dataclass(frozen=True)
class ShippedFunction:
    """The function kfp turns into the component, and the extra functions shipped with it."""

    function: Callable[..., Any]
    additional_funcs: tuple[Callable[..., Any], ...] = ()


def shipped_function(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any]) -> ShippedFunction:
    """The user's function, or a rewritten copy when it uses v1 path types that kfp v2 cannot run."""
    edits, metrics_params = _path_type_edits(cell, node, func)
    if not edits:
        return ShippedFunction(func)
    source = inspect.getsource(func)
    edits += _metrics_insertions(cell, node, metrics_params)
    text = apply_edits(source, edits, first_line=node.lineno)
    rewritten = _define(text, func, f"{cell.filename[:-1]}-shipped>")
    helpers = (_v1_metrics_helper(),) if metrics_params else ()
    return ShippedFunction(rewritten, helpers)


def _path_type_edits(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any]) -> tuple[list[Edit], list[str]]:
    edits: list[Edit] = []
    metrics: list[str] = []
    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
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


def _metrics_insertions(cell: Cell, node: ast.FunctionDef, params: list[str]) -> list[Edit]:
    """One line at the top of the body (after the docstring) per v1 metrics parameter."""
    if not params:
        return []
    first = node.body[0]
    if first.lineno == node.lineno:
        raise cell.error(
            ComponentError, f"put the body of {node.name} on its own lines, below the `def` line", node.lineno
        )
    line = (first.end_lineno or first.lineno) + 1 if _has_docstring(node) else first.lineno
    indent = " " * first.col_offset
    text = "".join(f"{indent}{p} = {_V1_METRICS_CALL}({p})\n" for p in params)
    return [Edit((line, 0), (line, 0), text)]


def _has_docstring(node: ast.FunctionDef) -> bool:
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _start(node: ast.expr) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.expr) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return node.end_lineno, node.end_col_offset


def apply_edits(source: str, edits: list[Edit], first_line: int = 1) -> str:
    """Apply edits given in cell coordinates (UTF-8 byte columns, as ast reports) to a source slice."""
    lines = source.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        start = _index(lines, edit.start, first_line)
        end = _index(lines, edit.end, first_line)
        text = "".join(lines)
        lines = (text[:start] + edit.text + text[end:]).splitlines(keepends=True)
    return "".join(lines)


def _index(lines: list[str], position: tuple[int, int], first_line: int) -> int:
    line, byte_col = position
    row = line - first_line
    before = sum(len(x) for x in lines[:row])
    if row >= len(lines):
        return before
    return before + len(lines[row].encode("utf-8")[:byte_col].decode("utf-8"))


def _define(text: str, original: Callable[..., Any], filename: str) -> Callable[..., Any]:
    """Define the rewritten function the way the container will: after kfp's imports."""
    register_text(filename, text)
    namespace: dict[str, Any] = dict(original.__globals__)
    exec(compile(_PREAMBLE, "<kfp-preamble>", "exec", dont_inherit=True), namespace)
    exec(compile(text, filename, "exec", dont_inherit=True), namespace)
    return namespace[original.__name__]


def _v1_metrics_helper() -> Callable[..., Any]:
    from kfp_notebook.v1_metrics import _kfp_notebook_v1_metrics

    return _kfp_notebook_v1_metrics
