"""The values KFP's driver gives placeholders: the run's and the task's names, ids and times, and input references."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kfp_notebook.ir.parameters import parameter_text

#: `{{$.inputs.parameters['name']}}`, alone or inside a longer string (an f-string in the pipeline).
WORKSPACE_PATH = "/kfp-workspace"  # where the backend mounts a pipeline's workspace (kfp's WORKSPACE_MOUNT_PATH)
INPUT_REFERENCE = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_RUN_IDS = uuid.UUID("6b1c3f5e-6f6e-4b7c-9d1e-6b667020f16a")  # the namespace local run ids are derived in


@dataclass(frozen=True)
class RunInfo:
    """What the backend knows about a run: display name, object name, id and creation time (RFC 3339, UTC)."""

    job_name: str
    resource_name: str  # starts with the pipeline's name, as the run's Kubernetes object name does
    job_id: str
    created: str

    @classmethod
    def for_run(cls, run_id: str, created: float | None = None) -> RunInfo:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if created is None else created))
        return cls(run_id, run_id, str(uuid.uuid5(_RUN_IDS, run_id)), stamp)


def run_placeholder(value: Any, run: RunInfo, task_name: str, dag_execution: int) -> Any:
    """A constant input that is exactly one of the run placeholders, replaced as the driver does; others unchanged."""
    if isinstance(value, str) and "{{$.workspace_path}}" in value:
        return value.replace("{{$.workspace_path}}", WORKSPACE_PATH)
    if not isinstance(value, str) or not value.startswith("{{$.pipeline_"):
        return value
    values = {
        "{{$.pipeline_job_name}}": run.job_name,
        "{{$.pipeline_job_resource_name}}": run.resource_name,
        "{{$.pipeline_job_uuid}}": run.job_id,
        "{{$.pipeline_task_name}}": task_name,
        "{{$.pipeline_task_uuid}}": str(dag_execution),  # the driver gives the enclosing DAG's execution id
        "{{$.pipeline_job_create_time_utc}}": run.created,
        "{{$.pipeline_job_schedule_time_utc}}": run.created,  # a run that no schedule started: its creation time
    }
    return values.get(value, value)


def input_references(value: Any, parameters: dict[str, Any]) -> Any:
    """A string with `{{$.inputs.parameters['x']}}` in it, each replaced by the value of input x."""
    if not isinstance(value, str) or "{{$.inputs.parameters[" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            raise KeyError(name)
        return parameter_text(parameters[name])  # as the launcher writes a value into its placeholders

    return INPUT_REFERENCE.sub(replace, value)
