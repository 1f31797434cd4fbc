"""What the backends do when nothing says otherwise, named once (light enough for the command declarations)."""

#: Where local runs keep their files unless $KFP_NOTEBOOK_RUNS, the settings or --runs-dir say otherwise.
DEFAULT_RUNS_FOLDER = "kfp_runs"
#: The lines of a task's log `%kfp logs` shows without --tail.
DEFAULT_LOG_LINES = 200
#: The experiment runs go to without --experiment (Kubeflow's own default experiment).
DEFAULT_EXPERIMENT = "Default"
