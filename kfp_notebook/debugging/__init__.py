"""A task of a run, in the kernel: the inputs its function received (`task_inputs`), and the function called again
with them (`debug`, `%kfp debug`), from the source the run shipped or the kernel's current definition."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kfp_notebook import kfp_compat
from kfp_notebook.debugging import user_code
from kfp_notebook.debugging.arguments import (
    Scratch,
    function_kinds,
    input_arguments,
    interface_kinds,
    output_arguments,
)
from kfp_notebook.debugging.locating import LocatedTask, locate, recorded_run
from kfp_notebook.debugging.processes import ended_when_done
from kfp_notebook.debugging.programs import ProgramError, current_function, shipped_function
from kfp_notebook.debugging.returns import check_returned
from kfp_notebook.errors import OptionError

#: Where debugged tasks keep their copies and outputs, under the working folder: kfp_debug/<run>/<task>/.
SCRATCH = "kfp_debug"


def raised_by_the_function(error: BaseException) -> bool:
    """Whether a debugged task's own code raised `error` (the magics let it reach the cell unchanged)."""
    return user_code.raised_by_user_code(error)


def find(session: Any, task: str, run: Any = None, item: int | None = None) -> LocatedTask:
    """The task instance a user names, in the run named (a handle, a run id, or None: this kernel's latest run,
    else the newest in the runs folder), from whichever backend has that run."""
    folder = runs_folder_of(run)
    if folder is not None:  # a handle of a run kept in another runs folder (kfp_notebook.run(runs_folder=...))
        session = replace(session, settings=replace(session.settings, runs_dir=folder))
    return locate(recorded_run(session.backends(), run, session.last_run), task, item)


def runs_folder_of(run: Any) -> str | None:
    """Where a finished run handle's run keeps its files, when it says (the folder its run's folder is in)."""
    if not getattr(run, "done", False) or not callable(getattr(run, "result", None)):
        return None
    folder = getattr(run.result(), "folder", None)
    return str(Path(folder).parent) if folder else None


def task_inputs(session: Any, task: str, run: Any = None, item: int | None = None) -> dict[str, Any]:
    """The keyword arguments the task's function received in the run (input artifacts as read-only copies)."""
    located = find(session, task, run, item)
    scratch = Scratch.of(Path(SCRATCH), located)
    try:
        function = shipped_function(located.task, scratch.folder)
    except ProgramError:  # its program needs what the kernel lacks: the inputs are typed by the component instead
        return input_arguments(interface_kinds(located.task), located, scratch, {})
    return input_arguments(function_kinds(function), located, scratch, function.__globals__)


class Debugged:
    """A task ready to be called again: its function, its arguments, and the scratch folder of its outputs."""

    def __init__(self, session: Any, task: str, run: Any = None, item: int | None = None, current: bool = False):
        self.located = find(session, task, run, item)
        self.scratch = Scratch.of(Path(SCRATCH), self.located)
        self.current = current
        if current:
            self.function = current_function(session.registry, self.located.task)
        else:
            self.function = shipped_function(self.located.task, self.scratch.folder)
        kinds = function_kinds(self.function)
        self.arguments = {
            **input_arguments(kinds, self.located, self.scratch, self.function.__globals__),
            **output_arguments(kinds, self.located.task, self.scratch),
        }
        if current:
            _check_fits(self.function, self.arguments, self.located)

    def announcement(self) -> str:
        """The first line `%kfp debug` prints: what is called, with what, and where its outputs go."""
        code = "the kernel's current definition" if self.current else "the source the run shipped"
        where = _shown_path(self.scratch.outputs)
        line = f"{self.located.shown} of run {self.located.record.run_id}, {code}; outputs go to {where}/"
        left_out = _left_out(self.located.task.component.platform)
        return line + (f"\nnot set in the kernel, as the task had them: {left_out}" if left_out else "")

    def call(self) -> Any:
        """Call the function as kfp's executor does; what it raises reaches the caller unchanged."""
        __tracebackhide__ = True
        container = self.located.task.component.container
        environment = dict(container.env) if container is not None else {}
        return call_function(self.function, self.arguments, str(self.scratch.outputs), environment)


def _check_fits(function: Callable[..., Any], arguments: dict[str, Any], located: LocatedTask) -> None:
    """The kernel's current definition takes what the task received (else a message instead of a TypeError)."""
    missing = [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in arguments
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]  # fmt: skip
    if missing:
        inputs = located.task.component.inputs
        received = ", ".join([*inputs.parameters, *inputs.artifacts])
        raise OptionError(
            f"{located.task.name}'s current definition needs {', '.join(map(repr, missing))}, which the task was not "
            f"given in run {located.record.run_id} (it received: {received or 'nothing'}). Give "
            f"{'it' if len(missing) == 1 else 'them'} a default to check the fix on these inputs, or leave out "
            "--current to call the code the run shipped; `%kfp run` runs the new definition"
        )


def call_function(function: Callable[..., Any], arguments: dict[str, Any], task_root: str,
                  environment: dict[str, str] | None = None) -> Any:  # fmt: skip
    """The function called with the arguments (and the component's `--env` variables set meanwhile), its return
    value checked as kfp's executor checks it."""
    __tracebackhide__ = True
    with kfp_compat.task_root(task_root), _environment(environment or {}), ended_when_done():
        try:
            value = function(**arguments)
            check_returned(function, value, Path(task_root))
        except BaseException as error:
            user_code.mark(error)
            raise
    return value


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """The kernel's environment with `variables` set, as they were before once the block ends."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _left_out(platform: Any) -> str:
    """What the task had from Kubernetes settings that a call in the kernel does not get: secrets and mounts."""
    found = [f"${variable} (secret)" for entry in platform.secrets_as_env for _, variable in entry.keys]
    found += [f"{entry.mount_path} (secret volume)" for entry in platform.secrets_as_volume]
    found += [f"{mount.path} (volume)" for mount in platform.pvc_mounts]
    return ", ".join(found)


def _shown_path(path: Path) -> str:
    try:
        return "./" + path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
