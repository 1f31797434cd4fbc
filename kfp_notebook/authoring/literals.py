"""Literal values: which values a literal writes exactly, strict equality, and a hash-independent repr."""

from __future__ import annotations

import ast
import math
from typing import Any

#: Scalar types a literal may be made of.
_SCALARS = (int, float, complex, str, bytes, bool, type(None))
#: The largest literal carried into a component (its text), in bytes.
LITERAL_LIMIT = 64 * 1024


def is_literal(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, bytes, booleans, None, and tuples/lists/sets/dicts of those (what `stable_repr` writes)."""
    if depth > 20:
        return False
    if type(value) in _SCALARS:
        return True
    if type(value) in (tuple, list, set):
        return all(is_literal(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_literal(k, depth + 1) and is_literal(v, depth + 1) for k, v in value.items())
    return False


def stable_repr(value: Any) -> str:
    """Python source for a literal value; sets in sorted order, so the text is the same in every kernel."""
    if type(value) is float and not math.isfinite(value):
        return f"float({str(value)!r})"
    if type(value) is complex:
        return f"complex({stable_repr(value.real)}, {stable_repr(value.imag)})"
    if type(value) is tuple:
        inner = ", ".join(stable_repr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if type(value) is list:
        return "[" + ", ".join(stable_repr(v) for v in value) + "]"
    if type(value) is set:
        return "{" + ", ".join(sorted(stable_repr(v) for v in value)) + "}" if value else "set()"
    if type(value) is dict:
        return "{" + ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def same_value(a: Any, b: Any, depth: int = 0) -> bool:
    """Equal and of the same types all the way down (1 is not True, 0.0 is not -0.0, NaN equals NaN)."""
    if type(a) is not type(b) or depth > 20:
        return False
    if type(a) in (float, complex):
        return repr(a) == repr(b)
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(same_value(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return list(a) == list(b) and all(same_value(a[k], b[k], depth + 1) for k in a) and _same_keys(a, b, depth)
    if type(a) is set:
        return sorted(map(stable_repr, a)) == sorted(map(stable_repr, b))
    return bool(a == b)


def _same_keys(a: dict[Any, Any], b: dict[Any, Any], depth: int) -> bool:
    return all(same_value(x, y, depth + 1) for x, y in zip(a, b, strict=True))


def literal_value(expression: ast.expr) -> tuple[bool, Any]:
    """(True, value) when the expression is a literal (what `ast.literal_eval` accepts), else (False, None)."""
    try:
        return True, ast.literal_eval(expression)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
