"""Benchmark: per-customer work on a large log, bucket by bucket, against the obvious ways.

On the clean partition of a large run (``<run>/transactions/bucket=<n>/``, the first
``--buckets`` buckets), each row runs in its own process (so its peak memory is its own):

- customer features: ``buckets.customer_aggregates`` (one DuckDB thread per bucket,
  two buckets at once: what ``seglab run`` does) against one DuckDB query over the same
  files on one thread (deterministic, the old path) and on two threads (faster, but
  float sums add in varying order between runs);
- P&L line sums: ``profit.line_sums_sql`` per bucket in DuckDB (two at once) against
  pandas' ``profit.line_sums_and_totals`` per bucket (two processes).

Peak memory is the case's own process: for the pandas row that leaves out its two worker
processes (about 1.5 GB each on a 2.5-million-line bucket).

Usage::

    python benchmarks/bench_buckets.py <run folder> --buckets 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CASES = ("features: per bucket, 1 thread each, 2 at once",
         "features: one query, 1 thread",
         "features: one query, 2 threads (not reproducible)",
         "P&L sums: DuckDB per bucket, 2 at once",
         "P&L sums: pandas per bucket, 2 processes")


def run_case(case: int, run: Path, n_buckets: int) -> dict:
    """Run one case here and return its seconds and result size."""
    import functools

    from seglab import buckets, engine, profit, study
    from seglab.runfolder import RunFolder

    inputs = study.load_inputs(run, lines=False)
    part = buckets.Partition(RunFolder(run).clean_partition, inputs.partition.buckets, 0)
    chosen = [b for b in range(n_buckets) if part.files(b)]
    started = time.perf_counter()
    if case == 0:
        linked = buckets.Partition(_linked(chosen, part), n_buckets, 0)  # these buckets only
        rows = len(buckets.customer_aggregates(linked, as_of=inputs.as_of, jobs=2))
    elif case in (1, 2):
        rows = len(engine.customer_aggregates(_linked(chosen, part), as_of=inputs.as_of,
                                              threads=case))
    elif case == 3:
        costs = profit.CostTable()
        tables = buckets.map_queries(
            part, chosen, lambda names: profit.line_sums_sql(names, costs, as_of=inputs.as_of),
            jobs=2)
        rows = sum(t.num_rows for t in tables)
    else:
        work = functools.partial(_pandas_sums, part=part, as_of=inputs.as_of)
        rows = sum(buckets.map_buckets(work, chosen, n_jobs=2))
    import resource

    return {"seconds": time.perf_counter() - started, "rows": rows,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def _linked(chosen: list[int], part) -> Path:
    """A folder of links to the chosen buckets' files: one source for one query."""
    import shutil

    folder = Path("/tmp/seglab-bench-buckets")
    shutil.rmtree(folder, ignore_errors=True)
    for bucket in chosen:
        (folder / f"bucket={bucket}").mkdir(parents=True)
        for file in part.files(bucket):
            (folder / f"bucket={bucket}" / file.name).symlink_to(file)
    return folder


def _pandas_sums(bucket: int, *, part, as_of) -> int:
    from seglab import profit
    from seglab.analysis_date import day_end

    tx = part.read(bucket)
    tx = tx[tx["order_date"] < day_end(as_of)]
    return len(profit.line_sums_and_totals(tx, profit.CostTable())[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder of a large log")
    parser.add_argument("--buckets", type=int, default=8, help="first buckets to use")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.run, args.buckets)))
        return
    print(f"{'case':<52} {'seconds':>8} {'peak MB':>8} {'rows':>10}")
    for number, name in enumerate(CASES):
        out = subprocess.run([sys.executable, __file__, str(args.run), "--buckets",
                              str(args.buckets), "--case", str(number)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<52} {result['seconds']:>8.1f} {result['peak_mb']:>8,} "
              f"{result['rows']:>10,}", flush=True)


if __name__ == "__main__":
    main()
