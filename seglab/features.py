"""Per-customer features: lifetimes-compatible RFM plus behaviour and time features.

One row per order line goes in; one row per customer comes out. Two paths compute the
same table: :func:`customer_features` here (pandas, the readable reference) and
:func:`seglab.engine.customer_aggregates` (DuckDB SQL over a DataFrame or a Parquet/CSV
file, for large logs). Tests hold them equal to 1e-9.

Definitions
-----------
The analysis date ``as_of`` is a day and counts whole: lines on that day are in, lines
after it are ignored. Lines without customer, date or amount are ignored (cleaning
removes them anyway). Returns are negative lines.

*Lifetimes RFM* (``frequency``, ``recency``, ``T``, ``monetary_value``) follows the
code of ``lifetimes.utils.summary_data_from_transaction_data`` (0.11.3), which in
places disagrees with lifetimes' own documentation. Where they disagree, seglab
follows the code, so that numbers move between the tools unchanged, except for the
observation end (point 4), where the documentation, the issue and seglab's cleaning
agree:

1. ``frequency``. The docs call it "the number of repeat purchases", then correct
   themselves: "the count of time periods the customer had a purchase in". The code
   counts periods with *any* line: all lines of a period (day, week, month) are summed
   into one purchase, and a period whose lines are all returns, or all free (amount
   0), still counts (lifetimes sums amounts whatever their sign or size). seglab:
   distinct periods with a line, minus one. So a customer whose first purchase was
   free became a customer that day: ``T`` and ``recency`` count from it, and a
   customer with free purchases only is in the table (``frequency`` from the free
   days, ``orders`` 0). Cleaning keeps free lines by default
   (:class:`seglab.clean.CleaningRules` ``drop_free_lines``).
2. ``monetary_value``. The docs say "the sum of all a customer's purchases divided by
   the total number of purchases"; the code takes the mean of the per-period totals
   over repeat periods only (the first period is left out) and 0 for one-time buyers.
   seglab follows the code; returns are netted into their period's total.
3. ``T``. The docs say "the duration between a customer's first purchase and the end
   of the period under study"; the code counts whole periods between the period of the
   first purchase and the period containing the observation end (both truncated to the
   period start). With weeks, a first purchase on a Sunday and an analysis date on the
   next Monday give ``T = 1``. seglab follows the code.
4. Observation end. The docs say "events after this date are truncated"; the code keeps
   every line of the period that contains it (with weeks, up to the following Sunday).
   seglab drops lines after the ``as_of`` day, as the docs say. The two agree for days,
   and for weeks and months whenever the log ends at ``as_of`` (as after seglab's
   cleaning, whose ``future_dates`` rule drops later lines); the tests check both.
5. Months. The docs accept any numpy unit as ``freq``; with ``"M"`` the code fails on
   current pandas (a calendar month is not a fixed duration) and older versions divided
   by an average month length, giving fractional periods. seglab counts calendar
   months: January 31 to February 1 is one month.
6. Weeks run Monday to Sunday, as pandas' ``W`` (``W-SUN``) periods in lifetimes do.
7. Default observation end: lifetimes uses the last transaction (so the latest buyer
   has ``T = 0``); :func:`rfm_summary` keeps that default, while the customer table uses
   the study's default, the day after the last transaction.

*Plain figures* use calendar days: ``days_since_last_order`` is the ``as_of`` day minus
the day of the last purchase (0 for a purchase on the analysis day), ``tenure_days`` the
same for the first purchase, so ``tenure_days == T`` for daily RFM. A purchase is an
order whose lines sum to more than zero; an order is the lines sharing ``order_id``
(lines without one are grouped by timestamp); without an ``order_id`` column every
line is an order (a transaction, as lifetimes reads a log).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seglab import i18n
from seglab.analysis_date import day_end, default_as_of, parse_as_of
from seglab.errors import ConfigError, InputError

TIME_UNITS: dict[str, str] = {"D": "day", "W": "week", "M": "month"}

#: Columns a transaction table needs to be summarised per customer.
REQUIRED_COLUMNS: tuple[str, ...] = ("customer_id", "order_date", "amount")

#: Optional transaction columns whose share of each customer's sales is a feature.
MIX_COLUMNS: dict[str, str] = {"category": "category_share_", "channel": "channel_share_"}

#: Sums of money within this of zero count as zero: an order of +0.1, +0.2 and -0.3
#: nets to 5.6e-17 or 0.0 depending on the order of addition, and must not be a
#: purchase in one path and not in the other.
MONEY_TOLERANCE = 1e-6

#: Optional transaction columns reduced to each customer's main value (most sales).
PLACE_COLUMNS: tuple[str, ...] = ("country", "region")


@dataclass(frozen=True)
class FeatureOptions:
    """Parameters of the customer table, with their defaults in one place.

    Attributes
    ----------
    time_unit : {"D", "W", "M"}
        Period of the lifetimes RFM columns.
    window_days : int
        Length of each of the two windows before ``as_of`` compared by
        ``recent_revenue``, ``previous_revenue`` and ``spend_trend`` (and the value x
        growth quadrant): the last ``window_days`` days and the ``window_days`` before.
    category_top_n, channel_top_n : int
        Categories (channels) with the most sales that get their own share column;
        the rest, and lines without a value, add up in ``..._share_other``.
    """

    time_unit: str = "D"
    window_days: int = 180
    category_top_n: int = 5
    channel_top_n: int = 5

    def __post_init__(self) -> None:
        if self.time_unit not in TIME_UNITS:
            raise ConfigError(
                f"time_unit={self.time_unit!r} is not supported; use one of "
                f"{sorted(TIME_UNITS)}."
            )
        for name in ("window_days", "category_top_n", "channel_top_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"{name}={value!r} should be a whole number >= 1.")


#: Every feature of the customer table: name -> (unit, formula). ``<value>`` columns
#: repeat for each of the top values of the data.
FEATURE_DOCS: dict[str, tuple[str, str]] = {
    "frequency": ("periods", "periods with any line (summed, returns and free lines too) - 1 "
                             "(lifetimes)"),
    "recency": ("periods", "periods between first and last purchase period, free purchases "
                           "too (lifetimes)"),
    "T": ("periods", "periods between first purchase period (free or not) and the as_of "
                     "period (lifetimes)"),
    "monetary_value": (
        "currency",
        "mean of per-period spend over repeat periods, first period left out; 0 for "
        "one-time buyers (lifetimes)",
    ),
    "orders": ("orders", "orders whose lines sum to more than 0 (purchases; sums within "
                          "1e-6 of 0 count as 0)"),
    "revenue": ("currency", "sum of amount: sales minus returns (rounded to 1e-6)"),
    "sales": ("currency", "sum of positive lines (before returns)"),
    "first_order": ("date", "time of the first purchase (first line if none)"),
    "last_order": ("date", "time of the last purchase (last line if none)"),
    "days_since_last_order": ("days", "as_of day - day of the last purchase"),
    "tenure_days": ("days", "as_of day - day of the first purchase"),
    "avg_order_value": ("currency", "sales / orders (0 without orders)"),
    "lines_per_order": ("lines", "basket size: lines in purchases / orders"),
    "units_per_order": ("units", "basket size: quantity in purchases / orders"),
    "mean_days_between_orders": (
        "days", "mean gap between distinct purchase days; missing with one purchase day"),
    "std_days_between_orders": (
        "days", "sample standard deviation of those gaps; missing below three purchase days"),
    "purchase_regularity": (
        "0-1", "1 / (1 + std / mean of the gaps): 1 = clockwork, near 0 = erratic; "
        "missing below three purchase days"),
    "repurchase_rate": (
        "share", "months with a purchase after the first / months from the first "
        "purchase month to the as_of month (0 when that is 0)"),
    "recent_revenue": ("currency", "revenue in the last window_days days up to as_of"),
    "previous_revenue": ("currency", "revenue in the window_days days before that"),
    "spend_trend": (
        "-1..1", "(recent - previous) / (|recent| + |previous|): 1 = all spend in the last "
        "half of the window, -1 = all in the first, 0 = level or none"),
    "return_share": ("share", "returned amount / sales (may exceed 1)"),
    "discount_share": ("share", "discount on positive lines / (sales + that discount)"),
    "distinct_products": ("products", "distinct product ids among positive lines"),
    "top_category": ("text", "category with the most sales (ties: first by name)"),
    "top_category_share": ("share", "sales in top_category / sales"),
    "category_share_<category>": (
        "share", "sales in that category / sales, for the category_top_n categories "
        "with the most sales overall"),
    "category_share_other": (
        "share", "sales in other categories or without one / sales (only when there are any)"),
    "channel_share_<channel>": ("share", "sales through that channel / sales (top channel_top_n)"),
    "channel_share_other": ("share", "sales through other or unknown channels / sales"),
    "country": ("text", "country with the most sales (customer file value wins)"),
    "region": ("text", "region with the most sales (customer file value wins)"),
    "age": ("years", "from the customer file; else as_of year - birth_year"),
    "days_since_signup": ("days", "as_of day - signup_date (customer file)"),
    "gender, city, city_tier, contact_consent, ...": (
        "as given", "other columns of the customer file, joined on customer_id"),
}

#: Money sums rounded to this many decimals, so that netted float noise (1e-13) shows as 0.
MONEY_DECIMALS = 6
_MONEY_COLUMNS = ("revenue", "sales", "recent_revenue", "previous_revenue")
_INT_COLUMNS = ("orders", "days_since_last_order", "tenure_days", "distinct_products")
_DATE_COLUMNS = ("first_order", "last_order")
_TEXT_COLUMNS = ("customer_id", "top_category", *PLACE_COLUMNS)


def feature_dictionary(lang: str = "en") -> pd.DataFrame:
    """Return :data:`FEATURE_DOCS` as a table: feature, unit, formula.

    Parameters
    ----------
    lang : {"en", "zh"}
        Language of the units and formulas (feature names are column names and stay).
    """
    return pd.DataFrame(
        [(name, i18n.text(unit, lang), i18n.text(formula, lang))
         for name, (unit, formula) in FEATURE_DOCS.items()],
        columns=["feature", "unit", "formula"],
    )


def _period_ordinals(dates: pd.Series, time_unit: str) -> np.ndarray:
    """Integer period numbers since 1970, so differences count whole periods.

    Weeks run Monday to Sunday, as pandas' ``W`` (``W-SUN``) periods do; months are
    calendar months (``12 * (year - 1970) + month - 1``).
    """
    values = dates.to_numpy(dtype="datetime64[ns]")
    if time_unit == "M":
        return values.astype("datetime64[M]").astype(np.int64)
    days = values.astype("datetime64[D]").astype(np.int64)
    if time_unit == "D":
        return days
    # 1970-01-01 is a Thursday; shifting by 3 days makes weeks start on Monday.
    return np.floor_divide(days + 3, 7)


def _check_time_unit(time_unit: str) -> None:
    if time_unit not in TIME_UNITS:
        raise ConfigError(
            f"time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)}."
        )


def _require(transactions: pd.DataFrame, columns: Sequence[str] = REQUIRED_COLUMNS) -> None:
    missing = [c for c in columns if c not in transactions]
    if missing:
        raise InputError(
            f"transactions have no column {missing[0]!r}; columns are "
            f"{list(transactions.columns)}. Load the file with seglab.io.load_transactions "
            "and a column mapping."
        )
    if not pd.api.types.is_datetime64_any_dtype(transactions["order_date"]):
        raise InputError(
            f"order_date should hold dates, not {transactions['order_date'].dtype}; "
            "load the file with seglab.io.load_transactions."
        )


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_id_col: str = "customer_id",
    date_col: str = "order_date",
    amount_col: str = "amount",
    as_of: pd.Timestamp | str | None = None,
    time_unit: str = "D",
) -> pd.DataFrame:
    """Summarise transactions into lifetimes' RFM table.

    Gives the same numbers as ``lifetimes.utils.summary_data_from_transaction_data``
    with ``observation_period_end=as_of`` and ``freq=time_unit`` (see the module
    docstring for where lifetimes' documentation and code disagree): lines are grouped
    into periods (days, Monday-start weeks or calendar months) and summed; a period
    counts once however many orders it holds; lines after the ``as_of`` day are ignored.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per order line, with customer id, datetime and amount columns.
    customer_id_col, date_col, amount_col : str
        Column names.
    as_of : pandas.Timestamp or str, optional
        Analysis date (``observation_period_end``). Default: the last transaction.
    time_unit : {"D", "W", "M"}
        Period length. For ``"M"`` lifetimes itself fails on current pandas; seglab
        counts calendar months between periods.

    Returns
    -------
    pandas.DataFrame
        One row per customer, indexed by ``customer_id_col`` (sorted), with float
        columns ``frequency``, ``recency``, ``T`` (in periods) and ``monetary_value``
        (mean spend over repeat periods, 0 for one-time buyers).

    Raises
    ------
    ConfigError
        If ``time_unit`` is not one of D, W, M.

    Examples
    --------
    >>> rfm_summary(tx, as_of="2011-12-10", time_unit="W")  # doctest: +SKIP
    """
    _check_time_unit(time_unit)
    tx = transactions[[customer_id_col, date_col, amount_col]]
    as_of_day = parse_as_of(tx[date_col].max() if as_of is None else as_of, option="as_of")
    tx = tx[tx[date_col] < day_end(as_of_day)]
    end_period = _period_ordinals(pd.Series([as_of_day]), time_unit)[0]
    per_period = (
        pd.DataFrame(
            {
                "customer": tx[customer_id_col].to_numpy(),
                "period": _period_ordinals(tx[date_col], time_unit),
                "amount": tx[amount_col].to_numpy(dtype=float),
            }
        )
        .groupby(["customer", "period"], sort=True)["amount"]
        .sum()
        .reset_index()
    )
    by_customer = per_period.groupby("customer", sort=True)
    first = by_customer["period"].transform("min")
    repeat = per_period["period"] != first
    summary = by_customer["period"].agg(["min", "max", "count"])
    repeat_spend = per_period["amount"].where(repeat).groupby(per_period["customer"]).mean()
    result = pd.DataFrame(
        {
            "frequency": (summary["count"] - 1).astype(float),
            "recency": (summary["max"] - summary["min"]).astype(float),
            "T": (end_period - summary["min"]).astype(float),
            "monetary_value": repeat_spend.reindex(summary.index).fillna(0.0),
        }
    )
    result.index.name = customer_id_col
    return result


# --- shared pieces of both paths ------------------------------------------------------


def slug(value: object) -> str:
    """Column-name form of a data value: trimmed, lower case, runs of spaces as ``_``."""
    return re.sub(r"\s+", "_", str(value).strip().lower())


def mix_column_names(prefix: str, values: Sequence[object]) -> list[str]:
    """Share-column names for ``values``, made unique (``_2``, ``_3``) if slugs clash."""
    names: list[str] = []
    for value in values:
        base = f"{prefix}{slug(value)}"
        name, n = base, 1
        while name in names or name == f"{prefix}other":
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def top_values(sales_by_value: pd.Series, top_n: int) -> tuple[list[str], bool]:
    """Pick the ``top_n`` values with the most sales (ties by name).

    Parameters
    ----------
    sales_by_value : pandas.Series
        Sales per value over the positive lines; a missing (NA) label holds the sales
        of lines without a value.
    top_n : int
        How many values keep their own column.

    Returns
    -------
    tuple
        The values, best first, and whether any sales fall outside them (an
        ``other`` column is then needed).
    """
    frame = pd.DataFrame({"value": sales_by_value.index, "sales": sales_by_value.to_numpy()})
    named = frame[frame["value"].notna()].sort_values(
        ["sales", "value"], ascending=[False, True], kind="stable"
    )
    chosen = [str(v) for v in named["value"].head(top_n)]
    other = len(named) > top_n or bool(frame["value"].isna().any())
    return chosen, other


def finish_table(table: pd.DataFrame) -> pd.DataFrame:
    """Put columns in :data:`FEATURE_DOCS` order and give each its documented dtype.

    Both paths end here, so their tables compare column by column.
    """
    order: list[str] = ["customer_id"]
    for name in FEATURE_DOCS:
        if "<" in name:
            prefix = name.split("<")[0]
            order += [c for c in table if c.startswith(prefix) and not c.endswith("_other")]
        elif name in table and name not in order:
            order.append(name)
    order += [c for c in table if c not in order]
    out = table[order]  # copy-on-write: only the columns changed below are copied
    for column in out:
        if column in _TEXT_COLUMNS:
            out[column] = out[column].astype("string")
        elif column in _INT_COLUMNS:
            out[column] = out[column].astype("int64")
        elif column in _DATE_COLUMNS:
            out[column] = out[column].astype("datetime64[ns]")
        elif column in FEATURE_DOCS or column.startswith(tuple(MIX_COLUMNS.values())):
            out[column] = out[column].astype("float64")
        if column in _MONEY_COLUMNS:
            out[column] = out[column].round(MONEY_DECIMALS) + 0.0  # + 0.0: no -0.0
    return out.reset_index(drop=True)


def feature_overview(table: pd.DataFrame) -> pd.DataFrame:
    """Summarise the numeric features of a customer table for a reader.

    Parameters
    ----------
    table : pandas.DataFrame
        Customer table.

    Returns
    -------
    pandas.DataFrame
        One row per numeric feature of :data:`FEATURE_DOCS` (and share columns):
        ``feature``, ``unit``, ``customers`` with a value, ``mean``, quartiles and
        ``max``.
    """
    prefixes = tuple(MIX_COLUMNS.values())
    rows = []
    for column in table:
        known = column in FEATURE_DOCS or str(column).startswith(prefixes)
        if not known or not pd.api.types.is_numeric_dtype(table[column]):
            continue
        values = table[column].astype(float)
        unit = FEATURE_DOCS.get(column, ("share", ""))[0]
        rows.append({
            "feature": column, "unit": unit, "customers": int(values.notna().sum()),
            "mean": values.mean(), "25%": values.quantile(0.25),
            "median": values.median(), "75%": values.quantile(0.75), "max": values.max(),
        })
    return pd.DataFrame(rows)


def add_attributes(
    table: pd.DataFrame, customers: pd.DataFrame | None, *, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Join the customer file's attributes (demographics, geography) to the table.

    ``age`` is derived from ``birth_year`` when the file has no age, and
    ``days_since_signup`` from ``signup_date``. Where the transactions also give a
    ``region`` or ``country``, the customer file's value wins and the transactions fill
    its gaps.

    Parameters
    ----------
    table : pandas.DataFrame
        Customer table with ``customer_id``.
    customers : pandas.DataFrame or None
        Canonical customer attributes (see :func:`seglab.io.load_customers`).
    as_of : pandas.Timestamp
        Analysis date.

    Returns
    -------
    pandas.DataFrame
        A new table, the attributes after the features; customers missing from the
        file get missing values.
    """
    if customers is None:
        return table
    if "customer_id" not in customers:
        raise InputError("the customer table has no column 'customer_id'.")
    day = parse_as_of(as_of, option="as_of")
    attributes = customers.drop_duplicates("customer_id").set_index("customer_id")
    attributes = attributes.reindex(table["customer_id"].to_numpy())
    extra = pd.DataFrame(index=attributes.index)
    if "birth_year" in attributes and "age" not in attributes:
        extra["age"] = (day.year - pd.to_numeric(attributes["birth_year"])).astype("Int64")
    if "signup_date" in attributes:
        signup = pd.to_datetime(attributes["signup_date"]).dt.normalize()
        extra["days_since_signup"] = (day - signup).dt.days.astype("Int64")
    attributes = attributes.join(extra)
    out = table.copy()
    for column in attributes:
        values = attributes[column].to_numpy()
        if column in out:
            merged = pd.Series(values, index=out.index, dtype=attributes[column].dtype)
            out[column] = merged.astype("string").fillna(out[column])
        else:
            out[column] = pd.Series(values, index=out.index, dtype=attributes[column].dtype)
    return out


# --- the pandas path --------------------------------------------------------------------


def _lines(transactions: pd.DataFrame, as_of_day: pd.Timestamp) -> pd.DataFrame:
    """Lines that count: complete, and not after the analysis day."""
    tx = transactions
    keep = (
        tx["customer_id"].notna()
        & tx["order_date"].notna()
        & tx["amount"].notna()
        & (tx["order_date"] < day_end(as_of_day))
    )
    return tx.loc[keep.to_numpy()]


def _orders(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, time of its first line, net amount, lines, units.

    Without ``order_id`` every line is an order.
    """
    frame = pd.DataFrame({
        "customer_id": tx["customer_id"].to_numpy(),
        "order_date": tx["order_date"].to_numpy(),
        "amount": tx["amount"].to_numpy(dtype=float),
    })
    if "quantity" in tx:
        frame["units"] = tx["quantity"].to_numpy(dtype=float)
    if "order_id" not in tx:
        return frame.rename(columns={"order_date": "order_time"}).assign(lines=1)
    order_id = tx["order_id"].astype("string")
    frame["key"] = order_id.to_numpy()
    frame["key_time"] = tx["order_date"].where(order_id.isna()).to_numpy()
    aggregations = {
        "order_time": ("order_date", "min"),
        "amount": ("amount", "sum"),
        "lines": ("amount", "size"),
    }
    if "units" in frame:
        aggregations["units"] = ("units", "sum")
    grouped = frame.groupby(["customer_id", "key", "key_time"], sort=False, dropna=False)
    return grouped.agg(**aggregations).reset_index(level=0).reset_index(drop=True)


def _rhythm(purchases: pd.DataFrame) -> pd.DataFrame:
    """Gaps between a customer's distinct purchase days, and their purchase months."""
    days = (
        pd.DataFrame({
            "customer_id": purchases["customer_id"].to_numpy(),
            "day": _period_ordinals(purchases["order_time"], "D"),
        })
        .drop_duplicates()
        .sort_values(["customer_id", "day"])
    )
    days["gap"] = days.groupby("customer_id", sort=False)["day"].diff()
    days["month"] = (days["day"].to_numpy().astype("datetime64[D]")
                     .astype("datetime64[M]").astype(np.int64))
    grouped = days.groupby("customer_id", sort=True)
    return pd.DataFrame({
        "mean_gap": grouped["gap"].mean(),
        "std_gap": grouped["gap"].std(),
        "purchase_months": grouped["month"].nunique(),
    })


def _top_value(positive: pd.DataFrame, column: str) -> pd.DataFrame:
    """Each customer's value of ``column`` with the most sales (ties: first by name).

    Returns a frame indexed by customer with ``value`` and its sales ``amount``.
    """
    frame = pd.DataFrame({
        "customer_id": positive["customer_id"].to_numpy(),
        "value": positive[column].astype("string").to_numpy(),
        "amount": positive["amount"].to_numpy(dtype=float),
    })
    sales = frame.groupby(["customer_id", "value"], sort=False, dropna=False)["amount"].sum()
    named = sales.reset_index()
    named = named[named["value"].notna()].sort_values(
        ["customer_id", "amount", "value"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates("customer_id")
    return named.set_index("customer_id")


def _mix(
    positive: pd.DataFrame, column: str, prefix: str, top_n: int, index: pd.Index,
    sales_total: pd.Series,
) -> pd.DataFrame:
    """Share of each customer's sales per top value of ``column`` (+ other)."""
    values = positive[column].astype("string")
    overall = positive["amount"].groupby(values.to_numpy(), dropna=False).sum()
    chosen, other = top_values(overall, top_n)
    names = mix_column_names(prefix, chosen)
    safe = sales_total.replace(0, np.nan)
    out = pd.DataFrame(index=index)
    customer = positive["customer_id"].to_numpy()
    for value, name in zip(chosen, names, strict=True):
        in_value = positive["amount"].where(values.eq(value).fillna(False).to_numpy(), 0.0)
        spent = in_value.groupby(customer).sum().reindex(index).fillna(0.0)
        out[name] = (spent / safe).fillna(0.0)
    if other:
        outside = ~values.isin(chosen).fillna(False).to_numpy() | values.isna().to_numpy()
        spent = positive["amount"].where(outside, 0.0).groupby(customer).sum()
        out[f"{prefix}other"] = (spent.reindex(index).fillna(0.0) / safe).fillna(0.0)
    return out


def _has_values(positive: pd.DataFrame, column: str) -> bool:
    return column in positive and bool(positive[column].notna().any())


def customer_features(
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    time_unit: str = FeatureOptions.time_unit,
    customers: pd.DataFrame | None = None,
    window_days: int = FeatureOptions.window_days,
    category_top_n: int = FeatureOptions.category_top_n,
    channel_top_n: int = FeatureOptions.channel_top_n,
) -> pd.DataFrame:
    """Build the customer table: RFM, plain figures, behaviour and time features.

    The pandas reference path; :func:`seglab.engine.customer_aggregates` computes the
    same table in DuckDB for large logs.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (one row per order line; returns as negative
        lines). Uses ``customer_id``, ``order_date``, ``amount`` and, when present,
        ``order_id``, ``product_id``, ``quantity``, ``category``, ``channel``,
        ``discount``, ``country`` and ``region``.
    as_of : pandas.Timestamp or str, optional
        Analysis date; lines after that day are ignored. Default: the day after the
        last transaction.
    time_unit : {"D", "W", "M"}
        Period for the lifetimes RFM columns.
    customers : pandas.DataFrame, optional
        Canonical customer attributes, joined on ``customer_id``
        (see :func:`add_attributes`).
    window_days, category_top_n, channel_top_n : int
        See :class:`FeatureOptions`.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a line up to ``as_of``, ``customer_id`` first,
        sorted by it, with the columns of :data:`FEATURE_DOCS` that the data allows,
        then the customer attributes.

    Raises
    ------
    InputError
        If a required column is missing or ``order_date`` holds no dates.
    ConfigError
        For a bad ``time_unit``, window or top-N.

    Examples
    --------
    >>> table = customer_features(tx, as_of="2011-12-10")  # doctest: +SKIP
    """
    options = FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)
    _require(transactions)
    as_of_day = (
        default_as_of(transactions) if as_of is None else parse_as_of(as_of, option="as_of")
    )
    tx = _lines(transactions, as_of_day)
    end = day_end(as_of_day)
    mid = end - pd.Timedelta(days=options.window_days)
    start = mid - pd.Timedelta(days=options.window_days)

    rfm = rfm_summary(tx, as_of=as_of_day, time_unit=options.time_unit)
    index = rfm.index
    customer = tx["customer_id"].to_numpy()
    amount = tx["amount"].astype(float)
    dates = tx["order_date"]

    def per_customer(values: pd.Series, how: str = "sum") -> pd.Series:
        return values.groupby(customer).agg(how).reindex(index)

    table = pd.DataFrame(index=index)
    table["revenue"] = per_customer(amount)
    table["sales"] = per_customer(amount.where(amount > 0, 0.0))
    returned = per_customer((-amount).where(amount < 0, 0.0))
    table["recent_revenue"] = per_customer(amount.where((dates >= mid).to_numpy(), 0.0))
    table["previous_revenue"] = per_customer(
        amount.where(((dates >= start) & (dates < mid)).to_numpy(), 0.0)
    )

    orders = _orders(tx)
    purchases = orders[orders["amount"] > MONEY_TOLERANCE]
    buying = purchases.groupby("customer_id", sort=True)
    table["orders"] = buying.size().reindex(index).fillna(0)
    first_order = buying["order_time"].min().reindex(index)
    table["first_order"] = first_order.fillna(per_customer(dates, "min"))
    table["last_order"] = buying["order_time"].max().reindex(index).fillna(
        per_customer(dates, "max")
    )
    table["days_since_last_order"] = (as_of_day - table["last_order"].dt.normalize()).dt.days
    table["tenure_days"] = (as_of_day - table["first_order"].dt.normalize()).dt.days
    safe_orders = table["orders"].replace(0, np.nan)
    table["avg_order_value"] = (table["sales"] / safe_orders).fillna(0.0)
    table["lines_per_order"] = (buying["lines"].sum().reindex(index) / safe_orders).fillna(0.0)
    if "units" in purchases:
        table["units_per_order"] = (
            buying["units"].sum().reindex(index) / safe_orders
        ).fillna(0.0)

    rhythm = _rhythm(purchases).reindex(index)
    table["mean_days_between_orders"] = rhythm["mean_gap"]
    table["std_days_between_orders"] = rhythm["std_gap"]
    table["purchase_regularity"] = 1 / (1 + rhythm["std_gap"] / rhythm["mean_gap"])
    end_month = _period_ordinals(pd.Series([as_of_day]), "M")[0]
    first_month = pd.Series(
        _period_ordinals(first_order.fillna(as_of_day), "M"), index=index
    )
    span = (end_month - first_month).where(first_order.notna(), 0)
    table["repurchase_rate"] = (
        (rhythm["purchase_months"] - 1) / span.replace(0, np.nan)
    ).fillna(0.0)

    change = table["recent_revenue"] - table["previous_revenue"]
    size = table["recent_revenue"].abs() + table["previous_revenue"].abs()
    table["spend_trend"] = (change / size.where(size > MONEY_TOLERANCE)).fillna(0.0)
    safe_sales = table["sales"].replace(0, np.nan)
    table["return_share"] = (returned / safe_sales).fillna(0.0)

    positive = tx[(amount > 0).to_numpy()]
    if "discount" in tx:
        discount = per_customer(tx["discount"].astype(float).where(amount > 0, 0.0))
        table["discount_share"] = (
            discount / (table["sales"] + discount).replace(0, np.nan)
        ).fillna(0.0)
    if "product_id" in tx:
        table["distinct_products"] = (
            positive["product_id"].groupby(positive["customer_id"].to_numpy()).nunique()
            .reindex(index).fillna(0)
        )
    if _has_values(positive, "category"):
        top = _top_value(positive, "category")
        table["top_category"] = top["value"].reindex(index)
        table["top_category_share"] = (
            top["amount"].reindex(index) / safe_sales
        ).fillna(0.0)
    for column, prefix in MIX_COLUMNS.items():
        if _has_values(positive, column):
            top_n = options.category_top_n if column == "category" else options.channel_top_n
            table = table.join(_mix(positive, column, prefix, top_n, index, table["sales"]))
    for column in PLACE_COLUMNS:
        if _has_values(positive, column):
            top = _top_value(positive, column)
            table[column] = top["value"].reindex(index)

    result = finish_table(rfm.join(table).reset_index(names="customer_id"))
    if not result["customer_id"].is_monotonic_increasing:  # e.g. numeric ids as text
        result = result.sort_values("customer_id", ignore_index=True, kind="stable")
    return add_attributes(result, customers, as_of=as_of_day)
