"""The run-time graph: DAG instances and their task nodes, inputs resolved the way KFP's driver resolves them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.backends.local.cel import evaluate
from kfp_notebook.backends.local.output_values import check_wire_value, driver_mismatch
from kfp_notebook.backends.local.placeholders import RunInfo, input_references, run_placeholder
from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import Component, Task, ValueSource
from kfp_notebook.ir.parameters import PARAMETER_TYPES, coerce
from kfp_notebook.tracking.states import TaskState

Artifacts = dict[str, list[dict[str, Any]]]


class InputError(KfpNotebookError):
    """A task's input cannot be resolved (its producer did not run, or a selector failed)."""


@dataclass
class Loop:
    """A ParallelFor task's iterations: items, how many may run at once, and each iteration's outputs."""

    items: list[Any]
    limit: int
    started: int = 0
    running: int = 0
    outputs: dict[int, tuple[dict[str, Any], Artifacts]] = field(default_factory=dict)
    failed: bool = False


@dataclass(eq=False)
class Node:
    """One task instance in one DAG instance (a task inside a loop has one node per iteration)."""

    id: str
    task: Task
    dag: DagInstance
    state: TaskState = TaskState.PENDING
    started: bool = False
    skipped_by_condition: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: Artifacts = field(default_factory=dict)
    message: str = ""
    loop: Loop | None = None
    folder: str | None = None  # where its files are, once it started
    absent: dict[str, str] = field(default_factory=dict)  # output name → why it has no value (an empty loop)
    inputs: dict[str, Any] = field(default_factory=dict)  # a cached task's resolved inputs (it has no folder)

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def kind(self) -> str:
        return self.task.component.kind

    @property
    def display_name(self) -> str:
        return self.task.display_name

    @property
    def blocks_downstream(self) -> bool:
        """Finished in a way that keeps dependent tasks from running (a false condition does not)."""
        if self.state is TaskState.SKIPPED:
            return not self.skipped_by_condition
        return self.state in (TaskState.FAILED, TaskState.CANCELED)


@dataclass(eq=False)
class DagInstance:
    """One execution of a DAG component: the root, a condition's body, or one loop iteration."""

    prefix: str
    component: Component
    parameters: dict[str, Any]
    artifacts: Artifacts
    owner: Node | None
    index: int | None = None
    execution_id: int = 0  # the number the driver's {{$.pipeline_task_uuid}} gives tasks of this instance
    nodes: dict[str, Node] = field(default_factory=dict)
    closed: bool = False
    # The scheduler's bookkeeping, so that a finished task costs the work of its dependents, not of the DAG:
    waiting: dict[str, set[str]] = field(default_factory=dict)  # node name → its unfinished upstream tasks
    dependents: dict[str, list[str]] = field(default_factory=dict)  # node name → the nodes that wait for it
    unfinished: set[str] = field(default_factory=set)

    @property
    def failed(self) -> bool:
        return any(node.state in (TaskState.FAILED, TaskState.CANCELED) for node in self.nodes.values())


def open_dag(dag: DagInstance) -> list[Node]:
    """Create the nodes of a DAG instance (all PENDING) and what each one waits for."""
    assert dag.component.dag is not None
    for name, task in dag.component.dag.tasks.items():
        dag.nodes[name] = Node(f"{dag.prefix}{name}", task, dag)
    for name, node in dag.nodes.items():
        dag.waiting[name] = set(upstream(node))
        for producer in dag.waiting[name]:
            dag.dependents.setdefault(producer, []).append(name)
    dag.unfinished = set(dag.nodes)
    return list(dag.nodes.values())


def ready_nodes(dag: DagInstance) -> list[Node]:
    """The nodes of a newly opened DAG instance that wait for nothing."""
    return [dag.nodes[name] for name, waits in dag.waiting.items() if not waits]


def settle(node: Node) -> list[Node]:
    """Note that `node` finished; the nodes of its DAG instance that this leaves waiting for nothing."""
    dag = node.dag
    if node.name not in dag.unfinished:
        return []
    dag.unfinished.discard(node.name)
    ready = []
    for name in dag.dependents.get(node.name, ()):
        waits = dag.waiting[name]
        waits.discard(node.name)
        if not waits:
            ready.append(dag.nodes[name])
    return ready


def upstream(node: Node) -> list[str]:
    """The tasks `node` waits for: its declared dependencies and every task whose output it reads.

    kfp leaves a producer out of `dependentTasks` when its output only feeds a task setting
    (`set_cpu_limit(task.output)`); the backend still waits for it, and so does this runner.
    """
    names = list(node.task.dependencies)
    platform = node.task.component.platform
    secrets = [s.secret for s in platform.secrets_as_env] + [s.secret for s in platform.secrets_as_volume]
    sources = [*node.task.parameters.values(), *node.task.artifacts.values(), *secrets]
    sources += [m.pvc for m in platform.pvc_mounts]
    for source in sources:
        producer = getattr(source, "producer", "")
        if producer and producer not in names and producer in node.dag.nodes:
            names.append(producer)
    return names


def resolve_inputs(node: Node, run: RunInfo) -> tuple[dict[str, Any], Artifacts]:
    """The task's input parameter values (typed as its component declares) and input artifacts."""
    declared = node.task.component.inputs.parameters
    raw = {}
    for name, source in node.task.parameters.items():
        value = parameter_value(node, name, source, run)
        if value is not _ABSENT:
            raw[name] = value
            if source.kind == "task_output" and name in declared:
                _check_kind(node, name, source, value)
    parameters = {name: _typed(node, name, _references(node, name, value, raw)) for name, value in raw.items()}
    for name, definition in declared.items():
        if name not in parameters and definition.has_default:
            parameters[name] = coerce(definition.default, definition.type)
    artifacts = {name: _artifact(node, name) for name in node.task.artifacts}
    return parameters, artifacts


def check_sendable(node: Node, parameters: dict[str, Any]) -> None:
    """Refuse inputs the backend cannot send to a task: its driver writes the executor input as protobuf JSON,
    which has no NaN or Infinity (an `OutputPath(float)` file may hold `nan` or `inf`; the launcher reads it)."""
    for name, value in parameters.items():
        try:
            check_wire_value(value)
        except ValueError as exc:
            raise InputError(
                f"input {name!r} of task {node.id!r} is {value!r}, which the KFP backend cannot pass to a task ({exc}: "
                "its driver writes a task's inputs as protobuf JSON, which has no NaN or Infinity); "
                "produce a finite number, or a string"
            ) from None


def _check_kind(node: Node, name: str, source: ValueSource, value: Any) -> None:
    """The driver's check of a task's input against its declared type: a bool for an int input fails the task."""
    parameter_type = node.task.component.inputs.parameters[name].type
    kind = driver_mismatch(value, parameter_type)
    if kind is not None:
        raise InputError(
            f"input {name!r} of task {node.id!r} is declared {PARAMETER_TYPES.get(parameter_type, parameter_type)}, "
            f"but output {source.name!r} of {source.producer!r} is {value!r} (a {kind}); the KFP driver refuses it "
            "(input parameter type mismatch): return a value of the declared type"
        )


def _typed(node: Node, name: str, value: Any) -> Any:
    declared = node.task.component.inputs.parameters
    return coerce(value, declared[name].type if name in declared else None)


def _references(node: Node, name: str, value: Any, raw: dict[str, Any]) -> Any:
    try:
        return input_references(value, raw)
    except KeyError as exc:
        missing = exc.args[0]
        raise InputError(f"input {name!r} of task {node.id!r} refers to {missing!r}, which has no value") from None


_ABSENT = object()


def parameter_value(node: Node, name: str, source: ValueSource, run: RunInfo) -> Any:
    """The value a source gives inside `node`'s DAG instance (a selector applied when there is one)."""
    dag = node.dag
    if source.kind == "constant":
        value = run_placeholder(source.value, run, node.task.name, dag.execution_id)
    elif source.kind == "input":
        value = dag.parameters.get(source.name, _ABSENT)
    elif source.kind == "task_output":
        value = _output(node, source, name)
    elif source.kind == "final_status":
        value = final_status(dag.nodes[source.producer], run)
    else:
        raise InputError(f"input {name!r} of task {node.id!r} has a source the local runner does not know: {source}")
    if source.selector and value is not _ABSENT:
        text = value if isinstance(value, str) else json.dumps(value)
        value = evaluate(source.selector, {"string_value": text})
    return value


def _output(node: Node, source: ValueSource, name: str) -> Any:
    producer = node.dag.nodes[source.producer]
    if source.name in producer.parameters:
        return producer.parameters[source.name]
    if node.task.runs_after_failure and producer.state.finished:
        return _ABSENT  # ignore_upstream_failure(): the producer failed or was skipped; the input's default stands in
    if source.name in producer.absent:
        raise InputError(f"input {name!r} of task {node.id!r} has no value: {producer.absent[source.name]}")
    raise InputError(
        f"input {name!r} of task {node.id!r} comes from output {source.name!r} of {producer.id!r}, "
        f"which has no such value (that task ended {producer.state.value.lower()})"
    )


def _artifact(node: Node, name: str) -> list[dict[str, Any]]:
    source = node.task.artifacts[name]
    if source.kind == "input":
        return list(node.dag.artifacts.get(source.name, []))
    producer = node.dag.nodes[source.producer]
    items = producer.artifacts.get(source.name)
    if items is None and source.name in producer.absent:
        raise InputError(f"input artifact {name!r} of task {node.id!r} has no value: {producer.absent[source.name]}")
    if items is None:
        raise InputError(
            f"input artifact {name!r} of task {node.id!r} comes from {producer.id!r}, which did not produce it"
        )
    return list(items)


#: The execution states (ML Metadata's) the backend reports in a PipelineTaskFinalStatus.
_FINAL_STATES = {TaskState.SUCCEEDED: "COMPLETE", TaskState.CACHED: "CACHED", TaskState.SKIPPED: "COMPLETE",
                 TaskState.FAILED: "FAILED", TaskState.CANCELED: "CANCELED"}  # fmt: skip
#: google.rpc codes for the error of a task that did not complete (the backend leaves `error` empty).
_ERROR_CODES = {"FAILED": 2, "CANCELED": 1}


def final_status(producer: Node, run: RunInfo) -> dict[str, Any]:
    """The PipelineTaskFinalStatus an exit task receives, with the driver's field names and values."""
    state = _FINAL_STATES.get(producer.state, producer.state.value)
    error = {"code": _ERROR_CODES[state], "message": producer.message} if state in _ERROR_CODES else {}
    return {
        "state": state,
        "pipelineJobResourceName": run.resource_name,
        "pipelineTaskName": producer.name,
        "error": error,
    }


def condition_holds(node: Node, parameters: dict[str, Any]) -> bool:
    condition = node.task.condition
    if not condition:
        return True
    return bool(evaluate(condition, {"inputs": {"parameter_values": parameters}}))


def loop_items(node: Node, parameters: dict[str, Any], artifacts: Artifacts) -> list[Any]:
    """A ParallelFor's items (parameter values, or artifacts)."""
    loop = node.task.loop
    assert loop is not None
    if loop.over_artifacts:
        return list(artifacts.get(loop.items_input or "", []))
    values = json.loads(loop.raw_items) if loop.raw_items is not None else parameters.get(loop.items_input or "", [])
    if isinstance(values, str):
        values = json.loads(values)
    return list(values)


def dag_outputs(dag: DagInstance) -> tuple[dict[str, Any], Artifacts]:
    """What a finished DAG instance gives its owner task: for each output, the first candidate that has a value."""
    assert dag.component.dag is not None
    parameters: dict[str, Any] = {}
    for name, choices in dag.component.dag.output_parameters.items():
        for choice in choices:
            producer = dag.nodes[choice.producer]
            if choice.key in producer.parameters:
                parameters[name] = producer.parameters[choice.key]
                break
    artifacts: Artifacts = {}
    for name, choices in dag.component.dag.output_artifacts.items():
        for choice in choices:
            artifacts.setdefault(name, []).extend(dag.nodes[choice.producer].artifacts.get(choice.key, []))
    return parameters, artifacts


def empty_loop_outputs(node: Node) -> dict[str, str]:
    """Why each output of a loop that had no items has no value.

    The backend's driver collects a loop's outputs only when its `iteration_count` is above 0; with none it
    looks for the task inside the loop, which never ran, and fails the consuming task. So does this runner.
    """
    dag = node.task.component.dag
    assert dag is not None
    reasons = {}
    for name, choices in [*dag.output_parameters.items(), *dag.output_artifacts.items()]:
        inner = f" output {choices[0].key!r} of {choices[0].producer!r}" if choices else ""
        reasons[name] = (
            f"it collects{inner} in the loop {node.id!r}, which had no items: the loop ran 0 times, so there is "
            "nothing to collect (the KFP backend fails this task too)"
        )
    return reasons


def absent_dag_outputs(dag: DagInstance, parameters: dict[str, Any], artifacts: Artifacts) -> dict[str, str]:
    """Why outputs of a finished DAG instance have no value, carried up from a task inside (an empty loop)."""
    assert dag.component.dag is not None
    reasons = {}
    outputs = [*dag.component.dag.output_parameters.items(), *dag.component.dag.output_artifacts.items()]
    for name, choices in outputs:
        if name in parameters or name in artifacts:
            continue
        found = [dag.nodes[c.producer].absent[c.key] for c in choices if c.key in dag.nodes[c.producer].absent]
        if found:
            reasons[name] = found[0]
    return reasons


def collect_loop_outputs(loop: Loop) -> tuple[dict[str, Any], Artifacts]:
    """A loop's outputs: each parameter as the list of its iterations' values, artifacts concatenated."""
    parameters: dict[str, Any] = {}
    artifacts: Artifacts = {}
    for index in sorted(loop.outputs):
        iteration_parameters, iteration_artifacts = loop.outputs[index]
        for name, value in iteration_parameters.items():
            parameters.setdefault(name, []).append(value)
        for name, items in iteration_artifacts.items():
            artifacts.setdefault(name, []).extend(items)
    return parameters, artifacts


def pipeline_outputs(root: DagInstance) -> dict[str, Any]:
    """The pipeline's own outputs from its finished root DAG, named as it declares them: parameter values,
    and for an artifact output its artifact (a list of them when declared a list, as dsl.Collected gives)."""
    parameters, artifacts = dag_outputs(root)
    declared = root.component.outputs.artifacts
    outputs: dict[str, Any] = dict(parameters)
    for name, items in artifacts.items():
        listed = name in declared and declared[name].is_list
        if listed or items:
            outputs[name] = list(items) if listed else items[0]
    return outputs
