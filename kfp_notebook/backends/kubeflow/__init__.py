"""The Kubeflow Pipelines backend: connect, submit, follow, stop — through kfp.Client."""
