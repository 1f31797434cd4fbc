"""Every use of a kfp private API or of kfp's generated code, in one place.

tests/test_kfp_compat.py checks each against the installed kfp, so a kfp release that changes one
fails there, loudly and by name, instead of somewhere deep in a run.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: What kfp's component_factory writes above the function in a lightweight component's program.
GENERATED_PREAMBLE = "import kfp\nfrom kfp import dsl\nfrom kfp.dsl import *\nfrom typing import *\n"

_OPEN_LOCK = threading.Lock()


# -- authoring ----------------------------------------------------------------------------------------


def default_base_image() -> str | None:
    """kfp's own default base image (`component_factory._DEFAULT_BASE_IMAGE`)."""
    from kfp.dsl import component_factory

    return getattr(component_factory, "_DEFAULT_BASE_IMAGE", None)


def building_pipeline() -> bool:
    """Whether a pipeline function is being traced now (`pipeline_context.Pipeline.get_default_pipeline`)."""
    from kfp.dsl import pipeline_context

    return pipeline_context.Pipeline.get_default_pipeline() is not None


def interface_accepted(function: Callable[..., Any]) -> bool:
    """Whether kfp can make a component interface of the function's signature (`extract_component_interface`)."""
    from kfp.dsl.component_factory import extract_component_interface

    try:
        extract_component_interface(function)
    except Exception:  # kfp raises TypeError, ValueError and others for what it cannot pass
        return False
    return True


def function_source(function: Callable[..., Any]) -> str:
    """The function's source as kfp writes it at the end of a program (`_get_function_source_definition`)."""
    from kfp.dsl.component_factory import _get_function_source_definition

    return _get_function_source_definition(function)


class _CallerNameOnlyInspect:
    """`inspect` for kfp's pipeline_task, whose task setters call `inspect.stack()[1][3]` only for a name.

    `inspect.stack()` reads source-file information of every frame and looks each one up in
    `sys.modules` (linear for cell code): 30–70 ms per `set_cpu_request` in a kernel, several setters
    per task with `--cpu/--memory/--gpu`, seconds for a pipeline. This gives the same records' first
    four fields from the frames alone; every other name is `inspect`'s own.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list[tuple[Any, str, int, str, None, None]]:
        records = []
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None:
            records.append((frame, frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, None, None))
            frame = frame.f_back
        return records


def fast_task_setters() -> None:
    """Make kfp's task setters skip `inspect.stack()`'s file lookups (`kfp.dsl.pipeline_task.inspect`)."""
    from kfp.dsl import pipeline_task

    if isinstance(getattr(pipeline_task, "inspect", None), type(inspect)):
        pipeline_task.inspect = _CallerNameOnlyInspect()  # type: ignore[assignment]


# -- compiling ----------------------------------------------------------------------------------------


@contextmanager
def utf8_compiler_files() -> Iterator[None]:
    """kfp's YAML writer calls `open(path, 'w')` with the locale's encoding; make it UTF-8 while we compile.

    The shadowing `open` lives only in `kfp.compiler.pipeline_spec_builder`'s globals and only during
    the call, so `LC_ALL=C` cannot break a pipeline with non-ASCII text.
    """
    from kfp.compiler import pipeline_spec_builder

    with _OPEN_LOCK:
        pipeline_spec_builder.open = functools.partial(open, encoding="utf-8")  # type: ignore[attr-defined]
        try:
            yield
        finally:
            del pipeline_spec_builder.open  # type: ignore[attr-defined]


# -- kfp.Client's generated API objects ------------------------------------------------------------------


def api_client(client: Any) -> Any:
    """The kfp_server_api ApiClient a kfp.Client sends with (`client._run_api.api_client`)."""
    return client._run_api.api_client


def pool_manager(client: Any) -> Any:
    """The urllib3 pool every request of the client goes through."""
    return api_client(client).rest_client.pool_manager


def set_cookie(client: Any, cookie: str) -> None:
    """Send `cookie` with every request from now on (a new Dex session)."""
    api_client(client).cookie = cookie


def healthz(client: Any) -> Any:
    return client._healthz_api.healthz_service_get_healthz()


def upload_pipeline(client: Any, path: str, name: str, namespace: str | None) -> Any:
    return client._upload_api.upload_pipeline(path, name=name, namespace=namespace)


def upload_pipeline_version(client: Any, path: str, name: str, pipeline_id: str) -> Any:
    return client._upload_api.upload_pipeline_version(path, name=name, pipelineid=pipeline_id)


def create_experiment(client: Any, body: Any) -> Any:
    return client._experiment_api.experiment_service_create_experiment(experiment=body)


def create_run(client: Any, body: Any) -> Any:
    """One POST of a run (kfp.Client.run_pipeline would also upload and pick an experiment)."""
    return client._run_api.run_service_create_run(run=body)


# -- kfp.local ------------------------------------------------------------------------------------------
# kfp.local runs a pipeline (or a component called outside a pipeline) through two module functions that
# `PipelineTask._execute_locally` looks up at each call; `LocalExecutionConfig` accepts only instances of
# `SubprocessRunner` or `DockerRunner`. kfp_notebook.LocalRunner subclasses SubprocessRunner, and these two
# functions send the calls made while it is the configured runner to our local backend.

LocalDispatch = Callable[..., dict[str, Any]]  # (pipeline_spec, arguments) -> outputs


def route_kfp_local(wanted: Callable[[Any], bool], run_pipeline: LocalDispatch, run_task: LocalDispatch) -> None:
    """Send kfp.local's runs to `run_pipeline`/`run_task` (PipelineSpec, arguments) -> outputs while the
    configured runner is `wanted`; other runners keep kfp.local's own functions. Done once per process."""
    from kfp.local import pipeline_orchestrator, task_dispatcher

    for module, name, ours in (
        (pipeline_orchestrator, "run_local_pipeline", run_pipeline),
        (task_dispatcher, "run_single_task", run_task),
    ):
        original = getattr(module, name)
        if getattr(original, "kfp_notebook_route", False):
            continue
        setattr(module, name, _routed(original, wanted, ours))


def _routed(original: LocalDispatch, wanted: Callable[[Any], bool], ours: LocalDispatch) -> LocalDispatch:
    @functools.wraps(original)
    def dispatch(pipeline_spec: Any, arguments: dict[str, Any]) -> dict[str, Any]:
        if wanted(kfp_local_config()):
            return ours(pipeline_spec, arguments)
        return original(pipeline_spec=pipeline_spec, arguments=arguments)

    dispatch.kfp_notebook_route = True  # type: ignore[attr-defined]
    return dispatch


def kfp_local_config() -> Any:
    """kfp.local's configuration (`LocalExecutionConfig.instance`: runner, pipeline_root, raise_on_error,
    enable_caching, cache_root, workspace_root), or None before `kfp.local.init`."""
    from kfp.local import config

    return config.LocalExecutionConfig.instance


def dsl_artifact(artifact: dict[str, Any]) -> Any:
    """The dsl.Artifact (Model, Dataset, ...) kfp.local returns for a runtime artifact (name, uri, metadata, type)."""
    from kfp.dsl import executor

    return executor.create_artifact_instance(artifact)


def kfp_local_failure(pipeline: str | None, failed: list[str]) -> str:
    """kfp.local's message for a failed run: `Task 'x' finished with status FAILURE` for a component run on its
    own (pipeline None), else `Pipeline 'p' finished with status FAILURE. Inner task failed: 'x' inside 'g'.`"""
    from kfp.local import logging_utils, status

    failure = logging_utils.format_status(status.Status.FAILURE)
    if pipeline is None:
        return f"Task {logging_utils.format_task_name(failed[0])} finished with status {failure}"
    chain = " inside ".join(logging_utils.format_task_name(name) for name in failed)
    name = logging_utils.format_pipeline_name(pipeline)
    return f"Pipeline {name} finished with status {failure}. Inner task failed: {chain}."


def log_kfp_local_error(message: str) -> None:
    """Log `message` at ERROR as kfp.local does when raise_on_error is False (its logger, format and colours)."""
    import logging

    from kfp.local import logging_utils

    with logging_utils.local_logger_context():
        logging.error(message)


# -- the task's process -------------------------------------------------------------------------------


def around_user_function(before: Callable[[], None], after: Callable[[], None]) -> None:
    """Call `before` right before kfp's executor calls the component's function and `after` once it returned
    or raised (`kfp.dsl.executor.Executor.execute` reads the inputs, calls the function, writes the outputs,
    and logs nothing itself). In a task's own process only: it changes the class for that process."""
    from kfp.dsl import executor

    execute = executor.Executor.execute

    @functools.wraps(execute)
    def bounded(self: Any) -> Any:
        before()
        try:
            return execute(self)
        finally:
            after()

    executor.Executor.execute = bounded  # type: ignore[method-assign]
