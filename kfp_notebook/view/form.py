"""The panel's parameter form: a field per pipeline parameter, and the form's texts parsed, a problem per field."""

from __future__ import annotations

import json
from typing import Any

from kfp_notebook.errors import ParameterValueError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.ir.parameters import coerce, parse_parameter


def parameter_fields(ir: PipelineIR) -> list[dict[str, Any]]:
    """A form field per pipeline parameter: name, type, default (as text), required."""
    return [
        {
            "name": name,
            "type": definition.type,
            "default": _as_text(definition.default, definition.type) if definition.has_default else "",
            "required": not definition.has_default and not definition.optional,
        }
        for name, definition in ir.parameters.items()
    ]


def _as_text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    value = coerce(value, kind)
    if kind == "STRING":
        return str(value)
    if kind == "BOOLEAN":
        return "true" if value else "false"
    return json.dumps(value)


def validate(fields: list[dict[str, Any]], values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse each field by its type; a bad value gets a message at its field."""
    parsed, errors = {}, {}
    for field in fields:
        text = str(values.get(field["name"], ""))
        if text == "" and field["type"] != "STRING":
            if field["required"]:
                errors[field["name"]] = "required"
            continue
        try:
            parsed[field["name"]] = parse_parameter(field["name"], text, field["type"])
        except ParameterValueError as exc:
            errors[field["name"]] = exc.problem
    return parsed, errors
