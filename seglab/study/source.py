"""The study's clean transactions behind one interface, in memory or in customer buckets.

A stage asks its :class:`TransactionLog` for what it needs (the clean lines, the
per-customer P&L sums, the CLV holdout split, the customer table, basket rules) and
does not branch on the size of the log. A log in memory is one Parquet file
(``transactions.parquet``); a large log (:func:`seglab.buckets.is_large`) is a partition
of customer buckets, worked on a bucket at a time or by DuckDB, whose line-level tables
cover a random sample of whole customers (:attr:`TransactionLog.is_sample`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seglab import buckets, clean, clv, profit
from seglab.analysis_date import day_end
from seglab.study import staging

#: Worker processes for bucket-by-bucket work on a large log.
BUCKET_JOBS = 2


@dataclass
class LineFigures:
    """What the profit stage takes from the lines, per customer or in total.

    Attributes
    ----------
    sums : pandas.DataFrame
        :func:`seglab.profit.customer_line_sums` and ``first_order``, by customer id.
    totals : list of dict
        :func:`seglab.profit.line_totals`, one per part of the log.
    main : pandas.Series or None
        Each customer's main value of the sub-segment dimension.
    holdout : pandas.DataFrame
        :func:`seglab.clv.calibration_holdout` (empty without a holdout).
    """

    sums: pd.DataFrame
    totals: list[dict[str, float]]
    main: pd.Series | None
    holdout: pd.DataFrame


class TransactionLog:
    """The clean transactions of a study whose log fits in memory.

    Parameters
    ----------
    inputs : seglab.study.StudyInputs
        The staged inputs (:func:`seglab.study.load_inputs`).
    """

    is_sample = False  #: whether :meth:`lines` covers a sample of customers only

    def __init__(self, inputs: staging.StudyInputs) -> None:
        self.inputs = inputs
        self.run = inputs.run

    def clean(self, rules: clean.CleaningRules) -> clean.CleaningResult:
        """Apply the cleaning rules to the staged log and write the clean lines."""
        result = clean.clean_transactions(self.inputs.transactions, as_of=self.inputs.as_of,
                                          rules=rules)
        result.transactions.to_parquet(self.run.transactions, index=False)
        return result

    def source(self) -> Path:
        """Return the clean lines as a file (or partition folder), cleaning first if needed."""
        if not self.run.transactions.exists():
            self._clean_with_defaults()
        return self.run.transactions

    def lines(self) -> pd.DataFrame:
        """Return the clean lines (of a large log: those of the customer sample)."""
        return pd.read_parquet(self.source())

    def customer_aggregates(self, *, engine: str, **options: Any) -> pd.DataFrame:
        """Return the customer table (:func:`seglab.engine.customer_aggregates`).

        One DuckDB thread: parallel float sums add in varying order, and a study must give
        byte-identical numbers on every run (nightly ``seglab features`` uses all cores).
        """
        from seglab import engine as engines

        return engines.customer_aggregates(
            self.source(), as_of=self.inputs.as_of, customers=self.inputs.customers,
            engine=engine, threads=1, **options)

    def line_figures(self, *, costs: profit.CostTable, dimension: str | None,
                     holdout_days: int, time_unit: str, holdout_customers: int
                     ) -> LineFigures:
        """Per-customer P&L sums, totals, main dimension and the CLV holdout split.

        ``holdout_customers`` bounds the customers of the holdout split (a large log
        reads that many, from its first buckets).
        """
        as_of = self.inputs.as_of
        tx = self.lines()
        tx = tx[tx["order_date"] < day_end(as_of)]
        sums, totals = profit.line_sums_and_totals(tx, costs)
        return LineFigures(
            sums, [totals], profit.main_value(tx, dimension) if dimension else None,
            clv.calibration_holdout(tx, as_of=as_of, holdout_days=holdout_days,
                                    time_unit=time_unit) if holdout_days else pd.DataFrame())

    def basket_rules(self, segments: pd.Series, *, item_col: str, **options: Any
                     ) -> pd.DataFrame:
        """Pairwise basket rules per segment (:func:`seglab.products.basket_rules`)."""
        from seglab import products

        return products.basket_rules(products.baskets(self.lines(), segments,
                                                      item_col=item_col), **options)

    def _clean_with_defaults(self) -> None:
        from seglab.study.clean import clean_stage

        clean_stage(self.run.path)


class BucketedLog(TransactionLog):
    """The clean transactions of a large log, a partition of customer buckets.

    Everything per customer is computed a bucket at a time (or by DuckDB over the whole
    partition), with the same results as on the whole log in memory; :meth:`lines`
    returns the lines of the customer sample drawn when the inputs were staged.
    """

    is_sample = True

    @property
    def _share(self) -> float:
        return self.inputs.partition.sample_share(self.inputs.sample_buckets,
                                                  staging.SAMPLE_LINES)

    def clean(self, rules: clean.CleaningRules) -> clean.CleaningResult:
        """Clean bucket by bucket (:func:`seglab.buckets.clean_partition`)."""
        return buckets.clean_partition(
            self.inputs.partition, self.run.clean_partition, as_of=self.inputs.as_of,
            rules=rules, sample=self.inputs.sample_buckets, share=self._share,
            jobs=BUCKET_JOBS)

    def partition(self) -> buckets.Partition:
        """Return the clean partition, cleaning first if needed."""
        import pyarrow.parquet as pq

        if not self.run.clean_partition.is_dir():
            self._clean_with_defaults()
        lines = sum(pq.read_metadata(file).num_rows
                    for file in self.run.clean_partition.rglob("*.parquet"))
        return buckets.Partition(self.run.clean_partition, self.inputs.partition.buckets, lines)

    def source(self) -> Path:
        """Return the clean partition's folder, cleaning first if needed."""
        return self.partition().path

    def lines(self) -> pd.DataFrame:
        """Return the clean lines of the customer sample."""
        return self.partition().read_sample(self.inputs.sample_buckets, self._share)

    def customer_aggregates(self, *, engine: str, **options: Any) -> pd.DataFrame:
        """Return the customer table, bucket by bucket in DuckDB (Spark: the whole partition)."""
        if engine != "duckdb":
            return super().customer_aggregates(engine=engine, **options)
        return buckets.customer_aggregates(self.partition(), as_of=self.inputs.as_of,
                                           customers=self.inputs.customers, jobs=BUCKET_JOBS,
                                           **options)

    def line_figures(self, *, costs: profit.CostTable, dimension: str | None,
                     holdout_days: int, time_unit: str, holdout_customers: int
                     ) -> LineFigures:
        """DuckDB sums each bucket's P&L lines (:func:`seglab.profit.line_sums_sql`).

        The CLV holdout split is taken from the first buckets only: a random sample of
        whole customers, about ``holdout_customers`` of them.
        """
        import pyarrow as pa

        from seglab import engine

        as_of, part = self.inputs.as_of, self.partition()
        results = buckets.map_queries(
            part, range(part.buckets),
            lambda names: profit.line_sums_sql(names, costs, as_of=as_of, dimension=dimension),
            jobs=BUCKET_JOBS, types=engine.SQL_TYPES)
        table = pa.concat_tables(results).to_pandas()
        is_total = table.pop("is_total").to_numpy(dtype=bool)
        totals = [{name: float(row[name]) if pd.notna(row[name]) else 0.0
                   for name in profit.LINE_SUMS} for _, row in table[is_total].iterrows()]
        sums = (table[~is_total & table["customer_id"].notna().to_numpy()]
                .set_index("customer_id").sort_index())
        sums["first_order"] = sums["first_order"].astype("datetime64[ns]")
        main = sums.pop("main").astype("string").rename(dimension) if dimension else None
        per_bucket = max(1.0, len(sums) / max(part.buckets, 1))
        first = range(min(part.buckets, int(np.ceil(1.25 * holdout_customers / per_bucket))))
        work = functools.partial(_bucket_holdout, part=part, as_of=as_of,
                                 holdout_days=holdout_days, time_unit=time_unit)
        holdout = (pd.concat(buckets.map_buckets(work, list(first), n_jobs=BUCKET_JOBS))
                   .sort_index() if holdout_days else pd.DataFrame())
        return LineFigures(sums[[*profit.LINE_SUMS, "first_order"]], totals, main, holdout)

    def basket_rules(self, segments: pd.Series, *, item_col: str, **options: Any
                     ) -> pd.DataFrame:
        """Rules counting every order of the clean partition, in DuckDB."""
        from seglab import products

        return products.partition_rules(self.partition().glob(), segments, item_col=item_col,
                                        **options)


def _bucket_holdout(bucket: int, *, part: buckets.Partition, as_of: pd.Timestamp,
                    holdout_days: int, time_unit: str) -> pd.DataFrame:
    tx = part.read(bucket, columns=["customer_id", "order_date", "amount"])
    return clv.calibration_holdout(tx[tx["order_date"] < day_end(as_of)],
                                   as_of=as_of, holdout_days=holdout_days,
                                   time_unit=time_unit)


def open_log(inputs: staging.StudyInputs) -> TransactionLog:
    """Return the study's clean transactions: in memory, or in buckets for a large log."""
    return TransactionLog(inputs) if inputs.partition is None else BucketedLog(inputs)
