"""kfp's own compiler → pipeline YAML text, written as UTF-8 whatever the locale; an unchanged pipeline is not
compiled again."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_notebook.errors import CompileError
from kfp_notebook.kfp_compat import utf8_compiler_files

#: Compiled YAML kept by what determines it (COMPILED_KEPT pipelines, the latest used): kfp's compiler writes
#: the YAML from the pipeline's spec (its components, their programs with the carried code, every option), its
#: platform spec and its description alone, so the same three give the same bytes.
COMPILED_KEPT = 8
_compiled: OrderedDict[str, bytes] = OrderedDict()
_compiled_lock = threading.Lock()


def compile_yaml(pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Compile a kfp pipeline or component with kfp's Compiler; return the YAML, and write it to `path`.

    A pipeline whose spec, platform spec and description are those of one compiled lately is not compiled
    again: its YAML is that one's bytes.
    """
    refuse_non_finite_defaults(pipeline)
    key = yaml_key(pipeline)
    with _compiled_lock:
        known = _compiled.get(key) if key is not None else None
        if known is not None:
            _compiled.move_to_end(key)  # type: ignore[arg-type]
    if known is None:
        known = _compile_bytes(pipeline)
        if key is not None:
            with _compiled_lock:
                _compiled[key] = known
                while len(_compiled) > COMPILED_KEPT:
                    _compiled.popitem(last=False)
    if path is not None:
        _write(lambda target: Path(target).write_bytes(known), path)
    return _text(known)


def yaml_key(pipeline: Any) -> str | None:
    """A digest of everything kfp's compiler writes the pipeline's YAML from (None: not a kfp component)."""
    try:
        spec, platform = pipeline.pipeline_spec, pipeline.platform_spec
        description = getattr(pipeline, "description", None) or ""
    except AttributeError:
        return None
    import kfp

    digest = hashlib.sha256(f"{kfp.__version__}\0{description}\0".encode())
    digest.update(spec.SerializeToString(deterministic=True))
    digest.update(b"\0platform\0")
    digest.update(platform.SerializeToString(deterministic=True))
    return digest.hexdigest()


def _compile_bytes(pipeline: Any) -> bytes:
    from kfp import compiler

    with tempfile.TemporaryDirectory(prefix="kfp-notebook-") as folder:
        target = Path(folder) / "pipeline.yaml"
        _write_to(lambda name: compiler.Compiler().compile(pipeline, name), target)
        return target.read_bytes()


def _text(data: bytes) -> str:
    """The YAML's text as a file read in text mode gives it (universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


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


def _write(writer: Callable[[str], object], path: str | os.PathLike[str] | None) -> str:
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


def _write_to(writer: Callable[[str], object], target: Path) -> str:
    try:
        with utf8_compiler_files():
            writer(str(target))
    except OSError as exc:
        raise CompileError(f"cannot write {str(target)!r}: {exc.strerror}") from None
    return target.read_text(encoding="utf-8")
