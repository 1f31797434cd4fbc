"""Values computed when a `def` or `class` ran (defaults, class attributes), written as the kernel holds them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from kfp_notebook.authoring.literals import is_literal, literal_value, same_value, stable_repr


class ComputedDefault(Exception):
    """A default value that cannot be written in the shipped source; the message says which."""


def pinned_defaults(node: ast.FunctionDef, text: str, function: Any) -> tuple[str, dict[str, Any]]:
    """The cell text with each default written as the value the function holds, and the names whose
    object a default must still be (`def h(x, log=print)`)."""
    edits: list[tuple[ast.expr, str]] = []
    names: dict[str, Any] = {}
    for expression, value in _defaults(node, function):
        ok, literal = literal_value(expression)
        if ok and same_value(literal, value):
            continue
        if is_literal(value):
            edits.append((expression, stable_repr(value)))
        elif isinstance(expression, ast.Name):
            names[expression.id] = value
        else:
            shown = ast.unparse(expression)
            raise ComputedDefault(f"has a default ({shown}) computed when it was defined, which cannot be carried")
    return replaced_expressions(text, edits), names


def _defaults(node: ast.FunctionDef, function: Any) -> Iterator[tuple[ast.expr, Any]]:
    yield from zip(node.args.defaults, function.__defaults__ or (), strict=True)
    keyword = function.__kwdefaults__ or {}
    for arg, expression in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
        if expression is not None:
            yield expression, keyword[arg.arg]


def replaced_expressions(text: str, edits: list[tuple[ast.expr, str]]) -> str:
    """Replace single-line expressions (positions in UTF-8 bytes, as ast gives them), last first."""
    lines = text.splitlines(keepends=True)
    for expression, replacement in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        if expression.end_lineno != expression.lineno:
            raise ComputedDefault(f"has a default written over several lines ({ast.unparse(expression)})")
        raw = lines[expression.lineno - 1].encode("utf-8")
        end = expression.end_col_offset or 0
        lines[expression.lineno - 1] = (raw[: expression.col_offset] + replacement.encode() + raw[end:]).decode()
    return "".join(lines)


def pinned_attributes(node: ast.ClassDef, text: str, cls: type) -> tuple[str, dict[str, Any]]:
    """The cell text with each `NAME = <computed>` of the class body written as the value the class holds."""
    edits: list[tuple[ast.expr, str]] = []
    names: dict[str, Any] = {}
    for child in node.body:
        if not (isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name)):
            continue
        expression, value = child.value, vars(cls).get(child.targets[0].id)
        if type(cls) is not type or literal_value(expression)[0]:
            continue
        if is_literal(value):
            edits.append((expression, stable_repr(value)))
        elif isinstance(expression, ast.Name):
            names[expression.id] = value
    return replaced_expressions(text, edits), names
