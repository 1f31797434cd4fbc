"""`--pipeline-root`: a local run's outputs where Kubeflow would put them, {root}/{pipeline}/{run id}/{task}/{uuid}/
{output}; remote roots (s3://, gs://, minio://) uploaded after the task, read back downstream and by the results
views; a bad root, a missing extra or refused credentials refused before any task starts. The server tests run
against moto's S3 server on 127.0.0.1 (tests/s3_store.py), driven by the real boto3 and s3fs."""

# no `from __future__ import annotations`: kfp reads the components' annotations as objects

import importlib.util
import re
from pathlib import Path

import gcs_store
import pytest
import s3_store
from kfp import dsl
from s3_store import BUCKET, SECRET

import kfp_notebook
from kfp_notebook.backends.local import LocalOptions, remote
from kfp_notebook.backends.local.details import LocalFiles
from kfp_notebook.backends.local.pipeline_root import checked_root, task_root, upload_outputs
from kfp_notebook.backends.local.runner import NotRunnableLocally
from kfp_notebook.errors import OptionError
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.view.artifacts import task_views

from helpers import eventually

s3_server, s3, gcs_bucket = s3_store.s3_server, s3_store.s3, gcs_store.gcs_bucket  # the fixtures
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dsl.component
def produce(text: str, marker: str, data: dsl.Output[dsl.Dataset], report: dsl.Output[dsl.Markdown]):
    import os
    import time

    for _ in range(600):  # a test may hold the task here (bounded: 60 s) until it changed the store
        if not marker or os.path.exists(marker):
            break
        time.sleep(0.1)
    with open(data.path, "w") as handle:
        handle.write(text)
    with open(report.path, "w") as handle:
        handle.write(f"# Report\n\n{text}")


@dsl.component
def consume(data: dsl.Input[dsl.Dataset]) -> str:
    with open(data.path) as handle:
        return f"{handle.read()}|{data.uri}|{data.path}"


@dsl.pipeline(name="two-steps")
def two_steps(text: str = "hello", marker: str = ""):
    consume(data=produce(text=text, marker=marker).outputs["data"])


def job_id(handle) -> str:
    """The run's UUID (PIPELINE_JOB_ID_PLACEHOLDER's value): the driver's {run id} in output URIs."""
    from kfp_notebook.backends.local.placeholders import RunInfo

    return RunInfo.for_run(handle.run_id).job_id


def messages(handle) -> str:
    return "\n".join(f"{t.task_id}: {t.message}" for t in handle.result().tasks.values() if t.message)


# -- without a server ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "says"),
    [
        ("http://host/p", "--pipeline-root 'http://host/p': a pipeline root is a local folder, file:///folder, "
         "s3://bucket/prefix, gs://bucket/prefix or minio://bucket/prefix"),
        ("ftp://host/p", "a pipeline root is a local folder"),
        ("s3:///prefix", "--pipeline-root 's3:///prefix': name a bucket and an optional prefix, no query"),
        ("s3://bucket/p?region=x", "no query"),
        ("file://otherhost/p", "a file:// root names a folder of this machine"),
        ("s3://AKIAKEY:s3cret@bucket/p", "--pipeline-root 's3://bucket/p': credentials do not belong in the URI; "
         "they come from the AWS_* environment"),
    ],
)  # fmt: skip
def test_a_bad_root_is_refused_with_the_valid_ones(root, says):
    with pytest.raises(OptionError) as refused:
        LocalOptions(pipeline_root=root)
    assert says in str(refused.value) and "s3cret" not in str(refused.value) and "AKIAKEY" not in str(refused.value)


def test_a_local_root_is_absolute_a_remote_one_kept_and_a_missing_extra_names_the_install(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert checked_root("out") == str(tmp_path / "out")
    assert checked_root(f"file://{tmp_path}/x") == str(tmp_path / "x")
    assert checked_root(None) is None and checked_root("") is None
    assert LocalOptions(pipeline_root="s3://bucket/prefix/").pipeline_root == "s3://bucket/prefix"
    monkeypatch.setattr(remote, "_installed", lambda package: package == "fsspec")
    with pytest.raises(OptionError) as refused:
        LocalOptions(pipeline_root="gs://bucket/p")
    assert str(refused.value) == (
        "--pipeline-root gs://bucket/p: a pipeline root on gs:// needs gcsfs: pip install 'kfp-notebook-magics[gcs]', "
        "then rerun."
    )


def test_the_layout_is_the_drivers_a_new_uuid_for_each_execution():
    first = task_root("s3://b/p/", "two-steps", "run-1", "produce")
    assert re.fullmatch(f"s3://b/p/two-steps/run-1/produce/{UUID}", first)
    assert task_root("s3://b/p", "two-steps", "run-1", "produce") != first


def test_the_magic_and_the_cli_declare_the_option_once_and_the_setting_reaches_the_run_options(ip):
    from kfp_notebook.commands import CLI, KFP, PIPELINE_ROOT

    assert PIPELINE_ROOT in KFP["run"].options and PIPELINE_ROOT in CLI["run"].options
    ip.run_cell("%config KfpMagics.pipeline_root = 's3://bucket/p'")
    magics = ip.magics_manager.registry["KfpMagics"]
    assert magics.session.settings.run_defaults()["pipeline_root"] == "s3://bucket/p"


def test_the_magic_refuses_a_bad_root_plainly(ip, tmp_path):
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    ip.user_ns["two_steps"] = two_steps
    with pytest.raises(Exception, match=r"--pipeline-root 'ftp://host/p': a pipeline root is a local folder"):
        ip.run_cell("%kfp run two_steps --pipeline-root ftp://host/p")
    assert not list((tmp_path / "runs").glob("*/run.json"))


@pytest.mark.slow
def test_a_bad_root_refuses_the_run_before_a_run_folder_exists(tmp_path):
    with pytest.raises(OptionError, match="a pipeline root is a local folder"):
        kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root="http://host/p")
    assert not list((tmp_path / "runs").glob("*/run.json"))


@pytest.mark.slow
def test_a_local_root_holds_the_outputs_in_the_drivers_layout(tmp_path):
    handle = kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root=str(tmp_path / "root"))
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    uri = handle.result()["produce"].artifacts["data"][0]["uri"]
    assert re.fullmatch(f"{tmp_path}/root/two-steps/{job_id(handle)}/produce/{UUID}/data", uri)
    assert Path(uri).read_text() == "hello"
    assert handle.result()["consume"].output == f"hello|{uri}|{uri}"


# -- against moto's S3 server -------------------------------------------------------------------------------------


def objects(client, prefix: str = "") -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


@pytest.mark.slow
def test_outputs_go_to_the_bucket_and_are_read_back_downstream_and_by_show_artifact(s3, tmp_path, ip, capsys):
    runs = tmp_path / "runs"
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(runs)!r}")
    ip.run_cell("%config KfpMagics.panel = False")
    ip.user_ns["two_steps"] = two_steps
    handle = ip.run_cell(f"%kfp run two_steps --no-wait --no-cache --pipeline-root s3://{BUCKET}/p").result
    assert handle.wait(120) and handle.state is TaskState.SUCCEEDED, messages(handle)
    produced = handle.result()["produce"].artifacts
    uri = produced["data"][0]["uri"]
    match = re.fullmatch(f"s3://{BUCKET}/(p/two-steps/{job_id(handle)}/produce/{UUID})/data", uri)
    assert match, uri
    stored = objects(s3, "p/")
    assert stored == {f"{match[1]}/data": b"hello", f"{match[1]}/report": b"# Report\n\nhello"}
    assert produced["report"][0]["uri"] == f"s3://{BUCKET}/{match[1]}/report"
    # downstream: the same bytes, the remote URI, and the path of the launcher's local mount
    assert handle.result()["consume"].output == f"hello|{uri}|/s3/{uri.removeprefix('s3://')}"
    # the runs folder does not hold the only copy: without its files, show-artifact reads the bucket
    for path in sorted(runs.rglob("*"), reverse=True):
        if path.is_file() and ("/artifacts/" in str(path) or ".remote-cache" in str(path)):
            path.chmod(0o600)
            path.unlink()
    capsys.readouterr()
    ip.run_cell("%kfp show-artifact produce.report")
    assert "Report" in capsys.readouterr().out
    views = task_views(handle.result()["produce"], "data", LocalFiles(tmp_path / "elsewhere"))
    assert "hello" in views[0].text
    assert all(SECRET not in p.read_text(errors="ignore") for p in runs.rglob("*") if p.is_file())
    s3.delete_object(Bucket=BUCKET, Key=f"{match[1]}/report")  # gone from the store too: said so, no traceback
    [gone] = task_views(handle.result()["produce"], "report", LocalFiles(tmp_path / "empty-cache"))
    assert gone.text == (
        f"cannot draw system.Markdown artifact at s3://{BUCKET}/{match[1]}/report: s3://{BUCKET}/{match[1]}/report "
        "does not exist (or these credentials cannot list it): check the URI."
    )


@pytest.mark.slow
def test_a_failed_upload_fails_the_task_plainly_and_lists_no_output(s3, tmp_path):
    marker = tmp_path / "go"
    handle = kfp_notebook.run(two_steps, {"marker": str(marker)}, runs_folder=tmp_path / "runs", cache=False,
                              pipeline_root=f"s3://{BUCKET}/p", wait=False)  # fmt: skip
    eventually(lambda: "produce" in handle.tasks and handle.tasks["produce"].state is TaskState.RUNNING, timeout=60)
    for key in objects(s3):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)
    marker.write_text("go")
    assert handle.wait(120) and handle.state is TaskState.FAILED
    produce = handle.result()["produce"]
    assert produce.state == "FAILED" and produce.artifacts == {}
    assert re.fullmatch(
        f"its output 'data' could not be uploaded: s3://{BUCKET}/p/two-steps/{job_id(handle)}/produce/{UUID}/data "
        f"cannot be written: the bucket '{BUCKET}' does not exist \\(or cannot be seen with these credentials\\)\\.",
        produce.message,
    ), produce.message
    assert handle.result()["consume"].state == "SKIPPED"


@pytest.mark.slow
def test_an_upload_failing_halfway_removes_what_it_uploaded(s3, tmp_path):
    folder = tmp_path / "out"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights").write_bytes(b"w")
    (folder / "data").write_text("d")
    artifacts = {
        "model": [{"uri": f"s3://{BUCKET}/run/model"}],
        "data": [{"uri": "s3://no-such-bucket/run/data"}],
    }
    mounts = {f"/s3/{BUCKET}/run": str(folder), "/s3/no-such-bucket/run": str(folder)}
    with pytest.raises(remote.RemoteObjectError, match="its output 'data' could not be uploaded"):
        upload_outputs(artifacts, mounts)
    assert objects(s3, "run/") == {}


@pytest.mark.slow
def test_refused_credentials_end_the_run_before_any_task_and_no_secret_is_anywhere(s3, s3_server, tmp_path):
    runs = tmp_path / "runs"
    s3_store.refusing_keys(s3_server)
    try:
        with pytest.raises(NotRunnableLocally) as refused:
            kfp_notebook.run(two_steps, runs_folder=runs, pipeline_root=f"s3://{BUCKET}/p")
    finally:
        s3_store.accepting_keys(s3_server)
    message = str(refused.value)
    assert message == (
        f"--pipeline-root s3://{BUCKET}/p cannot be written: the store refused access (403). Credentials come from "
        f"{remote.STORES['s3'].credentials}. The run did not start."
    )
    assert not list(runs.glob("*/run.json"))
    assert all(SECRET not in p.read_text(errors="ignore") for p in runs.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_missing_bucket_ends_the_run_before_any_task_naming_it(s3, tmp_path):
    with pytest.raises(NotRunnableLocally, match="the bucket 'absent-bucket' does not exist"):
        kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root="s3://absent-bucket/p")


@pytest.mark.slow
def test_a_cache_hit_whose_object_was_removed_runs_again(s3, tmp_path):
    runs, root = tmp_path / "runs", f"s3://{BUCKET}/p"
    first = kfp_notebook.run(two_steps, runs_folder=runs, pipeline_root=root)
    assert first.state is TaskState.SUCCEEDED, messages(first)
    hit = kfp_notebook.run(two_steps, runs_folder=runs, pipeline_root=root)
    assert [hit.tasks[t].state for t in ("produce", "consume")] == [TaskState.CACHED, TaskState.CACHED]
    data = first.result()["produce"].artifacts["data"][0]["uri"]
    s3.delete_object(Bucket=BUCKET, Key=data.removeprefix(f"s3://{BUCKET}/"))
    again = kfp_notebook.run(two_steps, runs_folder=runs, pipeline_root=root)
    assert again.tasks["produce"].state is TaskState.SUCCEEDED, messages(again)
    new = again.result()["produce"].artifacts["data"][0]["uri"]
    assert new != data and objects(s3, new.removeprefix(f"s3://{BUCKET}/")) != {}
    # the consumer's input has the same content (the same ETag) as the one it was cached with: a hit, as locally
    assert again.tasks["consume"].state is TaskState.CACHED
    local = kfp_notebook.run(two_steps, runs_folder=runs)  # outputs asked for in the bucket are not reused locally
    assert local.tasks["produce"].state is TaskState.SUCCEEDED


@pytest.mark.slow
def test_a_remote_input_is_downloaded_once_per_version(s3, tmp_path, monkeypatch):
    calls = []
    download = remote._download
    monkeypatch.setattr(remote, "_download", lambda *args: calls.append(args[0]) or download(*args))
    runs = tmp_path / "runs"
    handle = kfp_notebook.run(two_steps, runs_folder=runs, pipeline_root=f"s3://{BUCKET}/p", cache=False)
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert calls == [handle.result()["produce"].artifacts["data"][0]["uri"]]


def test_the_command_line_passes_the_root_to_the_notebooks_run(monkeypatch, tmp_path):
    import contextlib

    from kfp_notebook.headless import cli

    cells = []

    class Notebook:
        def act(self, cell):
            cells.append(cell)
            return {"run_id": "r", "backend": "local", "state": "SUCCEEDED", "link": "", "tasks": {}, "message": ""}

    monkeypatch.setattr(cli, "_kernel", lambda args, output: contextlib.nullcontext(Notebook()))
    assert cli.main(["run", "nb.ipynb", "--pipeline-root", "s3://bucket/p", "--runs-dir", str(tmp_path)]) == 0
    assert "'run --no-wait --pipeline-root s3://bucket/p'" in cells[0]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is None, reason="gcsfs is not installed ([gcs] extra)")
def test_a_gs_root_through_a_loopback_gcs_fake(gcs_bucket, tmp_path):
    handle = kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root="gs://kfp-gcs/p", cache=False)
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    uri = handle.result()["produce"].artifacts["data"][0]["uri"]
    assert re.fullmatch(f"gs://kfp-gcs/p/two-steps/{job_id(handle)}/produce/{UUID}/data", uri)
    assert gcs_bucket[uri.removeprefix("gs://")] == b"hello"
    assert handle.result()["consume"].output == f"hello|{uri}|/gcs/{uri.removeprefix('gs://')}"
    with pytest.raises(NotRunnableLocally, match="the bucket 'absent' does not exist"):
        kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root="gs://absent/p")


@dsl.component
def score(data: dsl.Input[dsl.Dataset], metrics: dsl.Output[dsl.Metrics], model: dsl.Output[dsl.Model]):
    metrics.log_metric("accuracy", 0.75)
    with open(model.path, "w") as handle:
        handle.write("weights")


@dsl.pipeline(name="scored")
def scored() -> dsl.Model:
    return score(data=produce(text="x", marker="").outputs["data"]).outputs["model"]


@pytest.mark.slow
def test_history_compare_and_pipeline_outputs_of_a_remote_root(s3, tmp_path, monkeypatch):
    from kfp_notebook.session import Session

    session = Session()
    session.settings.runs_dir = str(tmp_path / "runs")
    monkeypatch.setattr(Session, "current", staticmethod(lambda: session))
    handle = kfp_notebook.run(scored, pipeline_root=f"s3://{BUCKET}/p", cache=False)
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    [record] = kfp_notebook.runs("scored")
    assert record.metrics["score"] == {"accuracy": 0.75}
    model = handle.result().outputs["Output"]
    assert model["uri"].startswith(f"s3://{BUCKET}/p/scored/{job_id(handle)}/score/")
    for path in (tmp_path / "runs").rglob("artifacts/model"):
        path.chmod(0o600)
        path.unlink()  # the local copy gone: the bucket's is read
    local = kfp_notebook.read_artifact(model)
    assert Path(local).read_text() == "weights" and Path(local).is_relative_to(tmp_path / "runs" / ".remote-cache")


@pytest.mark.slow
def test_a_local_root_that_cannot_be_written_refuses_the_run(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(NotRunnableLocally, match=r"--pipeline-root .*/file/root: the folder cannot be written"):
        kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root=str(blocked / "root"))


@dsl.component
def numbered(number: int, data: dsl.Output[dsl.Dataset]):
    with open(data.path, "w") as handle:
        handle.write(str(number))


@dsl.component
def total(parts: dsl.Input[list[dsl.Dataset]]) -> str:
    return ",".join(sorted(open(p.path).read() for p in parts)) + "|" + ",".join(sorted(p.path[:4] for p in parts))


@dsl.pipeline(name="fan-in")
def fan_in():
    with dsl.ParallelFor([1, 2, 3]) as number:
        made = numbered(number=number)
    total(parts=dsl.Collected(made.outputs["data"]))


@pytest.mark.slow
def test_loop_iterations_get_their_own_execution_folder_and_a_minio_root_its_mount(s3, tmp_path):
    handle = kfp_notebook.run(fan_in, runs_folder=tmp_path / "runs", pipeline_root=f"minio://{BUCKET}/m", cache=False)
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    keys = sorted(objects(s3, "m/"))
    assert len(keys) == 3 and all(re.fullmatch(f"m/fan-in/{job_id(handle)}/numbered/{UUID}/data", k) for k in keys)
    assert handle.result()["total"].output == "1,2,3|/min,/min,/min"


@dsl.component
def report_metrics(metrics: dsl.Output[dsl.Metrics]):
    metrics.log_metric("accuracy", 0.5)


@dsl.component
def read_metrics(metrics: dsl.Input[dsl.Metrics], data: dsl.Input[dsl.Dataset]) -> str:
    import os

    return f"{metrics.metadata['accuracy']} {os.path.exists(metrics.path)} {os.path.exists(data.path)}"


@dsl.pipeline(name="metrics-downstream")
def metrics_downstream():
    made = produce(text="x", marker="")
    read_metrics(metrics=report_metrics().outputs["metrics"], data=made.outputs["data"])


@pytest.mark.slow
def test_an_output_without_a_file_is_skipped_as_the_launcher_skips_it_other_failures_name_the_input(
    s3, s3_server, tmp_path
):
    """A Metrics output has no file: nothing is uploaded and its consumer still runs, reading its metadata (on
    Kubeflow the launcher skips an input it finds no object for); a refused download fails the consumer."""
    from kfp_notebook.backends.local import pipeline_root

    runs, root = tmp_path / "runs", f"s3://{BUCKET}/p"
    handle = kfp_notebook.run(metrics_downstream, runs_folder=runs, pipeline_root=root, cache=False)
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert handle.result()["read-metrics"].output == "0.5 False True"
    again = kfp_notebook.run(metrics_downstream, runs_folder=runs, pipeline_root=root)  # fills the cache
    hit = kfp_notebook.run(metrics_downstream, runs_folder=runs, pipeline_root=root)
    assert again.state is TaskState.SUCCEEDED and hit.tasks["read-metrics"].state is TaskState.CACHED
    uri = handle.result()["produce"].artifacts["data"][0]["uri"]
    s3_store.refusing_keys(s3_server)
    try:
        with pytest.raises(remote.RemoteObjectError) as failed:
            pipeline_root.fetch_inputs({"data": [{"uri": uri}]}, tmp_path / "empty-cache")
    finally:
        s3_store.accepting_keys(s3_server)
    assert str(failed.value).startswith(f"its input 'data' could not be read: {uri}: the store refused access (403)")


@pytest.mark.slow
def test_a_consumers_cache_key_asks_the_store_nothing_on_the_schedulers_thread(s3, tmp_path, monkeypatch):
    """What this run uploaded is known: its consumers' keys take the fingerprint kept at upload (on a worker)."""
    import threading

    asked = []
    check = remote.check
    monkeypatch.setattr(remote, "check", lambda uri: asked.append(threading.current_thread().name) or check(uri))
    handle = kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root=f"s3://{BUCKET}/p")
    assert handle.state is TaskState.SUCCEEDED, messages(handle)
    assert asked and not [name for name in asked if name.startswith("kfp-run-")], asked
    hit = kfp_notebook.run(two_steps, runs_folder=tmp_path / "runs", pipeline_root=f"s3://{BUCKET}/p")
    assert [hit.tasks[t].state for t in ("produce", "consume")] == [TaskState.CACHED, TaskState.CACHED]
