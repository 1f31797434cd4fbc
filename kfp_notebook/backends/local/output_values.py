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
import re
from typing import Any

from kfp_notebook.parameters import PARAMETER_TYPES

#: What Go's strings.TrimSpace removes (unicode.IsSpace); Python's str.strip also removes \x1c-\x1f.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?=[0-9_]*\.?[0-9_]*?[0-9])[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?")
_HEX = re.compile(
    r"[+-]?0[xX](?=[0-9a-fA-F_]*\.?[0-9a-fA-F_]*?[0-9a-fA-F])[0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?[pP][+-]?[0-9][0-9_]*"
)
_SPECIAL = re.compile(r"(?i)(?P<sign>[+-]?)(?:inf|infinity)|nan")
_INT64 = 2**63
_LARGEST_EXACT = 1e21  # protobuf's JSON writes numbers from here on with an exponent: they arrive as floats


class OutputValueError(ValueError):
    """An output parameter the launcher cannot read (the producing task fails with this message)."""


def go_trim_space(text: str) -> str:
    return text.strip(GO_SPACE)


def go_parse_int(text: str) -> int:
    """strconv.ParseInt(text, 10, 64): an optional sign and decimal digits, within 64 bits."""
    if not _INT.fullmatch(text):
        raise ValueError("not a decimal integer")
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise ValueError("out of the 64-bit range")
    return value


def go_parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64): Go's float literal syntax (underscores, hex with a p exponent), inf, NaN."""
    special = _SPECIAL.fullmatch(text)
    if special is not None:
        return math.nan if text.lower() == "nan" else float(f"{special.group('sign')}inf")
    if "_" in text and not _underscores_ok(text):
        raise ValueError("misplaced underscore")
    plain = text.replace("_", "")
    try:
        if _HEX.fullmatch(text):
            value = float.fromhex(plain)
        elif _DECIMAL.fullmatch(text):
            value = float(plain)
        else:
            raise ValueError("not a number")
    except OverflowError:
        value = math.inf
    if math.isinf(value):
        raise ValueError("out of the range of a double")
    return value


def _underscores_ok(text: str) -> bool:
    """Go's rule: an underscore only between digits, or between a base prefix and a digit."""
    body = text[1:] if text[:1] in "+-" else text
    hexadecimal = body[:2].lower() == "0x"
    seen, start = ("0", 2) if body[:2].lower() in ("0x", "0b", "0o") else ("^", 0)
    for char in body[start:]:
        if char.isdigit() or (hexadecimal and char.lower() in "abcdef"):
            seen = "0"
        elif char == "_":
            if seen != "0":
                return False
            seen = "_"
        elif seen == "_":
            return False
        else:
            seen = "!"
    return seen != "_"


def go_parse_bool(text: str) -> bool:
    """strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError("not a Go boolean")


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


def as_received(value: Any) -> Any:
    """A value as the next task receives it: a protobuf Value written as JSON (every number a double)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, list):
            return [as_received(item) for item in value]
        if isinstance(value, dict):
            return {key: as_received(item) for key, item in value.items()}
        return value
    number = float(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < _LARGEST_EXACT:
        return int(number)
    return number


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
