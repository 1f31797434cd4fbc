"""Typed parameter values: as the KFP backend passes them, as `--param` text and form fields give them."""

from __future__ import annotations

import json
import math
import numbers
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kfp_notebook.errors import OptionError, ParameterValueError

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
    """A value as a task receives it after a trip through protobuf's JSON: every number is a double, written
    without a fraction below 1e21 (so it arrives as an int) and with an exponent from there on (a float)."""
    if isinstance(value, list):
        return [protobuf_json(v) for v in value]
    if isinstance(value, dict):
        return {k: protobuf_json(v) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    try:
        number = float(value)
    except OverflowError:  # an int no double holds: the backend refuses it before any task sees it
        return value
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e21:
        return int(number)
    return number


def parameter_text(value: Any) -> str:
    """A value as KFP's launcher and driver write it into a string (`PbValueToText`, the launcher's placeholders):
    numbers in plain decimal (Go's FormatFloat(v, 'f', -1): 3, 0.0000001, no exponent), true / false, lists and
    dicts as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return format(Decimal(repr(float(value))).normalize(), "f")
    return json.dumps(protobuf_json(value), separators=(",", ":"), sort_keys=True)


def coerce(value: Any, parameter_type: str | None) -> Any:
    """A value for an input of `parameter_type` (kfp's IR name), converted as the backend would."""
    value = protobuf_json(value)
    if parameter_type == "NUMBER_INTEGER" and isinstance(value, (str, float)):
        return int(float(value))
    if parameter_type == "NUMBER_DOUBLE" and isinstance(value, (str, int)) and not isinstance(value, bool):
        return float(value)
    if parameter_type == "STRING" and not isinstance(value, str):
        return parameter_text(value)  # the driver turns any value given to a string input into its text
    if parameter_type in ("LIST", "STRUCT") and isinstance(value, str):
        return json.loads(value)
    return value


#: How messages name each kind of value.
KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "list": "a JSON list",
              "dict": "a JSON object", "str": "a string"}  # fmt: skip


def check_finite(name: str, value: Any, given: str = "") -> Any:
    """`value` when every number in it is finite: a number too big for a double inside a `--param` list or object
    (`[1e400]`) reads as infinity, which Kubeflow cannot take (protobuf Values' JSON has no NaN or Infinity)."""
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
        value = json.loads(text, parse_constant=_not_json)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError
        if kind in ("list", "dict") and not isinstance(value, list if kind == "list" else dict):
            raise ValueError
    except ValueError:
        examples = {"int": "3", "float": "0.5", "bool": "true", "list": "'[1, 2]'", "dict": """'{"a": 1}'"""}
        raise ParameterValueError(name, f"{text!r} is not {KIND_WORDS[kind]}", examples[kind]) from None
    return check_finite(name, value, f"--param {name}={text!r}")


def typed_parameters(ir: PipelineIR, given: dict[str, Any]) -> dict[str, Any]:
    """Given pipeline parameter values checked against the pipeline's types (texts from `--param` parsed).

    A Python value of another type is refused, never converted: the backend passes values as they are given.
    """
    declared = ir.parameters
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise OptionError(
            f"{ir.name} has no parameter {unknown[0]!r} (its parameters: {', '.join(declared) or 'none'})"
        )
    typed = {}
    for name, value in given.items():
        definition = declared[name]
        if value is None and definition.optional and (not definition.has_default or definition.default is None):
            continue  # None where None is the default: the default stands
        if isinstance(value, str) and definition.type != "STRING":
            typed[name] = parse_parameter(name, value, definition.type)
        else:
            typed[name] = checked_value(ir.name, name, value, definition.type)  # non-finite numbers refused there
    return typed


def checked_value(pipeline: str, name: str, value: Any, parameter_type: str) -> Any:
    """A Python value for a parameter of `parameter_type`, if it is of that type; OptionError otherwise."""
    kind = PARAMETER_TYPES.get(parameter_type, "str")
    fits = {
        "str": isinstance(value, str),
        "int": isinstance(value, numbers.Integral) and not isinstance(value, bool),
        "float": isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value),
        "bool": isinstance(value, bool),
        "list": isinstance(value, (list, tuple)),
        "dict": isinstance(value, dict),
    }[kind]
    if fits and kind in ("list", "dict"):
        fits = _is_json(value)
    if not fits:
        examples = {"int": "3", "float": "0.5", "bool": "True", "list": "[1, 2]", "dict": "{'a': 1}", "str": "'text'"}
        raise OptionError(
            f"parameter {name!r} of {pipeline} is {KIND_WORDS[kind]}, not {value!r} ({type(value).__name__}); "
            f"values are checked, not converted (example: params={{{name!r}: {examples[kind]}}})"
        )
    if kind in ("list", "dict"):
        return protobuf_json(json.loads(json.dumps(value)))  # tuples become lists, as JSON gives them
    return {"int": int, "float": float}.get(kind, lambda same: same)(value)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
