"""Read-only Kubernetes checks through the kubernetes client: the doctor, the pre-submit check, pod logs."""
