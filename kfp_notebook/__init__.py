"""kfp-notebook: build, compile and run Kubeflow Pipelines from Jupyter notebook cells."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kfp_notebook.authoring.volumes import Volume
    from kfp_notebook.backends.local.kfp_local import LocalRunner

__all__ = ["LocalRunner", "Volume", "compile", "load_ipython_extension", "run", "runs", "show"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kfp_notebook`: register %%component, %%pipeline and %kfp (kfp itself loads on first use)."""
    from kfp_notebook.magics import KfpMagics

    ipython.register_magics(KfpMagics(ipython))


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
) -> Any:
    """Run a pipeline on this machine; returns its RunHandle (finished, unless `wait=False`).

    Interrupting the wait (Ctrl-C, or the notebook's stop button) stops every task of the run.
    """
    from kfp_notebook.session import Session

    session = Session.current()
    handle = session.start(pipeline, params, "local", {"workers": workers, "cache": cache, "runs_folder": runs_folder})
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
) -> Any:
    """The pipeline panel for `pipeline` (DAG, Compile / Run / Submit / Stop, parameters, live states).

    Compile writes to `output_dir`; Run runs locally with `workers`, `cache` and `runs_folder` as `run()` does.
    """
    from kfp_notebook.session import Session

    options = {"workers": workers, "cache": cache, "runs_folder": runs_folder}
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


def __getattr__(name: str) -> Any:
    if name == "Volume":
        from kfp_notebook.authoring.volumes import Volume

        return Volume
    if name == "LocalRunner":  # kfp.local.init(runner=kfp_notebook.LocalRunner()): kfp.local's API on our backend
        from kfp_notebook.backends.local.kfp_local import LocalRunner

        return LocalRunner
    raise AttributeError(f"module 'kfp_notebook' has no attribute {name!r}")
