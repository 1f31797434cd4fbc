"""kfp-notebook: build, compile and run Kubeflow Pipelines from Jupyter notebook cells."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kfp_notebook.volumes import Volume

__all__ = ["Volume", "compile", "load_ipython_extension"]


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


def __getattr__(name: str) -> Any:
    if name == "Volume":
        from kfp_notebook.volumes import Volume

        return Volume
    raise AttributeError(f"module 'kfp_notebook' has no attribute {name!r}")
