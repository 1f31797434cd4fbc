"""The one typed reading of a compiled pipeline (kfp's IR, both YAML documents): components, tasks, groups, flow.

Every other module reads the pipeline through these types; raw IR keys appear only here. Whether a
task is a group (condition, loop, exit handler) or runs a container is decided by its component's
structure (a DAG vs an executor), never by a name.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import yaml

from kfp_notebook.ir.model import (
    ABSENT,
    ArtifactSource,
    ArtifactType,
    Component,
    Container,
    Dag,
    Importer,
    Interface,
    Loop,
    OutputChoice,
    Parameter,
    Platform,
    PvcMount,
    PythonProgram,
    Resources,
    Retry,
    SecretAsEnv,
    SecretAsVolume,
    Task,
    ValueSource,
)
from kfp_notebook.ir.programs import lightweight_program
from kfp_notebook.tracking.task_ids import path_of

EXECUTOR_MAIN = "kfp.dsl.executor_main"
#: Pipelines read from YAML kept by their text (the latest used): a run of an unchanged pipeline reads none again.
READ_KEPT = 4
PVC_IMAGES = {"argostub/createpvc": "createpvc", "argostub/deletepvc": "deletepvc"}
RUN_AFTER_FAILURE = "ALL_UPSTREAM_TASKS_COMPLETED"
__all__ = [
    "ABSENT",
    "ArtifactSource",
    "ArtifactType",
    "Component",
    "Container",
    "Dag",
    "Importer",
    "Interface",
    "Loop",
    "OutputChoice",
    "Parameter",
    "PipelineIR",
    "Platform",
    "PvcMount",
    "PythonProgram",
    "Resources",
    "Retry",
    "SecretAsEnv",
    "SecretAsVolume",
    "Task",
    "ValueSource",
    "value_source",
]

_READ: OrderedDict[str, PipelineIR] = OrderedDict()
_READ_LOCK = threading.Lock()


class PipelineIR:
    """A compiled pipeline, typed: its name, parameters, root DAG and components."""

    def __init__(self, documents: list[dict[str, Any]]):
        spec = documents[0]
        kubernetes = (documents[1] if len(documents) > 1 else {}).get("platforms", {}).get("kubernetes", {})
        self._platforms: dict[str, Any] = kubernetes.get("deploymentSpec", {}).get("executors", {})
        #: whether the pipeline has a workspace (dsl.WorkspaceConfig): a volume every task sees at /kfp-workspace
        self.workspace: bool = "workspace" in kubernetes.get("pipelineConfig", {})
        self._executors: dict[str, Any] = spec.get("deploymentSpec", {}).get("executors", {})
        self._raw_components: dict[str, Any] = spec.get("components", {})
        info = spec.get("pipelineInfo", {})
        self.name: str = info.get("name", "pipeline")
        self.description: str = info.get("description", "")
        self.components: dict[str, Component] = {}
        self.root = self._component("root", spec["root"])
        for name in self._raw_components:
            self.component(name)
        self._set_paths(self.root, "")

    @classmethod
    def from_yaml(cls, text: str) -> PipelineIR:
        """The IR of a pipeline's YAML; the same text read lately gives the same (read-only) IR, not read again."""
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        with _READ_LOCK:
            known = _READ.get(key)
            if known is not None:
                _READ.move_to_end(key)
                return known
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        ir = cls([d for d in yaml.load_all(text, Loader=loader) if d])
        with _READ_LOCK:
            _READ[key] = ir
            while len(_READ) > READ_KEPT:
                _READ.popitem(last=False)
        return ir

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> PipelineIR:
        """The IR of a kfp pipeline object, without writing YAML (the same dicts the YAML holds)."""
        from google.protobuf import json_format

        from kfp_notebook.ir.compiling import refuse_non_finite_defaults

        refuse_non_finite_defaults(pipeline)
        documents = [json_format.MessageToDict(pipeline.pipeline_spec)]
        platform = getattr(pipeline, "platform_spec", None)
        if platform is not None and platform.platforms:
            documents.append(json_format.MessageToDict(platform))
        return cls(documents)

    @property
    def parameters(self) -> dict[str, Parameter]:
        return self.root.inputs.parameters

    @property
    def input_artifacts(self) -> dict[str, ArtifactType]:
        return self.root.inputs.artifacts

    def component(self, name: str) -> Component:
        if name not in self.components:
            self._component(name, self._raw_components[name])
        return self.components[name]

    def walk(self, dag: Component | None = None) -> Iterator[Task]:
        """Every task, depth first in definition order (groups before their members)."""
        for task in (dag or self.root).dag.tasks.values():  # type: ignore[union-attr]
            yield task
            if task.is_group:
                yield from self.walk(task.component)

    def task(self, path: str) -> Task | None:
        """The task at a path of task names ('exit-handler-1/for-loop-2/square'); loop indexes are ignored."""
        dag, found = self.root, None
        for part in path_of(path).split("/"):
            found = dag.dag.tasks.get(part) if dag.dag else None
            if found is None:
                return None
            dag = found.component
        return found

    def expected_runs(self) -> dict[str, int]:
        """How many times each container task runs: the product of its enclosing loops' literal item counts.

        A loop whose items come from a parameter or an upstream output counts as 0 (not known before the run).
        """
        counts: dict[str, int] = {}
        for task in self.walk():
            if not task.is_group:
                counts[task.path] = self._literal_product(task.path)
        return counts

    def _literal_product(self, path: str) -> int:
        product, parts = 1, path.split("/")
        for depth in range(1, len(parts)):
            group = self.task("/".join(parts[:depth]))
            if group is not None and group.loop is not None:
                product *= len(group.loop.literal_items or ())
        return product

    def python_components(self) -> list[Component]:
        return [c for c in self.components.values() if c.kind == "python"]

    # -- reading the raw documents ---------------------------------------------------------------------

    def _component(self, name: str, raw: dict[str, Any]) -> Component:
        label = raw.get("executorLabel", "")
        executor = self._executors.get(label, {})
        container = _container(executor["container"]) if "container" in executor else None
        component = Component(
            name, _kind(raw, executor), _interface(raw.get("inputDefinitions", {})),
            _interface(raw.get("outputDefinitions", {})), container, _platform(self._platforms.get(label, {})),
            identity={"component": {k: v for k, v in raw.items() if k != "executorLabel"}, "executor": executor},
        )  # fmt: skip
        self.components[name] = component
        if component.kind == "python" and container is not None:
            component.program = lightweight_program(container)
        if "importer" in executor:
            component.importer = _importer(executor["importer"])
        if "dag" in raw:
            component.dag = _dag(raw["dag"])
            for task_name, task in raw["dag"].get("tasks", {}).items():
                component.dag.tasks[task_name] = self._task(task_name, task, name)
        return component

    def _task(self, name: str, raw: dict[str, Any], owner: str) -> Task:
        inputs = raw.get("inputs", {})
        policy = raw.get("triggerPolicy", {})
        retry = raw.get("retryPolicy")
        return Task(
            name=name,
            path=name,
            display_name=raw.get("taskInfo", {}).get("name", name),
            component=self.component(raw["componentRef"]["name"]),
            dependencies=tuple(raw.get("dependentTasks", [])),
            runs_after_failure=policy.get("strategy") == RUN_AFTER_FAILURE,
            condition=policy.get("condition") or None,
            loop=_loop(raw),
            caching=bool(raw.get("cachingOptions", {}).get("enableCache")),
            retry=Retry(int(retry.get("maxRetryCount", 0) or 0), _seconds(retry.get("backoffDuration", "0s")))
            if retry
            else None,
            parameters={n: value_source(s) for n, s in inputs.get("parameters", {}).items()},
            artifacts={n: _artifact_source(s) for n, s in inputs.get("artifacts", {}).items()},
        )

    def _set_paths(self, dag: Component, prefix: str) -> None:
        """Give every task its path (group names joined with '/')."""
        for task in dag.dag.tasks.values():  # type: ignore[union-attr]
            task.path = f"{prefix}{task.name}"
            if task.is_group:
                self._set_paths(task.component, f"{task.path}/")


def _kind(raw: dict[str, Any], executor: dict[str, Any]) -> str:
    if "dag" in raw:
        return "dag"
    if "importer" in executor:
        return "importer"
    container = executor.get("container", {})
    if container.get("image") in PVC_IMAGES:
        return PVC_IMAGES[container["image"]]
    return "python" if EXECUTOR_MAIN in " ".join(container.get("command", [])) else "container"


def _interface(raw: dict[str, Any]) -> Interface:
    parameters = {
        name: Parameter(p.get("parameterType", "STRING"), p.get("defaultValue", ABSENT), bool(p.get("isOptional")))
        for name, p in raw.get("parameters", {}).items()
    }
    artifacts = {
        name: ArtifactType(
            a.get("artifactType", {}).get("schemaTitle", ""), bool(a.get("isArtifactList")), a.get("artifactType", {})
        )
        for name, a in raw.get("artifacts", {}).items()
    }
    return Interface(parameters, artifacts)


def _container(raw: dict[str, Any]) -> Container:
    resources = raw.get("resources") or {}
    accelerator = resources.get("accelerator") or {}
    count = accelerator.get("resourceCount") or accelerator.get("count")
    return Container(
        image=raw.get("image", ""),
        command=tuple(raw.get("command", [])),
        args=tuple(raw.get("args", [])),
        env={e["name"]: e.get("value", "") for e in raw.get("env", [])},
        resources=Resources(
            cpu_request=resources.get("resourceCpuRequest"),
            cpu_limit=resources.get("resourceCpuLimit"),
            memory_request=resources.get("resourceMemoryRequest"),
            memory_limit=resources.get("resourceMemoryLimit"),
            accelerator_type=accelerator.get("resourceType") or accelerator.get("type"),
            accelerator_count=str(count) if count else None,
        ),
        raw=raw,
    )


def _platform(raw: dict[str, Any]) -> Platform:
    mounts = tuple(PvcMount(m["mountPath"], _pvc_source(m)) for m in raw.get("pvcMount", []))
    secrets = tuple(
        SecretAsEnv(
            _secret_name(entry),
            tuple((p["secretKey"], p["envVar"]) for p in entry.get("keyToEnv", [])),
            bool(entry.get("optional")),
        )
        for entry in raw.get("secretAsEnv", [])
    )
    volumes = tuple(
        SecretAsVolume(_secret_name(e), e.get("mountPath", ""), bool(e.get("optional")))
        for e in raw.get("secretAsVolume", [])
    )
    pulls = tuple(_secret_name(e) for e in raw.get("imagePullSecret", []))
    field_paths = tuple((e.get("name", ""), e.get("fieldPath", "")) for e in raw.get("fieldPathAsEnv", []))
    metadata = raw.get("podMetadata", {})
    return Platform(
        mounts, secrets, volumes, pulls, field_paths, dict(metadata.get("labels", {})),
        dict(metadata.get("annotations", {})), tuple(sorted(raw)),
    )  # fmt: skip


def _importer(raw: dict[str, Any]) -> Importer:
    uri = raw.get("artifactUri", {})
    constant = uri.get("constant")
    return Importer(
        None if constant is None else str(constant), raw.get("typeSchema", {}), dict(raw.get("metadata", {})),
        bool(raw.get("reimport")),
    )  # fmt: skip


def _secret_name(entry: dict[str, Any]) -> ValueSource:
    """A secret's name: written as a constant, or given by a parameter (kfp-kubernetes writes both shapes)."""
    if entry.get("secretName"):
        return ValueSource("constant", entry["secretName"])
    return value_source(entry.get("secretNameParameter", {}))


def _pvc_source(mount: dict[str, Any]) -> ValueSource:
    """Where a mount's PVC name comes from (kfp-kubernetes writes it in a few shapes)."""
    if "pvcNameParameter" in mount:
        return value_source(mount["pvcNameParameter"])
    for key in ("taskOutputParameter", "componentInputParameter"):
        if key in mount:
            return value_source({key: mount[key]})
    return ValueSource("constant", mount.get("constant", ""))


def value_source(raw: dict[str, Any]) -> ValueSource:
    """A parameter's source as kfp writes it in a task's inputs (or in a platform setting)."""
    selector = raw.get("parameterExpressionSelector") or None
    if "runtimeValue" in raw:
        return ValueSource("constant", raw["runtimeValue"].get("constant"), selector=selector)
    if "componentInputParameter" in raw:
        return ValueSource("input", name=raw["componentInputParameter"], selector=selector)
    if "taskOutputParameter" in raw:
        reference = raw["taskOutputParameter"]
        return ValueSource("task_output", name=reference["outputParameterKey"], producer=reference["producerTask"],
                           selector=selector)  # fmt: skip
    if "taskFinalStatus" in raw:
        return ValueSource("final_status", producer=raw["taskFinalStatus"]["producerTask"])
    return ValueSource("unknown", value=raw)


def _artifact_source(raw: dict[str, Any]) -> ArtifactSource:
    if "componentInputArtifact" in raw:
        return ArtifactSource("input", raw["componentInputArtifact"])
    reference = raw.get("taskOutputArtifact", {})
    return ArtifactSource("task_output", reference.get("outputArtifactKey", ""), reference.get("producerTask", ""))


def _loop(raw: dict[str, Any]) -> Loop | None:
    iterator = raw.get("artifactIterator") or raw.get("parameterIterator")
    if iterator is None:
        return None
    items = iterator.get("items", {})
    limit = int(raw.get("iteratorPolicy", {}).get("parallelismLimit", 0) or 0)
    source = items.get("inputArtifact") or items.get("inputParameter")
    return Loop(iterator["itemInput"], "artifactIterator" in raw, items.get("raw"), source, limit)


def _dag(raw: dict[str, Any]) -> Dag:
    outputs = raw.get("outputs", {})
    parameters = {}
    for name, selector in outputs.get("parameters", {}).items():
        if "valueFromParameter" in selector:
            choices = [selector["valueFromParameter"]]
        else:
            choices = selector.get("valueFromOneof", {}).get("parameterSelectors", [])
        parameters[name] = tuple(OutputChoice(c["producerSubtask"], c["outputParameterKey"]) for c in choices)
    artifacts = {
        name: tuple(OutputChoice(c["producerSubtask"], c["outputArtifactKey"]) for c in s.get("artifactSelectors", []))
        for name, s in outputs.get("artifacts", {}).items()
    }
    return Dag({}, parameters, artifacts)


def _seconds(duration: Any) -> float:
    text = str(duration).strip().lower()
    try:
        return float(text.rstrip("s")) if text.endswith("s") else float(text)
    except ValueError:
        return 0.0
