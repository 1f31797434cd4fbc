"""Compiled IR → a DAG model (tasks, edges, groups) → DOT through the Python graphviz package.

The model is built from the compiled pipeline, the one source of truth with what will run. Node ids
are task paths ("exit-handler-1/for-loop-2/square"); a run's task ids carry loop indexes
("…/for-loop-2[3]/square"), which `tracking.task_ids.path_of` strips so a run colours the node of its task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.ir import Component, PipelineIR, Task
from kfp_notebook.tracking.states import TaskState, fold
from kfp_notebook.tracking.task_ids import path_of
from kfp_notebook.view import labels, layout

#: Fill of a node before any run; the panel recolours nodes by state (frontend/src/widget.ts).
PENDING_FILL = "#ffffff"
#: A second, blank label line on loop clusters where the panel writes the iteration counts (✓13 ⟳2 ✗1 / 20).
LOOP_PROGRESS_SPACE = "\n" + "\u2007" * 16

# Classes the DOT gives the SVG's elements (Graphviz adds its `class` attribute to the element's class list):
# what the panel's front end and its CSS select (frontend/src/widget.ts, style/index.css), never wording.
#: Every task node.
TASK_CLASS = "kfp-task"
#: A task whose label ends with a line of badge chips (resources, cache off, retries…).
BADGED_CLASS = "kfp-badged"
#: A task that runs after a failure (an ExitHandler's exit task).
EXIT_TASK_CLASS = "kfp-exit-task"
#: Every group cluster, and one class per kind of group (`group_kind`); loops get the iteration counts.
GROUP_CLASS = "kfp-group"
GROUP_KIND_CLASSES = {
    "loop": "kfp-loop",
    "condition": "kfp-condition",
    "branches": "kfp-branches",
    "exit": "kfp-exit-handler",
    "dag": "kfp-subdag",
}
#: An edge that runs after a failure (into an exit task); the invisible edges that stack wide pipelines into rows.
EXIT_EDGE_CLASS = "kfp-exit-edge"
ROW_EDGE_CLASS = "kfp-row"
#: Every class above: the front end's copy (frontend/src/dot.ts) is checked against it (tests/test_unit_dag.py).
DOT_CLASSES = frozenset(
    {TASK_CLASS, BADGED_CLASS, EXIT_TASK_CLASS, GROUP_CLASS, *GROUP_KIND_CLASSES.values(), EXIT_EDGE_CLASS,
     ROW_EDGE_CLASS}
)  # fmt: skip


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

    def dot_label(self, default_image: str | None, html: bool = True, icon: str = "") -> str:
        """The node's DOT label: its lines (the first after a state's `icon`), and its badges as chips below
        (small, in an HTML-like label)."""
        label = labels.html_label if html else labels.plain_label
        lines = self.lines(default_image)
        lines[0] = f"{icon} {lines[0]}" if icon else lines[0]
        return label(lines, labels.badge_chips(self.badges))

    def dot_class(self) -> str:
        """The node's classes: a task, badged when its label ends with badge chips, an exit task."""
        marks = [TASK_CLASS, BADGED_CLASS if self.badges else "", EXIT_TASK_CLASS if self.exit_task else ""]
        return " ".join(mark for mark in marks if mark)


@dataclass
class Group:
    """A control-flow group: If/Elif/Else branches, a condition, a ParallelFor, an ExitHandler."""

    id: str
    kind: str
    label: str
    members: list[str] = field(default_factory=list)
    items: list[Any] | None = None

    def dot_class(self) -> str:
        """The cluster's classes: a group, and its kind ("kfp-loop" for a ParallelFor)."""
        return f"{GROUP_CLASS} {GROUP_KIND_CLASSES[self.kind]}"


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
    order = layout.task_order(tasks)  # the IR's map order changes from kernel to kernel; this does not
    members = []
    for task in (tasks[name] for name in order):
        if task.is_group:
            items = task.loop.literal_items if task.loop is not None else None
            group = Group(task.path, group_kind(task, tasks), _group_label(task, tasks), items=items)
            model.groups[task.path] = group
            group.members = _add_dag(model, task.component)
            if group.kind == "branches":
                _label_branches(model, group, task.component)
        else:
            model.nodes[task.path] = _task_node(task)
        members.append(task.path)
    for task in (tasks[name] for name in order):
        model.edges += _edges(task, task.path[: len(task.path) - len(task.name)])
    return members


def _label_branches(model: DagModel, group: Group, component: Component) -> None:
    """If / Elif / Else labels for the branches of a `dsl.If … Elif … Else` chain, in the order written."""
    assert component.dag is not None
    group.members.sort(key=_suffix)
    tasks = component.dag.tasks
    conditions = [tasks[m.rsplit("/", 1)[-1]].condition or "" for m in group.members]
    for member, label in zip(group.members, labels.branch_labels(conditions), strict=True):
        model.groups[member].label = label


def _suffix(member: str) -> int:
    match = re.search(r"-(\d+)$", member)
    return int(match.group(1)) if match else 0


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
    source = labels.items_text(loop.raw_items) if loop.raw_items else _channel(loop.items_input or "items")
    return f"ParallelFor {source}" + (f" (parallelism {loop.parallelism})" if loop.parallelism else "")


def _channel(name: str) -> str:
    """A pipeline channel's readable name: 'pipelinechannel--train-Output' → 'train'."""
    return labels.channel(name)


def readable_condition(condition: str) -> str:
    """kfp's CEL condition as the user wrote it: `int(…['pipelinechannel--n-Output']) < 30` → `n < 30`."""
    return labels.condition_text(condition)


def _edges(task: Task, prefix: str) -> list[Edge]:
    flows: dict[str, list[str]] = {}
    for source in task.parameters.values():
        if source.kind == "task_output":
            flows.setdefault(source.producer, []).append(source.name)
    for artifact in task.artifacts.values():
        if artifact.kind == "task_output":
            flows.setdefault(artifact.producer, []).append(artifact.name)
    producers = sorted({*task.dependencies, *flows}, key=layout.natural_key)
    return [
        Edge(f"{prefix}{p}", task.path, labels.edge_label(flows.get(p, [])), task.runs_after_failure) for p in producers
    ]


def to_dot(model: DagModel, styles: dict[str, dict[str, str]] | None = None, html_labels: bool = True) -> Any:
    """The model as a graphviz.Digraph (pure Python; rendering needs `dot` or the panel's viz.js).

    `styles` adds DOT attributes to nodes by element id (the saved picture's state fills; `icon` is written
    before the node's or group's label, not an attribute); without
    `html_labels`, task labels are plain lines (for a Graphviz built without HTML-like labels).
    """
    import graphviz

    shape = layout.graph_attributes(model)
    graph = graphviz.Digraph(
        model.name,
        graph_attr={"compound": "true", "fontname": "Helvetica", "fontsize": "11", "bgcolor": "transparent", **shape},
    )
    graph.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fillcolor=PENDING_FILL,
        fontname="Helvetica",
        fontsize=f"{layout.NODE_FONT_PT:g}",
        **layout.node_attributes(shape),
    )
    graph.attr("edge", fontname="Helvetica", fontsize="9", color="#666666")
    default_image = _default_image()
    for member in model.top:
        _add_member(graph, model, member, (default_image, html_labels), styles or {})
    for edge in model.edges:
        attributes = {"label": edge.label} if edge.label else {}
        if edge.source in model.groups:
            attributes["ltail"] = _cluster(edge.source)
        if edge.target in model.groups:
            attributes["lhead"] = _cluster(edge.target)
        if edge.exit:
            attributes.update(style="dashed", **{"class": EXIT_EDGE_CLASS})
        graph.edge(model.representative(edge.source), model.representative(edge.target), **attributes)
    for source, target in wrapped_rows(model):
        row = {"class": ROW_EDGE_CLASS}
        graph.edge(model.representative(source), model.representative(target), style="invis", **row)
    return graph


def wrapped_rows(model: DagModel, width: int | None = None) -> list[tuple[str, str]]:
    """Invisible edges that stack a wide pipeline's independent top-level chains into rows of `width`
    (by default as many as read at a notebook's width, `layout.side_by_side`).

    Each chain past the first `width` hangs below the deepest task of the chain `width` places before,
    so 100 independent chains draw 14 wide and 8 deep instead of 100 wide.
    """
    width = width or layout.side_by_side(model)
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

    return kfp_default_image()


def _add_member(graph: Any, model: DagModel, member: str, label: tuple[str, bool], styles: dict[str, Any]) -> None:
    """A task's node, or a group's cluster with its members; `label` is (the default image, HTML-like labels)."""
    if member in model.nodes:
        node = model.nodes[member]
        shape = {"shape": "octagon"} if node.exit_task else {}
        shape.update(styles.get(node_element_id(member), {}))
        icon = shape.pop("icon", "")
        tooltip = "\n".join([node.label, f"component {node.component}", f"image {node.image}", *node.badges])
        element = {"id": node_element_id(member), "class": node.dot_class()}
        graph.node(member, node.dot_label(*label, icon=icon), tooltip=tooltip, **element, **shape)
        return
    group = model.groups[member]
    with graph.subgraph(name=_cluster(member)) as cluster:
        icon = styles.get(node_element_id(member), {}).get("icon", "")
        cluster.attr(
            label=(f"{icon} " if icon else "") + group.label + (LOOP_PROGRESS_SPACE if group.kind == "loop" else ""),
            style="rounded,dashed" if group.kind != "exit" else "rounded,bold",
            color="#888888",
            id=node_element_id(member),
            **{"class": group.dot_class()},
            fontsize="10",
            tooltip=_group_tooltip(group),
        )
        for child in group.members:
            _add_member(cluster, model, child, label, styles)


def _group_tooltip(group: Group) -> str:
    if group.items is not None:
        return labels.truncate(f"ParallelFor over {len(group.items)} items: {group.items}", 2000)
    return group.label


def _cluster(member: str) -> str:
    return "cluster_" + re.sub(r"[^A-Za-z0-9_]", "_", member)


def node_element_id(member: str) -> str:
    """The id of the SVG element drawn for a task or group (what the panel colours)."""
    return "kfp-task-" + re.sub(r"[^A-Za-z0-9_-]", "_", member)


def node_states(task_states: dict[str, TaskState]) -> dict[str, TaskState]:
    """States per model node: the iterations of a loop fold into one (failed > running > … > skipped)."""
    by_node: dict[str, list[TaskState]] = {}
    for task_id, state in task_states.items():
        by_node.setdefault(path_of(task_id), []).append(state)
    return {node: fold(states) for node, states in by_node.items()}


def picture_svg(model: DagModel, styles: dict[str, dict[str, str]] | None = None, dot: str = "") -> str | None:
    """The DAG's SVG drawn in the kernel (`dot`, else Graphviz in WebAssembly, which draws plain labels only);
    None when neither exists (the panel's front end draws it). `dot`: the model's DOT as `to_dot(model)` wrote
    it, drawn as is where HTML-like labels are drawn."""
    from kfp_notebook.view import svg

    html = svg.draws_html_labels()
    return svg.render_svg(dot if dot and html and not styles else to_dot(model, styles, html_labels=html).source)
