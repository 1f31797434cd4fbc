"""Each use of a kfp private API (kfp_notebook/kfp_compat.py) against the installed kfp: a change there fails here."""

import inspect

import pytest
from kfp import dsl

from kfp_notebook import kfp_compat

from kfp_contract_server import contract_server


def test_kfp_has_a_default_base_image():
    assert str(kfp_compat.default_base_image()).startswith("python:")


def test_building_pipeline_is_true_only_while_a_pipeline_is_traced():
    seen = []

    @dsl.component(base_image="python:3.11")
    def step() -> int:
        return 1

    @dsl.pipeline
    def traced():
        seen.append(kfp_compat.building_pipeline())
        step()

    assert seen == [True]
    assert kfp_compat.building_pipeline() is False


def test_interface_accepted_tells_passable_types_from_others():
    def good(x: int, y: str) -> float:
        return 0.0

    def bad(x: object) -> None:
        return None

    assert kfp_compat.interface_accepted(good)
    assert not kfp_compat.interface_accepted(bad)


def test_kfp_writes_the_preamble_we_reproduce_above_the_function():
    @dsl.component(base_image="python:3.11")
    def add(a: int) -> int:
        return a + 1

    program = add.component_spec.implementation.container.command[-1]
    assert kfp_compat.GENERATED_PREAMBLE in program
    assert program.index(kfp_compat.GENERATED_PREAMBLE) < program.index("def add(")
    assert program.endswith(kfp_compat.function_source(add.python_func) + "\n")


def test_kfp_task_setters_use_inspect_only_for_the_callers_name():
    """fast_task_setters replaces `inspect` in pipeline_task: kfp must still use it only as `inspect.stack()[1][3]`."""
    from kfp.dsl import pipeline_task

    source = inspect.getsource(pipeline_task)
    uses = [line.strip() for line in source.splitlines() if "inspect." in line]
    assert uses == ["caller_method_name = inspect.stack()[1][3]"]


def test_fast_task_setters_give_the_same_task_and_the_same_error_naming_the_setter():
    from kfp.dsl import pipeline_task

    kfp_compat.fast_task_setters()
    kfp_compat.fast_task_setters()  # idempotent
    assert not isinstance(pipeline_task.inspect, type(inspect))
    assert pipeline_task.inspect.signature is inspect.signature  # everything else is inspect's own

    @dsl.component(base_image="python:3.11")
    def step() -> int:
        return 1

    @dsl.pipeline
    def inner() -> int:
        return step().output

    seen = {}

    @dsl.pipeline
    def outer():
        task = step().set_cpu_request("500m").set_memory_limit("1G")
        seen["resources"] = (task.container_spec.resources.cpu_request, task.container_spec.resources.memory_limit)
        with pytest.raises(ValueError, match=r"^set_cpu_limit can only be used on single-step components"):
            inner().set_cpu_limit("1")

    assert seen["resources"] == ("500m", "1G")


def test_no_module_of_the_package_patches_kfp_when_imported():
    """kfp_compat's patches are applied by a call (the magics' first cell), never as an import's side effect."""
    import ast
    from pathlib import Path

    package = Path(kfp_compat.__file__).parent
    patching = []
    for path in package.rglob("*.py"):
        for statement in ast.parse(path.read_text(encoding="utf-8")).body:
            calls = [n for n in ast.walk(statement) if isinstance(n, ast.Call)]
            if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and any(
                "kfp_compat" in ast.unparse(call.func) for call in calls
            ):
                patching.append(f"{path.relative_to(package)}:{statement.lineno}")
    assert patching == []


def test_importing_the_task_defaults_leaves_kfp_alone_and_the_first_cell_patches_it(ip, monkeypatch):
    import importlib

    from kfp.dsl import pipeline_task

    from kfp_notebook.authoring import task_defaults

    monkeypatch.setattr(pipeline_task, "inspect", inspect)
    importlib.reload(task_defaults)
    assert pipeline_task.inspect is inspect
    ip.run_cell("%%component\ndef one() -> int:\n    return 1\n")
    assert not isinstance(pipeline_task.inspect, type(inspect))


def test_kfp_still_writes_yaml_through_open_in_the_module_we_shadow(tmp_path, monkeypatch):
    """The UTF-8 fix works only while kfp's writer looks `open` up in pipeline_spec_builder's globals."""
    from kfp import compiler
    from kfp.compiler import pipeline_spec_builder

    assert "open(" in inspect.getsource(pipeline_spec_builder)
    calls = []

    @dsl.component(base_image="python:3.11")
    def say(text: str) -> str:
        return text

    @dsl.pipeline
    def greet(text: str = "안녕"):
        say(text=text)

    real_open = open

    def recording_open(*args, **kwargs):
        calls.append(kwargs.get("encoding"))
        return real_open(*args, **kwargs)

    with kfp_compat.utf8_compiler_files():
        shadow = pipeline_spec_builder.open
        monkeypatch.setattr(
            pipeline_spec_builder, "open", lambda *a, **k: recording_open(*a, **{**k, **shadow.keywords})
        )
        compiler.Compiler().compile(greet, str(tmp_path / "greet.yaml"))
    assert calls and all(encoding == "utf-8" for encoding in calls)
    assert "안녕" in (tmp_path / "greet.yaml").read_text(encoding="utf-8")
    assert not hasattr(pipeline_spec_builder, "open")


@pytest.fixture(scope="module")
def client():
    import kfp

    with contract_server() as (host, _):
        yield kfp.Client(host=host, namespace="kubeflow")


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("_healthz_api.healthz_service_get_healthz", []),
        ("_upload_api.upload_pipeline", ["uploadfile", "name", "namespace"]),
        ("_upload_api.upload_pipeline_version", ["uploadfile", "name", "pipelineid"]),
        ("_experiment_api.experiment_service_create_experiment", ["experiment"]),
        ("_run_api.run_service_create_run", ["run"]),
        ("_run_api.run_service_retry_run", ["run_id"]),
    ],
)
def test_the_clients_generated_api_methods_we_call_exist(client, path, parameters):
    target = client
    for part in path.split("."):
        target = getattr(target, part)
    accepted = set(inspect.signature(target).parameters)
    if "kwargs" in accepted:  # generated methods take keywords and list them in their _with_http_info twin
        twin = inspect.getsource(getattr(target.__self__, f"{target.__name__}_with_http_info"))
        accepted |= {name for name in parameters if f"'{name}'" in twin}
    assert set(parameters) <= accepted, f"{path} no longer takes {set(parameters) - accepted}"


def test_the_clients_api_client_has_the_pool_cookie_and_token(client):
    api_client = kfp_compat.api_client(client)
    assert hasattr(kfp_compat.pool_manager(client), "connection_pool_kw")
    kfp_compat.set_cookie(client, "session=abc")
    assert api_client.cookie == "session=abc"
    assert api_client.configuration.get_api_key_with_prefix("authorization") in (None, "")


def test_kfp_local_dispatches_through_the_two_module_functions_we_route():
    """PipelineTask._execute_locally looks both functions up on their modules at each call, with these keywords."""
    from kfp.dsl import pipeline_task

    source = inspect.getsource(pipeline_task.PipelineTask._execute_locally)
    assert "pipeline_orchestrator.run_local_pipeline(" in source and "task_dispatcher.run_single_task(" in source
    from kfp.local import pipeline_orchestrator, task_dispatcher

    for function in (pipeline_orchestrator.run_local_pipeline, task_dispatcher.run_single_task):
        assert list(inspect.signature(function).parameters) == ["pipeline_spec", "arguments"]


def test_kfp_local_accepts_a_subprocess_runner_subclass_and_keeps_its_config_where_we_read_it(tmp_path):
    from kfp import local
    from kfp.local import config

    from kfp_notebook import LocalRunner

    runner = LocalRunner()
    local.init(runner=runner, pipeline_root=str(tmp_path), raise_on_error=False, enable_caching=True)
    try:
        found = kfp_compat.kfp_local_config()
        assert found.runner is runner and found.pipeline_root == str(tmp_path)
        assert (found.raise_on_error, found.enable_caching, found.cache_root) == (False, True, None)
    finally:
        config.LocalExecutionConfig.instance = None


def test_routing_keeps_kfp_locals_own_runner_for_other_runners(monkeypatch):
    from kfp.local import pipeline_orchestrator, task_dispatcher

    calls = []
    monkeypatch.setattr(pipeline_orchestrator, "run_local_pipeline", lambda **kw: calls.append("kfp") or {})
    monkeypatch.setattr(task_dispatcher, "run_single_task", lambda **kw: calls.append("kfp-task") or {})
    kfp_compat.route_kfp_local(lambda config: config == "ours", lambda s, a: calls.append("ours") or {}, dict)
    monkeypatch.setattr(kfp_compat, "kfp_local_config", lambda: "theirs")
    pipeline_orchestrator.run_local_pipeline(pipeline_spec=None, arguments={})
    task_dispatcher.run_single_task(pipeline_spec=None, arguments={})
    monkeypatch.setattr(kfp_compat, "kfp_local_config", lambda: "ours")
    pipeline_orchestrator.run_local_pipeline(pipeline_spec=None, arguments={})
    kfp_compat.route_kfp_local(lambda config: True, dict, dict)  # routed once: a second call changes nothing
    assert calls == ["kfp", "kfp-task", "ours"]
    assert pipeline_orchestrator.run_local_pipeline(pipeline_spec=None, arguments={}) == {} and calls[-1] == "ours"


def test_kfp_local_artifacts_and_failure_messages_are_made_as_we_make_them():
    model = kfp_compat.dsl_artifact(
        {"name": "m", "uri": "/tmp/m", "metadata": {"a": 1}, "type": {"schemaTitle": "system.Model"}}
    )
    assert (type(model), model.path, model.metadata) == (dsl.Model, "/tmp/m", {"a": 1})
    assert kfp_compat.kfp_local_failure(None, ["fail-comp"]) == (
        "Task \x1b[96m'fail-comp'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m"
    )
    assert kfp_compat.kfp_local_failure("p", ["fail", "inner"]) == (
        "Pipeline \x1b[95m'p'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m. "
        "Inner task failed: \x1b[96m'fail'\x1b[0m inside \x1b[96m'inner'\x1b[0m."
    )


def test_kfps_executor_calls_the_function_inside_the_execute_we_bound(tmp_path, monkeypatch):
    """kfp's Executor.execute calls the component's function and logs nothing itself: what is written between
    our `before` and `after` is the function's own."""
    import inspect
    import json

    from kfp.dsl import executor

    monkeypatch.setattr(executor.Executor, "execute", executor.Executor.execute)  # restored after the test
    assert "logging" not in inspect.getsource(executor.Executor.execute)
    calls = []

    def double(n: int) -> int:
        calls.append("function")
        return 2 * n

    kfp_compat.around_user_function(lambda: calls.append("before"), lambda: calls.append("after"))
    output = tmp_path / "output.json"
    executor_input = {
        "inputs": {"parameterValues": {"n": 2}},
        "outputs": {"parameters": {"Output": {"outputFile": str(tmp_path / "Output")}}, "outputFile": str(output)},
    }
    executor.Executor(executor_input=executor_input, function_to_execute=double).execute()
    assert calls == ["before", "function", "after"]
    assert json.loads(output.read_text())["parameterValues"] == {"Output": 4}


# -- linear pipeline building (%%pipeline of 1,000 tasks) ------------------------------------------------------


def test_the_kfp_functions_linear_spec_building_replaces_are_the_ones_it_was_written_for():
    """A kfp release that changes either function fails here: re-read it, check that the transformation still
    holds (a loop-invariant list; names looked up in the spec's maps), then update REPLACED_SOURCES."""
    from kfp.compiler import pipeline_spec_builder
    from kfp.dsl import utils

    for function in (pipeline_spec_builder.build_spec_by_group, utils.make_name_unique_by_adding_index):
        original = getattr(function, "kfp_original", function)
        assert kfp_compat.source_digest(original) == kfp_compat.REPLACED_SOURCES[original.__name__], original


def test_linear_spec_building_replaces_both_once_and_kfps_own_come_back_when_asked():
    from kfp.compiler import pipeline_spec_builder
    from kfp.dsl import utils

    kfp_compat.linear_spec_building()
    kfp_compat.linear_spec_building()  # idempotent
    ours = pipeline_spec_builder.build_spec_by_group, utils.make_name_unique_by_adding_index
    assert all(hasattr(function, "kfp_original") for function in ours)
    assert not hasattr(ours[0].kfp_original, "kfp_original")
    with kfp_compat.kfp_spec_building():
        assert pipeline_spec_builder.build_spec_by_group is ours[0].kfp_original
        assert utils.make_name_unique_by_adding_index is ours[1].kfp_original
    assert (pipeline_spec_builder.build_spec_by_group, utils.make_name_unique_by_adding_index) == ours


def test_names_are_made_unique_as_kfp_makes_them():
    from kfp.dsl import utils

    kfp_compat.linear_spec_building()
    kfps = utils.make_name_unique_by_adding_index.kfp_original
    for name, taken in [("a", []), ("a", ["a"]), ("a", ["a", "a-2", "a-4"]), ("a-2", ["a-2", "a-2-2"]), ("", [""])]:
        assert kfp_compat._unique_name(name, taken, "-") == kfps(name, taken, "-")
        assert kfp_compat._unique_name(name, dict.fromkeys(taken), "-") == kfps(name, taken, "-")


@dsl.component(base_image="python:3.11")
def numbered(x: int) -> int:
    return x


@dsl.component(base_image="python:3.11")
def other(x: int) -> int:
    return x


def big_pipeline(tasks: int):
    """Many tasks of two components in every kind of group (loop, condition, exit handler), chained and not."""

    def body(x: int = 1):
        with dsl.ExitHandler(other(x=0)):
            previous = numbered(x=x)
            for i in range(tasks // 2):
                previous = numbered(x=previous.output) if i % 3 else numbered(x=i)
                other(x=i).after(previous)
            with dsl.ParallelFor([1, 2, 3]) as item:
                numbered(x=item)
                with dsl.If(x > 0):
                    other(x=previous.output)

    return dsl.pipeline(name="big")(body)


@pytest.mark.parametrize("tasks", [60, pytest.param(1000, marks=pytest.mark.slow)])
def test_pipelines_built_linearly_compile_to_kfps_own_bytes(tmp_path, tasks):
    """The same pipeline built with kfp's own functions (the replacement off) and with ours: the same YAML."""
    from kfp import compiler

    kfp_compat.linear_spec_building()
    with kfp_compat.kfp_spec_building():
        theirs = big_pipeline(tasks)
    ours = big_pipeline(tasks)
    compiler.Compiler().compile(theirs, str(tmp_path / "kfp.yaml"))
    compiler.Compiler().compile(ours, str(tmp_path / "ours.yaml"))
    assert (tmp_path / "kfp.yaml").read_bytes() == (tmp_path / "ours.yaml").read_bytes()


def test_kfp_imports_eagerly_exactly_the_names_imported_on_first_use():
    """kfp/__init__.py imports these unless _KFP_RUNTIME=true: kfp_client_on_first_use must provide each of them."""
    import ast

    import kfp

    source = ast.parse(inspect.getsource(kfp))
    guarded = next(s for s in source.body if isinstance(s, ast.If) and "_KFP_RUNTIME" in ast.unparse(s.test))
    imported = {alias.asname or alias.name for s in guarded.body if isinstance(s, ast.ImportFrom) for alias in s.names}
    assert imported == set(kfp_compat.KFP_EAGER_NAMES)


def test_kfp_with_its_client_on_first_use_gives_every_eager_name(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\nfrom kfp_notebook import kfp_compat\nkfp_compat.kfp_client_on_first_use()\nimport kfp\n"
        "assert 'kfp.client' not in sys.modules and 'kubernetes' not in sys.modules, 'imported eagerly'\n"
        "from kfp import Client, components, dsl\nassert kfp.Client is Client and kfp.components is components\n"
        "assert Client.__module__ == 'kfp.client.client' and dsl.component\n"
        "try:\n    kfp.nothing\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "module 'kfp' has no attribute 'nothing'"
