"""Cell text → parsed code, the function it defines, and a guarded run in the notebook namespace."""

from __future__ import annotations

import ast
import itertools
import linecache
import re
import traceback
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from kfp_notebook.errors import CellError

#: A cell's body starts on the line after the `%%magic` line; errors count lines as the notebook shows them.
BODY_TO_CELL_LINE = 1

_counter = itertools.count(1)
E = TypeVar("E", bound=CellError)
_MAGIC_LINE = re.compile(r"^\s*([A-Za-z_]\w*\s*=\s*)?(!|%%?\w)")


@dataclass(frozen=True)
class Cell:
    """The body of a `%%component` or `%%pipeline` cell, parsed, under a filename linecache knows."""

    text: str
    tree: ast.Module
    filename: str
    magic: str

    def cell_line(self, body_line: int) -> int:
        """The line number the user sees in the notebook for a line of the body."""
        return body_line + BODY_TO_CELL_LINE

    def code_at(self, body_line: int) -> str:
        lines = self.text.splitlines()
        return lines[body_line - 1] if 0 < body_line <= len(lines) else ""

    def error(self, kind: type[E], message: str, body_line: int | None) -> E:
        """An error of `kind` that points at `body_line` of this cell."""
        if body_line is None:
            return kind(message)
        return kind(message, line=self.cell_line(body_line), code=self.code_at(body_line))


def parse_cell(text: str, magic: str, error: type[CellError]) -> Cell:
    """Parse a cell body; syntax errors and IPython-only lines become `error` with the cell line."""
    filename = f"<{magic}-cell-{next(_counter)}>"
    if not text.endswith("\n"):
        text += "\n"  # as IPython stores a cell: the function's source then matches a decorated one's
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise _syntax_error(text, magic, exc, error) from None
    return Cell(text=text, tree=tree, filename=filename, magic=magic)


def _syntax_error(text: str, magic: str, exc: SyntaxError, error: type[CellError]) -> CellError:
    lines = text.splitlines()
    line = exc.lineno or 1
    code = lines[line - 1] if 0 < line <= len(lines) else ""
    for number, candidate in enumerate(lines, start=1):
        if _MAGIC_LINE.match(candidate):
            return _magic_line_error(magic, number, candidate, error)
    return error(f"syntax error: {exc.msg}", line=line + BODY_TO_CELL_LINE, code=code)


def _magic_line_error(magic: str, line: int, code: str, error: type[CellError]) -> CellError:
    message = (
        f"shell commands (!cmd) and magics (%magic) cannot be part of a {magic} cell: "
        "they would ship as get_ipython() calls that fail outside the notebook. "
        "Use --packages for `!pip install`, `subprocess.run([...])` for commands, "
        "and put other magics in their own cell."
    )
    return error(message, line=line + BODY_TO_CELL_LINE, code=code)


def top_level_functions(cell: Cell) -> list[ast.FunctionDef]:
    """The functions a cell defines at its top level, in order."""
    return [node for node in cell.tree.body if isinstance(node, ast.FunctionDef)]


def pick_function(
    cell: Cell, name: str | None, error: type[CellError], what: str, rename_single: bool = False
) -> ast.FunctionDef:
    """The function named `name`, or the only top-level function of the cell (which `name` renames, if allowed)."""
    functions = top_level_functions(cell)
    if not functions:
        async_defs = [n for n in cell.tree.body if isinstance(n, ast.AsyncFunctionDef)]
        if async_defs:
            node = async_defs[0]
            raise cell.error(error, f"{node.name} is `async def`; a {what} must be a plain `def` function", node.lineno)
        raise error(f"the cell defines no function: write `def my_{what}(...):` in the {cell.magic} cell")
    if name is not None and not (rename_single and len(functions) == 1):
        return _named_function(cell, functions, name, error, what)
    if len(functions) > 1:
        names = ", ".join(f.name for f in functions)
        raise error(
            f"the cell defines several functions ({names}); choose the {what} with --name, "
            f"for example `{cell.magic} --name {functions[0].name}`"
        )
    return functions[0]


def _named_function(
    cell: Cell, functions: list[ast.FunctionDef], name: str, error: type[CellError], what: str
) -> ast.FunctionDef:
    for function in functions:
        if function.name == name:
            return function
    names = ", ".join(f.name for f in functions)
    raise error(f"--name {name!r} names no function of the cell (functions here: {names})")


def check_plain_def(cell: Cell, node: ast.FunctionDef, error: type[CellError], what: str) -> None:
    """Refuse decorators and a missing type annotation on any parameter."""
    if node.decorator_list:
        raise cell.error(
            error,
            f"remove the decorator from {node.name}: the {cell.magic} magic makes the {what} itself",
            node.decorator_list[0].lineno,
        )
    args = node.args
    if args.vararg or args.kwarg:
        star = args.vararg or args.kwarg
        assert star is not None
        raise cell.error(
            error, f"*{star.arg} / **{star.arg} parameters cannot be {what} inputs; name each one", star.lineno
        )
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", arg.arg):
            raise cell.error(
                error,
                f"parameter {arg.arg!r} of {node.name}: kfp accepts only ASCII letters, digits and '_' in input "
                "names, starting with a letter; rename it (for example `name`, `value_1`)",
                arg.lineno,
            )
        if arg.annotation is None:
            raise cell.error(
                error,
                f"parameter {arg.arg!r} of {node.name} has no type annotation; kfp needs one "
                f"(for example `{arg.arg}: int`, `{arg.arg}: str`, `{arg.arg}: Input[Dataset]`)",
                arg.lineno,
            )


def register_source(cell: Cell) -> None:
    """Make the cell's text visible to `inspect.getsource` (how kfp reads a component's code)."""
    register_text(cell.filename, cell.text)


def register_text(filename: str, text: str) -> None:
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)


def run_cell(cell: Cell, namespace: dict[str, Any], error: type[CellError]) -> None:
    """Execute the cell in the namespace; an exception becomes `error` pointing at its line."""
    register_source(cell)
    try:
        code = compile(cell.tree, cell.filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # errors only the compiler sees, such as `return` outside a function
        raise _syntax_error(cell.text, cell.magic, exc, error) from None
    try:
        exec(code, namespace)
    except Exception as exc:
        line = failing_line(exc, cell.filename)
        raise cell.error(error, f"{type(exc).__name__}: {exc}{_import_hint(exc)}", line) from exc


def _import_hint(exc: Exception) -> str:
    """For a kfp name used without its import, the import to add."""
    if not isinstance(exc, NameError):
        return ""
    match = re.search(r"name '(\w+)' is not defined", str(exc))
    name = getattr(exc, "name", None) or (match.group(1) if match else None)
    if name == "dsl":
        return " (add `from kfp import dsl` in an earlier cell)"
    if name in KFP_DSL_NAMES:
        return f" (add `from kfp.dsl import {name}` in an earlier cell)"
    return ""


#: Names a component's container gets from `from kfp.dsl import *`, often used without an import.
KFP_DSL_NAMES = frozenset(
    {
        *("Input", "Output", "InputPath", "OutputPath", "PipelineTaskFinalStatus"),
        *("Artifact", "Dataset", "Model", "Metrics", "ClassificationMetrics", "SlicedClassificationMetrics"),
        *("HTML", "Markdown"),
    }
)


def failing_line(exc: BaseException, filename: str) -> int | None:
    """The innermost line of `filename` in the exception's traceback, if any."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


@contextmanager
def namespace_transaction(namespace: MutableMapping[str, Any]) -> Iterator[None]:
    """Undo every change to the namespace's names if the block fails (nothing half-defined)."""
    before = dict(namespace)
    try:
        yield
    except BaseException:
        _restore(namespace, before)
        raise


def _restore(namespace: MutableMapping[str, Any], before: dict[str, Any]) -> None:
    for name in [n for n in namespace if n not in before]:
        del namespace[name]
    for name, value in before.items():
        if namespace.get(name, _MISSING) is not value:
            namespace[name] = value


_MISSING = object()
