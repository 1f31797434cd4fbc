"""Hand-written kfp equivalent of notebooks/metrics.ipynb.

A v1 metrics file needs code after the function returns to become v2 Metrics; %%component ships
it as one line at the top of the body plus the helper below (see kfp_notebook/authoring/v1_metrics.py).
"""
from kfp import dsl
from kfp.dsl import Metrics, Output

from kfp_notebook.authoring.v1_metrics import _kfp_notebook_v1_metrics


@dsl.component(additional_funcs=[_kfp_notebook_v1_metrics])
def export_metric_op(mlpipeline_metrics_path: Output[Metrics]):
    """Writes metrics the KFP v1 way."""
    mlpipeline_metrics_path = _kfp_notebook_v1_metrics(mlpipeline_metrics_path)
    import json

    metrics = {
        "metrics": [
            {"name": "name_1", "numberValue": 0.8},
            {"name": "name_2", "numberValue": 0.9, "format": "PERCENTAGE"},
        ]
    }
    with open(mlpipeline_metrics_path, "w", encoding="utf-8") as f:
        json.dump(metrics, f)


@dsl.component
def evaluate(threshold: float, metrics: Output[Metrics]):
    """Logs metrics the KFP v2 way."""
    metrics.log_metric("accuracy", 0.92)
    metrics.log_metric("threshold", threshold)


@dsl.pipeline(name="Export Metrics Example")
def export_metrics_pipeline(threshold: float = 0.5):
    export_metric_op()
    evaluate(threshold=threshold)


PIPELINE = export_metrics_pipeline
