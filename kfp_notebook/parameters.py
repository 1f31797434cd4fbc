"""Parameter values as the KFP backend passes them: typed by the receiving input, integral numbers as ints."""

from __future__ import annotations

import json
from typing import Any

from kfp_notebook.errors import OptionError

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
        return value
    except ValueError:
        examples = {"int": "3", "float": "0.5", "bool": "true", "list": "'[1, 2]'", "dict": """'{"a": 1}'"""}
        raise OptionError(
            f"--param {name}={text!r} is not a {kind} (example: --param {name}={examples[kind]})"
        ) from None


def parameter_defaults(definitions: dict[str, Any]) -> dict[str, Any]:
    """The default value of each optional parameter of an inputDefinitions block."""
    parameters = definitions.get("parameters", {})
    return {n: coerce(p["defaultValue"], p.get("parameterType")) for n, p in parameters.items() if "defaultValue" in p}
