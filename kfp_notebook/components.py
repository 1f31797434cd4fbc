"""Cell function + options → a kfp component whose tasks carry the component's defaults."""

from __future__ import annotations

import ast
import contextvars
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfp.dsl import pipeline_context
from kfp.dsl.python_component import PythonComponent

from kfp_notebook.cells import Cell
from kfp_notebook.errors import ComponentError
from kfp_notebook.options import ComponentOptions, TaskDefaults
from kfp_notebook.sources import ShippedFunction, shipped_function
from kfp_notebook.task_defaults import apply_task_defaults

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

    def __init__(self, kfp_component: PythonComponent, python_func: Callable[..., Any], options: ComponentOptions):
        super().__init__(component_spec=kfp_component.component_spec, python_func=python_func)
        self.options = options
        self.defaults: TaskDefaults = options.defaults
        self.__doc__ = python_func.__doc__
        self.__wrapped__ = python_func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task = super().__call__(**self._keywords(args, kwargs))
        if pipeline_context.Pipeline.get_default_pipeline() is not None:
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


def build_component(
    cell: Cell, node: ast.FunctionDef, func: Callable[..., Any], options: ComponentOptions, config: ComponentConfig
) -> NotebookComponent:
    """Make the NotebookComponent for `func` (the function `node` of `cell`, already executed)."""
    shipped = shipped_function(cell, node, func)
    try:
        kfp_component = _kfp_component(shipped, options, config)
    except (TypeError, ValueError) as exc:
        raise _explain(cell, node, func, exc) from None
    component = NotebookComponent(kfp_component, func, options)
    if options.output_component_file:
        from kfp_notebook.compiling import write_component_yaml

        write_component_yaml(component, options.output_component_file)
    return component


def _kfp_component(shipped: ShippedFunction, options: ComponentOptions, config: ComponentConfig) -> PythonComponent:
    from kfp import dsl

    index_urls = list(options.pip_index_urls or config.pip_index_urls)
    return dsl.component(
        shipped.function,
        base_image=options.base_image or config.base_image or kfp_default_image(),
        packages_to_install=list(options.packages) or None,
        pip_index_urls=index_urls or None,
        additional_funcs=list(shipped.additional_funcs) or None,
    )


def kfp_default_image() -> str | None:
    """kfp's own default base image, passed explicitly (same YAML, without kfp's warning on every cell)."""
    from kfp.dsl import component_factory

    return getattr(component_factory, "_DEFAULT_BASE_IMAGE", None)


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
    from kfp.dsl.component_factory import extract_component_interface

    def probe() -> None:
        """Probe."""

    probe.__signature__ = signature  # type: ignore[attr-defined]
    try:
        extract_component_interface(probe)
    except Exception:
        return False
    return True
