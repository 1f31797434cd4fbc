"""The panel in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

Skipped (with how to install) when Chromium or the built lab extension is missing; `make test`
installs both where it can, so CI runs these. Screenshots go to out/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lab_server import CHROMIUM, CHROMIUM_ARGS, KERNEL_READY, jupyterlab

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "out" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Chromium missing: apt-get install chromium (make test does it as root)"
    ),
    pytest.mark.skipif(
        not (ROOT / "kfp_notebook" / "labextension" / "package.json").exists(),
        reason="the lab extension is not built: run `make labextension` (needs Node/npm)",
    ),
]

CELLS = [
    "%load_ext kfp_notebook",
    "from kfp import dsl\nfrom kfp.dsl import Metrics, Output",
    "%%component\ndef square(x: int) -> int:\n    return x * x",
    "%%component\ndef total(values: list, metrics: Output[Metrics]) -> int:\n    metrics.log_metric('sum', float(sum(values)))\n    return sum(values)",
    "%%component\ndef boom(x: int) -> int:\n    raise ValueError('broken on purpose')",
    "%%pipeline\ndef fan(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items) as item:\n        squared = square(x=item)\n    total(values=dsl.Collected(squared.output))",
    "%%pipeline\ndef broken(x: int = 2):\n    b = boom(x=x)\n    square(x=b.output)",
    "%%component --no-cache\ndef nap(seconds: int) -> int:\n    import time\n    time.sleep(seconds)\n    return seconds",
    "%%pipeline\ndef sleepy(seconds: int = 30):\n    nap(seconds=seconds)",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    notebook = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "panel.ipynb")
    with jupyterlab(root, tmp_path_factory.mktemp("lab-scratch")) as url:
        yield root, url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(lab, browser):
    _root, url = lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url.format(path="panel.ipynb"))
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".kfp-panel .kfp-dag svg g.node", timeout=60_000)
    yield page
    page.close()


def panel(page, index: int):
    return page.locator(".kfp-panel").nth(index)


def shot(locator, name: str) -> None:
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_the_dag_shows_tasks_and_groups(page):
    first = panel(page, 0)
    first.locator("svg g.node").first.wait_for()
    assert first.locator("svg g.node").count() == 2
    assert first.locator("svg g.cluster").count() == 1
    assert "ParallelFor" in first.locator("svg g.cluster").text_content()
    assert first.locator(".kfp-submit").is_disabled()
    assert "Connect to Kubeflow" in (first.locator(".kfp-submit").get_attribute("title") or "")
    shot(first, "dag")


def test_compile_writes_the_file_and_offers_a_download(page, lab):
    root, _ = lab
    first = panel(page, 0)
    first.locator(".kfp-compile").click()
    first.locator(".kfp-compiled-path").wait_for(timeout=30_000)
    assert "fan.yaml" in first.locator(".kfp-compiled-path").inner_text()
    assert first.locator("a.kfp-download").get_attribute("download") == "fan.yaml"
    assert (root / "fan.yaml").read_text(encoding="utf-8").startswith("# PIPELINE DEFINITION")


def test_run_locally_colours_the_nodes_and_shows_metrics(page):
    first = panel(page, 0)
    first.locator(".kfp-params input[name='items']").fill("[1, 2, 3, 4]")
    first.locator(".kfp-run").click()
    page.wait_for_function(
        """(panel) => { const nodes = [...panel.querySelectorAll('svg g.node')];
            return nodes.length > 0 && nodes.every(n => n.getAttribute('data-state') === 'SUCCEEDED'); }""",
        arg=first.element_handle(),
        timeout=60_000,
    )
    first.locator(".kfp-metrics-table").wait_for(timeout=30_000)
    assert "30.000" in first.locator(".kfp-metrics-table").inner_text()
    fill = first.locator("svg g.node path, svg g.node polygon").first.get_attribute("fill")
    assert fill == "#c8f0c8"
    shot(first, "run-succeeded")


def test_clicking_a_node_shows_its_details(page):
    first = panel(page, 0)
    first.locator("svg g.node", has_text="total").click()
    first.locator(".kfp-details h4").wait_for(timeout=30_000)
    assert "total" in first.locator(".kfp-details h4").inner_text()
    assert "def total(" in first.locator(".kfp-detail-source pre").text_content(timeout=5_000)
    shot(first, "details")


def test_a_failing_pipeline_turns_red_with_a_message(page):
    second = panel(page, 1)
    second.locator(".kfp-run").click()
    second.locator("svg g.node[data-state='FAILED']").wait_for(timeout=60_000)
    second.locator(".kfp-message.kfp-error").wait_for(timeout=30_000)
    assert "boom failed" in second.locator(".kfp-message").inner_text()
    shot(second, "run-failed")


def test_invalid_parameters_are_refused_at_the_field(page):
    first = panel(page, 0)
    first.locator(".kfp-params input[name='items']").fill("[1, 2")
    first.locator(".kfp-run").click()
    first.locator(".kfp-field-error").wait_for(timeout=30_000)
    assert "not a list" in first.locator(".kfp-field-error").inner_text()


def test_screenshots_were_saved():
    assert {p.stem for p in SCREENSHOTS.glob("*.png")} >= {"dag", "run-succeeded", "details", "run-failed"}


def test_a_double_click_starts_one_run(page, lab):
    root, _ = lab
    before = set((root / "kfp_runs").glob("fan-*"))
    first = panel(page, 0)
    first.locator(".kfp-params input[name='items']").fill("[5]")
    first.locator(".kfp-run").dblclick()
    page.wait_for_function(
        "(panel) => panel.querySelector('.kfp-progress').textContent.startsWith('succeeded · 2/2')",
        arg=first.element_handle(),
        timeout=60_000,
    )
    page.wait_for_timeout(500)
    assert len(set((root / "kfp_runs").glob("fan-*")) - before) == 1


def test_stop_cancels_the_run(page):
    third = panel(page, 2)
    third.locator(".kfp-run").click()
    third.locator("svg g.node[data-state='RUNNING']").wait_for(timeout=60_000)
    assert third.locator(".kfp-stop").is_enabled()
    third.locator(".kfp-stop").click()
    third.locator("svg g.node[data-state='CANCELED']").wait_for(timeout=30_000)
    page.wait_for_function(
        "(panel) => !panel.querySelector('.kfp-run').disabled", arg=third.element_handle(), timeout=30_000
    )
    assert "run stopped" in third.locator(".kfp-message").inner_text()
    shot(third, "run-stopped")


def test_the_panel_works_in_notebook_7(tmp_path, browser):
    notebook = new_notebook(cells=[new_code_cell(c) for c in [*CELLS[:4], CELLS[5]]])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "root").mkdir()
    nbformat.write(notebook, tmp_path / "root" / "seven.ipynb")
    with jupyterlab(tmp_path / "root", tmp_path, app="notebook") as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url.format(path="seven.ipynb"))
        page.wait_for_function(KERNEL_READY, timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".kfp-panel svg g.node", timeout=60_000)
        first = page.locator(".kfp-panel").first
        first.locator(".kfp-run").click()
        page.wait_for_function(
            "(panel) => [...panel.querySelectorAll('svg g.node')].every(n => n.getAttribute('data-state') === 'SUCCEEDED')",
            arg=first.element_handle(),
            timeout=60_000,
        )
        shot(first, "notebook7")
        page.close()
