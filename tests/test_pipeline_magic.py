"""%%pipeline and %kfp through a testing shell: kfp's control flow unchanged, YAML as kfp writes it, clear errors."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import kfp_notebook
from kfp_notebook.errors import CompileError

from helpers import compiled, documents, same_as_handwritten

COMPONENTS = [
    """def prepare(n: int, data: OutputPath("dict")) -> int:
    import json
    with open(data, "w", encoding="utf-8") as f:
        json.dump({"n": n}, f)
    return n * 2
""",
    """def train(lr: float, data: InputPath("dict")) -> float:
    return lr
""",
    """def score(x: int) -> int:
    return x + 1
""",
    """def total(xs: list) -> int:
    return sum(xs)
""",
    """def notify(status: dsl.PipelineTaskFinalStatus):
    print(status.state)
""",
]

CONTROL_FLOW = '''def training(epochs: int = 3, items: list = [1, 2, 3], mode: str = "full"):
    """Trains with every construct. 모든 구성 요소."""
    exit_task = notify()
    with dsl.ExitHandler(exit_task, name="cleanup"):
        data = prepare(n=epochs)
        with dsl.If(data.outputs["Output"] > 2, name="big"):
            train(lr=0.1, data=data.outputs["data"])
        with dsl.Elif(data.outputs["Output"] == 2):
            train(lr=0.5, data=data.outputs["data"]).set_cpu_limit("1")
        with dsl.Else():
            score(x=0)
        with dsl.Condition(mode == "full"):
            score(x=epochs)
        with dsl.ParallelFor(items, parallelism=2) as item:
            s = score(x=item)
        total(xs=dsl.Collected(s.output)).after(data)
'''


def as_v2(source: str) -> str:
    """The hand-written kfp v2 spelling of the v1 path type that %%component ships as an artifact."""
    return source.replace('Path("dict")', 'Path("Artifact")')


def test_control_flow_compiles_to_what_kfp_writes_for_hand_written_code(ip):
    ours, theirs = same_as_handwritten(
        ip,
        [f"%%component\n{c}" for c in COMPONENTS] + ["%%pipeline\n" + CONTROL_FLOW],
        ["@dsl.component\n" + as_v2(c) for c in COMPONENTS] + ["@dsl.pipeline\n" + CONTROL_FLOW],
        "training",
    )
    assert ours == theirs
    spec = documents(ours)[0]
    assert spec["pipelineInfo"] == {"name": "training", "description": "Trains with every construct. 모든 구성 요소."}
    assert set(spec["root"]["dag"]["tasks"]) == {"exit-handler-1", "notify"}
    dag = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert set(dag) == {"condition-branches-2", "condition-6", "for-loop-7", "total", "prepare"}
    assert dag["for-loop-7"]["iteratorPolicy"] == {"parallelismLimit": 2}
    assert set(spec["components"]["comp-condition-branches-2"]["dag"]["tasks"]) == {
        "condition-3",
        "condition-4",
        "condition-5",
    }


def test_name_description_and_output_options(ip, tmp_path):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell(
        "%%pipeline --name 'Data test example' --description '설명 text' --output build/p.yaml\ndef p(x: int):\n    score(x=x)\n"
    )
    text = (tmp_path / "build" / "p.yaml").read_text(encoding="utf-8")
    assert documents(text)[0]["pipelineInfo"] == {"name": "data-test-example", "description": "설명 text"}
    assert text == compiled(ip, "p")
    assert ip.user_ns["p"].name == "data-test-example"


def test_pipeline_name_and_description_default_to_kfps(ip):
    ours, theirs = same_as_handwritten(
        ip,
        ["%%component\n" + COMPONENTS[2], '%%pipeline\ndef my_pipe(x: int = 1):\n    """Doc."""\n    score(x=x)\n'],
        [
            "@dsl.component\n" + COMPONENTS[2],
            '@dsl.pipeline\ndef my_pipe(x: int = 1):\n    """Doc."""\n    score(x=x)\n',
        ],
        "my_pipe",
    )
    assert ours == theirs


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%pipeline\ndef p(x: int):\n    y = 1\n    undefined_step(x=x)\n",
         r"line 4 of the cell: undefined_step\(x=x\)\n'undefined_step' is not defined. If it is a component, run its %%component cell first"),
        ("%%pipeline\ndef p(x):\n    score(x=x)\n", r"line 2 of the cell: def p\(x\):\nparameter 'x' of p has no type annotation"),
        ("%%pipeline\ndef p(x: set):\n    score(x=1)\n", r"line 2 of the cell: .*\nTypeError: Artifacts must have"),
        ("%%pipeline\ndef p(x: str):\n    score(x=x)\n", r"line 3 of the cell: score\(x=x\)\nInconsistentTypeException: Incompatible argument passed to the input 'x'"),
        ("%%pipeline\ndef p():\n    score(y=1)\n", r"line 3 .*\nTypeError: score\(\) got an unexpected keyword argument \"y\""),
        ("%%pipeline\ndef p():\n    score()\n", r"line 3 .*\nscore\(\) missing 1 required argument: x. Pass every input that has no default"),
        ("%%pipeline\ndef p():\n    t = prepare(n=1)\n    score(x=t.output)\n", r"line 4 of the cell: score\(x=t.output\)\n"),
        ("%%pipeline\nx = 1\n", r"the cell defines no function: write `def my_pipeline\(...\):` in the %%pipeline cell"),
        ("%%pipeline\ndef p(x: int):\n    score(x=x\n", r"line 3 of the cell: score\(x=x\nsyntax error"),
        ("%%pipeline --output p.txt\ndef p(x: int):\n    score(x=x)\n", r"--output 'p.txt' must end with .yaml"),
    ],
)  # fmt: skip
def test_pipeline_mistakes_point_at_the_cell_line(ip, cell, message):
    ip.run_cell("%%component\n" + COMPONENTS[0])
    ip.run_cell("%%component\n" + COMPONENTS[2])
    with pytest.raises(UsageError, match=message):
        ip.run_cell(cell)


def test_a_failed_pipeline_cell_keeps_the_previous_pipeline(ip):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    score(x=x)\n")
    before = ip.user_ns["p"]
    with pytest.raises(UsageError):
        ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    nope(x=x)\n")
    assert ip.user_ns["p"] is before
    ip.run_cell("%kfp compile")


def test_kfp_compile_writes_the_latest_pipeline_by_default(ip, tmp_path, capsys):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell("%%pipeline\ndef first(x: int = 1):\n    score(x=x)\n")
    ip.run_cell("%%pipeline\ndef second(x: int = 2):\n    score(x=x)\n")
    capsys.readouterr()
    ip.run_cell("%kfp compile")
    assert "file  second.yaml" in capsys.readouterr().out
    assert (tmp_path / "second.yaml").read_text(encoding="utf-8") == compiled(ip, "second")
    ip.run_cell("%kfp compile first -o out/first.yaml")
    assert (tmp_path / "out" / "first.yaml").exists()
    ip.run_cell("%config KfpMagics.output_dir = 'pipelines'")
    ip.run_cell("%kfp compile first")
    assert (tmp_path / "pipelines" / "first.yaml").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%kfp compile secnd", r"no pipeline named 'secnd'. Did you mean 'second'\? Defined pipelines: second"),
        ("%kfp compil", r"unknown sub-command 'compil'. Did you mean 'compile'\?"),
        ("%kfp", r"%kfp needs a sub-command"),
        ("%kfp compile second -o x.json", r"-o 'x.json' must end with .yaml or .yml"),
        ("%kfp compile second --out x.yaml", r"unknown option '--out'. Did you mean --output\?"),
        ("%kfp list extra", r"unexpected argument 'extra'"),
    ],
)
def test_kfp_line_magic_mistakes(ip, line, message):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell("%%pipeline\ndef second(x: int = 2):\n    score(x=x)\n")
    with pytest.raises(UsageError, match=message):
        ip.run_cell(line)


def test_compile_without_any_pipeline(ip):
    with pytest.raises(UsageError, match="no pipeline is defined yet"):
        ip.run_cell("%kfp compile")


def test_kfp_list_marks_pipelines_whose_components_changed(ip, capsys):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    score(x=x)\n")
    capsys.readouterr()
    ip.run_cell("%kfp list")
    out = capsys.readouterr().out
    assert "component score" in out and "pipeline p" in out and "up to date" in out
    ip.run_cell("%%component\n" + COMPONENTS[2].replace("x + 1", "x + 2"))
    capsys.readouterr()
    ip.run_cell("%kfp list")
    assert "components changed since defined: score" in capsys.readouterr().out


def test_python_api_compile_returns_and_writes_yaml(ip, tmp_path):
    ip.run_cell("%%component\n" + COMPONENTS[2])
    ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    score(x=x)\n")
    text = kfp_notebook.compile(ip.user_ns["p"], tmp_path / "a" / "p.yaml")
    assert text.startswith("# PIPELINE DEFINITION")
    assert (tmp_path / "a" / "p.yaml").read_text(encoding="utf-8") == text
    with pytest.raises(CompileError, match=r"must end with .yaml or .yml"):
        kfp_notebook.compile(ip.user_ns["p"], tmp_path / "p.txt")


def test_v1_spellings_we_support_do_not_warn(ip):
    import warnings

    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    return x * x\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    with dsl.Condition(x > 0):\n        sq(x=x)\n")
    assert not [w for w in seen if "Condition is deprecated" in str(w.message)]
