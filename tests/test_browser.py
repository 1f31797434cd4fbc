"""The panel (an anywidget) in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

Skipped (with how to install) when Chromium is missing; `make test` installs it where it can, so CI runs
these. The panel's module is the committed bundle (no lab extension). Screenshots go to out/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import nbformat, new_code_cell, new_notebook
from lab_server import CHROMIUM, CHROMIUM_ARGS, KERNEL_READY, browser_marks, jupyterlab

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "out" / "screenshots"

pytestmark = browser_marks()

CELLS = [
    "%load_ext kfp_notebook",
    "from kfp import dsl\nfrom kfp.dsl import Markdown, Metrics, Output",
    "%%component\ndef square(x: int) -> int:\n    return x * x",
    "%%component\ndef total(values: list, metrics: Output[Metrics], report: Output[Markdown]) -> int:\n    metrics.log_metric('sum', float(sum(values)))\n    with open(report.path, 'w') as f:\n        f.write(f'# Total\\n\\nsum **{sum(values)}**')\n    return sum(values)",
    "%%component\ndef boom(x: int) -> int:\n    raise ValueError('broken on purpose')",
    '%%pipeline\ndef fan(items: list = [1, 2, 3]):\n    """Squares each item, then adds them up."""\n    with dsl.ParallelFor(items) as item:\n        squared = square(x=item)\n    total(values=dsl.Collected(squared.output))',
    "%%pipeline\ndef broken(x: int = 2):\n    b = boom(x=x)\n    square(x=b.output)",
    "%%component --no-cache\ndef nap(seconds: int) -> int:\n    import time\n    time.sleep(seconds)\n    return seconds",
    "%%pipeline\ndef sleepy(seconds: int = 30):\n    nap(seconds=seconds)",
    "%%component\ndef shard(x: int) -> int:\n    if x == 13:\n        raise ValueError('bad shard')\n    return x",
    "%%pipeline\ndef shards():\n    with dsl.ParallelFor(list(range(20)), parallelism=4) as i:\n        shard(x=i)",
    "%%pipeline\ndef sixty(x: int = 1):\n    for i in range(30):\n        square(x=square(x=i).output)",
    "%%pipeline\ndef chains():\n    for c in range(10):\n        t = square(x=c)\n        for i in range(19):\n            t = square(x=t.output)",
]
CONTRAST = """(panel) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const paint = colours => { ctx.clearRect(0, 0, 1, 1);
    for (const c of colours) { if (c && c !== 'none') { ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1); } }
    return [...ctx.getImageData(0, 0, 1, 1).data].slice(0, 3); };
  const lum = rgb => rgb.map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const page = getComputedStyle(panel).backgroundColor;
  const result = {};
  for (const item of panel.querySelectorAll('.kfp-legend-item')) {
    const fill = paint([page, getComputedStyle(item.querySelector('rect')).fill]);
    const text = paint([`rgb(${fill})`, getComputedStyle(item.querySelector('text')).fill]);
    result[item.dataset.state] = ratio(fill, text);
  }
  const message = panel.querySelector('.kfp-message');
  if (message && message.textContent) {
    result.error_text = ratio(paint([page]), paint([page, getComputedStyle(message).color]));
  }
  return result;
}"""


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
    for old in SCREENSHOTS.glob("*.png"):
        if not old.stem.startswith(("marimo", "notebook7")):  # the other hosts' (test_browser_hosts.py) stay
            old.unlink()  # screenshots left by an earlier run must not satisfy test_screenshots_were_saved
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


def theme(page, name: str) -> None:
    """Switch JupyterLab's theme ('JupyterLab Light' / 'JupyterLab Dark') and wait until it applies."""
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{ theme: '{name}' }})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === '{name}'", timeout=30_000)
    page.wait_for_timeout(800)


def shots(page, locator, name: str) -> dict[str, dict[str, float]]:
    """Screenshots in the light and the dark theme; the text contrast of every state's fill in each."""
    contrast = {}
    for label, name_of_theme in (("light", "JupyterLab Light"), ("dark", "JupyterLab Dark")):
        theme(page, name_of_theme)
        shot(locator, f"{name}-{label}")
        contrast[label] = locator.evaluate(CONTRAST)
    theme(page, "JupyterLab Light")
    return contrast


def test_the_dag_shows_tasks_and_groups(page):
    first = panel(page, 0)
    first.locator("svg g.node").first.wait_for()
    assert first.locator("svg g.node").count() == 2
    assert first.locator("svg g.cluster").count() == 1
    assert "ParallelFor" in first.locator("svg g.cluster").text_content()
    assert first.locator("svg g.cluster.kfp-loop > .kfp-loop-progress").count() == 1  # found by class
    assert first.locator("svg .kfp-badges").count() == 0  # no task of `fan` has badges
    third = panel(page, 2)
    third.locator("svg g.node").first.wait_for(timeout=30_000)
    assert third.locator("svg g.node.kfp-badged text.kfp-badges").text_content() == "no cache"
    assert first.locator(".kfp-submit").is_disabled()
    assert "Connect to Kubeflow" in (first.locator(".kfp-submit").get_attribute("title") or "")
    assert first.locator(".kfp-run").get_attribute("class").count("kfp-button") == 1
    assert first.locator(".kfp-description").inner_text() == "Squares each item, then adds them up."
    legend = first.locator(".kfp-legend-item")
    assert legend.count() == 11 and "waiting on inputs" in first.locator(".kfp-legend").inner_text()
    background = first.locator("svg").first.evaluate(
        "svg => svg.querySelector('g.graph > polygon')?.getAttribute('fill')"
    )
    assert background in (None, "transparent", "none")
    contrast = shots(page, first, "dag")
    for name, ratios in contrast.items():
        low = {state: round(r, 2) for state, r in ratios.items() if r < 4.5}
        assert not low, f"text on state fills below WCAG AA (4.5:1) in the {name} theme: {low}"


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
    fills = first.locator("svg g.node").first.evaluate("n => getComputedStyle(n.querySelector('path, polygon')).fill")
    pending = first.locator(".kfp-legend-item[data-state='PENDING'] rect").evaluate("r => getComputedStyle(r).fill")
    assert fills != pending
    assert first.locator("svg g.node .kfp-icon").first.text_content() == "✓"
    assert "4/4 iterations" in first.locator(".kfp-progress").inner_text()
    shots(page, first, "run-succeeded")


def test_clicking_a_node_opens_the_details_pane(page, lab):
    first = panel(page, 0)
    first.locator("svg g.node", has_text="total").click()
    pane = first.locator(".kfp-side")
    pane.locator(".kfp-side-title").wait_for(timeout=30_000)
    assert pane.locator(".kfp-side-title").inner_text() == "total"
    assert first.locator("svg g.node.kfp-selected").count() == 1
    # problem 6: the clicked node is outlined in the selection colour over its state's colours
    stroke = "s => { const c = getComputedStyle(s); return [c.stroke, c.strokeWidth]; }"
    chosen = first.locator("svg g.node.kfp-selected[data-state='SUCCEEDED']").locator("path, polygon").first
    other = first.locator("svg g.node[data-state='SUCCEEDED']:not(.kfp-selected)").locator("path, polygon").first
    assert chosen.evaluate(stroke)[1] == "3.5px" and chosen.evaluate(stroke)[0] != other.evaluate(stroke)[0]
    pane.locator(".kfp-state-line").wait_for(timeout=30_000)
    pane.locator(".kfp-tab[data-tab='Outputs']").click()
    assert "30" in pane.locator(".kfp-values").first.inner_text()
    # problem 7: an artifact's link gives its file (sent by the kernel), not an empty workspace
    link = pane.locator("a.kfp-artifact", has_text="report")
    with page.expect_download(timeout=30_000) as download:
        link.click()
    assert download.value.suggested_filename.startswith("report")
    assert Path(download.value.path()).read_bytes() == (lab[0] / link.inner_text()).read_bytes()
    assert len(page.context.pages) == 1, "no other tab opened"
    # problem 7: a visual artifact (Markdown) is drawn in the pane, as the KFP UI draws it on the node
    preview = pane.locator(".kfp-preview[data-kind='markdown']")
    assert preview.locator("h1").inner_text() == "Total" and "sum 30" in preview.inner_text()
    shot(first, "details-outputs")
    pane.locator(".kfp-tab[data-tab='Logs']").click()
    assert "KFP Executor" not in pane.inner_text()
    pane.locator(".kfp-executor-toggle input").check()
    assert "KFP Executor" in pane.inner_text()
    pane.locator(".kfp-tab[data-tab='Source']").click()
    assert "def total(" in pane.locator(".kfp-source").text_content(timeout=5_000)
    shots(page, first, "details")
    pane.locator(".kfp-side-close").click()
    assert pane.is_hidden()


def test_the_keyboard_moves_between_nodes_and_opens_them(page):
    first = panel(page, 0)
    nodes = first.locator("svg g.node")
    nodes.first.focus()
    page.keyboard.press("ArrowRight")
    assert nodes.nth(1).evaluate("n => n === document.activeElement")
    page.keyboard.press("Enter")
    first.locator(".kfp-side .kfp-side-title").wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    assert first.locator(".kfp-side").is_hidden()


def test_zoom_fit_and_actual_size(page):
    first = panel(page, 0)
    svg = first.locator(".kfp-dag svg")
    first.locator(".kfp-actual").click()
    assert first.locator(".kfp-zoom-level").inner_text() == "100%"
    width = svg.evaluate("s => s.getBoundingClientRect().width")
    first.locator(".kfp-zoom-in").click()
    assert first.locator(".kfp-zoom-level").inner_text() == "125%"
    assert svg.evaluate("s => s.getBoundingClientRect().width") > width * 1.2
    box = first.locator(".kfp-dag").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.keyboard.down("Control")
    page.mouse.wheel(0, 200)
    page.keyboard.up("Control")
    assert first.locator(".kfp-zoom-level").inner_text() == "100%"
    first.locator(".kfp-fit").click()
    fitted = svg.evaluate("s => s.getBoundingClientRect().width")
    assert fitted <= first.locator(".kfp-dag").evaluate("d => d.clientWidth")
    shown = int(first.locator(".kfp-zoom-level").inner_text().rstrip("%"))
    assert abs(fitted / width * 100 - shown) <= 1, "the zoom level says the scale the DAG is drawn at"


def pops_out(page, panel_locator, name: str) -> None:
    """⤢ fills the window with the panel (a fixed overlay, in every host), Escape brings it back."""
    panel_locator.locator(".kfp-popout").click()
    popped = page.locator(".kfp-panel.kfp-popped")
    popped.wait_for(timeout=10_000)
    box, size = popped.bounding_box(), page.viewport_size
    assert box["x"] <= 1 and box["y"] <= 1 and box["width"] >= size["width"] - 2 and box["height"] >= size["height"] - 2
    assert popped.locator("svg g.node").count() > 0 and popped.locator(".kfp-popout").get_attribute("title").startswith(
        "Back"
    )
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.keyboard.press("Escape")
    page.locator(".kfp-panel.kfp-popped").wait_for(state="detached", timeout=10_000)


def test_the_panel_pops_out_over_the_window_and_back(page):
    pops_out(page, panel(page, 0), "popout-light")
    first = panel(page, 0)
    assert first.locator("svg g.node[data-state='SUCCEEDED']").count() == 2, "back in its output, states kept"
    assert page.locator(".kfp-panel").count() == 6


def test_a_failing_pipeline_turns_red_with_a_message(page):
    second = panel(page, 1)
    second.locator(".kfp-run").click()
    second.locator("svg g.node[data-state='FAILED']").wait_for(timeout=60_000)
    second.locator(".kfp-message.kfp-error").wait_for(timeout=30_000)
    assert "boom failed: ValueError: broken on purpose" in second.locator(".kfp-failure").inner_text()
    assert second.locator("svg g.node[data-state='NOT_EXECUTED'], svg g.node[data-state='SKIPPED']").count() == 1
    # problem 2: the marker opens the failed task on its traceback, whatever tab was open before
    second.locator("svg g.node", has_text="square").click()
    second.locator(".kfp-side .kfp-tab[data-tab='Logs']").click()
    second.locator(".kfp-side .kfp-tab-logs").wait_for(timeout=10_000)
    second.locator(".kfp-failure-marker").click()
    traceback = second.locator(".kfp-side .kfp-traceback")
    traceback.wait_for(timeout=30_000)
    assert second.locator(".kfp-side .kfp-tab-active").inner_text() == "Overview"
    assert "line 3, in boom" in traceback.inner_text() and "executor_main" not in traceback.inner_text()
    assert second.locator(".kfp-side .kfp-side-title").inner_text() == "boom"
    # the task pane offers the run's debug line, and Retry shows for a failed run
    run_id = second.locator(".kfp-progress").inner_text()
    command = second.locator(".kfp-side .kfp-debug-command").inner_text()
    assert command.startswith("%kfp debug boom --run ") and "--item" not in command
    assert second.locator(".kfp-side .kfp-debug-copy").is_visible()
    assert second.locator(".kfp-retry").is_visible() and not panel(page, 0).locator(".kfp-retry").is_visible()
    assert run_id
    contrast = shots(page, second, "run-failed")
    assert all(ratios["error_text"] >= 4.5 for ratios in contrast.values()), contrast


def test_a_loop_shows_its_iterations_by_state_and_the_failed_item(page):
    fourth = panel(page, 3)
    fourth.locator(".kfp-run").click()
    fourth.locator(".kfp-failure-text").wait_for(timeout=120_000)
    page.wait_for_function(
        "(panel) => panel.querySelector('.kfp-progress').textContent.startsWith('failed')",
        arg=fourth.element_handle(),
        timeout=120_000,
    )
    assert fourth.locator(".kfp-failure-text").inner_text() == "shard [item=13] failed: ValueError: bad shard"
    assert fourth.locator(".kfp-loop-progress").text_content() == "✓19 ✗1 / 20"
    assert "20/20 tasks · 20/20 iterations · 1 failed" in fourth.locator(".kfp-progress").inner_text()
    fourth.locator("svg g.cluster .kfp-loop-progress").click(force=True)
    first_row = fourth.locator(".kfp-side .kfp-iteration").first
    first_row.wait_for(timeout=30_000)
    assert "item=13" in first_row.inner_text() and first_row.get_attribute("data-state") == "FAILED"
    shots(page, fourth, "loop-progress")


def test_a_sixty_task_pipeline_is_readable_when_it_first_shows_and_fit_fits_both_ways(page):
    fifth = panel(page, 4)
    fifth.locator("svg g.node").first.wait_for(timeout=30_000)
    assert fifth.locator("svg g.node").count() == 60
    text = fifth.locator("svg g.node text").first.evaluate("t => t.getBoundingClientRect().height")
    assert text >= 9, (
        f"task names are {text:.1f} px tall at the first scale ({fifth.locator('.kfp-zoom-level').inner_text()})"
    )
    shots(page, fifth, "sixty-tasks")


def test_a_200_task_pipeline_opens_readable_and_fit_shows_all_of_it(page):
    sixth = panel(page, 5)
    sixth.locator("svg g.node").first.wait_for(timeout=60_000)
    assert sixth.locator("svg g.node").count() == 200
    text = sixth.locator("svg g.node text").first.evaluate("t => t.getBoundingClientRect().height")
    assert text >= 9, f"task names are {text:.1f} px tall at first ({sixth.locator('.kfp-zoom-level').inner_text()})"
    shot(sixth, "two-hundred-tasks")
    # problem 3: Fit shows the whole DAG, its height as well as its width
    sixth.locator(".kfp-fit").click()
    svg = sixth.locator(".kfp-dag svg").bounding_box()
    view = sixth.locator(".kfp-dag").evaluate("d => ({ width: d.clientWidth, height: d.clientHeight })")
    assert svg["width"] <= view["width"] + 1 and svg["height"] <= view["height"] + 1, (svg, view)
    shot(sixth, "two-hundred-tasks-fit")


def test_an_svg_with_scripts_or_handlers_shows_without_running_them(page):
    """The DAG's SVG is the kernel's own, but a saved notebook's state can be edited by hand: no script of it runs."""
    code = (
        "from kfp_notebook.session import Session\n"
        "p = Session.current().panels['sixty']\n"
        'p.svg = \'<svg xmlns="http://www.w3.org/2000/svg" onload="window.kfpPwned=1" viewBox="0 0 40 20">\''
        ' \'<script>window.kfpPwned=2</script><g id="kfp-task-x" class="node" onclick="window.kfpPwned=3">\''
        ' \'<polygon points="0,0 40,0 40,20 0,20"/><text x="4" y="14">x</text></g></svg>\''
    )
    page.evaluate(
        "(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({ code }).done.then(() => true)",
        code,
    )
    fifth = panel(page, 4)
    fifth.locator("svg g.node[id='kfp-task-x']").wait_for(timeout=30_000)
    fifth.locator("svg g.node[id='kfp-task-x']").click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.kfpPwned") is None
    assert fifth.locator("svg script").count() == 0 and fifth.locator("svg [onload], svg [onclick]").count() == 0


def test_invalid_parameters_are_refused_at_the_field(page):
    first = panel(page, 0)
    first.locator(".kfp-params input[name='items']").fill("[1, 2")
    first.locator(".kfp-run").click()
    first.locator(".kfp-field-error").wait_for(timeout=30_000)
    assert "is not a JSON list" in first.locator(".kfp-field-error").inner_text()


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


def test_a_run_with_the_same_inputs_is_drawn_cached(page):
    first = panel(page, 0)
    first.locator(".kfp-params input[name='items']").fill("[5]")
    first.locator(".kfp-run").click()
    page.wait_for_function(
        """(panel) => [...panel.querySelectorAll('svg g.node')].every(n => n.getAttribute('data-state') === 'CACHED')""",
        arg=first.element_handle(),
        timeout=60_000,
    )
    assert first.locator("svg g.node .kfp-icon").first.text_content() == "↺"
    shots(page, first, "run-cached")
    # problem 8: a cached task's "outputs reused from run …" is information, not an error
    first.locator("svg g.node", has_text="total").click()
    first.locator(".kfp-side .kfp-tab[data-tab='Overview']").click()
    note = first.locator(".kfp-side .kfp-note")
    note.wait_for(timeout=30_000)
    assert note.inner_text().startswith("outputs reused from run")
    assert first.locator(".kfp-side .kfp-traceback").count() == 0
    error = first.locator(".kfp-legend-item[data-state='FAILED']").evaluate("n => getComputedStyle(n).color")
    assert note.evaluate("n => getComputedStyle(n).color") != error
    first.locator(".kfp-side-close").click()


def test_the_runs_and_compare_views_list_this_pipelines_runs(page):
    first = panel(page, 0)
    first.locator(".kfp-view-tab[data-view='runs']").click()
    table = first.locator(".kfp-table-view table.kfp-runs-table")
    table.wait_for(timeout=30_000)
    assert first.locator(".kfp-pipeline-view").is_hidden()
    assert table.locator("tbody tr").count() >= 3 and "fan-" in table.inner_text()
    checked = table.locator("tbody input[type=checkbox]:checked")
    assert checked.count() == min(5, table.locator("tbody tr").count()), "the newest five are checked at first"
    shot(first, "runs-view")
    table.locator("tbody input[type=checkbox]").nth(1).uncheck()
    chosen = checked.count()
    first.locator(".kfp-compare-checked").click()
    compare = first.locator(".kfp-table-view table.kfp-compare-table")
    compare.wait_for(timeout=30_000)
    assert compare.locator("thead th").count() == chosen + 1, "the checked runs, side by side"
    assert "items" in compare.inner_text() and compare.locator("td.kfp-best").count() >= 1
    shot(first, "compare-view")
    first.locator(".kfp-view-tab[data-view='pipeline']").click()
    assert first.locator(".kfp-dag svg").is_visible() and first.locator(".kfp-table-view").is_hidden()


def test_stop_cancels_the_run(page):
    third = panel(page, 2)
    third.locator(".kfp-run").click()
    third.locator("svg g.node[data-state='RUNNING']").wait_for(timeout=60_000)
    assert third.locator(".kfp-stop").is_enabled()
    # problem 5: Run says it is running, and the disabled buttons look disabled
    run = third.locator(".kfp-run")
    assert run.inner_text() == "Running…" and run.get_attribute("aria-busy") == "true"
    look = "b => { const s = getComputedStyle(b); return [s.opacity, s.cursor, s.backgroundColor]; }"
    compile_look, stop_look = third.locator(".kfp-compile").evaluate(look), third.locator(".kfp-stop").evaluate(look)
    assert float(compile_look[0]) < 0.6 and compile_look[1] == "not-allowed", compile_look
    assert float(stop_look[0]) == 1 and stop_look[1] == "pointer", stop_look
    assert third.locator("svg g.node .kfp-icon").text_content() == "⟳"
    shot(third, "run-running")
    third.locator(".kfp-stop").click()
    third.locator("svg g.node[data-state='CANCELED']").wait_for(timeout=30_000)
    page.wait_for_function(
        "(panel) => !panel.querySelector('.kfp-run').disabled", arg=third.element_handle(), timeout=30_000
    )
    assert "run stopped" in third.locator(".kfp-message").inner_text()
    assert third.locator(".kfp-progress").inner_text().startswith("canceled · 1/1 tasks")
    assert third.locator(".kfp-run").inner_text() == "Run locally"
    stopped = third.locator(".kfp-stop").evaluate(look)
    assert float(stopped[0]) < 0.6 and stopped[1] == "not-allowed", "a disabled Stop is not solid red"
    shot(third, "run-stopped")


def test_after_saving_and_reloading_the_page_the_dag_is_there(page):
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    page.reload()
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    first = page.locator(".kfp-panel").first
    first.locator("svg g.node[data-state='CACHED']").first.wait_for(timeout=60_000)  # its last run
    hidden = page.locator(".jp-OutputArea-child:has(img[src*='kfp_pipeline_picture'])").first
    assert hidden.count() == 1 and hidden.is_hidden(), "the saved picture hides behind the live panel"


def test_reopened_with_a_new_kernel_the_panels_come_back_from_the_saved_notebook(page, lab):
    """Problem 12: the notebook is saved with its panels' widget state (the server extension), so a new kernel's
    notebook draws each panel with its last states and logs no "widget model not found"."""
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.shutdown()")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    saved = nbformat.read(lab[0] / "panel.ipynb", as_version=4)
    assert len(saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]) >= 6
    page.reload()
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    first = page.locator(".kfp-panel").first
    first.locator("svg g.node[data-state='CACHED']").first.wait_for(timeout=60_000)  # its last run, from the file
    # each panel's model is restored on its own: wait (bounded) for all six, not only the first
    page.wait_for_function("() => document.querySelectorAll('.kfp-panel').length >= 6", timeout=30_000)
    assert page.locator(".kfp-panel").count() == 6
    picture = page.locator(".jp-OutputArea-child:has(img[src*='kfp_pipeline_picture'])").first
    assert picture.count() == 1 and picture.is_hidden(), "the picture hides behind the restored panel"
    assert page.get_by_text("model not found").count() == 0
    page.wait_for_timeout(3000)  # the widget manager gives up on a missing model after 2 s
    assert not [m for m in messages if "model not found" in m], messages
    shot(first, "reopened-panel")
    first.locator(".kfp-compile").click()  # no kernel knows this panel: it says so instead of waiting forever
    first.locator(".kfp-local-notice").wait_for(timeout=30_000)
    assert "Run its cell again" in first.locator(".kfp-local-notice").inner_text()


def test_without_the_panel_the_saved_picture_shows_the_last_states(lab):
    """nbconvert, GitHub, a viewer without widgets: the picture output carries the last run's states."""
    saved = nbformat.read(lab[0] / "panel.ipynb", as_version=4)
    pictures = [
        o.data["image/svg+xml"]
        for c in saved.cells
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert "kfp_pipeline_picture" in pictures[0] and "#b2e0e6" in pictures[0], "the fan picture shows its cached tasks"


def test_screenshots_were_saved():
    names = {p.stem for p in SCREENSHOTS.glob("*.png")}
    expected = {
        f"{n}-{t}"
        for n in ("dag", "run-succeeded", "details", "run-failed", "loop-progress")
        for t in ("light", "dark")
    }
    assert names >= expected | {"popout-light", "two-hundred-tasks-fit", "runs-view", "compare-view"}, sorted(
        expected - names
    )
