"""What a local task sees matches its pod: its own environment, large inputs, the secrets file kept out of messages."""

from __future__ import annotations

import traceback

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow


@pytest.fixture
def run(ip, tmp_path):
    def run_pipeline(name: str, params: dict | None = None, **options):
        options.setdefault("runs_folder", tmp_path / "runs")
        options.setdefault("cache", False)
        return kfp_notebook.run(ip.user_ns[name], params, **options)

    return run_pipeline


def define(ip, *cells: str) -> None:
    for cell in cells:
        ip.run_cell(cell)


ENV_PROBE = [
    "%%component --env MODE=fast\ndef probe() -> str:\n    import json, os\n    return json.dumps(dict(os.environ))\n",
    "%%pipeline\ndef envs():\n    probe()\n",
]


def test_a_task_sees_only_the_base_its_env_and_what_is_passed_on_purpose(ip, run, monkeypatch):
    monkeypatch.setenv("KFP_SECRET_DB_CREDS_PASSWORD", "hunter2")
    monkeypatch.setenv("DEX_PASSWORD", "s3cret")
    monkeypatch.setenv("MY_TOKEN", "wanted")
    define(ip, *ENV_PROBE)
    seen = __import__("json").loads(run("envs").result()["probe"].output)
    assert seen["MODE"] == "fast" and "PATH" in seen
    assert not {"KFP_SECRET_DB_CREDS_PASSWORD", "DEX_PASSWORD", "MY_TOKEN"} & set(seen)
    ip.run_line_magic("config", "KfpMagics.task_env_passthrough = ['MY_TOKEN']")
    try:
        seen = __import__("json").loads(run("envs").result()["probe"].output)
    finally:
        ip.run_line_magic("config", "KfpMagics.task_env_passthrough = []")
    assert seen["MY_TOKEN"] == "wanted" and "DEX_PASSWORD" not in seen


def test_a_declared_secret_reaches_its_task_and_no_other(ip, run, monkeypatch):
    monkeypatch.setenv("KFP_SECRET_DB_CREDS_PASSWORD", "hunter2")
    define(
        ip,
        "%%component --secret db-creds:password=DB_PASSWORD\ndef use() -> str:\n    import os\n    return os.environ['DB_PASSWORD'][::-1]\n",
        "%%component\ndef other() -> str:\n    import os\n    return os.environ.get('DB_PASSWORD', 'none')\n",
        "%%pipeline\ndef secretive():\n    use()\n    other()\n",
    )
    result = run("secretive").result()
    assert (result["use"].output, result["other"].output) == ("2retnuh", "none")


def test_a_malformed_secrets_file_is_named_without_its_lines(ip, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("db-creds:\n  password: hunter2\n  - token: [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("KFP_NOTEBOOK_SECRETS", str(secrets))
    monkeypatch.setenv("KFP_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    define(
        ip,
        "%%component --secret db-creds:password=DB_PASSWORD\ndef use() -> int:\n    return 1\n",
        "%%pipeline\ndef secretive():\n    use()\n",
    )
    with pytest.raises(UsageError) as raised:
        ip.run_line_magic("kfp", "run secretive")
    message = str(raised.value)
    assert "not valid YAML near line 3" in message and str(secrets) in message
    shown = "".join(traceback.format_exception(raised.value.__context__))  # what show_tracebacks would print
    assert "hunter2" not in message + shown and "unclosed" not in message + shown


def test_an_input_larger_than_a_command_line_reaches_its_task(ip, run):
    define(
        ip,
        "%%component\ndef measure(text: str) -> int:\n    return len(text)\n",
        "%%pipeline\ndef big(text: str = 'x'):\n    measure(text=text)\n",
    )
    handle = run("big", {"text": "é" * 400_000})
    assert handle.state is TaskState.SUCCEEDED, handle.message
    assert handle.result()["measure"].output == 400_000


IMMUTABLE = [
    "%%component\ndef make(data: Output[Dataset], folder: Output[Model]):\n    import os\n    with open(data.path, 'w') as f:\n        f.write('abc')\n    os.makedirs(folder.path)\n    for name in 'xy':\n        with open(os.path.join(folder.path, name), 'w') as f:\n            f.write(name)\n",
    "%%component\ndef append(data: Input[Dataset]) -> str:\n    with open(data.path, 'a') as f:\n        f.write('tampered')\n    return 'appended'\n",
    "%%component\ndef prune(folder: Input[Model]) -> str:\n    import os\n    os.remove(os.path.join(folder.path, 'y'))\n    return 'pruned'\n",
    "%%component\ndef shell_append(data: Input[Dataset]) -> str:\n    import subprocess\n    subprocess.run(['sh', '-c', 'echo more >> ' + data.path], check=True)\n    return 'appended'\n",
    "%%component\ndef read(data: Input[Dataset], folder: Input[Model]) -> str:\n    import os\n    return open(data.path).read() + ':' + ','.join(sorted(os.listdir(folder.path)))\n",
]


@pytest.mark.parametrize("writer", ["append(data=made.outputs['data'])", "prune(folder=made.outputs['folder'])",
                                    "shell_append(data=made.outputs['data'])"])  # fmt: skip
def test_what_a_task_does_to_its_inputs_never_reaches_the_producer_the_cache_or_a_sibling(ip, run, writer):
    define(
        ip,
        *IMMUTABLE,
        "%%pipeline\ndef tamper():\n    made = make()\n    w = " + writer + "\n"
        "    r = read(data=made.outputs['data'], folder=made.outputs['folder']).after(w)\n",
    )
    first = run("tamper", cache=True)
    assert first.state is TaskState.FAILED
    task = next(t for t in first.result().tasks.values() if t.task_id not in ("make", "read"))
    assert task.state == "FAILED" and ("read-only" in task.message), task.message
    again = run("tamper", cache=True)
    assert again.result()["make"].state in ("CACHED", "SUCCEEDED")
    define(
        ip,
        "%%pipeline\ndef reader():\n    made = make()\n    read(data=made.outputs['data'], folder=made.outputs['folder'])\n",
    )
    assert run("reader", cache=True).result()["read"].output == "abc:x,y"
