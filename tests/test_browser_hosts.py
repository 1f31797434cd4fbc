"""The same panel in other hosts: marimo (`marimo run`, mo.ui.anywidget) and Notebook 7, live, in headless Chromium.

VS Code and Colab cannot run here (README, "The panel in each host", says how they were checked).
Screenshots go to out/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import nbformat, new_code_cell, new_notebook
from lab_server import CHROMIUM, CHROMIUM_ARGS, KERNEL_READY, browser_marks, free_port, jupyterlab

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "out" / "screenshots"

pytestmark = browser_marks()

#: The pipeline of the marimo notebook, in a module beside it: kfp copies a component's source from its module,
#: and a component defined inside a marimo cell (a nested function) is not found there when the task runs.
PIPELINE_MODULE = """
from kfp import dsl


@dsl.component
def square(x: int) -> int:
    import time
    time.sleep(1)
    return x * x


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.pipeline
def squares(x: int = 3):
    left = square(x=x)
    right = square(x=4)
    add(a=left.output, b=right.output)
"""

#: A marimo notebook: the panel through marimo's anywidget wrapper.
MARIMO_NOTEBOOK = """
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import kfp_notebook
    from squares_pipeline import squares
    return kfp_notebook, mo, squares


@app.cell
def _(kfp_notebook, mo, squares):
    panel = mo.ui.anywidget(kfp_notebook.show(squares))
    panel
    return (panel,)


if __name__ == "__main__":
    app.run()
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _wait_http(url: str, server: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"marimo exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"marimo did not answer in {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("marimo")
    (root / "panel_app.py").write_text(MARIMO_NOTEBOOK, encoding="utf-8")
    (root / "squares_pipeline.py").write_text(PIPELINE_MODULE, encoding="utf-8")
    port, log_path = free_port(), root / "marimo.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "marimo", "run", "panel_app.py", "--host", "127.0.0.1", "--port", str(port),
               "--headless", "--no-token", "--no-sandbox", "--no-check"]  # fmt: skip
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}/", server, log_path)
            yield f"http://127.0.0.1:{port}/", root
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


def all_in_state(page, panel, state: str, timeout: int = 90_000) -> None:
    page.wait_for_function(
        f"""(panel) => {{ const nodes = [...panel.querySelectorAll('svg g.node')];
            return nodes.length > 0 && nodes.every(n => n.getAttribute('data-state') === '{state}'); }}""",
        arg=panel.element_handle(),
        timeout=timeout,
    )


def test_the_panel_runs_live_in_marimo(browser, marimo_url):
    url, root = marimo_url
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        page.goto(url)
        panel = page.locator(".kfp-panel").first
        panel.locator("svg g.node").first.wait_for(timeout=90_000)
        assert panel.locator("svg g.node").count() == 3
        shot = SCREENSHOTS / "marimo-dag.png"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel.screenshot(path=str(shot))
        panel.locator(".kfp-run").click()
        panel.locator("svg g.node[data-state='RUNNING']").first.wait_for(timeout=90_000)  # live: states change
        assert panel.locator(".kfp-run").inner_text() == "Running…"
        all_in_state(page, panel, "SUCCEEDED")
        assert panel.locator(".kfp-progress").inner_text().startswith("succeeded · 3/3 tasks")
        assert list((root / "kfp_runs").glob("squares-*")), "the run was written next to the marimo notebook"
        panel.locator("svg g.node", has_text="add").click()
        panel.locator(".kfp-side .kfp-state-line").wait_for(timeout=30_000)
        panel.locator(".kfp-side .kfp-tab[data-tab='Outputs']").click()
        assert "25" in panel.locator(".kfp-side .kfp-values").inner_text()
        panel.screenshot(path=str(SCREENSHOTS / "marimo-run.png"))
        panel.locator(".kfp-popout").click()  # problem 11's overlay works where the panel sits in a shadow root
        popped = page.locator(".kfp-panel.kfp-popped")
        popped.wait_for(timeout=10_000)
        assert popped.bounding_box()["width"] >= 1298
        page.screenshot(path=str(SCREENSHOTS / "marimo-popout.png"))
        page.keyboard.press("Escape")
        popped.wait_for(state="detached", timeout=10_000)
    finally:
        page.close()


def test_the_panel_runs_live_and_pops_out_in_notebook_7(tmp_path, browser):
    cells = [
        "%load_ext kfp_notebook",
        "%%component\ndef square(x: int) -> int:\n    import time\n    time.sleep(1)\n    return x * x",
        "%%pipeline\ndef twice(x: int = 2):\n    square(x=square(x=x).output)",
    ]
    notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "root").mkdir()
    nbformat.write(notebook, tmp_path / "root" / "seven.ipynb")
    with jupyterlab(tmp_path / "root", tmp_path, app="notebook") as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        try:
            page.goto(url.format(path="seven.ipynb"))
            page.wait_for_function(KERNEL_READY, timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            panel = page.locator(".kfp-panel").first
            panel.locator("svg g.node").first.wait_for(timeout=60_000)
            panel.locator(".kfp-run").click()
            panel.locator("svg g.node[data-state='RUNNING']").first.wait_for(timeout=60_000)
            all_in_state(page, panel, "SUCCEEDED", 60_000)
            panel.screenshot(path=str(SCREENSHOTS / "notebook7.png"))
            # problem 11: ⤢ did nothing in Notebook 7; now the panel fills the window, and Escape brings it back
            assert panel.locator(".kfp-popout").is_visible()
            panel.locator(".kfp-popout").click()
            popped = page.locator(".kfp-panel.kfp-popped")
            popped.wait_for(timeout=10_000)
            box = popped.bounding_box()
            assert box["width"] >= 1198 and box["height"] >= 898, box
            page.screenshot(path=str(SCREENSHOTS / "notebook7-popout.png"))
            page.keyboard.press("Escape")
            popped.wait_for(state="detached", timeout=10_000)
            assert page.locator(".kfp-panel").count() == 1
        finally:
            page.close()
