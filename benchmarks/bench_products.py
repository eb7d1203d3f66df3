"""Benchmark: basket rules per segment in DuckDB SQL against mlxtend, and the offer check.

For each log (the UCI Online Retail log with the ``online_retail`` mapping, and synthetic
studies of the sizes given), the log is cleaned, customers get their RFM segments, and
the orders of sales lines become baskets of product ids. Then, on the same baskets and
thresholds:

* ``seglab``  ``seglab.products.basket_rules``: pairwise co-occurrence in one DuckDB query;
* ``mlxtend_apriori`` per segment, ``TransactionEncoder`` → ``apriori(max_len=2)`` →
  ``association_rules`` (confidence threshold), pairs kept;
* ``mlxtend_fpgrowth`` the same with ``fpgrowth(max_len=2)`` (apriori's candidate array
  of orders x pairs x items does not fit in memory on the UCI log).

Each method runs in its own Python process, so its peak memory (``VmHWM``, interpreter and
imports included) is its own; time is measured around the call, reading the baskets
included. The rule counts of both must agree. Then the offers are checked with a time
split (``seglab.products.evaluate_offers``): precision and recall at N of offers led by
the segment's rules against the segment's best sellers.

With ``--parts DIR`` (a large synthetic study written by ``benchmarks/make_big_study.py``)
it measures the bucketed path instead: the rules of every RFM segment straight from the
Parquet parts with ``seglab.products.partition_rules`` (DuckDB reads the files; the log is
never in pandas), on the first ``--parts-share`` of the parts and on all of them, against
the in-memory path (``baskets`` + ``basket_rules`` on a DataFrame) on the smaller share.
The RFM segments come first, from one DuckDB query per customer (their cost is shown on
its own row), and are handed to each method as a file.

Usage::

    nice python benchmarks/bench_products.py                     # UCI and 2,000 synthetic
    nice python benchmarks/bench_products.py --synthetic 2000,50000 --min-support 0.002
    nice python benchmarks/bench_products.py --parts /work/big/s100m --parts-share 0.1
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

DATA_DIR = Path("/tmp/seglab-bench-products")
SHARED_RETAIL = (Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
                 / "online_retail_2010_2011.csv.gz")


def prepare(source: str) -> tuple[object, object, object]:
    """Clean ``source`` ("uci" or "synthetic:<n>") and return transactions, segments, as_of."""
    from seglab import analysis_date, clean, engine, io, segments, synth

    if source == "uci":
        raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    else:
        raw = synth.make_study(int(source.split(":")[1]), seed=0).transactions
    as_of = analysis_date.default_as_of(raw)
    kept = clean.clean_transactions(raw, as_of=as_of).transactions
    table = engine.customer_aggregates(kept, as_of=as_of)
    labels = segments.rfm_segments(table)["rfm_segment"]
    return kept, labels.set_axis(table["customer_id"].astype(str)), as_of


def peak_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_method(method: str, path: str, min_support: float, min_confidence: float) -> dict:
    """Rules of one method on the baskets at ``path``, timed, in this process."""
    import pandas as pd

    if method.startswith("mlxtend"):
        from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth
        from mlxtend.preprocessing import TransactionEncoder
    else:
        from seglab import products
    started = time.perf_counter()
    table = pd.read_parquet(path)
    if method == "seglab":
        rules = products.basket_rules(table, min_support=min_support,
                                      min_confidence=min_confidence, min_pair_orders=1,
                                      max_rules=0)
        count = len(rules)
    else:
        count = 0
        for _, group in table.groupby("segment"):
            orders = group.groupby("order_id")["item"].apply(list).tolist()
            encoder = TransactionEncoder()
            onehot = pd.DataFrame(encoder.fit(orders).transform(orders),
                                  columns=encoder.columns_)
            find = apriori if method == "mlxtend_apriori" else fpgrowth
            try:
                frequent = find(onehot, min_support=min_support, use_colnames=True, max_len=2)
            except MemoryError as error:
                return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb(),
                        "rules": f"out of memory ({str(error).split(' for ')[0]})"}
            if frequent["itemsets"].map(len).max() < 2:
                continue
            found = association_rules(frequent, num_itemsets=len(orders),
                                      metric="confidence", min_threshold=min_confidence)
            count += int(((found["antecedents"].map(len) == 1)
                          & (found["consequents"].map(len) == 1)).sum())
    return {"seconds": time.perf_counter() - started, "rules": count, "peak_mb": peak_mb()}


RFM_SQL = """
SELECT CAST(customer_id AS VARCHAR) AS customer_id,
       date_diff('day', max(CAST(order_date AS DATE)), DATE '{as_of}') AS days_since_last_order,
       count(DISTINCT order_id) AS orders,
       sum(amount) AS revenue
FROM read_parquet({files})
WHERE amount > 0 AND CAST(order_date AS DATE) < DATE '{as_of}'
GROUP BY 1
"""


def part_files(folder: str, share: float) -> list[str]:
    """The first ``share`` of a large study's part files (at least one)."""
    files = sorted(str(path) for path in (Path(folder) / "transactions").glob("*.parquet"))
    return files[:max(1, round(len(files) * share))]


def run_big(method: str, folder: str, share: float, min_support: float,
            min_confidence: float) -> dict:
    """One step of the bucketed benchmark, timed, in this process."""
    import duckdb
    import pandas as pd

    from seglab import products, segments

    files = part_files(folder, share)
    labels_path = DATA_DIR / f"big-labels-{share}.parquet"
    started = time.perf_counter()
    if method == "segments":
        con = duckdb.connect()
        as_of = con.execute(f"SELECT max(CAST(order_date AS DATE)) + 1 "
                            f"FROM read_parquet({files})").fetchone()[0]
        table = con.execute(RFM_SQL.format(files=files, as_of=as_of)).df()
        labels = segments.rfm_segments(table)["rfm_segment"]
        pd.DataFrame({"customer_id": table["customer_id"], "segment": labels}).to_parquet(
            labels_path)
        return {"seconds": time.perf_counter() - started, "rules": f"{len(table):,} customers",
                "peak_mb": peak_mb()}
    labels = pd.read_parquet(labels_path).set_index("customer_id")["segment"]
    thresholds = {"min_support": min_support, "min_confidence": min_confidence,
                  "min_pair_orders": 1, "max_rules": 0}
    if method == "seglab_partition":
        linked = DATA_DIR / f"big-parts-{share}"  # partition_rules reads one glob
        shutil.rmtree(linked, ignore_errors=True)
        linked.mkdir(parents=True)
        for file in files:
            (linked / Path(file).name).symlink_to(file)
        rules = products.partition_rules(str(linked / "*.parquet"), labels, **thresholds)
    else:
        lines = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        lines = lines[(lines["amount"] > 0) & (lines["quantity"] > 0)]
        rules = products.basket_rules(products.baskets(lines, labels), **thresholds)
    return {"seconds": time.perf_counter() - started, "rules": len(rules), "peak_mb": peak_mb()}


def main_big(args: argparse.Namespace) -> None:
    """Print the bucketed-path table."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    steps = [(args.parts_share, "segments"), (args.parts_share, "seglab_partition"),
             (args.parts_share, "pandas_in_memory"), (1.0, "segments"),
             (1.0, "seglab_partition")]
    rows = []
    for share, method in steps:
        command = [sys.executable, __file__, "--parts", args.parts, "--big-method", method,
                   "--parts-share", str(share), "--min-support", str(args.min_support),
                   "--min-confidence", str(args.min_confidence)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                      else {"seconds": float("nan"), "peak_mb": float("nan"),
                            "rules": f"failed: {done.stderr.strip().splitlines()[-1][:80]}"})
        except subprocess.TimeoutExpired:
            result = {"seconds": float("nan"), "rules": "timeout", "peak_mb": float("nan")}
        files = part_files(args.parts, share)
        rows.append((f"{len(files)} part(s)", method, result))
        print(rows[-1], flush=True)
    print(f"\nRules per RFM segment from {args.parts}, min_support={args.min_support}, "
          f"min_confidence={args.min_confidence}, pairs only")
    print(f"| parts | step | seconds | rules | peak MB |\n|{' --- |' * 5}")
    for parts, method, result in rows:
        print(f"| {parts} | {method} | {result['seconds']:.1f} | {result['rules']} "
              f"| {result['peak_mb']:.0f} |")


def main() -> None:
    """Print the rules table and the offer evaluation."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", default="2000", help="synthetic sizes, comma-separated")
    parser.add_argument("--min-support", type=float, default=0.002)
    parser.add_argument("--min-confidence", type=float, default=0.05)
    parser.add_argument("--top-n", type=int, default=5)
    parser.add_argument("--holdout-days", type=int, default=90)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--parts", help="a large study folder from make_big_study.py")
    parser.add_argument("--parts-share", type=float, default=0.1,
                        help="share of the parts for the in-memory comparison")
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--big-method", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big_method:
        print(json.dumps(run_big(args.big_method, args.parts, args.parts_share,
                                 args.min_support, args.min_confidence)))
        return
    if args.parts:
        main_big(args)
        return
    if args.method:
        print(json.dumps(run_method(args.method, args.path, args.min_support,
                                    args.min_confidence)))
        return

    from seglab import products

    sources = (["uci"] if SHARED_RETAIL.exists() else []) + [
        f"synthetic:{n}" for n in args.synthetic.split(",") if n]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rows, offers = [], []
    for source in sources:
        transactions, labels, as_of = prepare(source)
        table = products.baskets(transactions, labels)
        path = DATA_DIR / f"{source.replace(':', '-')}.parquet"
        table.to_parquet(path)
        shape = (f"{table['order_id'].nunique():,} orders, {table['item'].nunique():,} "
                 f"products, {len(table):,} order lines, {labels.nunique()} segments")
        for method in ("seglab", "mlxtend_fpgrowth", "mlxtend_apriori"):
            command = [sys.executable, __file__, "--method", method, "--path", str(path),
                       "--min-support", str(args.min_support),
                       "--min-confidence", str(args.min_confidence)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, check=True,
                                      timeout=args.timeout)
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                result = {"seconds": float("nan"), "rules": "timeout", "peak_mb": float("nan")}
            rows.append((source, shape, method, result))
        started = time.perf_counter()
        checked = products.evaluate_offers(
            transactions, labels, as_of=as_of, holdout_days=args.holdout_days,
            top_n=args.top_n, min_support=args.min_support,
            min_confidence=args.min_confidence)
        seconds = time.perf_counter() - started
        for record in checked.scores.to_dict("records"):
            offers.append((source, record, seconds))

    print(f"\nRules per RFM segment, min_support={args.min_support}, "
          f"min_confidence={args.min_confidence}, pairs only")
    print(f"| data | baskets | method | seconds | rules | peak MB |\n|{' --- |' * 6}")
    for source, shape, method, result in rows:
        print(f"| {source} | {shape} | {method} | {result['seconds']:.2f} | {result['rules']} "
              f"| {result['peak_mb']:.0f} |")
    print(f"\nOffers at N={args.top_n}, last {args.holdout_days} days kept out")
    print(f"| data | offers from | precision@N | recall@N | hit rate | customers | seconds |\n"
          f"|{' --- |' * 7}")
    for source, record, seconds in offers:
        print(f"| {source} | {record['method']} | {record['precision_at_n']:.2%} | "
              f"{record['recall_at_n']:.2%} | {record['hit_rate']:.1%} | "
              f"{record['customers']:,} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
