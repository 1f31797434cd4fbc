"""Benchmark: local runs against kfp.local, side by side in one process; prints ratios.

(a) a 3-task chain (make data → transform → evaluate with metrics) vs kfp.local with
    use_venv=False and install_kfp_package=False — target ≤ 1.2× its time;
(b) 4 independent tasks that each sleep 1 s — target ≤ 1.4 s total and ≥ 3× faster than kfp.local;
(c) a task with packages, run twice — the second run ≥ 20× faster than kfp.local with use_venv=True
    (skipped with a message when no package index is reachable);
(d) an empty task in a 20-task chain (target ≤ 10 ms median, ≥ 7× faster than kfp.local): the whole run ÷ 20
    (compile included, the pipeline unchanged since the last run as in a notebook) and the median time from
    one task's start to the next's (from the run's events), each run repeated; and the kernel's memory after
    100 runs;
(e) a 200-task chain of empty tasks — target ≥ 8× faster than kfp.local;
(f) a ParallelFor over 1,000 trivial items on 2 workers — target ≤ 6 s; kfp.local (sequential) measured on
    100 of them, its figure × 10 beside ours;
(g) a 1,000-task pipeline end to end through the magics with its panel shown: %%pipeline, compile (against
    kfp's Compiler on the same pipeline), the run, the panel's updates during it (each one runs on the
    kernel's event loop), the live cell view's updates, `%kfp runs` and `%kfp status` right after.

Run: .venv/bin/python benchmarks/bench_local.py [--quick] [--only d,e,f]
"""

# No `from __future__ import annotations` here: kfp reads the components' annotations at definition.
import argparse
import itertools
import os
import resource
import socket
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp import dsl

import kfp_notebook
from kfp_notebook.tracking.states import TaskState


@dsl.component(install_kfp_package=False)
def make_data(n: int, data: dsl.Output[dsl.Dataset]):
    import json

    with open(data.path, "w") as handle:
        json.dump(list(range(n)), handle)


@dsl.component(install_kfp_package=False)
def transform(data: dsl.Input[dsl.Dataset], doubled: dsl.Output[dsl.Dataset]):
    import json

    with open(data.path) as source, open(doubled.path, "w") as target:
        json.dump([2 * x for x in json.load(source)], target)


@dsl.component(install_kfp_package=False)
def evaluate(data: dsl.Input[dsl.Dataset], metrics: dsl.Output[dsl.Metrics]) -> int:
    import json

    with open(data.path) as source:
        total = sum(json.load(source))
    metrics.log_metric("total", float(total))
    return total


@dsl.pipeline
def chain(n: int = 10):
    made = make_data(n=n)
    doubled = transform(data=made.outputs["data"])
    evaluate(data=doubled.outputs["doubled"])


@dsl.component(install_kfp_package=False)
def sleep_one(i: int) -> int:
    import time

    time.sleep(1)
    return i


@dsl.pipeline
def four_sleeps():
    for i in range(4):
        sleep_one(i=i)


@dsl.component(install_kfp_package=False)
def empty() -> int:
    return 0


@dsl.pipeline
def empties():
    task = empty()
    for _ in range(19):
        task = empty().after(task)


@dsl.pipeline
def long_chain():
    task = empty()
    for _ in range(199):
        task = empty().after(task)


@dsl.component(install_kfp_package=False)
def trivial(i: int) -> int:
    return i


@dsl.pipeline
def fan_out():
    with dsl.ParallelFor(list(range(1000))) as item:
        trivial(i=item)


@dsl.pipeline
def fan_out_100():
    with dsl.ParallelFor(list(range(100))) as item:
        trivial(i=item)


@dsl.component(packages_to_install=["six==1.16.0"])
def with_package() -> str:
    import six

    return six.__version__


@dsl.pipeline
def packaged():
    with_package()


def seconds(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ours(pipeline: Any, folder: Path, **options: Any) -> Any:
    handle = kfp_notebook.run(pipeline, runs_folder=folder, cache=False, **options)
    if handle.state is not TaskState.SUCCEEDED:
        raise RuntimeError(f"our run failed: {handle.message} {[t.message for t in handle.tasks.values()]}")
    return handle


def start_to_start(handle: Any) -> float:
    """The median seconds from one task's start to the next task's start in a chain (from the run's events)."""
    import json

    folder = Path(handle.result().folder)
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    starts = [e["time"] for e in events if e["state"] == "RUNNING" and e["task_id"]]
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(starts))


def kfp_local(pipeline: Any, folder: Path, use_venv: bool = False) -> None:
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=use_venv), pipeline_root=str(folder))
    pipeline()


def median(action: Callable[[], Any], repeat: int) -> float:
    return statistics.median(seconds(action) for _ in range(repeat))


def index_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated parts to run (a,b,c,d,e,f,g)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    repeat = 1 if args.quick else 5
    parts = set(args.only.split(",")) if args.only else set("abcdefg")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        ours(chain, root / "warm")
        kfp_local(chain, root / "warm-kfp")
        if parts <= {"d", "e", "f"}:
            return per_task(root, parts, repeat)
        a_ours = median(lambda: ours(chain, root / "a"), repeat)
        a_kfp = median(lambda: kfp_local(chain, root / "a-kfp"), repeat)
        print(
            f"(a) 3-task chain: ours {a_ours:.2f} s, kfp.local {a_kfp:.2f} s → {a_ours / a_kfp:.2f}× its time (target ≤ 1.2×)"
        )
        b_ours = seconds(lambda: ours(four_sleeps, root / "b", workers=4))
        b_kfp = seconds(lambda: kfp_local(four_sleeps, root / "b-kfp"))
        print(
            f"(b) 4 × sleep 1 s: ours {b_ours:.2f} s (target ≤ 1.4 s), kfp.local {b_kfp:.2f} s → {b_kfp / b_ours:.1f}× faster (target ≥ 3×)"
        )
        packages(root)
        per_task(root, {"d", "e", "f"}, repeat)
        thousand(root / "g")
        memory(root, 30 if args.quick else 100)


def per_task(root: Path, parts: set[str], repeat: int) -> None:
    """(d), (e) and (f): ours and kfp.local alternately, so that both see the same load."""
    print(f"load average before: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    if "d" in parts:
        ours(empties, root / "d")  # its YAML compiled once, as a notebook's second run finds it
        whole, between, theirs = [], [], []
        for _ in range(max(3, repeat)):
            start = time.perf_counter()
            handle = ours(empties, root / "d")
            whole.append((time.perf_counter() - start) / 20)
            between.append(start_to_start(handle))
            theirs.append(seconds(lambda: kfp_local(empties, root / "d-kfp")) / 20)
        d_ours, d_kfp, d_between = statistics.median(whole), statistics.median(theirs), statistics.median(between)
        print(
            f"(d) empty task in a 20-task chain: ours {d_ours * 1000:.1f} ms per task (whole run ÷ 20), "
            f"{d_between * 1000:.1f} ms start to start (median); kfp.local {d_kfp * 1000:.1f} ms → "
            f"{d_kfp / d_ours:.1f}× faster (targets ≤ 10 ms, ≥ 7×); runs: ours {[round(w * 1000, 1) for w in whole]} "
            f"ms, kfp.local {[round(t * 1000, 1) for t in theirs]} ms"
        )
    if "e" in parts:
        e_ours, e_kfp = [], []
        for _ in range(2):
            e_ours.append(seconds(lambda: ours(long_chain, root / "e")))
            e_kfp.append(seconds(lambda: kfp_local(long_chain, root / "e-kfp")))
        ratios = [k / o for o, k in zip(e_ours, e_kfp, strict=True)]
        print(
            f"(e) 200-task chain: ours {[round(o, 2) for o in e_ours]} s, kfp.local {[round(k, 1) for k in e_kfp]} s "
            f"→ {[round(r, 1) for r in ratios]}× faster (target ≥ 8×)"
        )
    if "f" in parts:
        f_ours = [seconds(lambda: ours(fan_out, root / "f", workers=2)) for _ in range(2)]
        f_kfp = seconds(lambda: kfp_local(fan_out_100, root / "f-kfp")) * 10
        print(
            f"(f) ParallelFor of 1,000 items, 2 workers: ours {[round(f, 1) for f in f_ours]} s (target ≤ 6 s); "
            f"kfp.local 100 items × 10: {f_kfp:.0f} s → {f_kfp / min(f_ours):.1f}× faster"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f} (1 min)")


def packages(root: Path) -> None:
    if not index_reachable():
        print("(c) skipped: no package index reachable (needs PyPI for kfp.local's venv)")
        return
    ours(packaged, root / "c")
    second = seconds(lambda: ours(packaged, root / "c"))
    kfp_venv = seconds(lambda: kfp_local(packaged, root / "c-kfp", use_venv=True))
    print(
        f"(c) task with packages, second run: ours {second:.2f} s, kfp.local use_venv {kfp_venv:.2f} s → {kfp_venv / second:.0f}× faster (target ≥ 20×)"
    )


def thousand(root: Path) -> None:
    import contextlib
    import io

    from IPython.core.interactiveshell import InteractiveShell

    from kfp_notebook.view import panel as panel_module
    from kfp_notebook.view import run_summaries

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "kfp_notebook")
    root.mkdir(parents=True)
    os.chdir(root)

    def cell(text: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_cell(text).raise_error()

    def timed(function: Callable[..., Any], samples: list[float]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                samples.append(time.perf_counter() - start)

        return wrapper

    cell("%%component --no-cache\ndef one(i: int) -> int:\n    return i\n")
    define = seconds(lambda: cell("%%pipeline\ndef thousand():\n    for i in range(1000):\n        one(i=i)\n"))
    ours_compile = seconds(lambda: cell("%kfp compile thousand"))
    theirs_compile = seconds(lambda: compiler_compile(shell.user_ns["thousand"], root / "kfp.yaml"))
    flushes: list[float] = []
    views: list[float] = []
    flush_owner = panel_module.PipelinePanel
    real_flush, real_progress = flush_owner.flush, run_summaries.progress
    flush_owner.flush = timed(real_flush, flushes)
    run_summaries.progress = timed(real_progress, views)
    try:
        run = seconds(lambda: cell("%kfp run thousand"))
    finally:
        flush_owner.flush, run_summaries.progress = real_flush, real_progress
    runs = seconds(lambda: cell("%kfp runs"))
    status = seconds(lambda: cell("%kfp status"))
    print(
        f"(g) 1,000 tasks through the magics: %%pipeline {define:.1f} s, %kfp compile {ours_compile:.2f} s "
        f"(kfp's Compiler {theirs_compile:.2f} s), %kfp run {run:.1f} s ({run:.1f} ms per task); "
        f"panel updates {len(flushes)}, mean {statistics.mean(flushes) * 1000:.0f} ms, max {max(flushes) * 1000:.0f} ms; "
        f"live view updates mean {statistics.mean(views) * 1000:.1f} ms; %kfp runs {runs * 1000:.0f} ms, "
        f"%kfp status {status * 1000:.0f} ms"
    )


def compiler_compile(pipeline: Any, path: Path) -> None:
    from kfp import compiler

    compiler.Compiler().compile(pipeline, str(path))


def memory(root: Path, runs: int) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(runs):
        ours(chain, root / "m")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"(d) kernel memory: peak {after / 1024:.0f} MB after {runs} runs ({(after - before) / 1024:+.1f} MB over those runs)"
    )


if __name__ == "__main__":
    main()
