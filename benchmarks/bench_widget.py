"""Benchmark: the pipeline panel. Kernel side always; browser side when Chromium and the lab extension exist.

Kernel: DOT and panel for a 200-task pipeline, and 1,000 task events coalesced into trait updates.
Browser (JupyterLab on 127.0.0.1, headless Chromium): the 200-task DAG drawn after the cell finishes
(target ≤ 0.5 s) and a state change repainted (target ≤ 50 ms, without re-layout).

Run: .venv/bin/python benchmarks/bench_widget.py
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

import kfp_notebook
from kfp_notebook.ir import PipelineIR
from kfp_notebook.status import RunHandle, TaskEvent, TaskState, TaskStatus
from kfp_notebook.view import dag as graph

ROOT = Path(__file__).resolve().parent.parent
TASKS = 200
CELLS = [
    "%load_ext kfp_notebook",
    "from kfp import dsl",
    "%%component\ndef step(x: int) -> int:\n    return x + 1",
    "%%pipeline\ndef big(x: int = 1):\n    t = step(x=x)\n    for i in range("
    + str(TASKS - 1)
    + "):\n        t = step(x=t.output) if i % 2 else step(x=x)\n",
]


def kernel_side() -> None:
    shell = InteractiveShell.instance()
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in CELLS:
            shell.run_cell(cell).raise_error()
    pipeline = shell.user_ns["big"]
    start = time.perf_counter()
    dot = graph.to_dot(graph.dag_model(PipelineIR.from_pipeline(pipeline))).source
    dot_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    panel = kfp_notebook.show(pipeline)
    panel_ms = (time.perf_counter() - start) * 1000
    print(
        f"kernel: DOT for {TASKS} tasks {dot_ms:.1f} ms ({len(dot):,} chars); panel {panel_ms:.1f} ms (static SVG by dot: {panel.static_svg is not None})"
    )
    coalescing(panel)


def coalescing(panel: kfp_notebook.view.panel.PipelinePanel) -> None:
    handle = RunHandle("bench", "big", "local")
    for member in panel.model.nodes:
        handle.tasks[member] = TaskStatus(member, member, component="comp-step")
    panel.handle = handle
    updates = []
    panel.observe(lambda change: updates.append(1), names=["node_states"])
    handle.subscribe(panel._on_event)
    members = list(panel.model.nodes)
    start = time.perf_counter()
    for index in range(1000):
        handle._publish(TaskEvent("bench", members[index % len(members)], TaskState.RUNNING, time.time()))
    publish_ms = (time.perf_counter() - start) * 1000
    time.sleep(0.3)
    print(
        f"kernel: 1,000 task events published in {publish_ms:.1f} ms → {len(updates)} node_states update(s) sent (coalesced every {kfp_notebook.view.panel.FLUSH_SECONDS * 1000:.0f} ms)"
    )


def browser_side() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from lab_server import CHROMIUM, CHROMIUM_ARGS, KERNEL_READY, jupyterlab

    if not os.path.exists(CHROMIUM) or not (ROOT / "kfp_notebook" / "labextension" / "package.json").exists():
        print("browser: skipped (needs Chromium and the built lab extension: make labextension browsers)")
        return
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        root.mkdir()
        cells = [
            *CELLS,
            "import kfp_notebook\nfrom kfp_notebook.view import dag as graph\npanel = kfp_notebook.show(big)\npanel",
            "import time\ntime.sleep(3)\npanel.node_states = {graph.node_element_id(m): 'SUCCEEDED' for m in list(panel.model.nodes)[:50]}",
        ]
        notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, root / "big.ipynb")
        with jupyterlab(root, Path(scratch)) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url.format(path="big.ipynb"))
            page.wait_for_function(KERNEL_READY, timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.kfp-panel')].some(p => p.dataset.paintMs && p.querySelectorAll('g.node[data-state=SUCCEEDED]').length >= 50)",
                timeout=120_000,
            )
            render = page.evaluate(
                "() => Math.max(...[...document.querySelectorAll('.kfp-panel')].map(p => Number(p.dataset.renderMs || 0)))"
            )
            paint = page.evaluate(
                "() => Math.max(...[...document.querySelectorAll('.kfp-panel')].map(p => Number(p.dataset.paintMs || 0)))"
            )
            browser.close()
        print(
            f"browser: {TASKS}-task DAG drawn {render:.0f} ms after the panel arrived (target ≤ 500 ms); a state change repainted in {paint:.1f} ms (target ≤ 50 ms), attributes only, no re-layout"
        )


if __name__ == "__main__":
    kernel_side()
    browser_side()
