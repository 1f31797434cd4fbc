"""The subset of CEL that kfp's compiler writes for conditions and loop-item selectors, evaluated in Python."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kfp_notebook.backends.local.cel_lexing import CelError, Token, tokenize
from kfp_notebook.backends.local.go_strconv import go_parse_bool, go_parse_float, go_parse_int

__all__ = ["CelError", "evaluate", "tokenize"]


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _to_int(value: Any) -> int:
    """CEL's int(): a string as Go's strconv.ParseInt reads it (cel-go), a double truncated toward zero."""
    return go_parse_int(value) if isinstance(value, str) else int(value)


def _to_double(value: Any) -> float:
    """CEL's double(): a string as Go's strconv.ParseFloat reads it (cel-go)."""
    return go_parse_float(value) if isinstance(value, str) else float(value)


def _bool_conversion(value: Any) -> bool:
    """CEL's bool(): a string as Go's strconv.ParseBool reads it (cel-go)."""
    return go_parse_bool(value) if isinstance(value, str) else bool(value)


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": _to_int,
    "double": _to_double,
    "string": _to_string,
    "bool": _bool_conversion,
    "parseJson": lambda text: json.loads(text) if isinstance(text, str) else text,
    "size": len,
}


def evaluate(text: str, variables: dict[str, Any]) -> Any:
    """Evaluate a CEL expression with `variables` (e.g. {"inputs": {"parameter_values": {...}}})."""
    parser = _Parser(tokenize(text), variables, text)
    value = parser.expression()
    if parser.position != len(parser.tokens):
        raise CelError(f"unexpected {parser.tokens[parser.position][1]!r} in the condition {text!r}")
    return value


class _Parser:
    """Recursive descent over the tokens, computing values as it goes."""

    def __init__(self, tokens: list[Token], variables: dict[str, Any], text: str):
        self.tokens, self.variables, self.text, self.position = tokens, variables, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> Token:
        if self.position >= len(self.tokens):
            raise CelError(f"the condition {self.text!r} ends too early")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise CelError(f"expected {expected!r} but found {token[1]!r} in the condition {self.text!r}")
        self.position += 1
        return token

    def expression(self) -> Any:
        value = self.conjunction()
        while self.peek() == "||":
            self.take()
            right = self.conjunction()
            value = _to_bool(value) or _to_bool(right)
        return value

    def conjunction(self) -> Any:
        value = self.relation()
        while self.peek() == "&&":
            self.take()
            right = self.relation()
            value = _to_bool(value) and _to_bool(right)
        return value

    def relation(self) -> Any:
        value = self.sum()
        operator = self.peek()
        if operator in ("<", "<=", ">", ">=", "==", "!=") or operator == "in":
            self.take()
            return _compare(operator, value, self.sum())
        return value

    def sum(self) -> Any:
        value = self.product()
        while self.peek() in ("+", "-"):
            operator = self.take()[1]
            right = self.product()
            value = value + right if operator == "+" else value - right
        return value

    def product(self) -> Any:
        value = self.unary()
        while self.peek() in ("*", "/", "%"):
            operator = self.take()[1]
            right = self.unary()
            value = _arithmetic(operator, value, right)
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not _to_bool(self.unary())
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        value, callable_name = self.primary()
        while self.peek() in ("[", ".", "("):
            token = self.take()[1]
            if token == "[":
                value = _index(value, self.expression())
                self.take("]")
            elif token == ".":
                kind, member, _ = self.take()
                if kind != "name":
                    raise CelError(f"unexpected {member!r} after '.' in the condition {self.text!r}")
                if self.peek() == "(":
                    self.take("(")
                    value = self._call(member, [value, *self.arguments(")")])
                else:
                    value = _index(value, member)
            else:
                value = self._call(callable_name or "", self.arguments(")"))
            callable_name = None
        return value

    def primary(self) -> tuple[Any, str | None]:
        kind, token, literal = self.take()
        if kind in ("number", "string"):
            return literal, None
        if kind == "name":
            return self._name(token)
        if token == "(":
            value = self.expression()
            self.take(")")
            return value, None
        if token == "[":
            return self.arguments("]"), None
        if token == "{":
            return self._map(), None
        raise CelError(f"unexpected {token!r} in the condition {self.text!r}")

    def _name(self, token: str) -> tuple[Any, str | None]:
        constants = {"true": True, "false": False, "null": None}
        if token in constants:
            return constants[token], None
        if token in FUNCTIONS and self.peek() == "(":
            return None, token
        if token in self.variables:
            return self.variables[token], None
        if self.peek() == "(":
            raise CelError(f"the function {token!r} in the condition {self.text!r} is not supported locally")
        raise CelError(f"unknown name {token!r} in the condition {self.text!r}")

    def arguments(self, closing: str) -> list[Any]:
        values = []
        while self.peek() != closing:
            values.append(self.expression())
            if self.peek() == ",":
                self.take()
        self.take(closing)
        return values

    def _map(self) -> dict[Any, Any]:
        result = {}
        while self.peek() != "}":
            key = self.expression()
            self.take(":")
            result[key] = self.expression()
            if self.peek() == ",":
                self.take()
        self.take("}")
        return result

    def _call(self, name: str, arguments: list[Any]) -> Any:
        function = FUNCTIONS.get(name)
        if function is None:
            raise CelError(f"the function {name!r} in the condition {self.text!r} is not supported locally")
        try:
            return function(*arguments)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CelError(
                f"{name}({', '.join(map(repr, arguments))}) failed in the condition {self.text!r}: {exc}"
            ) from None


def _index(value: Any, key: Any) -> Any:
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        raise CelError(f"no {key!r} in {value!r}") from None


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "in":
        return left in right
    if operator in ("==", "!="):
        equal = left == right and isinstance(left, bool) == isinstance(right, bool)  # CEL: true != 1
        return equal if operator == "==" else not equal
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]
    except TypeError:
        raise CelError(f"cannot compare {left!r} {operator} {right!r}") from None


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    if operator == "*":
        return left * right
    if operator == "%":
        return left % right
    return left // right if isinstance(left, int) and isinstance(right, int) else left / right
