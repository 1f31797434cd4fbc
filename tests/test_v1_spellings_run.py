"""The seed's v1 spellings compile and the shipped code runs under kfp's executor with the right values."""

from __future__ import annotations

import pytest

from executor_harness import load_pipeline_yaml, run_component
from helpers import compiled

PRODUCER = """%%component
def data_test_1(value_1: int, value_2: int, data_output_dir_path: OutputPath("dict")):
    import json
    # 모든 import는 함수 안에 — not needed any more, but still fine
    data = {"1": [[1.0] * value_2 for _ in range(value_1)], "2": 2}
    with open(data_output_dir_path, "w", encoding="utf-8") as f:
        json.dump(data, f)
"""

CONSUMER = """%%component
def data_test_2(data_input_dir_path: InputPath("dict")) -> list:
    import json
    with open(data_input_dir_path, encoding="utf-8") as f:
        data = json.load(f)
    return [len(data["1"]), len(data["1"][0])]
"""

PIPELINE = """%%pipeline --name "Data test example"
def data_example(value_1: int, value_2: int):
    first = data_test_1(value_1, value_2)
    data_test_2(first.outputs["data_output_dir_path"])
"""

V1_METRICS = '''%%component
def export_metric_op(mlpipeline_metrics_path: OutputPath("metrics")):
    """v1 metrics file."""
    import json
    metrics = {"metrics": [
        {"name": "name_1", "numberValue": 0.8},
        {"name": "name_2", "number_Value": 0.9, "format": "PERCENTAGE"},
        {"name": "broken"},
    ]}
    with open(mlpipeline_metrics_path, "w") as f:
        json.dump(metrics, f)
'''

V2_METRICS = """%%component
def log_v2(metrics: Output[Metrics]):
    metrics.log_metric("accuracy", 0.75)
"""


@pytest.fixture
def data_spec(ip):
    for cell in (PRODUCER, CONSUMER, PIPELINE):
        ip.run_cell(cell)
    return load_pipeline_yaml(compiled(ip, "data_example"))


def test_dict_files_are_artifacts_in_the_yaml(data_spec):
    producer = data_spec["components"]["comp-data-test-1"]["outputDefinitions"]["artifacts"]
    consumer = data_spec["components"]["comp-data-test-2"]["inputDefinitions"]["artifacts"]
    assert producer["data_output_dir_path"]["artifactType"]["schemaTitle"] == "system.Artifact"
    assert consumer["data_input_dir_path"]["artifactType"]["schemaTitle"] == "system.Artifact"
    source = data_spec["deploymentSpec"]["executors"]["exec-data-test-2"]["container"]["command"][-1]
    assert 'def data_test_2(data_input_dir_path: InputPath("Artifact")) -> list:' in source


def test_the_dict_pair_runs_and_passes_the_file(data_spec, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = run_component(data_spec, "data-test-1", tmp_path / "a", {"value_1": 3, "value_2": 4})
    second = run_component(
        data_spec,
        "data-test-2",
        tmp_path / "b",
        artifacts={"data_input_dir_path": first["outputs"]["data_output_dir_path"]},
    )
    assert second["executor_output"]["parameterValues"]["Output"] == [3, 4]


def test_the_plain_function_still_works_in_the_notebook(ip, tmp_path):
    ip.run_cell(PRODUCER)
    ip.user_ns["data_test_1"].python_func(2, 2, str(tmp_path / "d.json"))
    assert (tmp_path / "d.json").read_text(encoding="utf-8") == '{"1": [[1.0, 1.0], [1.0, 1.0]], "2": 2}'


def test_v1_metrics_file_becomes_v2_metrics_metadata(ip, tmp_path):
    ip.run_cell(V1_METRICS)
    spec = load_pipeline_yaml(compiled(ip, "export_metric_op"))
    output = spec["components"]["comp-export-metric-op"]["outputDefinitions"]["artifacts"]["mlpipeline_metrics_path"]
    assert output["artifactType"]["schemaTitle"] == "system.Metrics"
    result = run_component(spec, "export-metric-op", tmp_path)
    artifact = result["executor_output"]["artifacts"]["mlpipeline_metrics_path"]["artifacts"][0]
    assert artifact["metadata"] == {"name_1": 0.8, "name_2": 0.9}
    assert "skipped v1 metric {'name': 'broken'}" in result["stderr"]


def test_v2_log_metric_works_as_in_kfp(ip, tmp_path):
    ip.run_cell(V2_METRICS)
    spec = load_pipeline_yaml(compiled(ip, "log_v2"))
    result = run_component(spec, "log-v2", tmp_path)
    assert result["executor_output"]["artifacts"]["metrics"]["artifacts"][0]["metadata"] == {"accuracy": 0.75}


def test_a_v1_metrics_function_with_only_a_docstring_body_still_ships(ip):
    ip.run_cell('%%component\ndef m(mlpipeline_metrics_path: OutputPath("Metrics")):\n    """Nothing written."""\n')
    source = load_pipeline_yaml(compiled(ip, "m"))["deploymentSpec"]["executors"]["exec-m"]["container"]["command"][-1]
    assert (
        '    """Nothing written."""\n    mlpipeline_metrics_path = _kfp_notebook_v1_metrics(mlpipeline_metrics_path)\n'
        in source
    )


def test_body_on_the_def_line_is_refused_for_v1_metrics(ip):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="put the body of m on its own lines"):
        ip.run_cell('%%component\ndef m(mlpipeline_metrics_path: OutputPath("metrics")): pass\n')
