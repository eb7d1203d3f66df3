"""Time UMAP's first fit in a new process: umap-learn as shipped against seglab's cache.

Usage::

    .venv/bin/python benchmarks/bench_umap_startup.py
    .venv/bin/python benchmarks/bench_umap_startup.py --customers 2000 --repeats 3

umap-learn compiles its numba kernels (``fast_knn_indices``, ``smooth_knn_dist``, the
layout epoch, ...) without numba's on-disk cache, so every new process (every kernel of
notebook 03, every ``seglab run``) compiles them again before its first fit.
``seglab.cluster._import_umap`` switches them to the cache. Each row is a fresh Python
process that imports umap either way, fits UMAP once on ``--customers`` random points with
five features (seeded) and prints the import and fit seconds; the cache folder is a new
one per benchmark run, filled by an untimed warm-up process per way first, so the rows show
a process that finds the cache as a second ``seglab run`` would. The embeddings of both ways
are compared: the same machine code gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
started = time.perf_counter()
if sys.argv[1] == "seglab":
    from seglab import cluster
    umap = cluster._import_umap()
else:
    import umap
imported = time.perf_counter()
points = np.random.default_rng(0).normal(size=(int(sys.argv[2]), 5))
embedding = umap.UMAP(n_neighbors=15, random_state=0, n_jobs=1).fit_transform(points)
print(json.dumps({"import_s": imported - started, "fit_s": time.perf_counter() - imported,
                  "first": embedding[:3].round(6).tolist()}))
"""


def child(way: str, customers: int, cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", CHILD, way, str(customers)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-numba-") as cache:
        for way in ("umap-learn", "seglab"):
            child(way, args.customers, cache)  # fills the cache, as a first run would
            rows += [(way, child(way, args.customers, cache)) for _ in range(args.repeats)]
    print(f"UMAP's first fit in a new process, {args.customers:,} points, cache warm\n")
    print(f"{'way':<12}{'import_s':>10}{'fit_s':>8}")
    for way, row in rows:
        print(f"{way:<12}{row['import_s']:>10.2f}{row['fit_s']:>8.2f}")
    same = len({json.dumps(row["first"]) for _, row in rows}) == 1
    print(f"\nsame embedding both ways: {same}")


if __name__ == "__main__":
    main()
