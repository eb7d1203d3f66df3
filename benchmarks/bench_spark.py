"""Benchmark: the customer table on DuckDB and on Spark (local mode), from the same SQL.

Rows: the cleaned Online Retail log (about 400,000 lines, written to Parquet) and a
synthetic log of ``--lines`` lines (``seglab.synth_parts.write_study_parts``, a folder of
Parquet files), each aggregated by ``seglab.engine.customer_aggregates`` with
``engine="duckdb"`` (all cores) and ``engine="spark"`` (``local[*]``, seglab's own
session settings), twice: the first Spark run includes the JVM's warm-up. Reading the
files is included. Spark's session start is timed on its own. Both engines' tables are
compared (largest relative difference over the float columns; text, integer and date
columns must be equal).

Usage::

    nice python benchmarks/bench_spark.py                   # 5M synthetic lines
    nice python benchmarks/bench_spark.py --lines 1000000 --driver-memory 2g
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

DATA_DIR = Path("/tmp/seglab-bench-spark")


def retail_parquet() -> tuple[Path, pd.Timestamp] | None:
    from conftest import SHARED_RETAIL

    from seglab import analysis_date, clean, io

    if not SHARED_RETAIL.exists():
        return None
    path = DATA_DIR / "online_retail_clean.parquet"
    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = analysis_date.default_as_of(raw)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        clean.clean_transactions(raw, as_of=as_of).transactions.to_parquet(path, index=False)
    return path, as_of


def synthetic_parquet(lines: int) -> tuple[Path, pd.Timestamp]:
    from seglab import synth_parts

    folder = DATA_DIR / f"synthetic_{lines}"
    if not folder.exists():
        synth_parts.write_study_parts(folder, lines // 10, lines_per_customer=10)
    return folder / "transactions", pd.Timestamp("2026-07-01")


def largest_difference(a: pd.DataFrame, b: pd.DataFrame) -> float:
    floats = [c for c in b if pd.api.types.is_float_dtype(b[c])]
    pd.testing.assert_frame_equal(a.drop(columns=floats), b.drop(columns=floats))
    x, y = a[floats].to_numpy(), b[floats].to_numpy()
    both = ~(np.isnan(x) & np.isnan(y))
    return float(np.max(np.abs(x - y)[both] / np.maximum(1.0, np.abs(y[both]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--driver-memory", help="Spark driver memory, e.g. 4g (default "
                        "Spark's 1g).")
    args = parser.parse_args()

    from seglab import engine, spark

    data = [("Online Retail, cleaned", retail_parquet()),
            (f"synthetic, {args.lines:,} lines", synthetic_parquet(args.lines))]
    if args.driver_memory:
        spark.LOCAL_CONF["spark.driver.memory"] = args.driver_memory
    start = time.perf_counter()
    spark.spark_session()
    print(f"Spark session start: {time.perf_counter() - start:.1f} s\n")

    rows = []
    for name, found in data:
        if found is None:
            continue
        path, as_of = found
        tables, seconds = {}, {}
        for kind in ("duckdb", "spark"):
            for attempt in (1, 2):
                start = time.perf_counter()
                tables[kind] = engine.customer_aggregates(path, as_of=as_of, engine=kind)
                seconds[kind, attempt] = time.perf_counter() - start
        for kind in ("duckdb", "spark"):
            rows.append({"data": name, "engine": kind, "customers": len(tables[kind]),
                         "first run s": round(seconds[kind, 1], 1),
                         "second run s": round(seconds[kind, 2], 1)})
        rows[-1]["max rel diff"] = f"{largest_difference(tables['spark'], tables['duckdb']):.1e}"
    print(pd.DataFrame(rows).fillna("").to_string(index=False))


if __name__ == "__main__":
    main()
