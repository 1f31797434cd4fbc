"""Serve an HTTP handler on 127.0.0.1 in a background thread, for the tests' faithful servers."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any


@contextmanager
def serving(handler: Callable[..., Any], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Yields the server's base URL (http://127.0.0.1:PORT, https with `tls`); stops the server afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
