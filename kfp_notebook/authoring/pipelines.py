"""Cell function + options → a kfp pipeline, with kfp's complaints pointed at the cell's lines."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from kfp_notebook.authoring.cells import Cell, failing_line
from kfp_notebook.authoring.components import NotebookComponent, components_in_use
from kfp_notebook.authoring.options import PipelineOptions
from kfp_notebook.errors import PipelineError


class BuiltPipeline(NamedTuple):
    """A kfp pipeline (GraphComponent) and the notebook components it called when it was built."""

    pipeline: Any
    components: tuple[NotebookComponent, ...]


def build_pipeline(
    cell: Cell, node: ast.FunctionDef, func: Callable[..., Any], options: PipelineOptions
) -> BuiltPipeline:
    """Build the pipeline with `@dsl.pipeline` (kfp runs the function body once to record the DAG)."""
    from kfp import dsl

    kwargs = {k: v for k, v in (("name", options.name), ("description", options.description)) if v is not None}
    used: list[NotebookComponent] = []
    token = components_in_use.set(used)
    try:
        with warnings.catch_warnings():  # v1 spellings we support (dsl.Condition) are not the user's to fix
            warnings.filterwarnings("ignore", message=r"dsl\.Condition is deprecated", category=DeprecationWarning)
            pipeline = dsl.pipeline(func, **kwargs)
    except Exception as exc:
        raise explain_build_error(cell, node, exc) from exc
    finally:
        components_in_use.reset(token)
    components = tuple(dict.fromkeys(used))
    _check_distinct_names(cell, node, func, components)
    return BuiltPipeline(pipeline, components)


def _check_distinct_names(
    cell: Cell, node: ast.FunctionDef, func: Callable[..., Any], components: tuple[NotebookComponent, ...]
) -> None:
    """Two components kfp gives the same name would share task names, logs and results: refuse the pipeline."""
    seen: dict[str, NotebookComponent] = {}
    for component in components:
        other = seen.setdefault(component.name, component)
        if other is not component:
            first, second = _notebook_name(func, other), _notebook_name(func, component)
            raise cell.error(
                PipelineError,
                f"components {first} and {second} both get the kfp name {component.name!r}, so their tasks, logs "
                f"and results would be mixed up; rename one with --name (for example `%%component --name "
                f"{second}_2`) and re-run its cell",
                node.lineno,
            )


def _notebook_name(func: Callable[..., Any], component: NotebookComponent) -> str:
    names = [name for name, value in getattr(func, "__globals__", {}).items() if value is component]
    return names[0] if names else component.python_func.__name__


def explain_build_error(cell: Cell, node: ast.FunctionDef, exc: Exception) -> PipelineError:
    """The build error as a message at the line of the pipeline cell that caused it."""
    line = failing_line(exc, cell.filename) or node.lineno
    return cell.error(PipelineError, _message(exc), line)


def _message(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or _quoted(text)
        return (
            f"{name!r} is not defined. If it is a component, run its %%component cell first; "
            "if it is a module (for example `dsl`), import it in an earlier cell (`from kfp import dsl`)"
        )
    if "must be instantiated using keyword arguments" in text:
        return f"{text} Pass inputs by name, for example `train(lr=0.1)`."
    if "Task is missing from pipeline" in text:
        return "the pipeline calls no component: call at least one inside it"
    if "missing" in text and "required argument" in text:
        return f"{text} Pass every input that has no default."
    return f"{type(exc).__name__}: {text}"


def _quoted(text: str) -> str:
    match = re.search(r"'([^']+)'", text)
    return match.group(1) if match else text
