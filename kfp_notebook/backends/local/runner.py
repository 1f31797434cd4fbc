"""The local backend: check everything before a run starts (kinds, parameters, secrets), then schedule it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kfp_notebook.backends.base import Backend, Capabilities
from kfp_notebook.backends.local import LocalOptions, remote
from kfp_notebook.backends.local.attempts import REMOTE_CACHE, Prepared
from kfp_notebook.backends.local.cache import TaskCache
from kfp_notebook.backends.local.details import LocalFiles, task_log
from kfp_notebook.backends.local.importing import importer_problem, missing_import
from kfp_notebook.backends.local.pipeline_root import is_remote_root
from kfp_notebook.backends.local.platform import check_secret_volumes, ignored_settings, secret_environment
from kfp_notebook.backends.local.pod import check_field_paths
from kfp_notebook.backends.local.retrying import (
    RetrySource,
    copy_shared_folders,
    retried_pipeline,
    retried_root,
    retry_notice,
    run_to_retry,
)
from kfp_notebook.backends.local.scheduler import Scheduler
from kfp_notebook.backends.local.store import RunStore, request_stop
from kfp_notebook.backends.local.supervision import stop_leftovers
from kfp_notebook.backends.local.task_environment import base_environment
from kfp_notebook.backends.local.task_handlers import ProcessTaskHandler, TaskHandlerFactory
from kfp_notebook.errors import KfpNotebookError, UnknownNameError, advice
from kfp_notebook.ir import Component, PipelineIR, Task, ValueSource
from kfp_notebook.ir.parameters import pipeline_parameters
from kfp_notebook.tracking.handle import RunHandle, TaskDetails
from kfp_notebook.tracking.records import ArtifactFiles, RunRecord
from kfp_notebook.tracking.results import RunResult, TaskResult
from kfp_notebook.tracking.states import TaskState

#: Seconds `stop` waits for the run's own kernel to end it before stopping the task processes itself.
STOP_PATIENCE = 10.0


class NotRunnableLocally(KfpNotebookError, RuntimeError):
    """The pipeline uses something the local backend cannot run (a RuntimeError, as kfp.local raises)."""


class LocalBackend(Backend):
    """Runs pipelines on this machine, the embedded default; runs are kept in a runs folder."""

    name = "local"
    capabilities = Capabilities(follows_logs=True, reads_records=True, stops_foreign_runs=True)
    options_type = LocalOptions

    def __init__(self, runs_folder: str | os.PathLike[str] | None = None,
                 environments_folder: str | os.PathLike[str] | None = None,
                 task_env_passthrough: tuple[str, ...] = (),
                 task_handler: TaskHandlerFactory = ProcessTaskHandler):  # fmt: skip
        self.runs_folder = runs_folder
        self.task_handler = task_handler  # each run's task attempts go through one handler it makes
        self.environments = Path(environments_folder) if environments_folder else None
        self.passthrough = tuple(task_env_passthrough)

    def start(self, yaml_text: str, parameters: dict[str, Any] | None = None, options: Any = None) -> RunHandle:
        """Start running a compiled pipeline on this machine; returns at once with the run's handle."""
        options = self.options(options)
        assert isinstance(options, LocalOptions)
        return self._launch(yaml_text, parameters or {}, options)

    def retry(self, run_id: str | None, options: Any = None) -> RunHandle:
        """A new run of a failed or canceled run's pipeline (as it compiled it) and parameters, in the same runs
        folder, that reuses the outputs of every task that succeeded there and runs the rest."""
        options = self.options(options)
        assert isinstance(options, LocalOptions)
        store = RunStore(options.runs_folder or self.runs_folder)
        result = run_to_retry(store, run_id)
        folder, yaml_text, parameters = retried_pipeline(store, result)
        options = replace(options, pipeline_root=retried_root(folder))  # where the outputs it reuses are
        try:
            _reachable_root(options.pipeline_root)
        except NotRunnableLocally as exc:
            raise NotRunnableLocally(f"the retry of run {result.run_id} keeps its pipeline root: {exc}") from None
        return self._launch(yaml_text, parameters, options, RetrySource.of(result, folder))

    def _launch(self, yaml_text: str, parameters: dict[str, Any], options: LocalOptions,
                retried: RetrySource | None = None) -> RunHandle:  # fmt: skip
        ir = PipelineIR.from_yaml(yaml_text)
        values = pipeline_parameters(ir, parameters)
        if ir.input_artifacts:
            raise NotRunnableLocally(f"{ir.name} takes input artifacts, which local runs cannot provide yet")
        prepared = preflight(ir, values)
        prepared.base_environment = base_environment(self.passthrough)
        prepared.pipeline_root = _reachable_root(options.pipeline_root)
        store = RunStore(options.runs_folder or self.runs_folder)
        extra = {"retry_of": retried.run_id} if retried is not None else {}
        extra.update({"pipeline_root": prepared.pipeline_root} if prepared.pipeline_root is not None else {})
        run_id, folder = _create(store, ir.name, yaml_text, values, extra)
        if retried is not None:
            copy_shared_folders(retried.folder, folder)
            prepared.notices.insert(0, retry_notice(retried, prepared.pipeline_root))
        cache = TaskCache(store.root / ".cache") if options.cache else None
        workers = options.workers or os.cpu_count() or 1
        handler = self.task_handler()
        scheduler = Scheduler(ir, run_id, values, folder, store, prepared, workers, cache, self.environments, handler,
                              retried)  # fmt: skip
        return scheduler.start()

    def runs(self, pipeline: str | None = None, count: int = 0) -> list[RunRecord]:
        """Every run in the runs folder (the newest `count` when given; of one pipeline, only its records are read)."""
        if pipeline is not None and count:
            return RunStore(self.runs_folder).newest(pipeline, count)
        records = RunStore(self.runs_folder).records(pipeline)
        return records[:count] if count else records

    def task_log(self, run_id: str | None, task: str, tail: int | None = None) -> str:
        found = _task(RunStore(self.runs_folder).load(run_id), task)
        return task_log(found.folder, tail) or f"({found.task_id} wrote nothing; it is {found.state})"

    def task_result(self, run_id: str | None, task: str) -> TaskResult:
        """A task of a run as its folder shows it now (raises UnknownNameError naming the run's tasks)."""
        return _task(RunStore(self.runs_folder).load(run_id), task)

    def recorded_task_details(self, run_id: str, task_id: str) -> TaskDetails:
        """A task of a run in the runs folder as the panel's details show it (inputs, outputs, log parts)."""
        from kfp_notebook.backends.local import details

        return details.task_details(self.task_result(run_id, task_id))

    def recorded_log_parts(self, run_id: str, task_id: str, lines: int) -> TaskDetails:
        from kfp_notebook.backends.local import details

        return details.log_parts(self.task_result(run_id, task_id).folder, lines, lines)

    def run_record(self, run_id: str | None) -> RunResult:
        """A run as its folder shows it now (also while it runs, from any kernel; LOST when its kernel is gone)."""
        return RunStore(self.runs_folder).load(run_id)

    def follow_task_log(self, run_id: str | None, task: str, write: Callable[[str], None], poll: float) -> str:
        """Write a task's log as it grows until the task ends, also a run of another kernel; its final state."""
        from kfp_notebook.backends.local.details import LogFollower

        run_id = run_id or self.run_record(None).run_id
        follower = None  # a task not started yet has no folder: follow it once it has one
        while True:
            found = self.task_result(run_id, task)
            if follower is None and found.folder:
                follower = LogFollower(found.folder)
            write(follower.read_new() if follower is not None else "")
            if TaskState.parse(found.state).finished:
                write(follower.read_new() if follower is not None else "")
                return found.state
            time.sleep(poll)

    def stop_foreign(self, run_id: str, patience: float = STOP_PATIENCE) -> str:
        """Stop a run this kernel did not start: its kernel is asked to (it ends the run CANCELED and starts
        nothing more); whatever task process is still running after that, or of a LOST run, is stopped here."""
        store = RunStore(self.runs_folder)
        result = store.load(run_id)
        folder = Path(result.folder or store.root / result.run_id)
        if not TaskState.parse(result.state).finished:
            request_stop(folder, f"pid {os.getpid()}")
            result = _wait_until_finished(store, result.run_id, patience)
        stopped = stop_leftovers(folder)
        what = f"stopped the processes of {', '.join(stopped)}" if stopped else "no process of it was running"
        if not TaskState.parse(result.state).finished:
            what = f"its kernel did not answer the stop request within {patience:g} s; {what}"
        return f"run {result.run_id} ({result.state}): {what}"

    def task_outputs(self, run_id: str | None, task: str) -> tuple[TaskResult, ArtifactFiles]:
        store = RunStore(self.runs_folder)
        return _task(store.load(run_id), task), LocalFiles(store.root / REMOTE_CACHE)

    def run_inputs(self, run_id: str | None) -> Any:
        """A run of the runs folder as debugging reads it (a RecordedRun: each task's executor input is in its
        folder)."""
        from kfp_notebook.backends.local.recorded import LocalRecordedRun

        store = RunStore(self.runs_folder)
        return LocalRecordedRun(store, store.load(run_id))


def _reachable_root(root: str | None) -> str | None:
    """A pipeline root that can be written: a remote one's bucket reached with these credentials, a local folder
    made (else the run does not start)."""
    if root is None:
        return None
    try:
        if is_remote_root(root):
            remote.check_root(root)
        else:
            os.makedirs(root, exist_ok=True)
            if not os.access(root, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
    except remote.RemoteObjectError as exc:
        raise NotRunnableLocally(f"--pipeline-root {exc} The run did not start.") from None
    except OSError as exc:
        raise NotRunnableLocally(
            f"--pipeline-root {root}: the folder cannot be written ({exc.strerror or exc}). Choose a writable "
            "folder. The run did not start."
        ) from None
    return root


def _wait_until_finished(store: RunStore, run_id: str, patience: float) -> RunResult:
    """The run as its folder shows it once it has finished, or after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        result = store.load(run_id)
        if TaskState.parse(result.state).finished or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def _task(result: RunResult, task: str) -> TaskResult:
    """A task of a run by id or name; an unknown one raises UnknownNameError listing the run's tasks."""
    try:
        return result[task]
    except KeyError:
        names = ", ".join(result.tasks) or "none yet"
        raise UnknownNameError(f"no task {task!r} in run {result.run_id} (tasks: {names}); name one of them") from None


class RunsFolderError(KfpNotebookError):
    """The runs folder cannot be written."""


def _create(store: RunStore, name: str, yaml_text: str, values: dict[str, Any], extra: dict[str, Any] | None = None
            ) -> tuple[str, Path]:  # fmt: skip
    try:
        return store.create(name, yaml_text, values, extra)
    except OSError as exc:
        fix = advice("%config KfpMagics.runs_dir = 'PATH' (or runs_folder= in kfp_notebook.run)", "--runs-dir DIR")
        raise RunsFolderError(
            f"cannot write a run folder in {store.root} ({exc.strerror or exc}), so the run did not start. "
            f"Choose a writable folder: {fix}."
        ) from None


def preflight(ir: PipelineIR, values: dict[str, Any] | None = None) -> Prepared:
    """Everything that must hold before the first task starts; raises with the fix otherwise."""
    prepared = Prepared()
    resources: list[str] = []
    for task in ir.walk():
        missing = _check_task(ir, task, values or {}, prepared.checked)
        prepared.notices += [missing] if missing else []
    for component in ir.components.values():
        short = component.name.removeprefix("comp-")
        if component.kind == "container":
            raise NotRunnableLocally(_not_runnable(component))
        if component.kind != "python":
            continue
        if _containerized(component):
            raise NotRunnableLocally(_containerized_message(component))
        check_field_paths(component.platform, short)
        program = component.program
        if program is not None and program.packages:
            prepared.environments[component.name] = (program.packages, program.index_urls)
        if component.container is not None and component.container.resources.any:
            resources.append(short)
        ignored = ignored_settings(component.platform)
        if ignored:
            prepared.notices.append(f"{', '.join(ignored)} of {short}: Kubernetes-only, not applied locally")
    if resources:
        prepared.notices.insert(0, f"CPU, memory and GPU settings are not enforced locally ({', '.join(resources)})")
    return prepared


def _check_task(ir: PipelineIR, task: Task, values: dict[str, Any], checked: dict[str, Any]) -> str | None:
    """Secrets and imported files a task needs, where their names are known before the run (constants and
    pipeline parameters); names that come from loop items or outputs are checked when the task starts.
    Returns a notice for an imported local file that does not exist (the run still goes, as on Kubeflow)."""

    def known(source: ValueSource) -> str | None:
        return known_before_the_run(ir, task.path, source, values)

    platform = task.component.platform
    secret_environment(platform, known)
    check_secret_volumes(platform, known)
    importer = task.component.importer
    if importer is not None:
        uri = importer.uri if importer.uri is not None else known(task.parameters.get("uri", ValueSource("none")))
        problem = importer_problem(uri, f"dsl.importer {task.name!r}", checked) if uri is not None else None
        if problem:
            raise NotRunnableLocally(problem + " The run did not start.")
        return missing_import(uri, f"dsl.importer {task.name!r}") if uri is not None else None
    return None


def known_before_the_run(ir: PipelineIR, path: str, source: ValueSource, values: dict[str, Any]) -> str | None:
    """A value known before the run: a constant, or a pipeline parameter passed down through groups (None else)."""
    while source.kind == "input" and not source.selector:
        if "/" not in path:
            return str(values[source.name]) if source.name in values else None
        path = path.rsplit("/", 1)[0]
        group = ir.task(path)
        if group is None or source.name not in group.parameters:
            return None  # a loop item
        source = group.parameters[source.name]
    return str(source.value) if source.kind == "constant" and not source.selector else None


def _containerized(component: Component) -> bool:
    """A containerized Python component (`@dsl.component(target_image=...)`): its code is in the image it was
    built into, not in the pipeline (the command only calls `python3 -m kfp.dsl.executor_main`)."""
    program = component.program
    return program is not None and program.source.strip().endswith("kfp.dsl.executor_main")


def _containerized_message(component: Component) -> str:
    image = component.container.image if component.container else "?"
    return (
        f"{component.name.removeprefix('comp-')} is a containerized Python component (@dsl.component(target_image="
        f"{image!r})): its code lives in that image, not in the pipeline, so local runs cannot run it. The run did "
        "not start. Remove target_image to run it locally, or build the image (kfp component build) and submit the "
        "pipeline to Kubeflow."
    )


def _not_runnable(component: Component) -> str:
    image = component.container.image if component.container else "?"
    what = f"runs the container image {image} with its own command"
    return (
        f"{component.name.removeprefix('comp-')} {what}: local runs execute Python components (%%component, "
        "@dsl.component) only. Submit this pipeline to Kubeflow, or write that step as a Python component."
    )
