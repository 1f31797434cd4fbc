"""A PEP 503 package index on 127.0.0.1 serving tiny wheels built here, for package-environment tests."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from loopback import serving


def build_wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A minimal pure-Python wheel holding `name/__init__.py` with `source`."""
    files = {
        f"{name}/__init__.py": source,
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requests.append(self.path)


@contextmanager
def package_index(root: Path, wheels: dict[str, tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """Serve `wheels` ({name: (version, source)}) at http://127.0.0.1:PORT/simple; yields (url, requests)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, (version, source) in wheels.items():
        wheel = build_wheel(root, name, version, source)
        page = root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text(f'<a href="../../{wheel.name}">{wheel.name}</a>\n', encoding="utf-8")
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    with serving(partial(handler, directory=str(root))) as url:
        yield f"{url}/simple", requests
