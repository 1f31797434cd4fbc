"""%%component through a testing shell: the component it defines, its YAML, and every mistake refused."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError

from helpers import compiled, documents, same_as_handwritten

ADD = '''def add(a: int, b: int = 2) -> int:
    """Adds two numbers. 두 수를 더한다."""
    # 한글 주석도 그대로
    return a + b
'''


def test_cell_function_becomes_a_component_with_the_same_name(ip, capsys):
    ip.run_cell("%%component\n" + ADD)
    component = ip.user_ns["add"]
    assert component.name == "add"
    assert component.python_func(1, 2) == 3
    assert add_summary_lines(capsys.readouterr().out) == [
        "component add (kfp name 'add')",
        "inputs    a: Integer, b: Integer = 2",
        "outputs   Output: Integer",
        "image     python:3.11",
        "packages  none",
    ]


def add_summary_lines(out: str) -> list[str]:
    return [line.strip() for line in out.strip().splitlines()]


def test_component_yaml_is_what_kfp_writes_for_the_decorated_function(ip):
    ours, theirs = same_as_handwritten(
        ip,
        ["%%component --base-image python:3.12-slim --packages requests==2.33.0 --pip-index-url https://pypi.example/simple\n" + ADD],
        ["@dsl.component(base_image='python:3.12-slim', packages_to_install=['requests==2.33.0'], "
         "pip_index_urls=['https://pypi.example/simple'])\n" + ADD],
        "add",
    )  # fmt: skip
    assert ours == theirs
    assert "requests==2.33.0" in ours and "https://pypi.example/simple" in ours


TASK_DEFAULTS_LINE = (
    "--cpu 500m --cpu-limit 2 --memory 1G --memory-limit 2Gi --gpu 2 --gpu-type nvidia.com/a100 "
    "--env MODE=fast --env EMPTY= --secret db-creds:password=DB_PASSWORD --volume shared-data:/data "
    "--retries 3 --no-cache --display-name '덧셈 단계'"
)

HANDWRITTEN_DEFAULTS = """
from kfp import kubernetes
def with_defaults(task):
    task.set_cpu_request('500m')
    task.set_cpu_limit('2')
    task.set_memory_request('1G')
    task.set_memory_limit('2Gi')
    task.set_accelerator_type('nvidia.com/a100').set_accelerator_limit(2)
    task.set_env_variable('MODE', 'fast')
    task.set_env_variable('EMPTY', '')
    task.set_retry(3)
    task.set_caching_options(False)
    task.set_display_name('덧셈 단계')
    kubernetes.use_secret_as_env(task, secret_name='db-creds', secret_key_to_env={'password': 'DB_PASSWORD'})
    kubernetes.mount_pvc(task, pvc_name='shared-data', mount_path='/data')
    return task
"""

PIPELINE_MAGIC = "%%pipeline\ndef p(x: int = 1):\n    first = add(a=x)\n    add(a=first.output, b=5)\n"
PIPELINE_HANDWRITTEN = (
    "@dsl.pipeline\ndef p(x: int = 1):\n    first = with_defaults(add(a=x))\n"
    "    with_defaults(add(a=first.output, b=5))\n"
)


def test_task_defaults_are_applied_to_every_task_exactly_as_kfp_setters_do(ip):
    ours, theirs = same_as_handwritten(
        ip,
        [f"%%component {TASK_DEFAULTS_LINE}\n" + ADD, PIPELINE_MAGIC],
        ["@dsl.component\n" + ADD, HANDWRITTEN_DEFAULTS, PIPELINE_HANDWRITTEN],
        "p",
    )
    assert ours == theirs
    pipeline, platform = documents(ours)
    container = pipeline["deploymentSpec"]["executors"]["exec-add"]["container"]
    assert container["resources"]["resourceCpuRequest"] == "500m"
    assert container["resources"]["accelerator"]["resourceCount"] == "2"
    assert container["resources"]["accelerator"]["resourceType"] == "nvidia.com/a100"
    assert {"name": "MODE", "value": "fast"} in container["env"]
    tasks = pipeline["root"]["dag"]["tasks"]
    assert tasks["add"]["taskInfo"]["name"] == "덧셈 단계"
    assert tasks["add-2"]["retryPolicy"]["maxRetryCount"] == 3
    assert tasks["add-2"]["cachingOptions"] == {}
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-add"]
    assert k8s["secretAsEnv"][0]["keyToEnv"] == [{"envVar": "DB_PASSWORD", "secretKey": "password"}]
    assert k8s["pvcMount"][0]["mountPath"] == "/data"


def test_gpu_type_defaults_to_nvidia(ip):
    ip.run_cell("%%component --gpu 1\n" + ADD)
    ip.run_cell(PIPELINE_MAGIC)
    container = documents(compiled(ip, "p"))[0]["deploymentSpec"]["executors"]["exec-add"]["container"]
    assert container["resources"]["accelerator"]["resourceCount"] == "1"
    assert container["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"


def test_a_task_overrides_a_default_with_kfps_setter(ip):
    ip.run_cell("%%component --cpu 1 --env MODE=slow\n" + ADD)
    ip.run_cell("%%pipeline\ndef p():\n    add(a=1).set_cpu_request('3').set_env_variable('MODE', 'fast')\n")
    container = documents(compiled(ip, "p"))[0]["deploymentSpec"]["executors"]["exec-add"]["container"]
    assert container["resources"]["resourceCpuRequest"] == "3"
    assert container["env"] == [{"name": "MODE", "value": "fast"}]


def test_output_component_file_matches_kfps(ip, tmp_path):
    ip.run_cell("%%component --output-component-file out/add.yaml\n" + ADD)
    ours = (tmp_path / "out" / "add.yaml").read_text(encoding="utf-8")
    ip.run_cell("@dsl.component(output_component_file='kfp_add.yaml')\n" + ADD)
    assert ours == (tmp_path / "kfp_add.yaml").read_text(encoding="utf-8")


def test_configured_base_image_applies_when_the_cell_gives_none(ip):
    ip.run_cell("%config KfpMagics.base_image = 'python:3.12'")
    ip.run_cell("%%component\n" + ADD)
    assert ip.user_ns["add"].image == "python:3.12"
    ip.run_cell("%%component --base-image python:3.10\n" + ADD)
    assert ip.user_ns["add"].image == "python:3.10"


def test_name_picks_one_of_several_functions(ip):
    ip.run_cell(
        "%%component --name second\ndef first(x: int) -> int:\n    return x\n\ndef second(y: str) -> str:\n    return y\n"
    )
    assert ip.user_ns["second"].name == "second"
    assert callable(ip.user_ns["first"]) and not hasattr(ip.user_ns["first"], "component_spec")


def test_positional_arguments_bind_in_signature_order(ip):
    ip.run_cell("%%component\n" + ADD)
    ip.run_cell("%%pipeline\ndef p():\n    add(1, 4)\n")
    inputs = documents(compiled(ip, "p"))[0]["root"]["dag"]["tasks"]["add"]["inputs"]["parameters"]
    assert inputs == {"a": {"runtimeValue": {"constant": 1}}, "b": {"runtimeValue": {"constant": 4}}}


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%component\nx = 1\n", r"the cell defines no function: write `def my_component\(...\):`"),
        ("%%component\ndef a(x: int):\n    pass\n\ndef b(x: int):\n    pass\n",
         r"several functions \(a, b\); choose the component with --name, for example `%%component --name a`"),
        ("%%component --name c\ndef a(x: int):\n    pass\n\ndef b(x: int):\n    pass\n", r"--name 'c' names no function of the cell \(functions here: a, b\)"),
        ("%%component\ndef f(x: int,\n      y):\n    pass\n",
         r"line 3 of the cell: y\):\nparameter 'y' of f has no type annotation"),
        ("%%component\ndef f(x: set):\n    pass\n", r"line 2 of the cell: def f\(x: set\):\nparameter 'x' is annotated 'set', a type kfp cannot"),
        ("%%component\ndef f(x: int) -> set:\n    pass\n", r"line 2 .*\nthe return type is annotated 'set'"),
        ("%%component\ndef f(x: int):\n    return (x +\n", r"line 3 of the cell: return \(x \+\nsyntax error: '\(' was never closed"),
        ("%%component\ndef f(x: int):\n    !pip install numpy\n    return x\n",
         r"line 3 of the cell: !pip install numpy\nshell commands \(!cmd\) and magics \(%magic\) cannot be part of a %%component cell.*--packages"),
        ("%%component\n@dsl.component\ndef f(x: int):\n    pass\n", r"line 2 .*\nremove the decorator from f"),
        ("%%component\ndef f(*args: int):\n    pass\n", r"\*args / \*\*args parameters cannot be component inputs"),
        ("%%component\nasync def f(x: int):\n    pass\n", r"f is `async def`"),
        ("%%component\ndef f(x: int):\n    pass\n\nraise RuntimeError('boom')\n", r"line 5 of the cell: raise RuntimeError\('boom'\)\nRuntimeError: boom"),
        ("%%component\ndef f(x: InputPath(str)):\n    pass\n", r"InputPath\(str\) compiles but fails at run time in kfp 2.17 \(kfp issue 10378\)"),
        ("%%component --cpu two\ndef f(x: int):\n    pass\n", r"--cpu 'two' is not a CPU quantity"),
        ("%%component\ndel OutputPath\ndef f(x: OutputPath('Model')):\n    pass\n",
         r"line 3 .*\nNameError: name 'OutputPath' is not defined \(add `from kfp.dsl import OutputPath` in an earlier cell\)"),
    ],
)  # fmt: skip
def test_mistakes_are_one_clear_message(ip, cell, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell(cell)


@pytest.mark.parametrize(
    "broken",
    [
        "%%component\ndef add(a: int) -> int:\n    return (a\n",
        "%%component\ndef add(a: set) -> int:\n    return 1\n",
        "%%component\ndef add(a: int) -> int:\n    return a\nhelper = 1\n1 / 0\n",
        "%%component --cpu lots\ndef add(a: int) -> int:\n    return a\n",
    ],
)
def test_a_failed_cell_keeps_the_previous_definition(ip, broken):
    ip.run_cell("%%component\n" + ADD)
    before = ip.user_ns["add"]
    with pytest.raises(UsageError):
        ip.run_cell(broken)
    assert ip.user_ns["add"] is before
    assert "helper" not in ip.user_ns
    ip.run_cell(PIPELINE_MAGIC)
    assert "comp-add" in compiled(ip, "p")


def test_tracebacks_can_be_turned_on_for_debugging(ip):
    from kfp_notebook.errors import ComponentError

    ip.run_cell("%config KfpMagics.show_tracebacks = True")
    with pytest.raises(ComponentError):
        ip.run_cell("%%component\nx = 1\n")


@pytest.mark.parametrize(
    ("signature", "shown"),
    [("n: int = 2.5", "2.5"), ("n: int = '3'", "'3'"), ("*, n: int = 1e3", "1000.0"), ("n: int = True", "True")],
)
def test_int_parameters_with_a_non_integral_default_are_refused(ip, signature, shown):
    with pytest.raises(
        UsageError,
        match=rf"line 2 .*\nparameter 'n' is an int, but its default {re.escape(shown)} is not a whole number",
    ):
        ip.run_cell(f"%%component\ndef f({signature}) -> int:\n    return n\n")


def test_repeated_packages_all_reach_the_yaml(ip):
    ip.run_cell("%%component --packages requests==2.33.0 --packages urllib3==2.8.0\n" + ADD)
    command = " ".join(
        documents(compiled(ip, "add"))[0]["deploymentSpec"]["executors"]["exec-add"]["container"]["command"]
    )
    assert "'requests==2.33.0' 'urllib3==2.8.0'" in command
