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

from kfp_notebook.backends import registry as backend_registry
from kfp_notebook.backends.base import Backend, BackendOptions
from kfp_notebook.backends.local.store import default_runs_folder
from kfp_notebook.errors import OptionError, UnknownNameError
from kfp_notebook.registry import Registry
from kfp_notebook.tracking.handle import RunHandle, TaskEvent
from kfp_notebook.tracking.records import RunRecord, latest_unsuccessful
from kfp_notebook.tracking.task_ids import find_task_id

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
    pipeline_root: str | None = None  # where local runs' output artifacts go (None: the runs folder)

    def run_defaults(self) -> dict[str, Any]:
        """What the settings say about runs (each backend takes the options it has: today the local one)."""
        return {"workers": self.workers or None, "cache": self.cache, "runs_folder": self.runs_dir,
                "pipeline_root": self.pipeline_root}  # fmt: skip


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
    connected: dict[str, Backend] = field(default_factory=dict)  # remote backends by name, once connected

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

    def runnable(self, name: str | None = None) -> Any:
        """What `%kfp run NAME` runs: the pipeline of that name, else the component of that name (run on its own
        as a one-task pipeline, its outputs the run's outputs), as the kernel defines them now."""
        try:
            return self.pipeline(name)
        except UnknownNameError:
            if name is None:
                raise
        component = self.registry.component(name)
        if component is not None:
            return self.registry.current_component(component)
        plain = self.registry.plain_component(name)  # a @dsl.component of the kernel's namespace
        if plain is None:
            raise UnknownNameError(self.registry.runnable_names(name))
        return plain

    def current_form(self, pipeline: Any) -> Any:
        """`pipeline` rebuilt with the current components when it is one of this kernel's and they changed."""
        entry = self.registry.entry_of(pipeline)
        if entry is not None:
            return self.registry.refreshed(entry)
        component = self.registry.component_entry_of(pipeline)
        return self.registry.current_component(component) if component is not None else pipeline

    def compile(self, pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
        from kfp_notebook.ir.compiling import compile_yaml

        return compile_yaml(self.current_form(pipeline), path)

    # -- backends and runs ----------------------------------------------------------------------------

    def backend(self, where: str) -> Backend:
        """The backend called `where` (see `backends.registry`), with this kernel's settings and connection."""
        return backend_registry.factory(where)(self.settings, self.connected.get(where))

    def backends(self) -> list[Backend]:
        """The backends runs can be listed from: local, and every connected one."""
        return [self.backend("local"), *self.connected.values()]

    def remote(self) -> Backend | None:
        """The backend `%kfp submit` and the panel's Submit button send runs to: the one connected last."""
        return next(reversed(self.connected.values()), None)

    def _able(self, ability: str) -> Backend:
        """The first backend that can do what `ability` (a `Capabilities` field) names."""
        return next(b for b in self.backends() if getattr(b.capabilities, ability))

    def start(self, pipeline: Any, parameters: dict[str, Any] | None = None, where: str = "local",
              options: BackendOptions | dict[str, Any] | None = None, panel: PipelinePanel | None = None
              ) -> RunHandle:  # fmt: skip
        """Compile the pipeline as it is now and start a run; the pipeline's latest panel follows it.

        `options` are the backend's own (its options class, or a dict of them); unset ones come from the settings.
        """
        backend = self.backend(where)
        defaults = {k: v for k, v in self.settings.run_defaults().items() if k in _fields(backend.options_type)}
        handle = backend.start(self.compile(pipeline), parameters, backend.options(options, defaults))
        return self._track(handle, backend, panel)

    def _track(self, handle: RunHandle, backend: Backend, panel: PipelinePanel | None = None) -> RunHandle:
        """A run this kernel started: the latest run, held while it goes, followed by its pipeline's panel."""
        self.runs[handle.run_id], self.last_run = handle, handle.run_id
        if backend.capabilities.reads_records:  # a finished run is read back from its record, not held
            handle.subscribe(self._forget_when_finished)
        for shown in {id(p): p for p in (self.panels.get(handle.pipeline_name), panel) if p is not None}.values():
            shown.follow(handle)
        return handle

    def retry(self, run: RunHandle | str | None = None, panel: PipelinePanel | None = None) -> RunHandle:
        """Run again what did not succeed in a failed or canceled run, reusing the outputs of every task that
        succeeded in it (`run`: its handle or id; None: the latest such run of this kernel or its runs folder).

        Local runs: a new run of the pipeline as that run compiled it, with its parameters. Kubeflow retries the
        run in place (the same id). The pipeline's panel follows the run that retries it.
        """
        backend, run_id = self._run_to_retry(run)
        defaults = {k: v for k, v in self.settings.run_defaults().items() if k in _fields(backend.options_type)}
        handle = backend.retry(run_id, backend.options(None, defaults))
        return self._track(handle, backend, panel)

    def _run_to_retry(self, run: RunHandle | str | None) -> tuple[Backend, str]:
        """The backend that has the run, and its id (the latest failed or canceled run when None)."""
        if isinstance(run, RunHandle):
            return self.backend(run.backend), run.run_id
        if run is not None and not isinstance(run, str):
            raise OptionError(f"run={run!r} is not a run: pass a run handle, a run id (see %kfp runs), or nothing")
        if run is not None and run in self.runs:
            return self.backend(self.runs[run].backend), run
        if run is not None:
            return self._backend_having(run), run
        return self._latest_unsuccessful()

    def _backend_having(self, run_id: str) -> Backend:
        """The first backend with a record of the run; else the connected server (which says if it has none)."""
        unknown: UnknownNameError | None = None
        for backend in self.backends():
            if backend.capabilities.reads_records:
                try:
                    backend.run_record(run_id)
                except UnknownNameError as exc:
                    unknown = exc
                    continue
                return backend
        remote = self.remote()
        if remote is None:
            raise unknown or UnknownNameError(f"no run {run_id!r} to retry")
        return remote

    def _latest_unsuccessful(self) -> tuple[Backend, str]:
        """The latest run that failed, was canceled or was lost: of this kernel, or in a backend's records."""
        found = [(h.started, h.backend, h.run_id) for h in self.runs.values() if h.done and h.state.unsuccessful]
        for backend in self.backends():
            if backend.capabilities.reads_records:
                record = latest_unsuccessful(backend.runs())
                found += [(record.started or 0.0, backend.name, record.run_id)] if record is not None else []
        if not found:
            raise UnknownNameError(
                f"no failed or canceled run to retry (in {self.settings.runs_dir} or started from this kernel); "
                "name one: %kfp retry RUN (`%kfp runs` lists them)"
            )
        _, name, run_id = max(found)
        return self.backend(name), run_id

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
        return self._able("stops_foreign_runs").stop_foreign(run_id)

    def recorded_run(self, run_id: str | None = None) -> Any:
        """A local run as its folder shows it now (the newest when None), whichever kernel runs or ran it."""
        return self._able("reads_records").run_record(run_id)

    def follow_log(self, task: str, run_id: str | None, write: Callable[[str], None], poll: float = 0.5) -> str:
        """Write a task's log as it grows until the task ends (of this kernel's latest run by default); returns its
        final state. A run of this kernel that no backend keeps a record of is followed through its handle."""
        run_id = run_id or self.last_run
        handle = self.runs.get(run_id or "")
        if handle is not None and not self._has_record(handle.run_id):
            return follow_handle_log(handle, task, write, poll)
        return self._able("follows_logs").follow_task_log(run_id, task, write, poll)

    def _has_record(self, run_id: str) -> bool:
        try:
            self.recorded_run(run_id)
        except UnknownNameError:
            return False
        return True

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
             options: dict[str, Any] | None = None) -> PipelinePanel:  # fmt: skip
        from kfp_notebook.view.panel import PipelinePanel

        pipeline = self.current_form(pipeline)
        title = name or str(getattr(pipeline, "name", "pipeline"))
        settings = replace(self.settings, output_dir=output_dir or self.settings.output_dir)
        panel = PipelinePanel(pipeline, title, self, settings.output_dir, options)
        self.panels[pipeline.name] = panel
        self.shown.add(panel)
        return panel

    def connect(self, backend: Backend) -> None:
        """A remote backend is connected: `%kfp submit` and every panel's Submit button send runs there."""
        self.connected.pop(backend.name, None)
        self.connected[backend.name] = backend
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
    found = find_task_id(tasks, task, {task_id: status.name for task_id, status in tasks.items()})
    if found is not None:
        return found
    raise UnknownNameError(
        f"no task {task!r} in run {handle.run_id} (tasks: {', '.join(tasks) or 'none yet'}); "
        "name one of them, for example `%kfp logs " + (next(iter(tasks), "train")) + "`"
    )


def _fields(options_type: type) -> set[str]:
    import dataclasses

    return {f.name for f in dataclasses.fields(options_type)}
