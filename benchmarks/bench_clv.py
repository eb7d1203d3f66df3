"""Benchmark: fitting BG/NBD, seglab against lifetimes, on CDNOW and Online Retail.

The tests check the fit's estimates and count its likelihood evaluations (at most
``MAX_EVALUATIONS`` in tests/test_clv.py); its time is measured here, never in a test.
Prints one row per data set and fitter: customers, distinct histories, seconds (best of
``--repeat``), likelihood evaluations (seglab only).

Usage::

    python benchmarks/bench_clv.py
    python benchmarks/bench_clv.py --repeat 5 --retail /path/online_retail_2010_2011.csv.gz
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from seglab import clv

RETAIL = (Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
          / "online_retail_2010_2011.csv.gz")


def cdnow() -> pd.DataFrame:
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    return load_cdnow_summary_data_with_monetary_value()


def online_retail(path: Path) -> pd.DataFrame:
    """The lifetimes RFM table of the cleaned Online Retail log, in days."""
    from seglab import clean, features, io

    raw = io.load_transactions(path, columns="online_retail")
    as_of = features.default_as_of(raw)
    tx = clean.clean_transactions(raw, as_of=as_of).transactions
    return features.rfm_summary(tx, as_of=as_of)


def best_seconds(fit, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fit()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--retail", type=Path, default=RETAIL)
    args = parser.parse_args()
    sets = {"cdnow (weeks)": cdnow()}
    if args.retail.exists():
        sets["online retail (days)"] = online_retail(args.retail)
    rows = []
    for name, rfm in sets.items():
        columns = rfm["frequency"], rfm["recency"], rfm["T"]
        evaluations = []
        minimize = clv.minimize

        def counted(*a, _minimize=minimize, _seen=evaluations, **k):
            result = _minimize(*a, **k)
            _seen.append(result.nfev)
            return result

        clv.minimize = counted
        seconds = best_seconds(lambda c=columns: clv.BetaGeoModel().fit(*c), args.repeat)
        clv.minimize = minimize
        distinct = len(np.unique(np.column_stack(columns), axis=0))
        rows.append({"data": name, "fitter": "seglab", "customers": len(rfm),
                     "distinct": distinct, "seconds": round(seconds, 3),
                     "evaluations": sum(evaluations) // args.repeat})
        try:
            from lifetimes import BetaGeoFitter
        except ImportError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds = best_seconds(lambda c=columns: BetaGeoFitter().fit(*c), args.repeat)
        rows.append({"data": name, "fitter": "lifetimes", "customers": len(rfm),
                     "distinct": distinct, "seconds": round(seconds, 3), "evaluations": None})
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
