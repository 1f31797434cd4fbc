"""Importers of s3://, minio://, gs://, http(s):// run locally: fetched through fsspec, cached by version, read-only;
refused before any task starts when the extra, the object or the credentials are missing. Against moto's S3 server
and an http.server on 127.0.0.1, driven by the real boto3 and s3fs; nothing reaches the internet."""

# no `from __future__ import annotations`: kfp reads the components' annotations as objects

import http.server
import stat
import threading
from pathlib import Path

import pytest
import s3_store
from kfp import dsl
from s3_store import BUCKET, SECRET

import kfp_notebook
from kfp_notebook.backends.local import remote
from kfp_notebook.backends.local.importing import importer_problem
from kfp_notebook.backends.local.runner import NotRunnableLocally
from kfp_notebook.tracking.states import TaskState

from helpers import eventually


@dsl.component
def read_imported(data: dsl.Input[dsl.Dataset]) -> str:
    import os

    path = data.path if os.path.isfile(data.path) else os.path.join(data.path, "part-0.txt")
    with open(path) as handle:
        return handle.read()


@dsl.pipeline
def remote_import(uri: str):
    imported = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset, metadata={"origin": "store"})
    read_imported(data=imported.output).set_caching_options(False)


@dsl.component
def name_uri(uri: str) -> str:
    return uri


@dsl.pipeline
def import_from_output(uri: str):
    imported = dsl.importer(artifact_uri=name_uri(uri=uri).output, artifact_class=dsl.Dataset)
    read_imported(data=imported.output).set_caching_options(False)


s3_server, s3 = s3_store.s3_server, s3_store.s3  # the fixtures


def run(uri: str, runs: Path):
    handle = kfp_notebook.run(remote_import, {"uri": uri}, runs_folder=runs, cache=False, wait=False)
    handle.wait(120)
    return handle


def messages(handle) -> str:
    return "\n".join(f"{t.task_id}: {t.message}" for t in handle.result().tasks.values() if t.message)


# -- without a server ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("gs://bucket/data.csv", "gs://bucket/data.csv: importing gs:// objects locally needs gcsfs: "
         "pip install 'kfp-notebook-magics[gcs]'"),
        ("https://host.invalid/data.csv?X-Amz-Signature=abc", "https://host.invalid/data.csv?…: importing https:// "
         "objects locally needs aiohttp: pip install 'kfp-notebook-magics[http]'"),
        ("s3://bucket/data.csv", "needs s3fs: pip install 'kfp-notebook-magics[s3]'"),
    ],
)  # fmt: skip
@pytest.mark.slow  # a whole kfp_notebook.run, refused in its preflight
def test_a_missing_extra_refuses_the_run_naming_the_uri_and_the_install(tmp_path, monkeypatch, uri, says):
    monkeypatch.setattr(remote, "_installed", lambda package: package == "fsspec")
    with pytest.raises(NotRunnableLocally, match="The run did not start") as refused:
        kfp_notebook.run(remote_import, {"uri": uri}, runs_folder=tmp_path / "runs")
    assert says in str(refused.value) and "abc" not in str(refused.value)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*/run.json"))


def test_oci_is_refused_plainly_minio_needs_an_endpoint_and_an_extra_its_package(monkeypatch):
    monkeypatch.setattr(remote, "_installed", lambda package: package != "gcsfs")
    gs = importer_problem("gs://bucket/x", "dsl.importer 'imp'")
    assert gs == "dsl.importer 'imp' imports gs://bucket/x: importing gs:// objects locally needs gcsfs: " + (
        "pip install 'kfp-notebook-magics[gcs]', then rerun."
    )
    oci = importer_problem("oci://registry.example/model:1", "dsl.importer 'imp'")
    assert oci is not None and "cannot import oci:// artifacts" in oci and "oras pull" in oci
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    minio = importer_problem("minio://mlpipeline/v2/artifacts/x", "dsl.importer 'imp'")
    assert minio is not None and "kubectl port-forward" in minio and "AWS_ENDPOINT_URL=" in minio


def test_messages_show_no_user_password_or_signature():
    assert remote.shown("https://user:pw@host/x?sig=secret") == "https://host/x?…"
    assert remote.shown("s3://bucket/key") == "s3://bucket/key"


@pytest.mark.parametrize(
    ("info", "version"),
    [({"ETag": '"e1"', "LastModified": 1}, 'ETag="e1"'), ({"VersionId": "v2", "ETag": "e"}, "VersionId=v2"),
     ({"generation": "7"}, "generation=7"), ({"size": 3, "Last-Modified": "Mon"}, "size=3 modified=Mon"),
     ({"size": 3}, None),
     ({"type": "directory", "files": {"a": {"name": "a", "ETag": "1"}, "b": {"name": "b", "ETag": "2"}}},
      "a=ETag=1\nb=ETag=2")],
)  # fmt: skip
def test_an_objects_version_is_what_changes_when_it_changes(info, version):
    assert remote._version(info) == version


# -- against moto's S3 server -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_s3_object_is_imported_cached_by_etag_and_read_only(s3, tmp_path, monkeypatch):
    handle = run(f"s3://{BUCKET}/data/hello.txt", tmp_path / "runs")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-imported"].output == "hello from s3"
    copy = Path(handle.result()["importer"].artifacts["artifact"][0]["uri"])
    assert copy.read_bytes() == b"hello from s3" and not copy.stat().st_mode & stat.S_IWUSR
    assert copy.is_relative_to(tmp_path / "runs" / ".remote-cache")
    assert handle.result()["importer"].message == f"imported s3://{BUCKET}/data/hello.txt (local copy: {copy})"

    def no_download(*args):
        raise AssertionError("downloaded again")

    download = remote._download
    monkeypatch.setattr(remote, "_download", no_download)
    again = run(f"s3://{BUCKET}/data/hello.txt", tmp_path / "runs")
    assert again.state is TaskState.SUCCEEDED, messages(again)
    assert again.result()["importer"].artifacts["artifact"][0]["uri"] == str(copy)
    monkeypatch.setattr(remote, "_download", download)
    s3.put_object(Bucket=BUCKET, Key="data/hello.txt", Body=b"changed")  # a new ETag: fetched anew
    changed = run(f"s3://{BUCKET}/data/hello.txt", tmp_path / "runs")
    assert changed.result()["read-imported"].output == "changed", messages(changed)


@pytest.mark.slow
def test_an_s3_prefix_is_imported_as_a_folder_and_minio_goes_to_the_named_endpoint(s3, tmp_path):
    handle = run(f"s3://{BUCKET}/folder", tmp_path / "runs")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    folder = Path(handle.result()["importer"].artifacts["artifact"][0]["uri"])
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.txt", "part-1.txt"]
    minio = run(f"minio://{BUCKET}/data/hello.txt", tmp_path / "runs")
    assert minio.result()["read-imported"].output == "hello from s3", messages(minio)


@pytest.mark.slow
def test_a_missing_object_ends_the_run_before_any_task_starts(s3, tmp_path):
    with pytest.raises(NotRunnableLocally) as refused:
        run(f"s3://{BUCKET}/data/absent.txt", tmp_path / "runs")
    assert str(refused.value) == (
        f"dsl.importer 'importer' imports s3://{BUCKET}/data/absent.txt does not exist (or these credentials cannot "
        "list it): check the URI. The run did not start."
    )
    assert not list((tmp_path / "runs").glob("*/run.json"))


@pytest.mark.slow
def test_refused_credentials_end_the_run_and_no_secret_is_shown(s3, s3_server, tmp_path, monkeypatch):
    """moto checks access keys once its IAM authentication is switched on (/moto-api/reset-auth): a key it
    never issued is refused (403 to the HEAD that asks for the object, as S3 answers)."""
    import requests

    requests.post(f"{s3_server}/moto-api/reset-auth", data=b"0")
    try:
        with pytest.raises(NotRunnableLocally) as refused:
            run(f"s3://{BUCKET}/data/hello.txt", tmp_path / "runs")
    finally:
        requests.post(f"{s3_server}/moto-api/reset-auth", data=b"inf")
    message = str(refused.value)
    assert "the store refused access (403)" in message and "AWS_ACCESS_KEY_ID" in message
    assert SECRET not in message and "testing" not in message
    runs = tmp_path / "runs"
    assert not runs.exists() or all(SECRET not in p.read_text(errors="ignore") for p in runs.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_uri_known_only_when_the_importer_starts_is_fetched_then_or_fails_that_task(s3, tmp_path):
    runs = tmp_path / "runs"
    found = kfp_notebook.run(
        import_from_output, {"uri": f"s3://{BUCKET}/data/hello.txt"}, runs_folder=runs, cache=False
    )
    assert found.state is TaskState.SUCCEEDED and found.result()["read-imported"].output == "hello from s3"
    absent = kfp_notebook.run(
        import_from_output, {"uri": f"s3://{BUCKET}/data/absent.txt"}, runs_folder=runs, cache=False
    )
    assert absent.state is TaskState.FAILED
    assert absent.result()["importer"].message == (
        f"dsl.importer imports s3://{BUCKET}/data/absent.txt does not exist (or these credentials cannot list it): "
        "check the URI."
    )


# -- against a loopback HTTP server ---------------------------------------------------------------------------------


@pytest.fixture
def http_files(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "page.txt").write_text("hello from http", encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_an_http_object_is_imported_and_a_missing_one_refused(http_files, tmp_path):
    handle = run(f"{http_files}/page.txt", tmp_path / "runs")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-imported"].output == "hello from http"
    with pytest.raises(NotRunnableLocally, match=r"imports http://127\.0\.0\.1:\d+/absent\.txt does not exist"):
        run(f"{http_files}/absent.txt", tmp_path / "runs")


class Bare(http.server.BaseHTTPRequestHandler):
    """Serves one body with no ETag and no Last-Modified (nothing tells its version); GET waits for `release`."""

    body = b"no version"
    release = threading.Event()

    def do_HEAD(self):
        self._headers()

    def do_GET(self):
        self.release.wait(60)
        self._headers()
        self.wfile.write(self.body)

    def _headers(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def bare_http():
    Bare.release.set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bare)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Bare.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_an_object_without_a_version_is_kept_once_by_its_content(bare_http, tmp_path):
    """No ETag, no Last-Modified: it is downloaded each time (nothing says it is unchanged), but kept under its
    content's hash, so the cache does not grow by a folder per run."""
    cache = tmp_path / "cache"
    first, downloaded = remote.fetch(f"{bare_http}/thing.bin", cache)
    again, downloaded_again = remote.fetch(f"{bare_http}/thing.bin", cache)
    assert first == again and downloaded and downloaded_again
    assert Path(first).read_bytes() == b"no version"
    assert [p.name for p in cache.iterdir()] == [Path(first).parent.name]


@dsl.component
def independent() -> str:
    return "done"


@pytest.mark.slow
def test_a_slow_download_holds_up_no_other_task_and_the_store_is_asked_once(bare_http, tmp_path, monkeypatch):
    checks = []
    check = remote.check
    monkeypatch.setattr(remote, "check", lambda uri: checks.append(uri) or check(uri))

    @dsl.pipeline
    def slow_import(uri: str):
        imported = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        read_imported(data=imported.output).set_caching_options(False)
        independent().set_caching_options(False)

    Bare.release.clear()
    uri = f"{bare_http}/thing.bin"
    handle = kfp_notebook.run(slow_import, {"uri": uri}, runs_folder=tmp_path / "runs", wait=False)
    try:
        eventually(lambda: "independent" in handle.tasks and handle.tasks["independent"].state.finished, timeout=60)
        assert handle.tasks["independent"].state is TaskState.SUCCEEDED
        assert handle.tasks["importer"].state is TaskState.RUNNING  # still downloading
    finally:
        Bare.release.set()
    assert handle.wait(120) and handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-imported"].output == "no version"
    assert checks == [uri]  # the preflight's answer is what the import used
