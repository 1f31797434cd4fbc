"""The order in which ready tasks get a worker: round-robin across the run's branches, so no wide loop starves
a task that is ready elsewhere.

A branch is each top-level loop (with everything nested in it) and everything outside loops. Tasks wait here,
not in the worker pool's queue, until a worker is free; the next free worker goes to the next branch in turn
that has a task waiting, so a task that became ready while a loop's hundreds of items wait starts after at most
one item of each other branch.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Generic, TypeVar

from kfp_notebook.backends.local.instances import Node

Item = TypeVar("Item")


def branch_of(node: Node) -> str:
    """The id of the outermost loop the node runs in ("" outside any loop)."""
    branch, dag = "", node.dag
    while dag.owner is not None:
        if dag.owner.loop is not None:
            branch = dag.owner.id
        dag = dag.owner.dag
    return branch


class FairQueue(Generic[Item]):
    """Waiting items by branch, handed out one branch after another (first in, first out within a branch)."""

    def __init__(self) -> None:
        self._branches: OrderedDict[str, deque[Item]] = OrderedDict()

    def put(self, branch: str, item: Item) -> None:
        self._branches.setdefault(branch, deque()).append(item)

    def take(self) -> Item:
        """The first item of the branch whose turn it is; that branch then goes to the back of the line."""
        branch, items = next(iter(self._branches.items()))
        item = items.popleft()
        del self._branches[branch]
        if items:
            self._branches[branch] = items
        return item

    def clear(self) -> None:
        self._branches.clear()

    def __bool__(self) -> bool:
        return bool(self._branches)

    def __len__(self) -> int:
        return sum(len(items) for items in self._branches.values())
