"""kfp's own compiler → pipeline YAML text, written as UTF-8 whatever the locale."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_notebook.errors import CompileError
from kfp_notebook.kfp_compat import utf8_compiler_files


def compile_yaml(pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Compile a kfp pipeline or component with kfp's Compiler; return the YAML, and write it to `path`."""
    from kfp import compiler

    refuse_non_finite_defaults(pipeline)
    return _write(lambda target: compiler.Compiler().compile(pipeline, target), path)


def refuse_non_finite_defaults(pipeline: Any) -> None:
    """Raise CompileError naming a parameter whose default is NaN or infinite (JSON, and so the YAML, has none)."""
    spec = getattr(pipeline, "pipeline_spec", None)
    if spec is None:
        return
    places = [(getattr(pipeline, "name", "the pipeline"), spec.root)]
    places += [(name.removeprefix("comp-"), component) for name, component in spec.components.items()]
    for owner, component in places:
        for name, parameter in component.input_definitions.parameters.items():
            if _non_finite(parameter):
                raise CompileError(
                    f"parameter {name!r} of {owner} defaults to {parameter.default_value.number_value}, which a "
                    "pipeline cannot hold (its YAML is JSON, which has no NaN or infinity): give a finite default, "
                    "or make it a string such as 'nan' and convert it with float() inside the component"
                )


def _non_finite(parameter: Any) -> bool:
    value = parameter.default_value
    has_number = parameter.HasField("default_value") and value.HasField("number_value")
    return bool(has_number and not math.isfinite(value.number_value))


def write_component_yaml(component: Any, path: str | os.PathLike[str]) -> str:
    """Write a component's YAML exactly as kfp's `output_component_file` does; return the text."""
    return _write(component.component_spec.save_to_component_yaml, path)


def _write(writer: Callable[[str], None], path: str | os.PathLike[str] | None) -> str:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="kfp-notebook-") as folder:
            return _write_to(writer, Path(folder) / "pipeline.yaml")
    target = Path(path).expanduser()
    if target.suffix not in (".yaml", ".yml"):
        raise CompileError(f"cannot write {str(path)!r}: the file name must end with .yaml or .yml")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompileError(f"cannot create the folder for {str(path)!r}: {exc.strerror}") from None
    return _write_to(writer, target)


def _write_to(writer: Callable[[str], None], target: Path) -> str:
    try:
        with utf8_compiler_files():
            writer(str(target))
    except OSError as exc:
        raise CompileError(f"cannot write {str(target)!r}: {exc.strerror}") from None
    return target.read_text(encoding="utf-8")
