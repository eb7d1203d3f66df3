"""Profile a transaction log: the tables a data scientist asks for first.

Every function takes the canonical transactions table of
:data:`seglab.schema.TRANSACTION_COLUMNS` (one row per order line, raw or cleaned
by :func:`seglab.clean.clean_transactions`) and returns a new DataFrame (or, for
:func:`quality_alerts`, a list of sentences); nothing is printed or changed.
Optional columns (``order_id``, ``product_id``, ``quantity``, ``country`` …) are used
when present and skipped when absent.

A line is a *return* when the table's ``is_return`` column says so (cleaned
tables), otherwise when its ``quantity`` (or, without quantity, its ``amount``) is
negative. A line is *free* when the table's ``is_free`` column says so (cleaned
tables; a purchase at a unit price of 0, see :class:`seglab.clean.CleaningRules`):
free lines are counted wherever lines, orders and customers are, and left out of the
price statistics (:func:`distribution_summary`, :func:`order_values`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seglab import i18n
from seglab.clean import FLAGGED, REMOVED, CleaningRules
from seglab.errors import ConfigError, InputError

CUSTOMER = "customer_id"
DATE = "order_date"
AMOUNT = "amount"
ORDER = "order_id"
PRODUCT = "product_id"
QUANTITY = "quantity"
PRICE = "unit_price"
COUNTRY = "country"
FREE = "is_free"

#: Optional grouping columns counted by :func:`overview`, with their labels.
DIMENSIONS: dict[str, str] = {
    ORDER: "Orders",
    CUSTOMER: "Customers",
    PRODUCT: "Products",
    "product_name": "Product names",
    "category": "Categories",
    COUNTRY: "Countries",
    "region": "Regions",
    "channel": "Channels",
    "store": "Stores",
}

#: Labels of :func:`overview`'s ``metric`` column (:func:`overview_label` shows them).
OVERVIEW_METRICS: tuple[str, ...] = (
    "Period start", "Period end", "Days covered", "Days with orders", "Lines",
    *DIMENSIONS.values(), "Lines without customer id", "Revenue (net of returns)",
    "Returns (revenue)", "Share of lines that are returns",
)

#: Country values that stand for "not known"; reported by :func:`quality_alerts`.
PLACEHOLDER_COUNTRIES: tuple[str, ...] = ("unspecified", "unknown", "n/a", "na", "-")

#: Customers whose net revenue is below minus this (currency units) are reported as
#: negative; smaller shortfalls are rounding between sales and returns.
NEGATIVE_NET_TOLERANCE = 1.0

#: Item columns :func:`main_item_column` chooses from, most aggregated first.
ITEM_COLUMNS: tuple[str, ...] = ("category", "product_name", PRODUCT)

#: Columns of prices and money, described over the lines that are not free.
MONEY_COLUMNS: tuple[str, ...] = (PRICE, AMOUNT, "discount", "cost")

#: Numeric columns :func:`distribution_summary` describes by default.
DISTRIBUTION_COLUMNS: tuple[str, ...] = (QUANTITY, PRICE, AMOUNT)

_QUANTILES = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75}
_QUANTILES |= {"p95": 0.95, "p99": 0.99}


def _check(tx: pd.DataFrame, columns: Sequence[str] = (DATE, AMOUNT)) -> None:
    """Validate the table once at each public entry point."""
    if not isinstance(tx, pd.DataFrame):
        raise InputError(f"transactions should be a pandas DataFrame, got {type(tx).__name__}.")
    missing = [c for c in columns if c not in tx]
    if missing:
        raise InputError(
            f"transactions has no column(s) {missing}; columns found: "
            f"{list(tx.columns)}. Map the source columns with seglab.io first."
        )
    if DATE in columns and not pd.api.types.is_datetime64_any_dtype(tx[DATE]):
        raise InputError(
            f"column {DATE!r} has dtype {tx[DATE].dtype}; convert it with "
            "pd.to_datetime or load the file with seglab.io."
        )


def _blank(values: pd.Series) -> pd.Series:
    """Flag missing values, counting empty or all-space text as missing."""
    blank = values.isna()
    if pd.api.types.is_string_dtype(values):
        blank |= values.str.strip().eq("").fillna(False)
    return blank.astype(bool)


def _returns(tx: pd.DataFrame) -> pd.Series:
    if "is_return" in tx:
        return tx["is_return"].fillna(False).astype(bool)
    signed = tx[QUANTITY] if QUANTITY in tx else tx[AMOUNT]
    return (signed < 0).fillna(False).astype(bool)


def _paid(tx: pd.DataFrame) -> pd.DataFrame:
    """Return the lines that are not free (all lines of a table without ``is_free``)."""
    if FREE not in tx:
        return tx
    return tx[~tx[FREE].fillna(False).astype(bool).to_numpy()]


def _known_customers(tx: pd.DataFrame) -> pd.DataFrame:
    return tx[~_blank(tx[CUSTOMER])] if CUSTOMER in tx else tx.iloc[:0]


def _money(value: float, currency: str = "", lang: str = "en") -> str:
    """Format money for a reader: 1.45m, 21.7k, 812.40 (in Chinese 145.0万, 2.2万, 5,006)."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if lang == "zh" and size >= 1e8:
        text = f"{size / 1e8:,.2f}亿"
    elif lang == "zh" and size >= 1e4:
        text = f"{size / 1e4:,.1f}万"
    elif lang == "zh" and size >= 1e3:
        text = f"{size:,.0f}"
    elif lang == "zh" or size < 1e3:
        text = f"{size:,.2f}"
    elif size >= 1e6:
        text = f"{size / 1e6:,.2f}m"
    else:
        text = f"{size / 1e3:,.1f}k"
    return f"{sign}{currency}{text}"


class Count(int):
    """A count that agrees its English words with itself in a message template.

    In :func:`seglab.i18n.text` templates, ``{n:,}`` formats the count as any integer
    and ``{n:line|lines}`` gives the word before the bar for 1, the one after it for
    any other count, so one template says ``1 line has`` and ``5 lines have``::

        "{n:,} {n:line|lines} {n:has|have} no product name."

    Languages without plurals leave the ``{n:a|b}`` fields out of their translation.
    """

    def __format__(self, spec: str) -> str:
        if "|" in spec:
            one, many = spec.split("|", 1)
            return one if self == 1 else many
        return int(self).__format__(spec)


def _share(part: float, whole: float, lang: str = "en") -> str:
    if not whole:
        return i18n.text("n/a", lang)
    share = part / whole
    return f"{share:.0%}" if share >= 0.095 or share == 0 else f"{share:.1%}"


def _join(values: Sequence[str], lang: str = "en", *, both: bool = False) -> str:
    """Join values as ``a, b, c`` (``a and b and c`` with ``both``; Chinese ``a、b、c``)."""
    text = ""
    for value in values:
        if not text:
            text = value
        elif both:
            text = i18n.text("{items} and {item}", lang, items=text, item=value)
        else:
            text = i18n.text("{items}, {item}", lang, items=text, item=value)
    return text


def _month(day: pd.Timestamp, lang: str = "en") -> str:
    """Return a month as ``December 2010`` (in Chinese ``2010年12月``)."""
    return f"{day:%B %Y}" if lang == "en" else i18n.text("{year}-{month}", lang, year=day.year,
                                                          month=day.month)


def overview_label(metric: str, lang: str = "en") -> str:
    """Return the display label of an :func:`overview` metric (the metric itself in English).

    Parameters
    ----------
    metric : str
        A label of :func:`overview`'s ``metric`` column (:data:`OVERVIEW_METRICS`).
    lang : {"en", "zh"}
        The report's language.
    """
    return i18n.text(metric, lang) if metric in OVERVIEW_METRICS else metric


def overview(tx: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Summarise the log in one table: period, size, revenue, returns.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions, one row per order line; needs ``order_date`` and ``amount``.
        Orders, customers, products, categories, countries, regions, channels and
        stores are counted when their column is present.
    lang : {"en", "zh"}
        Language of the ``metric`` labels (:func:`overview_label`).

    Returns
    -------
    pandas.DataFrame
        Columns ``metric`` (a label of :data:`OVERVIEW_METRICS`) and ``value`` (dates,
        counts, money in the data's currency, shares between 0 and 1).
    """
    _check(tx)
    dates = tx[DATE]
    returns = _returns(tx)
    start, end = dates.min(), dates.max()
    days = (end.normalize() - start.normalize()).days + 1 if len(tx) else 0
    rows = [
        ("Period start", start),
        ("Period end", end),
        ("Days covered", days),
        ("Days with orders", dates.dt.normalize().nunique()),
        ("Lines", len(tx)),
    ]
    rows += [(label, tx[col].nunique()) for col, label in DIMENSIONS.items() if col in tx]
    if CUSTOMER in tx:
        rows.append(("Lines without customer id", int(_blank(tx[CUSTOMER]).sum())))
    rows += [
        ("Revenue (net of returns)", tx[AMOUNT].sum()),
        ("Returns (revenue)", tx.loc[returns, AMOUNT].sum()),
        ("Share of lines that are returns", returns.mean() if len(tx) else np.nan),
    ]
    table = pd.DataFrame(rows, columns=["metric", "value"])
    return display_overview(table, lang)


def display_overview(table: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Return an overview table with its ``metric`` labels in the report's language.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`overview`'s table in English (or :func:`seglab.buckets.overview`'s).
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself in English, else a copy with ``metric`` translated.
    """
    if lang == "en":
        return table
    return table.assign(metric=table["metric"].map(lambda metric: overview_label(metric, lang)))


def missing_values(tx: pd.DataFrame) -> pd.DataFrame:
    """Count missing values in every column.

    Empty or all-space text counts as missing.

    Parameters
    ----------
    tx : pandas.DataFrame
        Any table; typically transactions.

    Returns
    -------
    pandas.DataFrame
        One row per column of ``tx``, in order: ``column``, ``dtype``, ``missing``
        (lines) and ``missing_share`` (0 to 1).
    """
    _check(tx, ())
    missing = pd.Series({col: int(_blank(tx[col]).sum()) for col in tx.columns})
    return pd.DataFrame(
        {
            "column": list(tx.columns),
            "dtype": [str(t) for t in tx.dtypes],
            "missing": missing.to_numpy(dtype="int64"),
            "missing_share": missing.to_numpy() / len(tx) if len(tx) else np.nan,
        }
    )


def volume_by_period(tx: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Count lines, orders, customers and revenue per calendar period.

    Periods with no activity are included with zeros, so gaps stay visible.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; needs ``order_date`` and ``amount``; ``order_id`` and
        ``customer_id`` are counted when present.
    freq : str, default "D"
        A pandas period alias: ``"D"`` days, ``"W"`` weeks ending Sunday, ``"MS"``
        calendar months (labelled by their first day).

    Returns
    -------
    pandas.DataFrame
        One row per period from the first to the last: ``period`` (start, or end for
        weeks), ``lines``, ``orders``, ``customers`` (distinct known ids) and
        ``revenue`` (net of returns).

    Raises
    ------
    ConfigError
        If ``freq`` is not a pandas frequency.
    """
    _check(tx)
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError as err:
        raise ConfigError(
            f"freq={freq!r} is not a pandas frequency; use 'D', 'W' or 'MS'."
        ) from err
    groups = tx.set_index(DATE).resample(freq)
    out = pd.DataFrame({"lines": groups.size()})
    for col, name in ((ORDER, "orders"), (CUSTOMER, "customers")):
        if col in tx:
            out[name] = groups[col].nunique()
    out["revenue"] = groups[AMOUNT].sum()
    return out.rename_axis("period").reset_index()


def new_customers_by_month(tx: pd.DataFrame) -> pd.DataFrame:
    """Count customers buying for the first time in each calendar month.

    A customer is new in the month of their first line in ``tx``; in the first
    month every customer is new, because earlier purchases are not in the data.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; needs ``customer_id``, ``order_date`` and ``amount``. Lines
        without customer id are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per month (including months with none): ``period`` (first day),
        ``active_customers``, ``new_customers``, ``returning_customers``,
        ``new_share`` (new / active) and ``cumulative_customers``.
    """
    _check(tx, (CUSTOMER, DATE, AMOUNT))
    known = _known_customers(tx)
    active = volume_by_period(known[[CUSTOMER, DATE, AMOUNT]], "MS")
    first = known.groupby(CUSTOMER, observed=True)[DATE].min()
    new = pd.Series(1, index=pd.DatetimeIndex(first.to_numpy())).resample("MS").size()
    out = active.set_index("period")[["customers"]].rename(
        columns={"customers": "active_customers"}
    )
    out["new_customers"] = new.reindex(out.index, fill_value=0).astype("int64")
    out["returning_customers"] = out["active_customers"] - out["new_customers"]
    out["new_share"] = out["new_customers"] / out["active_customers"].replace(0, np.nan)
    out["cumulative_customers"] = out["new_customers"].cumsum()
    return out.rename_axis("period").reset_index()


def top_items_by_dimension(tx: pd.DataFrame, n: int = 10, *,
                           lang: str = "en") -> pd.DataFrame:
    """Rank the top ``n`` items of every item dimension the data has, in one table.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; dimensions are those of :data:`ITEM_COLUMNS` plus ``country``,
        ``region`` and ``channel`` that are present and not all missing (product ids
        are left out when product names are there).
    n : int, default 10
        Items per dimension.
    lang : {"en", "zh"}
        Language of the ``dimension`` labels (:func:`seglab.i18n.column_label`) and of
        the missing-value group.

    Returns
    -------
    pandas.DataFrame
        ``dimension``, ``item``, ``revenue``, ``share`` and the other columns of
        :func:`top_items`, the top ``n`` of each dimension in turn.
    """
    present = [c for c in (*ITEM_COLUMNS, "channel", "region", "country")
               if c in tx and tx[c].notna().any()]
    if "product_name" in present and PRODUCT in present:
        present.remove(PRODUCT)  # the same products under their codes
    tables = []
    for column in present:
        table = top_items(tx, by=column, n=n, lang=lang).rename(columns={column: "item"})
        table["item"] = table["item"].astype("string")
        table.insert(0, "dimension", i18n.column_label(column, lang))
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def main_item_column(tx: pd.DataFrame) -> str:
    """Return the column to rank items by: the first of :data:`ITEM_COLUMNS` with data.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions.

    Returns
    -------
    str
        ``"category"`` when the table has categories, else ``"product_name"``, else
        ``"product_id"``.

    Raises
    ------
    InputError
        If none of those columns has a value.
    """
    _check(tx, ())
    for col in ITEM_COLUMNS:
        if col in tx and not _blank(tx[col]).all():
            return col
    raise InputError(
        f"transactions has no item column with values; add one of {list(ITEM_COLUMNS)}."
    )


def top_items(tx: pd.DataFrame, by: str = "product_name", n: int = 10, *,
              lang: str = "en") -> pd.DataFrame:
    """Rank products, categories, countries (any column) by revenue.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; needs ``amount`` and the ``by`` column.
    by : str, default "product_name"
        The column to group by, e.g. ``"product_name"``, ``"category"``,
        ``"country"``. Missing values form their own group, ``"(missing)"``.
    n : int, default 10
        How many to return.
    lang : {"en", "zh"}
        Language of the missing-value group's label.

    Returns
    -------
    pandas.DataFrame
        The top ``n`` by revenue: ``by``, ``revenue`` (net of returns), ``lines``,
        ``customers`` (when ``customer_id`` is present), ``quantity`` (when
        present) and ``share`` (of total revenue).

    Raises
    ------
    ConfigError
        If ``n`` is below 1.
    """
    _check(tx, (by, AMOUNT))
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ConfigError(f"n={n!r} should be an integer >= 1.")
    groups = tx.groupby(by, dropna=False, sort=False, observed=True)
    out = pd.DataFrame({"revenue": groups[AMOUNT].sum(), "lines": groups.size()})
    if CUSTOMER in tx and by != CUSTOMER:
        out["customers"] = groups[CUSTOMER].nunique()
    if QUANTITY in tx and by != QUANTITY:
        out["quantity"] = groups[QUANTITY].sum()
    total = tx[AMOUNT].sum()
    out["share"] = out["revenue"] / total if total else np.nan
    out = out.nlargest(n, "revenue").rename_axis(by).reset_index()
    if pd.api.types.is_string_dtype(out[by]) or out[by].dtype == object:
        out[by] = out[by].astype(object).where(out[by].notna(), i18n.text("(missing)", lang))
    return out


def revenue_concentration(
    tx: pd.DataFrame, shares: Sequence[float] = (0.01, 0.1, 0.2)
) -> pd.DataFrame:
    """Share of revenue that comes from the top x% of customers.

    Customers are ranked by net revenue (purchases minus returns); lines without
    customer id are left out.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; needs ``customer_id``, ``order_date`` and ``amount``.
    shares : sequence of float, default (0.01, 0.1, 0.2)
        Top shares of customers, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per share: ``customer_share``, ``customers`` (``ceil(share * n)``, at
        least 1), ``revenue`` and ``revenue_share`` (of all customers' net revenue).

    Raises
    ------
    ConfigError
        If a share is not in (0, 1].
    """
    _check(tx, (CUSTOMER, DATE, AMOUNT))
    bad = [s for s in shares if not 0 < s <= 1]
    if bad:
        raise ConfigError(f"shares={list(shares)!r} should all be in (0, 1]; got {bad}.")
    per_customer = _known_customers(tx).groupby(CUSTOMER, observed=True)[AMOUNT].sum()
    ranked = per_customer.sort_values(ascending=False).cumsum().to_numpy()
    top = np.asarray(shares, dtype=float)
    customers = np.maximum(1, np.ceil(top * len(ranked) - 1e-9)).astype(int)
    customers = np.minimum(customers, len(ranked))
    revenue = ranked[customers - 1] if len(ranked) else np.zeros(len(top))
    total = ranked[-1] if len(ranked) else 0.0
    return pd.DataFrame(
        {
            "customer_share": top,
            "customers": customers,
            "revenue": revenue,
            "revenue_share": revenue / total if total else np.nan,
        }
    )


def order_values(tx: pd.DataFrame) -> pd.Series:
    """Return the value of every order: the sum of its lines' ``amount``.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; needs ``order_id`` and ``amount``.

    Returns
    -------
    pandas.Series
        One value per order (net of returns on the same order id; a cancellation
        order is its own, negative, order), indexed by ``order_id``, named
        ``order_value``. Free lines (``is_free``) are left out, so an order of free
        lines only has no value: it was given, not bought at a price of 0.
    """
    _check(tx, (ORDER, AMOUNT))
    values = _paid(tx).groupby(ORDER, observed=True)[AMOUNT].sum()
    return values.rename("order_value")


def _describe(values: pd.Series) -> dict[str, float]:
    values = values.dropna()
    stats = {"count": len(values), "mean": values.mean(), "std": values.std()}
    stats["min"] = values.min()
    quantiles = values.quantile(list(_QUANTILES.values())).to_numpy()
    stats |= dict(zip(_QUANTILES, quantiles, strict=True))
    stats["max"] = values.max()
    stats["share_negative"] = (values < 0).mean() if len(values) else np.nan
    stats["share_zero"] = (values == 0).mean() if len(values) else np.nan
    return stats


def distribution_summary(tx: pd.DataFrame, columns: Sequence[str] | None = None, *,
                         lang: str = "en") -> pd.DataFrame:
    """Describe the numeric columns and the order value.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; order value needs ``order_id`` and ``amount``.
    columns : sequence of str or None, default None
        Numeric columns to describe; None uses those of :data:`DISTRIBUTION_COLUMNS`
        (quantity, unit_price, amount) that are present.
    lang : {"en", "zh"}
        Language of the ``variable`` labels (:func:`seglab.i18n.column_label`).

    Returns
    -------
    pandas.DataFrame
        One row per variable (the columns, then ``order_value`` = sum of ``amount``
        per order, see :func:`order_values`): ``variable``, ``count``, ``mean``,
        ``std``, ``min``, ``p01`` … ``p99``, ``max``, ``share_negative``,
        ``share_zero``.

    Notes
    -----
    In a cleaned table, free lines (``is_free``) are purchases, not prices: they are
    left out of ``unit_price``, ``amount`` and ``order_value`` (and of ``discount``
    and ``cost`` when described), so a free gift does not pull the average price
    toward 0. ``quantity`` and other columns count every line.
    """
    if columns is None:
        columns = [c for c in DISTRIBUTION_COLUMNS if c in tx]
    _check(tx, tuple(columns))
    paid = _paid(tx)
    series = {col: (paid if col in MONEY_COLUMNS else tx)[col] for col in columns}
    if ORDER in tx and AMOUNT in tx:
        series["order_value"] = order_values(tx)
    rows = {i18n.column_label(name, lang): _describe(values.astype("float64"))
            for name, values in series.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variable").reset_index()


# --- quality alerts: each check returns zero or more sentences -------------------


def _rule_name(rule: str, lang: str = "en") -> str:
    """Return a cleaning rule's id as a reader says it: ``exact duplicates``."""
    if lang == "en":
        return rule.replace("_", " ")
    names = {
        "text_whitespace": i18n.text("text whitespace", lang),
        "invalid_values": i18n.text("invalid values", lang),
        "future_dates": i18n.text("future dates", lang),
        "missing_customer": i18n.text("missing customer", lang),
        "exact_duplicates": i18n.text("exact duplicates", lang),
        "adjustments": i18n.text("adjustments", lang),
        "non_product_codes": i18n.text("non product codes", lang),
        "non_positive_price": i18n.text("non positive price", lang),
        "free_lines": i18n.text("free lines", lang),
        "extreme_outliers": i18n.text("extreme outliers", lang),
        "returns": i18n.text("returns", lang),
    }
    return names.get(rule, rule.replace("_", " "))


def _weekdays(days: Sequence[str], lang: str = "en") -> str:
    """Return day names as ``Saturdays, Sundays`` (in Chinese ``周六、周日``)."""
    if lang == "en":
        return ", ".join(f"{day}s" for day in days)
    names = {"Monday": i18n.text("Mondays", lang), "Tuesday": i18n.text("Tuesdays", lang),
             "Wednesday": i18n.text("Wednesdays", lang),
             "Thursday": i18n.text("Thursdays", lang), "Friday": i18n.text("Fridays", lang),
             "Saturday": i18n.text("Saturdays", lang), "Sunday": i18n.text("Sundays", lang)}
    return _join([names.get(day, day) for day in days], lang)


def _alert_missing_customer(tx: pd.DataFrame, currency: str, lang: str) -> list[str]:
    if CUSTOMER not in tx:
        return [i18n.text("There is no customer id column: customer-level analysis is "
                          "impossible.", lang)]
    blank = _blank(tx[CUSTOMER])
    if not blank.any():
        return []
    revenue = tx.loc[blank, AMOUNT].sum()
    return [i18n.text(
        "{share} of lines ({lines:,}) have no customer id; they are kept out of customer "
        "analysis but carry {revenue} of revenue ({revenue_share} of the total).", lang,
        share=_share(blank.sum(), len(tx), lang), lines=blank.sum(),
        revenue=_money(revenue, currency, lang),
        revenue_share=_share(revenue, tx[AMOUNT].sum(), lang))]


def _alert_cleaning(log: pd.DataFrame | None, currency: str, *, aside_reported: bool,
                    lang: str) -> list[str]:
    if log is None or log.empty:
        return []
    alerts = []
    aside = log[(log["rule"] == "missing_customer") & (log["action"] == REMOVED)]
    if len(aside) and aside["rows"].iloc[0] > 0 and not aside_reported:
        alerts.append(i18n.text(
            "Cleaning set aside {lines:,} {lines:line|lines} without customer id; customer "
            "analysis does not see them, though they carry {revenue} of revenue.", lang,
            lines=Count(aside["rows"].iloc[0]),
            revenue=_money(aside["revenue"].iloc[0], currency, lang)))
    removed = log[(log["action"] == REMOVED) & (log["rows"] > 0)]
    if len(removed):
        parts = _join([i18n.text("{rule} {lines:,} ({revenue})", lang,
                                 rule=_rule_name(r.rule, lang), lines=r.rows,
                                 revenue=_money(r.revenue, currency, lang))
                       for r in removed.itertuples()], lang)
        alerts.append(i18n.text(
            "Cleaning removed {lines:,} {lines:line|lines} worth {revenue}: {parts}.", lang,
            lines=Count(removed["rows"].sum()),
            revenue=_money(removed["revenue"].sum(), currency, lang), parts=parts))
    free = log[(log["rule"] == "free_lines") & (log["action"] == FLAGGED) & (log["rows"] > 0)]
    if len(free):
        alerts.append(i18n.text(
            "Cleaning kept {lines:,} {lines:free line|free lines} (a price of zero) as "
            "purchases: they count for frequency, recency and customer age, not in price "
            "statistics.", lang, lines=Count(free["rows"].iloc[0])))
    skipped = log[log["action"].str.startswith("not applicable (column")]
    if len(skipped):
        names = _join([_rule_name(rule, lang) for rule in skipped["rule"]], lang)
        alerts.append(i18n.text("Cleaning could not check {names}: the column it needs is "
                                "absent.", lang, names=names))
    return alerts


def _alert_duplicates(tx: pd.DataFrame, currency: str, lang: str) -> list[str]:
    dup = tx.duplicated()
    if not dup.any():
        return []
    count = int(dup.sum())
    return [i18n.text(
        "{lines:,} {lines:line|lines} ({share}) {lines:duplicates|duplicate} an earlier line "
        "exactly, worth {revenue}.", lang, lines=Count(count),
        share=_share(count, len(tx), lang),
        revenue=_money(tx.loc[dup, AMOUNT].sum(), currency, lang))]


def _alert_returns(tx: pd.DataFrame, currency: str, lang: str) -> list[str]:
    returns = _returns(tx)
    if not returns.any():
        return []
    gross = tx.loc[tx[AMOUNT] > 0, AMOUNT].sum()
    value = tx.loc[returns, AMOUNT].sum()
    return [i18n.text(
        "{share} of lines ({lines:,}) are returns or cancellations, worth {revenue} "
        "({gross_share} of gross sales); they are netted against purchases.", lang,
        share=_share(returns.sum(), len(tx), lang), lines=returns.sum(),
        revenue=_money(value, currency, lang), gross_share=_share(-value, gross, lang))]


def _extreme_pairs(tx: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Extreme purchase lines with the lag to a line that exactly cancels them."""
    keys = [c for c in (CUSTOMER, PRODUCT) if c in tx]
    big = tx.loc[tx[QUANTITY].abs() > threshold, [*keys, QUANTITY, DATE]]
    buys = big[big[QUANTITY] > 0].assign(_q=lambda d: d[QUANTITY])
    cancels = big[big[QUANTITY] < 0].assign(_q=lambda d: -d[QUANTITY])
    pairs = buys.assign(_row=np.arange(len(buys))).merge(
        cancels[[*keys, "_q", DATE]], on=[*keys, "_q"], how="left", suffixes=("", "_c")
    )
    pairs["lag"] = pairs[f"{DATE}_c"] - pairs[DATE]
    late = pairs["lag"] < pd.Timedelta(0)
    pairs.loc[late, "lag"] = pd.NaT
    return pairs.sort_values("lag").drop_duplicates("_row").sort_values("_row")


def _alert_extremes(tx: pd.DataFrame, rules: CleaningRules, lang: str) -> list[str]:
    threshold = rules.outlier_quantity
    if threshold is None or QUANTITY not in tx:
        return []
    pairs = _extreme_pairs(tx, threshold)
    alerts = []
    done = pairs[pairs["lag"].notna()]
    if len(done):
        days = done["lag"].max().days
        when = (i18n.text("the same day", lang) if days == 0 else
                i18n.text("within {days} days", lang, days=days + 1))
        alerts.append(i18n.text(
            "{lines:,} {lines:order line|order lines} of more than {threshold:,.0f} units "
            "({sizes}) {lines:was|were} cancelled {when}; each pair nets to zero but distorts "
            "quantities.", lang, lines=Count(len(done)), threshold=threshold,
            sizes=_join([f"{q:,.0f}" for q in done[QUANTITY]], lang, both=True), when=when))
    open_ = pairs[pairs["lag"].isna()]
    if len(open_):
        alerts.append(i18n.text(
            "{lines:,} {lines:order line|order lines} of more than {threshold:,.0f} units "
            "({sizes}) {lines:has|have} no matching cancellation.", lang,
            lines=Count(len(open_)), threshold=threshold,
            sizes=_join([f"{q:,.0f}" for q in open_[QUANTITY]], lang)))
    return alerts


def _alert_prices(tx: pd.DataFrame, lang: str) -> list[str]:
    if PRICE not in tx:
        return []
    free = (tx[PRICE] <= 0).sum()
    if not free:
        return []
    return [i18n.text("{lines:,} {lines:line|lines} {lines:has|have} a unit price of zero or "
                      "below.", lang, lines=Count(free))]


def _alert_non_products(tx: pd.DataFrame, rules: CleaningRules, currency: str,
                        lang: str) -> list[str]:
    if PRODUCT not in tx:
        return []
    codes = tx[PRODUCT].astype("string").str.strip().str.upper()
    hit = codes.isin([c.upper() for c in rules.non_product_codes]).fillna(False)
    if rules.non_product_pattern:
        hit |= codes.str.match(rules.non_product_pattern, case=False).fillna(False)
    if not hit.any():
        return []
    counts = codes[hit].value_counts()
    top = [f"{code} {count:,}" for code, count in counts.head(5).items()]
    return [i18n.text(
        "{lines:,} {lines:line|lines} {lines:is not a product|are not products} (postage, "
        "fees, manual lines, vouchers: {codes}), netting {revenue}.", lang,
        lines=Count(hit.sum()), codes=_join([*top, "…"] if len(counts) > 5 else top, lang),
        revenue=_money(tx.loc[hit.to_numpy(), AMOUNT].sum(), currency, lang))]


def _alert_adjustments(tx: pd.DataFrame, rules: CleaningRules, currency: str,
                       lang: str) -> list[str]:
    if ORDER not in tx or not rules.adjustment_prefixes:
        return []
    hit = tx[ORDER].astype("string").str.startswith(rules.adjustment_prefixes)
    hit = hit.fillna(False).astype(bool)
    if not hit.any():
        return []
    return [i18n.text(
        "{lines:,} {lines:line|lines} {lines:is an accounting adjustment|are accounting "
        "adjustments} (order id starting with {prefixes}: {values}), not purchases.", lang,
        lines=Count(hit.sum()), prefixes="/".join(rules.adjustment_prefixes),
        values=_join([_money(v, currency, lang) for v in tx.loc[hit, AMOUNT].head(5)], lang))]


def _alert_negative_customers(tx: pd.DataFrame, currency: str, lang: str) -> list[str]:
    if CUSTOMER not in tx:
        return []
    net = _known_customers(tx).groupby(CUSTOMER, observed=True)[AMOUNT].sum()
    negative = net[net < -NEGATIVE_NET_TOLERANCE]
    if negative.empty:
        return []
    return [i18n.text(
        "{customers:,} {customers:customer|customers} {customers:has|have} negative net "
        "revenue (returns exceed purchases in the period, {revenue} in all), probably "
        "returning goods bought before the data starts.", lang,
        customers=Count(len(negative)), revenue=_money(negative.sum(), currency, lang))]


def _alert_countries(tx: pd.DataFrame, lang: str) -> list[str]:
    if COUNTRY not in tx:
        return []
    alerts = []
    if CUSTOMER in tx:
        per = _known_customers(tx).groupby(CUSTOMER, observed=True)[COUNTRY].nunique()
        multi = int((per > 1).sum())
        if multi:
            alerts.append(i18n.text(
                "{customers:,} {customers:customer|customers} {customers:appears|appear} "
                "under more than one country.", lang, customers=Count(multi)))
    country = tx[COUNTRY].astype("string").str.strip()
    placeholder = country.str.lower().isin(PLACEHOLDER_COUNTRIES).fillna(False)
    if placeholder.any():
        alerts.append(i18n.text(
            "{lines:,} {lines:line|lines} {lines:has|have} country '{names}' (unknown).", lang,
            lines=Count(placeholder.sum()), names="/".join(sorted(set(country[placeholder])))))
    counts = country.value_counts()
    if len(counts) > 1 and counts.iloc[0] / len(tx) >= 0.5:
        alerts.append(i18n.text(
            "{share} of lines come from {country}; the other {others} countries share the "
            "rest, so segments by country outside it are small.", lang,
            share=_share(counts.iloc[0], len(tx), lang), country=counts.index[0],
            others=len(counts) - 1))
    return alerts


def _alert_calendar(tx: pd.DataFrame, lang: str) -> list[str]:
    if tx.empty:
        return []
    lines = volume_by_period(tx[[DATE, AMOUNT]], "D").set_index("period")["lines"]
    empty = lines.index[lines.eq(0)]
    if empty.empty:
        return []
    weekday = lines.eq(0).groupby(lines.index.day_name()).agg(["mean", "size"])
    closed = weekday.index[(weekday["mean"] >= 0.9) & (weekday["size"] >= 4)]
    other = empty[~empty.day_name().isin(closed)]
    runs = pd.Series(empty).diff().ne(pd.Timedelta(days=1)).cumsum()
    longest = pd.Series(empty).groupby(runs.to_numpy()).agg(["min", "max", "size"])
    longest = longest.sort_values("size", ascending=False).iloc[0]
    text = i18n.text("{empty:,} of {days:,} {days:day|days} {empty:has|have} no orders", lang,
                     empty=Count(len(empty)), days=Count(len(lines)))
    if len(closed):
        text = i18n.text("{text}: no trading on {weekdays} ({closed} days) and {other} other "
                         "days", lang, text=text, weekdays=_weekdays(closed, lang),
                         closed=len(empty) - len(other), other=len(other))
    return [i18n.text("{text}; the longest gap is {gap:,} {gap:day|days} ({start} to {end}).",
                      lang, text=text, gap=Count(longest["size"]),
                      start=f"{longest['min']:%Y-%m-%d}", end=f"{longest['max']:%Y-%m-%d}")]


def _alert_partial_months(tx: pd.DataFrame, lang: str) -> list[str]:
    if tx.empty:
        return []
    start, end = tx[DATE].min(), tx[DATE].max()
    alerts = []
    if start.day > 1:
        alerts.append(i18n.text(
            "The first month ({month}) starts on day {day}; its monthly totals are not "
            "comparable with full months.", lang, month=_month(start, lang), day=start.day))
    if end.day < end.days_in_month:
        alerts.append(i18n.text(
            "The last month ({month}) covers only {day} of {days} days; its monthly totals "
            "are not comparable with full months.", lang, month=_month(end, lang), day=end.day,
            days=end.days_in_month))
    if CUSTOMER in tx:
        alerts.append(i18n.text(
            "Customers seen in {month} all count as new because earlier purchases are not in "
            "the data; new-customer counts settle afterwards.", lang,
            month=_month(start, lang)))
    return alerts


def _alert_text(tx: pd.DataFrame, lang: str) -> list[str]:
    alerts = []
    if "product_name" in tx:
        names = tx["product_name"]
        missing = int(_blank(names).sum())
        if missing:
            alerts.append(i18n.text("{lines:,} {lines:line|lines} {lines:has|have} no product "
                                    "name.", lang, lines=Count(missing)))
        if pd.api.types.is_string_dtype(names):
            stray = int((names.notna() & names.ne(names.str.strip())).sum())
            if stray:
                alerts.append(i18n.text(
                    "{names:,} {names:product name|product names} {names:has|have} leading "
                    "or trailing spaces.", lang, names=Count(stray)))
    return alerts


def quality_alerts(
    tx: pd.DataFrame,
    cleaning_log: pd.DataFrame | None = None,
    *,
    rules: CleaningRules | None = None,
    currency: str = "",
    lang: str = "en",
) -> list[str]:
    """List data-quality problems in plain words, for a business reader.

    Every alert is computed from the data: missing customer ids and the revenue
    they carry, exact duplicates, returns, extreme orders and their cancellations,
    prices of zero or below, non-product codes, adjustments, customers with negative
    net revenue, customers under several countries, placeholder and dominant
    countries, calendar gaps, partial first and last months, product-name problems
    and, when ``cleaning_log`` is given, what cleaning removed or could not check.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions, raw or cleaned; needs ``order_date`` and ``amount``.
    cleaning_log : pandas.DataFrame or None, default None
        :attr:`seglab.clean.CleaningResult.log`, when ``tx`` was cleaned (its rule ids
        and actions are read, so the English log, or :func:`seglab.clean.display_log`'s).
    rules : CleaningRules or None, default None
        Where the non-product codes, adjustment prefixes and the extreme-quantity
        threshold come from; None uses the defaults.
    currency : str, default ""
        Symbol put before money, e.g. ``"£"``.
    lang : {"en", "zh"}
        The report's language (money in 万/亿 in Chinese; data values stay).

    Returns
    -------
    list of str
        One sentence per problem found, most important first; empty if none.
    """
    _check(tx)
    rules = CleaningRules() if rules is None else rules
    missing_customer = _alert_missing_customer(tx, currency, lang)
    return [
        *missing_customer,
        *_alert_cleaning(cleaning_log, currency, aside_reported=bool(missing_customer),
                         lang=lang),
        *_alert_duplicates(tx, currency, lang),
        *_alert_returns(tx, currency, lang),
        *_alert_extremes(tx, rules, lang),
        *_alert_prices(tx, lang),
        *_alert_non_products(tx, rules, currency, lang),
        *_alert_adjustments(tx, rules, currency, lang),
        *_alert_negative_customers(tx, currency, lang),
        *_alert_countries(tx, lang),
        *_alert_calendar(tx, lang),
        *_alert_partial_months(tx, lang),
        *_alert_text(tx, lang),
    ]
