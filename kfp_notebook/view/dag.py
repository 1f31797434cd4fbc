"""Compiled IR → a DAG model (tasks, edges, groups) → DOT through the Python graphviz package.

The model is built from the compiled pipeline, the one source of truth with what will run. Node ids
are task paths ("exit-handler-1/for-loop-2/square"); a run's task ids carry loop indexes
("…/for-loop-2[3]/square"), which `model_id` strips so a run colours the node of its task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.ir import PipelineIR
from kfp_notebook.status import TaskState
from kfp_notebook.view import labels

GROUP_KINDS = {"condition-branches": "branches", "condition": "condition", "for-loop": "loop", "exit-handler": "exit"}
#: Fill of a node before any run; the panel recolours nodes by state (labextension/src/widget.ts).
PENDING_FILL = "#ffffff"
#: A second, blank label line on ParallelFor clusters where the panel writes the iteration counts (✓13 ⟳2 ✗1 / 20).
#: How many independent top-level chains sit side by side before the next row (see wrapped_rows).
ROW_WIDTH = 8
LOOP_PROGRESS_SPACE = "\n" + "\u2007" * 16


@dataclass
class TaskNode:
    """A task that runs a container: its label lines and its badges."""

    id: str
    label: str
    component: str
    image: str
    badges: list[str] = field(default_factory=list)
    exit_task: bool = False

    def lines(self, default_image: str | None) -> list[str]:
        """What the node shows: its name, its component when that says more, an image other than the default."""
        lines = [labels.truncate(self.label)]
        if not labels.same_component(self.label, self.component):
            lines.append(labels.truncate(self.component))
        if self.image and self.image != default_image:
            lines.append(labels.truncate(self.image, 36))
        return lines

    def dot_label(self, default_image: str | None) -> str:
        """The node's DOT label: its lines, and its badges as small chips below."""
        return labels.html_label(self.lines(default_image), labels.badge_chips(self.badges))


@dataclass
class Group:
    """A control-flow group: If/Elif/Else branches, a condition, a ParallelFor, an ExitHandler."""

    id: str
    kind: str
    label: str
    members: list[str] = field(default_factory=list)
    items: list[Any] | None = None


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
    model.top = _add_dag(ir, model, ir.root, "")
    return model


def _add_dag(ir: PipelineIR, model: DagModel, dag_component: dict[str, Any], prefix: str) -> list[str]:
    members = []
    tasks = dag_component.get("dag", {}).get("tasks", {})
    for name, task in tasks.items():
        member = f"{prefix}{name}"
        component = ir.component(task)
        if ir.is_dag(component):
            group = Group(member, _group_kind(name), _group_label(name, task, tasks), items=labels.literal_items(task))
            model.groups[member] = group
            group.members = _add_dag(ir, model, component, f"{member}/")
            if group.kind == "branches":
                _label_branches(ir, model, group, component)
        else:
            model.nodes[member] = _task_node(ir, member, task, component)
        members.append(member)
    for name, task in tasks.items():
        model.edges += _edges(f"{prefix}{name}", task, prefix)
    return members


def _label_branches(ir: PipelineIR, model: DagModel, group: Group, component: dict[str, Any]) -> None:
    """If / Elif / Else labels for the branches of a `dsl.If … Elif … Else` chain, in the order written."""
    group.members.sort(key=_suffix)
    tasks = component.get("dag", {}).get("tasks", {})
    conditions = [tasks[m.rsplit("/", 1)[-1]].get("triggerPolicy", {}).get("condition", "") for m in group.members]
    for member, label in zip(group.members, labels.branch_labels(conditions), strict=True):
        model.groups[member].label = label


def _suffix(member: str) -> int:
    match = re.search(r"-(\d+)$", member)
    return int(match.group(1)) if match else 0


def _task_node(ir: PipelineIR, member: str, task: dict[str, Any], component: dict[str, Any]) -> TaskNode:
    container = ir.container(component)
    component_name = task["componentRef"]["name"].removeprefix("comp-")
    exit_task = task.get("triggerPolicy", {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"
    label = task.get("taskInfo", {}).get("name", member.rsplit("/", 1)[-1])
    badges = _badges(container, task, ir.platform(component))
    return TaskNode(member, label, component_name, container.get("image", ""), badges, exit_task)


def _badges(container: dict[str, Any], task: dict[str, Any], platform: dict[str, Any]) -> list[str]:
    resources = container.get("resources") or {}
    badges = []
    for key, short in (
        ("resourceCpuRequest", "cpu"),
        ("resourceCpuLimit", "cpu≤"),
        ("resourceMemoryRequest", "mem"),
        ("resourceMemoryLimit", "mem≤"),
    ):
        if key in resources:
            badges.append(f"{short} {resources[key]}")
    accelerator = resources.get("accelerator") or {}
    if accelerator:
        count = accelerator.get("resourceCount") or accelerator.get("count") or "1"
        badges.append(f"GPU {count}× {accelerator.get('resourceType') or accelerator.get('type', '')}".strip())
    if not task.get("cachingOptions", {}).get("enableCache"):
        badges.append("cache off")
    if task.get("retryPolicy", {}).get("maxRetryCount"):
        badges.append(f"retries {task['retryPolicy']['maxRetryCount']}")
    if platform.get("pvcMount"):
        badges.append("volume " + ", ".join(m["mountPath"] for m in platform["pvcMount"]))
    if platform.get("secretAsEnv"):
        badges.append("secrets")
    return badges


def is_group_component(component: str | None) -> bool:
    """Whether a task's component is a control-flow group (condition, loop, exit handler), not a container."""
    name = (component or "").removeprefix("comp-")
    return _group_kind(name) != "dag" or name.startswith("condition-")


def _group_kind(name: str) -> str:
    base = re.sub(r"-\d+$", "", name)
    return GROUP_KINDS.get(base, "dag")


def _group_label(name: str, task: dict[str, Any], siblings: dict[str, Any]) -> str:
    kind = _group_kind(name)
    if kind == "condition":
        condition = task.get("triggerPolicy", {}).get("condition", "")
        return "If " + readable_condition(condition) if condition else "Else"
    if kind == "branches":
        return "If / Elif / Else"
    if kind == "loop":
        return _loop_label(task)
    if kind == "exit":
        exits = [
            n
            for n, t in siblings.items()
            if name in t.get("dependentTasks", []) and t.get("triggerPolicy", {}).get("strategy")
        ]
        return f"ExitHandler (then {', '.join(exits)})" if exits else "ExitHandler"
    return name


def _loop_label(task: dict[str, Any]) -> str:
    iterator = task.get("parameterIterator") or task.get("artifactIterator") or {}
    items = iterator.get("items", {})
    raw = items.get("raw")
    channel = items.get("inputParameter") or items.get("inputArtifact") or "items"
    source = labels.items_text(raw) if raw else _channel(channel)
    limit = task.get("iteratorPolicy", {}).get("parallelismLimit")
    return f"ParallelFor {source}" + (f" (parallelism {limit})" if limit else "")


def _channel(name: str) -> str:
    """A pipeline channel's readable name: 'pipelinechannel--train-Output' → 'train'."""
    return labels.channel(name)


def readable_condition(condition: str) -> str:
    """kfp's CEL condition as the user wrote it: `int(…['pipelinechannel--n-Output']) < 30` → `n < 30`."""
    return labels.condition_text(condition)


def _edges(member: str, task: dict[str, Any], prefix: str) -> list[Edge]:
    flows: dict[str, list[str]] = {}
    inputs = task.get("inputs", {})
    for source in inputs.get("parameters", {}).values():
        if "taskOutputParameter" in source:
            reference = source["taskOutputParameter"]
            flows.setdefault(reference["producerTask"], []).append(reference["outputParameterKey"])
    for source in inputs.get("artifacts", {}).values():
        if "taskOutputArtifact" in source:
            reference = source["taskOutputArtifact"]
            flows.setdefault(reference["producerTask"], []).append(reference["outputArtifactKey"])
    exit_task = task.get("triggerPolicy", {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"
    producers = list(dict.fromkeys([*task.get("dependentTasks", []), *flows]))
    return [Edge(f"{prefix}{p}", member, labels.edge_label(flows.get(p, [])), exit_task) for p in producers]


def to_dot(model: DagModel, styles: dict[str, dict[str, str]] | None = None) -> Any:
    """The model as a graphviz.Digraph (pure Python; rendering needs `dot` or the panel's viz.js).

    `styles` adds DOT attributes to nodes by element id (the saved picture's state fills).
    """
    import graphviz

    graph = graphviz.Digraph(
        model.name,
        graph_attr={
            "compound": "true",
            "rankdir": "TB",
            "fontname": "Helvetica",
            "fontsize": "11",
            "nodesep": "0.3",
            "bgcolor": "transparent",
        },
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
    default_image = _default_image()
    for member in model.top:
        _add_member(graph, model, member, default_image, styles or {})
    for edge in model.edges:
        attributes = {"label": edge.label} if edge.label else {}
        if edge.source in model.groups:
            attributes["ltail"] = _cluster(edge.source)
        if edge.target in model.groups:
            attributes["lhead"] = _cluster(edge.target)
        if edge.exit:
            attributes["style"] = "dashed"
        graph.edge(model.representative(edge.source), model.representative(edge.target), **attributes)
    for source, target in wrapped_rows(model):
        graph.edge(model.representative(source), model.representative(target), style="invis")
    return graph


def wrapped_rows(model: DagModel, width: int = ROW_WIDTH) -> list[tuple[str, str]]:
    """Invisible edges that stack a wide pipeline's independent top-level chains into rows of `width`.

    Each chain past the first `width` hangs below the deepest task of the chain `width` places before,
    so 100 independent chains draw 8 wide and 13 deep instead of 100 wide.
    """
    targets = {e.target for e in model.edges}
    roots = [m for m in model.top if m not in targets]
    following = {e.source: e.target for e in model.edges}
    return [(_deepest(following, roots[i - width]), roots[i]) for i in range(width, len(roots))]


def _deepest(following: dict[str, str], member: str) -> str:
    seen = {member}
    while following.get(member) is not None and following[member] not in seen:
        member = following[member]
        seen.add(member)
    return member


def _default_image() -> str:
    from kfp_notebook.authoring.components import kfp_default_image

    return kfp_default_image() or "python:3.11"


def _add_member(graph: Any, model: DagModel, member: str, default_image: str, styles: dict[str, Any]) -> None:
    if member in model.nodes:
        node = model.nodes[member]
        shape = {"shape": "octagon"} if node.exit_task else {}
        shape.update(styles.get(node_element_id(member), {}))
        tooltip = "\n".join([node.label, f"component {node.component}", f"image {node.image}", *node.badges])
        graph.node(member, node.dot_label(default_image), id=node_element_id(member), tooltip=tooltip, **shape)
        return
    group = model.groups[member]
    with graph.subgraph(name=_cluster(member)) as cluster:
        cluster.attr(
            label=group.label + (LOOP_PROGRESS_SPACE if group.kind == "loop" else ""),
            style="rounded,dashed" if group.kind != "exit" else "rounded,bold",
            color="#888888",
            id=node_element_id(member),
            fontsize="10",
            tooltip=_group_tooltip(group),
        )
        for child in group.members:
            _add_member(cluster, model, child, default_image, styles)


def _group_tooltip(group: Group) -> str:
    if group.items is not None:
        return labels.truncate(f"ParallelFor over {len(group.items)} items: {group.items}", 2000)
    return group.label


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


def fold_states(states: list[TaskState]) -> TaskState:
    """One state standing for several (a loop's iterations): the first of failed > running > … > skipped."""
    return min(states, key=_PRECEDENCE.index) if states else TaskState.PENDING


def render_svg(dot_source: str) -> str | None:
    """SVG drawn in the kernel (`dot`, else Graphviz in WebAssembly); None when neither exists (the panel draws it)."""
    from kfp_notebook.view.svg import render_svg as draw

    return draw(dot_source)
