"""Customer aggregation in SQL: the customer table of :mod:`seglab.features`, on DuckDB or Spark.

:func:`customer_aggregates` turns transactions (a DataFrame, or Parquet or CSV files
read straight by the engine) into one row per customer with the same columns and
numbers as :func:`seglab.features.customer_features`; :func:`rfm_table` computes only
the lifetimes RFM and the plain figures, the fast path for nightly scoring at scale.
DuckDB (the default) streams the file and spills to disk, so logs larger than memory
work on one machine; Spark (``engine="spark"``, :mod:`seglab.spark`) runs the same
SQL on a cluster.

All SQL lives in this module and is written once, for DuckDB. It reads one relation,
``transactions``, with canonical column names (:func:`_bind` maps and casts the
source; :func:`cleaning_sql` optionally drops what the cleaning rules remove), and
keeps to plain SQL so that SQLGlot transpiles it to Spark unchanged in meaning
(``sqlglot.transpile(sql, read="duckdb", write="spark")``): CTEs, ``GROUP BY``,
``CASE``, ``COALESCE``/``NULLIF``, ``CAST``, ``EXTRACT``, window ``LAG``/``ROW_NUMBER``,
``STDDEV_SAMP``. Three functions have no ANSI form and were picked for their one-to-one
equivalents: ``DATE_DIFF('day', a, b)`` (Spark ``DATEDIFF(DAY, a, b)``),
``ARG_MIN(x, y)`` (Spark ``MIN_BY``; its ties cannot happen, periods are unique per
customer) and, for cleaning, ``regexp_matches`` (Spark ``RLIKE``).

Written so both engines agree to 1e-9 (sums only add in another order): ``/`` divides
as doubles in both; ``FLOOR`` is a true floor for weeks before 1970 in both;
``EXTRACT`` takes only years and months (integers in both); ``STDDEV_SAMP`` of one
value is NULL in both; window orders are total (``ROW_NUMBER`` orders by sales, then
the value, compared byte by byte in both; SQLGlot keeps DuckDB's NULL ordering);
timestamps carry no time zone (Spark ``TIMESTAMP_NTZ``, sessions in UTC); CSV columns
are read as text and cast here, so neither engine guesses types. What stays
engine-specific (reading a source, running a statement) is the :class:`Backend`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglab import features, schema
from seglab.analysis_date import day_end, parse_as_of
from seglab.clean import CleaningRules
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

#: SQL type of each kind of canonical column (:data:`seglab.schema.TRANSACTION_COLUMNS`).
_KIND_TYPES: dict[str, str] = {"id": "VARCHAR", "text": "VARCHAR", "number": "DOUBLE",
                               "date": "TIMESTAMP"}

#: SQL type of every canonical transaction column, in schema order.
COLUMN_TYPES: dict[str, str] = {
    column: _KIND_TYPES[kind] for column, kind in schema.TRANSACTION_COLUMNS.items()
}

#: Canonical columns the customer-table SQL uses, and the SQL type each is cast to.
SQL_TYPES: dict[str, str] = {column: COLUMN_TYPES[column] for column in (
    "customer_id", "order_date", "amount", "order_id", "quantity", "discount", "product_id",
    "category", "channel", "country", "region")}

#: Engines the SQL runs on.
ENGINES: tuple[str, ...] = ("duckdb", "spark")

#: Views seglab creates: the source as read, its canonical lines, and (always)
#: ``transactions``, the lines the customer table is built from.
SOURCE_VIEW = "seglab_source"
LINES_VIEW = "seglab_lines"

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
    end = day_end(plan.as_of)
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



# --- cleaning in SQL ----------------------------------------------------------------------


def _starts_with(column: str, prefixes: tuple[str, ...]) -> str:
    return "(" + " OR ".join(
        f"SUBSTRING({column}, 1, {len(p)}) = {_literal(p)}" for p in prefixes) + ")"


def cleaning_sql(
    columns: Sequence[str],
    rules: CleaningRules | None = None,
    *,
    relation: str = LINES_VIEW,
) -> str:
    """Return the query that applies the row-filter cleaning rules to canonical lines.

    The SQL form of :func:`seglab.clean.clean_transactions` for the rules that remove
    lines, written once for every engine (like :func:`build_sql`), so that a raw
    extract can be aggregated without pandas. It keeps the lines no rule removes:

    - ``strip_text``: spaces are trimmed from id and text values, blanks become NULL
      (SQL ``TRIM`` removes spaces only; Python's ``strip`` also tabs, newlines and
      other Unicode white space);
    - ``invalid_values``, ``missing_customer`` (NULL or blank id), ``adjustments``
      (order id prefixes), ``non_product_codes`` (codes, and ``non_product_pattern``
      as a case-insensitive match at the start of the trimmed, upper-cased code; the
      pattern must mean the same to Python, RE2 and Java, as the default does),
      ``non_positive_price`` (a negative unit price), ``free_lines`` with
      ``drop_free_lines=True`` (both forms; by default free lines are kept, as in
      pandas, and count as purchases), ``extreme_outliers`` with
      ``outlier_rule="drop"`` (with the lines cancelling them), ``exact_duplicates``
      (``SELECT DISTINCT``: copies of a line are one line);
    - ``future_dates`` is not here: the aggregation keeps only lines up to the
      analysis day itself.

    What it does not do: flag returns, outliers and free lines (``is_return``,
    ``is_outlier``, ``is_free``; the aggregation does not read them), keep the
    cleaning log, set aside the lines without customer, or the intake's fixes of
    :func:`seglab.io.load_transactions` (ids such as ``12346.0`` read as ``12346``,
    dates in other formats, white space other than spaces). Duplicates are judged on
    the canonical columns only, so columns that are not canonical do not make two
    lines different.

    Parameters
    ----------
    columns : sequence of str
        Canonical columns of ``relation`` (``amount`` included).
    rules : CleaningRules, optional
        Default :class:`seglab.clean.CleaningRules`.
    relation : str
        The relation holding the canonical lines.

    Returns
    -------
    str
        A ``SELECT`` of ``columns``, for DuckDB (transpiles to Spark with SQLGlot).
    """
    rules = CleaningRules() if rules is None else rules
    columns = list(columns)
    text = {c for c in columns if schema.TRANSACTION_COLUMNS.get(c) in ("id", "text")}
    values = [f"NULLIF(TRIM({c}), '') AS {c}" if rules.strip_text and c in text else c
              for c in columns]
    rows = f"SELECT {', '.join(values)} FROM {relation}"
    removed: list[str] = []
    if rules.drop_invalid:
        removed.append("order_date IS NULL OR amount IS NULL")
    if rules.drop_missing_customer:
        removed.append("customer_id IS NULL OR TRIM(customer_id) = ''")
    if rules.adjustment_prefixes and "order_id" in columns:
        removed.append(_starts_with("order_id", rules.adjustment_prefixes))
    if "product_id" in columns:
        code = "UPPER(TRIM(product_id))"
        if rules.non_product_codes:
            listed = ", ".join(_literal(c.strip().upper()) for c in rules.non_product_codes)
            removed.append(f"{code} IN ({listed})")
        if rules.non_product_pattern:
            # Python's re.match: anchored at the start only; (?i) is IGNORECASE.
            pattern = f"(?i)^(?:{rules.non_product_pattern})"
            removed.append(f"regexp_matches({code}, {_literal(pattern)})")
    if rules.drop_non_positive_price and "unit_price" in columns:
        removed.append("unit_price < 0")
    if rules.drop_free_lines:
        if "unit_price" in columns:
            removed.append("unit_price = 0")
        else:
            returns = ["quantity < 0" if "quantity" in columns else "amount < 0"]
            if rules.cancellation_prefixes and "order_id" in columns:
                returns.append(_starts_with("order_id", rules.cancellation_prefixes))
            removed.append(f"amount = 0 AND NOT COALESCE({' OR '.join(returns)}, FALSE)")
    if rules.outlier_rule == "drop":
        extreme = []
        if rules.outlier_quantity is not None and "quantity" in columns:
            extreme.append(f"ABS(quantity) > {float(rules.outlier_quantity)!r}")
        if rules.outlier_amount is not None:
            extreme.append(f"ABS(amount) > {float(rules.outlier_amount)!r}")
        if extreme and "quantity" in columns:
            # A line cancelling an extreme line (same customer and product, opposite
            # quantity) goes with it: flag each |quantity| group by which signs hold an
            # extreme line.
            keys = [c for c in ("customer_id", "product_id") if c in columns]
            window = f"PARTITION BY {', '.join([*keys, 'ABS(quantity)'])}"
            signs = {"up": "quantity > 0", "down": "quantity < 0", "flat": "quantity = 0"}
            flags = [f"MAX(CASE WHEN ({' OR '.join(extreme)}) AND {test} THEN 1 ELSE 0 END) "
                     f"OVER ({window}) AS extreme_{name}" for name, test in signs.items()]
            rows = f"SELECT *, {', '.join(flags)} FROM ({rows}) AS stripped"
            removed.append(" OR ".join([*extreme, "quantity < 0 AND extreme_up = 1",
                                        "quantity > 0 AND extreme_down = 1",
                                        "quantity = 0 AND extreme_flat = 1"]))
        elif extreme:
            removed.append(" OR ".join(extreme))
    distinct = "DISTINCT " if rules.drop_exact_duplicates else ""
    where = " OR ".join(f"({r})" for r in removed) or "FALSE"
    return (f"SELECT {distinct}{', '.join(columns)}\nFROM ({rows}) AS lines\n"
            f"WHERE NOT COALESCE({where}, FALSE)")


# --- engines: binding a source and running SQL -----------------------------------------


@dataclass(frozen=True)
class Backend:
    """An engine that runs seglab's SQL (written for DuckDB) and returns pandas.

    ``read`` makes a file, folder or glob (location, kind) the view
    :data:`SOURCE_VIEW` and returns its columns; ``register`` does the same for a
    DataFrame; ``execute`` runs a statement; ``query`` a query; ``dialect`` turns a
    DuckDB statement into the engine's own.
    """

    read: Callable[[str, str], list[str]]
    register: Callable[[pd.DataFrame], None]
    execute: Callable[[str], None]
    query: Callable[[str], pd.DataFrame]
    dialect: Callable[[str], str]


def _suffix(path: str) -> str:
    name = path.lower().rstrip("/")
    for suffix in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return Path(name).suffix


def is_remote(location: str | Path) -> bool:
    """Whether ``location`` is a URI (``s3a://``, ``hdfs://``, ``dbfs:/``), not a local path.

    Parameters
    ----------
    location : str or Path
        A path or URI.

    Returns
    -------
    bool
        True for a URI.
    """
    location = str(location)
    return "://" in location or location.startswith("dbfs:")


def _is_glob(location: str) -> bool:
    return any(char in location for char in "*?[")


def _location(source: str | Path) -> tuple[str, str]:
    """Return the location and kind ("parquet", "parquet-folder", "csv") of a source."""
    location = str(source)
    suffix = _suffix(location)
    kind = FILE_SUFFIXES.get(suffix)
    if is_remote(location) or _is_glob(location):
        # Not checked here (the engine says if nothing is there): a lake folder or glob.
        return location, kind or ("parquet" if _is_glob(location) else "parquet-folder")
    path = Path(location)
    if path.is_dir():
        return location, "parquet-folder"
    if kind is None:
        raise InputError(
            f"{path}: cannot aggregate a {suffix or 'suffix-less'} file in SQL; use one of "
            f"{', '.join(FILE_SUFFIXES)}, a folder of Parquet files (or load it with "
            "seglab.io first)."
        )
    if not path.is_file():
        raise InputError(f"{path}: file not found.")
    return location, kind


def _duckdb_reader(location: str, kind: str) -> str:
    if kind == "parquet-folder":
        pattern = location.rstrip("/") + "/**/*.parquet"
        return f"read_parquet({_literal(pattern)}, hive_partitioning = true)"
    if kind == "parquet":
        hive = "true" if _is_glob(location) else "false"
        return f"read_parquet({_literal(location)}, hive_partitioning = {hive})"
    # Every column as text, cast by seglab (as Spark reads CSV): no guessed types.
    return f"read_csv({_literal(location)}, header = true, all_varchar = true)"


@contextmanager
def _duckdb(label: str, threads: int | None, memory_limit: str | None) -> Iterator[Backend]:
    import duckdb

    con = duckdb.connect()

    def read(location: str, kind: str) -> list[str]:
        try:
            con.execute(f"CREATE VIEW {SOURCE_VIEW} AS SELECT * FROM "
                        f"{_duckdb_reader(location, kind)}")
            return [row[0] for row in con.execute(f"DESCRIBE {SOURCE_VIEW}").fetchall()]
        except duckdb.Error as err:
            raise InputError(f"{label}: DuckDB cannot read it: {_first_line(err)}") from err

    def query(sql: str) -> pd.DataFrame:
        try:
            # Through Arrow: cheaper than DuckDB's own DataFrame conversion for text.
            return con.sql(sql).to_arrow_table().to_pandas()
        except duckdb.Error as err:
            if not isinstance(err, duckdb.ConversionException):
                raise
            raise InputError(
                f"{label}: a value does not fit its column type ({_first_line(err)}). "
                "Dates must be ISO (2011-12-09 12:50:00) to be read straight from a file; "
                "otherwise let seglab's intake read them (leave out --no-clean)."
            ) from err

    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET TimeZone = 'UTC'")  # zoned timestamps read as Spark reads them
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {_literal(memory_limit)}")
        yield Backend(
            read=read,
            register=lambda frame: con.register(SOURCE_VIEW, frame),
            execute=con.execute,
            query=query,
            dialect=lambda sql: sql,
        )
    finally:
        con.close()


@contextmanager
def _spark(label: str) -> Iterator[Backend]:
    from seglab import spark

    with spark.sql_session() as session:
        try:
            yield Backend(
                read=lambda location, kind: spark.register_file(
                    session, location, "parquet" if kind == "parquet-folder" else kind,
                    SOURCE_VIEW, sep="\t" if _suffix(location) == ".tsv" else ","),
                register=lambda frame: spark.register_frame(session, frame, SOURCE_VIEW),
                execute=lambda sql: spark.execute(session, sql),
                query=lambda sql: spark.query(session, sql, label),
                dialect=spark.to_spark_sql,
            )
        finally:
            spark.drop_views(session, ["transactions", LINES_VIEW, SOURCE_VIEW])  # dependents first


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def _bind(
    backend: Backend,
    source: Source,
    columns: str | Mapping[str, str] | None,
    label: str,
    *,
    every_column: bool,
) -> tuple[str, ...]:
    """Create the view :data:`LINES_VIEW` (canonical names and types) over ``source``.

    Only :data:`SQL_TYPES` columns, or with ``every_column`` all canonical columns
    (for the cleaning rules). Returns the canonical columns, ``amount`` first.
    """
    mapping = schema.parse_column_mapping(columns)
    frame = isinstance(source, pd.DataFrame)
    names = list(source.columns) if frame else backend.read(*_location(source))
    resolved = schema.resolve_column_mapping(names, mapping, source=label, kind="transactions")
    for column in ("customer_id", "order_date"):
        if column not in resolved:
            raise InputError(
                f"{label}: no column {column!r}; columns are {names}. Pass a column "
                f"mapping, e.g. --columns {column}=<your column>."
            )
    kinds = schema.TRANSACTION_COLUMNS if every_column else SQL_TYPES
    present = [c for c in kinds if c in resolved and c != "amount"]
    if "amount" in resolved:
        used = ["amount", *present]
        amount = f"CAST({_identifier(resolved['amount'])} AS DOUBLE)"
    elif {"quantity", "unit_price"} <= set(resolved):
        used = list(dict.fromkeys([*present, "quantity", "unit_price"]))
        amount = (f"CAST({_identifier(resolved['quantity'])} AS DOUBLE) * "
                  f"CAST({_identifier(resolved['unit_price'])} AS DOUBLE)")
    else:
        raise InputError(
            f"{label}: no column 'amount' (nor quantity and unit_price to derive it); "
            f"columns are {names}. Pass a column mapping, e.g. --columns amount=Total."
        )
    if frame:
        backend.register(source[list(dict.fromkeys(resolved[c] for c in used))])
    select = [f"{amount} AS amount"] + [
        f"CAST({_identifier(resolved[c])} AS {COLUMN_TYPES[c]}) AS {c}"
        for c in present
    ]
    backend.execute(f"CREATE OR REPLACE TEMP VIEW {LINES_VIEW} AS SELECT {', '.join(select)} "
                    f"FROM {SOURCE_VIEW}")
    return ("amount", *present)


def _cleaning(clean: bool | CleaningRules) -> CleaningRules | None:
    if isinstance(clean, CleaningRules):
        return clean
    if isinstance(clean, bool):
        return CleaningRules() if clean else None
    raise ConfigError(f"clean={clean!r} should be True, False or a seglab.clean.CleaningRules.")


@contextmanager
def _session(
    source: Source,
    columns: str | Mapping[str, str] | None,
    *,
    engine: str = "duckdb",
    clean: bool | CleaningRules = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[tuple[Backend, tuple[str, ...], str]]:
    """Yield the backend with ``transactions`` bound, the columns and a label for errors."""
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not supported; use one of {list(ENGINES)}.")
    rules = _cleaning(clean)
    label = "transactions" if isinstance(source, pd.DataFrame) else str(source)
    opened = _duckdb(label, threads, memory_limit) if engine == "duckdb" else _spark(label)
    with opened as backend:
        present = _bind(backend, source, columns, label, every_column=rules is not None)
        if rules is None:
            backend.execute(f"CREATE OR REPLACE TEMP VIEW transactions AS SELECT * FROM "
                            f"{LINES_VIEW}")
        else:
            # A table, so that the cleaning runs once, not in every query and every
            # reference. Spark has no temporary tables: SQLGlot writes a view there, and
            # Spark reuses its result within each query.
            backend.execute("CREATE OR REPLACE TEMP TABLE transactions AS "
                            + cleaning_sql(present, rules))
        yield backend, present, label


def _as_of(backend: Backend, as_of: pd.Timestamp | str | None, label: str) -> pd.Timestamp:
    """Return the analysis day: ``as_of``, or the day after the last line (uncleaned)."""
    if as_of is not None:
        return parse_as_of(as_of, option="as_of")
    last = backend.query(f"SELECT MAX(order_date) AS last FROM {LINES_VIEW}")["last"].iat[0]
    if pd.isna(last):
        raise InputError(f"{label}: no transactions with a date.")
    return day_end(last)


def _plan_sales_sql(present: tuple[str, ...], as_of: pd.Timestamp) -> str | None:
    """Sales by value of each optional text column (the plan's one query), or None."""
    end = _timestamp(day_end(as_of))
    where = (f"customer_id IS NOT NULL AND order_date IS NOT NULL AND amount > 0 "
             f"AND order_date < {end}")
    text = [c for c in ("category", *features.MIX_COLUMNS, *features.PLACE_COLUMNS)
            if c in present]
    text = list(dict.fromkeys(text))
    # One query for all columns: on Spark each query costs seconds of scheduling.
    return " UNION ALL ".join(
        f"SELECT {_literal(c)} AS name, {c} AS value, SUM(amount) AS sales "
        f"FROM transactions WHERE {where} GROUP BY {c}" for c in text
    ) or None


def _plan_from_sales(sales: pd.DataFrame, present: tuple[str, ...], as_of: pd.Timestamp,
                     options: features.FeatureOptions) -> Plan:
    """Make the plan from the sales by value of :func:`_plan_sales_sql`."""
    filled = set(sales.loc[sales["value"].notna(), "name"])
    mixes = {}
    for column in features.MIX_COLUMNS:
        if column not in filled:
            continue
        rows = sales[sales["name"] == column]
        by_value = pd.Series(rows["sales"].to_numpy(),
                             index=pd.Index(rows["value"], dtype="string"))
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


_NO_SALES = pd.DataFrame(columns=["name", "value", "sales"])


def _plan(backend: Backend, present: tuple[str, ...], as_of: pd.Timestamp, options) -> Plan:
    """Find which optional text columns hold values, and the top values of the mixes."""
    sql = _plan_sales_sql(present, as_of)
    sales = backend.query(sql) if sql else _NO_SALES
    return _plan_from_sales(sales, present, as_of, options)


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
    clean: bool | CleaningRules = False,
    engine: str = "duckdb",
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Build the customer table in SQL: equal to :func:`seglab.features.customer_features`.

    Parameters
    ----------
    source : pandas.DataFrame, str or Path
        Canonical transactions, or a Parquet/CSV file, a folder of Parquet files
        (partition folders such as ``year=2011/`` included) or a glob, read straight
        by the engine (a path or, on Spark, a URI such as ``s3a://lake/orders/``).
    as_of : pandas.Timestamp or str, optional
        Analysis date; default the day after the last transaction (before cleaning).
    columns : str or Mapping, optional
        Column mapping for a file (see :func:`seglab.schema.parse_column_mapping`);
        ``amount`` is derived as ``quantity * unit_price`` when missing.
    customers : pandas.DataFrame, optional
        Customer attributes (see :func:`seglab.features.add_attributes`).
    time_unit, window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    clean : bool or CleaningRules
        False (default): the source is clean already (e.g. a run's
        ``transactions.parquet``). True or a :class:`seglab.clean.CleaningRules`: drop
        the lines the cleaning rules remove, in SQL (:func:`cleaning_sql` says which
        rules that covers).
    engine : {"duckdb", "spark"}
        Where the SQL runs: DuckDB in this process (default), or Spark, on the active
        SparkSession or a local one (needs ``pip install 'seglab[spark]'``).
    threads : int, optional
        DuckDB threads; default all cores. Not used by Spark.
    memory_limit : str, optional
        DuckDB memory limit such as ``"2GB"``; beyond it DuckDB spills to disk. Not
        used by Spark.

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
        For bad options, a bad column mapping, an unknown engine, or Spark not installed.

    Examples
    --------
    >>> table = customer_aggregates("reports/latest/transactions.parquet")  # doctest: +SKIP
    >>> lake = customer_aggregates("s3a://lake/orders/", columns="online_retail",
    ...                            clean=True, engine="spark")  # doctest: +SKIP
    """
    options = _options(time_unit, window_days, category_top_n, channel_top_n)
    with _session(source, columns, engine=engine, clean=clean, threads=threads,
                  memory_limit=memory_limit) as (backend, present, label):
        day = _as_of(backend, as_of, label)
        plan = _plan(backend, present, day, options)
        table = backend.query(build_sql(plan))
    table = features.finish_table(table)
    return features.add_attributes(table, customers, as_of=day)


def rfm_table(
    source: Source,
    *,
    as_of: pd.Timestamp | str | None = None,
    columns: str | Mapping[str, str] | None = None,
    time_unit: str = features.FeatureOptions.time_unit,
    clean: bool | CleaningRules = False,
    engine: str = "duckdb",
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Lifetimes RFM and the plain figures only: the lean path for large logs.

    Parameters
    ----------
    source, as_of, columns, time_unit, clean, engine, threads, memory_limit
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
    with _session(source, columns, engine=engine, clean=clean, threads=threads,
                  memory_limit=memory_limit) as (backend, present, label):
        day = _as_of(backend, as_of, label)
        plan = Plan(as_of=day, options=options, columns=present)
        table = backend.query(build_sql(plan, level="rfm"))
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
    clean: bool | CleaningRules = False,
    engine: str = "duckdb",
) -> str:
    """Return the SQL :func:`customer_aggregates` (or :func:`rfm_table`) would run.

    For reading, or for running elsewhere: it reads a relation named ``transactions``
    with canonical column names (with ``clean``, the lines :func:`cleaning_sql` keeps).

    Parameters
    ----------
    source, as_of, columns, time_unit, window_days, category_top_n, channel_top_n
        As :func:`customer_aggregates` (the data decides the top values).
    level : {"full", "rfm"}
        Which query.
    clean, engine
        As :func:`customer_aggregates`; the query is in the engine's dialect.

    Returns
    -------
    str
        The query.
    """
    if level not in ("full", "rfm"):
        raise ConfigError(f"level={level!r} should be 'full' or 'rfm'.")
    options = _options(time_unit, window_days, category_top_n, channel_top_n)
    with _session(source, columns, engine=engine, clean=clean) as (backend, present, label):
        day = _as_of(backend, as_of, label)
        plan = (_plan(backend, present, day, options) if level == "full"
                else Plan(as_of=day, options=options, columns=present))
        return backend.dialect(build_sql(plan, level=level))
