"""Cell function + options → a kfp component whose tasks carry the component's defaults."""

from __future__ import annotations

import ast
import contextvars
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kfp.dsl.python_component import PythonComponent

from kfp_notebook import kfp_compat
from kfp_notebook.authoring.cells import Cell
from kfp_notebook.authoring.dependencies import Needs, NotebookContext, Problem, first_use_lines, resolve_function
from kfp_notebook.authoring.options import ComponentOptions, TaskDefaults
from kfp_notebook.authoring.packages import (
    Requirement,
    checks_packages,
    imported_modules,
    local_module_file,
    missing,
    third_party,
)
from kfp_notebook.authoring.sources import ShippedFunction, shipped_function, with_carried
from kfp_notebook.authoring.task_defaults import apply_task_defaults
from kfp_notebook.errors import ComponentError, StaleComponentError

#: Components called while a pipeline is being built (so a pipeline knows what it uses).
components_in_use: contextvars.ContextVar[list[NotebookComponent] | None] = contextvars.ContextVar(
    "components_in_use", default=None
)


@dataclass(frozen=True)
class ComponentConfig:
    """Kernel-wide defaults for components (set with `%config KfpMagics.…`)."""

    base_image: str | None = None
    pip_index_urls: tuple[str, ...] = ()


class NotebookComponent(PythonComponent):
    """A kfp component made from a notebook cell; every task made from it gets the cell's defaults."""

    def __init__(
        self,
        kfp_component: PythonComponent,
        python_func: Callable[..., Any],
        options: ComponentOptions,
        packages: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
        needs: Needs | None = None,
    ):
        super().__init__(component_spec=kfp_component.component_spec, python_func=python_func)
        self.options = options
        self.packages = packages
        self.warnings = warnings
        self.needs = needs or Needs()
        self.namespace: Mapping[str, Any] | None = None
        self.rebuild: Callable[[], NotebookComponent] | None = None
        self.defaults: TaskDefaults = options.defaults
        self.__doc__ = python_func.__doc__
        self.__wrapped__ = python_func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task = super().__call__(**self._keywords(args, kwargs))
        if kfp_compat.building_pipeline():
            apply_task_defaults(task, self.defaults)
            used = components_in_use.get()
            if used is not None:
                used.append(self)
        return task

    def _keywords(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional arguments (as KFP v1 allowed) bound to the inputs in signature order."""
        if not args:
            return kwargs
        inputs = [name for name in inspect.signature(self.python_func).parameters if name in self.component_spec.inputs]
        if len(args) > len(inputs):
            raise TypeError(
                f"{self.name}() takes {len(inputs)} inputs ({', '.join(inputs)}) but {len(args)} were given"
            )
        bound = dict(zip(inputs, args, strict=False))
        twice = sorted(set(bound) & set(kwargs))
        if twice:
            raise TypeError(f"{self.name}() got several values for {', '.join(twice)}")
        return {**bound, **kwargs}

    @property
    def image(self) -> str:
        return self.component_spec.implementation.container.image

    def stale(self) -> list[str]:
        """Names it carries whose value in the kernel changed since it was built."""
        return self.needs.changed(self.namespace) if self.namespace is not None else []

    def current(self) -> NotebookComponent:
        """This component, or one rebuilt from its cell's text when what it carries changed (StaleComponentError
        when the rebuilt cell would not be sound)."""
        changed = self.stale()
        if not changed:
            return self
        try:
            if self.rebuild is None:
                raise ComponentError("its cell cannot be read again")
            return self.rebuild()
        except ComponentError as exc:
            raise StaleComponentError(_stale_message(self.name, changed, str(exc))) from None


def build_component(
    cell: Cell,
    node: ast.FunctionDef,
    func: Callable[..., Any],
    options: ComponentOptions,
    config: ComponentConfig,
    context: NotebookContext | None = None,
    rename: str | None = None,
) -> NotebookComponent:
    """Make the NotebookComponent for `func` (the function `node` of `cell`, already executed)."""
    check_kfp_name(cell, node, rename or node.name)
    needs = _needs(cell, node, context, options.freeze) if context is not None else Needs()
    shipped = shipped_function(cell, node, func, rename)
    check_int_defaults(cell, node, func)
    image = options.base_image or config.base_image or kfp_default_image()
    packages, warnings = _packages(cell, node, shipped, needs, options, image)
    try:
        kfp_component = _kfp_component(shipped, image, packages, options, config)
    except (TypeError, ValueError) as exc:
        raise _explain(cell, node, func, exc) from None
    _carry_into(kfp_component, shipped, needs)
    component = NotebookComponent(kfp_component, func, options, packages, tuple(warnings), needs)
    component.namespace = context.namespace if context is not None else None
    if context is not None and context.later is not None:
        later = context.later
        component.rebuild = lambda: build_component(cell, node, func, options, config, later(), rename)
    if options.output_component_file:
        from kfp_notebook.ir.compiling import write_component_yaml

        write_component_yaml(component, options.output_component_file)
    return component


def _stale_message(name: str, changed: list[str], reason: str) -> str:
    return (
        f"component {name}: {', '.join(changed)} changed in the notebook since its %%component cell ran, "
        f"and it cannot be rebuilt as the kernel now holds it:\n{reason}\n"
        f"Re-run the %%component cell of {name} after fixing this, or restore the earlier definition"
    )


def check_kfp_name(cell: Cell, node: ast.FunctionDef, name: str) -> None:
    """kfp names components and their inputs in ASCII; refuse names it would empty or reject."""
    if not re.search(r"[A-Za-z]", name):
        raise cell.error(
            ComponentError,
            f"the function name {name!r} leaves kfp no component name (kfp keeps only ASCII letters, digits and "
            f"'-'); name the component in ASCII with --name, for example `%%component --name greet`",
            node.lineno,
        )


def check_int_defaults(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any]) -> None:
    """An `int` parameter whose default is not a whole number would reach tasks as something else: refuse it."""
    lines = {arg.arg: arg.lineno for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
    for name, parameter in inspect.signature(func).parameters.items():
        default = parameter.default
        unset = default is inspect.Parameter.empty or default is None
        if func.__annotations__.get(name) is int and not unset and type(default) is not int:
            raise cell.error(
                ComponentError,
                f"parameter {name!r} is an int, but its default {default!r} is not a whole number; "
                f"write a whole number (for example {name}: int = {_whole(default)}), or annotate it float",
                lines.get(name),
            )


def _whole(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _needs(cell: Cell, node: ast.FunctionDef, context: NotebookContext, freeze: tuple[str, ...]) -> Needs:
    source = "".join(cell.text.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])
    needs = resolve_function(source, node.name, context, freeze, _annotation_names(node))
    lines = first_use_lines(node, {p.via or p.name for p in needs.problems})
    for problem in needs.problems:
        raise cell.error(ComponentError, problem_message(node.name, problem), lines.get(problem.via or problem.name))
    unused = sorted(set(freeze) - set(needs.frozen))
    if unused:
        raise cell.error(
            ComponentError, f"--freeze {unused[0]}: {node.name} does not read {unused[0]!r}; remove the flag", None
        )
    return needs


def _annotation_names(node: ast.FunctionDef) -> set[str]:
    arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    annotations = [a.annotation for a in arguments if a.annotation is not None] + [node.returns]
    return {n.id for a in annotations if a is not None for n in ast.walk(a) if isinstance(n, ast.Name)}


def problem_message(function: str, problem: Problem) -> str:
    """What cannot be carried, and the two ways out for a notebook variable."""
    subject = f"{function} reads" if problem.via is None else f"{function} calls {problem.via}, which reads"
    advice = ""
    if problem.kind in ("variable", "computed"):
        advice = (
            " Make it a parameter of the component (data as an Input[Dataset] artifact), "
            f"or write it as a literal in a cell (`{problem.name} = ...`)"
        )
        if problem.kind == "computed":
            advice += f"; `%%component --freeze {problem.name}` ships its current value"
        advice += "."
    return f"{subject} {problem.name!r}, which {problem.reason}.{advice}"


def _carry_into(kfp_component: PythonComponent, shipped: ShippedFunction, needs: Needs) -> None:
    """Put what is carried at module level of kfp's program (nothing changes when nothing is carried)."""
    carried = needs.carried_source()
    if carried:
        implementation = kfp_component.component_spec.implementation
        implementation.container = with_carried(implementation.container, shipped.function, carried)


def _packages(
    cell: Cell, node: ast.FunctionDef, shipped: ShippedFunction, needs: Needs, options: ComponentOptions, image: str
) -> tuple[tuple[str, ...], list[str]]:
    """The packages to install (explicit, plus pins from the kernel with --packages auto) and warnings."""
    functions = "".join(inspect.getsource(f) for f in (shipped.function, *shipped.additional_funcs))
    source = needs.carried_source() + functions
    needed = missing(third_party(imported_modules(source)), options.packages)
    if options.auto_packages:
        unpinnable = [r for r in needed if r.version is None]
        if unpinnable:
            first = unpinnable[0]
            raise cell.error(
                ComponentError,
                f"--packages auto cannot pin {first.module!r}: no {first.distribution} is installed in this kernel. "
                f"Install it here, or name it: --packages {first.distribution}==VERSION",
                node.lineno,
            )
        return (*options.packages, *(r.pin for r in needed)), []
    if not needed or not checks_packages(image):
        return options.packages, []
    _refuse_local_modules(cell, node, needed, image)
    return options.packages, [_missing_package_warning(node.name, image, r) for r in needed]


def _refuse_local_modules(cell: Cell, node: ast.FunctionDef, needed: list[Requirement], image: str) -> None:
    """A module imported from a file of this machine (no distribution) would be an ImportError in the pod."""
    for requirement in needed:
        path = local_module_file(requirement.module) if requirement.version is None else None
        if path is not None:
            raise cell.error(
                ComponentError,
                f"{node.name} imports {requirement.module}, a module of this machine ({path}) that {image} does "
                "not have: define what the component needs in a notebook cell (it is then carried), or use an "
                "image that has the module (--base-image)",
                node.lineno,
            )


def _missing_package_warning(function: str, image: str, requirement: Requirement) -> str:
    source = "the kernel's version" if requirement.version else "not installed in this kernel"
    return (
        f"{function} imports {requirement.module}, which {image} does not have: "
        f"add --packages {requirement.pin} ({source}), or --packages auto to pin every import from the kernel"
    )


def _kfp_component(
    shipped: ShippedFunction,
    image: str,
    packages: tuple[str, ...],
    options: ComponentOptions,
    config: ComponentConfig,
) -> PythonComponent:
    from kfp import dsl

    index_urls = list(options.pip_index_urls or config.pip_index_urls)
    return dsl.component(
        shipped.function,
        base_image=image,
        packages_to_install=list(packages) or None,
        pip_index_urls=index_urls or None,
        additional_funcs=list(shipped.additional_funcs) or None,
    )


#: The image kfp 2.17 defaults to, should a later kfp stop exposing its default (kfp_compat checks it still does).
KFP_DEFAULT_IMAGE = "python:3.11"


def kfp_default_image() -> str:
    """kfp's own default base image, passed explicitly (same YAML, without kfp's warning on every cell)."""
    return kfp_compat.default_base_image() or KFP_DEFAULT_IMAGE


def _explain(cell: Cell, node: ast.FunctionDef, func: Callable[..., Any], exc: Exception) -> ComponentError:
    """Point kfp's complaint at the parameter (and line) that causes it."""
    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
        if not _kfp_accepts(arg.arg, func.__annotations__.get(arg.arg)):
            text = ast.unparse(arg.annotation) if arg.annotation else "?"
            return cell.error(ComponentError, _unsupported(f"parameter {arg.arg!r}", text), arg.lineno)
    if node.returns is not None and not _kfp_accepts_return(func.__annotations__.get("return")):
        return cell.error(
            ComponentError, _unsupported("the return type", ast.unparse(node.returns)), node.returns.lineno
        )
    return cell.error(ComponentError, f"kfp cannot make a component of {node.name}: {exc}", node.lineno)


def _unsupported(what: str, annotation: str) -> str:
    return (
        f"{what} is annotated {annotation!r}, a type kfp cannot pass between tasks. Use one of "
        "str, int, float, bool, list, dict (and typing's List/Dict/Optional of them), "
        "Input[...]/Output[...] of Artifact, Dataset, Model, Metrics, HTML, Markdown, "
        'or InputPath("...")/OutputPath("...") for files'
    )


def _kfp_accepts(name: str, annotation: Any) -> bool:
    parameter = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return _interface_ok(inspect.Signature([parameter]))


def _kfp_accepts_return(annotation: Any) -> bool:
    return _interface_ok(inspect.Signature([], return_annotation=annotation))


def _interface_ok(signature: inspect.Signature) -> bool:
    def probe() -> None:
        """Probe."""

    probe.__signature__ = signature  # type: ignore[attr-defined]
    return kfp_compat.interface_accepted(probe)
