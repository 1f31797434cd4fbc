"""Against a real Kubeflow Pipelines: skipped unless KFP_NOTEBOOK_E2E_HOST is set (see the README)."""

from __future__ import annotations

import os

import pytest

from kfp_notebook.tracking.states import TaskState

HOST = os.environ.get("KFP_NOTEBOOK_E2E_HOST")
AUTH = os.environ.get("KFP_NOTEBOOK_E2E_AUTH", "none")
USER = os.environ.get("KFP_NOTEBOOK_E2E_USER", "user@example.com")

pytestmark = pytest.mark.skipif(
    not HOST,
    reason="set KFP_NOTEBOOK_E2E_HOST (and KFP_NOTEBOOK_E2E_AUTH, KFP_NOTEBOOK_E2E_USER, KFP_NOTEBOOK_PASSWORD or "
    "KFP_NOTEBOOK_TOKEN) to run against a real Kubeflow Pipelines",
)


def test_submit_follow_logs_and_metrics_on_a_real_kubeflow(ip):
    ip.run_cell(
        "%%component\ndef square(x: int, metrics: Output[Metrics]) -> int:\n    print('squaring', x)\n    metrics.log_metric('square', float(x * x))\n    return x * x\n"
    )
    ip.run_cell("%%pipeline\ndef e2e(x: int = 3):\n    square(x=x)\n")
    user = f" --user {USER}" if AUTH == "dex" else ""
    ip.run_cell(f"%kfp connect --host {HOST} --auth {AUTH}{user}")
    handle = ip.run_cell("%kfp submit --experiment kfp-notebook-e2e --no-wait").result
    assert handle.wait(1800), "the run did not finish in 30 minutes"
    assert handle.state is TaskState.SUCCEEDED, handle.message
    assert handle.tasks["square"].state is TaskState.SUCCEEDED
    assert handle.result()["square"].metrics() == {"square": "9.000"}
    assert "squaring 3" in handle.task_log("square")
