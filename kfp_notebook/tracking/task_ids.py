"""Task ids as runs name task instances (`train`, `for-loop-2[3]/square`), and the user's name for a task.

A task id is the task's path of DAG segments joined with "/", where a segment that is a ParallelFor
carries the iteration's index in brackets. This module is the one reader of that grammar, and the one
place that turns what a user types (`Train_Model`, `train-model`, `for-loop-2[3]/square`) into a task.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_SEGMENT = re.compile(r"^(?P<name>[^\[\]/]+)(?:\[(?P<index>\d+)\])?$")


@dataclass(frozen=True)
class Segment:
    """One step of a task's path: a group or task name, and the iteration index when it is a loop's."""

    name: str
    index: int | None = None

    def __str__(self) -> str:
        return self.name if self.index is None else f"{self.name}[{self.index}]"


@dataclass(frozen=True)
class TaskId:
    """A task instance of a run: `for-loop-2[3]/square` is `square` in iteration 3 of `for-loop-2`."""

    text: str

    @property
    def segments(self) -> tuple[Segment, ...]:
        return _segments(self.text)

    @property
    def path(self) -> str:
        """Without iteration indexes: the task's node in the pipeline's DAG (`for-loop-2/square`)."""
        return "/".join(segment.name for segment in self.segments)

    @property
    def name(self) -> str:
        """The task's own name, the last segment (`square`)."""
        return self.segments[-1].name

    @property
    def indexes(self) -> tuple[tuple[str, int], ...]:
        """Each enclosing loop's path (without indexes) and this instance's iteration index in it, outermost first."""
        found = []
        for position, segment in enumerate(self.segments):
            if segment.index is not None:
                found.append(("/".join(s.name for s in self.segments[: position + 1]), segment.index))
        return tuple(found)

    @property
    def last_index(self) -> int:
        """The innermost loop's iteration index (0 outside loops)."""
        return self.indexes[-1][1] if self.indexes else 0

    def iteration(self, loop_path: str) -> str | None:
        """The id of the loop iteration this instance belongs to (`for-loop-2[3]`), if it is inside `loop_path`."""
        for position, segment in enumerate(self.segments):
            prefix = "/".join(s.name for s in self.segments[: position + 1])
            if prefix == loop_path and segment.index is not None:
                return "/".join(str(s) for s in self.segments[: position + 1])
        return None

    def scopes(self) -> list[str]:
        """The paths of the groups that enclose this task, outermost first."""
        names = [segment.name for segment in self.segments]
        return ["/".join(names[:n]) for n in range(1, len(names))]


@lru_cache(maxsize=1 << 16)  # a panel update reads every task id of a run; each is parsed once
def _segments(text: str) -> tuple[Segment, ...]:
    return tuple(_segment(part) for part in text.split("/"))


def _segment(part: str) -> Segment:
    match = _SEGMENT.match(part)
    if match is None:  # a name kfp would not write: keep it whole rather than guess
        return Segment(part)
    index = match.group("index")
    return Segment(match.group("name"), int(index) if index is not None else None)


@lru_cache(maxsize=1 << 16)
def path_of(task_id: str) -> str:
    """`for-loop-2[3]/square` → `for-loop-2/square`."""
    return TaskId(task_id).path


def kfp_task_name(name: str) -> str:
    """The name kfp gives a task of what the notebook calls `name` (`Train_Model` → `train-model`)."""
    from kfp.dsl.utils import maybe_rename_for_k8s

    return maybe_rename_for_k8s(name) or name


def spellings(name: str) -> set[str]:
    """Every way a user may name one task: as written, with `-` for `_`, and as kfp renames it."""
    return {name, name.replace("_", "-"), kfp_task_name(name)}


def find_task_id(task_ids: Iterable[str], wanted: str, names: dict[str, str] | None = None) -> str | None:
    """The task id a user means: the id itself, else the first instance whose name (or `names[id]`) matches."""
    task_ids = list(task_ids)
    if wanted in task_ids:
        return wanted
    accepted = spellings(wanted)
    for task_id in task_ids:
        if TaskId(task_id).name in accepted or (names or {}).get(task_id) in accepted:
            return task_id
    return None
