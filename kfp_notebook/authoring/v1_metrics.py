"""Runs inside the component's container: turns a KFP v1 metrics JSON file into v2 Metrics."""

from __future__ import annotations

from typing import Any


def _kfp_notebook_v1_metrics(artifact: Any) -> str:
    """Return the path for a v1 `{"metrics": [...]}` file; its values become this Metrics artifact's metadata.

    Shipped with every component that writes v1 metrics (`OutputPath("metrics")`): kfp's executor
    reads `artifact.metadata` after the function returns, so the file is read at that moment.
    """
    import json
    import sys

    def read_v1_metrics(path: str) -> dict:
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            print(f"kfp-notebook: no v1 metrics read from {path}: {exc}", file=sys.stderr)
            return {}
        values = {}
        for item in document.get("metrics", []) if isinstance(document, dict) else []:
            fields = {str(k).replace("_", "").lower(): v for k, v in item.items()}
            value = fields.get("numbervalue")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or "name" not in fields:
                print(f"kfp-notebook: skipped v1 metric {item!r} (needs name and numberValue)", file=sys.stderr)
                continue
            values[str(fields["name"])] = float(value)
        return values

    path = artifact.path

    class V1MetricsFile(type(artifact)):  # type: ignore[misc]
        @property
        def metadata(self) -> dict:
            stored = dict(self.__dict__.get("metadata") or {})
            return {**stored, **read_v1_metrics(path)}

        @metadata.setter
        def metadata(self, value: dict) -> None:
            self.__dict__["metadata"] = value

    artifact.__class__ = V1MetricsFile
    return path
