"""Per-kernel state: definitions, runs, panels, the Kubeflow connection and settings; everything goes through it.

The magics, the Python API (`kfp_notebook.run/compile/show`) and the panels call a `Session`; the
kernel's session belongs to its `KfpMagics` (made by `%load_ext kfp_notebook`). Without one, the
Python API works on a fresh session of its own.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kfp_notebook.backends.base import Backend, RunOptions, RunRecord
from kfp_notebook.backends.local.store import default_runs_folder
from kfp_notebook.errors import OptionError, UnknownNameError
from kfp_notebook.registry import Registry
from kfp_notebook.status import RunHandle, TaskEvent

if TYPE_CHECKING:
    from kfp_notebook.view.panel import PipelinePanel


@dataclass
class Settings:
    """What `%config KfpMagics.<name>` sets (the magics copy their traits here)."""

    output_dir: str = "."
    runs_dir: str | os.PathLike[str] | None = field(default_factory=lambda: str(default_runs_folder()))
    workers: int = 0
    cache: bool = True
    base_image: str | None = None
    pip_index_urls: tuple[str, ...] = ()
    environments_dir: str | os.PathLike[str] | None = None
    task_env_passthrough: tuple[str, ...] = ()  # kernel variables local tasks get on purpose

    def local_options(self) -> RunOptions:
        return RunOptions(workers=self.workers or None, cache=self.cache, runs_folder=self.runs_dir)


@dataclass
class Session:
    """One kernel's kfp-notebook state."""

    settings: Settings = field(default_factory=Settings)
    registry: Registry = field(default_factory=Registry)
    runs: dict[str, RunHandle] = field(default_factory=dict)  # runs going on (and remote ones): finished local
    # runs are read from their folder, not held (a handle with its events is ~33 KB)
    last_run: str | None = None  # the run this kernel started last: what %kfp status/logs mean without --run
    panels: dict[str, PipelinePanel] = field(default_factory=dict)  # the latest panel of each pipeline (kfp name)
    shown: weakref.WeakSet[PipelinePanel] = field(default_factory=weakref.WeakSet)  # panels on screen (Submit)
    kubeflow: Backend | None = None

    @staticmethod
    def current() -> Session:
        """The session of the running IPython kernel when kfp_notebook is loaded there, else a new one."""
        try:
            from IPython import get_ipython
        except ImportError:
            return Session()
        shell = get_ipython()
        magics = shell.magics_manager.registry.get("KfpMagics") if shell is not None else None
        return magics.session if magics is not None else Session()

    # -- definitions and compiling --------------------------------------------------------------------

    def pipeline(self, name: str | None = None) -> Any:
        """A pipeline defined in this kernel by its name (the latest one by default), as it is now."""
        return self.registry.refreshed(self.registry.pipeline(name))

    def current_form(self, pipeline: Any) -> Any:
        """`pipeline` rebuilt with the current components when it is one of this kernel's and they changed."""
        entry = self.registry.entry_of(pipeline)
        if entry is not None:
            return self.registry.refreshed(entry)
        component = self.registry.component_entry_of(pipeline)
        return self.registry.current_component(component) if component is not None else pipeline

    def compile(self, pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
        from kfp_notebook.compiling import compile_yaml

        return compile_yaml(self.current_form(pipeline), path)

    # -- backends and runs ----------------------------------------------------------------------------

    def backend(self, where: str) -> Backend:
        if where == "local":
            from kfp_notebook.backends.local.runner import LocalBackend

            settings = self.settings
            return LocalBackend(settings.runs_dir, settings.environments_dir, settings.task_env_passthrough)
        if where == "kubeflow":
            if self.kubeflow is None:
                raise OptionError("not connected to Kubeflow: run `%kfp connect --host https://HOST/pipeline` first")
            return self.kubeflow
        raise OptionError(f"unknown backend {where!r} (backends: local, kubeflow)")

    def backends(self) -> list[Backend]:
        """The backends runs can be listed from: local, and Kubeflow when connected."""
        return [self.backend("local"), *([self.kubeflow] if self.kubeflow is not None else [])]

    def start(self, pipeline: Any, parameters: dict[str, Any] | None = None, where: str = "local",
              options: RunOptions | None = None, panel: PipelinePanel | None = None) -> RunHandle:  # fmt: skip
        """Compile the pipeline as it is now and start a run; the pipeline's latest panel follows it."""
        if options is None:
            options = self.settings.local_options() if where == "local" else RunOptions()
        backend = self.backend(where)
        handle = backend.start(self.compile(pipeline), parameters, options)
        self.runs[handle.run_id], self.last_run = handle, handle.run_id
        if backend.keeps_finished_runs:
            handle.subscribe(self._forget_when_finished)
        for shown in {id(p): p for p in (self.panels.get(handle.pipeline_name), panel) if p is not None}.values():
            shown.follow(handle)
        return handle

    def _forget_when_finished(self, event: TaskEvent) -> None:
        """A finished run of a backend that keeps its runs is read back from there from now on."""
        if event.task_id == "" and event.connection is None and event.state.finished:
            self.runs.pop(event.run_id, None)

    def wait(self, handle: RunHandle, on_progress: Callable[[RunHandle], None] | None = None) -> str | None:
        """Wait for the run to end; an interrupt does what it means for the run's backend and says what (returned)."""
        try:
            while not handle.wait(0.3):
                if on_progress is not None:
                    on_progress(handle)
        except KeyboardInterrupt:
            return handle.interrupt()
        return None

    def handle(self, run_id: str | None = None, running: bool = False) -> RunHandle:
        """A run started from this kernel: by id, else the latest (the latest still running, if `running`)."""
        candidates = [h for h in self.runs.values() if not (running and h.done)]
        if run_id is not None and run_id in self.runs:
            return self.runs[run_id]
        if run_id is None and candidates:
            return candidates[-1]
        what = "running run" if running else "run"
        known = ", ".join(h.run_id for h in candidates) or "none"
        raise UnknownNameError(f"no {what} {run_id or ''} started from this kernel (runs: {known})".replace("  ", " "))

    def stop(self, run_id: str | None) -> str:
        """Stop a run of this kernel; a local run of another kernel (or a LOST one): stop its task processes."""
        if run_id is None or run_id in self.runs:
            handle = self.handle(run_id, running=True)
            handle.cancel()
            handle.wait(30)
            return f"run {handle.run_id}: {handle.state.value}"
        return self._local().stop(run_id)

    def recorded_run(self, run_id: str | None = None) -> Any:
        """A local run as its folder shows it now (the newest when None), whichever kernel runs or ran it."""
        return self._local().run_state(run_id)

    def follow_log(self, task: str, run_id: str | None, write: Callable[[str], None], poll: float = 0.5) -> str:
        """Write a task's log as it grows until the task ends (of this kernel's latest run by default); returns its
        final state. A run of this kernel that is not on this machine is followed through its handle."""
        from kfp_notebook.backends.local.details import LogFollower

        local = self._local()
        run_id = run_id or self.last_run or local.run_state(None).run_id
        if run_id in self.runs and not local.has_run(run_id):
            return follow_handle_log(self.runs[run_id], task, write, poll)
        follower = LogFollower(local.task_result(run_id, task).folder)
        while True:
            write(follower.read_new())
            found = local.task_result(run_id, task)
            if found.state not in ("PENDING", "RUNNING"):
                write(follower.read_new())
                return found.state
            time.sleep(poll)

    def _local(self) -> Any:
        return self.backend("local")

    def runs_of(self, pipeline: str | None = None) -> dict[str, list[RunRecord]]:
        """Recent runs by backend, newest first (of one pipeline, by its kfp name, when given)."""
        return {backend.name: backend.runs(pipeline) for backend in self.backends()}

    def task_log(self, task: str, run_id: str | None = None, tail: int | None = None) -> str:
        """A task's log: live from a run of this kernel, else from a backend's record of the run."""
        run_id = run_id or self.last_run
        handle = self.runs.get(run_id or "")
        if handle is not None:
            task_id = find_task(handle, task)
            status = handle.tasks[task_id]
            return handle.task_log(task_id, tail) or f"({task_id} wrote nothing yet; it is {status.state.value})"
        errors = []
        for backend in self.backends():
            try:
                return backend.task_log(run_id, task, tail)
            except UnknownNameError as exc:
                errors.append(str(exc))
        raise UnknownNameError("; ".join(errors))

    def task_outputs(self, task: str, run_id: str | None = None) -> tuple[Any, Any]:
        """A task's result with its output artifacts and a reader of their files, from the backend that has the run."""
        run_id = run_id or self.last_run
        errors = []
        for backend in self.backends():
            try:
                return backend.task_outputs(run_id, task)
            except UnknownNameError as exc:
                errors.append(str(exc))
        raise UnknownNameError("; ".join(errors))

    def history(self, pipeline: Any = None) -> Any:
        """Runs of a pipeline (object or kfp name; every pipeline when None) from every backend, newest first."""
        from kfp_notebook.view.history import run_history

        return run_history(self.backends(), pipeline)

    # -- panels and Kubeflow ---------------------------------------------------------------------------

    def show(self, pipeline: Any, name: str | None = None, output_dir: str | None = None,
             options: RunOptions | None = None) -> PipelinePanel:  # fmt: skip
        from kfp_notebook.view.panel import PipelinePanel

        pipeline = self.current_form(pipeline)
        title = name or str(getattr(pipeline, "name", "pipeline"))
        settings = replace(self.settings, output_dir=output_dir or self.settings.output_dir)
        panel = PipelinePanel(pipeline, title, self, settings.output_dir, options)
        self.panels[pipeline.name] = panel
        self.shown.add(panel)
        return panel

    def connect(self, backend: Backend) -> None:
        """Kubeflow is connected: `%kfp submit` and every panel's Submit button send runs there."""
        self.kubeflow = backend
        for panel in self.shown:
            panel.enable_submit()


def follow_handle_log(handle: RunHandle, task: str, write: Callable[[str], None], poll: float) -> str:
    """Write what a task of a run adds to its log (read through the run's handle) until the task ends."""
    task_id, written = find_task(handle, task), 0
    while True:
        status = handle.tasks[task_id]
        text = handle.task_log(task_id)
        write(text[written:] if len(text) >= written else text)
        written = len(text)
        if status.state.finished:
            return status.state.value
        time.sleep(poll)


def find_task(handle: RunHandle, task: str) -> str:
    """A task of the run by id or by name (the first instance, for tasks inside loops)."""
    tasks = handle.tasks
    if task in tasks:
        return task
    wanted = {task, task.replace("_", "-")}
    for task_id, status in tasks.items():
        if status.name in wanted or task_id.rsplit("/", 1)[-1] in wanted:
            return task_id
    raise UnknownNameError(
        f"no task {task!r} in run {handle.run_id} (tasks: {', '.join(tasks) or 'none yet'}); "
        "name one of them, for example `%kfp logs " + (next(iter(tasks), "train")) + "`"
    )
