"""What a compiled pipeline needs from its namespace and nodes: secrets, PVCs, pull secrets, resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kfp_notebook.ir import PipelineIR

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
    for name, component in ir.container_components().items():
        platform = ir.platform(component)
        _secrets(ir, platform, needs)
        _pvcs(ir, platform, needs, name.removeprefix("comp-"))
        pulls = (_name(ir, entry, "secretName") for entry in platform.get("imagePullSecret", []))
        needs.pull_secrets.update(name for name in pulls if name)
        request = resource_request(name.removeprefix("comp-"), ir.container(component).get("resources", {}))
        if request.describe():
            needs.requests.append(request)
    return needs


def _secrets(ir: PipelineIR, platform: dict[str, Any], needs: PipelineNeeds) -> None:
    for entry in platform.get("secretAsEnv", []):
        name = _name(ir, entry, "secretName")
        if name:
            needs.add_secret(name, {k["secretKey"] for k in entry.get("keyToEnv", []) if "secretKey" in k})
    for entry in platform.get("secretAsVolume", []):
        name = _name(ir, entry, "secretName")
        if name:
            needs.add_secret(name, set())


def _pvcs(ir: PipelineIR, platform: dict[str, Any], needs: PipelineNeeds, component: str) -> None:
    for entry in platform.get("pvcMount", []):
        if "taskOutputParameter" in entry.get("pvcNameParameter", entry):
            needs.created_pvcs += 1
            continue
        name = _name(ir, entry, "constant", "pvcNameParameter")
        if name:
            needs.pvcs.setdefault(name, component)


def _name(ir: PipelineIR, entry: dict[str, Any], plain: str, parameter: str | None = None) -> str | None:
    """An object's name: a constant, or the default of the pipeline parameter that gives it."""
    given = entry.get(parameter or f"{plain}Parameter", {})
    constant = given.get("runtimeValue", {}).get("constant")
    if constant is None and "componentInputParameter" in given:
        constant = ir.parameter_default(given["componentInputParameter"])
    value = constant if constant is not None else entry.get(plain)
    return str(value) if value else UNKNOWN


def resource_request(component: str, resources: dict[str, Any]) -> Request:
    """The scheduler's view of kfp's `resources` block: the request, else the limit (Kubernetes' rule)."""
    from kubernetes.utils.quantity import parse_quantity

    cpu = resources.get("resourceCpuRequest") or resources.get("resourceCpuLimit")
    memory = resources.get("resourceMemoryRequest") or resources.get("resourceMemoryLimit")
    accelerator = resources.get("accelerator") or {}
    gpu_type = accelerator.get("resourceType") or accelerator.get("type")
    count = int(accelerator.get("resourceCount") or accelerator.get("count") or (1 if gpu_type else 0))
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
