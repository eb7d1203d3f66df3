"""Write a large synthetic study in parts and report what it cost.

Writes ``seglab.synth_parts.write_study_parts`` output to ``--out`` and prints one row per
configuration: parts, transaction lines, size on disk, seconds and peak memory
(``VmHWM`` of the process doing the writing, interpreter and imports included, about
150 MB). Each configuration runs in its own Python process so its peak is its own.

* ``parts``     ``--part-customers`` customers per part (the set that is kept);
* ``one part``  with ``--compare-one-part``: the same study as a single part, i.e. the
                whole study in memory at once (written next to ``--out``, then removed).

With ``--compare-compression`` a second table re-encodes the first part file with each
codec and times reading it back (pandas, and a DuckDB group-by per customer).

Usage::

    python benchmarks/make_big_study.py --customers 1000000 --lines-per-customer 10 \\
        --out /work/big/s10m --compare-one-part --compare-compression
    nice python benchmarks/make_big_study.py --customers 10000000 --lines-per-customer 10 \\
        --out /work/big/s100m
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

CODECS = ("zstd", "snappy", "none")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def disk_mb(folder: Path) -> float:
    """Space the files under ``folder`` take on disk, in MB."""
    return sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file()) / 2**20


def write(args: argparse.Namespace) -> dict[str, float]:
    """Write the study (in this process) and return its figures."""
    from seglab import synth_parts

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    start = time.perf_counter()
    parts = synth_parts.write_study_parts(
        args.out,
        args.customers,
        seed=args.seed,
        part_customers=args.part_customers,
        lines_per_customer=args.lines_per_customer,
    )
    seconds = time.perf_counter() - start
    return {
        "parts": len(parts.transaction_files),
        "lines": parts.n_transactions,
        "disk_mb": disk_mb(parts.folder),
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "order_rate": parts.order_rate,
    }


def run_child(args: argparse.Namespace, out: Path, part_customers: int) -> dict[str, float]:
    """Write the study in a child process; return its figures."""
    command = [
        sys.executable, __file__, "--child",
        "--customers", str(args.customers),
        "--part-customers", str(part_customers),
        "--seed", str(args.seed),
        "--out", str(out),
    ]
    if args.lines_per_customer is not None:
        command += ["--lines-per-customer", str(args.lines_per_customer)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def compare_compression(part_file: Path, scratch: Path, repeat: int = 3) -> list[dict]:
    """Re-encode one part file with each codec; time writing and reading it back."""
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq

    from seglab import synth_parts

    table = pq.read_table(part_file)
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    for codec in CODECS:
        file = scratch / f"{codec}.parquet"
        start = time.perf_counter()
        pq.write_table(table, file, row_group_size=synth_parts.PART_ROW_GROUP_ROWS,
                       compression=codec)
        written = time.perf_counter() - start
        pandas_s, duckdb_s = [], []
        sql = (f"SELECT customer_id, COUNT(*), SUM(amount), MAX(order_date) "
               f"FROM read_parquet('{file}') GROUP BY customer_id")
        for _ in range(repeat):
            start = time.perf_counter()
            pd.read_parquet(file)
            pandas_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            duckdb.sql(sql).fetchall()
            duckdb_s.append(time.perf_counter() - start)
        rows.append({"codec": codec, "rows": table.num_rows, "size_mb": disk_mb(scratch),
                     "write_s": written, "pandas_read_s": min(pandas_s),
                     "duckdb_agg_s": min(duckdb_s)})
        file.unlink()
    shutil.rmtree(scratch)
    return rows


def main() -> None:
    """Parse the arguments, write the study and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines-per-customer", type=float, default=None,
                        help="target mean lines per customer (default: planted, about 35)")
    parser.add_argument("--part-customers", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder to create")
    parser.add_argument("--compare-one-part", action="store_true",
                        help="also write the study as one part (all in memory), then remove it")
    parser.add_argument("--compare-compression", action="store_true",
                        help="compare codecs on the first part file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(write(args)))
        return

    rows = [("parts", run_child(args, args.out, args.part_customers))]
    if args.compare_one_part:
        scratch = args.out.with_name(args.out.name + ".one-part")
        rows.append(("one part", run_child(args, scratch, args.customers)))
        shutil.rmtree(scratch)

    print(f"\n{args.customers:,} customers, lines per customer "
          f"{args.lines_per_customer or 'planted'}, seed {args.seed}, out {args.out}\n")
    print(f"{'method':<9} {'parts':>5} {'lines':>12} {'lines/cust':>10} {'order rate':>10} "
          f"{'disk MB':>8} {'seconds':>8} {'lines/s':>10} {'peak RSS MB':>11}")
    for name, r in rows:
        print(f"{name:<9} {r['parts']:>5} {r['lines']:>12,} {r['lines'] / args.customers:>10.2f} "
              f"{r['order_rate']:>10.4f} {r['disk_mb']:>8.0f} {r['seconds']:>8.1f} "
              f"{r['lines'] / r['seconds']:>10,.0f} {r['peak_rss_mb']:>11.0f}")

    if args.compare_compression:
        part = args.out / "transactions" / "part-00000.parquet"
        codecs = compare_compression(part, args.out.with_name(args.out.name + ".codecs"))
        print(f"\nCodecs on {part} ({codecs[0]['rows']:,} rows; best of 3 reads)\n")
        print(f"{'codec':<7} {'MB':>7} {'write s':>8} {'pandas read s':>14} {'duckdb agg s':>13}")
        for c in codecs:
            print(f"{c['codec']:<7} {c['size_mb']:>7.1f} {c['write_s']:>8.2f} "
                  f"{c['pandas_read_s']:>14.2f} {c['duckdb_agg_s']:>13.2f}")


if __name__ == "__main__":
    main()
