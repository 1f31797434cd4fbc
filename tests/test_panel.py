"""The panel's Python side: the DAG as DOT for every construct, actions, coalesced live states, static SVG."""

from __future__ import annotations

import re
import shutil
import time

import pytest

import kfp_notebook
from kfp_notebook.ir import PipelineIR
from kfp_notebook.status import RunHandle, TaskEvent, TaskState, TaskStatus
from kfp_notebook.view import dag as graph

from helpers import eventually

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's `dot` (apt-get install graphviz)")

COMPONENTS = [
    "%%component --cpu 2 --memory 1G --gpu 1 --no-cache --retries 2\ndef prepare(n: int) -> int:\n    return n\n",
    "%%component\ndef train(lr: float, data: Input[Dataset]) -> float:\n    return lr\n",
    "%%component\ndef make(out: Output[Dataset]):\n    pass\n",
    "%%component\ndef notify(status: dsl.PipelineTaskFinalStatus):\n    pass\n",
]
PIPELINE = """%%pipeline
def everything(items: list = [1, 2], flag: bool = True):
    with dsl.ExitHandler(notify()):
        n = prepare(n=3)
        m = make()
        with dsl.If(n.output > 2):
            train(lr=0.1, data=m.outputs["out"])
        with dsl.Elif(n.output == 2):
            prepare(n=1)
        with dsl.Else():
            prepare(n=0)
        with dsl.ParallelFor(items, parallelism=2) as item:
            prepare(n=item)
"""


@pytest.fixture
def everything(ip):
    for cell in [*COMPONENTS, PIPELINE]:
        ip.run_cell(cell)
    return ip.user_ns["everything"]


def test_the_model_has_a_node_per_task_and_a_group_per_construct(everything):
    model = graph.dag_model(PipelineIR.from_pipeline(everything))
    kinds = sorted(g.kind for g in model.groups.values())
    assert kinds == ["branches", "condition", "condition", "condition", "exit", "loop"]
    labels = {g.kind: g.label for g in model.groups.values() if g.kind in ("loop", "exit", "branches")}
    assert labels == {
        "loop": "ParallelFor items (parallelism 2)",
        "exit": "ExitHandler (then notify)",
        "branches": "If / Elif / Else",
    }
    conditions = sorted(g.label for g in model.groups.values() if g.kind == "condition")
    assert conditions[0] == "If not (prepare.Output > 2) and not (prepare.Output == 2)"
    assert "If prepare.Output > 2" in conditions
    assert model.nodes["notify"].exit_task
    assert model.nodes["exit-handler-1/prepare"].badges == [
        "cpu 2",
        "mem 1G",
        "GPU 1× nvidia.com/gpu",
        "cache off",
        "retries 2",
    ]


def test_the_dot_has_clusters_labelled_edges_and_element_ids(everything):
    dot = graph.to_dot(graph.dag_model(PipelineIR.from_pipeline(everything))).source
    assert dot.count("subgraph cluster_") == 6
    assert 'label="ParallelFor items (parallelism 2)"' in dot
    assert re.search(
        r'"exit-handler-1/make" -> "exit-handler-1/condition-branches-\d+/condition-\d+/\S+" \[label=out lhead=cluster_exit_handler_1_condition_branches_\d+\]',
        dot,
    )
    assert "style=dashed" in dot and "shape=octagon" in dot
    assert 'id="kfp-task-exit-handler-1_prepare"' in dot


def test_loop_iterations_fold_into_one_node_state():
    states = {
        "a/for-loop-2[0]/sq": TaskState.SUCCEEDED,
        "a/for-loop-2[1]/sq": TaskState.RUNNING,
        "b": TaskState.SKIPPED,
    }
    assert graph.node_states(states) == {"a/for-loop-2/sq": TaskState.RUNNING, "b": TaskState.SKIPPED}
    assert graph.node_states({"x[0]/t": TaskState.FAILED, "x[1]/t": TaskState.SUCCEEDED}) == {"x/t": TaskState.FAILED}


@needs_dot
def test_the_static_svg_is_in_the_mime_bundle_when_dot_is_installed(everything):
    panel = kfp_notebook.show(everything)
    bundle = panel._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/svg+xml"].lstrip().startswith(("<?xml", "<svg")) and "ParallelFor items" in data["image/svg+xml"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert panel.needs_svg is False


def test_without_dot_the_front_end_sends_the_svg(everything, monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    panel = kfp_notebook.show(everything)
    assert panel.needs_svg and panel.static_svg is None

    class Display:
        updates = 0

        def update(self, obj):
            Display.updates += 1

    panel.display_handle = Display()
    panel.receive_svg({"svg": "<svg><g/></svg>"})
    assert panel.static_svg == "<svg><g/></svg>" and not panel.needs_svg and Display.updates == 1
    data = panel._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert data["image/svg+xml"] == "<svg><g/></svg>"


def test_the_panel_offers_a_field_per_parameter_with_defaults(everything):
    panel = kfp_notebook.show(everything)
    assert panel.parameters == [
        {"name": "items", "type": "LIST", "default": "[1, 2]", "required": False},
        {"name": "flag", "type": "BOOLEAN", "default": "true", "required": False},
    ]


def test_bad_values_are_refused_at_their_fields(everything):
    panel = kfp_notebook.show(everything)
    assert panel.run({"values": {"items": "[1,", "flag": "perhaps"}}) is None
    assert panel.field_errors == {"items": "'[1,' is not a list", "flag": "'perhaps' is not a bool"}
    assert panel.busy == ""


def test_compile_and_run_and_details(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    print('squaring', x)\n    return x * x\n")
    ip.run_cell(
        "%%pipeline\ndef fan(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items) as i:\n        sq(x=i)\n"
    )
    panel = kfp_notebook.show(ip.user_ns["fan"])
    assert panel.compile().startswith("# PIPELINE DEFINITION")
    assert (tmp_path / "fan.yaml").exists() and panel.message["text"] == "compiled to fan.yaml"
    handle = panel.run({"values": {"items": "[2, 3]"}})
    assert handle.wait(60)
    eventually(lambda: not panel.busy, 10)
    assert panel.node_states == {"kfp-task-for-loop-1": "SUCCEEDED", "kfp-task-for-loop-1_sq": "SUCCEEDED"}
    assert panel.progress.startswith("succeeded · 2/2 tasks")
    panel.select({"node": "kfp-task-for-loop-1_sq"})
    assert panel.details["source"].startswith("def sq(x: int) -> int:")
    eventually(lambda: "runs" in panel.details, 10)
    assert sorted(r["outputs"]["Output"] for r in panel.details["runs"]) == [4, 9]
    assert sorted(r["inputs"]["x"] for r in panel.details["runs"]) == [2, 3]
    assert "squaring 2" in panel.details["runs"][0]["log"] + panel.details["runs"][1]["log"]


def test_errors_in_actions_show_in_the_panel(everything, monkeypatch):
    panel = kfp_notebook.show(everything)
    monkeypatch.setattr(panel.session, "compile", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    panel._on_message(panel, {"action": "compile"}, [])
    assert panel.message["text"] == "OSError: disk full" and "Traceback" in panel.message["details"]
    assert panel.busy == ""
    panel._on_message(panel, {"action": "submit"}, [])
    assert "Connect to Kubeflow first" in panel.message["text"]
    panel._on_message(panel, {"action": "dance"}, [])
    assert panel.message["text"] == "unknown panel action 'dance'"


def test_a_thousand_events_are_coalesced(everything):
    panel = kfp_notebook.show(everything)
    handle = RunHandle("run-1", "everything", "local", controls=None)  # type: ignore[arg-type]
    for task in ("exit-handler-1/prepare", "notify"):
        handle.add_task(TaskStatus(task, task, component="comp-prepare"))
    changes = []
    panel.observe(lambda change: changes.append(change["new"]), names=["node_states"])
    panel.follow(handle)
    for index in range(1000):
        state = TaskState.RUNNING if index < 999 else TaskState.SUCCEEDED
        handle.publish(TaskEvent("run-1", "exit-handler-1/prepare", state, time.time()))
    time.sleep(0.5)
    assert 1 <= len(changes) <= 5
    assert changes[-1]["kfp-task-exit-handler-1_prepare"] == "SUCCEEDED"


def test_pipeline_cells_show_the_panel_and_kfp_show_too(ip, capsys):
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    return x * x\n")
    capsys.readouterr()
    ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    sq(x=x)\n")
    out = capsys.readouterr().out
    assert out.startswith("pipeline p (kfp name 'p')")
    ip.run_cell("%kfp show p")
    assert "pipeline p" in capsys.readouterr().out
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell("%%pipeline\ndef q(x: int = 1):\n    sq(x=x)\n")
    assert capsys.readouterr().out.startswith("pipeline q (kfp name 'q')")


@pytest.mark.slow
def test_a_notebook_with_three_panels_grows_by_less_than_300_kb(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from kfp_notebook.headless import run_notebook

    cells = ["%load_ext kfp_notebook", "from kfp import dsl", "%%component\ndef sq(x: int) -> int:\n    return x * x"]
    cells += [
        f"%%pipeline\ndef p{i}(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items) as it:\n        a = sq(x=it)\n    sq(x=5).after(a)"
        for i in range(3)
    ]
    sizes = {}
    for panel in (True, False):
        notebook = new_notebook(
            cells=[new_code_cell(f"%config KfpMagics.panel = {panel}"), *(new_code_cell(c) for c in cells)]
        )
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = tmp_path / f"panels-{panel}.ipynb"
        nbformat.write(notebook, path)
        run = run_notebook(path, tmp_path / f"run-{panel}")
        assert run.errors() == []
        sizes[panel] = (tmp_path / f"run-{panel}" / path.name).stat().st_size
    assert sizes[True] - sizes[False] < 300_000
    saved = nbformat.read(tmp_path / "run-True" / "panels-True.ipynb", as_version=4)
    kinds = [set(o.get("data", {})) for c in saved.cells for o in c.get("outputs", []) if "data" in o]
    assert sum("application/vnd.jupyter.widget-view+json" in k for k in kinds) == 3
    if shutil.which("dot"):
        assert sum("image/svg+xml" in k for k in kinds) == 3


@needs_dot
@pytest.mark.slow
def test_html_export_shows_the_dag_as_a_picture(tmp_path):
    import nbformat
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_code_cell, new_notebook

    from kfp_notebook.headless import run_notebook

    cells = [
        "%load_ext kfp_notebook",
        "%%component\ndef sq(x: int) -> int:\n    return x * x",
        "%%pipeline\ndef p(x: int = 1):\n    sq(x=x)",
    ]
    notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    run_notebook(tmp_path / "n.ipynb", tmp_path / "out")
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(tmp_path / "out" / "n.ipynb", as_version=4))
    import base64
    from html import unescape

    found = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)
    pictures = [unescape(base64.b64decode(m).decode("utf-8")) for m in found]
    assert any('id="kfp-task-sq"' in picture for picture in pictures), "the exported HTML has no SVG picture of the DAG"


def test_the_panel_runs_with_the_kernels_settings(ip, tmp_path):
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'elsewhere')!r}")
    ip.run_cell("%config KfpMagics.output_dir = 'compiled'")
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    return x * x\n")
    ip.run_cell("%%pipeline\ndef p(x: int = 3):\n    sq(x=x)\n")
    magics = ip.magics_manager.registry["KfpMagics"]
    panel = magics.session.panels["p"]
    handle = panel.run({"values": {"x": "4"}})
    assert handle.wait(60) and handle.result()["sq"].output == 16
    assert list((tmp_path / "elsewhere").glob("p-*/run.json"))
    eventually(lambda: not panel.busy, 10)
    panel.compile()
    assert panel.compiled_path == "compiled/p.yaml"


def test_a_lost_iteration_colours_its_loop_node_lost():
    states = {"for-loop-2[0]/sq": TaskState.SUCCEEDED, "for-loop-2[1]/sq": TaskState.LOST, "other": TaskState.LOST}
    assert graph.node_states(states) == {"for-loop-2/sq": TaskState.LOST, "other": TaskState.LOST}
