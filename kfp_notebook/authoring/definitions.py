"""Notebook functions and classes as module-level source, shipped only when that source made the object bound now."""

from __future__ import annotations

import ast
import dataclasses
import dis
import functools
import inspect
import linecache
import symtable
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kfp_notebook.authoring.bindings import last_binding
from kfp_notebook.authoring.defaults import ComputedDefault, pinned_attributes, pinned_defaults
from kfp_notebook.authoring.literals import is_literal, literal_value, same_value, stable_repr

#: Prefix of the factory functions that rebuild a closure at module level.
FACTORY_PREFIX = "_kfp_notebook_make_"


class Refused(Exception):
    """A notebook definition that cannot be shipped as it is in the kernel; the message says why."""


@dataclass(frozen=True)
class Definition:
    """Module-level source that defines the object; `binds` is the name it defines, `reads` the globals it reads."""

    source: str
    binds: str
    reads: frozenset[str]
    default_objects: tuple[tuple[str, Any], ...] = ()  # (name, object) a default must still be bound to

    @property
    def assigns(self) -> frozenset[str]:
        """Globals its functions declare `global` and assign (the kernel creates them on a call, so may the pod)."""
        return assigned_globals(symtable.symtable(self.source, "<carried>", "exec"))


def is_notebook_definition(value: Any) -> bool:
    """A function or class (possibly wrapped by decorators) defined in the notebook's cells."""
    target = unwrapped(value)
    if not isinstance(target, (types.FunctionType, type)):
        return False
    return getattr(target, "__module__", None) in ("__main__", None) or _in_cell(target)


def unwrapped(value: Any) -> Any:
    try:
        return inspect.unwrap(value) if callable(value) else value
    except ValueError:
        return value


def _in_cell(target: Any) -> bool:
    code = getattr(target, "__code__", None)
    return code is not None and (code.co_filename.startswith("<") or "ipykernel" in code.co_filename)


def definition(name: str, value: Any, history: Sequence[str] = ()) -> Definition:
    """The source that binds `name` to an equivalent of `value` at module level, or Refused."""
    target = unwrapped(value)
    if isinstance(target, type):
        return _class_definition(name, value, history)
    if target.__name__ == "<lambda>":
        return _lambda_definition(name, target)
    node, text = _located(target)
    if target is not value and (not node.decorator_list or node.name != name or _nested(target)):
        raise Refused(f"is a wrapped function that is not the plain decorated `def {name}` of a cell")
    try:
        text, objects = pinned_defaults(node, text, target)
    except ComputedDefault as computed:
        raise Refused(str(computed)) from None
    if _nested(target) or target.__closure__:
        found = _closure_definition(name, target, node, text)
    else:
        found = _plain(node, text)
    return dataclasses.replace(found, default_objects=tuple(sorted(objects.items())))


def _nested(target: Any) -> bool:
    return "<locals>" in target.__qualname__


def _plain(node: ast.FunctionDef | ast.ClassDef, text: str) -> Definition:
    source = statement_text(node, text)
    return Definition(source, node.name, module_reads(source))


def statement_text(node: ast.stmt, text: str) -> str:
    """The statement's lines, decorators included, dedented."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return textwrap.dedent("".join(text.splitlines(keepends=True)[first - 1 : node.end_lineno]))


def _located(target: types.FunctionType) -> tuple[ast.FunctionDef, str]:
    """The `def` statement that compiled to the function's code (its cell's text, as linecache keeps it)."""
    code = target.__code__
    text = "".join(linecache.getlines(code.co_filename))
    compiled = _compiled(text, code.co_filename).get((code.co_name, code.co_firstlineno))
    for node in _nodes(text, ast.FunctionDef):
        if node.name == code.co_name and _first_line(node) == code.co_firstlineno and same_code(compiled, code):
            return node, text
    raise Refused("is defined in the notebook, but the cell that defined it is gone or was edited; re-run its cell")


def _first_line(node: ast.FunctionDef | ast.ClassDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _nodes(text: str, kind: type[ast.AST]) -> list[Any]:
    return [n for n in _all_nodes(text) if isinstance(n, kind)]


@functools.lru_cache(maxsize=512)
def _all_nodes(text: str) -> tuple[ast.AST, ...]:
    try:
        return tuple(ast.walk(ast.parse(text)))
    except (SyntaxError, ValueError):
        return ()


@functools.lru_cache(maxsize=512)
def _compiled(text: str, filename: str) -> dict[tuple[str, int], types.CodeType]:
    """Every code object compiled from a cell's text, by (name, first line)."""
    found: dict[tuple[str, int], types.CodeType] = {}
    try:
        stack = [compile(text, filename, "exec", dont_inherit=True)]
    except (SyntaxError, ValueError):
        return found
    while stack:
        code = stack.pop()
        found.setdefault((code.co_name, code.co_firstlineno), code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


def same_code(a: types.CodeType | None, b: types.CodeType) -> bool:
    """The same instructions, names and constants (nested code compared the same way).

    Instructions are compared by what they do, not their bytes: the same text compiled along two paths
    (IPython's AST, our `compile`) may spell a method call LOAD_METHOD or LOAD_ATTR.
    """
    if a is None:
        return False
    fields = ("co_names", "co_varnames", "co_freevars", "co_cellvars", "co_argcount", "co_kwonlyargcount")
    if any(getattr(a, f) != getattr(b, f) for f in fields) or len(a.co_consts) != len(b.co_consts):
        return False
    if _instructions(a) != _instructions(b):
        return False
    return all(_same_constant(x, y) for x, y in zip(a.co_consts, b.co_consts, strict=True))


_SPELLING = {"LOAD_METHOD": "LOAD_ATTR", "CALL_METHOD": "CALL_FUNCTION"}
_LAYOUT = {"CACHE", "PUSH_NULL", "PRECALL", "NOP", "RESUME", "EXTENDED_ARG", "KW_NAMES"}


def _instructions(code: types.CodeType) -> list[tuple[str, Any]]:
    found = []
    for instruction in dis.get_instructions(code):
        if instruction.opname in _LAYOUT:
            continue
        argument = None if instruction.opcode in dis.hasjrel + dis.hasjabs else instruction.argval
        if isinstance(argument, types.CodeType):
            argument = argument.co_name
        found.append((_SPELLING.get(instruction.opname, instruction.opname), argument))
    return found


def _same_constant(x: Any, y: Any) -> bool:
    if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
        return same_code(x, y)
    return type(x) is type(y) and (x == y or repr(x) == repr(y))


def _lambda_definition(name: str, target: types.FunctionType) -> Definition:
    code = target.__code__
    text = "".join(linecache.getlines(code.co_filename))
    compiled = _compiled(text, code.co_filename).get(("<lambda>", code.co_firstlineno))
    if target.__closure__ or not same_code(compiled, code):
        raise Refused("is a lambda made inside a function or in a cell since edited; define it with `def` at the top")
    candidates = [n for n in _nodes(text, ast.Lambda) if n.lineno == code.co_firstlineno]
    if len(candidates) != 1:
        raise Refused("is one of several lambdas on one line; define it with `def`")
    expression = ast.get_source_segment(text, candidates[0]) or ast.unparse(candidates[0])
    source = f"{name} = {expression}\n"
    return Definition(source, name, module_reads(source))


def _closure_definition(name: str, target: types.FunctionType, node: ast.FunctionDef, text: str) -> Definition:
    """A nested function rebuilt by a module-level factory that binds its closure's values as literals."""
    if node.decorator_list:
        raise Refused("is a decorated function made inside another function; define it at the top of a cell")
    lines = []
    for variable, cell in zip(target.__code__.co_freevars, target.__closure__ or (), strict=True):
        lines.append(_closure_line(name, variable, cell, target))
    factory = f"{FACTORY_PREFIX}{name}"
    body = "".join(lines) + statement_text(node, text) + f"return {node.name}\n"
    source = f"def {factory}():\n{textwrap.indent(body, '    ')}\n{name} = {factory}()\n"
    return Definition(source, name, module_reads(source) - {factory})


def _closure_line(name: str, variable: str, cell: Any, target: Any) -> str:
    try:
        value = cell.cell_contents
    except ValueError:
        raise Refused(f"is a closure over {variable!r}, which has no value") from None
    if value is target:
        return ""
    if not is_literal(value):
        raise Refused(
            f"is a closure over {variable!r} = a {type(value).__name__}, which cannot be written as a literal; "
            f"pass {variable!r} as an argument instead"
        )
    return f"{variable} = {stable_repr(value)}\n"


def _class_definition(name: str, value: Any, history: Sequence[str]) -> Definition:
    if value is not unwrapped(value) or "<locals>" in value.__qualname__:
        raise Refused("is a class made inside a function or wrapped; define it at the top of a cell")
    node, text = _class_located(value) or _class_without_methods(value, history)
    _check_class_body(value, node, text)
    try:
        pinned, objects = pinned_attributes(node, text, value)
    except ComputedDefault as computed:
        raise Refused(str(computed)) from None
    return dataclasses.replace(_plain(node, pinned), default_objects=tuple(sorted(objects.items())))


def _class_without_methods(cls: type, history: Sequence[str]) -> tuple[ast.ClassDef, str]:
    """A class with no methods is found as the notebook's latest statement binding its name."""
    found = last_binding(history, cls.__name__)
    if found is None or not isinstance(found.node, ast.ClassDef) or _has_methods(found.node):
        raise Refused("is a class whose defining cell cannot be found; re-run its cell")
    return found.node, found.source


def _has_methods(node: ast.ClassDef) -> bool:
    return any(isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) for child in node.body)


def _class_located(cls: type) -> tuple[ast.ClassDef, str] | None:
    for member in vars(cls).values():
        code = getattr(_function_of(member), "__code__", None)
        if code is None:
            continue
        text = "".join(linecache.getlines(code.co_filename))
        for node in _nodes(text, ast.ClassDef):
            if node.name == cls.__name__ and node.lineno <= code.co_firstlineno <= (node.end_lineno or 0):
                return node, text
    return None


def _function_of(member: Any) -> Any:
    """The function a class member was made from (static/class methods, properties, cached properties, wrappers)."""
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    elif isinstance(member, property):
        member = member.fget
    return unwrapped(getattr(member, "func", member))


def _check_class_body(cls: type, node: ast.ClassDef, text: str) -> None:
    """Every method and literal attribute the class statement defines is still what the class holds."""
    compiled = None
    for child in node.body:
        if isinstance(child, ast.FunctionDef):
            code = getattr(_function_of(vars(cls).get(child.name)), "__code__", None)
            compiled = compiled or _compiled(text, code.co_filename if code else "")
            if code is None or not same_code(compiled.get((code.co_name, code.co_firstlineno)), code):
                raise Refused(f"is a class whose method {child.name!r} was replaced since its cell ran; re-run it")
        elif _plain_attribute(cls, child):
            assert isinstance(child, ast.Assign) and isinstance(child.targets[0], ast.Name)
            _check_attribute(cls, child.targets[0].id, child.value)


def _plain_attribute(cls: type, node: ast.stmt) -> bool:
    """`NAME = value` in the body of a plain class (an Enum's metaclass turns such lines into members)."""
    single = isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    return single and type(cls) is type


def _check_attribute(cls: type, attribute: str, expression: ast.expr) -> None:
    ok, literal = literal_value(expression)
    if ok and not same_value(literal, vars(cls).get(attribute)):
        raise Refused(f"is a class whose attribute {attribute!r} was changed since its cell ran; re-run it")


def module_reads(source: str) -> frozenset[str]:
    """Global names the module-level source reads that it does not define itself."""
    table = symtable.symtable(source, "<carried>", "exec")
    top = table.get_symbols()
    bound = {s.get_name() for s in top if s.is_assigned() or s.is_imported() or s.is_namespace()}
    read = {s.get_name() for s in top if s.is_referenced()}
    for child in table.get_children():
        read |= _globals_in(child)
    return frozenset(read - bound)


def assigned_globals(table: symtable.SymbolTable) -> frozenset[str]:
    """Names that nested scopes declare `global` and assign."""
    found = {s.get_name() for s in table.get_symbols() if s.is_declared_global() and s.is_assigned()}
    for child in table.get_children():
        found |= assigned_globals(child)
    return frozenset(found)


def _globals_in(table: symtable.SymbolTable) -> set[str]:
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    for child in table.get_children():
        found |= _globals_in(child)
    return found
