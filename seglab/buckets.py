"""Large transaction logs, one bucket of customers at a time.

A log too large for memory (a Parquet file, folder or glob of hundreds of millions of
lines) is split once, by DuckDB, into buckets of customers: every line of a customer
lands in the same bucket (``hash(customer_id) % buckets``), and the lines without a
customer id in one more bucket. Everything seglab computes per customer (cleaning,
P&L, holdout splits) then runs with the ordinary pandas code on one bucket at a time,
with the same results as on the whole log, and memory bounded by the bucket size.
Whole-log figures that do not add up over buckets (the overview's distinct counts,
missing values) are computed by DuckDB on the whole log.

Layout of a partitioned log: ``<path>/bucket=<n>/*.parquet`` (hive style, readable by
DuckDB, Spark and pyarrow as one dataset), canonical column names and types.
"""

from __future__ import annotations

import glob
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seglab import clean, features, profile, schema
from seglab.analysis_date import day_end, parse_as_of
from seglab.engine import COLUMN_TYPES, _identifier, _literal
from seglab.errors import InputError

logger = logging.getLogger(__name__)

#: Logs with more lines than this are studied bucket by bucket; smaller ones in memory.
LARGE_LINES = 5_000_000

#: Lines per bucket aimed at (about 1.5 GB of pandas per bucket being worked on).
BUCKET_LINES = 2_500_000

#: Source order of each line (file, then row), so a bucket reads back in input order.
LINE_COLUMN = "_line"


def parquet_files(source: str | Path) -> list[Path]:
    """Return the Parquet files of a file, a folder (searched recursively) or a glob.

    Parameters
    ----------
    source : str or Path
        ``log.parquet``, ``lake/receipts/`` or ``lake/receipts/*.parquet``.

    Returns
    -------
    list of Path
        Sorted; empty when ``source`` is not Parquet.
    """
    text = str(source)
    if any(ch in text for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(text, recursive=True)
                      if p.endswith((".parquet", ".pq")))
    path = Path(source)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".parquet", ".pq"))
    return [path] if path.suffix.lower() in (".parquet", ".pq") and path.is_file() else []


def count_lines(files: Sequence[Path]) -> int:
    """Lines in Parquet files, from their footers (nothing else is read).

    Raises
    ------
    InputError
        For a file that is not readable Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    total = 0
    for file in files:
        try:
            total += pq.ParquetFile(file).metadata.num_rows
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"{file}: not a readable Parquet file ({err}).") from err
    return total


def is_large(source: str | Path | None) -> bool:
    """Whether ``source`` is a Parquet log of more than :data:`LARGE_LINES` lines."""
    if source is None:
        return False
    files = parquet_files(source)
    return bool(files) and (Path(source).is_dir() or count_lines(files) > LARGE_LINES)


@dataclass(frozen=True)
class Partition:
    """A transaction log split into buckets of customers.

    Attributes
    ----------
    path : Path
        Folder holding ``bucket=<n>/`` subfolders.
    buckets : int
        Customer buckets ``0 .. buckets - 1``; bucket ``buckets`` holds the lines
        without a customer id.
    lines : int
        Lines in all buckets.
    """

    path: Path
    buckets: int
    lines: int

    @property
    def all_buckets(self) -> range:
        """Every bucket, the one of lines without a customer id last."""
        return range(self.buckets + 1)

    def files(self, bucket: int) -> list[Path]:
        """Parquet files of one bucket (none when the bucket is empty)."""
        return sorted((self.path / f"bucket={bucket}").glob("*.parquet"))

    def read(self, bucket: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Read one bucket in source order, canonical dtypes, without the bucket column."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        files = self.files(bucket)
        if not files:
            return _empty(columns)
        table = pa.concat_tables(
            [pq.read_table(f, columns=None if columns is None else [*columns, LINE_COLUMN]
                           if _has_line(f) else list(columns)) for f in files],
            promote_options="default")
        # Sorted in Arrow, before pandas: 2.5 times faster than sorting the DataFrame.
        if LINE_COLUMN in table.column_names:
            table = table.take(pc.sort_indices(table, [(LINE_COLUMN, "ascending")]))
        table = table.drop_columns([c for c in (LINE_COLUMN, "bucket")
                                    if c in table.column_names])
        frame = table.to_pandas()
        if "order_date" in frame:
            frame["order_date"] = frame["order_date"].astype("datetime64[ns]")
        return frame

    def read_chunks(self, bucket: int, lines: int = BUCKET_LINES) -> Iterator[pd.DataFrame]:
        """Read one bucket ``lines`` at a time (order within the bucket not kept)."""
        import pyarrow.parquet as pq

        for file in self.files(bucket):
            for batch in pq.ParquetFile(file).iter_batches(batch_size=lines):
                frame = batch.to_pandas().drop(columns=[LINE_COLUMN, "bucket"],
                                               errors="ignore")
                if "order_date" in frame:
                    frame["order_date"] = frame["order_date"].astype("datetime64[ns]")
                yield frame

    def read_many(self, buckets: Sequence[int]) -> pd.DataFrame:
        """Read several buckets into one table (bucket by bucket, in the given order)."""
        if not buckets:
            return _empty(None)
        return pd.concat([self.read(b) for b in buckets], ignore_index=True)

    def read_sample(self, buckets: Sequence[int], share: float) -> pd.DataFrame:
        """Read a random ``share`` of the customers of ``buckets``, with all their lines.

        See :func:`customer_sample`: the raw and the clean partition give the same
        customers.
        """
        return customer_sample(self.read_many(buckets), share)

    def sample_share(self, buckets: Sequence[int], lines: int) -> float:
        """Share of the customers of ``buckets`` that holds about ``lines`` lines."""
        held = self.lines / max(self.buckets, 1) * len(buckets)
        return 1.0 if held <= 1.5 * lines else lines / held

    def glob(self) -> str:
        """Return a glob of every Parquet file, for DuckDB or Spark."""
        return str(self.path / "*" / "*.parquet")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description (for ``study.json``)."""
        return {**asdict(self), "path": str(self.path)}

    @classmethod
    def from_json(cls, data: dict[str, Any], base: Path | None = None) -> Partition:
        """Inverse of :meth:`to_json`; a relative ``path`` is taken from ``base``."""
        path = Path(data["path"])
        return cls(path if path.is_absolute() or base is None else base / path,
                   int(data["buckets"]), int(data["lines"]))


def customer_sample(lines: pd.DataFrame, share: float) -> pd.DataFrame:
    """Keep a random ``share`` of the customers in ``lines``, with all their lines.

    Customers are drawn by a fixed hash of their id, so every run, and the raw and
    the clean lines of a log, give the same customers.

    Parameters
    ----------
    lines : pandas.DataFrame
        Lines with ``customer_id``.
    share : float
        Share of customers to keep (1: all).

    Returns
    -------
    pandas.DataFrame
        Every line of the customers drawn, in their order.
    """
    if share >= 1:
        return lines
    codes, ids = pd.factorize(lines["customer_id"])
    draws = pd.util.hash_array(np.asarray(ids, dtype=object)) % 1_000_000
    kept = np.append(draws < round(1_000_000 * share), False)  # code -1: no id
    return lines[kept[codes]].reset_index(drop=True)


def _has_line(file: Path) -> bool:
    import pyarrow.parquet as pq

    return LINE_COLUMN in pq.ParquetFile(file).schema_arrow.names


def _empty(columns: Sequence[str] | None) -> pd.DataFrame:
    names = list(columns) if columns is not None else list(COLUMN_TYPES)
    dtypes = {"VARCHAR": "string", "TIMESTAMP": "datetime64[ns]", "DOUBLE": "float64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[COLUMN_TYPES.get(c, "VARCHAR")])
                         for c in names})


#: DuckDB's memory limit when it splits or profiles a large log (default: 80% of RAM);
#: beyond it DuckDB spills to disk, beside the run's inputs.
MEMORY_LIMIT = "4GB"


def _connect(threads: int | None = None, memory_limit: str | None = None,
             spill: Path | None = None):
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
    if spill is not None:
        con.execute(f"SET temp_directory = {_literal(spill / SPILL_FOLDER)}")
    return con


#: Folder DuckDB spills to (beside the run's inputs), removed when it is done.
SPILL_FOLDER = ".duckdb-spill"


def _close(con, spill: Path | None = None) -> None:
    import shutil

    con.close()
    if spill is not None:
        shutil.rmtree(spill / SPILL_FOLDER, ignore_errors=True)


def _source_view(con, files: Sequence[Path], columns: str | None, label: str) -> list[str]:
    """Create the view ``source`` (canonical names and types, ``_line``) over the files."""
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    relation = (f"read_parquet({listed}, filename = true, file_row_number = true, "
                "union_by_name = true)")
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except Exception as err:  # duckdb raises its own error classes
        raise InputError(f"{label}: DuckDB cannot read it: {str(err).splitlines()[0]}") from err
    types = {row[0]: row[1] for row in described if row[0] not in ("filename",
                                                                    "file_row_number")}
    resolved = schema.resolve_column_mapping(list(types), schema.parse_column_mapping(columns),
                                             source=label, kind="transactions")
    if "amount" not in resolved and not {"quantity", "unit_price"} <= set(resolved):
        raise InputError(
            f"{label}: no column 'amount' (nor quantity and unit_price to derive it); "
            f"columns are {list(types)}. Map one with --columns amount=<your column>.")
    for column in schema.REQUIRED_TRANSACTION_COLUMNS:
        if column not in resolved:
            raise InputError(f"{label}: no column {column!r}; columns are {list(types)}. Map "
                             f"one with --columns {column}=<your column>.")
    select = []
    for column, source_name in resolved.items():
        raw = _identifier(source_name)
        if COLUMN_TYPES[column] == "VARCHAR" and types[source_name] in ("DOUBLE", "FLOAT"):
            raw = f"CAST({raw} AS BIGINT)"  # ids stored as floats: 12346.0 -> '12346'
        select.append(f"TRY_CAST({raw} AS {COLUMN_TYPES[column]}) AS {column}")
    _check_casts(con, relation, resolved, types, label)
    if "amount" not in resolved:
        select.append("TRY_CAST(quantity AS DOUBLE) * TRY_CAST(unit_price AS DOUBLE) AS amount")
    file_index = f"list_position({listed}, filename)"
    select.append(f"CAST({file_index} AS BIGINT) * 4294967296 + file_row_number AS {LINE_COLUMN}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW source AS SELECT {', '.join(select)} "
                f"FROM {relation}")
    return [c for c in COLUMN_TYPES if c in resolved or c == "amount"]


def _check_casts(con, relation: str, resolved: dict[str, str], types: dict[str, str],
                 label: str) -> None:
    """Raise one clear error for the first column with values that are not its type."""
    typed = {c: s for c, s in resolved.items() if COLUMN_TYPES[c] != "VARCHAR"
             and not types[s].startswith(("TIMESTAMP", "DATE", "DOUBLE", "FLOAT", "DECIMAL",
                                          "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
                                          "HUGEINT", "UBIGINT", "UINTEGER"))}
    for column, source_name in typed.items():
        raw = _identifier(source_name)
        bad = (f"{raw} IS NOT NULL AND TRIM(CAST({raw} AS VARCHAR)) <> '' AND "
               f"TRY_CAST({raw} AS {COLUMN_TYPES[column]}) IS NULL")
        count, example = con.execute(
            f"SELECT COUNT(*), ANY_VALUE(CAST({raw} AS VARCHAR)) FROM {relation} WHERE {bad}"
        ).fetchone()
        if count:
            kind = "date" if COLUMN_TYPES[column] == "TIMESTAMP" else "number"
            raise InputError(
                f"{label}: column {source_name!r} (mapped to {column}) has {count:,} "
                f"value{'s' if count > 1 else ''} that {'are' if count > 1 else 'is'} not a "
                f"{kind} (e.g. {example!r}); large logs are read by DuckDB, which needs ISO "
                "dates (2011-12-09 12:50:00) and plain numbers.")


def partition(
    source: str | Path,
    out: str | Path,
    *,
    columns: str | None = None,
    buckets: int | None = None,
    threads: int | None = None,
) -> Partition:
    """Split a Parquet transaction log into buckets of customers, with canonical columns.

    The input is only read. Text ids stored as floats lose their ``.0``; amounts are
    derived as ``quantity * unit_price`` when there is no amount column.

    Parameters
    ----------
    source : str or Path
        Parquet file, folder or glob.
    out : str or Path
        Folder to write (must not exist yet).
    columns : str, optional
        Column mapping (see :func:`seglab.schema.parse_column_mapping`).
    buckets : int, optional
        Customer buckets; default one per :data:`BUCKET_LINES` lines.
    threads : int, optional
        DuckDB threads (default all cores).

    Returns
    -------
    Partition
        The written buckets.

    Raises
    ------
    InputError
        If the source is not Parquet, cannot be read, lacks a required column or has
        values that are not of their column's type.
    """
    label = str(source)
    files = parquet_files(source)
    if not files:
        raise InputError(f"{label}: no Parquet files found; a large log must be Parquet "
                         "(a file, a folder of files or a glob).")
    lines = count_lines(files)
    buckets = buckets or max(1, -(-lines // BUCKET_LINES))
    out = Path(out)
    con = _connect(threads, MEMORY_LIMIT, spill=out.parent)
    try:
        _source_view(con, files, columns, label)
        customer = "customer_id IS NULL OR TRIM(customer_id) = ''"
        con.execute(
            f"COPY (SELECT *, CASE WHEN {customer} THEN {buckets} "
            f"ELSE CAST(hash(customer_id) % {buckets} AS INTEGER) END AS bucket FROM source) "
            f"TO {_literal(out)} (FORMAT parquet, PARTITION_BY (bucket), COMPRESSION zstd)")
    finally:
        _close(con, out.parent)
    logger.info("split %s (%d lines) into %d customer buckets", label, lines, buckets)
    return Partition(out, buckets, lines)


def map_buckets(fn: Callable[[int], Any], buckets: Sequence[int], *, n_jobs: int = 1
                ) -> list[Any]:
    """Call ``fn(bucket)`` for every bucket, in ``n_jobs`` processes; results in order.

    Parameters
    ----------
    fn : callable
        A picklable function of the bucket number (e.g. a :func:`functools.partial`
        of a module-level function).
    buckets : sequence of int
        Buckets to process.
    n_jobs : int
        Worker processes (1: in this process).

    Returns
    -------
    list
        ``fn``'s results, in the order of ``buckets``.
    """
    if n_jobs == 1 or len(buckets) < 2:
        return [fn(b) for b in buckets]
    import warnings

    from joblib import Parallel, delayed

    with warnings.catch_warnings():
        # loky replaces a worker whose memory grew between buckets and says so; the
        # results are complete, and a report reader cannot act on the message.
        warnings.filterwarnings("ignore", message="A worker stopped while some jobs",
                                category=UserWarning)
        return Parallel(n_jobs=n_jobs)(delayed(fn)(b) for b in buckets)


def map_queries(part: Partition, buckets: Sequence[int],
                query: Callable[[list[str]], str], *, jobs: int = 1,
                types: Mapping[str, str] | None = None) -> list[Any]:
    """Run a DuckDB query on each bucket, on one thread each, ``jobs`` buckets at once.

    One thread per query keeps float sums in one order, so the results are the same on
    every run; buckets run side by side in threads (DuckDB releases the GIL).

    Parameters
    ----------
    part : Partition
        The partitioned log.
    buckets : sequence of int
        Buckets to query (empty ones are skipped).
    query : callable
        Given the bucket's column names, returns a query on the relation
        ``transactions``: the bucket's lines with a ``line_number`` in source order.
    jobs : int
        Buckets queried at once.
    types : mapping of str to str, optional
        SQL type of columns to cast in ``transactions`` (those the bucket has), e.g.
        :data:`seglab.engine.SQL_TYPES` so that SQL written for the engine's canonical
        view sees the same types here: the partition's Parquet files hold nanosecond
        timestamps, the engine's view microsecond ``TIMESTAMP``.

    Returns
    -------
    list of pyarrow.Table
        One result per non-empty bucket, in the order of ``buckets``.
    """
    from concurrent.futures import ThreadPoolExecutor

    def run(bucket: int):
        files = part.files(bucket)
        listed = "[" + ", ".join(_literal(f) for f in files) + "]"
        con = _connect(threads=1)
        try:
            con.execute("SET TimeZone = 'UTC'")  # as seglab.engine's DuckDB sessions
            source = (f"read_parquet({listed}, filename = true, file_row_number = true, "
                      "hive_partitioning = false)")
            found = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            casts = [f"CAST({_identifier(c)} AS {t}) AS {_identifier(c)}"
                     for c, t in (types or {}).items() if c in found]
            replace = f" REPLACE ({', '.join(casts)})" if casts else ""
            con.execute(
                f"CREATE TEMP VIEW transactions AS SELECT *{replace}, "
                f"CAST(list_position({listed}, filename) AS BIGINT) * 4294967296 + "
                f"file_row_number AS line_number FROM {source}")
            names = [r[0] for r in con.execute("DESCRIBE transactions").fetchall()]
            return con.sql(query(names)).to_arrow_table()
        finally:
            con.close()

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(run, [b for b in buckets if part.files(b)]))


#: Columns :func:`map_queries` adds to a bucket's lines (and the hive partition column).
QUERY_EXTRAS = ("filename", "file_row_number", "line_number", "bucket")


def customer_aggregates(
    part: Partition,
    *,
    as_of: pd.Timestamp | str,
    customers: pd.DataFrame | None = None,
    time_unit: str = features.FeatureOptions.time_unit,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
    jobs: int = 1,
) -> pd.DataFrame:
    """:func:`seglab.engine.customer_aggregates` of a clean partitioned log, bucket by bucket.

    Each bucket's customers are aggregated by the same SQL on one DuckDB thread
    (:func:`map_queries`): runs give byte-identical tables while ``jobs`` buckets use
    the cores, and memory is that of ``jobs`` buckets. The mixes' top values come
    from every bucket's sales, added exactly.

    Parameters
    ----------
    part : Partition
        Clean canonical transactions, split by customer.
    as_of : pandas.Timestamp or str
        Analysis date.
    customers : pandas.DataFrame, optional
        Customer attributes (see :func:`seglab.features.add_attributes`).
    time_unit, window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    jobs : int
        Buckets aggregated at once.

    Returns
    -------
    pandas.DataFrame
        As :func:`seglab.engine.customer_aggregates`: one row per customer, by id.
    """
    import math

    import pyarrow as pa

    from seglab import engine

    options = features.FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)
    day = parse_as_of(as_of, option="as_of")
    chosen = [b for b in part.all_buckets if part.files(b)]
    if not chosen:
        raise InputError(f"{part.path}: no transactions in any bucket.")
    present: list[tuple[str, ...]] = []

    def sales_sql(names: list[str]) -> str:
        columns = tuple(c for c in names if c not in QUERY_EXTRAS)
        present.append(columns)
        return engine._plan_sales_sql(columns, day) or (
            "SELECT NULL::VARCHAR AS name, NULL::VARCHAR AS value, NULL::DOUBLE AS sales "
            "WHERE false")

    # The engine's SQL on the engine's column types. On the partition's own nanosecond
    # timestamps DuckDB 2.0.1 found a month number unequal to itself, so NULLIF did not
    # guard ``repurchase_rate``'s division and 0 / 0 gave NaN where the engine gives 0.
    types = engine.SQL_TYPES
    found = map_queries(part, chosen, sales_sql, jobs=jobs, types=types)
    by_value = (pd.concat([t.to_pandas() for t in found], ignore_index=True)
                .groupby(["name", "value"], dropna=False)["sales"].agg(math.fsum)
                .reset_index())
    sql = engine.build_sql(engine._plan_from_sales(by_value, present[0], day, options))
    # Arrow concatenates without copying and sorts with one take per column.
    table = pa.concat_tables(map_queries(part, chosen, lambda _names: sql, jobs=jobs,
                                         types=types))
    table = table.sort_by("customer_id")
    table = features.finish_table(table.to_pandas(self_destruct=True, split_blocks=True))
    return features.add_attributes(table, customers, as_of=day)


def sample_buckets(part: Partition, lines: int) -> list[int]:
    """Return the first customer buckets holding about ``lines`` lines: a customer sample.

    Buckets are hash-random sets of customers, so the first few are a simple random
    sample of customers with all their lines.
    """
    per_bucket = part.lines / max(part.buckets, 1)
    return list(range(min(part.buckets, max(1, round(lines / per_bucket)))))


# --- whole-log profile in SQL ----------------------------------------------------------------


def _blank_sql(column: str) -> str:
    kind = COLUMN_TYPES.get(column, "VARCHAR")
    if kind == "VARCHAR":
        return f"({column} IS NULL OR TRIM({column}) = '')"
    return f"({column} IS NULL)"


def overview(part: Partition) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute the raw log's overview and missing values in DuckDB.

    Same tables as :func:`seglab.profile.overview` and
    :func:`seglab.profile.missing_values` give for a table in memory.

    Parameters
    ----------
    part : Partition
        The partitioned raw log.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(overview, missing_values)`` with the same columns as the pandas functions.
    """
    con = _connect(memory_limit=MEMORY_LIMIT, spill=part.path.parent)
    source = f"read_parquet({_literal(part.glob())}, hive_partitioning = true)"
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        present = [c for c in COLUMN_TYPES if c in names]
        signed = "quantity" if "quantity" in present else "amount"
        dims = [c for c in profile.DIMENSIONS if c in present]
        exprs = [
            "MIN(order_date)", "MAX(order_date)", "COUNT(*)",
            f"SUM(CASE WHEN {_blank_sql('customer_id')} THEN 1 ELSE 0 END)",
            "SUM(amount)", f"SUM(CASE WHEN {signed} < 0 THEN amount ELSE 0 END)",
            f"AVG(CASE WHEN {signed} < 0 THEN 1.0 ELSE 0.0 END)",
            *(f"SUM(CASE WHEN {_blank_sql(c)} THEN 1 ELSE 0 END)" for c in present),
        ]
        start, end, lines, *rest = con.execute(
            f"SELECT {', '.join(exprs)} FROM {source}").fetchone()
        # Each distinct count as its own DISTINCT query: DuckDB spills those to disk
        # when they outgrow memory, while COUNT(DISTINCT) beside other aggregates held
        # 19 GB on 100 million lines (54 million orders).
        days_with, *counts = (
            con.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT {expr} AS value FROM "
                        f"{source}) WHERE value IS NOT NULL").fetchone()[0]
            for expr in ("CAST(order_date AS DATE)", *dims))
    finally:
        _close(con, part.path.parent)
    no_customer, revenue, returns, return_share, *missing = rest
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    rows = [("Period start", start), ("Period end", end),
            ("Days covered", (end.normalize() - start.normalize()).days + 1),
            ("Days with orders", days_with), ("Lines", lines)]
    rows += [(profile.DIMENSIONS[c], n) for c, n in zip(dims, counts, strict=True)]
    rows += [("Lines without customer id", int(no_customer)),
             ("Revenue (net of returns)", revenue), ("Returns (revenue)", returns),
             ("Share of lines that are returns", return_share)]
    dtypes = {"VARCHAR": "str", "TIMESTAMP": "datetime64[ns]", "DOUBLE": "float64"}
    missing_table = pd.DataFrame({
        "column": present,
        "dtype": [dtypes[COLUMN_TYPES[c]] for c in present],
        "missing": np.asarray(missing, dtype="int64"),
        "missing_share": np.asarray(missing, dtype=float) / lines if lines else np.nan,
    })
    return pd.DataFrame(rows, columns=["metric", "value"]), missing_table


def support_counts(part: Partition, as_of: pd.Timestamp) -> dict[str, int]:
    """Count what :class:`seglab.support.DataSupport` needs of a partitioned log, in DuckDB.

    Parameters
    ----------
    part : Partition
        The partitioned raw log.
    as_of : pandas.Timestamp
        Analysis date; lines after its day do not count.

    Returns
    -------
    dict
        ``lines``, ``customers``, ``repeat_customers``, ``orders`` and ``span_days``
        (first line's day to the analysis date), and ``present``: the optional columns
        that hold a value.
    """
    day = day_end(as_of)
    con = _connect(memory_limit=MEMORY_LIMIT, spill=part.path.parent)
    source = (f"(SELECT * FROM read_parquet({_literal(part.glob())}, hive_partitioning = "
              f"true) WHERE order_date < {_literal(day.isoformat())}::TIMESTAMP)")
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        optional = [c for c in COLUMN_TYPES if c in names and c not in
                    ("customer_id", "order_date", "amount")]
        counts = [f"COUNT({c})" for c in optional]
        lines, first, *held = con.execute(
            f"SELECT COUNT(*), MIN(order_date){''.join(', ' + c for c in counts)} "
            f"FROM {source}").fetchone()
        customers, repeat = con.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE days > 1) FROM (SELECT customer_id, "
            f"COUNT(DISTINCT CAST(order_date AS DATE)) AS days FROM {source} "
            "WHERE customer_id IS NOT NULL GROUP BY customer_id)").fetchone()
        orders = (con.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT order_id FROM {source})"
                              " WHERE order_id IS NOT NULL").fetchone()[0]
                  if "order_id" in names else None)
    finally:
        _close(con, part.path.parent)
    span = 0 if first is None else (day - pd.Timestamp(first).normalize()).days - 1
    return {"lines": int(lines), "customers": int(customers), "repeat_customers": int(repeat),
            "orders": None if orders is None else int(orders), "span_days": int(span),
            "present": [c for c, n in zip(optional, held, strict=True) if n]}


@dataclass(frozen=True)
class BucketedCleaning(clean.CleaningResult):
    """A large log's cleaning, bucket by bucket.

    The log and the totals cover every bucket; ``transactions``, ``removed`` and
    ``missing_customer`` the sample buckets only.
    """

    kept_rows: int = 0
    kept_revenue: float = 0.0

    @property
    def rows_kept(self) -> int:
        """Lines kept, in every bucket."""
        return self.kept_rows

    @property
    def revenue_kept(self) -> float:
        """Sum of ``amount`` over the kept lines of every bucket."""
        return self.kept_revenue


@dataclass
class _BucketCleaning:
    log: pd.DataFrame
    rows_in: int
    revenue_in: float
    rows_kept: int
    revenue_kept: float


def _clean_bucket(bucket: int, *, part: Partition, out: Path, as_of: pd.Timestamp,
                  rules: clean.CleaningRules) -> _BucketCleaning | None:
    """Clean one bucket into ``out/bucket=<n>/``.

    The bucket without customer ids is read in chunks: its lines are judged line by
    line (no customer, nothing to compare them with).
    """
    frames = (part.read_chunks(bucket) if bucket == part.buckets else [part.read(bucket)])
    target = out / f"bucket={bucket}"
    logs, rows_in, revenue_in, rows_kept, revenue_kept = [], 0, [], 0, []
    for number, frame in enumerate(frames):
        if frame.empty:
            continue
        result = clean.clean_transactions(frame, as_of=as_of, rules=rules)
        if len(result.transactions):
            target.mkdir(parents=True, exist_ok=True)
            result.transactions.to_parquet(target / f"part-{number:04d}.parquet", index=False)
        logs.append(result.log)
        rows_in += result.rows_in
        revenue_in.append(result.revenue_in)
        rows_kept += result.rows_kept
        revenue_kept.append(result.revenue_kept)
    if not logs:
        return None
    return _BucketCleaning(_add_logs(logs), rows_in, math.fsum(revenue_in), rows_kept,
                           math.fsum(revenue_kept))


def _add_logs(logs: list[pd.DataFrame]) -> pd.DataFrame:
    """Add up cleaning logs of the same rules (rows, and revenue summed exactly)."""
    stacked = pd.concat(logs, ignore_index=True)
    first = logs[0].set_index("step")
    first["rows"] = stacked.groupby("step")["rows"].sum()
    first["revenue"] = stacked.groupby("step")["revenue"].agg(lambda v: math.fsum(v))
    return first.reset_index()


def clean_partition(part: Partition, out: Path, *, as_of: pd.Timestamp,
                    rules: clean.CleaningRules, sample: Sequence[int], share: float,
                    jobs: int = 1) -> BucketedCleaning:
    """Clean a partitioned log bucket by bucket into the partition ``out``.

    Every cleaning rule looks at one customer's lines, or at one line, so this equals
    cleaning the whole log; the log adds up over all buckets.

    Parameters
    ----------
    part : Partition
        The staged (raw) partition.
    out : Path
        Folder of the clean partition (replaced).
    as_of : pandas.Timestamp
        Analysis date (the ``future_dates`` rule).
    rules : seglab.clean.CleaningRules
        The rules applied.
    sample, share : sequence of int, float
        The customer sample's buckets and share (:meth:`Partition.read_sample`), whose
        clean lines are returned as ``transactions``.
    jobs : int
        Worker processes.

    Returns
    -------
    BucketedCleaning
        The log and totals of every bucket; the clean lines of the sample.
    """
    import functools
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    work = functools.partial(_clean_bucket, part=part, out=out, as_of=as_of, rules=rules)
    done = [d for d in map_buckets(work, list(part.all_buckets), n_jobs=jobs) if d is not None]
    lines = Partition(out, part.buckets, 0).read_sample(sample, share)
    return BucketedCleaning(
        transactions=lines, log=_add_logs([d.log for d in done]),
        missing_customer=lines.iloc[:0], removed=lines.iloc[:0],
        rows_in=sum(d.rows_in for d in done),
        revenue_in=math.fsum(d.revenue_in for d in done), as_of=as_of, rules=rules,
        kept_rows=sum(d.rows_kept for d in done),
        kept_revenue=math.fsum(d.revenue_kept for d in done))
