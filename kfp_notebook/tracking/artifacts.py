"""An artifact as run results hold it: the executor's own form (name, type's schema title, URI, metadata).

Results keep artifacts as kfp's executor writes them (so run.json and executor outputs need no
translation); this is the one place that builds one and the one place that reads its type.
"""

from __future__ import annotations

from typing import Any

METRICS_SCHEMA = "system.Metrics"
ARTIFACT_SCHEMA = "system.Artifact"


#: An artifact record: {"name", "type": {"schemaTitle"}, "uri", "metadata"} (kfp's executor output form).
Artifact = dict[str, Any]


def artifact(name: str, schema_title: str, uri: str, metadata: dict[str, Any] | None = None) -> Artifact:
    """An artifact record, as the executor writes one."""
    return {"name": name, "type": {"schemaTitle": schema_title}, "uri": uri, "metadata": dict(metadata or {})}


def schema_title(value: Any) -> str:
    """What kind of artifact a record is (system.Artifact when it does not say)."""
    kind = value.get("type") if isinstance(value, dict) else None
    return str(kind.get("schemaTitle") or ARTIFACT_SCHEMA) if isinstance(kind, dict) else ARTIFACT_SCHEMA


def is_metrics(value: Any) -> bool:
    return schema_title(value) == METRICS_SCHEMA
