"""kfp's own pipelines that import gs:// objects (test_data/sdk_compiled_pipelines/valid in the kubeflow/pipelines
mirror) run locally when the objects are reachable, here from a loopback fake of the GCS JSON API that gcsfs reaches
through STORAGE_EMULATOR_HOST, and are refused before the run when they are not. Skipped without the mirror or gcsfs.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gcs_store import FakeGcs, serve_gcs

import kfp_notebook
from kfp_notebook.backends.local.runner import NotRunnableLocally
from kfp_notebook.tracking.states import TaskState

MIRROR = Path(os.environ.get("KFP_NOTEBOOK_KFP_MIRROR", "/work/.mirror/kubeflow+pipelines/repo"))
VALID = "test_data/sdk_compiled_pipelines/valid"
OBJECTS = {"ml-pipeline-playground/shakespeare1.txt": b"to be", "ml-pipeline-playground/shakespeare2.txt": b"or not"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MIRROR.exists(), reason=f"the kubeflow/pipelines mirror is not at {MIRROR}"),
    pytest.mark.skipif(importlib.util.find_spec("gcsfs") is None, reason="gcsfs is not installed ([gcs] extra)"),
]


@pytest.fixture
def gcs(monkeypatch):
    server = serve_gcs(monkeypatch, OBJECTS)
    yield FakeGcs.objects
    server.shutdown()
    server.server_close()


def kfp_pipeline(name: str, tmp_path: Path):
    """A pipeline of the mirror's test data, imported from its file."""
    source = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"HEAD:{VALID}/{name}.py"], capture_output=True, text=True, check=True
    ).stdout
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"kfp_test_data_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.my_pipeline


@pytest.mark.parametrize("name", ["pipeline_with_importer", "pipeline_with_dynamic_importer_metadata"])
def test_kfps_importer_pipelines_run_locally_from_a_reachable_store(gcs, tmp_path, name):
    handle = kfp_notebook.run(kfp_pipeline(name, tmp_path), runs_folder=tmp_path / "runs", cache=False, wait=False)
    handle.wait(120)
    result = handle.result()
    assert handle.state is TaskState.SUCCEEDED, {t.task_id: t.message for t in result.tasks.values()}
    imported = [Path(t.artifacts["artifact"][0]["uri"]) for t in result.tasks.values() if "importer" in t.task_id]
    assert imported and {p.read_bytes() for p in imported} <= set(OBJECTS.values())


def test_kfps_importer_pipeline_is_refused_when_the_object_is_not_there(gcs, tmp_path):
    del gcs["ml-pipeline-playground/shakespeare1.txt"]
    with pytest.raises(NotRunnableLocally) as refused:
        kfp_notebook.run(kfp_pipeline("pipeline_with_importer", tmp_path), runs_folder=tmp_path / "runs")
    assert "gs://ml-pipeline-playground/shakespeare1.txt does not exist" in str(refused.value)
