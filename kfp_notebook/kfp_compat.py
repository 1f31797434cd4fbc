"""Every use of a kfp private API or of kfp's generated code, in one place.

tests/test_kfp_compat.py checks each against the installed kfp, so a kfp release that changes one
fails there, loudly and by name, instead of somewhere deep in a run.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
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


# -- importing -----------------------------------------------------------------------------------------

#: What `import kfp` imports besides its runtime (kfp/__init__.py, unless `_KFP_RUNTIME=true`): name → module
#: and attribute. `Client` alone brings the Kubernetes client, requests and google-auth.
KFP_EAGER_NAMES = {"components": ("kfp.components", None), "dsl": ("kfp.dsl", None), "Client": ("kfp.client", "Client")}


def kfp_client_on_first_use() -> None:
    """Import kfp as its runtime does (`_KFP_RUNTIME=true`), with `kfp.Client`, `kfp.components` and `kfp.dsl`
    imported when first used: code that says `import kfp` gets the same module, and a process that only
    compiles does not import kfp's client. Only before anything imported kfp (else nothing changes)."""
    import importlib
    import os

    if "kfp" in sys.modules:
        return
    previous = os.environ.get("_KFP_RUNTIME")
    os.environ["_KFP_RUNTIME"] = "true"
    try:
        kfp = importlib.import_module("kfp")
    finally:
        if previous is None:
            del os.environ["_KFP_RUNTIME"]
        else:
            os.environ["_KFP_RUNTIME"] = previous

    def first_use(name: str) -> Any:
        if name not in KFP_EAGER_NAMES:
            raise AttributeError(f"module 'kfp' has no attribute {name!r}")
        module, attribute = KFP_EAGER_NAMES[name]
        value = importlib.import_module(module)
        value = getattr(value, attribute) if attribute else value
        setattr(kfp, name, value)
        return value

    kfp.__getattr__ = first_use  # type: ignore[method-assign]


# -- compiling ----------------------------------------------------------------------------------------

#: SHA-256 of the source of each kfp function `linear_spec_building` replaces, as the installed kfp has it; a kfp
#: whose source differs keeps its own functions (slower, never wrong) and tests/test_kfp_compat.py fails.
REPLACED_SOURCES = {
    "build_spec_by_group": "68d92d5b23be74f621c00a92f2b5678a2c76f20a81434bd739167853e2ed9d84",
    "make_name_unique_by_adding_index": "d43d7173444993de2f6be0e7267cfb92f728561d853268ada4593c4756e5eb82",
}
#: In `build_spec_by_group`'s loop over a group's tasks, the statement that lists the names of all of them (the
#: same list for each task: it depends on no loop variable): computed once per group instead of once per task.
_LOOP_INVARIANT = "tasks_in_current_dag"


def source_digest(function: Callable[..., Any]) -> str:
    import hashlib

    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def linear_spec_building() -> None:
    """Make kfp's pipeline building linear in tasks (`%%pipeline` of 1,000 tasks: seconds → a fraction).

    kfp's `build_spec_by_group` sanitizes the name of every task of a group once per task of the group
    (quadratic), and `make_name_unique_by_adding_index` probes a list for each candidate name (cubic for many
    tasks of one component). The first is replaced by the same function with that loop-invariant list built
    before the loop (its own source, transformed); the second by the same probing of a set. Same results,
    byte for byte; each only when kfp's source is the one known (`REPLACED_SOURCES`). Idempotent.
    """
    from kfp.compiler import pipeline_spec_builder
    from kfp.dsl import utils

    current = pipeline_spec_builder.build_spec_by_group
    if not hasattr(current, "kfp_original") and source_digest(current) == REPLACED_SOURCES["build_spec_by_group"]:
        pipeline_spec_builder.build_spec_by_group = _hoisted(current, _LOOP_INVARIANT)  # type: ignore[assignment]
    unique = utils.make_name_unique_by_adding_index
    if not hasattr(unique, "kfp_original") and source_digest(unique) == REPLACED_SOURCES[unique.__name__]:
        _unique_name.kfp_original = unique  # type: ignore[attr-defined]
        utils.make_name_unique_by_adding_index = _unique_name


@contextmanager
def kfp_spec_building() -> Iterator[None]:
    """kfp's own (unreplaced) pipeline building while in the block, e.g. to compare its YAML with ours."""
    from kfp.compiler import pipeline_spec_builder
    from kfp.dsl import utils

    replaced = (pipeline_spec_builder.build_spec_by_group, utils.make_name_unique_by_adding_index)
    pipeline_spec_builder.build_spec_by_group = getattr(replaced[0], "kfp_original", replaced[0])
    utils.make_name_unique_by_adding_index = getattr(replaced[1], "kfp_original", replaced[1])
    try:
        yield
    finally:
        pipeline_spec_builder.build_spec_by_group, utils.make_name_unique_by_adding_index = replaced


def _hoisted(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """`function` with the assignment to `name` inside its first `for` loop moved to just before that loop."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    loop_at = next(i for i, s in enumerate(definition.body) if isinstance(s, ast.For))
    loop = definition.body[loop_at]
    assert isinstance(loop, ast.For)
    statement = next(
        s for s in loop.body if isinstance(s, ast.Assign) and [ast.unparse(t) for t in s.targets] == [name]
    )
    loop.body.remove(statement)
    definition.body.insert(loop_at, statement)
    _NamesLookedUpInPlace().visit(definition)
    namespace: dict[str, Any] = {}
    code = compile(ast.increment_lineno(tree, function.__code__.co_firstlineno - 1), function.__code__.co_filename,
                   "exec")  # fmt: skip
    exec(code, function.__globals__, namespace)
    replaced = namespace[function.__name__]
    replaced.__doc__, replaced.kfp_original = function.__doc__, function
    return replaced  # type: ignore[no-any-return]


class _NamesLookedUpInPlace(ast.NodeTransformer):
    """`make_name_unique_by_adding_index(..., collection=list(M.keys()), ...)` → `collection=M`: a protobuf map
    answers `in` by itself, in constant time, where the list was a copy of all its keys for each call."""

    def visit_keyword(self, node: ast.keyword) -> ast.keyword:
        value = node.value
        if (
            node.arg == "collection"
            and isinstance(value, ast.Call)
            and ast.unparse(value.func) == "list"
            and len(value.args) == 1
            and isinstance(value.args[0], ast.Call)
            and isinstance(value.args[0].func, ast.Attribute)
            and value.args[0].func.attr == "keys"
            and not value.args[0].args
        ):
            node.value = value.args[0].func.value
        return node


def _unique_name(name: str, collection: Any, delimiter: str) -> str:
    """kfp's `make_name_unique_by_adding_index` (name, else name-2, name-3, ...: the first not in `collection`),
    looking names up in a set (or in the mapping given)."""
    taken = collection if isinstance(collection, (set, frozenset, Mapping)) else set(collection)
    if name not in taken:
        return name
    index = 2
    while f"{name}{delimiter}{index}" in taken:
        index += 1
    return f"{name}{delimiter}{index}"


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


def retry_run(client: Any, run_id: str) -> Any:
    """POST runs/{id}:retry (kfp.Client 2.x has no method for it; its generated API has)."""
    return client._run_api.run_service_retry_run(run_id=run_id)


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


def dsl_artifact(artifact: dict[str, Any], fallback: Any = None) -> Any:
    """The dsl.Artifact (Model, Dataset, ...) kfp.local returns for a runtime artifact (name, uri, metadata, type);
    the class comes from its schema title, else `fallback` (an annotation's class; dsl.Artifact by default)."""
    from kfp.dsl import executor

    if fallback is None:
        return executor.create_artifact_instance(artifact)
    return executor.create_artifact_instance(artifact, fallback_artifact_cls=fallback)


# -- debugging a task in the kernel (kfp_notebook/debugging) ---------------------------------------------


def executor_argument_kind(annotation: Any) -> str:
    """What kfp's executor (`Executor.execute`, in its order) passes for a parameter annotated so: "final_status",
    "task_config", "artifact_list", "parameter", "input_artifact", "output_artifact", "embedded_input",
    "output_path" (an output parameter's file), "output_artifact_path", "input_path", or "" (nothing)."""
    from kfp.dsl import executor, task_final_status
    from kfp.dsl.task_config import TaskConfig
    from kfp.dsl.types import type_annotations as kinds

    annotation = kinds.maybe_strip_optional_from_annotation(annotation)
    if annotation == task_final_status.PipelineTaskFinalStatus:
        return "final_status"
    if annotation == TaskConfig:
        return "task_config"
    wrapped = getattr(annotation, "__origin__", None) if kinds.is_Input_Output_artifact_annotation(annotation) else None
    if kinds.is_list_of_artifacts(annotation) or (wrapped is not None and kinds.is_list_of_artifacts(wrapped)):
        return "artifact_list"  # List[Dataset], Input[List[Dataset]]: a list of the input's artifacts
    if executor.is_parameter(annotation):
        return "parameter"
    if kinds.is_Input_Output_artifact_annotation(annotation):
        return "input_artifact" if kinds.is_artifact_wrapped_in_Input(annotation) else "output_artifact"
    if kinds.is_embedded_input_annotation(annotation):
        return "embedded_input"
    if executor.is_artifact(annotation):
        return "input_artifact"
    if isinstance(annotation, kinds.OutputPath):
        return "output_path" if executor.is_parameter(annotation.type) else "output_artifact_path"
    return "input_path" if isinstance(annotation, kinds.InputPath) else ""


def artifact_class(annotation: Any) -> Any:
    """The artifact class an Input[...] / Output[...] / list annotation names (dsl.Artifact when it names none)."""
    from kfp import dsl
    from kfp.dsl.types import type_annotations as kinds

    inner = kinds.maybe_strip_optional_from_annotation(annotation)
    if kinds.is_embedded_input_annotation(inner):
        inner = kinds.strip_Input_or_Output_marker(inner)
    while kinds.is_list_of_artifacts(inner) or kinds.is_Input_Output_artifact_annotation(inner):
        inner = kinds.get_inner_type(inner) if kinds.is_list_of_artifacts(inner) else inner.__origin__
    return inner if isinstance(inner, type) and kinds.is_artifact_class(inner) else dsl.Artifact


@contextmanager
def task_root(folder: str) -> Iterator[None]:
    """`dsl.get_uri()` answers under `folder` while the block runs, as in a task (`artifact_types.CONTAINER_TASK_ROOT`,
    which kfp's executor sets from the executor output's folder)."""
    from kfp.dsl.types import artifact_types

    before = artifact_types.CONTAINER_TASK_ROOT
    artifact_types.CONTAINER_TASK_ROOT = folder
    try:
        yield
    finally:
        artifact_types.CONTAINER_TASK_ROOT = before


def return_kind(annotation: Any) -> str:
    """How kfp's executor takes a function's return value (`Executor.write_executor_output`): "parameter",
    "artifact", "named_tuple", or "" (an annotation it refuses)."""
    from kfp.dsl import executor

    if executor.is_parameter(annotation):
        return "parameter"
    if executor.is_artifact(annotation):
        return "artifact"
    return "named_tuple" if executor.is_named_tuple(annotation) else ""


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
