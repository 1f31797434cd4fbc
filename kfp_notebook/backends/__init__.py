"""Backends that run a compiled pipeline, found by name in `registry`: "local" (the embedded default), "kubeflow"."""
