"""What a component function needs from the notebook: imports, helpers and constants to carry, names to refuse."""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import linecache
import symtable
import sys
import textwrap
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.kfp_compat import GENERATED_PREAMBLE

#: Literal types a module-level constant may be made of to be carried as `NAME = <repr>`.
_LITERAL_TYPES = (int, float, complex, str, bytes, bool, type(None))


@dataclass
class NotebookContext:
    """What a component is resolved against: the notebook's namespace, its imports and its cells' sources."""

    namespace: Mapping[str, Any]
    imports: ImportIndex = field(default_factory=lambda: ImportIndex())
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """A name the function reads that cannot exist in the component's container."""

    name: str
    reason: str
    via: str | None = None  # the helper through which the name is read, if not the function itself


@dataclass
class Needs:
    """Everything to carry into the shipped function, in the order it must be defined."""

    imports: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    helpers: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def carried_source(self) -> str:
        """Module-level source of what is carried: imports, constants, then helpers (dependencies first)."""
        blocks = ["\n".join(self.imports.values()), "\n".join(self.constants.values()), *self.helpers.values()]
        return "\n".join(block.rstrip("\n") + "\n" for block in blocks if block)


class ImportIndex:
    """The import statements a notebook ran, by the name each binds (the latest wins)."""

    def __init__(self) -> None:
        self.statements: dict[str, str] = {}

    def add_source(self, source: str) -> None:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return
        for node in _module_level(tree.body):
            self._add(node)

    def _add(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                self.statements[bound] = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    suffix = f" as {alias.asname}" if alias.asname else ""
                    self.statements[alias.asname or alias.name] = f"from {node.module} import {alias.name}{suffix}"


def _module_level(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Statements run at module level, including those inside if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, part, []):
                    yield from _module_level(child.body if isinstance(child, ast.ExceptHandler) else [child])


def global_names(source: str, name: str) -> set[str]:
    """Names the definition `name` in `source` reads from module scope (body, nested scopes, class bases)."""
    table = symtable.symtable(source, "<source>", "exec")
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    for child in table.get_children():
        if child.get_name() == name:
            names |= _globals_in(child)
    names.discard(name)
    return names


def _globals_in(table: symtable.SymbolTable) -> set[str]:
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    for child in table.get_children():
        found |= _globals_in(child)
    return found


@functools.lru_cache(maxsize=1)
def container_namespace() -> dict[str, Any]:
    """What the component's module holds before the function: kfp's generated imports (and builtins)."""
    namespace: dict[str, Any] = {}
    exec(GENERATED_PREAMBLE, namespace)
    return {**vars(builtins), **namespace}


def container_names() -> frozenset[str]:
    """Names the component's module has before the function."""
    return frozenset(container_namespace())


class Resolver:
    """Resolves the global names of a function (and of the helpers it calls) against the notebook."""

    def __init__(self, namespace: Mapping[str, Any], imports: ImportIndex, history: list[str]):
        self.namespace = namespace
        self.imports = imports
        self.history = history
        self.available = container_names()
        self.needs = Needs()
        self._visiting: set[str] = set()

    def resolve_all(self, names: Iterable[str], via: str | None = None) -> Needs:
        for name in sorted(names):
            self.resolve(name, via)
        return self.needs

    def resolve(self, name: str, via: str | None) -> None:
        if name in self.needs.imports or name in self.needs.constants or name in self.needs.helpers:
            return
        if name not in self.namespace:
            if name not in self.available:
                self._problem(name, "is not defined in the notebook", via)
            return
        self._resolve_value(name, self.namespace[name], via)

    def _resolve_value(self, name: str, value: Any, via: str | None) -> None:
        statement = self.imports.statements.get(name)
        if container_namespace().get(name, _MISSING) is value:
            return
        if statement is not None and _statement_binds(statement, value):
            self.needs.imports[name] = statement
        elif isinstance(value, types.ModuleType):
            self.needs.imports[name] = _module_import(name, value)
        elif _is_component(value):
            self._problem(name, "is a component; call it in a %%pipeline cell, not inside a component", via)
        elif _defined_in_notebook(value):
            self._carry_helper(name, value, via)
        elif is_literal(value):
            self.needs.constants[name] = f"{name} = {value!r}"
        elif _importable(name, value):
            self.needs.imports[name] = f"from {value.__module__} import {value.__qualname__}" + (
                f" as {name}" if name != value.__qualname__ else ""
            )
        elif name not in self.available:
            kind = type(value).__name__
            self._problem(name, f"is a notebook variable (of type {kind}) that the container does not have", via)

    def _problem(self, name: str, reason: str, via: str | None) -> None:
        self.needs.problems.append(Problem(name, reason, via))

    def _carry_helper(self, name: str, value: Any, via: str | None) -> None:
        if name in self._visiting:
            return
        source = definition_source(value, self.history)
        if source is None:
            self._problem(name, "is defined in the notebook but its source cannot be found; re-run its cell", via)
            return
        self._visiting.add(name)
        self.resolve_all(global_names(source, value.__name__) - {name}, via=name)
        self._visiting.discard(name)
        self.needs.helpers[name] = source if value.__name__ == name else f"{source}\n{name} = {value.__name__}\n"


_MISSING = object()


def _statement_binds(statement: str, value: Any) -> bool:
    """Whether the name still holds what its import statement bound (it may have been reassigned since)."""
    if statement.startswith("import "):
        return isinstance(value, types.ModuleType)
    module_name, _, imported = statement[len("from ") :].partition(" import ")
    module = sys.modules.get(module_name)
    original = imported.split(" as ")[0]
    return module is None or getattr(module, original, value) is value or isinstance(value, types.ModuleType)


def is_literal(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, bytes, booleans, None, and tuples/lists/sets/dicts of those (as written by repr)."""
    if depth > 20:
        return False
    if isinstance(value, _LITERAL_TYPES):
        return type(value) in _LITERAL_TYPES and _repr_round_trips(value)
    if type(value) in (tuple, list, set, frozenset):
        return type(value) is not frozenset and all(is_literal(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_literal(k, depth + 1) and is_literal(v, depth + 1) for k, v in value.items())
    return False


def _repr_round_trips(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value or value != value  # NaN is not equal to itself
    except (ValueError, SyntaxError):
        return False


def _module_import(name: str, module: types.ModuleType) -> str:
    full = module.__name__
    if name == full:
        return f"import {full}"
    if "." in full and name == full.rsplit(".", 1)[1]:
        return f"from {full.rsplit('.', 1)[0]} import {name}"
    return f"import {full} as {name}"


def _is_component(value: Any) -> bool:
    return hasattr(value, "component_spec") and hasattr(value, "pipeline_spec")


def _defined_in_notebook(value: Any) -> bool:
    if not isinstance(value, (types.FunctionType, type)):
        return False
    unwrapped = inspect.unwrap(value) if callable(value) else value
    return getattr(unwrapped, "__module__", None) in ("__main__", None) or _cell_file(unwrapped)


def _cell_file(value: Any) -> bool:
    code = getattr(value, "__code__", None)
    return code is not None and (code.co_filename.startswith("<") or "ipykernel" in code.co_filename)


def _importable(name: str, value: Any) -> bool:
    module = sys.modules.get(getattr(value, "__module__", "") or "")
    qualname = getattr(value, "__qualname__", "")
    return module is not None and "." not in qualname and getattr(module, qualname, _MISSING) is value


def definition_source(value: Any, history: list[str]) -> str | None:
    """The current source of a notebook function or class (dedented), or None when it cannot be found."""
    target = inspect.unwrap(value) if isinstance(value, types.FunctionType) else value
    if isinstance(target, types.FunctionType):
        try:
            return textwrap.dedent(inspect.getsource(target))
        except (OSError, TypeError):
            return _source_from_history(target.__name__, history, ast.FunctionDef)
    return _class_source(target) or _source_from_history(target.__name__, history, ast.ClassDef)


def _class_source(cls: type) -> str | None:
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        code = getattr(function, "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        found = _definition_in("".join(lines), cls.__name__, ast.ClassDef, code.co_firstlineno)
        if found:
            return found
    return None


def _source_from_history(name: str, history: list[str], kind: type[ast.stmt]) -> str | None:
    for source in reversed(history):
        found = _definition_in(source, name, kind, None)
        if found:
            return found
    return None


def _definition_in(source: str, name: str, kind: type[ast.stmt], containing_line: int | None) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in reversed(tree.body):
        if isinstance(node, kind) and getattr(node, "name", None) == name:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            if containing_line is None or first <= containing_line <= (node.end_lineno or node.lineno):
                lines = source.splitlines(keepends=True)[first - 1 : node.end_lineno]
                return textwrap.dedent("".join(lines))
    return None


def first_use_lines(node: ast.AST, names: Iterable[str]) -> dict[str, int]:
    """The first line (in the node's coordinates) where each name is read."""
    wanted = set(names)
    lines: dict[str, int] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in wanted:
            lines[child.id] = min(lines.get(child.id, child.lineno), child.lineno)
    return lines


def resolve_function(
    source: str, name: str, namespace: Mapping[str, Any], imports: ImportIndex, history: list[str]
) -> Needs:
    """Everything the function `name` (defined in `source`) needs from the notebook, and what it cannot have."""
    resolver = Resolver(namespace, imports, history)
    return resolver.resolve_all(global_names_of_function(source, name))


def global_names_of_function(source: str, name: str) -> set[str]:
    """Names the function's body reads from module scope (not its signature, which kfp evaluates itself)."""
    table = symtable.symtable(source, "<source>", "exec")
    for child in table.get_children():
        if child.get_name() == name and child.get_type() == "function":
            return _globals_in(child)
    return set()


def function_locals(source: str, name: str) -> set[str]:
    """The function's own names: its parameters and the variables its body assigns."""
    table = symtable.symtable(source, "<source>", "exec")
    for child in table.get_children():
        if child.get_name() == name and child.get_type() == "function":
            return {s.get_name() for s in child.get_symbols() if s.is_local() or s.is_parameter()}
    return set()
