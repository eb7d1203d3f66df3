"""The nightly export: a transaction file scored into the customer table, without notebooks.

``seglab features`` and the Spark job (:mod:`seglab.spark_job`) call
:func:`export_customer_table`: the same intake and cleaning as ``seglab run`` (or none,
or the row-filter rules in SQL), the customer table aggregated by
:func:`seglab.engine.customer_aggregates` on DuckDB or Spark, and the rule segments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from seglab.analysis_date import default_as_of, parse_as_of
from seglab.engine import ENGINES, customer_aggregates
from seglab.errors import ConfigError

logger = logging.getLogger(__name__)

#: Customer-table formats :func:`export_customer_table` writes.
OUTPUT_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")


#: What ``clean`` of :func:`export_customer_table` accepts besides True and False.
SQL_CLEANING = "sql"


def export_customer_table(
    data: str | Path,
    output: str | Path,
    *,
    columns: str | Mapping[str, str] | None = None,
    customers: str | Path | None = None,
    customer_columns: str | Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    bad_dates: str = "fail",
    decimal: str = ".",
    dayfirst: bool = False,
    as_of: str | pd.Timestamp | None = None,
    clean: bool | str = True,
    segments: bool = True,
    params: Mapping[str, object] | None = None,
    engine: str = "duckdb",
) -> tuple[Path, int]:
    """Score a transaction file into the customer table, without notebooks.

    By default the file goes through the same intake and cleaning as ``seglab run``
    (:func:`seglab.io.load_transactions`, :func:`seglab.clean.clean_transactions`
    with default rules), then the engine aggregates it and the rule segments are
    added, so the table equals a run's ``customers.csv`` before clustering. With
    ``clean=False`` the engine reads Parquet or CSV straight (no intake checks, no
    cleaning): for extracts that are clean already, e.g. a run's
    ``transactions.parquet``; it is faster and holds only the result in memory. With
    ``clean="sql"`` it reads them straight and drops what the default cleaning rules
    remove in SQL (:func:`seglab.engine.cleaning_sql`): for raw extracts too large for pandas.

    Parameters
    ----------
    data : str or Path
        Transaction file; with ``clean=False`` or ``"sql"`` also a folder of Parquet
        files, a glob, or (Spark) a URI.
    output : str or Path
        Where to write: ``.parquet`` or ``.csv`` (dates as YYYY-MM-DD), a path on this
        machine (the Spark driver's).
    columns, customers, customer_columns, encoding, sheet, bad_dates, decimal, dayfirst
        As ``seglab run`` (``decimal`` and ``dayfirst`` apply with ``clean=True``).
    as_of : str or pandas.Timestamp, optional
        Analysis date; default the day after the last transaction.
    clean : bool or "sql"
        True: seglab's intake and cleaning first, in pandas (default); False: the
        data as it is; "sql": the row-filter cleaning rules, in the engine.
    segments : bool
        Add the rule segments.
    params : Mapping, optional
        Notebook parameters (a ``seglab run`` params file): ``time_unit``,
        ``window_days``, ``category_top_n``, ``channel_top_n`` and ``segment_rules``
        are used, other keys ignored.
    engine : {"duckdb", "spark"}
        Where the aggregation runs (see :func:`seglab.engine.customer_aggregates`).

    Returns
    -------
    tuple of (Path, int)
        The file written and the number of customers.

    Raises
    ------
    ConfigError
        For an output suffix other than .parquet or .csv, bad parameters, an unknown
        ``clean`` or engine, or Spark not installed.
    InputError
        For unreadable or invalid input.
    """
    from seglab import clean as seglab_clean
    from seglab import io as seglab_io
    from seglab import segments as seglab_segments

    output = Path(output)
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"{output}: cannot write a {output.suffix or 'suffix-less'} file; name the "
            "output .parquet or .csv."
        )
    if clean not in (True, False, SQL_CLEANING):
        raise ConfigError(f"clean={clean!r} should be True, False or {SQL_CLEANING!r}.")
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not supported; use one of {list(ENGINES)}.")
    params = dict(params or {})
    option_names = ("time_unit", "window_days", "category_top_n", "channel_top_n")
    options = {k: params[k] for k in option_names if k in params}
    rules = seglab_segments.segment_rules(**dict(params.get("segment_rules") or {}))
    attributes = (
        seglab_io.load_customers(customers, columns=customer_columns, encoding=encoding,
                                 decimal=decimal, dayfirst=dayfirst)
        if customers else None
    )
    if clean is True:
        transactions = seglab_io.load_transactions(
            data, columns=columns, encoding=encoding, sheet=sheet, bad_dates=bad_dates,
            decimal=decimal, dayfirst=dayfirst,
        )
        day = (parse_as_of(as_of) if as_of is not None
               else default_as_of(transactions))
        kept = seglab_clean.clean_transactions(transactions, as_of=day).transactions
        table = customer_aggregates(kept, as_of=day, customers=attributes, engine=engine,
                                    **options)
    else:
        table = customer_aggregates(data, as_of=as_of, columns=columns, customers=attributes,
                                    clean=clean == SQL_CLEANING, engine=engine, **options)
    if segments:
        table = seglab_segments.rule_segments(table, rules=rules)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        table.to_csv(output, index=False, date_format="%Y-%m-%d")
    else:
        table.to_parquet(output, index=False)
    logger.info("wrote %d customers to %s", len(table), output)
    return output, len(table)
