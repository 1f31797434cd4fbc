"""kfp.local's API on our local backend: `kfp.local.init(runner=kfp_notebook.LocalRunner())`, then plain kfp code.

After that init, calling a pipeline or a component outside a pipeline runs it here (parallel tasks, isolated
environments, run folders, the runs history) and returns what kfp.local returns: the outputs (artifacts as
dsl.Artifact objects with local paths), or kfp.local's RuntimeError when a task fails and raise_on_error is set.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.local import SubprocessRunner

from kfp_notebook import kfp_compat
from kfp_notebook.backends.local import LocalOptions
from kfp_notebook.errors import OptionError
from kfp_notebook.tracking.handle import RunHandle
from kfp_notebook.tracking.results import RunResult, is_artifact
from kfp_notebook.tracking.states import TaskState

WORKSPACE_PLACEHOLDER = "{{$.workspace_path}}"


@dataclasses.dataclass
class LocalRunner(SubprocessRunner):  # type: ignore[misc]  # kfp.local accepts SubprocessRunner and its subclasses
    """Run kfp.local's pipelines and components on kfp-notebook's local backend.

    Args:
        workers: tasks that may run at once (default: the number of CPUs).
        runs_folder: where runs are kept (default: kfp.local's pipeline_root), one folder per run, listed by
            `kfp_notebook.runs()` and `%kfp runs`.
        show_logs: print each task's log as the task ends (kfp.local streams them to stdout).

    Packages (`packages_to_install`) always go into cached environments of their own, never into the kernel's:
    there is no `use_venv` to choose. Caching follows `kfp.local.init(enable_caching=...)`.
    """

    workers: int | None = None
    runs_folder: str | None = None
    show_logs: bool = True
    use_venv: bool = dataclasses.field(default=False, init=False, repr=False)
    serialize_pip_installs: bool = dataclasses.field(default=True, init=False, repr=False)
    max_concurrent_pip_installs: int = dataclasses.field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:  # kfp's own sets up its pip installs, which this runner does not use
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) < 1):
            raise OptionError(f"LocalRunner(workers={self.workers!r}): give a number of tasks, 1 or more")
        kfp_compat.route_kfp_local(_ours, run_pipeline, run_component)


def _ours(config: Any) -> bool:
    return config is not None and isinstance(config.runner, LocalRunner)


def run_pipeline(pipeline_spec: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """kfp.local's `run_local_pipeline`, on our backend."""
    return _run(pipeline_spec, arguments, component=False)


def run_component(pipeline_spec: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """kfp.local's `run_single_task` (a component called outside a pipeline), on our backend."""
    return _run(pipeline_spec, arguments, component=True)


def _run(pipeline_spec: Any, arguments: dict[str, Any], component: bool) -> dict[str, Any]:
    from kfp_notebook.backends.local.runner import LocalBackend

    config = kfp_compat.kfp_local_config()
    runner: LocalRunner = config.runner
    if config.cache_root is not None:
        raise OptionError(
            f"kfp.local.init(cache_root={config.cache_root!r}) does not apply to kfp_notebook.LocalRunner: "
            "it keeps its cache in the runs folder (RUNS_FOLDER/.cache). Leave cache_root out."
        )
    folder = runner.runs_folder or config.pipeline_root
    document = json_format.MessageToDict(pipeline_spec)
    options = LocalOptions(runner.workers, bool(config.enable_caching), folder)
    handle = LocalBackend(folder).start(_yaml(document), arguments, options)
    _follow(handle, runner.show_logs)
    result = handle.result()
    if handle.state is TaskState.SUCCEEDED:
        return kfp_outputs(result)
    failed = _failed(result)
    if not component:  # kfp.local logs the task's failure, then the pipeline's
        kfp_compat.log_kfp_local_error(kfp_compat.kfp_local_failure(None, failed[:1]))
    message = kfp_compat.kfp_local_failure(None if component else document["pipelineInfo"]["name"], failed)
    if config.raise_on_error:
        raise RuntimeError(message)
    kfp_compat.log_kfp_local_error(message)
    return {}


def _yaml(document: dict[str, Any]) -> str:
    """The pipeline's YAML. kfp.local hands over the PipelineSpec alone (a pipeline's PipelineConfig and
    kfp-kubernetes settings stay behind); a pipeline that uses dsl.WORKSPACE_PATH_PLACEHOLDER gets its workspace."""
    text = yaml.safe_dump(document, sort_keys=False)
    if WORKSPACE_PLACEHOLDER not in text:
        return text
    platform: dict[str, Any] = {"platforms": {"kubernetes": {"pipelineConfig": {"workspace": {}}}}}
    return yaml.safe_dump_all([document, platform], sort_keys=False)


def _follow(handle: RunHandle, show_logs: bool) -> None:
    """Wait for the run, printing each task's log when it ends; an interrupt stops every task of the run."""
    printed: set[str] = set()
    try:
        while True:
            done = handle.wait(0.1)
            if show_logs:
                _print_logs(handle, printed)
            if done:
                return
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait(30)
        raise


def _print_logs(handle: RunHandle, printed: set[str]) -> None:
    for task_id, status in list(handle.tasks.items()):
        if task_id in printed or not status.state.finished or status.is_group:
            continue
        printed.add(task_id)
        text = handle.task_log(task_id) if status.state is not TaskState.CACHED else ""
        if text:
            print(f"── {task_id} ({status.state.value.lower()}) ──\n{text}", file=sys.stdout, flush=True)


def _failed(result: RunResult) -> list[str]:
    """The failed task innermost first, then the groups (sub-pipelines, loops) around it, as kfp.local names them."""
    failed = [t.task_id for t in result.tasks.values() if t.state == TaskState.FAILED.value]
    if not failed:
        return [result.pipeline]
    innermost = max(failed, key=lambda task_id: task_id.count("/"))
    return [part.split("[", 1)[0] for part in reversed(innermost.split("/"))]


def kfp_outputs(result: RunResult) -> dict[str, Any]:
    """The run's outputs as kfp.local returns them: parameter values, and dsl.Artifact objects (lists for lists)."""
    return {name: _kfp_value(value) for name, value in result.outputs.items()}


def _kfp_value(value: Any) -> Any:
    if is_artifact(value):
        return kfp_compat.dsl_artifact(value)
    if isinstance(value, list) and value and all(is_artifact(item) for item in value):
        return [kfp_compat.dsl_artifact(item) for item in value]
    return value
