"""Time each clustering method at 20k, 100k and 1M customers; print a table.

Usage::

    NUMBA_CACHE_DIR=.cache/numba .venv/bin/python benchmarks/bench_cluster.py
    .venv/bin/python benchmarks/bench_cluster.py --sizes 20000,100000 --methods kmeans,gmm
    .venv/bin/python benchmarks/bench_cluster.py --full   # also the whole comparison

The customer table: the embedded synthetic study (generator, then the DuckDB feature
engine on its transactions without the cleaning step, then the rule segments) at
``--base`` customers (default 20,000); larger tables
are drawn from it with replacement and jittered (amounts, counts and days times
``exp(N(0, 0.03))``, shares plus ``N(0, 0.005)``), so they keep the planted segments
without running the generator at a million customers.

For each size and method, the method is fitted on ``--fit-sample`` customers (the
stage's ``fit_sample``; Ward builds its tree on 5,000 of them) at k=6 and then assigns
everyone with ``predict`` in chunks of 100,000. Columns: ``fit_s`` and ``assign_s``
(wall seconds), ``peak_mb`` (largest growth of the process's resident memory during fit
and assignment, sampled every 20 ms; memory freed by an earlier step and reused shows as
no growth), ``rss_mb`` (the process's peak resident memory then, the customer table
included), ``k`` found, ``noise`` share and ``ari_truth`` on
all customers. ``--full`` adds one row per size for :func:`seglab.cluster.compare_methods`
with the stage's defaults (k 2-8, 3 refits for stability, all five methods).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache"
                                             / "numba"))

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from seglab import cluster, features, segments, synth

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class PeakMemory:
    """Largest growth of resident memory inside a ``with`` block (sampled)."""

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def growth(self) -> float:
        return self.peak - self.start


def base_table(n: int, seed: int) -> pd.DataFrame:
    """The synthetic study's customer table with rule segments and the planted truth."""
    from seglab import engine

    study = synth.make_study(n, seed=seed)
    as_of = features.default_as_of(study.transactions)
    table = engine.customer_aggregates(study.transactions, as_of=as_of,
                                       customers=study.customers)
    table = segments.rule_segments(table)
    return table.merge(study.truth, on="customer_id", how="left")


def grow(table: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Draw ``n`` customers from ``table`` with replacement and jitter their features."""
    if n <= len(table):
        return table.iloc[:n].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    out = table.iloc[rng.integers(0, len(table), n)].reset_index(drop=True)
    for column in out.select_dtypes("number").columns:
        values = out[column].to_numpy(dtype=float)
        if column.endswith("_share"):
            out[column] = np.clip(values + rng.normal(0, 0.005, n), 0, 1)
        elif np.nanmin(values) >= 0:
            out[column] = values * np.exp(rng.normal(0, 0.03, n))
    out["customer_id"] = [f"B{i:08d}" for i in range(n)]
    return out


def time_method(X: np.ndarray, truth: np.ndarray, method: str, *, fit_sample: int,
                seed: int) -> dict:
    rows = cluster._sample(len(X), fit_sample, seed)
    k = 6 if method in cluster.K_METHODS else None
    with PeakMemory() as memory:
        started = time.perf_counter()
        model = cluster.make_method(method, k, random_state=seed).fit(X[rows])
        fitted = time.perf_counter()
        labels = model.predict(X)
        labels[rows] = model.labels_
        assigned = time.perf_counter()
    return {
        "fit_s": fitted - started,
        "assign_s": assigned - fitted,
        "peak_mb": memory.growth,
        "rss_mb": memory.peak,
        "k": model.n_clusters_,
        "noise": float(np.mean(labels < 0)),
        "ari_truth": adjusted_rand_score(truth, labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--methods", default=",".join(cluster.METHODS))
    parser.add_argument("--base", type=int, default=20_000)
    parser.add_argument("--fit-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = cluster.parse_names(args.methods, what="methods")

    started = time.perf_counter()
    base = base_table(args.base, args.seed)
    print(f"base table: {len(base):,} customers from the synthetic generator in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with threadpool_limits(1):
        for n in sizes:
            started = time.perf_counter()
            table = grow(base, n, args.seed)
            grown = time.perf_counter() - started
            started = time.perf_counter()
            transform = cluster.FeatureTransform().fit(table)
            X = transform.transform(table)
            transformed = time.perf_counter() - started
            truth = table["segment"].to_numpy()
            print(f"{n:>9,} customers: table {grown:.1f} s, transform {transformed:.1f} s, "
                  f"{X.shape[1]} features", flush=True)
            for method in methods:
                row = {"customers": n, "method": method,
                       **time_method(X, truth, method, fit_sample=args.fit_sample,
                                     seed=args.seed)}
                rows.append(row)
                print("   ", {k: round(v, 3) if isinstance(v, float) else v
                              for k, v in row.items()}, flush=True)
            if args.full:
                with PeakMemory() as memory:
                    started = time.perf_counter()
                    result = cluster.compare_methods(
                        X, table["revenue"].to_numpy(dtype=float), methods=methods,
                        k_range=range(2, 9), random_state=args.seed, n_resamples=3,
                        fit_sample=args.fit_sample, truth=truth,
                        baselines={c: table[c].to_numpy() for c in cluster.RULE_BASELINES})
                    total = time.perf_counter() - started
                chosen = cluster.pick_method(result.table)
                best = result.table.set_index("method").loc[chosen]
                rows.append({"customers": n, "method": f"compare_methods -> {chosen}",
                             "fit_s": total, "assign_s": np.nan, "peak_mb": memory.growth,
                             "rss_mb": memory.peak, "k": int(best["k"]),
                             "noise": float(best["noise_share"]),
                             "ari_truth": float(best["ari_truth"])})
                print("   ", rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame["total_s"] = frame["fit_s"] + frame["assign_s"].fillna(0)
    print()
    print(frame.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
