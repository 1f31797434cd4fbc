"""Run one lightweight Python task in a child process, the way its container would, and read its outputs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_notebook.ir import PythonProgram
from kfp_notebook.parameters import coerce


@dataclass
class TaskRun:
    """Everything one attempt of a task needs: where it runs and with what."""

    folder: Path
    program: PythonProgram
    parameters: dict[str, Any]
    artifacts: dict[str, list[dict[str, Any]]]
    output_parameters: dict[str, str]
    output_artifacts: dict[str, dict[str, Any]]
    environment: dict[str, str] = field(default_factory=dict)
    mounts: dict[str, str] = field(default_factory=dict)
    package_folder: Path | None = None


@dataclass
class Outcome:
    """How an attempt ended, and its outputs when it succeeded."""

    ok: bool
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    message: str = ""


class ProcessGroups:
    """The process groups of running tasks, so that a cancel stops every one of them."""

    def __init__(self) -> None:
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.stopped = False

    def start(self, command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.stopped:
                raise InterruptedError("the run was stopped")
            process = subprocess.Popen(command, start_new_session=True, **kwargs)
            self._running[process.pid] = process
            return process

    def finished(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.pop(process.pid, None)

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM every task's process group, then SIGKILL whatever is left after `grace` seconds."""
        with self._lock:
            self.stopped = True
            running = list(self._running.values())
        for process in running:
            _signal_group(process.pid, signal.SIGTERM)
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
            _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def run_python_task(task: TaskRun, groups: ProcessGroups) -> Outcome:
    """One attempt: write the program and executor input, run kfp's executor, collect the outputs."""
    task.folder.mkdir(parents=True, exist_ok=True)
    program_file = task.folder / "ephemeral_component.py"
    program_file.write_text(task.program.source, encoding="utf-8")
    executor_input = _executor_input(task)
    (task.folder / "executor_input.json").write_text(json.dumps(executor_input, indent=2), encoding="utf-8")
    command = [
        sys.executable, "-m", "kfp_notebook.backends.local.task_main",
        "--component_module_path", str(program_file),
        "--executor_input", json.dumps(executor_input),
        "--function_to_execute", task.program.function,
    ]  # fmt: skip
    with open(task.folder / "stdout.log", "wb") as out, open(task.folder / "stderr.log", "wb") as err:
        process = groups.start(command, cwd=task.folder, env=_environment(task), stdout=out, stderr=err)
        try:
            code = process.wait()
        finally:
            groups.finished(process)
    if code != 0:
        return Outcome(False, message=_failure_message(task.folder, code))
    return _outputs(task, executor_input)


def _environment(task: TaskRun) -> dict[str, str]:
    environment = {**os.environ, **task.environment, "_KFP_RUNTIME": "true", "PYTHONUNBUFFERED": "1"}
    environment["PYTHONIOENCODING"] = "utf-8"
    if task.mounts:
        environment["KFP_NOTEBOOK_MOUNTS"] = json.dumps(task.mounts)
    if task.package_folder is not None:
        existing = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(task.package_folder), existing) if p)
    return environment


def _executor_input(task: TaskRun) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "parameters": {name: {"outputFile": str(task.folder / "outputs" / name)} for name in task.output_parameters},
        "artifacts": {name: {"artifacts": [artifact]} for name, artifact in task.output_artifacts.items()},
        "outputFile": str(task.folder / "executor_output.json"),
    }
    inputs = {"parameterValues": task.parameters, "artifacts": {n: {"artifacts": a} for n, a in task.artifacts.items()}}
    return {"inputs": inputs, "outputs": outputs}


def _outputs(task: TaskRun, executor_input: dict[str, Any]) -> Outcome:
    output_file = Path(executor_input["outputs"]["outputFile"])
    written = json.loads(output_file.read_text(encoding="utf-8")) if output_file.exists() else {}
    parameters = dict(written.get("parameterValues", {}))
    for name, parameter_type in task.output_parameters.items():
        if name not in parameters:
            path = task.folder / "outputs" / name
            if path.exists():
                parameters[name] = _read_parameter(path.read_text(encoding="utf-8"), parameter_type)
        if name in parameters:
            parameters[name] = coerce(parameters[name], parameter_type)
    artifacts = {}
    for name, artifact in task.output_artifacts.items():
        reported = (written.get("artifacts", {}).get(name, {}).get("artifacts") or [{}])[0]
        artifacts[name] = [
            {**artifact, "metadata": reported.get("metadata", {}), "uri": reported.get("uri") or artifact["uri"]}
            | ({"custom_path": reported["custom_path"]} if reported.get("custom_path") else {})
        ]
    return Outcome(True, parameters, artifacts)


def _read_parameter(text: str, parameter_type: str) -> Any:
    if parameter_type == "STRING":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _failure_message(folder: Path, code: int) -> str:
    stderr = (folder / "stderr.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    tail = "\n".join(stderr[-15:])
    return f"exited with code {code}" + (f"; end of its stderr:\n{tail}" if tail else "")
