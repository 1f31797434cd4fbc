"""End to end, with task processes: a task ready outside a wide loop starts before the loop's last items."""

import json
from pathlib import Path

import pytest
from kfp import dsl

import kfp_notebook
from kfp_notebook.tracking.states import TaskState

pytestmark = pytest.mark.slow


@dsl.component(base_image="python:3.11")
def prepare() -> int:
    return 3


@dsl.component(base_image="python:3.11")
def item_step(x: int) -> int:
    import time

    time.sleep(0.05)
    return x


@dsl.component(base_image="python:3.11")
def train(x: int) -> int:
    return x


@dsl.pipeline
def wide_loop_and_training():
    data = prepare()
    with dsl.ParallelFor(list(range(20))) as item:
        item_step(x=item)
    train(x=data.output)


def test_training_starts_before_the_twentieth_loop_item(tmp_path):
    handle = kfp_notebook.run(wide_loop_and_training, workers=2, cache=False, runs_folder=tmp_path)
    assert handle.state is TaskState.SUCCEEDED, handle.message
    folder = Path(handle.result().folder)
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    started = [e["task_id"] for e in events if e["state"] == "RUNNING" and e["task_id"]]
    items = [task for task in started if task.endswith("/item-step")]
    assert len(items) == 20 and "train" in started, started
    assert started.index("train") < started.index(items[-1]), started
    assert started.index("train") < started.index(items[-2]), started  # not merely the last but one either
