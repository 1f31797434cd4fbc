"""kfp-notebook: build, compile and run Kubeflow Pipelines from Jupyter notebook cells."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kfp_notebook.authoring.volumes import Volume

__all__ = ["Volume", "compile", "load_ipython_extension", "run", "runs", "show"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the panel's front end (built into kfp_notebook/labextension)."""
    return [{"src": "labextension", "dest": "kfp-notebook"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext kfp_notebook`: register %%component, %%pipeline and %kfp (kfp itself loads on first use)."""
    from kfp_notebook.magics import KfpMagics

    ipython.register_magics(KfpMagics(ipython))


def compile(pipeline: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Compile a pipeline (or component) with kfp's compiler; return the YAML and write it to `path` if given.

    A pipeline defined by a %%pipeline cell is rebuilt first if a component it uses was redefined since.
    """
    from kfp_notebook.compiling import compile_yaml
    from kfp_notebook.registry import refreshed

    return compile_yaml(refreshed(pipeline), path)


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
    from kfp_notebook.backends.local.runner import LocalOptions, run_local

    handle = run_local(compile(pipeline), params, LocalOptions(workers, cache, runs_folder))
    if wait:
        try:
            handle.wait()
        except KeyboardInterrupt:
            handle.cancel()
            handle.wait(30)
            raise
    return handle


def show(
    pipeline: Any,
    name: str | None = None,
    output_dir: str = ".",
    *,
    workers: int | None = None,
    cache: bool = True,
    runs_folder: str | os.PathLike[str] | None = None,
) -> Any:
    """The pipeline panel for `pipeline` (DAG, Compile / Run / Submit / Stop, parameters, live states).

    Compile writes to `output_dir`; Run runs locally with `workers`, `cache` and `runs_folder` as `run()` does.
    """
    from kfp_notebook.compiling import compile_yaml
    from kfp_notebook.view.panel import PipelinePanel

    def compile_pipeline(target: Any, path: str | None) -> str:
        from kfp_notebook.registry import refreshed

        return compile_yaml(refreshed(target), path)

    def start(target: Any, params: dict[str, Any]) -> Any:
        return run(target, params, wait=False, workers=workers, cache=cache, runs_folder=runs_folder)

    title = name or str(getattr(pipeline, "name", "pipeline"))
    return PipelinePanel(pipeline, title, compile_pipeline, start, output_dir)


def runs(
    pipeline: Any = None,
    *,
    runs_folder: str | os.PathLike[str] | None = None,
    kubeflow: Any = None,
) -> Any:
    """The run history, newest first: a list of RunRecord (run, where, state, times, parameters, metrics).

    `pipeline` is a pipeline object or name (None: every pipeline). Local runs are read from `runs_folder`
    (default ./kfp_runs or $KFP_NOTEBOOK_RUNS); Kubeflow runs are added from `kubeflow` or, when a
    notebook connected with `%kfp connect`, from that connection. `.to_pandas()` gives a DataFrame.
    """
    from kfp_notebook.view.history import run_history

    return run_history(pipeline, runs_folder, kubeflow if kubeflow is not None else _connected_kubeflow())


def _connected_kubeflow() -> Any:
    """The Kubeflow connection of this kernel's magics, if `%kfp connect` was run."""
    import sys

    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("KfpMagics") if shell is not None else None
    return getattr(magics, "kubeflow", None)


def __getattr__(name: str) -> Any:
    if name == "Volume":
        from kfp_notebook.authoring.volumes import Volume

        return Volume
    raise AttributeError(f"module 'kfp_notebook' has no attribute {name!r}")
