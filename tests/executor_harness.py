"""Run one compiled component the way its container would: kfp's executor_main on its shipped source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def load_pipeline_yaml(text: str) -> dict[str, Any]:
    return next(iter(yaml.safe_load_all(text)))


def executor_for(spec: dict[str, Any], component: str) -> dict[str, Any]:
    label = spec["components"][f"comp-{component}"]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def run_component(
    spec: dict[str, Any],
    component: str,
    workdir: Path,
    parameters: dict[str, Any] | None = None,
    artifacts: dict[str, Path] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Execute component `component` of a compiled pipeline; return its executor output and paths."""
    definition = spec["components"][f"comp-{component}"]
    container = executor_for(spec, component)
    program = workdir / "ephemeral_component.py"
    program.write_text(container["command"][-1], encoding="utf-8")
    executor_input, outputs = _executor_input(definition, workdir, parameters or {}, artifacts or {})
    args = [a if a != "{{$}}" else json.dumps(executor_input) for a in container["args"]]
    command = [sys.executable, "-m", "kfp.dsl.executor_main", "--component_module_path", str(program), *args]
    run_env = {**os.environ, "_KFP_RUNTIME": "true", **(env or {})}
    done = subprocess.run(command, capture_output=True, text=True, env=run_env, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"component {component} failed:\n{done.stderr[-3000:]}")
    output_file = Path(executor_input["outputs"]["outputFile"])
    result = json.loads(output_file.read_text(encoding="utf-8")) if output_file.exists() else {}
    return {"executor_output": result, "outputs": outputs, "stdout": done.stdout, "stderr": done.stderr}


def _executor_input(definition: dict[str, Any], workdir: Path, parameters: dict[str, Any], artifacts: dict[str, Path]):
    inputs = {"parameterValues": dict(parameters), "artifacts": {}}
    for name, path in artifacts.items():
        kind = definition["inputDefinitions"]["artifacts"][name]["artifactType"]
        inputs["artifacts"][name] = {"artifacts": [_artifact(name, kind, path)]}
    outputs: dict[str, Any] = {"parameters": {}, "artifacts": {}, "outputFile": str(workdir / "executor_output.json")}
    paths: dict[str, Path] = {}
    out_defs = definition.get("outputDefinitions", {})
    for name in out_defs.get("parameters", {}):
        outputs["parameters"][name] = {"outputFile": str(workdir / "outputs" / name)}
    for name, spec in out_defs.get("artifacts", {}).items():
        paths[name] = workdir / "artifacts" / name
        outputs["artifacts"][name] = {"artifacts": [_artifact(name, spec["artifactType"], paths[name])]}
    return {"inputs": inputs, "outputs": outputs}, paths


def _artifact(name: str, kind: dict[str, str], path: Path) -> dict[str, Any]:
    return {"name": name, "type": {"schemaTitle": kind["schemaTitle"]}, "uri": str(path), "metadata": {}}
