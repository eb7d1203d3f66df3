r"""Write the customer table on Spark: an entry point for ``spark-submit`` and Databricks.

``spark-submit`` runs a Python file, not a module, so pass it this file's path::

    spark-submit --master yarn --deploy-mode client \
        "$(python -c 'import seglab.spark_job as m; print(m.__file__)')" \
        --data hdfs:///lake/orders/ --columns online_retail \
        --output hdfs:///lake/seglab/customers

Elsewhere ``python -m seglab.spark_job ...`` does the same on a local Spark session.
The job reads the transactions with Spark, drops what the row-filter cleaning rules
remove (in SQL, ``--clean sql``, the default) and aggregates them on the cluster, then
adds the rule segments on the driver (one row per customer) and writes the table: a
local path (``.parquet`` or ``.csv``, on the driver) as one file, a URI (``hdfs://``,
``s3a://``, ``abfss://``, ``dbfs:/``) as a folder of Parquet files written by Spark.
Prints where it wrote; exit code 2 for bad input or options.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seglab import engine, nightly
from seglab.analysis_date import parse_as_of
from seglab.errors import SeglabError

#: ``--clean`` choices and the ``clean`` of :func:`seglab.nightly.export_customer_table`.
CLEANING: dict[str, bool | str] = {"sql": nightly.SQL_CLEANING, "pandas": True, "none": False}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seglab.spark_job",
        description="Build the customer table (features and rule segments) on Spark.",
    )
    parser.add_argument("--data", required=True, help="Transactions: a Parquet or CSV "
                        "file, a folder of Parquet files (partitioned or not) or a glob; "
                        "a path or URI.")
    parser.add_argument("--output", required=True, help="A .parquet or .csv path on the "
                        "driver, or a URI for a folder of Parquet files.")
    parser.add_argument("--columns", help="Column mapping 'customer_id=Customer ID,...', a "
                        "YAML file or a preset (online_retail, online_retail_ii).")
    parser.add_argument("--as-of", help="Analysis date (default: the day after the last "
                        "transaction).")
    parser.add_argument("--params", help="The study's YAML params file; its time_unit "
                        "and its notebook 02 section (window_days, category_top_n, "
                        "channel_top_n, segment_rules) are used.")
    parser.add_argument("--clean", choices=list(CLEANING), default="sql", help="sql: the "
                        "row-filter cleaning rules on Spark (default); pandas: seglab's "
                        "intake and cleaning on the driver (a file pandas can hold); none: "
                        "the data is clean already.")
    parser.add_argument("--no-segments", action="store_true", help="Leave out the rule "
                        "segments.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; return the exit code (0, or 2 for bad input or options).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        settings = {}
        if args.params:
            from seglab.run import load_params, params_for

            settings = params_for("02-feature-engineering", load_params(Path(args.params)),
                                  None, source=args.params)
        as_of = None if args.as_of is None else parse_as_of(args.as_of, option="--as-of")
        options = {"columns": args.columns, "as_of": as_of, "clean": CLEANING[args.clean],
                   "segments": not args.no_segments, "params": settings, "engine": "spark"}
        if engine.is_remote(args.output):
            from seglab import spark

            with tempfile.TemporaryDirectory() as folder:
                local, _ = nightly.export_customer_table(
                    args.data, Path(folder) / "table.parquet", **options)
                spark.write_parquet(pd.read_parquet(local), args.output)
        else:
            nightly.export_customer_table(args.data, args.output, **options)
    except SeglabError as error:
        print(f"seglab: error: {error}", file=sys.stderr)
        return 2
    print(args.output)
    return 0


if __name__ == "__main__":  # pragma: no cover - spark-submit or python -m
    sys.exit(main())
