"""What a compiled pipeline needs from its namespace and nodes: secrets, PVCs, pull secrets, resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kfp_notebook.ir import PipelineIR, Platform, Resources, ValueSource

#: A name given by a pipeline parameter without a default, or made by a task of the run.
UNKNOWN = None


@dataclass(frozen=True)
class Request:
    """The resources one component's pod asks the scheduler for (a limit alone counts as the request)."""

    component: str
    cpu: Decimal | None = None
    memory: Decimal | None = None
    gpu_type: str | None = None
    gpu_count: int = 0

    def describe(self) -> str:
        cpu = f"cpu {self.cpu.normalize():f}" if self.cpu else ""
        parts = [cpu, f"memory {_bytes(self.memory)}" if self.memory else ""]
        parts.append(f"{self.gpu_count} × {self.gpu_type}" if self.gpu_count else "")
        return ", ".join(p for p in parts if p)


@dataclass
class PipelineNeeds:
    """Every Kubernetes object a pipeline's pods use, by name, and what each component requests."""

    secrets: dict[str, set[str]] = field(default_factory=dict)
    pvcs: dict[str, str] = field(default_factory=dict)
    pull_secrets: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    created_pvcs: int = 0

    def add_secret(self, name: str, keys: set[str]) -> None:
        self.secrets.setdefault(name, set()).update(keys)


def pipeline_needs(ir: PipelineIR) -> PipelineNeeds:
    """Read the needs of every container component of the compiled pipeline."""
    needs = PipelineNeeds()
    for component in ir.components.values():
        if component.container is None:
            continue
        name, platform = component.name.removeprefix("comp-"), component.platform
        _secrets(ir, platform, needs)
        _pvcs(ir, platform, needs, name)
        needs.pull_secrets.update(n for n in (_name(ir, s) for s in platform.image_pull_secrets) if n)
        request = resource_request(name, component.container.resources)
        if request.describe():
            needs.requests.append(request)
    return needs


def _secrets(ir: PipelineIR, platform: Platform, needs: PipelineNeeds) -> None:
    for entry in platform.secrets_as_env:
        name = _name(ir, entry.secret)
        if name:
            needs.add_secret(name, {key for key, _ in entry.keys})
    for volume in platform.secrets_as_volume:
        name = _name(ir, volume.secret)
        if name:
            needs.add_secret(name, set())


def _pvcs(ir: PipelineIR, platform: Platform, needs: PipelineNeeds, component: str) -> None:
    for mount in platform.pvc_mounts:
        if mount.pvc.kind == "task_output":
            needs.created_pvcs += 1
            continue
        name = _name(ir, mount.pvc)
        if name:
            needs.pvcs.setdefault(name, component)


def _name(ir: PipelineIR, source: ValueSource) -> str | None:
    """An object's name: a constant, or the default of the pipeline parameter that gives it."""
    value = source.value if source.kind == "constant" else None
    if source.kind == "input" and source.name in ir.parameters and ir.parameters[source.name].has_default:
        value = ir.parameters[source.name].default
    return str(value) if value else UNKNOWN


def resource_request(component: str, resources: Resources) -> Request:
    """The scheduler's view of a container's resources: the request, else the limit (Kubernetes' rule)."""
    from kubernetes.utils.quantity import parse_quantity

    cpu = resources.cpu_request or resources.cpu_limit
    memory = resources.memory_request or resources.memory_limit
    gpu_type = resources.accelerator_type
    count = int(resources.accelerator_count or (1 if gpu_type else 0))
    return Request(
        component,
        parse_quantity(cpu) if cpu else None,
        parse_quantity(memory) if memory else None,
        gpu_type if count else None,
        count,
    )


def _bytes(value: Decimal | None) -> str:
    if value is None:
        return ""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size:
            return f"{float(value / size):.4g}{unit}"
    return f"{float(value):.4g}"
