"""A ready task is never starved by a wide loop: workers go to the run's branches in turn (fake task handler)."""

from kfp import compiler, dsl
from test_unit_scheduler import FakeTaskHandler

from kfp_notebook.backends.local import LocalOptions
from kfp_notebook.backends.local.fairness import FairQueue
from kfp_notebook.backends.local.runner import LocalBackend
from kfp_notebook.tracking.states import TaskState


@dsl.component(base_image="python:3.11")
def produce(n: int) -> int:
    return n


@dsl.component(base_image="python:3.11")
def consume(x: int) -> int:
    return x


@dsl.component(base_image="python:3.11")
def train(x: int) -> int:
    return x


@dsl.pipeline
def wide_loop_and_training():
    data = produce(n=1)
    with dsl.ParallelFor(list(range(20))) as item:
        consume(x=item)
    train(x=data.output)


@dsl.pipeline
def two_loops():
    with dsl.ParallelFor(list(range(10))) as item:
        consume(x=item)
    with dsl.ParallelFor(list(range(10))) as item:
        train(x=item)


def run(tmp_path, pipeline, workers):
    path = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    fake = FakeTaskHandler({})
    handle = LocalBackend(tmp_path / "runs", task_handler=lambda: fake).start(
        path.read_text(), {}, LocalOptions(workers=workers, cache=False)
    )
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED, handle.message
    return fake.calls


def test_a_task_ready_outside_a_wide_loop_starts_before_the_loops_last_items(tmp_path):
    """`train` is ready once `produce` ended, while most of the 20 loop items still wait for one of 2 workers:
    it starts next, not after every item queued before it."""
    calls = run(tmp_path, wide_loop_and_training, workers=2)
    assert sorted(set(calls)) == ["consume", "produce", "train"] and calls.count("consume") == 20
    items_before_train = calls[: calls.index("train")].count("consume")
    assert items_before_train < 19, calls  # at most one more item per worker and turn, never the whole loop


def test_two_wide_loops_take_turns(tmp_path):
    calls = run(tmp_path, two_loops, workers=1)
    assert calls[:6] in (["consume", "train"] * 3, ["train", "consume"] * 3), calls


def test_the_queue_hands_out_one_branch_after_another_first_in_first_out_within_each():
    queue: FairQueue[str] = FairQueue()
    for item in ("a1", "a2", "a3"):
        queue.put("loop-a", item)
    queue.put("", "t1")
    queue.put("loop-b", "b1")
    queue.put("", "t2")
    taken = [queue.take() for _ in range(len(queue))]
    assert taken == ["a1", "t1", "b1", "a2", "t2", "a3"] and not queue


@dsl.pipeline
def imported_then_loop(uri: str):
    data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
    consume(x=1).after(data)
    with dsl.ParallelFor(list(range(6))) as item:
        train(x=item)


def test_an_importer_holds_a_worker_like_any_task_and_gives_it_back(tmp_path):
    """The importer's download runs on a worker and its report frees one: the count of busy workers ends at zero
    (it went below zero, so later tasks went to the pool's own queue, round the fair order)."""
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(imported_then_loop, str(path))
    fake = FakeTaskHandler({})
    handle = LocalBackend(tmp_path / "runs", task_handler=lambda: fake).start(
        path.read_text(), {"uri": str(source)}, LocalOptions(workers=1, cache=False)
    )
    assert handle.wait(30) and handle.state is TaskState.SUCCEEDED, handle.message
    assert sorted(fake.calls) == ["consume"] + ["train"] * 6
    assert handle._controls.busy == 0  # the scheduler is the handle's controls
