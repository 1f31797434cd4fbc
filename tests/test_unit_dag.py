"""The DAG's DOT marks what the panel's front end selects with classes, and the SVG carries them (view/dag.py)."""

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from kfp import dsl

from kfp_notebook.ir import PipelineIR
from kfp_notebook.view import dag as graph

from helpers import SVG

LABEXTENSION = Path(__file__).resolve().parent.parent / "frontend"


@dsl.component(base_image="python:3.11")
def step(n: int) -> int:
    return n


@dsl.component(base_image="python:3.11")
def notify(status: dsl.PipelineTaskFinalStatus):
    pass


@dsl.pipeline
def marked(items: list = [1, 2]):  # noqa: B006 - kfp reads the default
    with dsl.ExitHandler(notify()):
        first = step(n=1).set_cpu_request("2").set_retry(2)
        with dsl.If(first.output > 1):
            step(n=2)
        with dsl.ParallelFor(items, parallelism=2) as item:
            step(n=item).set_caching_options(False)


@pytest.fixture(scope="module")
def model():
    return graph.dag_model(PipelineIR.from_pipeline(marked))


@pytest.fixture(scope="module")
def dot(model):
    return graph.to_dot(model).source


def member(model, kind: str) -> str:
    return next(m for m, g in model.groups.items() if g.kind == kind)


@pytest.mark.parametrize(
    ("task", "expected", "absent"),
    [
        ("exit-handler-1/step", {"kfp-task", "kfp-badged"}, {"kfp-exit-task"}),
        ("notify", {"kfp-task", "kfp-exit-task"}, {"kfp-badged"}),
        ("exit-handler-1/condition-2/step-2", {"kfp-task"}, {"kfp-badged", "kfp-exit-task"}),
    ],
)
def test_task_nodes_are_marked_by_class(model, task, expected, absent):
    classes = set(model.nodes[task].dot_class().split())
    assert expected <= classes and not absent & classes


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("loop", "kfp-loop"), ("condition", "kfp-condition"), ("exit", "kfp-exit-handler")],
)
def test_groups_are_marked_by_their_kind_not_their_label(model, kind, expected):
    group = model.groups[member(model, kind)]
    assert group.dot_class().split() == ["kfp-group", expected]
    group.label = "anything at all"  # the wording may change: the class does not
    assert expected in group.dot_class().split()


def test_every_group_kind_has_a_class():
    kinds = {"loop", "condition", "branches", "exit", "dag"}
    assert set(graph.GROUP_KIND_CLASSES) == kinds
    assert set(graph.GROUP_KIND_CLASSES.values()) <= graph.DOT_CLASSES


def _dot_line(dot: str, element_id: str) -> str:
    return next(line for line in dot.splitlines() if f'id="{element_id}"' in line)


def test_the_dot_source_carries_the_classes(model, dot):
    assert 'class="kfp-group kfp-loop"' in _dot_line(dot, graph.node_element_id(member(model, "loop")))
    assert 'class="kfp-task kfp-badged"' in _dot_line(dot, graph.node_element_id("exit-handler-1/step"))
    assert 'class="kfp-task kfp-exit-task"' in _dot_line(dot, graph.node_element_id("notify"))
    (exit_edge,) = [line for line in dot.splitlines() if "-> notify" in line]
    assert f'class="{graph.EXIT_EDGE_CLASS}"' in exit_edge


def test_the_rows_of_a_wide_pipeline_are_marked_as_layout_only():
    from kfp_notebook.view import layout

    @dsl.pipeline
    def wide():
        for n in range(40):
            step(n=n)

    model = graph.dag_model(PipelineIR.from_pipeline(wide))
    dot = graph.to_dot(model).source
    rows = [line for line in dot.splitlines() if "->" in line]
    assert len(rows) == 40 - layout.side_by_side(model) > 0 and all(
        f'class="{graph.ROW_EDGE_CLASS}"' in r and "style=invis" in r for r in rows
    )


def _svg_elements(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g")}


def _classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def _check_svg(model, svg: str) -> dict[str, ET.Element]:
    elements = _svg_elements(svg)
    loop = elements[graph.node_element_id(member(model, "loop"))]
    assert {"cluster", "kfp-group", "kfp-loop"} <= _classes(loop)
    badged = elements[graph.node_element_id("exit-handler-1/step")]
    assert {"node", "kfp-task", "kfp-badged"} <= _classes(badged)
    plain = elements[graph.node_element_id("exit-handler-1/condition-2/step-2")]
    assert "kfp-badged" not in _classes(plain)
    edges = [g for g in elements.values() if "edge" in _classes(g)]
    assert any(graph.EXIT_EDGE_CLASS in _classes(e) for e in edges)
    return elements


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's `dot` (apt-get install graphviz)")
def test_dot_draws_the_classes_and_a_badged_tasks_last_text_is_its_chips(model):
    """What the front end's `badgeLine` relies on: the last text of a kfp-badged node is its badge chips."""
    elements = _check_svg(model, graph.picture_svg(model) or "")
    badged = elements[graph.node_element_id("exit-handler-1/step")]
    texts = [t.text or "" for t in badged.iter(f"{SVG}text")]
    assert texts[0] == "step" and texts[-1] == "cpu 2 · ↻2"
    plain = elements[graph.node_element_id("exit-handler-1/condition-2/step-2")]
    assert [t.text for t in plain.iter(f"{SVG}text")] == ["step-2"]


@pytest.mark.parametrize(
    ("task", "html", "plain"),
    [
        ("exit-handler-1/step", '<step<BR/><FONT POINT-SIZE="8">cpu 2 · ↻2</FONT>>', "step\ncpu 2 · ↻2"),
        ("notify", "<notify>", "notify"),
    ],
)
def test_labels_are_html_like_for_dot_and_plain_lines_for_a_graphviz_without_them(model, task, html, plain):
    node = model.nodes[task]
    assert node.dot_label("python:3.11") == html and node.dot_label("python:3.11", html=False) == plain
    assert f"label={html} " in _dot_line(graph.to_dot(model).source, graph.node_element_id(task))
    assert "<FONT" not in graph.to_dot(model, html_labels=False).source


def test_a_plain_label_keeps_backslashes_as_written():
    from kfp_notebook.view.labels import plain_label

    assert plain_label(["C:\\data\\n"], "x") == "C:\\\\data\\\\n\nx"


def _front_end_dot_classes() -> set[str]:
    source = (LABEXTENSION / "src" / "dot.ts").read_text(encoding="utf-8")
    block = source.split("export const DOT_CLASS = {", 1)[1].split("} as const", 1)[0]
    return set(re.findall(r"'(kfp-[a-z-]+)'", block))


def test_the_front_ends_dot_classes_are_the_ones_the_dot_writes():
    used = _front_end_dot_classes()
    assert used == {"kfp-loop", "kfp-badged"}
    assert used <= graph.DOT_CLASSES


def test_the_front_end_keys_on_classes_not_on_wording_or_font_sizes():
    widget = "".join(
        p.read_text(encoding="utf-8") for p in sorted((LABEXTENSION / "src").glob("*.ts")) if p.name != "dot.ts"
    )
    style = (LABEXTENSION / "style" / "index.css").read_text(encoding="utf-8")
    assert "ParallelFor" not in widget and "font-size='8" not in style and "8.00" not in widget + style
    assert "DOT_CLASS.loop" in widget and "badgeLine(" in widget and "text.kfp-badges" in style
