"""The kfp-notebook command end to end: `python -m kfp_notebook` on copies of the example notebooks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import nbformat
from kfp_contract_server import contract_server

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "XDG_CONFIG_HOME": str(cwd / ".config"), "KUBECONFIG": "", "HOME": str(cwd)}
    environment.pop("KF_PIPELINES_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "kfp_notebook", *args],
        cwd=cwd,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder(tmp_path) -> Path:
    for name in ("quickstart", "resources"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    return tmp_path


def write_notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(("name", "pipeline"), [("quickstart", "add_pipeline"), ("resources", "resources_example")])
def test_compile_is_byte_identical_to_the_magic_and_the_notebook_is_unchanged(ip, folder, name, pipeline):
    notebook = folder / f"{name}.ipynb"
    before = digest(notebook)
    done = cli("compile", notebook.name, "-o", "out", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pipeline"] == pipeline and result["path"] == str(folder / "out" / f"{pipeline}.yaml")
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code" and not cell.source.startswith(("%load_ext", "%kfp")):
            ip.run_cell(cell.source)
    ip.run_cell(f"%kfp compile {pipeline} -o magic.yaml")
    assert (folder / "out" / f"{pipeline}.yaml").read_bytes() == (folder / "magic.yaml").read_bytes()
    assert digest(notebook) == before


def test_compile_to_a_file_and_by_pipeline_name(folder):
    done = cli("compile", "quickstart.ipynb", "add_pipeline", "-o", "pipelines/add.yaml", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"compiled add_pipeline to {folder / 'pipelines' / 'add.yaml'}")
    assert (folder / "pipelines" / "add.yaml").read_text(encoding="utf-8").startswith("# PIPELINE DEFINITION")


def test_run_succeeds_with_typed_parameters_and_reports_json(folder):
    notebook = folder / "quickstart.ipynb"
    before = digest(notebook)
    done = cli("run", notebook.name, "--param", "a=2", "--json", "--runs-dir", "runs", cwd=folder)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"run_id", "pipeline", "backend", "state", "message", "link", "outputs", "tasks", "metrics"}
    assert (result["state"], result["backend"], result["pipeline"]) == ("SUCCEEDED", "local", "add-pipeline")
    assert result["tasks"]["add"] == {"state": "SUCCEEDED", "outputs": {"Output": 6.0}, "metrics": {}, "message": ""}
    assert result["metrics"] == {"report": {"total": 13.0}}
    assert "add SUCCEEDED" in done.stderr  # progress lines (plain: stderr is not a terminal here)
    assert digest(notebook) == before
    assert not (folder / "kfp_runs").exists(), "the notebook's own `%kfp run` cell is not executed"
    listing = cli("runs", "--runs-dir", "runs", "--json", cwd=folder)
    assert [r["run_id"] for r in json.loads(listing.stdout)] == [result["run_id"]]
    log = cli("logs", "add", "--runs-dir", "runs", "--tail", "1", cwd=folder)
    assert log.returncode == 0 and "Wrote executor output file" in log.stdout and log.stdout.count("\n") == 1


def test_run_reports_the_pipelines_outputs_and_runs_a_component_by_name(tmp_path):
    cells = [
        ("%load_ext kfp_notebook", []),
        ("%%component\ndef double(x: int) -> int:\n    return 2 * x\n", []),
        ("%%pipeline\ndef twice(x: int = 2) -> int:\n    return double(x=double(x=x).output).output\n", []),
    ]
    write_notebook(tmp_path / "outputs.ipynb", cells)
    done = cli("run", "outputs.ipynb", "twice", "--param", "x=5", "--json", "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"Output": 20}
    listing = json.loads(cli("runs", "--runs-dir", "runs", "--json", cwd=tmp_path).stdout)
    assert listing[0]["outputs"] == {"Output": 20}
    alone = cli("run", "outputs.ipynb", "double", "--param", "x=4", "--runs-dir", "runs", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert "  double: SUCCEEDED · Output=8" in alone.stdout and "  outputs: Output=8" in alone.stdout


def test_a_failing_pipeline_exits_1_with_the_task_message(tmp_path):
    write_notebook(
        tmp_path / "failing.ipynb",
        [
            ("%load_ext kfp_notebook", []),
            ("%%component\ndef boom(x: int) -> int:\n    raise ValueError(f'bad x {x}')\n", []),
            ("%%pipeline\ndef failing(x: int = 3):\n    boom(x=x)\n", []),
        ],
    )
    done = cli("run", "failing.ipynb", "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "(local): FAILED" in done.stdout and "boom: FAILED · ValueError: bad x 3" in done.stdout


def test_kfp_skip_cells_are_not_executed(tmp_path):
    write_notebook(
        tmp_path / "skip.ipynb",
        [
            ("%load_ext kfp_notebook", []),
            ("open('explored.txt', 'w').write('heavy exploration')", ["kfp-skip"]),
            ("%%component\ndef one() -> int:\n    return 1\n", []),
            ("%%pipeline\ndef skipper():\n    one()\n", []),
            ("%kfp run\n# an action cell: the command decides", []),
        ],
    )
    done = cli("compile", "skip.ipynb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "skipper.yaml").exists()
    assert not (tmp_path / "explored.txt").exists() and not (tmp_path / "kfp_runs").exists()


def test_a_cell_over_the_timeout_exits_2_in_one_line(tmp_path):
    write_notebook(tmp_path / "slow.ipynb", [("%load_ext kfp_notebook", []), ("import time\ntime.sleep(60)", [])])
    done = cli("compile", "slow.ipynb", "--timeout", "2", cwd=tmp_path)
    assert done.returncode == 2
    assert "failed: Timeout: ran longer than 2 s (--timeout)" in done.stderr and "Traceback" not in done.stderr


def test_a_failing_cell_exits_2_naming_the_cell_without_a_traceback(tmp_path):
    write_notebook(tmp_path / "broken.ipynb", [("%load_ext kfp_notebook", []), ("x = undefined_name + 1", [])])
    done = cli("compile", "broken.ipynb", cwd=tmp_path)
    assert done.returncode == 2
    assert "kfp-notebook: cell 2 ('x = undefined_name + 1') failed: NameError" in done.stderr
    assert "Traceback" not in done.stderr and "---->" not in done.stderr
    verbose = cli("compile", "broken.ipynb", "--verbose", cwd=tmp_path)
    assert verbose.returncode == 2 and "----> 1 x = undefined_name + 1" in verbose.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", "missing.ipynb"], "notebook 'missing.ipynb' not found"),
        (["run", "quickstart.ipynb", "--param", "2=a"], "--param '2=a' must be NAME=VALUE"),
        (["compile", "quickstart.ipynb", "nope"], "no pipeline named 'nope'"),
        (["run", "quickstart.ipynb", "--param", "a=abc"], "kfp-notebook: --param a='abc' is not a number"),
        (["run", "quickstart.ipynb", "--param", "c=1"], "kfp-notebook: add-pipeline has no parameter 'c'"),
        (["logs", "add", "--runs-dir", "empty"], "empty: run a pipeline with"),
    ],
)
def test_usage_errors_exit_2_with_one_message(folder, args, message):
    done = cli(*args, "--json", cwd=folder)
    assert done.returncode == 2
    assert message in done.stderr and message.removeprefix("kfp-notebook: ") in json.loads(done.stdout)["error"]


def test_an_unknown_option_is_a_usage_error(folder):
    done = cli("run", "quickstart.ipynb", "--colour", "red", cwd=folder)
    assert done.returncode == 2 and "unrecognized arguments: --colour red" in done.stderr


def test_submit_to_the_contract_server(folder):
    from kfp_notebook.ir import PipelineIR

    from kfp_contract_server import argo_details

    with contract_server() as (host, state):
        golden = (ROOT / "tests" / "golden" / "quickstart.yaml").read_text(encoding="utf-8")
        ir = PipelineIR.from_yaml(golden)
        state.next_script = [
            ("RUNNING", argo_details(ir, {"add": "RUNNING"})),
            ("FAILED", argo_details(ir, {"add": "SUCCEEDED", "add-2": "FAILED"}, "FAILED")),
        ]
        args = ["--host", host, "--experiment", "ci", "--run-name", "nightly", "--param", "a=3", "--json"]
        done = cli("submit", "quickstart.ipynb", *args, cwd=folder)
        assert done.returncode == 1, done.stderr
        result = json.loads(done.stdout)
        assert result["state"] == "FAILED" and result["backend"] == "kubeflow"
        assert result["tasks"]["add-2"]["state"] == "FAILED"
        run = next(iter(state.runs.values()))
        assert run.display_name == "nightly" and run.runtime_config.parameters == {"a": 3.0}
        assert [e.display_name for e in state.experiments.values()] == ["ci"]
        state.next_script = []
        queued = cli("submit", "quickstart.ipynb", "--host", host, "--no-wait", cwd=folder)
        assert queued.returncode == 0, queued.stderr
        assert queued.stdout.startswith("run ") and f"{host}/#/runs/details/" in queued.stdout
        assert len(state.runs) == 2


def test_doctor_checks_what_the_notebooks_pipeline_needs(folder):
    from kube_api_server import TOKEN, Cluster, kube_api, namespace, node, pvc, secret, write_kubeconfig

    cluster = Cluster(
        namespaces=[namespace("team")],
        secrets=[secret("wandb", "team", token="VALUE-never-shown")],
        pvcs=[pvc("training-data", "team")],
        nodes=[node("gpu", gpus=1)],
    )
    with kube_api(cluster) as url:
        config = write_kubeconfig(folder / "kubeconfig", url, "team")
        done = cli("doctor", "resources.ipynb", "--json", cwd=folder, env={"KUBECONFIG": str(config)})
    assert done.returncode == 1, done.stderr
    checks = {c["subject"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["secret wandb"]["level"] == "FAIL" and "no key 'api-key'" in checks["secret wandb"]["message"]
    assert checks["PVC training-data"]["level"] == "OK" and checks["nodes"]["level"] == "OK"
    assert "VALUE-never-shown" not in done.stdout + done.stderr and TOKEN not in done.stdout + done.stderr
    assert all(method == "GET" for method, _, _ in cluster.requests)


def test_the_console_script_is_declared():
    from importlib.metadata import entry_points

    assert entry_points(group="console_scripts")["kfp-notebook"].value == "kfp_notebook.headless.cli:main"


def test_ctrl_c_stops_the_local_run_and_exits_1(tmp_path):
    import signal

    write_notebook(
        tmp_path / "slow.ipynb",
        [
            ("%load_ext kfp_notebook", []),
            ("%%component\ndef sleepy() -> int:\n    import time\n    time.sleep(120)\n    return 1\n", []),
            ("%%pipeline\ndef slow():\n    sleepy()\n", []),
        ],
    )
    environment = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / ".config"), "KUBECONFIG": ""}
    command = subprocess.Popen(
        [sys.executable, "-m", "kfp_notebook", "run", "slow.ipynb", "--runs-dir", "runs"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in command.stderr:
            if line.startswith("sleepy RUNNING"):
                break
        command.send_signal(signal.SIGINT)
        _, stderr = command.communicate(timeout=90)
    finally:
        command.kill()
    assert command.returncode == 1
    assert "kfp-notebook: interrupted: a local run was stopped" in stderr
    run = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text(encoding="utf-8"))
    assert run["state"] == "CANCELED" and run["tasks"]["sleepy"]["state"] == "CANCELED"


def test_runs_and_logs_from_kubeflow(folder):
    from kfp_notebook.ir import PipelineIR

    from kfp_contract_server import argo_details, executor_pod_name

    with contract_server() as (host, state):
        ir = PipelineIR.from_yaml((ROOT / "tests" / "golden" / "quickstart.yaml").read_text(encoding="utf-8"))
        finished = {"add": "SUCCEEDED", "add-2": "SUCCEEDED", "report": "SUCCEEDED"}
        state.next_script = [("SUCCEEDED", argo_details(ir, finished, "SUCCEEDED"))]
        state.pod_logs[executor_pod_name("report")] = "logged total 16.0\n"
        token = {"KFP_NOTEBOOK_TOKEN": "t0ken-SECRET-value"}
        auth = ["--host", host, "--auth", "token"]
        submitted = cli("submit", "quickstart.ipynb", *auth, "--json", "--verbose", cwd=folder, env=token)
        assert submitted.returncode == 0, submitted.stderr
        run_id = json.loads(submitted.stdout)["run_id"]
        listing = cli("runs", "--kubeflow", *auth, "--json", cwd=folder, env=token)
        assert [r["run_id"] for r in json.loads(listing.stdout)] == [run_id]
        log = cli("logs", "report", "--kubeflow", *auth, "--run", run_id, cwd=folder, env=token)
        assert log.returncode == 0 and log.stdout == "logged total 16.0\n"
        assert all(h.get("authorization") == "Bearer t0ken-SECRET-value" for _, _, h in state.requests)
    shown = submitted.stdout + submitted.stderr + listing.stdout + listing.stderr + log.stdout + log.stderr
    assert "SECRET" not in shown and "SECRET" not in "".join(
        p.read_text(errors="ignore") for p in folder.rglob("*.json")
    )


def test_the_command_line_uses_the_runs_folder_a_notebook_uses(tmp_path):
    """Without --runs-dir the CLI reads $KFP_NOTEBOOK_RUNS, as the magics do (it read ./kfp_runs)."""
    elsewhere = tmp_path / "elsewhere"
    done = cli("runs", cwd=tmp_path, env={"KFP_NOTEBOOK_RUNS": str(elsewhere)})
    assert done.returncode == 0 and f"no local runs in {elsewhere}" in done.stdout
