"""Dex login of a Kubeflow install: follow the redirects to Dex, post the credentials, keep the session cookie.

The password is only sent to Dex: it is never printed, logged, written or kept on disk.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kfp_notebook.errors import KfpNotebookError


class DexLoginError(KfpNotebookError):
    """The Dex login did not give a session: wrong credentials, or no Dex in front of the host."""


def dex_session(host: str, user: str, password: str, verify: bool | str = True, timeout: float = 10.0) -> str:
    """Log in through Dex (its local email/password connector) and return the session's Cookie header."""
    import requests

    session = requests.Session()
    session.verify = verify
    try:
        response = session.get(host, timeout=timeout)
        if "/dex/" not in response.url:
            raise DexLoginError(
                f"{host} did not redirect to a Dex login page (landed on {response.url}); "
                "try --auth cookie or --auth none"
            )
        if urlsplit(response.url).path.rstrip("/").endswith("/dex/auth"):
            response = session.get(response.url.replace("/dex/auth?", "/dex/auth/local?", 1), timeout=timeout)
        response = session.post(response.url, data={"login": user, "password": password}, timeout=timeout)
        if "/dex/auth/local" in response.url:
            raise DexLoginError(f"Dex refused the login of {user}: wrong email or password")
        if "/dex/approval" in response.url:
            response = session.post(response.url, data={"approval": "approve"}, timeout=timeout)
    except requests.RequestException as exc:
        raise DexLoginError(
            f"the Dex login at {host} failed: {type(exc).__name__}: {_without(exc, password)}"
        ) from None
    cookies = _cookie_header(session.cookies, urlsplit(host).hostname or "")
    if not cookies:
        raise DexLoginError(f"the Dex login at {host} gave no session cookie (landed on {response.url})")
    return cookies


def _cookie_header(jar: Any, hostname: str) -> str:
    """The session's cookies (the session only visited the host and the Dex pages it redirected to)."""
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _without(exc: Exception, secret: str) -> str:
    return str(exc).replace(secret, "***") if secret else str(exc)
