"""Benchmark: keeping artifacts immutable for their consumers, against copying them (the anchor).

Kubeflow gives each task its own copy of its inputs. Locally the candidates are: a copy per consumer
(the anchor, measured here), a reflink (where the filesystem has one), a read-only hard link, or
what kfp-notebook does: seal the producer's files read-only once and watch the consumer (a stat of
each input file before and after it runs). Also the content hash a cache entry records, paid once
when stored and once per hit. Sizes are scaled down (SIZE_MB); the ratios hold for 1 GB.

Run: .venv/bin/python benchmarks/bench_artifacts.py [SIZE_MB]
"""

from __future__ import annotations

import fcntl
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kfp_notebook.backends.local import immutability
from kfp_notebook.backends.local.cache import fingerprint

FICLONE = 0x40049409


def timed(action, repeat: int = 5) -> float:
    times = []
    for index in range(repeat):
        start = time.perf_counter()
        action(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reflink(source: Path, target: Path) -> bool:
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return True
        except OSError:
            return False


def main(size_mb: int) -> None:
    with tempfile.TemporaryDirectory(dir=".") as folder:
        root = Path(folder)
        source = root / "artifact.bin"
        with open(source, "wb") as handle:
            for _ in range(size_mb):
                handle.write(os.urandom(1 << 20))
        copy = timed(lambda i: shutil.copyfile(source, root / f"copy-{i}"))
        link = timed(lambda i: os.link(source, root / f"link-{i}"))
        has_reflink = reflink(source, root / "probe")
        clone = timed(lambda i: reflink(source, root / f"clone-{i}")) if has_reflink else None
        watch = timed(lambda i: immutability.changed(immutability.signature([str(source)]),
                                                     immutability.signature([str(source)])))  # fmt: skip
        seal = timed(lambda i: immutability.seal([str(source)]))
        digest = timed(lambda i: fingerprint(str(source)), repeat=3)
    print(f"artifact of {size_mb} MB; anchor: a copy per consumer = {copy * 1000:.1f} ms (1.00)")
    print(f"  read-only hard link          {link / copy:9.1e}")
    print(f"  reflink                      {clone / copy:9.1e}" if clone else "  reflink                      n/a here")
    print(f"  seal once (chmod)            {seal / copy:9.1e}")
    print(f"  watch one consumer (stat x2) {watch / copy:9.1e}   <- chosen: seal + watch + audit hook")
    print(f"  content hash (cache put/hit) {digest / copy:9.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 256)
