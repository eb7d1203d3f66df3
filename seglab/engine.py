"""Customer aggregation in SQL: the customer table of :mod:`seglab.features`, in DuckDB.

:func:`customer_aggregates` turns transactions (a DataFrame, or a Parquet or CSV file
read straight from disk) into one row per customer with the same columns and numbers
as :func:`seglab.features.customer_features`; :func:`rfm_table` computes only the
lifetimes RFM and the plain figures, the fast path for nightly scoring at scale.
DuckDB streams the file and spills to disk, so logs larger than memory work.

All SQL lives in this module. It reads one relation, ``transactions``, with canonical
column names (binding a file or DataFrame to that name is the only DuckDB-specific
step, :func:`_bind`), and keeps to plain SQL so that it transpiles to other engines,
e.g. Spark with SQLGlot (``sqlglot.transpile(sql, read="duckdb", write="spark")``):
CTEs, ``GROUP BY``, ``CASE``, ``COALESCE``/``NULLIF``, ``CAST``, ``EXTRACT``, window
``LAG``/``ROW_NUMBER``, ``STDDEV_SAMP``. Two functions have no ANSI form and were
picked for their one-to-one equivalents: ``DATE_DIFF('day', a, b)`` (Spark
``DATEDIFF(b, a)``) and ``ARG_MIN(x, y)`` (Spark ``MIN_BY``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglab import features, schema
from seglab.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

#: Suffixes :func:`customer_aggregates` reads from disk.
FILE_SUFFIXES: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".txt": "csv",
}

#: Canonical columns the SQL uses, and the SQL type each is cast to.
SQL_TYPES: dict[str, str] = {
    "customer_id": "VARCHAR",
    "order_date": "TIMESTAMP",
    "amount": "DOUBLE",
    "order_id": "VARCHAR",
    "quantity": "DOUBLE",
    "discount": "DOUBLE",
    "product_id": "VARCHAR",
    "category": "VARCHAR",
    "channel": "VARCHAR",
    "country": "VARCHAR",
    "region": "VARCHAR",
}

Source = pd.DataFrame | str | Path


@dataclass(frozen=True)
class Plan:
    """What the SQL needs to know about the data and the analysis."""

    as_of: pd.Timestamp
    options: features.FeatureOptions
    columns: tuple[str, ...]
    mixes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    places: tuple[str, ...] = ()
    top_category: bool = False

    def has(self, column: str) -> bool:
        """Whether the bound transactions have ``column``."""
        return column in self.columns


# --- SQL --------------------------------------------------------------------------------


def _literal(value: object) -> str:
    """Quote ``value`` as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    """Quote ``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _timestamp(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP '{ts:%Y-%m-%d %H:%M:%S}'"


def _days(day_sql: str) -> str:
    """Days since 1970-01-01 of a DATE expression."""
    return f"DATE_DIFF('day', DATE '1970-01-01', {day_sql})"


def _months(day_sql: str) -> str:
    """Calendar months since January 1970 of a DATE or TIMESTAMP expression."""
    return (f"((EXTRACT(YEAR FROM {day_sql}) - 1970) * 12 + EXTRACT(MONTH FROM {day_sql}) - 1)")


def period_sql(time_unit: str, date_sql: str = "order_date") -> str:
    """Return SQL for the period number of a timestamp (seglab's period ordinals).

    Parameters
    ----------
    time_unit : {"D", "W", "M"}
        Days since 1970, Monday-start weeks since 1970, or calendar months since 1970.
    date_sql : str
        A TIMESTAMP expression.

    Returns
    -------
    str
        An integer SQL expression.
    """
    day = f"CAST({date_sql} AS DATE)"
    if time_unit == "D":
        return _days(day)
    if time_unit == "W":
        # 1970-01-01 is a Thursday; shifting by 3 days makes weeks start on Monday.
        return f"CAST(FLOOR(({_days(day)} + 3) / 7.0) AS BIGINT)"
    return _months(day)


def _period_number(day: pd.Timestamp, time_unit: str) -> int:
    return int(features._period_ordinals(pd.Series([day]), time_unit)[0])


def build_sql(plan: Plan, *, level: str = "full") -> str:
    """Return the query that builds the customer table from ``transactions``.

    The lifetimes RFM needs one big aggregation, lines to (customer, day), kept as
    narrow as possible (one sum), then days (or periods) to customers; every other
    figure comes from one pass over the lines (or, with ``order_id``, over order
    parts) grouped by customer. The behaviour features add the purchase-gap window,
    distinct products and the mixes.

    Parameters
    ----------
    plan : Plan
        Analysis date, options and which optional columns the data has.
    level : {"full", "rfm"}
        ``"full"``: every feature of :func:`seglab.features.customer_features`;
        ``"rfm"``: lifetimes RFM and the plain figures only.

    Returns
    -------
    str
        One ``WITH ... SELECT`` statement, one row per customer ordered by id.
    """
    if level not in ("full", "rfm"):
        raise ConfigError(f"level={level!r} should be 'full' or 'rfm'.")
    full = level == "full"
    options = plan.options
    tol = repr(features.MONEY_TOLERANCE)
    end = plan.as_of + pd.Timedelta(days=1)
    mid = end - pd.Timedelta(days=options.window_days)
    start = mid - pd.Timedelta(days=options.window_days)
    as_of_day = f"DATE '{plan.as_of:%Y-%m-%d}'"
    by_order = plan.has("order_id")
    units = full and plan.has("quantity")
    discount = full and plan.has("discount")
    wanted = ["customer_id", "order_date", "amount"]
    if by_order:
        wanted.append("order_id")
    if full:
        wanted += [c for c in SQL_TYPES if plan.has(c) and c not in wanted]
    # The lines that count, as a subquery: a CTE read several times would be
    # materialised by DuckDB, costing memory for nothing.
    lines = (f"(SELECT {', '.join(wanted)} FROM transactions WHERE customer_id IS NOT NULL "
             f"AND order_date IS NOT NULL AND amount IS NOT NULL AND order_date < "
             f"{_timestamp(end)}) AS lines")
    ctes: dict[str, str] = {}

    # Order parts (with order_id): an order's lines within one day. Totals and orders
    # are built from them; without order_id from the lines, each line being an order.
    if by_order:
        part_sums = [
            "MIN(order_date) AS first_time",
            "MAX(order_date) AS last_time",
            "SUM(amount) AS amount",
            "SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS sales",
            "COUNT(*) AS lines",
        ]
        if full:
            part_sums.append("SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS returned")
        if units:
            part_sums.append("SUM(quantity) AS units")
        if discount:
            part_sums.append("SUM(CASE WHEN amount > 0 THEN discount ELSE 0 END) AS discount")
        ctes["parts"] = f"""
    SELECT customer_id, order_id AS order_key,
           CASE WHEN order_id IS NULL THEN order_date END AS key_time,
           CAST(order_date AS DATE) AS day,
           {", ".join(part_sums)}
    FROM {lines}
    GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN order_date END,
             CAST(order_date AS DATE)"""
        day_from, day_key = "parts", "day"
    else:
        day_from, day_key = lines, "CAST(order_date AS DATE)"

    # Lifetimes RFM: (customer, day) sums, then periods, then customers.
    day_sums = ["SUM(amount) AS amount"]
    if full and not by_order:
        day_sums.append(f"COUNT(CASE WHEN amount > {tol} THEN 1 END) AS buys")
    ctes["days"] = f"""
    SELECT customer_id, {day_key} AS day, {", ".join(day_sums)}
    FROM {day_from}
    GROUP BY customer_id, {day_key}"""
    if options.time_unit == "D":
        period_from, period = "days", "day"
        recency = "DATE_DIFF('day', MIN(day), MAX(day))"
        age = f"DATE_DIFF('day', MIN(day), {as_of_day})"
    else:
        key = period_sql(options.time_unit, "day")
        ctes["periods"] = f"""
    SELECT customer_id, {key} AS period, SUM(amount) AS amount
    FROM days
    GROUP BY customer_id, {key}"""
        period_from, period = "periods", "period"
        recency = "MAX(period) - MIN(period)"
        age = f"{_period_number(plan.as_of, options.time_unit)} - MIN(period)"
    ctes["rfm"] = f"""
    SELECT customer_id,
           COUNT(*) - 1 AS frequency,
           {recency} AS recency,
           {age} AS t,
           CASE WHEN COUNT(*) > 1
                THEN (SUM(amount) - ARG_MIN(amount, {period})) / (COUNT(*) - 1)
                ELSE 0 END AS monetary_value
    FROM {period_from}
    GROUP BY customer_id"""

    # Totals per customer: one pass over the lines (or parts).
    if by_order:
        total_sums = ["MIN(first_time) AS first_line", "MAX(last_time) AS last_line",
                      "SUM(amount) AS revenue", "SUM(sales) AS sales"]
        if full:
            total_sums.append("SUM(returned) AS returned")
        if discount:
            total_sums.append("SUM(discount) AS discount")
        when = "day"
        mid_sql, start_sql = f"DATE '{mid:%Y-%m-%d}'", f"DATE '{start:%Y-%m-%d}'"
        totals_from = "parts"
    else:
        total_sums = [
            "MIN(order_date) AS first_line",
            "MAX(order_date) AS last_line",
            "SUM(amount) AS revenue",
            "SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS sales",
            f"COUNT(CASE WHEN amount > {tol} THEN 1 END) AS orders",
            f"MIN(CASE WHEN amount > {tol} THEN order_date END) AS first_order",
            f"MAX(CASE WHEN amount > {tol} THEN order_date END) AS last_order",
        ]
        if full:
            total_sums.append("SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS returned")
        if units:
            total_sums.append(f"SUM(CASE WHEN amount > {tol} THEN quantity END) AS units")
        if discount:
            total_sums.append("SUM(CASE WHEN amount > 0 THEN discount ELSE 0 END) AS discount")
        when = "order_date"
        mid_sql, start_sql = _timestamp(mid), _timestamp(start)
        totals_from = lines
    if full:
        total_sums += [
            f"SUM(CASE WHEN {when} >= {mid_sql} THEN amount ELSE 0 END) AS recent_revenue",
            f"SUM(CASE WHEN {when} >= {start_sql} AND {when} < {mid_sql} THEN amount "
            "ELSE 0 END) AS previous_revenue",
        ]
    ctes["totals"] = f"""
    SELECT customer_id, {", ".join(total_sums)}
    FROM {totals_from}
    GROUP BY customer_id"""

    # Purchases (orders whose lines sum to more than zero) and the gaps between them.
    gap = ("DATE_DIFF('day', LAG(day) OVER (PARTITION BY customer_id ORDER BY day), day) "
           "AS gap")
    gap_sums = [
        "AVG(CASE WHEN gap > 0 THEN gap END) AS mean_gap",
        "STDDEV_SAMP(CASE WHEN gap > 0 THEN gap END) AS std_gap",
        f"COUNT(DISTINCT {_months('day')}) AS purchase_months",
    ]
    if by_order:
        order_sums = ["MIN(first_time) AS order_time", "SUM(amount) AS amount",
                      "SUM(lines) AS lines"] + (["SUM(units) AS units"] if units else [])
        ctes["orders"] = f"""
    SELECT customer_id, {", ".join(order_sums)}
    FROM parts
    GROUP BY customer_id, order_key, key_time"""
        buy_sums = ["COUNT(*) AS orders", "MIN(order_time) AS first_order",
                    "MAX(order_time) AS last_order", "SUM(lines) AS lines"]
        if units:
            buy_sums.append("SUM(units) AS units")
        if full:
            # Same-day purchases give a gap of 0, so the positive gaps are exactly the
            # gaps between distinct purchase days.
            kept = "customer_id, order_time, lines" + (", units" if units else "")
            ctes["purchase_orders"] = f"""
    SELECT {kept}, day, {gap}
    FROM (SELECT {kept}, CAST(order_time AS DATE) AS day
          FROM orders WHERE amount > {tol}) AS bought"""
            buy_sums += gap_sums
            buy_from = "purchase_orders"
        else:
            buy_from = f"orders WHERE amount > {tol}"
        ctes["purchases"] = f"""
    SELECT customer_id, {", ".join(buy_sums)}
    FROM {buy_from}
    GROUP BY customer_id"""
        buys = "p"
    else:
        if full:
            ctes["purchase_days"] = f"""
    SELECT customer_id, day, {gap}
    FROM days
    WHERE buys > 0"""
            ctes["purchases"] = f"""
    SELECT customer_id, {", ".join(gap_sums)}
    FROM purchase_days
    GROUP BY customer_id"""
        buys = "t"

    orders = f"{buys}.orders"
    first = f"COALESCE({buys}.first_order, t.first_line)"
    last = f"COALESCE({buys}.last_order, t.last_line)"
    select = [
        "t.customer_id",
        "CAST(r.frequency AS DOUBLE) AS frequency",
        "CAST(r.recency AS DOUBLE) AS recency",
        'CAST(r.t AS DOUBLE) AS "T"',
        "CAST(r.monetary_value AS DOUBLE) AS monetary_value",
        f"COALESCE({orders}, 0) AS orders",
        "t.revenue",
        "t.sales",
        f"{first} AS first_order",
        f"{last} AS last_order",
        f"DATE_DIFF('day', CAST({last} AS DATE), {as_of_day}) AS days_since_last_order",
        f"DATE_DIFF('day', CAST({first} AS DATE), {as_of_day}) AS tenure_days",
        f"COALESCE(t.sales / NULLIF({orders}, 0), 0) AS avg_order_value",
    ]
    joins = ["JOIN rfm AS r ON r.customer_id = t.customer_id"]
    if "purchases" in ctes:
        joins.append("LEFT JOIN purchases AS p ON p.customer_id = t.customer_id")
    if full:
        purchase_lines = "p.lines" if by_order else orders
        select.append(
            f"COALESCE({purchase_lines} / NULLIF({orders}, 0), 0) AS lines_per_order"
        )
        if units:
            select.append(
                f"COALESCE({buys}.units / NULLIF({orders}, 0), 0) AS units_per_order"
            )
        end_month = _period_number(plan.as_of, "M")
        select += [
            "p.mean_gap AS mean_days_between_orders",
            "p.std_gap AS std_days_between_orders",
            "1 / (1 + p.std_gap / p.mean_gap) AS purchase_regularity",
            f"COALESCE((p.purchase_months - 1) / NULLIF({end_month} - "
            f"{_months(f'{buys}.first_order')}, 0), 0) AS repurchase_rate",
            "t.recent_revenue",
            "t.previous_revenue",
            "CASE WHEN ABS(t.recent_revenue) + ABS(t.previous_revenue) > "
            f"{tol} THEN (t.recent_revenue - t.previous_revenue) / "
            "(ABS(t.recent_revenue) + ABS(t.previous_revenue)) ELSE 0 END AS spend_trend",
            "COALESCE(t.returned / NULLIF(t.sales, 0), 0) AS return_share",
        ]
        if discount:
            select.append(
                "COALESCE(t.discount / NULLIF(t.sales + t.discount, 0), 0) AS discount_share"
            )
        if plan.has("product_id"):
            ctes["products"] = f"""
    SELECT customer_id, COUNT(DISTINCT product_id) AS distinct_products
    FROM {lines}
    WHERE amount > 0
    GROUP BY customer_id"""
            select.append("COALESCE(pr.distinct_products, 0) AS distinct_products")
            joins.append("LEFT JOIN products AS pr ON pr.customer_id = t.customer_id")
        _add_text_features(plan, ctes, select, joins, lines)

    with_sql = ",\n".join(f"{name} AS ({body}\n)" for name, body in ctes.items())
    select_sql = ",\n    ".join(select)
    join_sql = "\n".join(joins)
    return (f"WITH {with_sql}\nSELECT\n    {select_sql}\nFROM totals AS t\n{join_sql}\n"
            "ORDER BY t.customer_id")


def _add_text_features(
    plan: Plan, ctes: dict[str, str], select: list[str], joins: list[str], lines: str
) -> None:
    """Add the top category/country/region and the category/channel mixes to the query."""
    tops = ([("category", "top_category")] if plan.top_category else []) + [
        (column, column) for column in plan.places
    ]
    for column in dict.fromkeys([c for c, _ in tops] + list(plan.mixes)):
        ctes[f"{column}_sales"] = f"""
    SELECT customer_id, {column} AS value, SUM(amount) AS sales
    FROM {lines}
    WHERE amount > 0
    GROUP BY customer_id, {column}"""
    for column, name in tops:
        ctes[f"{column}_top"] = f"""
    SELECT customer_id, value, sales
    FROM (SELECT customer_id, value, sales, ROW_NUMBER() OVER (
              PARTITION BY customer_id ORDER BY sales DESC, value) AS rank
          FROM {column}_sales
          WHERE value IS NOT NULL) AS ranked
    WHERE rank = 1"""
        alias = f"{column}_t"
        joins.append(f"LEFT JOIN {column}_top AS {alias} ON {alias}.customer_id = t.customer_id")
        select.append(f"{alias}.value AS {_identifier(name)}")
        if name == "top_category":
            select.append(
                f"COALESCE({alias}.sales / NULLIF(t.sales, 0), 0) AS top_category_share"
            )
    for column, (values, other) in plan.mixes.items():
        prefix = features.MIX_COLUMNS[column]
        names = features.mix_column_names(prefix, values)
        sums = [
            f"SUM(CASE WHEN value = {_literal(v)} THEN sales ELSE 0 END) AS m{i}"
            for i, v in enumerate(values)
        ]
        if other:
            listed = ", ".join(_literal(v) for v in values)
            sums.append(
                f"SUM(CASE WHEN value IS NULL OR value NOT IN ({listed}) THEN sales "
                "ELSE 0 END) AS m_other"
            )
            names = [*names, f"{prefix}other"]
        ctes[f"{column}_mix"] = f"""
    SELECT customer_id, {", ".join(sums)}
    FROM {column}_sales
    GROUP BY customer_id"""
        alias = f"{column}_m"
        joins.append(f"LEFT JOIN {column}_mix AS {alias} ON {alias}.customer_id = t.customer_id")
        keys_out = [f"m{i}" for i in range(len(values))] + (["m_other"] if other else [])
        select += [
            f"COALESCE({alias}.{k} / NULLIF(t.sales, 0), 0) AS {_identifier(n)}"
            for k, n in zip(keys_out, names, strict=True)
        ]


# --- binding a source and running -------------------------------------------------------


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _reader(path: Path) -> str:
    kind = FILE_SUFFIXES.get(_suffix(path))
    if kind is None:
        raise InputError(
            f"{path}: cannot aggregate a {_suffix(path) or 'suffix-less'} file in DuckDB; "
            f"use one of {', '.join(FILE_SUFFIXES)} (or load it with seglab.io first)."
        )
    if not path.is_file():
        raise InputError(f"{path}: file not found.")
    if kind == "parquet":
        return f"read_parquet({_literal(path)})"
    return f"read_csv({_literal(path)}, header = true)"


def _bind(con, source: Source, columns: str | Mapping[str, str] | None) -> tuple[str, ...]:
    """Create the view ``transactions`` (canonical names and types) over ``source``."""
    if isinstance(source, pd.DataFrame):
        con.register("seglab_input", source)
        relation, label = "seglab_input", "transactions"
    else:
        path = Path(source)
        relation, label = _reader(path), str(path)
    try:
        names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    except Exception as err:  # duckdb raises its own error classes
        raise InputError(f"{label}: DuckDB cannot read it: {str(err).splitlines()[0]}") from err
    mapping = schema.parse_column_mapping(columns)
    resolved = schema.resolve_column_mapping(names, mapping, source=label, kind="transactions")
    if "amount" not in resolved and {"quantity", "unit_price"} <= set(resolved):
        amount = (f"CAST({_identifier(resolved['quantity'])} AS DOUBLE) * "
                  f"CAST({_identifier(resolved['unit_price'])} AS DOUBLE)")
    elif "amount" in resolved:
        amount = f"CAST({_identifier(resolved['amount'])} AS DOUBLE)"
    else:
        raise InputError(
            f"{label}: no column 'amount' (nor quantity and unit_price to derive it); "
            f"columns are {names}. Pass a column mapping, e.g. --columns amount=Total."
        )
    for column in ("customer_id", "order_date"):
        if column not in resolved:
            raise InputError(
                f"{label}: no column {column!r}; columns are {names}. Pass a column "
                f"mapping, e.g. --columns {column}=<your column>."
            )
    select = [f"{amount} AS amount"]
    for column, sql_type in SQL_TYPES.items():
        if column in resolved and column != "amount":
            select.append(f"CAST({_identifier(resolved[column])} AS {sql_type}) AS {column}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW transactions AS SELECT {', '.join(select)} "
                f"FROM {relation}")
    present = tuple(["amount", *(c for c in SQL_TYPES if c in resolved and c != "amount")])
    return present


def _fetch(con, sql: str, label: str) -> pd.DataFrame:
    try:
        # Through Arrow: cheaper than DuckDB's own DataFrame conversion for text.
        return con.sql(sql).to_arrow_table().to_pandas()
    except Exception as err:  # duckdb.ConversionException & co.
        message = str(err).splitlines()[0]
        if "Conversion" in type(err).__name__ or "convert" in message.lower():
            raise InputError(
                f"{label}: a value does not fit its column type ({message}). Dates must "
                "be ISO (2011-12-09 12:50:00) to be read straight from a file; otherwise "
                "leave out --no-clean so seglab's intake reads them."
            ) from err
        raise


@contextmanager
def _session(
    source: Source,
    columns: str | Mapping[str, str] | None,
    threads: int | None,
    memory_limit: str | None,
) -> Iterator[tuple[object, tuple[str, ...], str]]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        label = "transactions" if isinstance(source, pd.DataFrame) else str(source)
        present = _bind(con, source, columns)
        yield con, present, label
    finally:
        con.close()


def _as_of(con, as_of: pd.Timestamp | str | None, label: str) -> pd.Timestamp:
    if as_of is not None:
        return features.analysis_day(as_of)
    last = _fetch(con, "SELECT MAX(order_date) AS last FROM transactions", label)["last"].iat[0]
    if pd.isna(last):
        raise InputError(f"{label}: no transactions with a date.")
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def _plan(con, present: tuple[str, ...], as_of: pd.Timestamp, options, label: str) -> Plan:
    """Find which optional text columns hold values, and the top values of the mixes."""
    end = _timestamp(as_of + pd.Timedelta(days=1))
    where = (f"customer_id IS NOT NULL AND order_date IS NOT NULL AND amount > 0 "
             f"AND order_date < {end}")
    text = [c for c in ("category", *features.MIX_COLUMNS, *features.PLACE_COLUMNS)
            if c in present]
    text = list(dict.fromkeys(text))
    filled: set[str] = set()
    if text:
        counts = _fetch(con, "SELECT " + ", ".join(f"COUNT({c}) AS {c}" for c in text)
                        + f" FROM transactions WHERE {where}", label)
        filled = {c for c in text if counts[c].iat[0] > 0}
    mixes = {}
    for column in features.MIX_COLUMNS:
        if column not in filled:
            continue
        sales = _fetch(con, f"SELECT {column} AS value, SUM(amount) AS sales FROM transactions "
                       f"WHERE {where} GROUP BY {column}", label)
        by_value = pd.Series(sales["sales"].to_numpy(),
                             index=pd.Index(sales["value"], dtype="string"))
        top_n = options.category_top_n if column == "category" else options.channel_top_n
        chosen, other = features.top_values(by_value, top_n)
        mixes[column] = (tuple(chosen), other)
    return Plan(
        as_of=as_of,
        options=options,
        columns=present,
        mixes=mixes,
        places=tuple(c for c in features.PLACE_COLUMNS if c in filled),
        top_category="category" in filled,
    )


def _options(time_unit: str, window_days: int, category_top_n: int,
             channel_top_n: int) -> features.FeatureOptions:
    return features.FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)


def customer_aggregates(
    source: Source,
    *,
    as_of: pd.Timestamp | str | None = None,
    columns: str | Mapping[str, str] | None = None,
    customers: pd.DataFrame | None = None,
    time_unit: str = features.FeatureOptions.time_unit,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Build the customer table in DuckDB: equal to :func:`seglab.features.customer_features`.

    Parameters
    ----------
    source : pandas.DataFrame, str or Path
        Clean canonical transactions, or a Parquet/CSV file aggregated straight from
        disk (no cleaning: for extracts that are clean already, e.g. a run's
        ``transactions.parquet``).
    as_of : pandas.Timestamp or str, optional
        Analysis date; default the day after the last transaction.
    columns : str or Mapping, optional
        Column mapping for a file (see :func:`seglab.schema.parse_column_mapping`);
        ``amount`` is derived as ``quantity * unit_price`` when missing.
    customers : pandas.DataFrame, optional
        Customer attributes (see :func:`seglab.features.add_attributes`).
    time_unit, window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    threads : int, optional
        DuckDB threads; default all cores.
    memory_limit : str, optional
        DuckDB memory limit such as ``"2GB"``; beyond it DuckDB spills to disk.

    Returns
    -------
    pandas.DataFrame
        One row per customer, columns and dtypes as
        :func:`seglab.features.customer_features`.

    Raises
    ------
    InputError
        If the source cannot be read or lacks a required column.
    ConfigError
        For bad options or a bad column mapping.

    Examples
    --------
    >>> table = customer_aggregates("reports/latest/transactions.parquet")  # doctest: +SKIP
    """
    options = _options(time_unit, window_days, category_top_n, channel_top_n)
    with _session(source, columns, threads, memory_limit) as (con, present, label):
        day = _as_of(con, as_of, label)
        plan = _plan(con, present, day, options, label)
        table = _fetch(con, build_sql(plan), label)
    table = features.finish_table(table)
    return features.add_attributes(table, customers, as_of=day)


def rfm_table(
    source: Source,
    *,
    as_of: pd.Timestamp | str | None = None,
    columns: str | Mapping[str, str] | None = None,
    time_unit: str = features.FeatureOptions.time_unit,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Lifetimes RFM and the plain figures only, in DuckDB: the lean path for large logs.

    Parameters
    ----------
    source, as_of, columns, time_unit, threads, memory_limit
        As :func:`customer_aggregates`.

    Returns
    -------
    pandas.DataFrame
        One row per customer: ``customer_id``, ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``orders``, ``revenue``, ``sales``, ``first_order``,
        ``last_order``, ``days_since_last_order``, ``tenure_days``, ``avg_order_value``
        (same numbers as those columns of :func:`customer_aggregates`).
    """
    options = _options(time_unit, features.FeatureOptions.window_days, 1, 1)
    with _session(source, columns, threads, memory_limit) as (con, present, label):
        day = _as_of(con, as_of, label)
        plan = Plan(as_of=day, options=options, columns=present)
        table = _fetch(con, build_sql(plan, level="rfm"), label)
    return features.finish_table(table)


def feature_sql(
    source: Source,
    *,
    as_of: pd.Timestamp | str | None = None,
    columns: str | Mapping[str, str] | None = None,
    level: str = "full",
    time_unit: str = features.FeatureOptions.time_unit,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
) -> str:
    """Return the SQL :func:`customer_aggregates` (or :func:`rfm_table`) would run.

    For reading, or for transpiling to another engine: it reads a relation named
    ``transactions`` with canonical column names.

    Parameters
    ----------
    source, as_of, columns, time_unit, window_days, category_top_n, channel_top_n
        As :func:`customer_aggregates` (the data decides the top values).
    level : {"full", "rfm"}
        Which query.

    Returns
    -------
    str
        The query.
    """
    if level not in ("full", "rfm"):
        raise ConfigError(f"level={level!r} should be 'full' or 'rfm'.")
    options = _options(time_unit, window_days, category_top_n, channel_top_n)
    with _session(source, columns, None, None) as (con, present, label):
        day = _as_of(con, as_of, label)
        plan = (_plan(con, present, day, options, label) if level == "full"
                else Plan(as_of=day, options=options, columns=present))
    return build_sql(plan, level=level)



# --- the nightly export ------------------------------------------------------------------

#: Customer-table formats :func:`export_customer_table` writes.
OUTPUT_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")


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
    as_of: str | pd.Timestamp | None = None,
    clean: bool = True,
    segments: bool = True,
    params: Mapping[str, object] | None = None,
) -> tuple[Path, int]:
    """Score a transaction file into the customer table, without notebooks.

    By default the file goes through the same intake and cleaning as ``seglab run``
    (:func:`seglab.io.load_transactions`, :func:`seglab.clean.clean_transactions`
    with default rules), then DuckDB aggregates it and the rule segments are added,
    so the table equals a run's ``customers.csv`` before clustering. With
    ``clean=False`` DuckDB reads a Parquet or CSV file straight from disk (no
    intake checks, no cleaning): for extracts that are clean already, e.g. a run's
    ``transactions.parquet``; it is faster and holds only the result in memory.

    Parameters
    ----------
    data : str or Path
        Transaction file.
    output : str or Path
        Where to write: ``.parquet`` or ``.csv`` (dates as YYYY-MM-DD).
    columns, customers, customer_columns, encoding, sheet, bad_dates
        As ``seglab run``.
    as_of : str or pandas.Timestamp, optional
        Analysis date; default the day after the last transaction.
    clean : bool
        Run the intake and cleaning first (default), or aggregate the file as it is.
    segments : bool
        Add the rule segments.
    params : Mapping, optional
        Notebook parameters (a ``seglab run`` params file): ``time_unit``,
        ``window_days``, ``category_top_n``, ``channel_top_n`` and ``segment_rules``
        are used, other keys ignored.

    Returns
    -------
    tuple of (Path, int)
        The file written and the number of customers.

    Raises
    ------
    ConfigError
        For an output suffix other than .parquet or .csv, or bad parameters.
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
    params = dict(params or {})
    option_names = ("time_unit", "window_days", "category_top_n", "channel_top_n")
    options = {k: params[k] for k in option_names if k in params}
    rules = seglab_segments.segment_rules(**dict(params.get("segment_rules") or {}))
    attributes = (
        seglab_io.load_customers(customers, columns=customer_columns, encoding=encoding)
        if customers else None
    )
    if clean:
        transactions = seglab_io.load_transactions(
            data, columns=columns, encoding=encoding, sheet=sheet, bad_dates=bad_dates
        )
        day = (features.analysis_day(as_of) if as_of is not None
               else features.default_as_of(transactions))
        kept = seglab_clean.clean_transactions(transactions, as_of=day).transactions
        table = customer_aggregates(kept, as_of=day, customers=attributes, **options)
    else:
        table = customer_aggregates(data, as_of=as_of, columns=columns, customers=attributes,
                                    **options)
    if segments:
        table = seglab_segments.rule_segments(table, rules=rules)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        table.to_csv(output, index=False, date_format="%Y-%m-%d")
    else:
        table.to_parquet(output, index=False)
    logger.info("wrote %d customers to %s", len(table), output)
    return output, len(table)
