"""A run as the panel shows it: derived states, loop progress, task counts against fixed totals, the failure."""

from __future__ import annotations

from typing import Any

from kfp_notebook.tracking.handle import RunHandle, TaskStatus
from kfp_notebook.tracking.states import FINAL_OVERRIDES, ShownState, TaskState, fold, legend
from kfp_notebook.tracking.task_ids import TaskId, path_of
from kfp_notebook.view import labels
from kfp_notebook.view.dag import DagModel, node_element_id, node_states

__all__ = ["legend", "run_view"]


def run_view(model: DagModel, handle: RunHandle, tasks: list[TaskStatus] | None = None) -> dict[str, Any]:
    """Everything the front end needs to show a run's progress (JSON, sent as one trait)."""
    tasks = list(handle.tasks.values()) if tasks is None else tasks
    folded = node_states({t.task_id: t.state for t in tasks})
    counts = handle.task_counts(tasks)
    return {
        "state": handle.state.value,
        "started": handle.started,
        "finished": handle.finished,
        "counts": counts.text(iteration_totals(model, tasks)),
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
            derived[node_element_id(member)] = FINAL_OVERRIDES[state or TaskState.PENDING].value
        elif not done and state is TaskState.PENDING:
            busy = _upstream_busy(incoming, member, folded)
            derived[node_element_id(member)] = (ShownState.WAITING if busy else ShownState.QUEUED).value
    return derived


def _upstream_busy(incoming: dict[str, list[str]], member: str, folded: dict[str, TaskState]) -> bool:
    scopes = {member, *TaskId(member).scopes()}
    sources = [source for scope in scopes for source in incoming.get(scope, ())]
    return any(not (folded.get(source) or TaskState.PENDING).finished for source in sources)


def _expected(model: DagModel, member: str) -> int:
    """How many times a task runs: the product of its enclosing literal loops' lengths (1 outside loops)."""
    count = 1
    for scope in TaskId(member).scopes():
        group = model.groups.get(scope)
        if group is not None and group.kind == "loop":
            count *= len(group.items) if group.items is not None else 0
    return count


def iterations(loop: str, tasks: list[TaskStatus]) -> dict[str, TaskState]:
    """A loop's iterations ('for-loop-2[3]', …) and each one's state, folded over its tasks."""
    found: dict[str, list[TaskState]] = {}
    for task in tasks:
        iteration = TaskId(task.task_id).iteration(loop)
        if iteration is not None:
            found.setdefault(iteration, []).append(task.state)
    return {key: fold(states) for key, states in found.items()}


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


def iteration_totals(model: DagModel, tasks: list[TaskStatus]) -> tuple[int, int]:
    """Loop iterations finished, and in all (fixed where the items are literal)."""
    done = total = 0
    for member, group in model.groups.items():
        if group.kind == "loop":
            found = iterations(member, tasks)
            done += sum(1 for s in found.values() if s.finished)
            total += max(_expected(model, f"{member}/x"), len(found))
    return done, total


def failure(model: DagModel, tasks: list[TaskStatus]) -> dict[str, str]:
    """The first failed task in the user's words: 'process-shard [item=13] failed: ValueError: …'."""
    failed = [t for t in tasks if t.state is TaskState.FAILED and not t.is_group]
    if not failed:
        return {}
    task = min(failed, key=lambda t: t.finished or 0)
    member = path_of(task.task_id)
    node = model.nodes.get(member)
    name = (node.label if node else task.name) + item_suffix(model, task.task_id)
    last = last_line(task.message)
    text = f"{name} failed" + (f": {last}" if last else "")
    return {"node": node_element_id(member), "task": task.task_id, "text": text}


def item_suffix(model: DagModel, task_id: str) -> str:
    """' [item=13]' for a task in a loop iteration: the item itself where the list is literal, else its index."""
    found = []
    for loop_path, index in TaskId(task_id).indexes:
        loop = model.groups.get(loop_path)
        items = loop.items if loop is not None else None
        value = labels.truncate(repr(items[index]), 24) if items is not None and index < len(items) else str(index)
        found.append(f"item={value}")
    return f" [{', '.join(found)}]" if found else ""


def last_line(message: str) -> str:
    """The exception's last line from a task's message (which ends with its stderr)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return labels.truncate(lines[-1], 200) if lines else ""
