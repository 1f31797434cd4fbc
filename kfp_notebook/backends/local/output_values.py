"""Output parameter values as KFP's launcher reads them, and as the next task then receives them.

A value reaches the launcher in one of two ways (`backend/src/v2/component/launcher_v2.go`):
- returned by the function: kfp's executor writes it into `executor_output.json`, which the launcher reads
  with protobuf's JSON reader (strict JSON: no NaN or Infinity, numbers within a double's range); the value is
  kept as written, whatever the declared type;
- written to an `OutputPath(T)` file: `collectOutputParameters` reads the file with `TextToPbValue`
  (`backend/src/v2/metadata/converter.go`) by the declared type: STRING as it is, NUMBER_INTEGER with Go's
  `strconv.ParseInt` of the trimmed text, NUMBER_DOUBLE with `strconv.ParseFloat`, BOOLEAN with
  `strconv.ParseBool`, LIST and STRUCT as JSON of that kind. Anything else fails the task.
Either way the value is a protobuf `Value` (every number a double), which the next task receives through
protobuf's JSON: an integral number below 1e21 arrives as an int, any other number as a float.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kfp_notebook.backends.local.go_strconv import (
    GO_FALSE,
    GO_TRUE,
    go_parse_bool,
    go_parse_float,
    go_parse_int,
    go_trim_space,
)
from kfp_notebook.ir.parameters import PARAMETER_TYPES, protobuf_json


class OutputValueError(ValueError):
    """An output parameter the launcher cannot read (the producing task fails with this message)."""


def strict_json(text: str) -> Any:
    """JSON as protobuf's reader takes it: no NaN/Infinity, no repeated key, numbers a double can hold."""
    value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    check_wire_value(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result


def check_wire_value(value: Any) -> None:
    """Refuse what a protobuf Value cannot carry in JSON: NaN, infinities, numbers beyond a double, lone surrogates."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        try:
            if math.isfinite(float(value)):
                return
        except OverflowError:
            pass
        raise ValueError(f"{value!r} is not a finite number a double can hold")
    if isinstance(value, str):
        if any("\ud800" <= char <= "\udfff" for char in value):
            raise ValueError("it holds an unpaired UTF-16 surrogate")
        return
    for item in value.values() if isinstance(value, dict) else value:
        check_wire_value(item)


#: A value as the next task receives it: a protobuf Value written as JSON (every number a double).
as_received = protobuf_json


def read_file_value(text: str, parameter_type: str) -> Any:
    """TextToPbValue: the text of an OutputPath file read by its declared type (ValueError when it cannot be)."""
    if parameter_type == "STRING":
        check_wire_value(text)
        return text
    if parameter_type == "NUMBER_INTEGER":
        return as_received(go_parse_int(go_trim_space(text)))
    if parameter_type == "NUMBER_DOUBLE":
        return as_received(go_parse_float(go_trim_space(text)))
    if parameter_type == "BOOLEAN":
        return go_parse_bool(go_trim_space(text))
    if parameter_type in ("LIST", "STRUCT"):
        value = strict_json(text)
        if not isinstance(value, list if parameter_type == "LIST" else dict):
            raise ValueError(f"JSON of another kind ({type(value).__name__})")
        return as_received(value)
    raise ValueError(f"the launcher reads no parameter files of type {parameter_type}")


#: What a file of each type may hold, for messages.
FILE_EXAMPLES = {
    "NUMBER_INTEGER": "decimal digits with an optional sign: 3, -12 (write str(n) of an int)",
    "NUMBER_DOUBLE": "a Go float: 0.5, -2, 1e-3, inf, NaN (write str(x) of a float)",
    "BOOLEAN": f"one of {' '.join(GO_TRUE)} / {' '.join(GO_FALSE)} (write str(b) of a bool)",
    "LIST": "a JSON list (write json.dumps(a_list))",
    "STRUCT": "a JSON object (write json.dumps(a_dict))",
    "STRING": "UTF-8 text",
}


def file_output(name: str, content: bytes, parameter_type: str) -> Any:
    """An OutputPath file's value; OutputValueError naming the output, the text and the type when unreadable."""
    text = content.decode("utf-8", errors="replace")
    try:
        content.decode("utf-8")
        return read_file_value(text, parameter_type)
    except ValueError as exc:
        kind = PARAMETER_TYPES.get(parameter_type, parameter_type)
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise OutputValueError(
            f"output {name!r} ({kind}) holds {shown!r}, which the KFP launcher cannot read as {kind} ({exc}); "
            f"the file must hold {FILE_EXAMPLES.get(parameter_type, parameter_type)}"
        ) from None


def returned_output(name: str, value: Any) -> Any:
    """A value the executor wrote to executor_output.json, as the launcher keeps it (not converted to the type)."""
    try:
        check_wire_value(value)
    except ValueError as exc:
        raise OutputValueError(
            f"output {name!r} is {value!r}, which the KFP launcher cannot read from the executor's output "
            f"(protobuf JSON: {exc}); return a finite number, or a string"
        ) from None
    return as_received(value)


def missing_output(name: str, path: str) -> OutputValueError:
    return OutputValueError(
        f"output {name!r} has no value: the task ended with exit code 0 without returning it or writing its file "
        f"{path} (did it return None, or call os._exit(0) or sys.exit(0) before its outputs were written?); the KFP "
        "launcher fails a task whose output it cannot read"
    )


#: The kind of protobuf Value the driver accepts for an input of each type (a STRING input takes any, as text).
_DRIVER_KINDS = {"NUMBER_INTEGER": "number", "NUMBER_DOUBLE": "number", "BOOLEAN": "bool", "LIST": "list",
                 "STRUCT": "struct", "TASK_FINAL_STATUS": "struct", "TASK_CONFIG": "struct"}  # fmt: skip


def value_kind(value: Any) -> str:
    """The kind of protobuf Value a Python value travels as."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    kinds = {str: "string", list: "list", dict: "struct", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def driver_mismatch(value: Any, parameter_type: str) -> str | None:
    """The kind of `value` when the driver refuses it for an input of `parameter_type` ("type mismatch"), else None."""
    expected = _DRIVER_KINDS.get(parameter_type)
    kind = value_kind(value)
    return kind if expected is not None and kind != expected else None
