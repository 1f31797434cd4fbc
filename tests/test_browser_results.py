"""Results in a real browser: compare table and plot, and every visual artifact, as JupyterLab shows cell outputs.

The outputs are static HTML/SVG, so no lab extension is needed. Screenshots go to out/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import nbformat, new_code_cell, new_notebook
from lab_server import CHROMIUM, CHROMIUM_ARGS, KERNEL_READY, browser_marks, jupyterlab
from test_results_views import EVALUATE, PIPELINE, TRAIN

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "out" / "screenshots"

pytestmark = [
    *browser_marks(),
]

CELLS = [
    "%load_ext kfp_notebook\n%config KfpMagics.panel = False",
    "from kfp import dsl\nfrom kfp.dsl import *\nimport kfp_notebook",
    TRAIN,
    EVALUATE,
    PIPELINE,
    "for lr in (0.1, 0.2, 0.3):\n    kfp_notebook.run(experiment, {'lr': lr})",
    "%kfp compare",
    "%kfp show-artifact evaluate",
    "%kfp show-artifact train.data",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("results")
    notebook = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "results.ipynb")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(root, tmp_path_factory.mktemp("results-scratch")) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url.format(path="results.ipynb"))
        page.wait_for_function(KERNEL_READY, timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".kfp-notebook-artifact[data-kind='dataset'] table", timeout=120_000)
        yield page
        browser.close()


def shot(locator, name: str) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_compare_table_marks_the_best_run_and_plots_each_metric(page):
    table = page.locator("table.kfp-notebook-compare")
    assert table.locator("tr.differs th").inner_text() == "lr"
    assert table.locator("td.best").all_inner_texts() == ["0.56 ★", "0.94 ★"]
    plots = page.locator(".kfp-notebook-plots svg.kfp-notebook-plot")
    assert plots.count() == 2 and plots.first.locator("circle.point").count() == 3
    shot(page.locator(".jp-OutputArea-output", has=table), "results-compare")


def test_confusion_matrix_heat_map_shows_counts(page):
    view = page.locator(".kfp-notebook-artifact[data-kind='confusion_matrix']")
    assert view.locator("rect.cell").count() == 4
    assert [t for t in view.locator("svg text").all_text_contents() if t.isdigit()] == ["8", "2", "1", "9"]
    shot(view, "results-confusion-matrix")


def test_roc_curve_is_drawn_with_its_auc(page):
    view = page.locator(".kfp-notebook-artifact[data-kind='roc']")
    assert view.locator("path.roc").get_attribute("d").startswith("M")
    assert "AUC 0.800" in view.locator("svg").text_content()
    box = view.locator("path.roc").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50
    shot(view, "results-roc")


def test_markdown_headings_render_and_its_script_is_text(page):
    view = page.locator(".kfp-notebook-artifact[data-kind='markdown']")
    assert view.locator("h1").inner_text() == "Report" and view.locator("h2").inner_text() == "lr 0.3"
    assert view.locator("script").count() == 0 and "<script>alert(1)</script>" in view.inner_text()
    shot(view, "results-markdown")


def test_html_report_sits_in_a_sandbox_and_its_script_cannot_reach_the_page(page):
    view = page.locator(".kfp-notebook-artifact[data-kind='html']")
    frame = view.locator("iframe")
    assert frame.get_attribute("sandbox") == ""
    assert page.frame_locator(".kfp-notebook-artifact[data-kind='html'] iframe").locator("h1").inner_text() == "Page"
    page.wait_for_timeout(500)
    assert "pwned" not in page.locator("body").inner_text()
    assert page.locator(".jp-Notebook").count() == 1
    shot(view, "results-html")


def test_dataset_preview(page):
    view = page.locator(".kfp-notebook-artifact[data-kind='dataset']")
    assert "CSV · 25 rows" in view.locator("caption").inner_text()
    assert view.locator("tbody tr").count() == 10
    shot(view, "results-dataset")
