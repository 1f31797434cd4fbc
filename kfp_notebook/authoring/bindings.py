"""The notebook's statements that bind a name: import statements matched by identity, literal assignments."""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kfp_notebook.authoring.literals import literal_value, same_value

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_BLOCKS = (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor)
_MISSING = object()


@dataclass(frozen=True)
class Statement:
    """One module-level statement of a cell and its text."""

    node: ast.stmt
    source: str

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)


@functools.lru_cache(maxsize=4096)
def parsed(source: str) -> tuple[ast.stmt, ...]:
    """The module-level statements of a cell, flattened through if/try/with/for/while blocks ('()' if invalid)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple(module_level(tree.body))


def module_level(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at module level, in textual order, including those inside blocks."""
    for node in body:
        yield node
        if isinstance(node, _BLOCKS):
            for part in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, part, []):
                    yield from module_level(child.body if isinstance(child, ast.ExceptHandler) else [child])


def binding(history: Sequence[str], name: str) -> Iterator[Statement]:
    """The notebook's module-level statements that bind (or may bind, `*` imports) `name`, latest first."""
    for source in reversed(history):
        index = _cell_index(source)
        found = sorted((*index.get(name, ()), *index.get("*", ())), key=lambda pair: pair[0], reverse=True)
        for _, node in found:
            yield Statement(node, source)


@functools.lru_cache(maxsize=4096)
def _cell_index(source: str) -> dict[str, tuple[tuple[int, ast.stmt], ...]]:
    """For one cell: each name its statements bind, with the statements' positions ('*' for star imports)."""
    index: dict[str, list[tuple[int, ast.stmt]]] = {}
    for position, node in enumerate(parsed(source)):
        if not isinstance(node, _BLOCKS):
            for name in _bound_names(node):
                index.setdefault(name, []).append((position, node))
    return {name: tuple(found) for name, found in index.items()}


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {"*" if alias.name == "*" else _bound_name(alias) for alias in node.names}
    return {n.id for n in _walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _SCOPES):
            yield from _walk(child)


def _bound_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def import_statement(history: Sequence[str], name: str, value: Any) -> str | None:
    """The latest import statement of the notebook that binds `name` to this very object, written for `name` alone."""
    for statement in binding(history, name):
        if isinstance(statement.node, (ast.Import, ast.ImportFrom)):
            for alias in statement.node.names:
                text = _import_text(statement.node, alias, name)
                if text is not None and imported_object(text, name) is value:
                    return text
    return None


def _import_text(node: ast.Import | ast.ImportFrom, alias: ast.alias, name: str) -> str | None:
    if isinstance(node, ast.Import):
        if _bound_name(alias) != name:
            return None
        return f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    if node.level or not node.module:
        return None
    if alias.name == "*":
        return f"from {node.module} import {name}"
    if _bound_name(alias) != name:
        return None
    return f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")


def imported_object(text: str, name: str) -> Any:
    """What the import statement `text` binds `name` to in this kernel (without importing anything new)."""
    tree = ast.parse(text).body[0]
    if isinstance(tree, ast.Import):
        alias = tree.names[0]
        return sys.modules.get(alias.name if alias.asname else alias.name.split(".")[0], _MISSING)
    assert isinstance(tree, ast.ImportFrom) and tree.module is not None
    original = tree.names[0].name if tree.names[0].name != "*" else name
    module = sys.modules.get(tree.module, _MISSING)
    found = getattr(module, original, _MISSING)
    return found if found is not _MISSING else sys.modules.get(f"{tree.module}.{original}", _MISSING)


def module_import(name: str, module: Any) -> str | None:
    """An import statement that binds `name` to this module object, when the module can be imported by name."""
    full = getattr(module, "__name__", None)
    if not isinstance(full, str) or sys.modules.get(full) is not module or full == "__main__" or not _findable(full):
        return None
    if name == full:
        return f"import {full}"
    parent, _, last = full.rpartition(".")
    if parent and name == last:
        return f"from {parent} import {last}"
    return f"import {full} as {name}"


def object_import(name: str, value: Any) -> str | None:
    """`from MODULE import QUALNAME [as name]` when that names this very object in an importable module."""
    module_name = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or "." in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None or module_name == "__main__" or getattr(module, qualname, _MISSING) is not value:
        return None
    if not _findable(module_name):
        return None
    return f"from {module_name} import {qualname}" + (f" as {name}" if name != qualname else "")


def _findable(module_name: str) -> bool:
    spec = getattr(sys.modules.get(module_name), "__spec__", None)
    if spec is not None:
        return True
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def literal_assignment(history: Sequence[str], name: str, value: Any) -> str | None:
    """`name = <literal>` from the notebook's latest literal assignment whose literal equals the value now.

    Looking back from the latest statement that binds `name`, literal assignments that do not match are
    passed over (another branch of an `if`, or an earlier value); any other binding means the value was
    computed, and nothing is carried.
    """
    for statement in binding(history, name):
        expression = _assigned_expression(statement.node, name)
        if expression is None:
            return None  # the latest binding that is not an assignment: the value was computed
        ok, literal = literal_value(expression)
        if not ok:
            return None
        if same_value(literal, value):
            return f"{name} = {statement.segment(expression)}"
    return None


def _assigned_expression(node: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return node.value if any(isinstance(t, ast.Name) and t.id == name for t in node.targets) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
        return node.value
    return None


def last_binding(history: Sequence[str], name: str) -> Statement | None:
    """The latest module-level statement of the notebook that binds `name`."""
    return next(binding(history, name), None)
