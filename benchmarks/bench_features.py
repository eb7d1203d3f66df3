"""Benchmark: the per-customer RFM table at 1 and 10 million transactions.

Compares, on the same synthetic Parquet file (one row per transaction: customer id,
timestamp, amount; one customer per ten transactions):

* ``floor``          one DuckDB pass: count, first and last date, sum of amount per customer;
* ``seglab``         ``seglab.engine.rfm_table``: lifetimes-exact RFM plus the plain figures
                     (orders, revenue, first/last order, days since, tenure, order value);
* ``seglab_full``    ``seglab.engine.customer_aggregates``: every feature (for information);
* ``pandas``         an idiomatic pandas groupby RFM (last date, count, sum per customer);
* ``seglab_pandas``  ``seglab.features.rfm_summary``: the lifetimes-exact pandas path;
* ``lifetimes``      ``lifetimes.utils.summary_data_from_transaction_data``.

Each method runs in its own Python process, so its peak memory (``VmHWM``, which
includes the interpreter and its imports, about 150 MB) is its own; time is measured
around the call, reading the file included, imports excluded. A method that runs longer than
``--timeout`` seconds is stopped and reported as such.

Usage::

    python benchmarks/bench_features.py                      # 1M and 10M
    python benchmarks/bench_features.py --sizes 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("floor", "seglab", "seglab_full", "pandas", "seglab_pandas", "lifetimes")
AS_OF = "2023-12-31"
DATA_DIR = Path("/tmp/seglab-bench")


def make_data(n: int, path: Path, seed: int = 0) -> None:
    """Write ``n`` synthetic transactions over two years, n / 10 customers, to Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    customers = rng.integers(0, max(n // 10, 1), n)
    ids = np.char.add("C", np.char.zfill(customers.astype(str), 8))
    start = np.datetime64("2022-01-01T00:00:00", "s")
    dates = (start + rng.integers(0, 2 * 365 * 86400, n)).astype("datetime64[us]")
    amount = np.round(rng.lognormal(3.0, 1.0, n), 2)
    table = pa.table({"customer_id": pa.array(ids), "order_date": pa.array(dates),
                      "amount": amount})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def run_method(method: str, path: str) -> int:
    """Run one method on ``path`` (in this process) and return the number of customers."""
    import pandas as pd

    as_of = pd.Timestamp(AS_OF)
    if method == "floor":
        import duckdb

        con = duckdb.connect()
        sql = ("SELECT customer_id, COUNT(*) AS n, MIN(order_date) AS first, "
               "MAX(order_date) AS last, SUM(amount) AS amount "
               f"FROM read_parquet('{path}') GROUP BY customer_id")
        return len(con.sql(sql).to_arrow_table().to_pandas())
    if method == "seglab":
        from seglab import engine

        return len(engine.rfm_table(path, as_of=as_of))
    if method == "seglab_full":
        from seglab import engine

        return len(engine.customer_aggregates(path, as_of=as_of))
    from seglab.analysis_date import day_end

    tx = pd.read_parquet(path)
    tx = tx[tx["order_date"] < day_end(as_of)]
    if method == "pandas":
        rfm = tx.groupby("customer_id").agg(
            last=("order_date", "max"), frequency=("order_date", "size"),
            monetary=("amount", "sum"))
        rfm["recency"] = (as_of - rfm["last"]).dt.days
        return len(rfm)
    if method == "seglab_pandas":
        from seglab import features

        return len(features.rfm_summary(tx, as_of=as_of))
    if method == "lifetimes":
        from lifetimes.utils import summary_data_from_transaction_data

        return len(summary_data_from_transaction_data(
            tx, "customer_id", "order_date", "amount", observation_period_end=as_of))
    raise ValueError(method)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` of ``/proc/self/status`` where there is one: unlike ``ru_maxrss`` it is
    not inherited from the parent across ``fork`` and ``exec``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, path: str) -> None:
    """Time one method and print a JSON line: seconds, cpu seconds, peak MB, customers."""
    # Imports stay outside the timed section.
    import duckdb  # noqa: F401
    import pandas  # noqa: F401

    if method.startswith("seglab"):
        import seglab.engine  # noqa: F401
    if method == "lifetimes":
        import lifetimes.utils  # noqa: F401

    start, cpu = time.perf_counter(), time.process_time()
    customers = run_method(method, path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_mb = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb,
                      "customers": customers}))


def measure(method: str, path: Path, timeout: float) -> dict:
    """Run ``method`` in a fresh process; ``{"timeout": True}`` if it takes too long."""
    command = [sys.executable, __file__, "--worker", method, str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate the data, run every method at every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; best kept")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    rows = []
    for n in args.sizes:
        path = DATA_DIR / f"transactions_{n}.parquet"
        if not path.exists():
            make_data(n, path)
        path.read_bytes()  # warm the page cache for every method alike
        results = {}
        for method in args.methods:
            runs = [measure(method, path, args.timeout) for _ in range(args.repeat)]
            good = [r for r in runs if "seconds" in r]
            results[method] = min(good, key=lambda r: r["seconds"]) if good else runs[0]
            print(f"  {n:>11,} {method:<14} {results[method]}", file=sys.stderr, flush=True)
        floor = results.get("floor", {}).get("seconds")
        for method, result in results.items():
            rows.append((n, method, result, floor))

    print(f"\n{'transactions':>13} {'method':<14} {'seconds':>8} {'cpu s':>7} "
          f"{'x floor':>8} {'peak MB':>8} {'customers':>10}")
    for n, method, result, floor in rows:
        if "seconds" not in result:
            note = (f"stopped after {args.timeout:.0f} s" if result.get("timeout")
                    else f"failed: {result.get('error')}")
            print(f"{n:>13,} {method:<14} {note}")
            continue
        ratio = f"{result['seconds'] / floor:8.1f}" if floor else f"{'':>8}"
        print(f"{n:>13,} {method:<14} {result['seconds']:8.2f} {result['cpu']:7.2f} "
              f"{ratio} {result['peak_mb']:8.0f} {result['customers']:>10,}")


if __name__ == "__main__":
    main()
