"""Run one lightweight Python task in a child process, the way its container would, and read its outputs."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local import immutability, logs, output_values, supervision, task_main
from kfp_notebook.backends.local.launch import ProcessGroups
from kfp_notebook.backends.local.output_values import OutputValueError
from kfp_notebook.backends.local.pipeline_root import local_path
from kfp_notebook.ir import PythonProgram

#: The end of a failed task's stderr shown in its message.
FAILURE_LINES = 15
#: Lines of a failed task's last traceback (its chain included) kept in its message, at most.
TRACEBACK_LINES = 200
#: How Python joins the tracebacks of chained exceptions.
CHAIN_SENTENCES = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)


@dataclass
class TaskRun:
    """Everything one attempt of a task needs: where it runs and with what."""

    folder: Path
    program: PythonProgram
    parameters: dict[str, Any]
    artifacts: dict[str, list[dict[str, Any]]]
    output_parameters: dict[str, str]
    output_artifacts: dict[str, dict[str, Any]]
    programs: Path  # the run's folder of component programs, one file per program
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


def run_python_task(task: TaskRun, groups: ProcessGroups) -> Outcome:
    """One attempt: write the program and executor input, run kfp's executor, collect the outputs."""
    executor_input, command = _prepare(task)
    inputs = input_uris(task)
    before = immutability.signature(inputs)
    code = _run(task, command, groups)
    altered = immutability.changed(before, immutability.signature(inputs))
    if altered:
        return Outcome(False, message=_altered_message(altered))
    if code != 0:
        return Outcome(False, message=_failure_message(task.folder, code))
    outcome = _outputs(task, executor_input)
    immutability.seal(local_path(a["uri"], task.mounts) for items in outcome.artifacts.values() for a in items)
    return outcome


def _prepare(task: TaskRun) -> tuple[dict[str, Any], list[str]]:
    """The task's program and executor input in its folder (the input travels as a file); the command."""
    task.folder.mkdir(parents=True, exist_ok=True)
    program_file = _program_file(task)
    executor_input = _executor_input(task)
    input_file = task.folder / "executor_input.json"
    input_file.write_text(json.dumps(executor_input, indent=2), encoding="utf-8")
    command = [
        sys.executable, "-B", "-m", "kfp_notebook.backends.local.task_main",
        "--component_module_path", str(program_file),
        task_main.INPUT_FILE_FLAG, str(input_file),
        "--function_to_execute", task.program.function,
    ]  # fmt: skip
    return executor_input, command


def _program_file(task: TaskRun) -> Path:
    """The component's program, written once per run and shared by its tasks (read-only to them).

    As in a pod, the program's folder holds nothing else (kfp's executor puts that folder on sys.path).
    Tasks run with `-B`: no bytecode is written next to it, by any of them.
    """
    digest = hashlib.sha256(task.program.source.encode()).hexdigest()[:16]
    path = task.programs / digest / "ephemeral_component.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}")
        partial.write_text(task.program.source, encoding="utf-8")
        os.replace(partial, path)  # whole or absent, for a task of the same component starting alongside
    return path


def _run(task: TaskRun, command: list[str], groups: ProcessGroups) -> int:
    """Run the task's process (recorded by pid + start time) to its end; its exit code."""
    logs = (task.folder / "stdout.log", task.folder / "stderr.log")
    process = groups.start(command, task.folder, _environment(task), logs, fresh=task.package_folder is not None)
    try:
        supervision.record_process(task.folder, process.pid)
        return process.wait()
    finally:
        groups.finished(process)


def input_uris(task: TaskRun) -> list[str]:
    """The files of the task's input artifacts on this machine (a remote input: its downloaded copy)."""
    uris = {str(a["uri"]) for items in task.artifacts.values() for a in items if a.get("uri")}
    return sorted(local_path(uri, task.mounts) for uri in uris)


def _altered_message(paths: list[str]) -> str:
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    return (
        f"it changed its input artifact ({shown}); inputs are read-only, as the producer's output and the cache "
        "must stay as produced. Write the changed data to an output artifact (Output[...]) instead."
    )


def _environment(task: TaskRun) -> dict[str, str]:
    environment = {**task.environment, "_KFP_RUNTIME": "true", "PYTHONUNBUFFERED": "1"}
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
    try:
        parameters = _output_parameters(task, written.get("parameterValues") or {})
    except OutputValueError as exc:
        return Outcome(False, message=str(exc))
    artifacts = {}
    for name, artifact in task.output_artifacts.items():
        reported = (written.get("artifacts", {}).get(name, {}).get("artifacts") or [{}])[0]
        artifacts[name] = [
            {**artifact, "metadata": reported.get("metadata", {}), "uri": reported.get("uri") or artifact["uri"]}
            | ({"custom_path": reported["custom_path"]} if reported.get("custom_path") else {})
        ]
    return Outcome(True, parameters, artifacts)


def _output_parameters(task: TaskRun, returned: dict[str, Any]) -> dict[str, Any]:
    """Each declared output as the launcher collects it: a returned value as written, else its file by its type."""
    parameters = {}
    for name, parameter_type in task.output_parameters.items():
        if name in returned:
            parameters[name] = output_values.returned_output(name, returned[name])
            continue
        path = task.folder / "outputs" / name
        if not path.is_file():
            raise output_values.missing_output(name, str(path))
        parameters[name] = output_values.file_output(name, path.read_bytes(), parameter_type)
    return parameters


def _failure_message(folder: Path, code: int) -> str:
    """What ended the task: its exit code and the end of its stderr, from the start of its last traceback (with
    the exceptions chained to it) when there is one, so the view can show it from the user's first frame."""
    lines = "\n".join(logs.last_lines(folder / "stderr.log", TRACEBACK_LINES + 5)).strip().splitlines()
    start = traceback_start(lines)
    tail = "\n".join(lines[-FAILURE_LINES:] if start is None else lines[start:][-TRACEBACK_LINES:])
    return f"exited with code {code}" + (f"; end of its stderr:\n{tail}" if tail else "")


def traceback_start(lines: list[str]) -> int | None:
    """Where the last traceback printed starts: the first of the exceptions chained to it (`raise ... from`, an
    exception while handling another), or None."""
    headers = [i for i, line in enumerate(lines) if line == "Traceback (most recent call last):"]
    if not headers:
        return None
    start = headers.pop()
    while headers and lines[start - 2 : start - 1] and lines[start - 2].strip() in CHAIN_SENTENCES:
        start = headers.pop()
    return start
