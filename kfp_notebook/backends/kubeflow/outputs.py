"""A Kubeflow run's own outputs: its root DAG's output selectors, resolved the way KFP's driver resolves a DAG's
outputs, against the values and artifacts the run's tasks recorded in ML Metadata.

The backend records no values for DAG executions (only the launcher publishes a task's outputs), so a pipeline's
outputs are read from the tasks its root DAG names, through sub-pipelines; a task inside a ParallelFor has no single
value there, and an output that comes from one is left out.
"""

from __future__ import annotations

from typing import Any

from kfp_notebook.ir import Component, PipelineIR, Task

_ABSENT = object()

#: Task name → {"inputs": {...}, "outputs": {...}} as ML Metadata holds them (MetadataClient.run_parameters).
Recorded = dict[str, dict[str, dict[str, Any]]]


def pipeline_outputs(ir: PipelineIR, parameters: Recorded, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    """The pipeline's outputs named as it declares them: values, and artifacts as local runs give them."""
    return _dag_outputs(ir.root, parameters, artifacts)


def _dag_outputs(component: Component, parameters: Recorded, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    dag = component.dag
    if dag is None:
        return {}
    outputs: dict[str, Any] = {}
    for name, choices in dag.output_parameters.items():
        for choice in choices:  # dsl.OneOf: the first branch that produced a value
            value = _parameter(dag.tasks[choice.producer], choice.key, parameters, artifacts)
            if value is not _ABSENT:
                outputs[name] = value
                break
    for name, choices in dag.output_artifacts.items():
        items = [a for c in choices for a in _artifacts(dag.tasks[c.producer], c.key, parameters, artifacts)]
        declared = component.outputs.artifacts.get(name)
        listed = declared is not None and declared.is_list
        if listed or items:
            outputs[name] = items if listed else items[0]
    return outputs


def _parameter(task: Task, key: str, parameters: Recorded, artifacts: list[dict[str, Any]]) -> Any:
    if task.loop is not None:
        return _ABSENT
    if task.component.kind == "dag":
        return _dag_outputs(task.component, parameters, artifacts).get(key, _ABSENT)
    return parameters.get(task.name, {}).get("outputs", {}).get(key, _ABSENT)


def _artifacts(task: Task, key: str, parameters: Recorded, artifacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if task.loop is not None:
        return []
    if task.component.kind == "dag":
        found = _dag_outputs(task.component, parameters, artifacts).get(key)
        return found if isinstance(found, list) else [found] if found else []
    return [
        {"name": key, "type": {"schemaTitle": a["type"]}, "uri": a["uri"], "metadata": _user_metadata(a["metadata"])}
        for a in artifacts
        if a["task"] == task.name and a["name"] == key
    ]


def _user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The artifact's metadata as the component set it (the launcher adds the artifact's display_name)."""
    return {key: value for key, value in metadata.items() if key != "display_name"}
