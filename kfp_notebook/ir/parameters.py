"""Typed parameter values: as the KFP backend passes them, as `--param` text and form fields give them."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from kfp_notebook.errors import OptionError

if TYPE_CHECKING:
    from kfp_notebook.ir import Parameter, PipelineIR

PARAMETER_TYPES = {
    "NUMBER_INTEGER": "int",
    "NUMBER_DOUBLE": "float",
    "STRING": "str",
    "BOOLEAN": "bool",
    "LIST": "list",
    "STRUCT": "dict",
    "TASK_FINAL_STATUS": "dict",
    "TASK_CONFIG": "dict",
}


def protobuf_json(value: Any) -> Any:
    """What a value looks like after a trip through protobuf's JSON: integral floats become ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [protobuf_json(v) for v in value]
    if isinstance(value, dict):
        return {k: protobuf_json(v) for k, v in value.items()}
    return value


def coerce(value: Any, parameter_type: str | None) -> Any:
    """A value for an input of `parameter_type` (kfp's IR name), converted as the backend would."""
    value = protobuf_json(value)
    if parameter_type == "NUMBER_INTEGER" and isinstance(value, (str, float)):
        return int(float(value))
    if parameter_type == "NUMBER_DOUBLE" and isinstance(value, (str, int)) and not isinstance(value, bool):
        return float(value)
    if parameter_type == "STRING" and not isinstance(value, str):
        return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if parameter_type in ("LIST", "STRUCT") and isinstance(value, str):
        return json.loads(value)
    return value


#: How messages name each kind of value.
KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "list": "a JSON list",
              "dict": "a JSON object", "str": "a string"}  # fmt: skip


def check_finite(name: str, value: Any, given: str = "") -> Any:
    """`value` when every number in it is finite; NaN and ±infinity (also `1e400`, too big for a double) are
    refused everywhere: Kubeflow takes a run's parameters as protobuf Values, whose JSON cannot carry them."""
    if finite(value):
        return value
    raise OptionError(
        f"{given or f'parameter {name!r} = {value!r}'} is not a finite number (or holds one that is not): Kubeflow "
        "takes parameters as protobuf Values, whose JSON has no NaN or Infinity. Pass a finite number "
        "(for example 1e300), or declare the parameter as str and convert it in the component"
    )


def finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(finite(item) for item in value)
    return True


def parse_parameter(name: str, text: str, parameter_type: str) -> Any:
    """A pipeline parameter given as text (`--param NAME=VALUE`), parsed for its declared type."""
    kind = PARAMETER_TYPES.get(parameter_type, "str")
    try:
        if kind == "str":
            return text
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        value = json.loads(text)
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError
        if kind in ("list", "dict") and not isinstance(value, list if kind == "list" else dict):
            raise ValueError
    except ValueError:
        examples = {"int": "3", "float": "0.5", "bool": "true", "list": "'[1, 2]'", "dict": """'{"a": 1}'"""}
        raise OptionError(
            f"--param {name}={text!r} is not {KIND_WORDS[kind]} (example: --param {name}={examples[kind]})"
        ) from None
    return check_finite(name, value, f"--param {name}={text!r}")


def typed_parameters(ir: PipelineIR, given: dict[str, Any]) -> dict[str, Any]:
    """Given pipeline parameter values typed as the pipeline declares them (texts from `--param` parsed)."""
    declared = ir.parameters
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise OptionError(
            f"{ir.name} has no parameter {unknown[0]!r} (its parameters: {', '.join(declared) or 'none'})"
        )
    typed = {}
    for name, value in given.items():
        kind = declared[name].type
        typed[name] = check_finite(
            name,
            parse_parameter(name, value, kind) if isinstance(value, str) and kind != "STRING" else coerce(value, kind),
        )
    return typed


def pipeline_parameters(ir: PipelineIR, given: dict[str, Any]) -> dict[str, Any]:
    """The run's parameter values: given ones typed, defaults for the rest; a missing required one is refused."""
    values = typed_parameters(ir, given)
    for name, definition in ir.parameters.items():
        if name in values:
            continue
        if definition.has_default:
            values[name] = coerce(definition.default, definition.type)
        elif not definition.optional:
            raise OptionError(
                f"{ir.name} needs a value for {name!r}: pass --param {name}=... (or params={{{name!r}: ...}})"
            )
    return values


def parameter_defaults(definitions: dict[str, Parameter]) -> dict[str, Any]:
    """The default value of each parameter that has one."""
    return {n: coerce(p.default, p.type) for n, p in definitions.items() if p.has_default}
