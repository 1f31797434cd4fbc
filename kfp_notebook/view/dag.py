"""Compiled IR → a DAG model (tasks, edges, groups) → DOT through the Python graphviz package.

The model is built from the compiled pipeline, the one source of truth with what will run. Node ids
are task paths ("exit-handler-1/for-loop-2/square"); a run's task ids carry loop indexes
("…/for-loop-2[3]/square"), which `model_id` strips so a run colours the node of its task.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.ir import Component, PipelineIR, Task
from kfp_notebook.status import TaskState

#: Fill of a node before any run; the panel recolours nodes by state (labextension/src/widget.ts).
PENDING_FILL = "#ffffff"


@dataclass
class TaskNode:
    """A task that runs a container: its label lines and its badges."""

    id: str
    label: str
    component: str
    image: str
    badges: list[str] = field(default_factory=list)
    exit_task: bool = False


@dataclass
class Group:
    """A control-flow group: If/Elif/Else branches, a condition, a ParallelFor, an ExitHandler."""

    id: str
    kind: str
    label: str
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    exit: bool = False


@dataclass
class DagModel:
    """The pipeline as nodes, groups and edges; `top` lists the root's members in order."""

    name: str
    nodes: dict[str, TaskNode] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    top: list[str] = field(default_factory=list)

    def representative(self, member: str) -> str:
        """A node standing for `member` in an edge (its first node, for a group)."""
        while member in self.groups and self.groups[member].members:
            member = self.groups[member].members[0]
        return member


def dag_model(ir: PipelineIR) -> DagModel:
    model = DagModel(ir.name)
    model.top = _add_dag(model, ir.root)
    return model


def _add_dag(model: DagModel, dag: Component) -> list[str]:
    assert dag.dag is not None
    tasks = dag.dag.tasks
    members = []
    for task in tasks.values():
        if task.is_group:
            group = Group(task.path, group_kind(task, tasks), _group_label(task, tasks))
            model.groups[task.path] = group
            group.members = _add_dag(model, task.component)
        else:
            model.nodes[task.path] = _task_node(task)
        members.append(task.path)
    for task in tasks.values():
        model.edges += _edges(task, task.path[: len(task.path) - len(task.name)])
    return members


def _task_node(task: Task) -> TaskNode:
    container = task.component.container
    image = container.image if container else ""
    return TaskNode(task.path, task.display_name, task.kfp_name, image, _badges(task), task.runs_after_failure)


def _badges(task: Task) -> list[str]:
    container, platform = task.component.container, task.component.platform
    badges = []
    if container is not None:
        resources = container.resources
        for value, short in (
            (resources.cpu_request, "cpu"),
            (resources.cpu_limit, "cpu≤"),
            (resources.memory_request, "mem"),
            (resources.memory_limit, "mem≤"),
        ):
            if value is not None:
                badges.append(f"{short} {value}")
        if resources.accelerator_type or resources.accelerator_count:
            count = resources.accelerator_count or "1"
            badges.append(f"GPU {count}× {resources.accelerator_type or ''}".strip())
    if not task.caching:
        badges.append("cache off")
    if task.retry and task.retry.max_retries:
        badges.append(f"retries {task.retry.max_retries}")
    if platform.pvc_mounts:
        badges.append("volume " + ", ".join(m.path for m in platform.pvc_mounts))
    if platform.secrets_as_env:
        badges.append("secrets")
    return badges


def group_kind(task: Task, siblings: dict[str, Task]) -> str:
    """What a group task is, from the IR's structure: "loop", "condition", "branches", "exit" or "dag"."""
    if task.loop is not None:
        return "loop"
    if task.condition:
        return "condition"
    if any(task.name in s.dependencies and s.runs_after_failure for s in siblings.values()):
        return "exit"
    members = task.component.dag.tasks.values() if task.component.dag else []
    if members and all(m.is_group and m.condition for m in members):
        return "branches"
    return "dag"


def _group_label(task: Task, siblings: dict[str, Task]) -> str:
    kind = group_kind(task, siblings)
    if kind == "condition":
        return "If " + readable_condition(task.condition or "")
    if kind == "branches":
        return "If / Elif / Else"
    if kind == "loop":
        return _loop_label(task)
    if kind == "exit":
        exits = [s.name for s in siblings.values() if task.name in s.dependencies and s.runs_after_failure]
        return f"ExitHandler (then {', '.join(exits)})"
    return task.name


def _loop_label(task: Task) -> str:
    loop = task.loop
    assert loop is not None
    source = loop.raw_items or _channel(loop.items_input or "items")
    return f"ParallelFor {source}" + (f" (parallelism {loop.parallelism})" if loop.parallelism else "")


def _channel(name: str) -> str:
    """A pipeline channel's readable name: 'pipelinechannel--train-Output' → 'train.Output'."""
    name = name.removeprefix("pipelinechannel--")
    match = re.match(r"(.+)-(Output|[A-Za-z_][A-Za-z0-9_]*)$", name)
    if match and "-" in name and not name.endswith("-loop-item"):
        return f"{match.group(1)}.{match.group(2)}"
    return name.removesuffix("-loop-item") + (" item" if name.endswith("-loop-item") else "")


def readable_condition(condition: str) -> str:
    """kfp's CEL condition as the user wrote it.

    `int(inputs.parameter_values['pipelinechannel--n-Output']) < 30` → `n.Output < 30`.
    """
    text = re.sub(r"inputs\.parameter_values\['([^']+)'\]", lambda m: _channel(m.group(1)), condition)
    text = re.sub(r"\b(int|double|string)\(([^()]*)\)", r"\2", text)
    return text.replace("&&", "and").replace("||", "or").replace("!(", "not (")


def _edges(task: Task, prefix: str) -> list[Edge]:
    flows: dict[str, list[str]] = {}
    for source in task.parameters.values():
        if source.kind == "task_output":
            flows.setdefault(source.producer, []).append(_channel(source.name).rsplit(".", 1)[-1])
    for artifact in task.artifacts.values():
        if artifact.kind == "task_output":
            flows.setdefault(artifact.producer, []).append(_channel(artifact.name).rsplit(".", 1)[-1])
    producers = list(dict.fromkeys([*task.dependencies, *flows]))
    return [
        Edge(f"{prefix}{p}", task.path, ", ".join(dict.fromkeys(flows.get(p, []))), task.runs_after_failure)
        for p in producers
    ]


def to_dot(model: DagModel) -> Any:
    """The model as a graphviz.Digraph (pure Python; rendering needs `dot` or the panel's viz.js)."""
    import graphviz

    graph = graphviz.Digraph(
        model.name,
        graph_attr={"compound": "true", "rankdir": "TB", "fontname": "Helvetica", "fontsize": "11", "nodesep": "0.3"},
    )
    graph.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fillcolor=PENDING_FILL,
        fontname="Helvetica",
        fontsize="10",
    )
    graph.attr("edge", fontname="Helvetica", fontsize="9", color="#666666")
    for member in model.top:
        _add_member(graph, model, member)
    for edge in model.edges:
        attributes = {"label": edge.label} if edge.label else {}
        if edge.source in model.groups:
            attributes["ltail"] = _cluster(edge.source)
        if edge.target in model.groups:
            attributes["lhead"] = _cluster(edge.target)
        if edge.exit:
            attributes["style"] = "dashed"
        graph.edge(model.representative(edge.source), model.representative(edge.target), **attributes)
    return graph


def _add_member(graph: Any, model: DagModel, member: str) -> None:
    if member in model.nodes:
        node = model.nodes[member]
        lines = [node.label] + ([node.component] if node.component != node.label else []) + [node.image]
        if node.badges:
            lines.append(" · ".join(node.badges))
        shape = {"shape": "octagon"} if node.exit_task else {}
        graph.node(member, "\n".join(lines), id=node_element_id(member), tooltip=member, **shape)
        return
    group = model.groups[member]
    with graph.subgraph(name=_cluster(member)) as cluster:
        cluster.attr(
            label=group.label,
            style="rounded,dashed" if group.kind != "exit" else "rounded,bold",
            color="#888888",
            id=node_element_id(member),
            fontsize="10",
        )
        for child in group.members:
            _add_member(cluster, model, child)


def _cluster(member: str) -> str:
    return "cluster_" + re.sub(r"[^A-Za-z0-9_]", "_", member)


def node_element_id(member: str) -> str:
    """The id of the SVG element drawn for a task or group (what the panel colours)."""
    return "kfp-task-" + re.sub(r"[^A-Za-z0-9_-]", "_", member)


def model_id(task_id: str) -> str:
    """A run's task id without loop indexes: 'for-loop-2[3]/square' → 'for-loop-2/square'."""
    return re.sub(r"\[\d+\]", "", task_id)


_PRECEDENCE = [
    TaskState.FAILED,
    TaskState.LOST,
    TaskState.RUNNING,
    TaskState.CANCELED,
    TaskState.PENDING,
    TaskState.SUCCEEDED,
    TaskState.CACHED,
    TaskState.SKIPPED,
]


def node_states(task_states: dict[str, TaskState]) -> dict[str, TaskState]:
    """States per model node: the iterations of a loop fold into one (failed > running > … > skipped)."""
    folded: dict[str, TaskState] = {}
    for task_id, state in task_states.items():
        key = model_id(task_id)
        current = folded.get(key)
        folded[key] = state if current is None or _PRECEDENCE.index(state) < _PRECEDENCE.index(current) else current
    return folded


def render_svg(dot_source: str) -> str | None:
    """SVG drawn by the `dot` binary when it is installed; None otherwise (the panel draws it then)."""
    if shutil.which("dot") is None:
        return None
    import graphviz

    return graphviz.Source(dot_source).pipe(format="svg", encoding="utf-8")
