"""What a component function reads from the notebook: what to carry (provably what the kernel holds) or refuse."""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import itertools
import re
import symtable
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.authoring import bindings
from kfp_notebook.authoring.definitions import Refused, assigned_globals, definition, is_notebook_definition, unwrapped
from kfp_notebook.authoring.literals import LITERAL_LIMIT, is_literal, same_value, stable_repr
from kfp_notebook.kfp_compat import GENERATED_PREAMBLE


@dataclass
class NotebookContext:
    """What a component is resolved against: the notebook's namespace and its cells' sources (oldest first).

    `later` gives the context again, brought up to date, for rebuilding a component after the notebook changed.
    """

    namespace: Mapping[str, Any]
    history: list[str] = field(default_factory=list)
    later: Callable[[], NotebookContext] | None = None


@dataclass(frozen=True)
class Problem:
    """A name the function reads that cannot be shipped as the kernel holds it."""

    name: str
    reason: str
    via: str | None = None  # the helper through which the name is read, if not the function itself
    kind: str = "other"  # "variable": make it a parameter or a literal; "computed": also --freeze


@dataclass
class Needs:
    """Everything to carry into the shipped program, in the order it must be defined, and what it was."""

    imports: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    helpers: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    kernel: dict[str, Any] = field(default_factory=dict)  # name -> the kernel's object (a copy for values)
    frozen: dict[str, int] = field(default_factory=dict)  # name -> size in bytes of its frozen text
    aliases: set[str] = field(default_factory=set)  # helpers carried as `name = original`
    history: list[str] = field(default_factory=list)  # the cells they were resolved against

    def carried_source(self) -> str:
        """Module-level source of what is carried: imports, constants, then helpers (dependencies first)."""
        blocks = ["\n".join(self.imports.values()), "\n".join(self.constants.values()), *self.helpers.values()]
        return "\n".join(block.rstrip("\n") + "\n" for block in blocks if block)

    def carried_names(self) -> list[str]:
        return sorted(self.kernel)

    def changed(self, namespace: Mapping[str, Any]) -> list[str]:
        """Carried names whose kernel value is no longer what was carried (a helper: no longer its source)."""
        return [name for name in sorted(self.kernel) if not self._unchanged(name, namespace)]

    def _unchanged(self, name: str, namespace: Mapping[str, Any]) -> bool:
        if name not in namespace:
            return False
        now = namespace[name]
        if name in self.constants:
            return same_value(now, self.kernel[name])
        if now is not self.kernel[name]:
            return False
        return name not in self.helpers or name in self.aliases or self._same_definition(name, now)

    def _same_definition(self, name: str, value: Any) -> bool:
        """The same object can change: a class attribute set, a method replaced, a closure's value moved on."""
        try:
            return definition(name, value, self.history).source == self.helpers[name]
        except Refused:
            return False


@functools.lru_cache(maxsize=1)
def container_namespace() -> dict[str, Any]:
    """What the component's module holds before the function: kfp's generated imports (and builtins)."""
    namespace: dict[str, Any] = {}
    exec(GENERATED_PREAMBLE, namespace)
    return {**vars(builtins), **namespace}


def container_names() -> frozenset[str]:
    """Names the component's module has before the function."""
    return frozenset(container_namespace())


_MISSING = object()


class Resolver:
    """Resolves the global names of a function (and of what it carries) against the notebook."""

    def __init__(self, context: NotebookContext, freeze: Iterable[str] = ()):
        self.namespace = context.namespace
        self.history = context.history
        self.freeze = set(freeze)
        self.assigned: set[str] = set()  # globals a shipped function assigns: read from the notebook only if there
        self.needs = Needs()
        self.needs.history = list(self.history)
        self._visiting: set[str] = set()

    def resolve_all(self, names: Iterable[str], via: str | None = None) -> Needs:
        for name in sorted(names):
            self.resolve(name, via)
        return self.needs

    def resolve(self, name: str, via: str | None) -> None:
        if name in self.needs.kernel or name in self._visiting:
            return
        if name not in self.namespace:
            if name not in container_namespace() and name not in self.assigned:
                self._problem(name, "is not defined in the notebook", via)
            return
        value = self.namespace[name]
        if container_namespace().get(name, _MISSING) is value or _ipython_builtin(name, value):
            return
        self._resolve_value(name, value, via)

    def _resolve_value(self, name: str, value: Any, via: str | None) -> None:
        if name in self.freeze:
            return self._freeze(name, value, via)
        statement = bindings.import_statement(self.history, name, value)
        if statement is None and isinstance(value, types.ModuleType):
            statement = bindings.module_import(name, value)
        if statement is not None:
            return self._carry(name, value, self.needs.imports, statement)
        if _is_component(value):
            return self._problem(name, "is a component; call it in a %%pipeline cell, not inside a component", via)
        if is_notebook_definition(value):
            return self._carry_definition(name, value, via)
        if is_literal(value):
            return self._carry_literal(name, value, via)
        statement = bindings.object_import(name, value)
        if statement is not None:
            return self._carry(name, value, self.needs.imports, statement)
        self._variable(name, value, via)

    def _carry(self, name: str, value: Any, where: dict[str, str], text: str) -> None:
        where[name] = text
        self.needs.kernel[name] = value

    def _problem(self, name: str, reason: str, via: str | None, kind: str = "other") -> None:
        self.needs.problems.append(Problem(name, reason, via, kind))

    def _variable(self, name: str, value: Any, via: str | None) -> None:
        reason = f"is a notebook variable (of type {type(value).__name__}) that the container does not have"
        self._problem(name, reason, via, "variable")

    def _carry_literal(self, name: str, value: Any, via: str | None) -> None:
        if _looks_secret(name, value):
            return self._problem(name, _SECRET_REASON, via)
        text = bindings.literal_assignment(self.history, name, value)
        if text is None:
            kind = type(value).__name__
            reason = f"is a value computed in the notebook (of type {kind}), not a literal written there"
            return self._problem(name, reason, via, "computed")
        if len(text.encode("utf-8")) > LITERAL_LIMIT:
            size = len(text.encode("utf-8")) // 1024
            reason = f"is a literal of {size} KB, above the {LITERAL_LIMIT // 1024} KB a component carries"
            return self._problem(name, reason, via, "computed")
        self._carry(name, copy.deepcopy(value), self.needs.constants, text)

    def _freeze(self, name: str, value: Any, via: str | None) -> None:
        if _looks_secret(name, value):
            return self._problem(name, _SECRET_REASON, via)
        if not is_literal(value):
            reason = f"cannot be frozen: a {type(value).__name__} is not written as a literal (numbers, str, lists...)"
            return self._problem(name, reason, via)
        text = f"{name} = {stable_repr(value)}"
        self.needs.frozen[name] = len(text.encode("utf-8"))
        self._carry(name, copy.deepcopy(value), self.needs.constants, text)

    def _carry_definition(self, name: str, value: Any, via: str | None) -> None:
        try:
            found = definition(name, value, self.history)
        except Refused as refused:
            return self._problem(name, str(refused), via)
        if found.binds != name:
            return self._carry_alias(name, value, found.binds, via)
        self._visiting.add(name)
        self.assigned |= found.assigns
        self.resolve_all(found.reads - {name}, via=name)
        self._visiting.discard(name)
        for default, obj in found.default_objects:
            if self.namespace.get(default, container_namespace().get(default, _MISSING)) is not obj:
                reason = f"was defined with {default!r}, which the notebook has since rebound; re-run its cell"
                return self._problem(name, reason, via)
        self._carry(name, value, self.needs.helpers, found.source)

    def _carry_alias(self, name: str, value: Any, original: str, via: str | None) -> None:
        if self.namespace.get(original, _MISSING) is not value:
            reason = f"is another name for {original}, which the notebook has since redefined; re-run its cell"
            return self._problem(name, reason, via)
        self.resolve(original, via)
        if original in self.needs.helpers:
            self._carry(name, value, self.needs.helpers, f"{name} = {original}\n")
            self.needs.aliases.add(name)


_SECRET_WORDS = {"password", "passwd", "pwd", "secret", "token", "apikey", "credential", "credentials"}
_SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key")}
_SECRET_REASON = (
    "looks like a secret, and carried constants are written into the pipeline YAML; keep it in a Kubernetes "
    "Secret and read it in the component: %%component --secret SECRET:KEY=ENVVAR, then os.environ['ENVVAR']"
)


def _looks_secret(name: str, value: Any) -> bool:
    """A non-empty text named like a credential (DB_PASSWORD, githubToken, API_KEY; not TOKENIZER)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().split("_")
    named = bool(_SECRET_WORDS & set(words)) or any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))
    return named and isinstance(value, (str, bytes)) and bool(value)


def _ipython_builtin(name: str, value: Any) -> bool:
    """IPython's stand-ins for builtins in the namespace (its `open` wraps `io.open`): the container has the builtin."""
    return name in vars(builtins) and unwrapped(value) is vars(builtins)[name]


def _is_component(value: Any) -> bool:
    return hasattr(value, "component_spec") and hasattr(value, "pipeline_spec")


def first_use_lines(node: ast.AST, names: Iterable[str]) -> dict[str, int]:
    """The first line (in the node's coordinates) where each name is read."""
    wanted = set(names)
    lines: dict[str, int] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in wanted:
            lines[child.id] = min(lines.get(child.id, child.lineno), child.lineno)
    return lines


def resolve_function(
    source: str, name: str, context: NotebookContext, freeze: Iterable[str] = (), signature: Iterable[str] = ()
) -> Needs:
    """Everything the function `name` (defined in `source`) needs from the notebook, and what it cannot have.

    `signature` names what its annotations read: the container evaluates them when it defines the function.
    """
    resolver = Resolver(context, freeze)
    function = _function_table(source, name)
    if function is None:
        return resolver.needs
    resolver.assigned |= assigned_globals(function)
    return resolver.resolve_all(_globals_in(function) | set(signature))


def _function_table(source: str, name: str) -> symtable.SymbolTable | None:
    table = symtable.symtable(source, "<source>", "exec")
    return next((c for c in table.get_children() if c.get_name() == name and c.get_type() == "function"), None)


def _globals_in(table: symtable.SymbolTable) -> set[str]:
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    for child in table.get_children():
        found |= _globals_in(child)
    return found
