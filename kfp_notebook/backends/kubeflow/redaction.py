"""Text a Kubeflow server sends, made safe to show: every credential the connection holds redacted, and shortened.

A gateway may echo the request's headers into an error body (`Authorization: Bearer …`, `Cookie: …`); that body
would otherwise reach the cell, so the saved notebook. The credentials are remembered here (in memory only) when
the connection makes them: the token, the cookie header and each of its cookies' values, the Dex password, and
what kfp.Client sends as `Authorization`. Header-shaped credentials are redacted even when we never held them.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

REDACTED = "***"
#: Characters of a server's text shown at most (the rest is counted, not shown).
SHOWN_CHARACTERS = 300
_SHORTEST_SECRET = 6  # shorter values would redact ordinary words
_known: set[str] = set()
_lock = threading.Lock()
_HEADER = re.compile(
    r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie|x-auth-token|x-api-key)"
    r"(\"?'?\s*[:=]\s*\"?'?)([^\r\n\"',}]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def remember(*credentials: str | None) -> None:
    """Credentials of the connection (a token, a Cookie header, a password): never shown from now on."""
    found: set[str] = set()
    for credential in credentials:
        if not credential:
            continue
        found.add(credential.strip())
        for cookie in credential.split(";"):  # a Cookie header: each cookie's value on its own too
            found.add(cookie.strip())
            found.add(cookie.partition("=")[2].strip())
        found.add(credential.removeprefix("Bearer ").strip())
    with _lock:
        _known.update(value for value in found if len(value) >= _SHORTEST_SECRET)


def remember_client(client: Any) -> None:
    """What kfp.Client sends: its cookie and its Authorization value (a service account token, say)."""
    from kfp_notebook import kfp_compat

    try:
        api_client = kfp_compat.api_client(client)
        remember(api_client.cookie, api_client.configuration.get_api_key_with_prefix("authorization"))
    except Exception:  # a client of another shape (a test's fake): nothing more to remember
        return


def redact(text: str) -> str:
    """`text` with every remembered credential and every credential-bearing header value replaced by ***."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, REDACTED)
    text = _HEADER.sub(lambda found: f"{found[1]}{found[2]}{REDACTED}", text)
    return _BEARER.sub(lambda found: f"{found[1]} {REDACTED}", text)


def server_text(text: str | bytes, limit: int = SHOWN_CHARACTERS) -> str:
    """What a server sent, to quote in a message: credentials redacted, one line, at most `limit` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(redact(text).split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}… ({len(flat) - limit} more characters)"


def server_message(body: str | bytes | None) -> str:
    """The `message` of a KFP API error body (grpc-gateway's JSON), else the body as sent: made safe to show."""
    try:
        said = json.loads(body or "")
    except (TypeError, ValueError):
        said = None
    message = said.get("message") if isinstance(said, dict) else None
    return server_text(message if isinstance(message, str) and message else body or "(no text)")
