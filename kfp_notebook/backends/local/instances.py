"""The run-time graph: DAG instances and their task nodes, inputs resolved the way KFP's driver resolves them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.backends.local.cel import evaluate
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.parameters import coerce
from kfp_notebook.status import TaskState

ALL_COMPLETED = "ALL_UPSTREAM_TASKS_COMPLETED"


class InputError(KfpNotebookError):
    """A task's input cannot be resolved (its producer did not run, or a selector failed)."""


@dataclass
class Loop:
    """A ParallelFor task's iterations: items, how many may run at once, and each iteration's outputs."""

    items: list[Any]
    limit: int
    started: int = 0
    running: int = 0
    outputs: dict[int, tuple[dict[str, Any], dict[str, list[Any]]]] = field(default_factory=dict)
    failed: bool = False


@dataclass(eq=False)
class Node:
    """One task instance in one DAG instance (a task inside a loop has one node per iteration)."""

    id: str
    name: str
    spec: dict[str, Any]
    component: dict[str, Any]
    kind: str
    dag: DagInstance
    state: TaskState = TaskState.PENDING
    started: bool = False
    skipped_by_condition: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    message: str = ""
    loop: Loop | None = None

    @property
    def display_name(self) -> str:
        return self.spec.get("taskInfo", {}).get("name", self.name)

    @property
    def blocks_downstream(self) -> bool:
        """Finished in a way that keeps dependent tasks from running (a false condition does not)."""
        if self.state is TaskState.SKIPPED:
            return not self.skipped_by_condition
        return self.state in (TaskState.FAILED, TaskState.CANCELED)

    @property
    def dependencies(self) -> list[str]:
        return list(self.spec.get("dependentTasks", []))

    @property
    def waits_for_all(self) -> bool:
        return self.spec.get("triggerPolicy", {}).get("strategy") == ALL_COMPLETED


@dataclass(eq=False)
class DagInstance:
    """One execution of a DAG component: the root, a condition's body, or one loop iteration."""

    prefix: str
    component: dict[str, Any]
    parameters: dict[str, Any]
    artifacts: dict[str, list[dict[str, Any]]]
    owner: Node | None
    index: int | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    closed: bool = False

    @property
    def finished(self) -> bool:
        return all(node.state.finished for node in self.nodes.values())

    @property
    def failed(self) -> bool:
        return any(node.state in (TaskState.FAILED, TaskState.CANCELED) for node in self.nodes.values())


def open_dag(ir: PipelineIR, dag: DagInstance) -> list[Node]:
    """Create the nodes of a DAG instance (all PENDING)."""
    for name, spec in dag.component["dag"]["tasks"].items():
        component = ir.component(spec)
        dag.nodes[name] = Node(f"{dag.prefix}{name}", name, spec, component, ir.kind(component), dag)
    return list(dag.nodes.values())


def resolve_inputs(node: Node, run_id: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The task's input parameter values (typed as its component declares) and input artifacts."""
    declared = node.component.get("inputDefinitions", {}).get("parameters", {})
    parameters = {}
    for name, source in node.spec.get("inputs", {}).get("parameters", {}).items():
        value = parameter_value(node, name, source, run_id)
        if value is _ABSENT:
            continue
        parameters[name] = coerce(value, declared.get(name, {}).get("parameterType"))
    for name, definition in declared.items():
        if name not in parameters and "defaultValue" in definition:
            parameters[name] = coerce(definition["defaultValue"], definition.get("parameterType"))
    artifacts = {
        name: _artifact(node, name, source) for name, source in node.spec.get("inputs", {}).get("artifacts", {}).items()
    }
    return parameters, artifacts


_ABSENT = object()


def parameter_value(node: Node, name: str, source: dict[str, Any], run_id: str) -> Any:
    dag = node.dag
    if "runtimeValue" in source:
        value = source["runtimeValue"].get("constant")
    elif "componentInputParameter" in source:
        value = dag.parameters.get(source["componentInputParameter"], _ABSENT)
    elif "taskOutputParameter" in source:
        value = _output(node, source["taskOutputParameter"], name)
    elif "taskFinalStatus" in source:
        value = final_status(dag.nodes[source["taskFinalStatus"]["producerTask"]], run_id)
    else:
        raise InputError(f"input {name!r} of task {node.id!r} has a source the local runner does not know: {source}")
    selector = source.get("parameterExpressionSelector")
    if selector and value is not _ABSENT:
        text = value if isinstance(value, str) else json.dumps(value)
        value = evaluate(selector, {"string_value": text})
    return value


def _output(node: Node, reference: dict[str, str], name: str) -> Any:
    producer = node.dag.nodes[reference["producerTask"]]
    key = reference["outputParameterKey"]
    if key not in producer.parameters:
        raise InputError(
            f"input {name!r} of task {node.id!r} comes from output {key!r} of {producer.id!r}, "
            f"which has no such value (that task ended {producer.state.value.lower()})"
        )
    return producer.parameters[key]


def _artifact(node: Node, name: str, source: dict[str, Any]) -> list[dict[str, Any]]:
    if "componentInputArtifact" in source:
        return list(node.dag.artifacts.get(source["componentInputArtifact"], []))
    reference = source.get("taskOutputArtifact")
    if reference is None:
        raise InputError(f"input artifact {name!r} of task {node.id!r} has a source the local runner does not know")
    producer = node.dag.nodes[reference["producerTask"]]
    items = producer.artifacts.get(reference["outputArtifactKey"])
    if items is None:
        raise InputError(
            f"input artifact {name!r} of task {node.id!r} comes from {producer.id!r}, which did not produce it"
        )
    return list(items)


def final_status(producer: Node, run_id: str) -> dict[str, Any]:
    """The PipelineTaskFinalStatus an exit handler receives."""
    state = (
        "SUCCEEDED"
        if producer.state in (TaskState.SUCCEEDED, TaskState.SKIPPED, TaskState.CACHED)
        else producer.state.value
    )
    return {
        "state": state,
        "pipelineJobResourceName": run_id,
        "pipelineTaskName": producer.id,
        "error": {"code": 0 if state == "SUCCEEDED" else 1, "message": producer.message},
    }


def condition_holds(node: Node, parameters: dict[str, Any]) -> bool:
    condition = node.spec.get("triggerPolicy", {}).get("condition")
    if not condition:
        return True
    return bool(evaluate(condition, {"inputs": {"parameter_values": parameters}}))


def loop_items(node: Node, parameters: dict[str, Any], artifacts: dict[str, list[Any]]) -> tuple[list[Any], str, bool]:
    """A ParallelFor's items, the input name each item is given as, and whether items are artifacts."""
    if "artifactIterator" in node.spec:
        iterator = node.spec["artifactIterator"]
        return list(artifacts.get(iterator["items"]["inputArtifact"], [])), iterator["itemInput"], True
    iterator = node.spec["parameterIterator"]
    items = iterator["items"]
    values = json.loads(items["raw"]) if "raw" in items else parameters.get(items["inputParameter"], [])
    if isinstance(values, str):
        values = json.loads(values)
    return list(values), iterator["itemInput"], False


def dag_outputs(dag: DagInstance) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """What a finished DAG instance gives its owner task, as its `dag.outputs` selects."""
    selectors = dag.component["dag"].get("outputs", {})
    parameters: dict[str, Any] = {}
    for name, selector in selectors.get("parameters", {}).items():
        if "valueFromParameter" in selector:
            source = selector["valueFromParameter"]
            producer = dag.nodes[source["producerSubtask"]]
            if source["outputParameterKey"] in producer.parameters:
                parameters[name] = producer.parameters[source["outputParameterKey"]]
        elif "valueFromOneof" in selector:
            for choice in selector["valueFromOneof"].get("parameterSelectors", []):
                producer = dag.nodes[choice["producerSubtask"]]
                if choice["outputParameterKey"] in producer.parameters:
                    parameters[name] = producer.parameters[choice["outputParameterKey"]]
                    break
    artifacts: dict[str, list[Any]] = {}
    for name, selector in selectors.get("artifacts", {}).items():
        for choice in selector.get("artifactSelectors", []):
            artifacts.setdefault(name, []).extend(
                dag.nodes[choice["producerSubtask"]].artifacts.get(choice["outputArtifactKey"], [])
            )
    return parameters, artifacts


def collect_loop_outputs(loop: Loop) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A loop's outputs: each parameter as the list of its iterations' values, artifacts concatenated."""
    parameters: dict[str, Any] = {}
    artifacts: dict[str, list[Any]] = {}
    for index in sorted(loop.outputs):
        iteration_parameters, iteration_artifacts = loop.outputs[index]
        for name, value in iteration_parameters.items():
            parameters.setdefault(name, []).append(value)
        for name, items in iteration_artifacts.items():
            artifacts.setdefault(name, []).extend(items)
    return parameters, artifacts
