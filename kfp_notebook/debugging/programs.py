"""The function a debugged task calls: the source its run shipped, or the kernel's current definition.

The shipped program (kfp's preamble, the carried imports, helpers and constants, the function) is executed as a
module of its own, `ephemeral_component` as in the task's container, so the kernel's names are left alone. Its
source is written beside the task's scratch folder and registered with linecache: tracebacks and the debugger
show its lines.
"""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_notebook.debugging import user_code
from kfp_notebook.errors import KfpNotebookError, UnknownNameError
from kfp_notebook.ir import Task

MODULE = "ephemeral_component"  # the program's module name in a task's container (kfp's executor_main)


class ProgramError(KfpNotebookError):
    """The task's program cannot be loaded into the kernel."""


def shipped_function(task: Task, folder: Path) -> Callable[..., Any]:
    """The task's function from the program the run shipped, loaded as the container loads it."""
    program = task.component.program
    if program is None:
        raise ProgramError(
            f"{task.name} is not a Python component (it is a {task.component.kind} step): only the functions of "
            "%%component or @dsl.component components can be called in the kernel"
        )
    path = folder / f"{MODULE}.py"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(program.source, encoding="utf-8")
    module = _load(program.source, path, task.name)
    function = getattr(module, program.function, None)
    if function is None:
        raise ProgramError(f"the program {task.name} shipped has no function {program.function!r}")
    return getattr(function, "python_func", function)  # type: ignore[no-any-return]


def _load(source: str, path: Path, name: str) -> types.ModuleType:
    __tracebackhide__ = True
    linecache.cache[str(path)] = (len(source), None, source.splitlines(True), str(path))
    module = types.ModuleType(MODULE)
    module.__file__ = str(path)
    sys.modules[MODULE] = module  # pickling what it defines finds it, as in the container
    code = compile(source, str(path), "exec", dont_inherit=True)  # not our __future__ flags
    try:
        exec(code, module.__dict__)
    except ModuleNotFoundError as exc:
        raise ProgramError(
            f"the program {name} shipped imports {exc.name!r}, which this kernel does not have (the task's "
            f"container installs its --packages): pip install it here, or debug with --current"
        ) from None
    except BaseException as error:  # its module-level code failed, as it would have in the task
        user_code.mark(error)
        raise
    return module


def current_function(registry: Any, task: Task) -> Callable[..., Any]:
    """The kernel's definition now of the task's component (a %%component, else a @dsl.component object)."""
    name = task.kfp_name
    entry = registry.component(name)
    component = registry.current_component(entry) if entry is not None else registry.plain_component(name)
    if component is None:
        raise UnknownNameError(
            f"this kernel defines no component {name!r} (the component of {task.name}): run its %%component cell "
            "first, or leave out --current to call the source the run shipped"
        )
    return getattr(component, "python_func", component)  # type: ignore[no-any-return]
