"""Whether some schedulable node has the allocatable CPU, memory and GPUs each component requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kfp_notebook.backends.kubeflow.cluster.access import ClusterAccess
from kfp_notebook.backends.kubeflow.cluster.checks import Check, Level, read
from kfp_notebook.backends.kubeflow.cluster.needs import PipelineNeeds, Request


def node_capacities(access: ClusterAccess) -> list[dict[str, Decimal]]:
    """The allocatable resources of every Ready, schedulable node (one list call)."""
    from kubernetes.utils.quantity import parse_quantity

    listing = read(access.core.list_node, "list", "nodes", None)
    return [
        {name: parse_quantity(value) for name, value in (node.status.allocatable or {}).items()}
        for node in listing.items
        if _usable(node)
    ]


def _usable(node: Any) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    return ready and not (node.spec and node.spec.unschedulable)


def fits(request: Request, node: dict[str, Decimal]) -> bool:
    wanted = {"cpu": request.cpu, "memory": request.memory}
    if request.gpu_type:
        wanted[request.gpu_type] = Decimal(request.gpu_count)
    return all(node.get(name, Decimal(0)) >= amount for name, amount in wanted.items() if amount)


def node_checks(needs: PipelineNeeds, nodes: list[dict[str, Decimal]]) -> list[Check]:
    """One line per component that no node can hold; one OK line for the largest request otherwise."""
    if not nodes:
        return [Check(Level.FAIL, "nodes", "no Ready, schedulable node", "kubectl get nodes: add or uncordon a node")]
    failing = [_no_node(request, nodes) for request in needs.requests if not any(fits(request, n) for n in nodes)]
    if failing:
        return failing
    if not needs.requests:
        return [Check(Level.OK, "nodes", f"{len(nodes)} Ready node(s); the pipeline requests no resources")]
    largest = max(needs.requests, key=_size)
    count = sum(fits(largest, n) for n in nodes)
    message = f"{count} node(s) fit the largest request ({largest.component}: {largest.describe()})"
    return [Check(Level.OK, "nodes", message)]


def _size(request: Request) -> tuple[int, Decimal, Decimal]:
    return request.gpu_count, request.memory or Decimal(0), request.cpu or Decimal(0)


def _no_node(request: Request, nodes: list[dict[str, Decimal]]) -> Check:
    most = {
        "cpu": max(n.get("cpu", Decimal(0)) for n in nodes),
        "memory": max(n.get("memory", Decimal(0)) for n in nodes),
    }
    gpus = ""
    if request.gpu_type:
        gpus = f", {max(n.get(request.gpu_type, Decimal(0)) for n in nodes)} × {request.gpu_type}"
    largest = Request("", most["cpu"], most["memory"]).describe() + gpus
    return Check(
        Level.FAIL,
        f"nodes for {request.component}",
        f"no Ready node has {request.describe()} allocatable (the most any node has: {largest})",
        "lower the component's --cpu/--memory/--gpu, pick another --gpu-type, or add a node that has them",
    )
