"""A debugged function's return value checked as kfp's executor checks it (`Executor.write_executor_output`).

In the task, a value of the wrong type fails the task after the function returned; here it raises the same
error, and a value returned for an artifact output is written to the output's file in the scratch folder.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_notebook import kfp_compat


def check_returned(function: Callable[..., Any], value: Any, outputs: Path) -> None:
    """Raise what kfp's executor raises for this return value; write an artifact output's payload."""
    if value is None:
        return
    annotation = inspect.signature(function).return_annotation
    kind = kfp_compat.return_kind(annotation)
    if kind in ("parameter", "artifact"):
        _one(function, "Output", annotation, value, outputs)
    elif kind == "named_tuple":
        fields = annotation._fields
        if len(fields) != len(value):
            raise RuntimeError(f"Expected {len(fields)} return values from function `{function.__name__}`, got "
                               f"{len(value)}")  # fmt: skip
        for position, field in enumerate(fields):
            item = value[position] if type(value) is tuple else getattr(value, field)
            _one(function, field, annotation.__annotations__[field], item, outputs)
    else:
        raise RuntimeError(
            f"Unknown return type: {annotation}. Must be one of `str`, `int`, `float`, a subclass of `Artifact`, "
            "or a NamedTuple collection of these types."
        )


def _one(function: Callable[..., Any], name: str, annotation: Any, value: Any, outputs: Path) -> None:
    from kfp import dsl

    if kfp_compat.return_kind(annotation) == "parameter":
        origin = getattr(annotation, "__origin__", None) or annotation
        accepted = (int, float) if origin is float else origin
        if not isinstance(value, accepted):
            raise ValueError(f"Function `{function.__name__}` returned value of type {type(value)}; want type {origin}")
    elif not isinstance(value, dsl.Artifact):  # data for an artifact output: the executor writes its text
        outputs.mkdir(parents=True, exist_ok=True)
        (outputs / name).write_text(str(value))
