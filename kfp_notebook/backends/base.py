"""The backend interface: start a compiled pipeline, list its runs, read a task's log; each run is a RunHandle.

Local runs (the embedded default) and Kubeflow implement it; `backends.registry` finds backends by
name. Callers never ask which backend a handle came from: per-run behaviour (cancel, interrupt,
results, logs, task details) lives in the handle's controls, and what differs between backends is
said by their `Capabilities` and their own typed options.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from kfp_notebook.errors import OptionError
from kfp_notebook.tracking.handle import RunHandle, TaskDetails
from kfp_notebook.tracking.records import ArtifactFiles, RunRecord
from kfp_notebook.tracking.results import RunResult, TaskResult

Options = TypeVar("Options", bound="BackendOptions")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the interface, so callers ask for an ability, never for a backend's name."""

    remote: bool = False  # runs on a server: needs a connection; its runs go on without this kernel
    follows_logs: bool = False  # a running task's log can be streamed (`%kfp logs TASK --follow`)
    reads_records: bool = False  # a run can be read back from its record while it goes, from any kernel
    stops_foreign_runs: bool = False  # stops a run that another kernel (or the command line) started


@dataclass(frozen=True)
class BackendOptions:
    """How to run on one backend; each backend declares its own (a dataclass of defaults) and applies all of it."""

    command: ClassVar[str] = ""  # the magic that starts runs there (`%kfp run`, `%kfp submit`)

    @classmethod
    def from_values(cls: type[Options], backend: str, values: Mapping[str, Any]) -> Options:
        """Options from names and values; a name this backend does not have is refused, saying where it applies."""
        known = {f.name for f in dataclasses.fields(cls)}
        for name, value in values.items():
            if name not in known and value is not None:
                raise OptionError(_not_here(name, backend))
        return cls(**{k: v for k, v in values.items() if k in known})


def _not_here(name: str, backend: str) -> str:
    from kfp_notebook.backends.registry import option_owners

    flag = "--" + name.replace("_", "-")
    owners = [f"{owner} runs ({command})" for owner, command in option_owners(name)]
    where = f": it applies to {' and '.join(owners)}" if owners else ""
    return f"{flag} does not apply to {backend} runs{where}"


class Backend(ABC):
    """Runs compiled pipelines somewhere."""

    name: str = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    options_type: ClassVar[type[BackendOptions]] = BackendOptions

    def options(self, given: BackendOptions | Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None
                ) -> BackendOptions:  # fmt: skip
        """This backend's options: `defaults` (the kernel's settings) overridden by `given`; foreign ones refused."""
        if isinstance(given, self.options_type):
            return given
        if isinstance(given, BackendOptions):  # another backend's options: what they set must apply here too
            given = _set_values(given)
        values = {**(defaults or {}), **{k: v for k, v in (given or {}).items() if v is not None}}
        return self.options_type.from_values(self.name, values)

    @abstractmethod
    def start(self, yaml_text: str, parameters: dict[str, Any] | None, options: Any = None) -> RunHandle:
        """Start a run of the compiled pipeline with this backend's options; returns at once with its handle."""

    @abstractmethod
    def runs(self, pipeline: str | None = None, count: int = 0) -> list[RunRecord]:
        """Runs with their parameters and metrics, newest first (of one pipeline when its kfp name is given).

        `count` 0 is the backend's default: every local run, Kubeflow's newest ten.
        """

    @abstractmethod
    def task_log(self, run_id: str | None, task: str, tail: int | None = None) -> str:
        """The log of a task of a run that this kernel may not have started (the newest run when None)."""

    @abstractmethod
    def task_outputs(self, run_id: str | None, task: str) -> tuple[TaskResult, ArtifactFiles]:
        """A task's result with its output artifacts, and a reader of their files (raises UnknownNameError)."""

    # -- what only some backends can do (see `capabilities`) ---------------------------------------------

    def run_record(self, run_id: str | None) -> RunResult:
        """A run as its record shows it now, whichever kernel runs it (`capabilities.reads_records`)."""
        raise OptionError(f"{self.name} runs cannot be read back from a record")

    def recorded_task_details(self, run_id: str, task_id: str) -> TaskDetails:
        """A task of a recorded run as the panel's details show it (`capabilities.reads_records`)."""
        raise OptionError(f"{self.name} runs cannot be read back from a record")

    def recorded_log_parts(self, run_id: str, task_id: str, lines: int) -> TaskDetails:
        """{"log_user", "log_executor"} of a recorded run's task, the last `lines` of each; {} where this backend
        cannot tell them apart (`capabilities.reads_records`)."""
        return {}

    def follow_task_log(self, run_id: str | None, task: str, write: Callable[[str], None], poll: float) -> str:
        """Write a task's log as it grows until the task ends (`capabilities.follows_logs`); its final state."""
        raise OptionError(f"{self.name} runs' logs cannot be followed: read them with %kfp logs TASK")

    def stop_foreign(self, run_id: str) -> str:
        """Stop a run another kernel started (`capabilities.stops_foreign_runs`); says what was stopped."""
        raise OptionError(f"{self.name} cannot stop run {run_id}: it was not started from this kernel")


def _set_values(options: BackendOptions) -> dict[str, Any]:
    """The options set to something other than their default."""
    fields = dataclasses.fields(options)
    return {f.name: getattr(options, f.name) for f in fields if getattr(options, f.name) != f.default}
