"""The help texts of the magics (`%%component?`, `%%pipeline?`, `%kfp help`)."""

COMPONENT_HELP = """Turn the function in this cell into a Kubeflow Pipelines component.

%%component [--name NAME] [--base-image IMAGE] [--packages PKG [PKG ...]] [--pip-index-url URL]...
            [--cpu Q] [--cpu-limit Q] [--memory Q] [--memory-limit Q] [--gpu N] [--gpu-type TYPE]
            [--env NAME=VALUE]... [--secret SECRET:KEY=ENVVAR]... [--volume PVC:/mount/path]...
            [--retries N] [--no-cache] [--display-name TEXT] [--output-component-file PATH]
            [--freeze NAME]...

The cell runs as ordinary Python; its function (the only one, or the one --name names) becomes
the component, bound to the same name. The plain function stays at `NAME.python_func`.
--base-image, --packages and --pip-index-url describe the container. The resource, env, secret,
volume, retry, cache and display-name options are applied to every task made from the component;
a task can still override them with kfp's setters inside the pipeline.
Imports, helpers and literal constants the function reads are carried when they provably are what
the kernel holds; --freeze NAME ships the current value of a computed literal on purpose.
"""

PIPELINE_HELP = """Turn the function in this cell into a Kubeflow Pipelines pipeline.

%%pipeline [--name NAME] [--description TEXT] [--output FILE.yaml]

The function's typed parameters are the pipeline's parameters; call components inside it and use
kfp's dsl.If / dsl.Elif / dsl.Else, dsl.ParallelFor, dsl.Collected and dsl.ExitHandler as usual.
--output compiles the pipeline to FILE.yaml right away.
"""

KFP_HELP = """%kfp SUBCOMMAND ...

  %kfp compile [PIPELINE] [-o FILE]   compile a pipeline (the latest one by default) to YAML
  %kfp run [PIPELINE] [--param NAME=VALUE]... [--no-wait] [--workers N] [--no-cache]
                                      run it on this machine, showing task states live
  %kfp runs [PIPELINE]                the runs of a pipeline (the latest by default) in the runs folder and,
                                      when connected, on Kubeflow: state, times, parameters, metrics
  %kfp compare [RUN ...] [--last N] [--by PARAM] [-o FILE.csv|FILE.md]
                                      runs side by side (the last 5 of the latest pipeline by default):
                                      differing parameters, best metrics, a plot per metric
  %kfp show-artifact TASK[.OUTPUT] [--run RUN]
                                      a task's artifacts drawn: confusion matrix, ROC, Markdown, HTML,
                                      dataset preview, model files (of the latest run by default)
  %kfp logs TASK [--run RUN] [--tail N] [--follow]
                                      a task's output so far (the last 200 lines unless --tail;
                                      --follow streams it until the task ends; latest run by default)
  %kfp stop [RUN]                     stop a running run (the latest by default); a local run of
                                      another kernel, or LOST: stop its task processes still running
  %kfp connect --host URL [--namespace NS] [--auth none|token|cookie|sa|dex] [--user EMAIL]
               [--ca-cert PATH] [--insecure] [--ui-host URL]
                                      connect to Kubeflow Pipelines (secrets from env or a prompt);
                                      --ui-host: the KFP UI for links and logs (else
                                      $KF_PIPELINES_UI_ENDPOINT); settings are remembered
  %kfp submit [PIPELINE] [--experiment NAME] [--run-name NAME] [--param NAME=VALUE]... [--no-wait]
               [--skip-checks]        upload, create a run on Kubeflow, follow it live (refused first
                                      when a secret, key or PVC it mounts is missing in the cluster)
  %kfp doctor [PIPELINE] [--namespace NS]
                                      check the KFP API, auth, the namespace and what the pipeline
                                      needs there (secrets, PVCs, nodes, pull secrets): OK/WARN/FAIL
  %kfp status [RUN]                   the states of a run (local runs of other kernels from their folder)
  %kfp show [PIPELINE]                the pipeline's panel: DAG, Compile / Run / Submit / Stop, live states
  %kfp list                           the components and pipelines this kernel defined
  %kfp help                           this text
"""
