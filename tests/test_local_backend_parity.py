"""Local runs behave as the KFP backend does: each pipeline asserts, inside its components, what the backend provides.

Every pipeline is written twice (through the magics and as hand-written kfp code): both compile to the same
YAML, and the magic version runs locally to the state it ends in on Kubeflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import kfp_notebook
from kfp_notebook.backends.local.platform import MissingSecretError
from kfp_notebook.backends.local.pod import UnsupportedFieldPath
from kfp_notebook.backends.local.runner import NotRunnableLocally
from kfp_notebook.tracking.states import TaskState

from helpers import fresh, run_cells, same_as_handwritten

pytestmark = pytest.mark.slow

PLACEHOLDERS = (
    [
        """def report_placeholders(job_name: str, resource: str, job_id: str, task_name: str, task_id: str,
                        created: str, scheduled: str) -> str:
    import re
    values = [job_name, resource, job_id, task_name, task_id, created, scheduled]
    assert all(v and '{{' not in v for v in values), values
    assert task_name == 'report-placeholders', task_name
    assert resource.startswith('placeholders-probe-'), resource
    assert re.fullmatch(r'[0-9a-f-]{36}', job_id) and task_id.isdigit(), (job_id, task_id)
    assert re.fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ', created) and scheduled == created
    return ','.join(values)
""",
    ],
    """def placeholders_probe():
    report_placeholders(job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                        resource=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER, job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                        task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER, task_id=dsl.PIPELINE_TASK_ID_PLACEHOLDER,
                        created=dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER,
                        scheduled=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER).set_caching_options(False)
""",
)

FINAL_STATUS = (
    [
        """def echo_status(status: dsl.PipelineTaskFinalStatus, expected: str):
    assert status.state == expected, status.state
    assert status.pipeline_job_resource_name.startswith('status-probe-'), status.pipeline_job_resource_name
    assert status.pipeline_task_name == 'exit-handler-1', status.pipeline_task_name
    if expected == 'COMPLETE':
        assert status.error_code is None and status.error_message is None
    else:
        assert status.error_code and 'guarded' in status.error_message, (status.error_code, status.error_message)
""",
        """def guarded(fail: bool):
    if fail:
        raise RuntimeError('guarded task fails on purpose')
""",
    ],
    """def status_probe(fail: bool = False, expected: str = 'COMPLETE'):
    echo = echo_status(expected=expected)
    with dsl.ExitHandler(exit_task=echo):
        guarded(fail=fail)
""",
)

POD_METADATA = (
    [
        """def read_pod(expected: dict):
    import os
    for variable, value in expected.items():
        assert os.environ.get(variable) == value, (variable, os.environ.get(variable), value)
    assert os.environ['POD_NAME'].startswith('pod-probe-') and os.environ['POD_NAMESPACE']
""",
    ],
    """def pod_probe():
    task = read_pod(expected={'LABEL': 'label-1', 'ANNOTATION': 'note-1', 'MISSING': ''})
    kubernetes.add_pod_label(task, 'task-label', 'label-1')
    kubernetes.add_pod_annotation(task, 'task-annotation', 'note-1')
    kubernetes.use_field_path_as_env(task, 'LABEL', "metadata.labels['task-label']")
    kubernetes.use_field_path_as_env(task, 'ANNOTATION', "metadata.annotations['task-annotation']")
    kubernetes.use_field_path_as_env(task, 'MISSING', "metadata.labels['not-set']")
    kubernetes.use_field_path_as_env(task, 'POD_NAME', 'metadata.name')
    kubernetes.use_field_path_as_env(task, 'POD_NAMESPACE', 'metadata.namespace')
""",
)

SECRETS = (
    [
        """def read_secret(expected: str):
    import hashlib, os
    assert hashlib.sha256(os.environ['PASSWORD'].encode()).hexdigest()[:12] == expected, 'another value'
""",
        """def read_secret_files(mount: str, expected: str):
    import hashlib, os
    with open(os.path.join(mount, 'password')) as f:
        assert hashlib.sha256(f.read().encode()).hexdigest()[:12] == expected, 'another value'
    assert sorted(os.listdir(mount)) == ['password', 'user']
    assert not os.stat(os.path.join(mount, 'user')).st_mode & 0o222, 'secret files are read-only'
""",
    ],
    """def secret_probe(secret: str = 'db-creds', others: list = ['team-a', 'team-b']):
    task = read_secret(expected='4e738ca5563c')
    kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env={'password': 'PASSWORD'})
    with dsl.ParallelFor(others) as team:
        each = read_secret(expected='7509900f69b7')
        kubernetes.use_secret_as_env(each, secret_name=team, secret_key_to_env={'password': 'PASSWORD'})
    files = read_secret_files(mount='/etc/creds', expected='00c72544a9c3')
    kubernetes.use_secret_as_volume(files, secret_name='file-creds', mount_path='/etc/creds')
""",
)

UPSTREAM_FAILURE = (
    [
        """def flaky() -> str:
    raise RuntimeError('upstream fails on purpose')
""",
        """def tolerant(message: str = 'default message') -> str:
    assert message == 'default message', message
    return message
""",
    ],
    """def upstream_probe():
    failing = flaky()
    tolerant(message=failing.output).ignore_upstream_failure()
""",
)

SETTINGS_FROM_OUTPUTS = (
    [
        """def limit() -> str:
    return '2'
""",
        """def limited(text: str) -> str:
    return text
""",
    ],
    """def settings_probe():
    cpu = limit()
    task = limited(text=f'cpu {cpu.output}')
    task.set_cpu_limit(cpu.output)
    task.set_accelerator_type(cpu.output).set_accelerator_limit(1)
    limited(text=task.output)
""",
)

CUSTOM_PATH = (
    [
        """def write_custom(out_dataset: Output[Dataset], where: str):
    out_dataset.set_path(where)
    with open(out_dataset.path, 'w') as f:
        f.write('Hello, World!')
    assert out_dataset.path == where and out_dataset.custom_path == where
""",
        """def read_dataset(in_dataset: Input[Dataset]) -> str:
    with open(in_dataset.path) as f:
        text = f.read()
    assert text == 'Hello, World!', text
    return text
""",
    ],
    """def custom_path_probe(where: str = '/tmp/kfp-notebook-custom-path-test.txt'):
    written = write_custom(where=where).set_caching_options(False)
    read_dataset(in_dataset=written.outputs['out_dataset'])
""",
)

IMPORTER = (
    [
        """def read_imported(data: Input[Dataset], expected: str) -> str:
    with open(data.path) as f:
        text = f.read()
    assert text == expected and data.metadata.get('origin') == 'test', (text, data.metadata)
    return text
""",
    ],
    """def importer_probe(uri: str = 'file:///tmp/kfp-notebook-import-test.txt'):
    by_path = dsl.importer(artifact_uri='/tmp/kfp-notebook-import-test.txt', artifact_class=dsl.Dataset,
                           metadata={'origin': 'test'})
    read_imported(data=by_path.output, expected='imported')
    by_uri = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset, metadata={'origin': 'test'}, reimport=True)
    read_imported(data=by_uri.output, expected='imported')
""",
)

WORKSPACE = (
    [
        """def write_workspace(workspace: str) -> str:
    import os
    assert workspace == '/kfp-workspace', workspace
    os.makedirs(os.path.join(workspace, 'data'), exist_ok=True)
    with open(os.path.join(workspace, 'data', 'note.txt'), 'w') as f:
        f.write('shared')
    return os.path.join(workspace, 'data', 'note.txt')
""",
        """def read_workspace(path: str) -> str:
    with open(path) as f:
        return f.read()
""",
    ],
    """def workspace_probe():
    written = write_workspace(workspace=dsl.WORKSPACE_PATH_PLACEHOLDER)
    read_workspace(path=written.output)
""",
)


def define(ip, probe: tuple[list[str], str], name: str) -> None:
    """Define the probe through the magics, after checking it compiles as the hand-written kfp version does."""
    components, pipeline = probe
    ours, theirs = same_as_handwritten(
        ip,
        ["from kfp import kubernetes", *("%%component\n" + c for c in components), "%%pipeline\n" + pipeline],
        ["from kfp import kubernetes", *("@dsl.component\n" + c for c in components), "@dsl.pipeline\n" + pipeline],
        name,
    )
    assert ours == theirs
    fresh(ip)
    run_cells(ip, "from kfp import kubernetes", *("%%component\n" + c for c in components), "%%pipeline\n" + pipeline)


@pytest.fixture
def run(ip, tmp_path):
    def run_probe(name: str, params: dict | None = None):
        handle = kfp_notebook.run(ip.user_ns[name], params, runs_folder=tmp_path / "runs", cache=False)
        handle.wait(120)
        return handle

    return run_probe


def states(handle) -> dict[str, str]:
    return {task_id: task.state for task_id, task in handle.result().tasks.items()}


def messages(handle) -> str:
    return "\n".join(f"{t.task_id}: {t.message}" for t in handle.result().tasks.values() if t.message)


def test_placeholders_get_the_backends_values(ip, run):
    define(ip, PLACEHOLDERS, "placeholders_probe")
    handle = run("placeholders_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    job, resource, *_ = handle.result()["report-placeholders"].output.split(",")
    assert job == resource == handle.run_id


ANCHOR = (
    [
        """def echo_placeholders(job_name: str, task_name: str, task_id: str) -> str:
    return ','.join([job_name, task_name, task_id])
""",
        """def read_text(data: Input[Dataset], names: str) -> str:
    with open(data.path) as f:
        import json
        return '|'.join([names, f.read(), data.uri, json.dumps(data.metadata, sort_keys=True)])
""",
    ],
    """def anchor_probe(path: str = '/tmp/kfp-notebook-import-test.txt') -> str:
    echoed = echo_placeholders(job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
                               task_id=dsl.PIPELINE_TASK_ID_PLACEHOLDER)
    imported = dsl.importer(artifact_uri=path, artifact_class=dsl.Dataset, metadata={'origin': 'test', 'n': 1})
    return read_text(data=imported.output, names=echoed.output).output
""",
)


def test_placeholders_and_the_importer_give_what_kfp_local_gives(ip, run, tmp_path, imported_file):
    """kfp.local, side by side (it has no value for the job resource name, create or schedule time: it crashes on
    the first and leaves the others as they are); the ids differ in form: ours are the backend's (see README)."""
    from kfp import local

    define(ip, ANCHOR, "anchor_probe")
    handle = run("anchor_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp-local"))
    theirs = ip.user_ns["anchor_probe"]().output.split("|")
    ours = handle.result()["read-text"].output.split("|")
    assert ours[1:] == theirs[1:] == ["imported", imported_file, '{"n": 1.0, "origin": "test"}']
    (job, task_name, task_id), (their_job, their_task_name, their_task_id) = ours[0].split(","), theirs[0].split(",")
    assert task_name == their_task_name == "echo-placeholders"
    assert job == handle.run_id and job.startswith("anchor-probe-") and their_job.startswith("anchor-probe-")
    assert task_id.isdigit() and their_task_id.isdigit()


@pytest.mark.parametrize(("fail", "expected", "run_state"), [(False, "COMPLETE", TaskState.SUCCEEDED),
                                                             (True, "FAILED", TaskState.FAILED)])  # fmt: skip
def test_the_exit_task_gets_the_final_status_the_backend_gives(ip, run, fail, expected, run_state):
    define(ip, FINAL_STATUS, "status_probe")
    handle = run("status_probe", {"fail": fail, "expected": expected})
    assert handle.state is run_state
    assert states(handle)["echo-status"] == "SUCCEEDED", messages(handle)


def test_field_paths_give_the_pods_labels_and_annotations(ip, run):
    define(ip, POD_METADATA, "pod_probe")
    handle = run("pod_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)


def test_a_field_path_kubernetes_does_not_offer_is_refused_before_the_run(ip, run):
    run_cells(ip, "from kfp import kubernetes", "%%component\ndef nothing():\n    pass\n",
              "%%pipeline\ndef bad_path():\n    kubernetes.use_field_path_as_env(nothing(), 'X', 'spec.containers')\n")  # fmt: skip
    with pytest.raises(UnsupportedFieldPath, match=r"'spec.containers'\) of nothing.*metadata.labels\['KEY'\]"):
        run("bad_path")


@pytest.fixture
def local_secrets(tmp_path, monkeypatch):
    """Secret values from the environment and from a secrets file; temporary folders of this test only."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("file-creds: {password: from-file, user: me}\n", encoding="utf-8")
    monkeypatch.setenv("KFP_NOTEBOOK_SECRETS", str(secrets))
    monkeypatch.setenv("KFP_SECRET_DB_CREDS_PASSWORD", "s3cr3t")
    monkeypatch.setenv("KFP_SECRET_TEAM_A_PASSWORD", "team-secret")
    monkeypatch.setenv("KFP_SECRET_TEAM_B_PASSWORD", "team-secret")
    return secrets


def test_secrets_named_by_parameters_and_loop_items_and_mounted_as_files(ip, run, local_secrets):
    define(ip, SECRETS, "secret_probe")
    handle = run("secret_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    written = [p.read_bytes() for p in Path(handle.result().folder).rglob("*") if p.is_file()]
    assert not [text for text in written if b"s3cr3t" in text or b"from-file" in text or b"team-secret" in text]
    assert os.listdir(local_secrets.parent / "tmp") == []  # the files of mounted secrets are gone


def test_a_secret_named_by_a_parameter_without_a_local_value_is_refused_before_the_run(ip, run, local_secrets):
    define(ip, SECRETS, "secret_probe")
    with pytest.raises(MissingSecretError, match=r"key 'password' of secret 'other-creds'.*KFP_SECRET_OTHER_CREDS_"):
        run("secret_probe", {"secret": "other-creds"})


def test_a_secret_named_by_a_loop_item_without_a_local_value_fails_that_task_saying_why(ip, run, local_secrets):
    define(ip, SECRETS, "secret_probe")
    handle = run("secret_probe", {"others": ["team-a", "team-c"]})
    assert handle.state is TaskState.FAILED
    failed = [t for t in handle.result().tasks.values() if t.state == "FAILED" and not t.task_id.endswith("]")]
    assert any("secret 'team-c'" in t.message for t in failed), messages(handle)


def test_ignore_upstream_failure_runs_the_task_with_the_inputs_default(ip, run):
    define(ip, UPSTREAM_FAILURE, "upstream_probe")
    handle = run("upstream_probe")
    assert handle.state is TaskState.FAILED  # as on Kubeflow: the failed upstream task fails the run
    assert states(handle) == {"flaky": "FAILED", "tolerant": "SUCCEEDED"}, messages(handle)
    assert handle.result()["tolerant"].output == "default message"


def test_task_outputs_feeding_task_settings_are_waited_for(ip, run):
    define(ip, SETTINGS_FROM_OUTPUTS, "settings_probe")
    handle = run("settings_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["limited-2"].output == "cpu 2"


def test_an_artifact_written_to_a_custom_path_reaches_the_downstream_task(ip, run):
    define(ip, CUSTOM_PATH, "custom_path_probe")
    handle = run("custom_path_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-dataset"].output == "Hello, World!"


IN_WORKSPACE = """def custom_path_in_workspace():
    folder = make_folder(path='/kfp-workspace/out')
    written = write_custom(where='/kfp-workspace/out/custom.txt').after(folder)
    read_dataset(in_dataset=written.outputs['out_dataset'])
"""


def test_an_artifact_written_to_a_custom_path_under_a_mount_path_reaches_the_downstream_task(ip, run):
    components, _ = CUSTOM_PATH
    make_folder = "def make_folder(path: str):\n    import os\n    os.makedirs(path, exist_ok=True)\n"
    config = "pipeline_config=dsl.PipelineConfig(workspace=dsl.WorkspaceConfig(size='1Gi'))"
    run_cells(
        ip, *("@dsl.component\n" + c for c in [*components, make_folder]), f"@dsl.pipeline({config})\n" + IN_WORKSPACE
    )
    handle = run("custom_path_in_workspace")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-dataset"].output == "Hello, World!"


@pytest.fixture
def imported_file():
    path = "/tmp/kfp-notebook-import-test.txt"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("imported")
    yield path
    os.remove(path)


def test_the_importer_imports_local_paths_and_file_uris(ip, run, imported_file):
    define(ip, IMPORTER, "importer_probe")
    handle = run("importer_probe")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["importer"].artifacts["artifact"][0]["uri"] == imported_file


@pytest.mark.parametrize(
    ("uri", "says"),
    [("gs://bucket/data.csv", r"needs gcsfs: pip install 'kfp-notebook-magics\[gcs\]'"),
     ("oci://registry.example/model:1", "local runs cannot import oci:// artifacts"),
     ("ftp://host/x", "local runs import a path, file://, s3://")],
)  # fmt: skip
def test_an_importer_of_an_unreadable_uri_is_refused_before_the_run(ip, run, imported_file, monkeypatch, uri, says):
    """Remote imports that work are in test_remote_imports.py; here, those refused (gcsfs made absent)."""
    from kfp_notebook.backends.local import remote

    monkeypatch.setattr(remote, "_installed", lambda package: package != "gcsfs")
    define(ip, IMPORTER, "importer_probe")
    with pytest.raises(NotRunnableLocally, match=says):
        run("importer_probe", {"uri": uri})
