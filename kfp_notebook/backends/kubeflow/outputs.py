"""A Kubeflow run's own outputs: its root DAG's output selectors, resolved the way KFP's driver resolves a DAG's
outputs, against the values and artifacts the run's tasks recorded in ML Metadata.

The backend records no values for DAG executions (only the launcher publishes a task's outputs), so a pipeline's
outputs are read from the tasks its root DAG names, through sub-pipelines: each task is found among the executions
of the DAG execution it ran in (`parent_dag_id`), so a task name used both at the root and in a sub-pipeline is no
confusion. A task inside a ParallelFor has no single value, and an output that comes from one is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfp_notebook.ir import Component, PipelineIR, Task

_ABSENT = object()


@dataclass
class Recorded:
    """What ML Metadata holds of a run: executions ({"id", "task", "parent", "outputs"}) and output artifacts
    ({"execution", "task", "name", "type", "uri", "metadata"}), as MetadataClient reads them."""

    executions: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]

    def root(self) -> int | None:
        """The root DAG's execution (the driver names it run/<run id>; it ran in no other DAG)."""
        roots = [e for e in self.executions if e["parent"] is None]
        named = [e for e in roots if str(e.get("name", "")).startswith("run/")]
        return (named or roots or [{"id": None}])[0]["id"]

    def child(self, dag: int | None, task: str) -> dict[str, Any] | None:
        """The execution of `task` inside the DAG execution `dag` (by name alone when there is no tree)."""
        found = [e for e in self.executions if e["task"] == task and (dag is None or e["parent"] == dag)]
        return found[0] if found else None


def pipeline_outputs(ir: PipelineIR, recorded: Recorded) -> dict[str, Any]:
    """The pipeline's outputs named as it declares them: values, and artifacts as local runs give them."""
    has_tree = any(e["parent"] is not None for e in recorded.executions)
    return _dag_outputs(ir.root, recorded.root() if has_tree else None, recorded)


def _dag_outputs(component: Component, dag_id: int | None, recorded: Recorded) -> dict[str, Any]:
    dag = component.dag
    if dag is None:
        return {}
    outputs: dict[str, Any] = {}
    for name, choices in dag.output_parameters.items():
        for choice in choices:  # dsl.OneOf: the first branch that produced a value
            value = _parameter(dag.tasks[choice.producer], choice.key, dag_id, recorded)
            if value is not _ABSENT:
                outputs[name] = value
                break
    for name, choices in dag.output_artifacts.items():
        items = [a for c in choices for a in _artifacts(dag.tasks[c.producer], c.key, dag_id, recorded)]
        declared = component.outputs.artifacts.get(name)
        listed = declared is not None and declared.is_list
        if listed or items:
            outputs[name] = items if listed else items[0]
    return outputs


def _parameter(task: Task, key: str, dag_id: int | None, recorded: Recorded) -> Any:
    if task.component.kind == "dag":
        return _inner_outputs(task, dag_id, recorded).get(key, _ABSENT)
    execution = recorded.child(dag_id, task.name)
    return execution["outputs"].get(key, _ABSENT) if execution is not None else _ABSENT


def _artifacts(task: Task, key: str, dag_id: int | None, recorded: Recorded) -> list[dict[str, Any]]:
    if task.component.kind == "dag":
        found = _inner_outputs(task, dag_id, recorded).get(key)
        return found if isinstance(found, list) else [found] if found else []
    execution = recorded.child(dag_id, task.name)
    return [
        {"name": key, "type": {"schemaTitle": a["type"]}, "uri": a["uri"], "metadata": _user_metadata(a["metadata"])}
        for a in recorded.artifacts
        if execution is not None and a["execution"] == execution["id"] and a["name"] == key
    ]


def _inner_outputs(task: Task, dag_id: int | None, recorded: Recorded) -> dict[str, Any]:
    """A sub-DAG's outputs (a sub-pipeline, a condition, a OneOf's branches); none from a ParallelFor."""
    if task.loop is not None:
        return {}
    if dag_id is None:  # no tree in the store: tasks are found by name
        return _dag_outputs(task.component, None, recorded)
    execution = recorded.child(dag_id, task.name)
    return _dag_outputs(task.component, execution["id"], recorded) if execution is not None else {}


def _user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The artifact's metadata as the component set it (the launcher adds the artifact's display_name)."""
    return {key: value for key, value in metadata.items() if key != "display_name"}
