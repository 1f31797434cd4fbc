"""Apply a component's per-task defaults (resources, env, secrets, volumes, retries, caching) to a kfp task."""

from __future__ import annotations

from typing import Any

from kfp_notebook.authoring.options import TaskDefaults

DEFAULT_GPU_TYPE = "nvidia.com/gpu"


def apply_task_defaults(task: Any, defaults: TaskDefaults) -> None:
    """Call kfp's own setters, in a fixed order, for every default the component declares."""
    _apply_resources(task, defaults)
    for name, value in defaults.env:
        task.set_env_variable(name, value)
    if defaults.retries is not None:
        task.set_retry(defaults.retries)
    if not defaults.caching:
        task.set_caching_options(False)
    if defaults.display_name is not None:
        task.set_display_name(defaults.display_name)
    _apply_kubernetes(task, defaults)


def _apply_resources(task: Any, defaults: TaskDefaults) -> None:
    if defaults.cpu is not None:
        task.set_cpu_request(defaults.cpu)
    if defaults.cpu_limit is not None:
        task.set_cpu_limit(defaults.cpu_limit)
    if defaults.memory is not None:
        task.set_memory_request(defaults.memory)
    if defaults.memory_limit is not None:
        task.set_memory_limit(defaults.memory_limit)
    if defaults.gpu is not None:
        task.set_accelerator_type(defaults.gpu_type or DEFAULT_GPU_TYPE).set_accelerator_limit(defaults.gpu)
    elif defaults.gpu_type is not None:
        task.set_accelerator_type(defaults.gpu_type)


def _apply_kubernetes(task: Any, defaults: TaskDefaults) -> None:
    if not defaults.secrets and not defaults.volumes:
        return
    from kfp import kubernetes

    for secret in defaults.secrets:
        kubernetes.use_secret_as_env(task, secret_name=secret.secret, secret_key_to_env={secret.key: secret.env})
    for volume in defaults.volumes:
        kubernetes.mount_pvc(task, pvc_name=volume.pvc, mount_path=volume.path)


def describe_defaults(defaults: TaskDefaults) -> list[tuple[str, str]]:
    """(label, value) pairs for the settings that differ from kfp's defaults, for summaries."""
    rows = [
        ("cpu", _pair(defaults.cpu, defaults.cpu_limit)),
        ("memory", _pair(defaults.memory, defaults.memory_limit)),
        ("gpu", _gpu(defaults)),
        ("env", ", ".join(f"{k}={v}" for k, v in defaults.env)),
        ("secrets", ", ".join(f"{s.env} ← {s.secret}:{s.key}" for s in defaults.secrets)),
        ("volumes", ", ".join(f"{v.pvc} → {v.path}" for v in defaults.volumes)),
        ("retries", "" if defaults.retries is None else str(defaults.retries)),
        ("caching", "" if defaults.caching else "off"),
        ("display name", defaults.display_name or ""),
    ]
    return [(label, value) for label, value in rows if value]


def _pair(request: str | None, limit: str | None) -> str:
    parts = [f"request {request}" if request else "", f"limit {limit}" if limit else ""]
    return ", ".join(p for p in parts if p)


def _gpu(defaults: TaskDefaults) -> str:
    if defaults.gpu is None and defaults.gpu_type is None:
        return ""
    return f"{defaults.gpu or 1} × {defaults.gpu_type or DEFAULT_GPU_TYPE}"
