"""How the DAG is laid out: its tasks in a natural, stable order, and Graphviz attributes chosen by its shape.

Order: the IR's tasks come in protobuf map order (it changes with PYTHONHASHSEED), so each DAG's tasks are
put in dependency order, ready tasks taken in the natural order of their names (`work`, `work-2`, … `work-10`:
kfp numbers a component's tasks in the order the pipeline function creates them).

Shape: the picture is made to read at the width of a notebook's output (TARGET_WIDTH_PX). A wide and shallow
DAG (a 60-task fan-out) is drawn left to right, so it is tall and scrolls instead of shrinking to 2-px
labels; a deep one top to bottom; independent chains sit side by side as many as fit readably, then wrap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kfp_notebook.ir import Task
    from kfp_notebook.view.dag import DagModel

#: The width the picture is fitted to (a notebook output), and the smallest label size that still reads there.
TARGET_WIDTH_PX = 900
MIN_TEXT_PX = 8.0
#: The nodes' label size (DOT points; one point is 4/3 px) and Graphviz's spacings (inches).
NODE_FONT_PT = 10.0
NODESEP_IN = 0.3
LR_RANKSEP_IN = 0.5
PX_PER_PT = 4 / 3
#: A node's width estimated from its label: Helvetica's mean glyph at 10 pt, the box's margins, dot's minimum.
GLYPH_PT, MARGIN_PT, MIN_NODE_PT = 6.0, 18.0, 54.0


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """`work-2` before `work-10`: digits compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part)


def task_order(tasks: dict[str, Task]) -> list[str]:
    """A DAG's task names, each after the tasks it waits for, ready ones in natural order (stable across runs)."""
    import heapq

    waits = {name: _inputs_from(task) & tasks.keys() for name, task in tasks.items()}
    waiting_on = {name: len(sources) for name, sources in waits.items()}
    followers: dict[str, list[str]] = {}
    for name, sources in waits.items():
        for source in sources:
            followers.setdefault(source, []).append(name)
    ready = [(natural_key(name), name) for name, count in waiting_on.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for follower in followers.get(name, []):
            waiting_on[follower] -= 1
            if waiting_on[follower] == 0:
                heapq.heappush(ready, (natural_key(follower), follower))
    placed = set(order)  # a cycle (never in a compiled pipeline) leaves tasks out: they follow in natural order
    return order + sorted((name for name in tasks if name not in placed), key=natural_key)


def _inputs_from(task: Task) -> set[str]:
    producers = {s.producer for s in task.parameters.values() if s.kind == "task_output"}
    producers |= {a.producer for a in task.artifacts.values() if a.kind == "task_output"}
    return set(task.dependencies) | producers


def ranks(model: DagModel) -> dict[str, int]:
    """Each task node's rank: the length of the longest chain of edges before it (groups stand for their first node)."""
    incoming: dict[str, list[str]] = {node: [] for node in model.nodes}
    for edge in model.edges:
        target = model.representative(edge.target)
        if target in incoming and not edge.exit:
            incoming[target].append(model.representative(edge.source))
    rank: dict[str, int] = {}
    for node in incoming:
        _rank_of(node, incoming, rank, set())
    return rank


def _rank_of(node: str, incoming: dict[str, list[str]], rank: dict[str, int], visiting: set[str]) -> int:
    if node in rank:
        return rank[node]
    visiting.add(node)
    stack = [(node, iter(incoming.get(node, [])))]
    while stack:  # iterative depth-first: a 1,000-task chain does not hit the recursion limit
        current, sources = stack[-1]
        source = next((s for s in sources if s not in rank and s not in visiting and s in incoming), None)
        if source is not None:
            visiting.add(source)
            stack.append((source, iter(incoming[source])))
            continue
        stack.pop()
        rank[current] = 1 + max((rank[s] for s in incoming.get(current, []) if s in rank), default=-1)
    return rank[node]


def node_width_pt(labels: Iterable[str]) -> float:
    """A node's width in points, estimated from the longest line of its label."""
    longest = max((len(line) for line in labels), default=0)
    return max(MIN_NODE_PT, longest * GLYPH_PT + MARGIN_PT)


def column_pt(model: DagModel) -> float:
    """The width one column of nodes takes: the widest node and the space between nodes."""
    widest = max((node_width_pt([node.label, node.component]) for node in model.nodes.values()), default=MIN_NODE_PT)
    return widest + NODESEP_IN * 72


def readable_width_pt() -> float:
    """The widest picture whose labels still read at MIN_TEXT_PX once fitted to TARGET_WIDTH_PX."""
    smallest_scale = MIN_TEXT_PX / (NODE_FONT_PT * PX_PER_PT)
    return TARGET_WIDTH_PX / PX_PER_PT / smallest_scale


def side_by_side(model: DagModel) -> int:
    """How many independent chains fit side by side, readable at the target width (at least one)."""
    return max(1, int(readable_width_pt() // column_pt(model)))


def left_to_right(model: DagModel) -> bool:
    """Draw left to right when top to bottom is too wide to read at the target width and left to right is
    narrower: a connected part's widest rank side by side against the DAG's ranks one after the other.
    Independent chains do not count as wide: they wrap into rows (`side_by_side`)."""
    rank = ranks(model)
    if not rank:
        return False
    part = _connected_parts(model)
    per_rank: dict[tuple[str, int], int] = {}
    for node, level in rank.items():
        per_rank[part(node), level] = per_rank.get((part(node), level), 0) + 1
    breadth, depth = max(per_rank.values()), max(rank.values()) + 1
    top_to_bottom = breadth * column_pt(model)
    return top_to_bottom > readable_width_pt() and depth * (column_pt(model) + LR_RANKSEP_IN * 72) < top_to_bottom


def _connected_parts(model: DagModel) -> Callable[[str], str]:
    """A function naming the connected part of the DAG a node is in (edges read in either direction)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.get(node, node) != node:
            node = parent[node] = parent.get(parent[node], parent[node])
        return node

    for edge in model.edges:
        source, target = find(model.representative(edge.source)), find(model.representative(edge.target))
        if source != target:
            parent[max(source, target)] = min(source, target)
    return find


def node_attributes(graph: dict[str, str]) -> dict[str, str]:
    """Node attributes for the direction chosen: drawn left to right, the nodes that stack in a column are
    low (Graphviz still makes a node as tall as its label needs)."""
    return {"height": "0.3"} if graph.get("rankdir") == "LR" else {}


def graph_attributes(model: DagModel) -> dict[str, str]:
    """Graphviz attributes for this DAG's shape: direction, spacing, ranks computed over the whole graph."""
    wide = left_to_right(model)
    return {
        "rankdir": "LR" if wide else "TB",
        "newrank": "true",  # ranks across clusters: a loop's tasks line up with their neighbours outside it
        "nodesep": "0.12" if wide else f"{NODESEP_IN}",
        "ranksep": f"{LR_RANKSEP_IN}" if wide else "0.35",
    }
