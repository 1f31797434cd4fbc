"""The keyword arguments kfp's executor gives a component's function, built from a task's recorded inputs.

Read from `kfp.dsl.executor.Executor.execute` (our own code, the same rules): parameters as the executor input
holds them (left out when it has none, so the function's default applies), input artifacts as dsl.Artifact
objects of the class their schema names (else the annotation's), lists for list inputs, `InputPath` as a path,
`dsl.PipelineTaskFinalStatus` and `dsl.TaskConfig` built from their input values; outputs (`Output[...]`,
`OutputPath`) point into a scratch folder. An input artifact's `.path` is a read-only copy of what its producer
wrote; its `uri`, `name` and `metadata` are the run's.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp_notebook import kfp_compat
from kfp_notebook.debugging import readonly
from kfp_notebook.debugging.locating import LocatedTask
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import Task

INPUT_KINDS = ("parameter", "final_status", "task_config", "artifact_list", "input_artifact", "input_path",
               "embedded_input")  # fmt: skip
OUTPUT_KINDS = ("output_artifact", "output_path", "output_artifact_path")
Kinds = dict[str, tuple[str, Any]]  # argument name → (what the executor passes, its annotation)


class MissingInputError(KfpNotebookError):
    """The run recorded no value for an input the function needs."""


@dataclass(frozen=True)
class Scratch:
    """A debugged task's own folder: `inputs/` (read-only copies), `outputs/`, the shipped program."""

    folder: Path

    @classmethod
    def of(cls, root: Path, located: LocatedTask) -> Scratch:
        task = re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", located.task_id.replace("/", "__"))
        return cls(root.resolve() / re.sub(r"[^A-Za-z0-9._-]+", "_", located.record.run_id) / task)

    @property
    def inputs(self) -> Path:
        return self.folder / "inputs"

    @property
    def outputs(self) -> Path:
        return self.folder / "outputs"


def function_kinds(function: Callable[..., Any]) -> Kinds:
    """What the executor passes for each annotated parameter of the function (it passes nothing for the others)."""
    annotations = inspect.getfullargspec(function).annotations
    kinds = {name: (kfp_compat.executor_argument_kind(a), a) for name, a in annotations.items() if name != "return"}
    return {name: kind for name, kind in kinds.items() if kind[0]}


def interface_kinds(task: Task) -> Kinds:
    """The same from the compiled component alone (when its program cannot be loaded in the kernel)."""
    inputs = task.component.inputs
    kinds: Kinds = {name: ("parameter", None) for name in inputs.parameters}
    for name, declared in inputs.artifacts.items():
        kinds[name] = ("artifact_list" if declared.is_list else "input_artifact", None)
    return kinds


def input_arguments(kinds: Kinds, located: LocatedTask, scratch: Scratch, globals_: dict[str, Any]) -> dict[str, Any]:
    """The inputs as the function received them in the run (artifacts copied, read-only, into the scratch)."""
    readonly.replace(scratch.inputs)
    values = located.inputs.get("parameterValues") or {}
    artifacts = {
        name: (value or {}).get("artifacts") or [] for name, value in (located.inputs.get("artifacts") or {}).items()
    }
    arguments: dict[str, Any] = {}
    for name, (kind, annotation) in kinds.items():
        if kind == "parameter" and values.get(name) is not None:
            arguments[name] = values[name]
        elif kind in ("final_status", "task_config"):
            arguments[name] = _built(kind, name, values.get(name), located)
        elif kind in ("artifact_list", "input_artifact", "input_path"):
            copies = _copies(located, scratch, name, artifacts.get(name, []), annotation)
            arguments[name] = _shaped(kind, name, copies, located)
        elif kind == "embedded_input":
            arguments[name] = _embedded(annotation, globals_)
    return arguments


def output_arguments(kinds: Kinds, task: Task, scratch: Scratch) -> dict[str, Any]:
    """Outputs as the executor gives them, in `scratch.outputs`: artifacts to write, paths of files to write."""
    readonly.replace(scratch.outputs)
    declared = task.component.outputs.artifacts
    arguments: dict[str, Any] = {}
    for name, (kind, annotation) in kinds.items():
        path = scratch.outputs / name
        if kind == "output_artifact":
            cls = kfp_compat.artifact_class(annotation)
            title = declared[name].schema_title if name in declared else cls.schema_title
            record = {"name": name, "type": {"schemaTitle": title}, "uri": str(path), "metadata": {}}
            arguments[name] = kfp_compat.dsl_artifact(record, cls)
        elif kind in ("output_path", "output_artifact_path"):
            arguments[name] = str(path)
    return arguments


def _copies(located: LocatedTask, scratch: Scratch, name: str, recorded: list[dict[str, Any]], annotation: Any
            ) -> list[Any]:  # fmt: skip
    """Each recorded artifact of an input as a dsl object whose path is a read-only local copy."""
    found = []
    fallback = kfp_compat.artifact_class(annotation) if annotation is not None else None
    for index, runtime in enumerate(recorded):
        where = scratch.inputs / name / (str(index) if len(recorded) > 1 else "")
        where.mkdir(parents=True, exist_ok=True)
        copy = where / (Path(str(runtime.get("uri", "")).rstrip("/")).name or name)
        try:
            located.record.fetch(str(runtime.get("uri", "")), copy)
        except KfpNotebookError as exc:
            raise MissingInputError(
                f"{located.shown}'s input {name!r} in run {located.record.run_id} cannot be read: {exc}. Reach it "
                "again, or run the pipeline again (`%kfp run`) to produce it"
            ) from None
        readonly.protect(copy)
        artifact = kfp_compat.dsl_artifact(runtime, fallback)
        artifact.set_path(str(copy))  # its uri stays the run's; its path is the copy
        found.append(artifact)
    return found


def _shaped(kind: str, name: str, copies: list[Any], located: LocatedTask) -> Any:
    if kind == "artifact_list":
        return copies or None
    if not copies:
        if kind == "input_path":
            raise MissingInputError(f"{located.task_id} in run {located.record.run_id} has no artifact for {name}")
        return None
    return copies[0].path if kind == "input_path" else copies[0]


def _built(kind: str, name: str, value: Any, located: LocatedTask) -> Any:
    from kfp import dsl

    if kind == "task_config":
        value = value or {}
        return dsl.TaskConfig(
            affinity=value.get("affinity"), tolerations=value.get("tolerations"),
            node_selector=value.get("nodeSelector"), env=value.get("env"), volumes=value.get("volumes"),
            volume_mounts=value.get("volumeMounts"), resources=value.get("resources"),
        )  # fmt: skip
    if not isinstance(value, dict):
        raise MissingInputError(
            f"{name}: dsl.PipelineTaskFinalStatus of {located.task_id} is not in what run {located.record.run_id} "
            "recorded, so it cannot be rebuilt; call the function yourself with dsl.PipelineTaskFinalStatus(state=..., "
            "pipeline_job_resource_name=..., pipeline_task_name=..., error_code=None, error_message=None)"
        )
    error = value.get("error") or {}
    return dsl.PipelineTaskFinalStatus(
        state=value.get("state"),
        pipeline_job_resource_name=value.get("pipelineJobResourceName") or value.get("pipeline_job_resource_name"),
        pipeline_task_name=value.get("pipelineTaskName") or value.get("pipeline_task_name"),
        error_code=error.get("code"), error_message=error.get("message"),
    )  # fmt: skip


def _embedded(annotation: Any, globals_: dict[str, Any]) -> Any:
    """An embedded asset, as the executor finds it: in the program's globals."""
    cls = kfp_compat.artifact_class(annotation)
    artifact = cls()
    path = globals_.get("__KFP_EMBEDDED_ASSET_FILE") or globals_.get("__KFP_EMBEDDED_ASSET_DIR")
    if not path:
        raise MissingInputError("EmbeddedInput was specified but no embedded asset was found in the program")
    artifact.path = path
    return artifact
