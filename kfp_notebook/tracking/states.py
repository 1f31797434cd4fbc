"""Task and run states: the one vocabulary every backend reports, every view shows and the front end styles.

`TaskState` is what a backend reports. The panel adds three states it derives (waiting on inputs,
queued, not executed). `LOOKS` says, for every state, its legend label, icon, meaning and how it is
drawn; `PRECEDENCE` which state stands for several; `count_tasks` the one count of tasks done out of
all. The panel front end's TypeScript union and CSS are generated from this module at build time
(view/front_end.py, run by `npm run build` in frontend/), so a state exists in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum


class TaskState(str, Enum):
    """The state of one task (or of a whole run) as a backend reports it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"
    CANCELED = "CANCELED"
    LOST = "LOST"

    @property
    def finished(self) -> bool:
        return self not in (TaskState.PENDING, TaskState.RUNNING)

    @property
    def ok(self) -> bool:
        """Finished without failing: downstream tasks may run."""
        return self in (TaskState.SUCCEEDED, TaskState.CACHED, TaskState.SKIPPED)

    @property
    def unsuccessful(self) -> bool:
        """A run that ends so did not do its work (the command line's exit code 1)."""
        return self in (TaskState.FAILED, TaskState.CANCELED, TaskState.LOST)

    @classmethod
    def parse(cls, text: str) -> TaskState:
        """A state read back from a record; an unknown word is LOST (the record no longer says what happened)."""
        try:
            return cls(str(text).upper())
        except ValueError:
            return cls.LOST


class ShownState(str, Enum):
    """States only the views derive: before a task starts, and after a run that never reached it."""

    WAITING = "WAITING"  # pending while an upstream task is not finished
    QUEUED = "QUEUED"  # pending with its inputs ready, waiting for a worker
    NOT_EXECUTED = "NOT_EXECUTED"  # still pending when the run ended


#: What a listing says of a run whose record cannot be read (a row, never a node of the DAG).
UNREADABLE = "UNREADABLE"


class ConnectionState(str, Enum):
    """Whether the backend still hears from the run (a remote run goes on while we cannot reach it)."""

    OK = "OK"
    LOST = "LOST"  # retrying
    SESSION_EXPIRED = "SESSION_EXPIRED"  # logging in again failed


#: Which state stands for several (a loop's iterations, a group's tasks): the first one present.
PRECEDENCE = (
    TaskState.FAILED,
    TaskState.LOST,
    TaskState.RUNNING,
    TaskState.CANCELED,
    TaskState.PENDING,
    TaskState.SUCCEEDED,
    TaskState.CACHED,
    TaskState.SKIPPED,
)

#: What a state still unfinished becomes once its run has ended.
FINAL_OVERRIDES: dict[TaskState, TaskState | ShownState] = {
    TaskState.PENDING: ShownState.NOT_EXECUTED,
    TaskState.RUNNING: TaskState.LOST,
}


def fold(states: Iterable[TaskState]) -> TaskState:
    """One state standing for several: the first of failed > lost > running > … > skipped (PENDING for none)."""
    return min(states, key=PRECEDENCE.index, default=TaskState.PENDING)


@dataclass(frozen=True)
class Look:
    """How one state is named, explained and drawn (CSS values use the theme's variables of the panel)."""

    state: str
    label: str
    icon: str
    meaning: str
    fill: str
    stroke: str = "var(--kfp-border)"
    dash: str = "none"
    width: str = "1.2px"
    dimmed: bool = False
    outlines_group: bool = False  # a group (loop, condition) in this state gets the state's stroke
    icon_fill: str = "var(--kfp-text)"
    text: str = "var(--kfp-text)"  # a line or chip that names the state
    picture_fill: str | None = None  # the saved picture's fill (it cannot follow the theme); None: unfilled


def _mix(colour: str, percent: int) -> str:
    return f"color-mix(in srgb, var(--kfp-{colour}) {percent}%, var(--kfp-bg))"


#: Every state a node can show, in legend order.
LOOKS = (
    Look("PENDING", "pending", "○", "not started yet", "var(--kfp-bg)"),
    Look(
        "WAITING",
        "waiting on inputs",
        "⋯",
        "waits for upstream tasks to finish",
        "var(--jp-layout-color2, #eee)",
        dash="2 2",
    ),
    Look(
        "QUEUED",
        "queued",
        "◔",
        "inputs ready, waiting for a worker",
        _mix("running", 8),
        "var(--kfp-running)",
        dash="5 3",
    ),
    Look(
        "RUNNING",
        "running",
        "⟳",
        "running now",
        _mix("running", 24),
        "var(--kfp-running)",
        width="2px",
        outlines_group=True,
        picture_fill="#bcd7f5",
    ),
    Look(
        "SUCCEEDED",
        "succeeded",
        "✓",
        "finished and produced its outputs",
        _mix("succeeded", 26),
        "var(--kfp-succeeded)",
        icon_fill="color-mix(in srgb, var(--kfp-succeeded) 70%, var(--kfp-text))",
        picture_fill="#b7e4c0",
    ),
    Look(
        "CACHED",
        "cached",
        "↺",
        "outputs reused from an earlier run",
        _mix("cached", 20),
        "var(--kfp-cached)",
        dash="6 2",
        picture_fill="#b2e0e6",
    ),
    Look(
        "FAILED",
        "failed",
        "✗",
        "raised an error or exited non-zero",
        _mix("failed", 28),
        "var(--kfp-failed)",
        width="2.5px",
        outlines_group=True,
        icon_fill="var(--kfp-error-text)",
        text="var(--kfp-error-text)",
        picture_fill="#f4b6b6",
    ),
    Look(
        "SKIPPED",
        "skipped",
        "⊘",
        "condition false or upstream failed",
        "var(--jp-layout-color2, #eee)",
        dash="3 3",
        dimmed=True,
        picture_fill="#e6e6e6",
    ),
    Look(
        "NOT_EXECUTED",
        "not executed",
        "–",
        "the run ended before it started (a branch not taken)",
        "none",
        dash="3 3",
        dimmed=True,
        picture_fill="#f2f2f2",
    ),
    Look(
        "CANCELED",
        "canceled",
        "■",
        "stopped by the user",
        _mix("canceled", 24),
        "var(--kfp-canceled)",
        picture_fill="#fcd5a8",
    ),
    Look(
        "LOST",
        "lost",
        "?",
        "the run ended while it still looked running",
        "var(--jp-layout-color3, #ddd)",
        "var(--kfp-canceled)",
        dash="1 2",
        picture_fill="#dddddd",
    ),
)
LOOKS_BY_STATE = {look.state: look for look in LOOKS}


def legend() -> list[dict[str, str]]:
    """The legend as the front end shows it: state, label, icon, meaning."""
    return [{"state": k.state, "label": k.label, "icon": k.icon, "meaning": k.meaning} for k in LOOKS]


@dataclass(frozen=True)
class TaskCounts:
    """Tasks that run a container (not conditions or loops) by how far they got; `total` includes unstarted ones."""

    finished: int = 0
    failed: int = 0
    canceled: int = 0
    running: int = 0
    total: int = 0

    def text(self, iterations: tuple[int, int] = (0, 0)) -> str:
        """`3/22 tasks · 14/20 iterations · 1 failed`: what the cell and the panel say (iterations: done, total)."""
        text = f"{self.finished}/{self.total} tasks"
        if iterations[1]:
            text += f" · {iterations[0]}/{iterations[1]} iterations"
        return text + (f" · {self.failed} failed" if self.failed else "")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def count_tasks(tasks: Iterable[tuple[str, TaskState]], expected: dict[str, int] | None = None,
                groups: dict[str, TaskState] | None = None) -> TaskCounts:  # fmt: skip
    """The one count of a run's container tasks: `tasks` as (node path, state) of the instances seen so far.

    `expected` (node path → instances known to come, from the pipeline's literal loops) fixes the total
    from the start, so it does not grow while a loop fans out; a node seen more often counts as seen.
    A task never seen inside a group that has finished (a branch not taken, a loop that ended) has
    finished with it: `groups` gives the groups' states by path.
    """
    seen: dict[str, int] = {}
    counts = {"finished": 0, "failed": 0, "canceled": 0, "running": 0}
    for path, state in tasks:
        seen[path] = seen.get(path, 0) + 1
        counts["finished"] += state.finished
        counts["failed"] += state is TaskState.FAILED
        counts["canceled"] += state is TaskState.CANCELED
        counts["running"] += state is TaskState.RUNNING
    expected, ended = expected or {}, {path for path, state in (groups or {}).items() if state.finished}
    total = sum(max(expected.get(path, 0), n) for path, n in seen.items())
    for path, n in expected.items():
        if path not in seen:
            total += n
            counts["finished"] += n if any(scope in ended for scope in _scopes(path)) else 0
    return TaskCounts(**counts, total=total)


def _scopes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


# -- the front end's copy, generated at build time ----------------------------------------------------------


def front_end_typescript() -> str:
    """The TypeScript union of every state a node can show, and the list in legend order."""
    names = [look.state for look in LOOKS]
    union = " | ".join(f"'{name}'" for name in names)
    listed = ", ".join(f"'{name}'" for name in names)
    return (
        "// Generated from kfp_notebook/tracking/states.py at build time: do not edit.\n"
        f"export type NodeState = {union};\n"
        f"export const NODE_STATES: readonly NodeState[] = [{listed}];\n"
    )


def front_end_css() -> str:
    """One variable block per state; index.css draws nodes, swatches and groups from these variables."""
    blocks = ["/* Generated from kfp_notebook/tracking/states.py at build time: do not edit. */"]
    for look in LOOKS:
        lines = [
            f"--kfp-state-fill: {look.fill};",
            f"--kfp-state-stroke: {look.stroke};",
            f"--kfp-state-dash: {look.dash};",
            f"--kfp-state-width: {look.width};",
            f"--kfp-state-opacity: {0.6 if look.dimmed else 1};",
            f"--kfp-state-icon: {look.icon_fill};",
            f"--kfp-state-text: {look.text};",
            f"--kfp-group-stroke: {look.stroke if look.outlines_group else 'var(--kfp-border)'};",
            f"--kfp-group-width: {'2px' if look.outlines_group else '1px'};",
        ]
        blocks.append(f"[data-state='{look.state}'] {{\n  " + "\n  ".join(lines) + "\n}")
    return "\n".join(blocks) + "\n"
