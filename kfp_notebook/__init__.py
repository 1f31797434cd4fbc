"""kfp-notebook: build, compile and run Kubeflow Pipelines from Jupyter notebook cells."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kfp_notebook.authoring.volumes import Volume
    from kfp_notebook.backends.local.kfp_local import LocalRunner

__all__ = [
    "LocalRunner",
    "Volume",
    "compile",
    "load_ipython_extension",
    "read_artifact",
    "retry",
    "run",
    "runs",
    "show",
]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kfp_notebook`: register %%component, %%pipeline and %kfp (kfp itself loads on first use)."""
    from kfp_notebook.magics import KfpMagics

    ipython.register_magics(KfpMagics(ipython))


def task_inputs(task: str, run: Any = None, item: int | None = None) -> dict[str, Any]:
    """The inputs a task's function received in a run, as keyword arguments: `fn.python_func(**inputs)`.

    `task`: its name (or id, `for-loop-2[3]/shard`); `run`: a RunHandle, a run id, or None (this kernel's latest
    run, else the newest in the runs folder; Kubeflow runs when connected); `item`: the ParallelFor iteration's
    index, for a task inside a loop. Parameters are the values kfp's executor passed; input artifacts are
    dsl.Artifact objects (Dataset, Model, ...) with the run's uri, name and metadata, whose `.path` is a read-only
    copy of what the producer wrote, in ./kfp_debug/<run>/<task>/inputs.
    """
    from kfp_notebook import debugging
    from kfp_notebook.session import Session

    return debugging.task_inputs(Session.current(), task, run, item)


def debug(task: str, run: Any = None, item: int | None = None, current: bool = False) -> Any:
    """Call a task's function in the kernel with the inputs it received in a run; returns what it returns.

    The code is the source the run shipped, or with `current=True` the kernel's definition of the component now
    (to check a fix on the same inputs). Outputs go to ./kfp_debug/<run>/<task>/outputs. What the function
    raises reaches the caller unchanged (`%debug` then opens the debugger in it). Arguments as `task_inputs`.
    """
    __tracebackhide__ = True
    from kfp_notebook.debugging import Debugged, user_code
    from kfp_notebook.session import Session

    try:
        return Debugged(Session.current(), task, run, item, current).call()
    finally:
        user_code.forget()  # only the magics look for the mark


__all__ += ["debug", "task_inputs"]  # debugging a task of a run (kfp_notebook/debugging)


def compile(pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Compile a pipeline (or component) with kfp's compiler; return the YAML and write it to `path` if given.

    A pipeline defined by a %%pipeline cell is rebuilt first if a component it uses was redefined since.
    """
    from kfp_notebook.session import Session

    return Session.current().compile(pipeline, path)


def run(
    pipeline: Any,
    params: dict[str, Any] | None = None,
    *,
    wait: bool = True,
    workers: int | None = None,
    cache: bool = True,
    runs_folder: str | os.PathLike[str] | None = None,
    pipeline_root: str | None = None,
) -> Any:
    """Run a pipeline on this machine; returns its RunHandle (finished, unless `wait=False`).

    `pipeline_root` (s3://bucket/prefix, gs://..., minio://..., or a local folder): where output artifacts go, laid
    out as on Kubeflow (default: `%config KfpMagics.pipeline_root`, else the runs folder).
    Interrupting the wait (Ctrl-C, or the notebook's stop button) stops every task of the run.
    """
    from kfp_notebook.session import Session

    session = Session.current()
    options = {"workers": workers, "cache": cache, "runs_folder": runs_folder, "pipeline_root": pipeline_root}
    handle = session.start(pipeline, params, "local", options)
    if wait and session.wait(handle) is not None:
        raise KeyboardInterrupt
    return handle


def retry(run: Any = None, *, wait: bool = True, runs_folder: str | os.PathLike[str] | None = None) -> Any:
    """Retry a failed or canceled run: its tasks that succeeded are not run again (their outputs are reused), the
    rest run; returns the handle of the run that does it (finished, unless `wait=False`).

    `run` is a RunHandle or a run id; None: the latest failed or canceled run of this kernel or its runs folder
    (`runs_folder`, as given to `run()`; default: the kernel's). A local run is retried by a new run of the
    pipeline as that run compiled it, with its parameters; a Kubeflow run is retried in place by the server.
    """
    from dataclasses import replace

    from kfp_notebook.debugging import runs_folder_of
    from kfp_notebook.session import Session

    session = Session.current()
    runs_folder = runs_folder if runs_folder is not None else runs_folder_of(run)  # a handle of run(runs_folder=)
    if runs_folder is not None:
        session = replace(session, settings=replace(session.settings, runs_dir=runs_folder))
    handle = session.retry(run)
    if wait and session.wait(handle) is not None:
        raise KeyboardInterrupt
    return handle


def show(
    pipeline: Any,
    name: str | None = None,
    output_dir: str | None = None,
    *,
    workers: int | None = None,
    cache: bool = True,
    runs_folder: str | os.PathLike[str] | None = None,
    pipeline_root: str | None = None,
) -> Any:
    """The pipeline panel for `pipeline` (DAG, Compile / Run / Submit / Stop, parameters, live states).

    Compile writes to `output_dir`; Run runs locally with `workers`, `cache`, `runs_folder` and `pipeline_root` as
    `run()` does.
    """
    from kfp_notebook.session import Session

    options = {"workers": workers, "cache": cache, "runs_folder": runs_folder, "pipeline_root": pipeline_root}
    return Session.current().show(pipeline, name, output_dir, options)


def runs(pipeline: Any = None, *, runs_folder: str | os.PathLike[str] | None = None) -> Any:
    """The run history, newest first: a list of RunRecord (run, where, state, times, parameters, metrics).

    `pipeline` is a pipeline object or name (None: every pipeline). Local runs are read from `runs_folder`
    (default: the kernel's runs folder, ./kfp_runs or $KFP_NOTEBOOK_RUNS); Kubeflow runs are added when the
    notebook connected with `%kfp connect`. `.to_pandas()` gives a DataFrame.
    """
    from dataclasses import replace

    from kfp_notebook.session import Session

    session = Session.current()
    if runs_folder is not None:
        session = replace(session, settings=replace(session.settings, runs_dir=runs_folder))
    return session.history(pipeline)


def read_artifact(artifact: Any) -> str:
    """The local file (or folder) of an artifact of a local run's results (`handle.result().outputs[...]`, a task's
    `.artifacts[...]`, or its URI): a path as it is; a remote one (a run with a pipeline root on s3://, gs://,
    minio://) downloaded into the runs folder's `.remote-cache` unless it holds that version."""
    from pathlib import Path

    from kfp_notebook.backends.local import remote
    from kfp_notebook.session import Session

    uri = str(artifact.get("uri", "") if isinstance(artifact, dict) else artifact)
    runs_dir = Session.current().settings.runs_dir
    return remote.read_artifact(uri, Path(runs_dir) / ".remote-cache" if runs_dir else None)


def __getattr__(name: str) -> Any:
    if name == "Volume":
        from kfp_notebook.authoring.volumes import Volume

        return Volume
    if name == "LocalRunner":  # kfp.local.init(runner=kfp_notebook.LocalRunner()): kfp.local's API on our backend
        from kfp_notebook.backends.local.kfp_local import LocalRunner

        return LocalRunner
    raise AttributeError(f"module 'kfp_notebook' has no attribute {name!r}")
