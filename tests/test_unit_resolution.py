"""Input resolution, loop items, DAG and loop outputs of the local backend, on IR that kfp compiles (no processes)."""

import pytest
from kfp import dsl

from kfp_notebook.backends.local import instances
from kfp_notebook.backends.local.instances import DagInstance, InputError, Loop
from kfp_notebook.backends.local.placeholders import RunInfo
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.states import TaskState


@dsl.component(base_image="python:3.11")
def make(n: int) -> int:
    return n


@dsl.component(base_image="python:3.11")
def config() -> list:
    return []


@dsl.component(base_image="python:3.11")
def use(x: int, label: str = "default", ratio: float = 0.5) -> int:
    return x


@dsl.component(base_image="python:3.11")
def report(status: dsl.PipelineTaskFinalStatus):
    pass


@dsl.pipeline
def wired(n: int = 3, label: str = "given"):
    first = make(n=n)
    cfg = config()
    use(x=first.output, label=label).set_display_name("consumer")
    with dsl.ExitHandler(report(), name="guard"):
        make(n=1)
    with dsl.ParallelFor([1, 2, 3]) as item:
        use(x=item)
    with dsl.ParallelFor(cfg.output) as entry:
        use(x=entry.size)


RUN = RunInfo.for_run("wired-20261202-171000-ab12", created=0)


@pytest.fixture(scope="module")
def ir():
    return PipelineIR.from_pipeline(wired)


def root(ir, parameters=None):
    dag = DagInstance("", ir.root, parameters or {"n": 3, "label": "given"}, {}, None)
    instances.open_dag(dag)
    return dag


def test_the_typed_ir_reads_tasks_groups_and_sources(ir):
    tasks = {t.path: t for t in ir.walk()}
    consumer = tasks["use"]
    assert consumer.display_name == "consumer" and not consumer.is_group
    assert consumer.dependencies == ("make",)
    assert consumer.parameters["x"].kind == "task_output" and consumer.parameters["x"].producer == "make"
    assert consumer.parameters["label"].kind == "input" and consumer.parameters["label"].name == "label"
    assert consumer.component.inputs.parameters["ratio"].default == 0.5
    loop = next(t for t in tasks.values() if t.loop is not None and t.loop.raw_items)
    assert loop.is_group and loop.loop.raw_items == "[1, 2, 3]"
    exit_task = next(t for t in tasks.values() if t.runs_after_failure)
    assert exit_task.parameters["status"].kind == "final_status"
    (inside,) = [p for p in tasks if p.startswith(loop.path + "/")]
    iteration = f"{loop.path}[2]/{inside.rsplit('/', 1)[1]}"  # a run's task id: the loop's index dropped
    assert ir.task(iteration).path == inside and ir.task(f"{loop.path}[2]").path == loop.path
    assert ir.task(f"{loop.path}[2]/no-such-task") is None and ir.task("no-such-task") is None


def test_inputs_come_from_producers_pipeline_inputs_and_defaults(ir):
    dag = root(ir)
    dag.nodes["make"].parameters = {"Output": 7}
    parameters, artifacts = instances.resolve_inputs(dag.nodes["use"], RUN)
    assert parameters == {"x": 7, "label": "given", "ratio": 0.5}
    assert artifacts == {}


def test_an_input_whose_producer_gave_nothing_names_both(ir):
    dag = root(ir)
    dag.nodes["make"].state = TaskState.FAILED
    with pytest.raises(InputError, match=r"input 'x' of task 'use' comes from output 'Output' of 'make'.*ended failed"):
        instances.resolve_inputs(dag.nodes["use"], RUN)


def test_integral_floats_become_ints_as_the_backend_passes_them(ir):
    dag = root(ir)
    dag.nodes["make"].parameters = {"Output": 7.0}
    parameters, _ = instances.resolve_inputs(dag.nodes["use"], RUN)
    assert parameters["x"] == 7 and isinstance(parameters["x"], int)


@pytest.mark.parametrize(("state", "expected", "code"), [(TaskState.SUCCEEDED, "COMPLETE", None),
                                                         (TaskState.CACHED, "CACHED", None),
                                                         (TaskState.FAILED, "FAILED", 2),
                                                         (TaskState.CANCELED, "CANCELED", 1)])  # fmt: skip
def test_the_exit_task_gets_the_final_status_the_driver_gives(ir, state, expected, code):
    dag = root(ir)
    guard = next(n for n in dag.nodes.values() if n.task.is_group and n.task.loop is None)
    guard.state, guard.message = state, "boom" if code else ""
    exit_node = next(n for n in dag.nodes.values() if n.task.runs_after_failure)
    parameters, _ = instances.resolve_inputs(exit_node, RUN)
    status = parameters["status"]
    assert status["state"] == expected and status["pipelineJobResourceName"] == RUN.resource_name
    assert status["pipelineTaskName"] == guard.task.name == "exit-handler-1"
    assert status["error"].get("code") == code and status["error"].get("message") == ("boom" if code else None)


def test_loop_items_from_a_literal_list_and_from_a_producer(ir):
    dag = root(ir)
    loops = [n for n in dag.nodes.values() if n.task.loop is not None]
    literal = next(n for n in loops if n.task.loop.raw_items)
    assert instances.loop_items(literal, {}, {}) == [1, 2, 3]
    produced = next(n for n in loops if not n.task.loop.raw_items)
    name = produced.task.loop.items_input
    assert instances.loop_items(produced, {name: '[{"size": 1}, {"size": 2}]'}, {}) == [{"size": 1}, {"size": 2}]
    assert instances.loop_items(produced, {name: [{"size": 3}]}, {}) == [{"size": 3}]


def test_loop_outputs_are_lists_in_iteration_order_whatever_order_they_finished():
    loop = Loop(items=[1, 2, 3], limit=0)
    loop.outputs = {2: ({"Output": 9}, {"a": [{"uri": "c"}]}), 0: ({"Output": 1}, {"a": [{"uri": "a"}]}),
                    1: ({"Output": 4}, {"a": [{"uri": "b"}]})}  # fmt: skip
    parameters, artifacts = instances.collect_loop_outputs(loop)
    assert parameters == {"Output": [1, 4, 9]}
    assert [a["uri"] for a in artifacts["a"]] == ["a", "b", "c"]


def test_a_condition_is_evaluated_on_the_tasks_resolved_inputs():
    @dsl.component(base_image="python:3.11")
    def num() -> int:
        return 1

    @dsl.pipeline
    def branching():
        value = num()
        with dsl.If(value.output > 2):
            make(n=1)
        with dsl.Else():
            make(n=2)

    ir = PipelineIR.from_pipeline(branching)
    dag = root(ir, {})
    branches = next(n for n in dag.nodes.values() if n.task.is_group)
    inner = DagInstance(f"{branches.id}/", branches.task.component, {}, {}, branches)
    instances.open_dag(inner)
    dag.nodes["num"].parameters = {"Output": 5}
    outcomes = []
    for node in inner.nodes.values():
        inner.parameters = {k: 5 for k in node.task.parameters}
        parameters, _ = instances.resolve_inputs(node, RUN)
        outcomes.append(instances.condition_holds(node, parameters))
    assert sorted(outcomes) == [False, True]


@dsl.component(base_image="python:3.11")
def names(job: str, resource: str, job_id: str, task: str, task_id: str, created: str, scheduled: str, text: str):
    pass


@dsl.component(base_image="python:3.11")
def tolerant(x: int = -1) -> int:
    return x


@dsl.pipeline(name="placeholder-wiring")
def placeholder_wiring(label: str = "x"):
    first = make(n=1)
    names(job=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, resource=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER,
          job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, task=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
          task_id=dsl.PIPELINE_TASK_ID_PLACEHOLDER, created=dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER,
          scheduled=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER, text=f"{label}-{first.output}")  # fmt: skip
    tolerant(x=first.output).after(make(n=2)).ignore_upstream_failure()
    use(x=3).set_cpu_limit(first.output)


def test_placeholders_and_input_references_get_the_drivers_values():
    dag = root(PipelineIR.from_pipeline(placeholder_wiring), {"label": "x"})
    dag.execution_id = 7
    dag.nodes["make"].parameters = {"Output": 5}
    parameters, _ = instances.resolve_inputs(dag.nodes["names"], RUN)
    assert parameters["job"] == parameters["resource"] == RUN.resource_name
    assert parameters["job_id"] == RUN.job_id and len(RUN.job_id) == 36
    assert parameters["task"] == "names" and parameters["task_id"] == "7"
    assert parameters["created"] == parameters["scheduled"] == "1970-01-01T00:00:00Z"
    assert parameters["text"] == "x-5"


def test_ignore_upstream_failure_gives_the_default_for_a_failed_producers_output():
    dag = root(PipelineIR.from_pipeline(placeholder_wiring), {"label": "x"})
    dag.nodes["make"].state = TaskState.FAILED
    consumer = next(n for n in dag.nodes.values() if n.task.runs_after_failure)
    parameters, _ = instances.resolve_inputs(consumer, RUN)
    assert parameters == {"x": -1}
    dag.nodes["make"].state = TaskState.SKIPPED  # skipped because its own upstream failed: the default too
    assert instances.resolve_inputs(consumer, RUN)[0] == {"x": -1}
    dag.nodes["make"].state = TaskState.RUNNING  # not finished: no default stands in
    with pytest.raises(InputError, match="has no such value"):
        instances.resolve_inputs(consumer, RUN)


def test_a_producer_that_only_feeds_a_task_setting_is_still_waited_for():
    dag = root(PipelineIR.from_pipeline(placeholder_wiring), {"label": "x"})
    limited = next(n for n in dag.nodes.values() if "cpu_limit" in n.task.parameters)
    assert limited.task.dependencies == () and instances.upstream(limited) == ["make"]
