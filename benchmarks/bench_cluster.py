"""Time clustering at 20k to 10M customers; print a table.

Usage::

    NUMBA_CACHE_DIR=.cache/numba .venv/bin/python benchmarks/bench_cluster.py
    .venv/bin/python benchmarks/bench_cluster.py --sizes 20000,100000 --methods kmeans,gmm
    .venv/bin/python benchmarks/bench_cluster.py --full   # also the whole comparison
    nice .venv/bin/python benchmarks/bench_cluster.py --stage   # the whole stage, 1M and 10M

The customer table: the embedded synthetic study (generator, then the DuckDB feature
engine on its transactions without the cleaning step, then the rule segments) at
``--base`` customers (default 20,000; 200,000 with ``--stage``); larger tables are drawn
from it with replacement under new ids and jittered (amounts, counts and days times
``exp(N(0, 0.03))``, shares plus ``N(0, 0.005)``; rule segments and the planted segment
are the drawn customer's), so they keep the planted segments without running the
generator at ten million customers.

**Per method** (default): each method is fitted on ``--fit-sample`` customers (the
stage's ``fit_sample``; Ward builds its tree on 5,000 of them) at k=6 and then assigns
everyone with ``predict`` in chunks of 100,000. Columns: ``fit_s`` and ``assign_s``
(wall seconds), ``peak_mb`` (largest growth of the process's resident memory during fit
and assignment, sampled every 20 ms; memory freed by an earlier step and reused shows as
no growth), ``rss_mb`` (the process's peak resident memory then, the customer table
included), ``k`` found, ``noise`` share and ``ari_truth`` on
all customers. ``--full`` adds one row per size for :func:`seglab.cluster.compare_methods`
with the stage's defaults (k 2-8, 3 refits for stability, all five methods).

**Whole stage** (``--stage``): for each size a run folder holds the grown table as
``customers.parquet`` and the planted segments as ``inputs/truth.csv``, and
:func:`seglab.study.cluster_stage` runs on it with its defaults in a fresh Python process
(as a notebook kernel would), once with the new path (methods compared on a random
``compare_sample`` of customers, then the chosen method assigns everyone in chunks) and,
up to ``--old-max`` customers, once with the old path (``compare_sample`` above the
customers: every method assigns every customer). Columns: ``compare_s`` (the comparison
of all methods and rule baselines), ``assign_s`` (the chosen method assigning everyone),
``other_s`` (the rest: reading the table and the planted segments, the transform, writing
``customers.parquet`` (and ``customers.csv`` up to ``study.CSV_ROWS`` customers), profile,
summary, map), ``stage_s`` (the whole stage), ``cpu_s`` (its CPU seconds: the machine is
shared, so wall seconds vary with the load), ``peak_rss_mb`` (the process's peak resident
memory, ``VmHWM``, the table included),
``chosen`` method and k, ``ari_sample`` (chosen method, compared customers) and
``ari_all`` (its ``cluster`` column, every customer) against the planted segments.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
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

from seglab import analysis_date, cluster, feature_transform, segments, study, synth
from seglab.runfolder import RunFolder, StudyMeta, write_study
from seglab.support import DataSupport

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

    synthetic = synth.make_study(n, seed=seed)
    as_of = analysis_date.default_as_of(synthetic.transactions)
    table = engine.customer_aggregates(synthetic.transactions, as_of=as_of,
                                       customers=synthetic.customers)
    table = segments.rule_segments(table)
    return table.merge(synthetic.truth, on="customer_id", how="left")


def grow(table: pd.DataFrame, n: int, seed: int, *, first_id: int = 0) -> pd.DataFrame:
    """Draw ``n`` customers from ``table`` with replacement and jitter their features.

    The new customers are numbered from ``first_id`` (``B00000000``, ...).
    """
    if n <= len(table):
        return table.iloc[:n].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    out = table.iloc[rng.integers(0, len(table), n)].reset_index(drop=True)
    numeric = [c for c in out if isinstance(out[c].dtype, np.dtype) and out[c].dtype.kind in "fi"]
    for column in numeric:
        values = out[column].to_numpy(dtype=float)
        if column.endswith("_share"):
            out[column] = np.clip(values + rng.normal(0, 0.005, n), 0, 1)
        elif np.nanmin(values) >= 0:
            out[column] = values * np.exp(rng.normal(0, 0.03, n))
    out["customer_id"] = [f"B{i:08d}" for i in range(first_id, first_id + n)]
    return out


def time_method(X: np.ndarray, truth: np.ndarray, method: str, *, fit_sample: int,
                seed: int) -> dict:
    rows = cluster.sample_rows(len(X), fit_sample, seed)
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


STAGE_RUN = """
import json, sys, warnings
warnings.simplefilter("ignore")
from seglab import study
study.cluster_stage(sys.argv[1], **json.loads(sys.argv[2]))
"""


def stage_folder(base: pd.DataFrame, n: int, seed: int, root: Path, *,
                 chunk_size: int = 1_000_000) -> Path:
    """Write a run folder with ``n`` grown customers and their planted segments.

    The table is grown and written ``chunk_size`` customers at a time (seed ``seed + i``
    for the i-th chunk), so this process never holds ten million customers.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / f"customers-{n}"
    run = RunFolder(folder)
    run.inputs.mkdir(parents=True, exist_ok=True)
    truth = run.truth
    writer, schema = None, None
    for part, start in enumerate(range(0, n, chunk_size)):
        table = grow(base, min(chunk_size, n - start), seed + part, first_id=start)
        table[["customer_id", "segment"]].to_csv(truth, index=False, header=part == 0,
                                                 mode="w" if part == 0 else "a")
        arrow = pa.Table.from_pandas(table.drop(columns="segment"), schema=schema,
                                     preserve_index=False)
        if writer is None:
            schema = arrow.schema
            writer = pq.ParquetWriter(run.customers, schema)
        writer.write_table(arrow)
    writer.close()
    # The stage reads the run's settings and the transform notebook 02 fits.
    first = grow(base, min(chunk_size, n), seed, first_id=0)
    feature_transform.save_transform(feature_transform.FeatureTransform().fit(first),
                                     run.feature_transform)
    write_study(run, StudyMeta(
        as_of=analysis_date.default_as_of(first, date_col="last_order"),
        source=f"benchmark: {n:,} grown customers", synthetic=False, seed=seed,
        n_customers=None, engine="duckdb",
        support=DataSupport(columns=(), derived=(), lines=0, customers=n, repeat_customers=n,
                            span_days=365, orders=0)))
    return folder


def time_stage(folder: Path, **params: object) -> dict:
    """Run ``cluster_stage`` on ``folder`` in a fresh process; return its metrics."""
    started = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", STAGE_RUN, str(folder), json.dumps(params)],
                   check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    metrics = json.loads((folder / "metrics.json").read_text())["clustering"]
    chosen = next(m for m in metrics["methods"] if m["method"] == metrics["chosen_method"])
    return {
        "customers": metrics["customers"],
        "compared": metrics["compared_customers"],
        "compare_s": metrics["compare_seconds"],
        "assign_s": metrics["assign_seconds"],
        "other_s": metrics["seconds"] - metrics["compare_seconds"] - metrics["assign_seconds"],
        "stage_s": metrics["seconds"],
        "cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "wall_s": wall,
        "peak_rss_mb": metrics["peak_memory_mb"],
        "chosen": f"{metrics['chosen_method']} k={metrics['k']}",
        "ari_sample": chosen["ari_truth"],
        "ari_all": metrics["ari_truth_all_customers"],
    }


def bench_stage(args: argparse.Namespace) -> None:
    """The whole stage, new path and (up to ``--old-max``) old path, at each size."""
    sizes = [int(s) for s in (args.sizes or "1000000,10000000").split(",")]
    default = inspect.signature(study.cluster_stage).parameters["compare_sample"].default
    compare_sample = args.compare_sample or default
    started = time.perf_counter()
    base = base_table(args.base or 200_000, args.seed)
    print(f"base table: {len(base):,} customers from the synthetic generator in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-", dir=args.work) as root:
        for n in sizes:
            started = time.perf_counter()
            folder = stage_folder(base, n, args.seed, Path(root))
            print(f"{n:>10,} customers: run folder in {time.perf_counter() - started:.1f} s",
                  flush=True)
            paths = [("new: compare a sample, assign the chosen", compare_sample)]
            if n <= args.old_max:
                paths.append(("old: every method assigns everyone", n))
            for name, size in paths:
                row = {"path": name, **time_stage(folder, seed=args.seed,
                                                  compare_sample=size)}
                rows.append(row)
                print("   ", row, flush=True)
    frame = pd.DataFrame(rows)
    print()
    print(frame.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--methods", default=",".join(cluster.METHODS))
    parser.add_argument("--base", type=int, default=None)
    parser.add_argument("--fit-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--stage", action="store_true",
                        help="time the whole cluster_stage (default sizes 1M, 10M)")
    parser.add_argument("--compare-sample", type=int, default=None,
                        help="the stage's compare_sample (default: the stage's default)")
    parser.add_argument("--old-max", type=int, default=1_000_000,
                        help="largest size the old path also runs at (--stage)")
    parser.add_argument("--work", default=None, help="folder for the run folders (--stage)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.stage:
        bench_stage(args)
        return
    sizes = [int(s) for s in (args.sizes or "20000,100000,1000000").split(",")]
    methods = cluster.parse_names(args.methods, what="methods")

    started = time.perf_counter()
    base = base_table(args.base or 20_000, args.seed)
    print(f"base table: {len(base):,} customers from the synthetic generator in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with threadpool_limits(1):
        for n in sizes:
            started = time.perf_counter()
            table = grow(base, n, args.seed)
            grown = time.perf_counter() - started
            started = time.perf_counter()
            transform = feature_transform.FeatureTransform().fit(table)
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
