"""KFP v1's VolumeOp + add_pvolumes, rebuilt on kfp-kubernetes: create a PVC, mount it, delete it after."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from kfp_notebook.authoring.options import memory_quantity
from kfp_notebook.errors import OptionError

ACCESS_MODES = {
    "RWO": "ReadWriteOnce",
    "RWM": "ReadWriteMany",
    "RWX": "ReadWriteMany",
    "ROX": "ReadOnlyMany",
    "ROM": "ReadOnlyMany",
    "RWOP": "ReadWriteOncePod",
}


def access_modes(modes: str | list[str] | tuple[str, ...]) -> list[str]:
    """Kubernetes access modes from short (RWM) or full (ReadWriteMany) names, or v1's VOLUME_MODE_* lists."""
    names = [modes] if isinstance(modes, str) else list(modes)
    valid = sorted(set(ACCESS_MODES.values()))
    result = []
    for name in names:
        full = ACCESS_MODES.get(name.upper(), name)
        if full not in valid:
            raise OptionError(f"access mode {name!r} is not one of {', '.join(valid)} (or RWO, RWM, ROX, RWOP)")
        result.append(full)
    return result


class Volume:
    """A PersistentVolumeClaim created for each run, mounted into tasks, deleted once they finish.

    Use inside a pipeline::

        with Volume("exam-pvc", size="1Gi", modes="RWM") as data:
            first = make_data(n=3)
            data.mount(show_shape(data=first.outputs["out_path"]), "/test_2")

    Leaving the `with` block adds the task that deletes the claim after every task that mounts it.
    Without `with`, call `delete()` yourself (or keep the claim by not calling it).
    """

    def __init__(self, name: str, size: str = "1Gi", modes: str | list[str] = "RWM", storage_class: str | None = None):
        from kfp import kubernetes

        memory_quantity(size, "size")
        kwargs: dict[str, Any] = {"pvc_name_suffix": f"-{name}", "access_modes": access_modes(modes), "size": size}
        if storage_class is not None:
            kwargs["storage_class_name"] = storage_class
        self.name = name
        self.create_task = kubernetes.CreatePVC(**kwargs)
        self.mounted: list[Any] = []
        self.delete_task: Any = None

    @property
    def pvc_name(self) -> Any:
        """The claim's generated name (a pipeline value produced by the create task)."""
        return self.create_task.outputs["name"]

    def mount(self, task: Any, path: str) -> Any:
        """Mount the claim into `task` at `path`; returns the task so calls chain like v1's add_pvolumes."""
        from kfp import kubernetes

        if not path.startswith("/"):
            raise OptionError(f"mount path {path!r} must be absolute (example: /data)")
        kubernetes.mount_pvc(task, pvc_name=self.pvc_name, mount_path=path)
        self.mounted.append(task)
        return task

    def delete(self) -> Any:
        """Add the task that deletes the claim after every task that mounts it."""
        from kfp import kubernetes

        if self.delete_task is None:
            self.delete_task = kubernetes.DeletePVC(pvc_name=self.pvc_name).after(*self.mounted)
        return self.delete_task

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.delete()
