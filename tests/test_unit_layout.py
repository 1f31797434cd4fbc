"""The DAG reads at a notebook's width and in a stable, natural order (view/layout.py through view/dag.py)."""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from kfp import dsl

from kfp_notebook.ir import PipelineIR
from kfp_notebook.view import dag as graph
from kfp_notebook.view import layout, svg

from helpers import SVG

ROOT = Path(__file__).resolve().parent.parent


@dsl.component(base_image="python:3.11")
def work(n: int) -> int:
    return n


@dsl.component(base_image="python:3.11")
def train(n: int) -> int:
    return n


@dsl.pipeline
def fan_out():
    first = work(n=0)
    middle = [work(n=first.output) for _ in range(60)]
    work(n=1).after(*middle)


@dsl.pipeline
def ten_chains():
    for c in range(10):
        previous = work(n=c)
        for _ in range(19):
            previous = work(n=previous.output)


@dsl.pipeline
def written_order():
    a = train(n=1)
    for _ in range(11):
        work(n=a.output)
    with dsl.ParallelFor([1, 2]) as item:
        train(n=item)


def model_of(pipeline):
    return graph.dag_model(PipelineIR.from_pipeline(pipeline))


RENDERERS = [
    pytest.param("dot", marks=pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")),
    pytest.param("wasm", marks=pytest.mark.slow),  # loads (or compiles) Graphviz's WebAssembly module
]


def render(model, how: str) -> str:
    source = graph.to_dot(model, html_labels=how == "dot").source
    picture = svg.render_svg(source) if how == "dot" else svg.render_wasm(source)
    if picture is None:
        pytest.skip(f"{how} Graphviz is not installed")
    return picture


def fitted(picture: str) -> tuple[float, float, float]:
    """(scale, smallest label in px, height in px) once the picture is fitted to the target width."""
    width_pt, height_pt = map(float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', picture).groups())
    scale = min(1.0, layout.TARGET_WIDTH_PX / (width_pt * layout.PX_PER_PT))
    smallest = min(float(size) for size in re.findall(r'font-size="([\d.]+)"', picture))
    return scale, smallest * layout.PX_PER_PT * scale, height_pt * layout.PX_PER_PT * scale


def node_centres(picture: str) -> dict[str, tuple[float, float]]:
    """Each task node's centre (its label's text position) by node name."""
    centres = {}
    for group in ET.fromstring(picture).iter(f"{SVG}g"):
        if "kfp-task" in (group.get("class") or "").split():
            text = next(group.iter(f"{SVG}text"))
            centres[group.find(f"{SVG}title").text] = (float(text.get("x")), float(text.get("y")))
    return centres


@pytest.mark.parametrize("how", RENDERERS)
def test_a_60_task_fan_out_reads_at_a_notebooks_width(how):
    picture = render(model_of(fan_out), how)
    scale, text_px, height = fitted(picture)
    assert text_px >= layout.MIN_TEXT_PX and scale >= 0.5, (scale, text_px)
    assert height < 2600, height  # low nodes in the column: about 41 px a task
    centres = node_centres(picture)
    middle = [f"work-{n}" for n in range(2, 62)]
    # drawn left to right: the 60 parallel tasks stack in one column, in the order the pipeline made them
    assert len({round(centres[name][0]) for name in middle}) == 1
    assert [centres[name][1] for name in middle] == sorted(centres[name][1] for name in middle)
    assert centres["work"][0] < centres["work-2"][0] < centres["work-62"][0]


@pytest.mark.parametrize("how", RENDERERS)
def test_ten_parallel_chains_of_20_sit_side_by_side_and_read_at_a_notebooks_width(how):
    model = model_of(ten_chains)
    assert graph.wrapped_rows(model) == []
    picture = render(model, how)
    scale, text_px, height = fitted(picture)
    assert text_px >= layout.MIN_TEXT_PX, (scale, text_px)
    centres = node_centres(picture)
    firsts = [name for name in centres if not any(e.target == name for e in model.edges)]
    assert len(firsts) == 10 and len({round(centres[name][1]) for name in firsts}) == 1  # one row, none below
    assert height < 2000, height  # 20 ranks deep, not 20 plus another 20 for chains stacked below


def test_independent_chains_wrap_only_past_what_reads_at_a_notebooks_width():
    @dsl.pipeline
    def many():
        for n in range(100):
            work(n=work(n=n).output)

    model = model_of(many)
    across = layout.side_by_side(model)
    assert 10 <= across < 100
    rows = graph.wrapped_rows(model)
    assert len(rows) == 100 - across
    assert layout.column_pt(model) * across <= layout.readable_width_pt()
    assert layout.graph_attributes(model)["rankdir"] == "TB"


def test_a_deep_narrow_dag_stays_top_to_bottom_and_a_wide_shallow_one_turns():
    assert layout.graph_attributes(model_of(ten_chains))["rankdir"] == "TB"
    assert layout.graph_attributes(model_of(fan_out))["rankdir"] == "LR"
    assert layout.graph_attributes(model_of(written_order))["rankdir"] == "TB"

    def chains_from_one_task(chains: int, length: int):
        @dsl.pipeline
        def branched():
            first = work(n=0)
            for _ in range(chains):
                previous = work(n=first.output)
                for _ in range(length - 1):
                    previous = work(n=previous.output)

        return model_of(branched)

    # too wide top to bottom either way: the narrower direction wins (30 wide and 11 deep turns, 15 x 40 does not)
    assert layout.graph_attributes(chains_from_one_task(30, 10))["rankdir"] == "LR"
    assert layout.graph_attributes(chains_from_one_task(15, 40))["rankdir"] == "TB"


def test_tasks_come_in_natural_order_and_after_the_tasks_they_wait_for():
    model = model_of(written_order)
    tasks = [m for m in model.top if m in model.nodes]
    assert tasks == ["train", *(["work"] + [f"work-{n}" for n in range(2, 12)])]
    assert layout.natural_key("work-2") < layout.natural_key("work-10") < layout.natural_key("work-11")
    dot = graph.to_dot(model).source
    order = re.findall(r'^\t"?([\w-]+)"? \[label', dot, flags=re.M)
    assert order[:3] == ["train", "work", "work-2"] and order.index("work-10") < order.index("work-11")
    edges = re.findall(r'^\t"?([\w/-]+)"? -> "?([\w/-]+)"?', dot, flags=re.M)
    assert [target for _, target in edges][:3] == ["work", "work-2", "work-3"]


ORDER_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_unit_layout import fan_out, written_order, model_of
from kfp_notebook.view import dag as graph
for pipeline in (fan_out, written_order):
    print(graph.to_dot(model_of(pipeline)).source)
"""


@pytest.mark.slow  # two Pythons that import kfp
def test_the_dot_is_the_same_in_kernels_with_different_hash_seeds():
    script = ORDER_SCRIPT.format(tests=str(ROOT / "tests"))

    def dot_with(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first, second = dot_with("1"), dot_with("2")
    assert first == second
    names = re.findall(r'^\t"?(work[\w-]*)"? \[label', first, flags=re.M)[:62]
    assert names == ["work", *(f"work-{n}" for n in range(2, 63))]
