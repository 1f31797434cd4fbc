"""Run one lightweight Python task in a child process, the way its container would, and read its outputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kfp_notebook.backends.local import immutability, starter, supervision, task_main
from kfp_notebook.backends.local.task_environment import base_environment
from kfp_notebook.ir import PythonProgram
from kfp_notebook.ir.parameters import coerce


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


class TaskProcess(Protocol):
    """A running task: a fresh process (subprocess.Popen) or one forked by the warm starter."""

    pid: int

    def wait(self, timeout: float | None = None) -> int: ...


class ProcessGroups:
    """The process groups of running tasks, so that a cancel stops every one of them.

    A task is forked by the kernel's warm starter when it is ready and the task needs no package folder
    (its interpreter state would differ); otherwise it starts as a fresh process, as before.
    """

    def __init__(self, use_starter: bool = True) -> None:
        self._running: dict[int, TaskProcess] = {}
        self._lock = threading.Lock()
        self.stopped = False
        self._starter = _starter() if use_starter and starter.available() else None

    def start(self, command: list[str], cwd: Path, env: dict[str, str], logs: tuple[Path, Path], fresh: bool = False
              ) -> TaskProcess:  # fmt: skip
        """Start the task (`command` is `python -m task_main ARGS`); stdout and stderr go to the two log files."""
        with self._lock:
            if self.stopped:
                raise InterruptedError("the run was stopped")
            watch = supervision.KernelWatch.read_end()
            env = {**env, supervision.WATCH_ENV: str(watch)}
            process = None if fresh else self._forked(command, cwd, env, logs)
            if process is None:
                with open(logs[0], "wb") as out, open(logs[1], "wb") as err:
                    process = subprocess.Popen(command, start_new_session=True, pass_fds=(watch,), env=env,
                                               cwd=cwd, stdout=out, stderr=err)  # fmt: skip
            self._running[process.pid] = process
            return process

    def _forked(
        self, command: list[str], cwd: Path, env: dict[str, str], logs: tuple[Path, Path]
    ) -> TaskProcess | None:
        if self._starter is None:
            return None
        if not self._starter.ready:
            self._starter.warm_up()
            return None
        arguments = command[command.index(starter.TASK_MODULE) + 1 :]
        try:
            return self._starter.spawn(arguments, env, str(cwd), str(logs[0]), str(logs[1]))
        except starter.StarterError:  # the starter went away: this task starts fresh, the next warms a new one
            return None

    def finished(self, process: TaskProcess) -> None:
        """The task's main process ended: stop whatever it left running in its process group."""
        supervision.signal_group(process.pid, signal.SIGKILL)
        with self._lock:
            self._running.pop(process.pid, None)

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM every task's process group, then SIGKILL whatever is left after `grace` seconds."""
        with self._lock:
            self.stopped = True
            running = list(self._running.values())
        for process in running:
            supervision.signal_group(process.pid, signal.SIGTERM)
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
            supervision.signal_group(process.pid, signal.SIGKILL)


def _starter() -> starter.TaskStarter:
    """The kernel's warm starter: it holds the kernel's watch pipe and only the base environment (no secrets)."""
    return starter.TaskStarter.shared((supervision.KernelWatch.read_end(),), base_environment())


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
    immutability.seal(a["uri"] for items in outcome.artifacts.values() for a in items)
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
    return sorted({str(a["uri"]) for items in task.artifacts.values() for a in items if a.get("uri")})


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
