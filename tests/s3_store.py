"""moto's S3 server on 127.0.0.1 for the remote-artifact tests: the server (one per module) and a bucket with the
AWS_* environment pointing at it (credentials, endpoint; no ~/.aws), driven by the real boto3 and s3fs."""

from __future__ import annotations

import pytest

BUCKET = "kfp-data"
SECRET = "not-the-real-secret-0123456789"


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """A bucket with one object and a folder of two, credentials and endpoint in the AWS_* environment."""
    import boto3
    import requests

    requests.post(f"{s3_server}/moto-api/reset")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="data/hello.txt", Body=b"hello from s3")
    for number in range(2):
        client.put_object(Bucket=BUCKET, Key=f"folder/part-{number}.txt", Body=f"part {number}".encode())
    return client


def refusing_keys(server: str) -> None:
    """moto checks access keys from now on (its IAM authentication): a key it never issued is refused."""
    import requests

    requests.post(f"{server}/moto-api/reset-auth", data=b"0")


def accepting_keys(server: str) -> None:
    import requests

    requests.post(f"{server}/moto-api/reset-auth", data=b"inf")
