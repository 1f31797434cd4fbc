"""A run as the panel shows it: the states' legend, derived states, loop progress, fixed totals, the failure."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kfp_notebook.tracking.handle import RunHandle, TaskStatus
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.view import labels
from kfp_notebook.view.dag import DagModel, fold_states, model_id, node_element_id, node_states


@dataclass(frozen=True)
class Look:
    """How one state is drawn and explained: its name in the legend, its icon, what it means."""

    state: str
    label: str
    icon: str
    meaning: str


#: Every state a node can show, in legend order; the front end styles `data-state` with these names.
LEGEND = [
    Look("PENDING", "pending", "○", "not started yet"),
    Look("WAITING", "waiting on inputs", "⋯", "waits for upstream tasks to finish"),
    Look("QUEUED", "queued", "◔", "inputs ready, waiting for a worker"),
    Look("RUNNING", "running", "⟳", "running now"),
    Look("SUCCEEDED", "succeeded", "✓", "finished and produced its outputs"),
    Look("CACHED", "cached", "↺", "outputs reused from an earlier run"),
    Look("FAILED", "failed", "✗", "raised an error or exited non-zero"),
    Look("SKIPPED", "skipped", "⊘", "condition false or upstream failed"),
    Look("NOT_EXECUTED", "not executed", "–", "the run ended before it started (a branch not taken)"),
    Look("CANCELED", "canceled", "■", "stopped by the user"),
    Look("LOST", "lost", "?", "the run ended while it still looked running"),
]
FINAL_OVERRIDES = {TaskState.PENDING: "NOT_EXECUTED", TaskState.RUNNING: "LOST"}


def legend() -> list[dict[str, str]]:
    return [look.__dict__.copy() for look in LEGEND]


def run_view(model: DagModel, handle: RunHandle, tasks: list[TaskStatus] | None = None) -> dict[str, Any]:
    """Everything the front end needs to show a run's progress (JSON, sent as one trait)."""
    tasks = list(handle.tasks.values()) if tasks is None else tasks
    folded = node_states({t.task_id: t.state for t in tasks})
    return {
        "state": handle.state.value,
        "started": handle.started,
        "finished": handle.finished,
        "tasks": task_totals(model, tasks),
        "iterations": iteration_totals(model, tasks),
        "states": derived_states(model, folded, handle.done),
        "loops": loop_progress(model, tasks),
        "failure": failure(model, tasks),
        "notices": list(handle.notices),
    }


def derived_states(model: DagModel, folded: dict[str, TaskState], done: bool) -> dict[str, str]:
    """States the backend does not name: waiting/queued before a start, not executed/lost after the run."""
    derived: dict[str, str] = {}
    incoming: dict[str, list[str]] = {}
    for edge in model.edges:
        incoming.setdefault(edge.target, []).append(edge.source)
    for member in [*model.nodes, *model.groups]:
        state = folded.get(member)
        if done and (state is None or state in FINAL_OVERRIDES):
            derived[node_element_id(member)] = FINAL_OVERRIDES.get(state or TaskState.PENDING, "NOT_EXECUTED")
        elif not done and state is TaskState.PENDING:
            derived[node_element_id(member)] = "WAITING" if _upstream_busy(incoming, member, folded) else "QUEUED"
    return derived


def _upstream_busy(incoming: dict[str, list[str]], member: str, folded: dict[str, TaskState]) -> bool:
    scopes = {member, *(member.rsplit("/", n)[0] for n in range(1, member.count("/") + 1))}
    sources = [source for scope in scopes for source in incoming.get(scope, ())]
    return any(not (folded.get(source) or TaskState.PENDING).finished for source in sources)


def task_totals(model: DagModel, tasks: list[TaskStatus]) -> dict[str, int]:
    """Container tasks done (succeeded, cached or skipped), failed, canceled, and in all.

    The total is fixed from the start where loop items are literal, so it does not grow during the run.
    """
    runs = [t for t in tasks if not t.is_group]
    seen = Counter(model_id(t.task_id) for t in runs)
    total = sum(max(_expected(model, member), seen[member]) for member in model.nodes)
    return {
        "done": sum(1 for t in runs if t.state.ok),
        "failed": sum(1 for t in runs if t.state is TaskState.FAILED),
        "canceled": sum(1 for t in runs if t.state is TaskState.CANCELED),
        "total": total,
    }


def _expected(model: DagModel, member: str) -> int:
    """How many times a task runs: the product of its enclosing literal loops' lengths (1 outside loops)."""
    count = 1
    for scope in _scopes(member):
        group = model.groups.get(scope)
        if group is not None and group.kind == "loop":
            count *= len(group.items) if group.items is not None else 0
    return count


def _scopes(member: str) -> list[str]:
    parts = member.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def iterations(loop: str, tasks: list[TaskStatus]) -> dict[str, TaskState]:
    """A loop's iterations ('for-loop-2[3]', …) and each one's state, folded over its tasks."""
    pattern = re.compile(re.escape(loop.rsplit("/", 1)[-1]) + r"\[\d+\]")
    found: dict[str, dict[str, TaskState]] = {}
    for task in tasks:
        match = pattern.search(task.task_id)
        if match and model_id(task.task_id[: match.end()]) == loop:
            found.setdefault(task.task_id[: match.end()], {})[task.task_id] = task.state
    return {key: _fold(states) for key, states in found.items()}


def _fold(states: dict[str, TaskState]) -> TaskState:
    return fold_states(list(states.values()))


def loop_progress(model: DagModel, tasks: list[TaskStatus]) -> dict[str, dict[str, int]]:
    """Per ParallelFor: its iterations counted by state, and the total (fixed where the items are literal)."""
    progress = {}
    for member, group in model.groups.items():
        if group.kind != "loop":
            continue
        counts: dict[str, int] = {}
        found = iterations(member, tasks)
        for state in found.values():
            counts[state.value] = counts.get(state.value, 0) + 1
        literal = _expected(model, f"{member}/x")
        counts["total"] = max(literal, len(found))
        progress[node_element_id(member)] = counts
    return progress


def iteration_totals(model: DagModel, tasks: list[TaskStatus]) -> dict[str, int]:
    totals = {"done": 0, "total": 0}
    for member, group in model.groups.items():
        if group.kind == "loop":
            found = iterations(member, tasks)
            totals["done"] += sum(1 for s in found.values() if s.finished)
            totals["total"] += max(_expected(model, f"{member}/x"), len(found))
    return totals


def failure(model: DagModel, tasks: list[TaskStatus]) -> dict[str, str]:
    """The first failed task in the user's words: 'process-shard [item=13] failed: ValueError: …'."""
    failed = [t for t in tasks if t.state is TaskState.FAILED and not t.is_group]
    if not failed:
        return {}
    task = min(failed, key=lambda t: t.finished or 0)
    member = model_id(task.task_id)
    node = model.nodes.get(member)
    name = (node.label if node else task.name) + item_suffix(model, task.task_id)
    last = last_line(task.message)
    text = f"{name} failed" + (f": {last}" if last else "")
    return {"node": node_element_id(member), "task": task.task_id, "text": text}


def item_suffix(model: DagModel, task_id: str) -> str:
    """' [item=13]' for a task in a loop iteration: the item itself where the list is literal, else its index."""
    found = []
    for match in re.finditer(r"\[(\d+)\]", task_id):
        loop = model.groups.get(model_id(task_id[: match.start()]))
        index = int(match.group(1))
        items = loop.items if loop is not None else None
        value = labels.truncate(repr(items[index]), 24) if items is not None and index < len(items) else str(index)
        found.append(f"item={value}")
    return f" [{', '.join(found)}]" if found else ""


def last_line(message: str) -> str:
    """The exception's last line from a task's message (which ends with its stderr)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return labels.truncate(lines[-1], 200) if lines else ""
