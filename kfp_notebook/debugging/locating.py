"""Which run and which task instance a user means (`train`, `shard` with item 3, `for-loop-2[3]/shard`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kfp_notebook.backends.base import RecordedRun
from kfp_notebook.errors import KfpNotebookError, OptionError, UnknownNameError
from kfp_notebook.ir import Task
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.task_ids import TaskId, find_task_id, path_of

#: Instance ids a message lists at most.
MAX_LISTED = 10


class NeverStartedError(KfpNotebookError):
    """The task instance never received its inputs (skipped, not reached, or still waiting)."""


@dataclass
class LocatedTask:
    """A task instance of a recorded run, with the inputs kfp's executor read for it."""

    record: RecordedRun
    task: Task  # the task in the compiled pipeline
    task_id: str  # the instance: `for-loop-2[3]/shard`
    inputs: dict[str, Any]  # {"parameterValues": ..., "artifacts": ...}

    @property
    def shown(self) -> str:
        """The task as messages name it: `shard [item 3]`."""
        indexes = TaskId(self.task_id).indexes  # in nested loops each loop's, outermost first: `[item 3, 1]`
        return f"{self.task.name} [item {', '.join(str(i) for _, i in indexes)}]" if indexes else self.task.name


def recorded_run(backends: Iterable[Any], run: Any = None, latest: str | None = None) -> RecordedRun:
    """The run `run` names (a RunHandle, a run id, or None: `latest`, else the newest run) from the first backend
    that has it; UnknownNameError saying what each backend answered otherwise."""
    run_id = getattr(run, "run_id", run) or latest
    if run_id is not None and not isinstance(run_id, str):
        raise OptionError(f"run={run!r} is not a run: pass a run handle, a run id (see %kfp runs), or nothing")
    errors = []
    for backend in backends:
        try:
            return backend.run_inputs(run_id)  # type: ignore[no-any-return]
        except KfpNotebookError as exc:
            errors.append(str(exc))
    raise UnknownNameError("; ".join(errors) or "no backend can read runs back")


def locate(record: RecordedRun, wanted: str, item: int | None = None) -> LocatedTask:
    """The task instance `wanted` names in the run (with `item`, its ParallelFor iteration) and its inputs."""
    task = _task(record, wanted)
    task_id = _instance(record, task, wanted, item)
    inputs = record.executor_inputs(task_id)
    if inputs is None:
        raise NeverStartedError(_never_started(record, task_id))
    return LocatedTask(record, task, task_id, inputs)


def _task(record: RecordedRun, wanted: str) -> Task:
    tasks = {task.path: task for task in record.ir.walk() if not task.is_group}
    found = find_task_id(tasks, path_of(wanted), {path: task.name for path, task in tasks.items()})
    if found is None:  # the end of a path (`for-loop-2/shard` of `exit-handler-1/for-loop-2/shard`)
        found = next((path for path in tasks if path.endswith("/" + path_of(wanted))), None)
    if found is None:
        names = sorted({task.name for task in tasks.values()})
        close = difflib.get_close_matches(wanted, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(names) or "none"
        raise UnknownNameError(
            f"no task {wanted!r} in run {record.run_id}.{hint} Its tasks: {listed}; name one of them"
        )
    return tasks[found]


def _instance(record: RecordedRun, task: Task, wanted: str, item: int | None) -> str:
    """The instance id: the one task id of a task outside loops, else the iteration `item` (or the one in `wanted`)."""
    instances = [task_id for task_id in record.states if path_of(task_id) == task.path]
    looped = TaskId(wanted).indexes if "[" in wanted else ()
    named = [task_id for task_id in instances if task_id == wanted or task_id.endswith("/" + wanted)]
    if looped and item is None and len(named) == 1:  # its id, or the end of it (`for-loop-3[1]/for-loop-5[0]/t`)
        return named[0]
    if not _in_loop(record, task):
        if item is not None:
            raise OptionError(f"{task.name} is not inside a ParallelFor: it has no item {item}; leave the item out")
        return instances[0] if instances else task.path
    if item is None:
        item = looped[-1][1] if looped else None
    if item is None:
        raise OptionError(_needs_item(record, task, instances))
    chosen = [task_id for task_id in instances if TaskId(task_id).last_index == item]
    if not chosen:
        raise OptionError(_no_such_item(record, task, instances, item))
    if len(chosen) > 1:  # nested loops: the item names the inner iteration of several outer ones
        raise OptionError(f"{task.name} has {len(chosen)} instances with item {item} (nested loops): name one by "
                          f"its id instead: {', '.join(chosen)}")  # fmt: skip
    return chosen[0]


def _in_loop(record: RecordedRun, task: Task) -> bool:
    scopes = TaskId(task.path).scopes()
    return any(getattr(record.ir.task(scope), "loop", None) is not None for scope in scopes)


def _items(record: RecordedRun, instances: list[str]) -> str:
    """The iterations of a task in the run, the failed ones named apart."""
    indexes = sorted({TaskId(task_id).last_index for task_id in instances})
    failed = sorted({TaskId(t).last_index for t in instances if TaskState.parse(record.states[t]) == TaskState.FAILED})
    listed = ", ".join(map(str, indexes)) or "none started"
    return listed + (f"; failed: {', '.join(map(str, failed))}" if failed else "")


def _needs_item(record: RecordedRun, task: Task, instances: list[str]) -> str:
    if _nested(record, task):
        return f"{task.name} runs inside nested ParallelFor loops: {_by_id(record, task, instances)}"
    return (
        f"{task.name} runs inside a ParallelFor: say which iteration with --item N (item=N from Python). "
        f"Its iterations in run {record.run_id}: {_items(record, instances)}"
    )


def _no_such_item(record: RecordedRun, task: Task, instances: list[str], item: int) -> str:
    if _nested(record, task):
        return f"{task.name} has no instance with item {item} in nested ParallelFor loops: " + _by_id(
            record, task, instances
        )
    skipped = _skipped_group(record, task, item)
    if skipped is not None:  # the iteration ran, but a group around the task (a dsl.If) did not
        return (
            f"{task.name} did not run in iteration {item} of run {record.run_id}: {skipped} around it is "
            f"{record.states[skipped]} there (a condition that was false, or a failure upstream). Its iterations "
            f"that ran: {_items(record, instances)}"
        )
    return (
        f"{task.name} has no iteration {item} in run {record.run_id}: its iterations are "
        f"{_items(record, instances)}. The item is the iteration's index (0 for the first item)"
    )


def _skipped_group(record: RecordedRun, task: Task, item: int) -> str | None:
    """The instance of a group around the task in iteration `item` that did not run (SKIPPED), if one is recorded."""
    scopes = set(TaskId(task.path).scopes())
    return next(
        (
            task_id
            for task_id, state in record.states.items()
            if path_of(task_id) in scopes and TaskId(task_id).last_index == item
            and TaskState.parse(state) == TaskState.SKIPPED
        ),
        None,
    )  # fmt: skip


def _nested(record: RecordedRun, task: Task) -> bool:
    scopes = TaskId(task.path).scopes()
    return sum(getattr(record.ir.task(scope), "loop", None) is not None for scope in scopes) > 1


def _by_id(record: RecordedRun, task: Task, instances: list[str]) -> str:
    """How to name one instance of a task in nested loops: --item is the innermost loop's index; the id names all."""
    failed = [t for t in instances if TaskState.parse(record.states[t]) == TaskState.FAILED]
    shown = failed or instances
    listed = ", ".join(shown[:MAX_LISTED]) + (
        f" (and {len(shown) - MAX_LISTED} more)" if len(shown) > MAX_LISTED else ""
    )
    which = "the failed ones" if failed else "its instances"
    indexes = ", ".join(map(str, sorted({TaskId(t).last_index for t in instances})))
    return (
        f"--item N is the innermost loop's index ({indexes or 'none started'} in run {record.run_id}), the same in "
        f"every outer iteration. Name the instance by its id instead (the end of it is enough), {which}: "
        f"{listed or 'none started'}"
    )


def _runs_code(record: RecordedRun, task_id: str) -> bool:
    task = record.ir.task(task_id)
    return task is not None and not task.is_group


def _never_started(record: RecordedRun, task_id: str) -> str:
    state = record.states.get(task_id)
    failed = [t for t, s in record.states.items() if TaskState.parse(s) == TaskState.FAILED and _runs_code(record, t)]
    how = f"it is {state}" if state else "the run never reached it"
    hint = f"; debug a task that failed instead: {', '.join(failed)}" if failed else ""
    return (
        f"{task_id} never started in run {record.run_id} ({how}): its inputs were never resolved, so there is "
        f"nothing to call it with{hint}"
    )
