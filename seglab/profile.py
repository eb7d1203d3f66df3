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


def _money(value: float, currency: str = "") -> str:
    """Format money for a reader: 1.45m, 21.7k, 812.40."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e6:
        text = f"{size / 1e6:,.2f}m"
    elif size >= 1e3:
        text = f"{size / 1e3:,.1f}k"
    else:
        text = f"{size:,.2f}"
    return f"{sign}{currency}{text}"


def _n(count: int, noun: str) -> str:
    """Count with its noun: ``1 line``, ``5,268 lines``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _verb(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


def _share(part: float, whole: float) -> str:
    if not whole:
        return "n/a"
    share = part / whole
    return f"{share:.0%}" if share >= 0.095 or share == 0 else f"{share:.1%}"


def overview(tx: pd.DataFrame) -> pd.DataFrame:
    """Summarise the log in one table: period, size, revenue, returns.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions, one row per order line; needs ``order_date`` and ``amount``.
        Orders, customers, products, categories, countries, regions, channels and
        stores are counted when their column is present.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric`` (plain-English label) and ``value`` (dates, counts,
        money in the data's currency, shares between 0 and 1).
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
    return pd.DataFrame(rows, columns=["metric", "value"])


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


def top_items_by_dimension(tx: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Rank the top ``n`` items of every item dimension the data has, in one table.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; dimensions are those of :data:`ITEM_COLUMNS` plus ``country``,
        ``region`` and ``channel`` that are present and not all missing (product ids
        are left out when product names are there).
    n : int, default 10
        Items per dimension.

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
        table = top_items(tx, by=column, n=n).rename(columns={column: "item"})
        table["item"] = table["item"].astype("string")
        table.insert(0, "dimension", column)
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


def top_items(tx: pd.DataFrame, by: str = "product_name", n: int = 10) -> pd.DataFrame:
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
        out[by] = out[by].astype(object).where(out[by].notna(), "(missing)")
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


def distribution_summary(tx: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Describe the numeric columns and the order value.

    Parameters
    ----------
    tx : pandas.DataFrame
        Transactions; order value needs ``order_id`` and ``amount``.
    columns : sequence of str or None, default None
        Numeric columns to describe; None uses those of :data:`DISTRIBUTION_COLUMNS`
        (quantity, unit_price, amount) that are present.

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
    rows = {name: _describe(values.astype("float64")) for name, values in series.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variable").reset_index()


# --- quality alerts: each check returns zero or more sentences -------------------


def _alert_missing_customer(tx: pd.DataFrame, currency: str) -> list[str]:
    if CUSTOMER not in tx:
        return ["There is no customer id column: customer-level analysis is impossible."]
    blank = _blank(tx[CUSTOMER])
    if not blank.any():
        return []
    revenue = tx.loc[blank, AMOUNT].sum()
    return [
        f"{_share(blank.sum(), len(tx))} of lines ({blank.sum():,}) have no customer "
        "id; they are kept out of customer analysis but carry "
        f"{_money(revenue, currency)} of revenue "
        f"({_share(revenue, tx[AMOUNT].sum())} of the total)."
    ]


def _alert_cleaning(log: pd.DataFrame | None, currency: str, *, aside_reported: bool) -> list[str]:
    if log is None or log.empty:
        return []
    alerts = []
    aside = log[(log["rule"] == "missing_customer") & (log["action"] == REMOVED)]
    if len(aside) and aside["rows"].iloc[0] > 0 and not aside_reported:
        alerts.append(
            f"Cleaning set aside {_n(aside['rows'].iloc[0], 'line')} without customer id; "
            "customer analysis does not see them, though they carry "
            f"{_money(aside['revenue'].iloc[0], currency)} of revenue."
        )
    removed = log[(log["action"] == REMOVED) & (log["rows"] > 0)]
    if len(removed):
        parts = ", ".join(
            f"{r.rule.replace('_', ' ')} {r.rows:,} ({_money(r.revenue, currency)})"
            for r in removed.itertuples()
        )
        alerts.append(
            f"Cleaning removed {_n(removed['rows'].sum(), 'line')} worth "
            f"{_money(removed['revenue'].sum(), currency)}: {parts}."
        )
    free = log[(log["rule"] == "free_lines") & (log["action"] == FLAGGED) & (log["rows"] > 0)]
    if len(free):
        count = int(free["rows"].iloc[0])
        alerts.append(
            f"Cleaning kept {_n(count, 'free line')} (a price of zero) as purchases: "
            "they count for frequency, recency and customer age, not in price statistics."
        )
    skipped = log[log["action"].str.startswith("not applicable (column")]
    if len(skipped):
        names = ", ".join(skipped["rule"].str.replace("_", " "))
        alerts.append(f"Cleaning could not check {names}: the column it needs is absent.")
    return alerts


def _alert_duplicates(tx: pd.DataFrame, currency: str) -> list[str]:
    dup = tx.duplicated()
    if not dup.any():
        return []
    count = int(dup.sum())
    verb = _verb(count, "duplicates", "duplicate")
    worth = _money(tx.loc[dup, AMOUNT].sum(), currency)
    return [
        f"{_n(count, 'line')} ({_share(count, len(tx))}) {verb} an earlier line exactly, "
        f"worth {worth}."
    ]


def _alert_returns(tx: pd.DataFrame, currency: str) -> list[str]:
    returns = _returns(tx)
    if not returns.any():
        return []
    gross = tx.loc[tx[AMOUNT] > 0, AMOUNT].sum()
    value = tx.loc[returns, AMOUNT].sum()
    return [
        f"{_share(returns.sum(), len(tx))} of lines ({returns.sum():,}) are returns or "
        f"cancellations, worth {_money(value, currency)} "
        f"({_share(-value, gross)} of gross sales); they are netted against purchases."
    ]


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


def _alert_extremes(tx: pd.DataFrame, rules: CleaningRules) -> list[str]:
    threshold = rules.outlier_quantity
    if threshold is None or QUANTITY not in tx:
        return []
    pairs = _extreme_pairs(tx, threshold)
    alerts = []
    done = pairs[pairs["lag"].notna()]
    if len(done):
        sizes = " and ".join(f"{q:,.0f}" for q in done[QUANTITY])
        days = done["lag"].max().days
        when = "the same day" if days == 0 else f"within {days + 1} days"
        verb = _verb(len(done), "was", "were")
        alerts.append(
            f"{_n(len(done), 'order line')} of more than {threshold:,.0f} units ({sizes}) "
            f"{verb} cancelled {when}; each pair nets to zero but distorts quantities."
        )
    open_ = pairs[pairs["lag"].isna()]
    if len(open_):
        sizes = ", ".join(f"{q:,.0f}" for q in open_[QUANTITY])
        alerts.append(
            f"{_n(len(open_), 'order line')} of more than {threshold:,.0f} units "
            f"({sizes}) {_verb(len(open_), 'has', 'have')} no matching cancellation."
        )
    return alerts


def _alert_prices(tx: pd.DataFrame) -> list[str]:
    if PRICE not in tx:
        return []
    free = (tx[PRICE] <= 0).sum()
    if not free:
        return []
    return [f"{_n(free, 'line')} {_verb(free, 'has', 'have')} a unit price of zero or below."]


def _alert_non_products(tx: pd.DataFrame, rules: CleaningRules, currency: str) -> list[str]:
    if PRODUCT not in tx:
        return []
    codes = tx[PRODUCT].astype("string").str.strip().str.upper()
    hit = codes.isin([c.upper() for c in rules.non_product_codes]).fillna(False)
    if rules.non_product_pattern:
        hit |= codes.str.match(rules.non_product_pattern, case=False).fillna(False)
    if not hit.any():
        return []
    counts = codes[hit].value_counts()
    top = ", ".join(f"{code} {count:,}" for code, count in counts.head(5).items())
    count = int(hit.sum())
    verb = _verb(count, "is not a product", "are not products")
    more = ", …" if len(counts) > 5 else ""
    net = _money(tx.loc[hit.to_numpy(), AMOUNT].sum(), currency)
    return [
        f"{_n(count, 'line')} {verb} (postage, fees, manual lines, vouchers: {top}{more}), "
        f"netting {net}."
    ]


def _alert_adjustments(tx: pd.DataFrame, rules: CleaningRules, currency: str) -> list[str]:
    if ORDER not in tx or not rules.adjustment_prefixes:
        return []
    hit = tx[ORDER].astype("string").str.startswith(rules.adjustment_prefixes)
    hit = hit.fillna(False).astype(bool)
    if not hit.any():
        return []
    values = ", ".join(_money(v, currency) for v in tx.loc[hit, AMOUNT].head(5))
    count = int(hit.sum())
    what = _verb(count, "is an accounting adjustment", "are accounting adjustments")
    prefixes = "/".join(rules.adjustment_prefixes)
    return [
        f"{_n(count, 'line')} {what} (order id starting with {prefixes}: {values}), not purchases."
    ]


def _alert_negative_customers(tx: pd.DataFrame, currency: str) -> list[str]:
    if CUSTOMER not in tx:
        return []
    net = _known_customers(tx).groupby(CUSTOMER, observed=True)[AMOUNT].sum()
    negative = net[net < -NEGATIVE_NET_TOLERANCE]
    if negative.empty:
        return []
    verb = _verb(len(negative), "has", "have")
    return [
        f"{_n(len(negative), 'customer')} {verb} negative net revenue (returns exceed "
        f"purchases in the period, {_money(negative.sum(), currency)} in all), "
        "probably returning goods bought before the data starts."
    ]


def _alert_countries(tx: pd.DataFrame) -> list[str]:
    if COUNTRY not in tx:
        return []
    alerts = []
    if CUSTOMER in tx:
        per = _known_customers(tx).groupby(CUSTOMER, observed=True)[COUNTRY].nunique()
        multi = int((per > 1).sum())
        if multi:
            alerts.append(
                f"{_n(multi, 'customer')} {_verb(multi, 'appears', 'appear')} under more "
                "than one country."
            )
    country = tx[COUNTRY].astype("string").str.strip()
    placeholder = country.str.lower().isin(PLACEHOLDER_COUNTRIES).fillna(False)
    if placeholder.any():
        names = "/".join(sorted(set(country[placeholder])))
        count = int(placeholder.sum())
        alerts.append(
            f"{_n(count, 'line')} {_verb(count, 'has', 'have')} country '{names}' (unknown)."
        )
    counts = country.value_counts()
    if len(counts) > 1 and counts.iloc[0] / len(tx) >= 0.5:
        alerts.append(
            f"{_share(counts.iloc[0], len(tx))} of lines come from {counts.index[0]}; "
            f"the other {len(counts) - 1} countries share the rest, so segments by "
            "country outside it are small."
        )
    return alerts


def _alert_calendar(tx: pd.DataFrame) -> list[str]:
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
    text = f"{len(empty):,} of {_n(len(lines), 'day')} {_verb(len(empty), 'has', 'have')} no orders"
    if len(closed):
        text += (
            f": no trading on {', '.join(f'{d}s' for d in closed)} "
            f"({len(empty) - len(other)} days) and {len(other)} other days"
        )
    text += (
        f"; the longest gap is {_n(int(longest['size']), 'day')} ({longest['min']:%Y-%m-%d} to "
        f"{longest['max']:%Y-%m-%d})."
    )
    return [text]


def _alert_partial_months(tx: pd.DataFrame) -> list[str]:
    if tx.empty:
        return []
    start, end = tx[DATE].min(), tx[DATE].max()
    alerts = []
    if start.day > 1:
        alerts.append(
            f"The first month ({start:%B %Y}) starts on day {start.day}; its "
            "monthly totals are not comparable with full months."
        )
    if end.day < end.days_in_month:
        alerts.append(
            f"The last month ({end:%B %Y}) covers only {end.day} of "
            f"{end.days_in_month} days; its monthly totals are not comparable with "
            "full months."
        )
    if CUSTOMER in tx:
        alerts.append(
            f"Customers seen in {start:%B %Y} all count as new because earlier "
            "purchases are not in the data; new-customer counts settle afterwards."
        )
    return alerts


def _alert_text(tx: pd.DataFrame) -> list[str]:
    alerts = []
    if "product_name" in tx:
        names = tx["product_name"]
        missing = int(_blank(names).sum())
        if missing:
            alerts.append(f"{_n(missing, 'line')} {_verb(missing, 'has', 'have')} no product name.")
        if pd.api.types.is_string_dtype(names):
            stray = int((names.notna() & names.ne(names.str.strip())).sum())
            if stray:
                alerts.append(
                    f"{_n(stray, 'product name')} {_verb(stray, 'has', 'have')} leading "
                    "or trailing spaces."
                )
    return alerts


def quality_alerts(
    tx: pd.DataFrame,
    cleaning_log: pd.DataFrame | None = None,
    *,
    rules: CleaningRules | None = None,
    currency: str = "",
) -> list[str]:
    """List data-quality problems in plain English, for a business reader.

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
        :attr:`seglab.clean.CleaningResult.log`, when ``tx`` was cleaned.
    rules : CleaningRules or None, default None
        Where the non-product codes, adjustment prefixes and the extreme-quantity
        threshold come from; None uses the defaults.
    currency : str, default ""
        Symbol put before money, e.g. ``"£"``.

    Returns
    -------
    list of str
        One sentence per problem found, most important first; empty if none.
    """
    _check(tx)
    rules = CleaningRules() if rules is None else rules
    missing_customer = _alert_missing_customer(tx, currency)
    return [
        *missing_customer,
        *_alert_cleaning(cleaning_log, currency, aside_reported=bool(missing_customer)),
        *_alert_duplicates(tx, currency),
        *_alert_returns(tx, currency),
        *_alert_extremes(tx, rules),
        *_alert_prices(tx),
        *_alert_non_products(tx, rules, currency),
        *_alert_adjustments(tx, rules, currency),
        *_alert_negative_customers(tx, currency),
        *_alert_countries(tx),
        *_alert_calendar(tx),
        *_alert_partial_months(tx),
        *_alert_text(tx),
    ]
