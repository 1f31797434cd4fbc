"""The one JSON writer: strict JSON (RFC 8259) whatever the numbers, non-finite ones spelled as protobuf's JSON does.

Python's `json` writes NaN and ±inf as the bare words `NaN`, `Infinity` and `-Infinity`, which are not JSON (jq,
JavaScript's `JSON.parse` and Go's decoder refuse them). A diverged loss is a NaN metric, so run.json, `--json`
and the panel's data could not be read. Here they are written as the strings `"NaN"`, `"Infinity"` and
`"-Infinity"`: the spelling of protobuf's JSON mapping for a double, which is how Kubeflow's API writes them.
`number()` reads them back where a number is expected (metrics).
"""

from __future__ import annotations

import json
import math
from typing import Any

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def spelled(value: float) -> str:
    """A non-finite float as strict JSON spells it: "NaN", "Infinity" or "-Infinity"."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def jsonable(value: Any) -> Any:
    """`value` with every non-finite float (in lists, tuples and dicts, at any depth) replaced by its spelling."""
    if isinstance(value, float) and not math.isfinite(value):
        return spelled(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """Strict JSON text of `value` (non-finite floats spelled; anything else json cannot write becomes its str)."""
    return json.dumps(jsonable(value), allow_nan=False, default=lambda other: jsonable(_plain(other)), **options)


def _plain(value: Any) -> Any:
    """What json cannot write as it is: numpy-like numbers as numbers, the rest as text."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)


def number(value: Any) -> float | None:
    """A metric's value as a float: a JSON number, or one of the non-finite spellings; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return NON_FINITE.get(value)
    return None
