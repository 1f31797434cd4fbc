"""CEL's tokens as its grammar (cel-spec, CEL.g4) reads them: string and bytes literals with every escape, raw and
triple-quoted forms, int / uint / double literals, names, operators and comments."""

from __future__ import annotations

import re
from typing import Any, NamedTuple


class CelError(ValueError):
    """An expression outside the supported subset, or one that cannot be evaluated with the given inputs."""


class Token(NamedTuple):
    kind: str  # number, string, name or op
    text: str  # as written
    value: Any = None  # a literal's value


_SPACE = re.compile(r"(?:[\t\n\f\r ]+|//[^\n\r]*)+")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+(?P<hexu>[uU])?"
    r"|(?P<double>[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
    r"|[0-9]+(?P<u>[uU])?"
)
_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATOR = re.compile(r"&&|\|\||==|!=|<=|>=|[-+*/%<>!()\[\].,{}:?]")
_PREFIX = re.compile(r"(?P<bytes>[bB])?(?P<raw>[rR])?(?P<quote>'''|\"\"\"|'|\")")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   '"': '"', "'": "'", "\\": "\\", "?": "?", "`": "`"}  # fmt: skip
_ESCAPE_DIGITS = {"x": 2, "X": 2, "u": 4, "U": 8}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        space = _SPACE.match(text, position)
        position = space.end() if space else position
        if position >= len(text):
            return tokens
        token = _literal(text, position) or _other(text, position)
        if token is None:
            raise CelError(f"cannot read the condition {text!r} at position {position} ({text[position]!r})")
        tokens.append(token)
        position += len(token.text)


def _other(text: str, position: int) -> Token | None:
    number = _NUMBER.match(text, position)
    if number:
        return Token("number", number.group(), _number(number, text))
    name = _NAME.match(text, position)
    if name:
        return Token("name", name.group())
    operator = _OPERATOR.match(text, position)
    return Token("op", operator.group()) if operator else None


def _number(match: re.Match[str], text: str) -> int | float:
    written = match.group()
    if match.group("double"):
        return float(written)
    unsigned = bool(match.group("u") or match.group("hexu"))
    digits = written.rstrip("uU")
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
    if value >= (2**64 if unsigned else 2**63):  # a minus sign is an operator: -9223372036854775808 is refused too
        raise CelError(f"the number {written} in the condition {text!r} is out of range")
    return value


def _literal(text: str, position: int) -> Token | None:
    """A string or bytes literal starting at `position`, or None when none starts there."""
    prefix = _PREFIX.match(text, position)
    if prefix is None:
        return None
    quote, raw, is_bytes = prefix.group("quote"), bool(prefix.group("raw")), bool(prefix.group("bytes"))
    start = prefix.end()
    end = text.find(quote, start) if raw else _escaped_end(text, start, quote)
    if end < 0:
        raise CelError(
            f"the string starting at position {position} of the condition {text!r} is not closed; kfp writes a "
            "compared string into a condition as it is, so a quote inside it ends the string (cel-go refuses it too)"
        )
    body = text[start:end]
    if len(quote) == 1 and ("\n" in body or "\r" in body):
        raise CelError(
            f"the string at position {position} of the condition {text!r} holds a line break, which CEL allows only "
            "in triple-quoted strings"
        )
    value = body if raw else _unescape(body, is_bytes, text)
    if is_bytes and raw:
        value = body.encode()
    return Token("string", text[position : end + len(quote)], value)


def _escaped_end(text: str, start: int, quote: str) -> int:
    """Where the closing quote is, stepping over escapes; -1 when there is none."""
    position = start
    while position < len(text):
        if text[position] == "\\":
            position += 2
        elif text.startswith(quote, position):
            return position
        else:
            position += 1
    return -1


def _unescape(body: str, is_bytes: bool, expression: str) -> Any:
    """The value of a literal's text: escapes replaced (a bytes literal's \\x and octal escapes are bytes)."""
    parts: list[bytes] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char != "\\":
            parts.append(char.encode("utf-8", "surrogatepass"))
            position += 1
            continue
        value, length = _escape(body, position, is_bytes, expression)
        parts.append(value)
        position += length
    joined = b"".join(parts)
    return joined if is_bytes else joined.decode("utf-8", "surrogatepass")


def _escape(body: str, position: int, is_bytes: bool, expression: str) -> tuple[bytes, int]:
    """One escape at `position`: its bytes (UTF-8 for a string) and its length in the text."""
    letter = body[position + 1 : position + 2]
    if letter in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[letter].encode(), 2
    if letter in _ESCAPE_DIGITS:
        size = _ESCAPE_DIGITS[letter]
        digits = body[position + 2 : position + 2 + size]
        if len(digits) == size and all(c in "0123456789abcdefABCDEF" for c in digits):
            written = body[position : position + 2 + size]
            return _code(int(digits, 16), letter in "xX", is_bytes, written, expression), 2 + size
    elif letter and letter in "0123":
        digits = body[position + 1 : position + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits):
            return _code(int(digits, 8), True, is_bytes, body[position : position + 4], expression), 4
    shown = body[position : position + 2]
    raise CelError(
        f"the condition {expression!r} holds the escape {shown!r}, which CEL does not have (valid: \\n \\t \\\\ \\' "
        '\\" \\xHH \\uHHHH \\UHHHHHHHH \\ooo ...); kfp writes string constants into conditions as they are, so a '
        "backslash in a compared string must itself be doubled"
    )


def _code(code: int, single_byte: bool, is_bytes: bool, written: str, expression: str) -> bytes:
    """The bytes an escape of `code` stands for: one byte (\\x, octal) in a bytes literal, else UTF-8."""
    if is_bytes and single_byte:
        return bytes([code])
    if is_bytes:
        raise CelError(f"the escape {written!r} is not allowed in a bytes literal of the condition {expression!r}")
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise CelError(f"the escape {written!r} in the condition {expression!r} is not a Unicode code point")
    return chr(code).encode()
