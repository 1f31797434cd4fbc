"""Every credential the Kubeflow connection holds is redacted from what a server sends, and such text is shortened."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest
from IPython.core.error import UsageError

from kfp_notebook.backends.kubeflow import connect
from kfp_notebook.backends.kubeflow.artifacts import run_task
from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, resolve
from kfp_notebook.backends.kubeflow.redaction import SHOWN_CHARACTERS, redact, remember, server_text

from kfp_contract_server import contract_server
from loopback import serving

TOKEN = "tok.SECRET-4f9a8b7c6d5e"
COOKIE = "authservice_session=SESSION-77aa88bb99cc; oidc_state=STATE-1234567"
SECRET_PARTS = ("SECRET-4f9a8b7c6d5e", "SESSION-77aa88bb99cc", "STATE-1234567")


class EchoHeaders(BaseHTTPRequestHandler):
    """A gateway that answers every request with an error whose body quotes the request's headers, at length."""

    def _echo(self) -> None:
        headers = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        body = json.dumps({"request_headers": headers, "error": "upstream failed", "trace": "x" * 5000}).encode()
        self.send_response(502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _echo

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo():
    with serving(EchoHeaders) as url:
        yield url


@pytest.fixture(autouse=True)
def no_remembered_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("KF_PIPELINES_ENDPOINT", "KF_PIPELINES_UI_ENDPOINT", "KFP_NOTEBOOK_TOKEN", "KFP_NOTEBOOK_COOKIE"):
        monkeypatch.delenv(name, raising=False)


def assert_clean(text: str) -> None:
    for part in SECRET_PARTS:
        assert part not in text
    assert "***" in text
    assert "x" * (SHOWN_CHARACTERS + 1) not in text


@pytest.mark.parametrize(
    ("auth", "variable", "value"), [("token", "KFP_NOTEBOOK_TOKEN", TOKEN), ("cookie", "KFP_NOTEBOOK_COOKIE", COOKIE)]
)
def test_kfp_connect_never_shows_a_credential_a_gateway_echoes(ip, echo, monkeypatch, auth, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(UsageError) as refused:
        ip.run_line_magic("kfp", f"connect --host {echo}/pipeline --auth {auth}")
    message = str(refused.value)
    assert "HTTP 502" in message and "upstream failed" in message
    assert_clean(message)
    assert len(message) < SHOWN_CHARACTERS + 400


@pytest.mark.slow  # a KFP server, a gateway and ML Metadata's route, each over loopback
def test_texts_the_ui_sends_are_redacted_and_shortened(echo, monkeypatch):
    monkeypatch.setenv("KFP_NOTEBOOK_TOKEN", TOKEN)
    with contract_server() as (host, _):
        backend = connect(resolve(host, "kubeflow", "token", ui_host=echo))
        with pytest.raises(KubeflowConnectionError) as refused:
            backend._get_text("/k8s/pod/logs", {"podname": "train-pod"})  # how pod logs are read
        assert "HTTP 502" in str(refused.value)
        assert_clean(str(refused.value))
        with pytest.raises(KubeflowConnectionError) as refused:
            run_task(backend, "run-1", "train")  # artifacts, through ML Metadata's grpc-web route
        assert TOKEN not in str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abcdefghijklmnop",
        '{"authorization": "Basic dXNlcjpwYXNzd29yZA=="}',
        "cookie=sess=zzzzzzzzzzzz; other=yyyyyyyyyyy",
        "X-Auth-Token: 0123456789abcdef",
        "set-cookie: id=0123456789; Path=/",
    ],
)
def test_credential_headers_are_redacted_even_when_we_never_held_them(text):
    shown = redact(text)
    assert "***" in shown
    for secret in ("abcdefghijklmnop", "dXNlcjpwYXNzd29yZA", "zzzzzzzzzzzz", "0123456789abcdef", "0123456789"):
        assert secret not in shown


def test_remembered_credentials_are_redacted_anywhere_in_a_text():
    remember("pw-Very-Secret-9", "a=cookievalue123; b=othervalue456")
    shown = server_text("you sent pw-Very-Secret-9 and cookievalue123 and othervalue456\nbye")
    assert shown == "you sent *** and *** and *** bye"
    assert server_text("y" * 1000).endswith("… (700 more characters)")


def test_a_remembered_connection_keeps_every_setting_and_a_flag_given_now_wins(monkeypatch, tmp_path):
    from kfp_notebook.backends.kubeflow.connection import Connection, remember

    given = Connection("https://kfp.example/pipeline", "team", "token", "https://ui.example", "/ca.pem", True, 30, "me")
    remember(given)
    assert resolve(None, None, None) == given
    verified = resolve(None, None, None, ui_host="https://other-ui", ca_cert="/other.pem")
    assert verified.ca_cert == "/other.pem" and verified.insecure is False  # a CA given now is used, not skipped
    assert resolve(None, None, None, ui_host="https://other-ui").ui_host == "https://other-ui"
    monkeypatch.setenv("KF_PIPELINES_UI_ENDPOINT", "https://env-ui")
    assert resolve(None, None, None).ui_host == "https://env-ui"  # the environment over what was remembered
    assert resolve("https://h", None, None, ui_host="https://flag-ui").ui_host == "https://flag-ui"  # a flag over both
    assert resolve("https://h", None, None).ui_host == "https://env-ui"


def test_connect_help_lists_every_flag_connect_takes():
    import re

    from kfp_notebook.commands import KFP
    from kfp_notebook.magics.help_texts import KFP_HELP

    block = KFP_HELP.split("%kfp connect", 1)[1].split("%kfp submit", 1)[0]
    assert set(re.findall(r"(?<![\w$])--[a-z][a-z-]*", block)) == KFP["connect"].flags()
