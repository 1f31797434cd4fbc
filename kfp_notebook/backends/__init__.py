"""Backends that run a compiled pipeline: "local" (the embedded default) and, later, "kubeflow"."""
