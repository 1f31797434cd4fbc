"""Text read as Go's strconv reads it (KFP's launcher and cel-go do): ParseInt, ParseFloat, ParseBool, TrimSpace."""

from __future__ import annotations

import math
import re

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
