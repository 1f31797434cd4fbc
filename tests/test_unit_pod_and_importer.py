"""The pod a local task stands in for (downward-API values) and what dsl.importer may import locally (no processes)."""

import pytest

from kfp_notebook.backends.local.importing import imported_artifact, importer_problem, local_path, missing_import
from kfp_notebook.backends.local.placeholders import RunInfo, run_placeholder
from kfp_notebook.backends.local.pod import Pod, UnsupportedFieldPath, check_field_paths, pod_environment, pod_name
from kfp_notebook.ir import Importer, Platform

POD = Pod("my-run-train", {"team": "a"}, {"owner": "me"})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("metadata.labels['team']", "a"),
        ("metadata.annotations['owner']", "me"),
        ("metadata.labels['absent']", ""),
        ("metadata.name", "my-run-train"),
        ("metadata.namespace", "local"),
        ("status.podIP", "127.0.0.1"),
    ],
)
def test_field_paths_give_what_the_kubelet_would(path, value):
    assert pod_environment(Platform(field_path_env=(("X", path),)), POD) == {"X": value}


@pytest.mark.parametrize("path", ["spec.containers", "metadata.labels", "status.phase", "limits.cpu"])
def test_field_paths_the_downward_api_lacks_are_refused_naming_the_valid_ones(path):
    with pytest.raises(UnsupportedFieldPath, match=rf"'{path}'\) of train.*metadata.annotations\['KEY'\]"):
        check_field_paths(Platform(field_path_env=(("X", path),)), "train")


def test_pod_names_are_valid_kubernetes_names():
    name = pod_name("My_Pipeline-20261202-171000-ab12", "for-loop-2[3]/train" + "x" * 80)
    assert len(name) <= 63 and name == name.lower() and not name.endswith("-") and "[" not in name


@pytest.mark.parametrize(
    ("uri", "path"),
    [("/data/x.csv", "/data/x.csv"), ("file:///data/x%20y.csv", "/data/x y.csv"), ("file://localhost/d", "/d"),
     ("gs://bucket/x", None), ("s3://b/x", None), ("https://host/x", None), ("file://server/share/x", None)],
)  # fmt: skip
def test_the_importer_reads_local_paths_and_file_uris_only(uri, path):
    assert local_path(uri) == path


def test_an_unknown_scheme_is_refused_and_a_missing_file_announced(tmp_path):
    refused = importer_problem("ftp://user:pw@host/x?sig=1", "dsl.importer 'imp'")
    assert refused == (
        "dsl.importer 'imp' imports 'ftp://host/x?…': local runs import a path, file://, s3://, minio://, gs://, "
        "http:// or https:// URI. Correct the URI, or submit this pipeline to Kubeflow."
    )
    assert importer_problem(str(tmp_path / "absent"), "dsl.importer 'imp'") is None  # the import itself goes on
    notice = missing_import(str(tmp_path / "absent"), "dsl.importer 'imp'")
    assert notice is not None and "does not exist on this machine: a task that reads it will fail" in notice
    assert missing_import(str(tmp_path), "dsl.importer 'imp'") is None
    assert missing_import("gs://b/x", "dsl.importer 'imp'") is None


def test_an_imported_artifacts_metadata_keys_are_filled_too(tmp_path):
    """kfp writes a task output used as a metadata key as an input placeholder in the key (kfp.local's test_importer)."""
    key, first, second = ("{{$.inputs.parameters['" + n + "']}}" for n in ("metadata", "metadata-2", "metadata-3"))
    importer = Importer(str(tmp_path), {"schemaTitle": "system.Dataset"}, {key: [first, second]})
    parameters = {"metadata": "message", "metadata-2": "hello", "metadata-3": "world"}
    assert imported_artifact(importer, parameters)["metadata"] == {"message": ["hello", "world"]}


def test_an_imported_artifact_has_the_local_path_as_uri_and_its_metadata_filled(tmp_path):
    importer = Importer(None, {"schemaTitle": "system.Dataset"}, {"origin": "{{$.inputs.parameters['who']}}-x"})
    artifact = imported_artifact(importer, {"uri": f"file://{tmp_path}", "who": "me"})
    assert artifact == {"name": "artifact", "type": {"schemaTitle": "system.Dataset"}, "uri": str(tmp_path),
                        "metadata": {"origin": "me-x"}}  # fmt: skip


def test_the_workspace_placeholder_becomes_the_backends_mount_path_inside_any_string():
    run = RunInfo.for_run("p-1")
    assert run_placeholder("{{$.workspace_path}}/data", run, "t", 1) == "/kfp-workspace/data"
    assert run_placeholder("{{$.pipeline_job_name}}-suffix", run, "t", 1) == "{{$.pipeline_job_name}}-suffix"


def test_a_secret_name_passed_down_into_a_loop_is_known_before_the_run_but_a_loop_item_is_not():
    from kfp import dsl, kubernetes

    from kfp_notebook.backends.local.runner import known_before_the_run
    from kfp_notebook.ir import PipelineIR

    @dsl.component(base_image="python:3.11")
    def reader():
        pass

    @dsl.pipeline
    def nested_secrets(secret: str = "db", teams: list = ["a"]):  # noqa: B006 (a pipeline default)
        with dsl.ParallelFor(teams) as team, dsl.If(secret != ""):
            kubernetes.use_secret_as_env(reader(), secret_name=secret, secret_key_to_env={"k": "K"})
            kubernetes.use_secret_as_env(reader(), secret_name=team, secret_key_to_env={"k": "K"})

    ir = PipelineIR.from_pipeline(nested_secrets)
    readers = [t for t in ir.walk() if not t.is_group]
    found = {t.name: known_before_the_run(ir, t.path, t.component.platform.secrets_as_env[0].secret, {"secret": "prod"})
             for t in readers}  # fmt: skip
    assert found == {"reader": "prod", "reader-2": None}
