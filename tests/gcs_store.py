"""A loopback fake of the GCS JSON API that gcsfs reaches through STORAGE_EMULATOR_HOST (asked without
credentials): objects' metadata and content (with Range), a bucket's metadata, listings by prefix, simple
(multipart) uploads and deletes. Enough for importers and a gs:// pipeline root; nothing reaches the internet."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

# gcsfs's experimental zonal-bucket support (read when gcsfs is imported) asks a gRPC endpoint over TLS, which no
# emulator serves: its downloads then wait for ever. Set before the first import of gcsfs (collection time).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


class FakeGcs(http.server.BaseHTTPRequestHandler):
    """Objects by "bucket/name" in `objects`; a bucket exists while `buckets` names it."""

    objects: ClassVar[dict[str, bytes]] = {}
    buckets: ClassVar[set[str]] = set()

    def do_GET(self):
        parts = urlsplit(self.path)
        download = parts.path.startswith("/download/")
        path = parts.path.removeprefix("/download")
        if not path.startswith("/storage/v1/b/"):
            return self._send(404, b"{}")
        bucket, _, rest = path.removeprefix("/storage/v1/b/").partition("/")
        if bucket not in self.buckets:
            return self._missing("No such bucket")
        if not rest:
            return self._send(200, json.dumps({"kind": "storage#bucket", "name": bucket}).encode())
        if rest == "o":
            return self._list(bucket, parse_qs(parts.query).get("prefix", [""])[0])
        key = f"{bucket}/{unquote(rest.removeprefix('o/'))}"
        if key not in self.objects:
            return self._missing("No such object")
        if download or "alt=media" in parts.query:
            return self._send(200, self._range(self.objects[key]), "application/octet-stream")
        return self._send(200, json.dumps(self._meta(key)).encode())

    def do_POST(self):
        parts = urlsplit(self.path)
        bucket = parts.path.removeprefix("/upload/storage/v1/b/").split("/", 1)[0]
        if bucket not in self.buckets:
            return self._missing("No such bucket")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        boundary = self.headers["Content-Type"].split("boundary=", 1)[1].strip('"').encode()
        metadata_part, content_part = body.split(b"--" + boundary)[1:3]
        name = json.loads(metadata_part.split(b"\n\n", 1)[1])["name"]
        end = body.rindex(b"\n--" + boundary + b"--")
        start = body.index(content_part) + content_part.index(b"\n\n") + 2
        self.objects[f"{bucket}/{name}"] = body[start:end]
        return self._send(200, json.dumps(self._meta(f"{bucket}/{name}")).encode())

    def do_DELETE(self):
        path = urlsplit(self.path).path.removeprefix("/storage/v1/b/")
        bucket, _, name = path.partition("/o/")
        found = self.objects.pop(f"{bucket}/{unquote(name)}", None)
        return self._send(204 if found is not None else 404, b"")

    def _list(self, bucket: str, prefix: str) -> None:
        names = sorted(k.split("/", 1)[1] for k in self.objects if k.startswith(f"{bucket}/{prefix}"))
        items = [self._meta(f"{bucket}/{name}") for name in names]
        return self._send(200, json.dumps({"kind": "storage#objects", "items": items}).encode())

    def _meta(self, key: str) -> dict[str, str]:
        bucket, name = key.split("/", 1)
        body = self.objects[key]
        return {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(body)),
                "generation": "1", "md5Hash": hashlib.md5(body).hexdigest(), "updated": "2026-12-07T00:00:00Z"}  # fmt: skip

    def _missing(self, message: str) -> None:
        return self._send(404, json.dumps({"error": {"code": 404, "message": message}}).encode())

    def _range(self, body: bytes) -> bytes:
        wanted = self.headers.get("Range", "")
        if not wanted.startswith("bytes="):
            return body
        start, _, end = wanted.removeprefix("bytes=").partition("-")
        return body[int(start or 0) : int(end) + 1 if end else None]

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_gcs(monkeypatch, objects: dict[str, bytes]):
    """Start the fake with these objects (their buckets exist); STORAGE_EMULATOR_HOST points at it."""
    FakeGcs.objects = dict(objects)
    FakeGcs.buckets = {key.split("/", 1)[0] for key in objects}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGcs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    return server


@pytest.fixture
def gcs_bucket(monkeypatch):
    """The fake with one empty bucket, "kfp-gcs"; yields its objects."""
    server = serve_gcs(monkeypatch, {})
    FakeGcs.buckets.add("kfp-gcs")
    yield FakeGcs.objects
    server.shutdown()
    server.server_close()
