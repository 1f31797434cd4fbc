"""Benchmark: results views (run history, comparison with plots, visual artifacts) against `import kfp`.

The anchor is what every user of kfp-notebook pays anyway: a cold `import kfp` (≈ 350 ms), measured
here in the same run. The views are built in the kernel with our own SVG code (no matplotlib), so
`%load_ext kfp_notebook` must not grow and drawing a comparison must cost a fraction of the anchor.

Run: .venv/bin/python benchmarks/bench_results.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS, TASKS, METRICS = 200, 5, 4


def cold(statement: str, repeat: int = 5) -> float:
    """Median seconds of `statement` in a fresh Python process (imports included; it may restart the clock `t`)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True) for _ in range(repeat)
    ]
    return statistics.median(float(run.stdout.split()[-1]) for run in runs)


def warm(action, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fake_runs(root: Path) -> None:
    """RUNS local run folders of one pipeline, each with TASKS tasks logging METRICS metrics."""
    for n in range(RUNS):
        tasks = {}
        for t in range(TASKS):
            metadata = {f"m{k}": (n * 7 + t * 3 + k) % 97 / 97 for k in range(METRICS)}
            artifact = {"name": "metrics", "type": {"schemaTitle": "system.Metrics"}, "uri": "", "metadata": metadata}
            tasks[f"task-{t}"] = {
                "task_id": f"task-{t}", "name": f"task-{t}", "component": "c", "state": "SUCCEEDED",
                "artifacts": {"metrics": [artifact]},
            }  # fmt: skip
        run = {
            "run_id": f"bench-{n:04d}", "pipeline": "bench", "state": "SUCCEEDED", "started": 1000.0 + n,
            "finished": 1001.0 + n, "parameters": {"lr": n / RUNS, "depth": n % 5}, "tasks": tasks,
        }  # fmt: skip
        (root / run["run_id"]).mkdir()
        (root / run["run_id"] / "run.json").write_text(json.dumps(run), encoding="utf-8")


def main() -> None:
    anchor = cold("import kfp")
    load_ext = cold(
        "from IPython.core.interactiveshell import InteractiveShell; s = InteractiveShell.instance(); "
        "t = time.perf_counter(); s.run_line_magic('load_ext', 'kfp_notebook')"
    )
    views = cold(
        "import kfp_notebook.view.history, kfp_notebook.view.compare, kfp_notebook.view.artifacts, "
        "kfp_notebook.view.previews, mistune"
    )
    print(f"anchor: cold `import kfp` {anchor * 1000:.0f} ms")
    print(f"%load_ext kfp_notebook (views not imported)   {load_ext * 1000:6.1f} ms  ratio {load_ext / anchor:.3f}")
    print(f"first import of the results views + mistune   {views * 1000:6.1f} ms  ratio {views / anchor:.3f}")

    from kfp_notebook.backends.local.runner import LocalBackend
    from kfp_notebook.view.compare import Comparison, compare_data
    from kfp_notebook.view.history import run_history

    with tempfile.TemporaryDirectory() as folder:
        fake_runs(Path(folder))
        backends = [LocalBackend(folder)]
        history_time = warm(lambda: run_history(backends, "bench"))
        history = run_history(backends, "bench")
        last5 = sorted(history[:5], key=lambda r: r.started or 0)
        compare_time = warm(lambda: Comparison(compare_data(last5))._repr_html_())
        table_time = warm(lambda: history._repr_html_())
        plots = len(compare_data(last5)["plots"])
    print(
        f"history of {RUNS} local runs read             {history_time * 1000:6.1f} ms  ratio {history_time / anchor:.3f}"
    )
    print(
        f"runs table of {RUNS} runs as HTML               {table_time * 1000:6.1f} ms  ratio {table_time / anchor:.3f}"
    )
    print(
        f"compare 5 runs x {TASKS * METRICS} metrics + {plots} SVG plots  "
        f"{compare_time * 1000:6.1f} ms  ratio {compare_time / anchor:.3f}"
    )


if __name__ == "__main__":
    main()
