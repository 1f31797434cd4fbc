"""The help texts of the magics (`%%component?`, `%%pipeline?`, `%kfp help`); usages come from commands.py."""

from kfp_notebook.commands import COMPONENT, PIPELINE, cell_usage, kfp_help

component_usage, pipeline_usage = cell_usage(COMPONENT), cell_usage(PIPELINE)

COMPONENT_HELP = f"""Turn the function in this cell into a Kubeflow Pipelines component.

{component_usage}

The cell runs as ordinary Python; its function (the only one, or the one --name names) becomes
the component, bound to the same name. The plain function stays at `NAME.python_func`.
--base-image, --packages and --pip-index-url describe the container. The resource, env, secret,
volume, retry, cache and display-name options are applied to every task made from the component;
a task can still override them with kfp's setters inside the pipeline.
Imports, helpers and literal constants the function reads are carried when they provably are what
the kernel holds; --freeze NAME ships the current value of a computed literal on purpose.
"""

PIPELINE_HELP = f"""Turn the function in this cell into a Kubeflow Pipelines pipeline.

{pipeline_usage}

The function's typed parameters are the pipeline's parameters; call components inside it and use
kfp's dsl.If / dsl.Elif / dsl.Else, dsl.ParallelFor, dsl.Collected and dsl.ExitHandler as usual.
--output compiles the pipeline to FILE.yaml right away.
"""

KFP_HELP = kfp_help()
