"""Load, clean and profile a transaction log with seglab, against plain pandas.read_csv.

Each measurement runs in a fresh subprocess so its peak memory (max RSS) is its own.

    .venv/bin/python benchmarks/bench_intake.py [--rows 5000000]

Prints one table: file, rows, method, seconds, peak memory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

SHARED = (Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
          / "online_retail_2010_2011.csv.gz")

METHODS = {
    "pandas.read_csv (dtype=str)": """
import pandas as pd
frame = pd.read_csv(PATH, dtype=str)
rows = len(frame)
""",
    "seglab load_transactions": """
from seglab.io import load_transactions
frame = load_transactions(PATH, columns="online_retail")
rows = len(frame)
""",
    "seglab load + clean": """
from seglab.analysis_date import default_as_of
from seglab.clean import clean_transactions
from seglab.io import load_transactions
frame = load_transactions(PATH, columns="online_retail")
result = clean_transactions(frame, as_of=default_as_of(frame))
rows = result.rows_kept
""",
    "seglab load + clean + profile": """
from seglab import profile
from seglab.analysis_date import default_as_of
from seglab.clean import clean_transactions
from seglab.io import load_transactions
frame = load_transactions(PATH, columns="online_retail")
result = clean_transactions(frame, as_of=default_as_of(frame))
tx = result.transactions
for table in (profile.overview(frame), profile.missing_values(frame),
              profile.volume_by_period(tx, "D"), profile.new_customers_by_month(tx),
              profile.top_items_by_dimension(tx), profile.revenue_concentration(tx),
              profile.distribution_summary(tx)):
    pass
alerts = profile.quality_alerts(frame, result.log)
rows = len(tx)
""",
}


def measure(code: str, path: Path) -> tuple[float, float, int]:
    """Run ``code`` in a subprocess; return seconds, peak RSS in MB and its row count."""
    script = (f"import resource, time\nPATH = {str(path)!r}\n"
              f"started = time.perf_counter()\n{code}\n"
              "print(time.perf_counter() - started, rows,"
              " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[2]) / 1024, int(out[1])


def repeated_file(rows: int, target: Path) -> Path:
    """The real log repeated with shifted customer and invoice ids, ``rows`` lines."""
    if target.exists():
        return target
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    log = pd.read_csv(SHARED, dtype=str, keep_default_na=False)
    copies = []
    for copy in range(-(-rows // len(log))):
        part = log.copy()
        part["InvoiceNo"] = part["InvoiceNo"] + f"{copy:03d}"
        known = part["CustomerID"] != ""
        part.loc[known, "CustomerID"] = (
            part.loc[known, "CustomerID"].astype(float).astype(int) + 100_000 * copy
        ).astype(str)
        copies.append(part)
    big = pd.concat(copies, ignore_index=True).iloc[:rows]
    partial = target.with_suffix(".partial")
    with pa.CompressedOutputStream(str(partial), "gzip") as sink:
        pacsv.write_csv(pa.Table.from_pandas(big, preserve_index=False), sink)
    partial.rename(target)
    return target


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000,
                        help="size of the repeated file (0 to skip)")
    args = parser.parse_args()
    files = [SHARED]
    if args.rows:
        started = time.perf_counter()
        files.append(repeated_file(args.rows, Path(f"/tmp/online_retail_x{args.rows}.csv.gz")))
        print(f"(repeated file ready in {time.perf_counter() - started:.0f} s)")
    print(f"{'file':<34} {'rows':>10} {'method':<32} {'seconds':>8} {'peak MB':>8}")
    for path in files:
        for name, code in METHODS.items():
            seconds, peak, rows = measure(code, path)
            print(f"{path.name:<34} {rows:>10,} {name:<32} {seconds:>8.1f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
