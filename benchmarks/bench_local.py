"""Benchmark: local runs against kfp.local, side by side in one process; prints ratios.

(a) a 3-task chain (make data → transform → evaluate with metrics) vs kfp.local with
    use_venv=False and install_kfp_package=False — target ≤ 1.2× its time;
(b) 4 independent tasks that each sleep 1 s — target ≤ 1.4 s total and ≥ 3× faster than kfp.local;
(c) a task with packages, run twice — the second run ≥ 20× faster than kfp.local with use_venv=True
    (skipped with a message when no package index is reachable);
(d) the per-task overhead of an empty task in a 20-task chain (target ≤ 25 ms), and the kernel's memory
    after 100 runs;
(e) a 200-task chain of empty tasks — target ≥ 5× faster than kfp.local;
(f) a ParallelFor over 1,000 trivial items with workers = CPU count — target ≤ 1,000 × 25 ms / workers + 2 s;
(g) a 1,000-task pipeline end to end through the magics with its panel shown: %%pipeline, compile (against
    kfp's Compiler on the same pipeline), the run, the panel's updates during it (each one runs on the
    kernel's event loop), the live cell view's updates, `%kfp runs` and `%kfp status` right after.

Run: .venv/bin/python benchmarks/bench_local.py [--quick]
"""

# No `from __future__ import annotations` here: kfp reads the components' annotations at definition.
import argparse
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


def ours(pipeline: Any, folder: Path, **options: Any) -> None:
    handle = kfp_notebook.run(pipeline, runs_folder=folder, cache=False, **options)
    if handle.state is not TaskState.SUCCEEDED:
        raise RuntimeError(f"our run failed: {handle.message} {[t.message for t in handle.tasks.values()]}")


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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    repeat = 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        ours(chain, root / "warm")
        kfp_local(chain, root / "warm-kfp")
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
        d_ours = seconds(lambda: ours(empties, root / "d")) / 20
        d_kfp = seconds(lambda: kfp_local(empties, root / "d-kfp")) / 20
        print(
            f"(d) empty task in a 20-task chain: ours {d_ours * 1000:.0f} ms per task (target ≤ 25 ms), "
            f"kfp.local {d_kfp * 1000:.0f} ms per task → {d_kfp / d_ours:.1f}× faster"
        )
        e_ours = median(lambda: ours(long_chain, root / "e"), repeat if repeat < 3 else 3)
        e_kfp = seconds(lambda: kfp_local(long_chain, root / "e-kfp"))
        print(
            f"(e) 200-task chain: ours {e_ours:.1f} s, kfp.local {e_kfp:.1f} s → {e_kfp / e_ours:.1f}× faster (target ≥ 5×)"
        )
        workers = os.cpu_count() or 1
        f_ours = seconds(lambda: ours(fan_out, root / "f", workers=workers))
        target = 1000 * 0.025 / workers + 2
        print(f"(f) ParallelFor of 1,000 items, {workers} workers: ours {f_ours:.1f} s (target ≤ {target:.1f} s)")
        thousand(root / "g")
        memory(root, 30 if args.quick else 100)


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
