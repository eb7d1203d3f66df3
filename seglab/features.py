"""Per-customer features: lifetimes-compatible RFM plus behaviour and time features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seglab.errors import ConfigError

TIME_UNITS: dict[str, str] = {"D": "day", "W": "week", "M": "month"}

#: Every feature :func:`customer_features` can produce: name -> (unit, formula).
FEATURE_DOCS: dict[str, tuple[str, str]] = {
    "frequency": ("periods", "distinct purchase periods - 1 (lifetimes)"),
    "recency": ("periods", "periods between first and last purchase (lifetimes)"),
    "T": ("periods", "periods between first purchase and the analysis date (lifetimes)"),
    "monetary_value": (
        "currency",
        "mean spend per repeat period, first period excluded; 0 for one-time buyers",
    ),
    "orders": ("orders", "distinct orders with a positive net amount"),
    "revenue": ("currency", "sum of amount: sales minus returns"),
    "sales": ("currency", "sum of positive lines (before returns)"),
    "first_order": ("date", "first purchase"),
    "last_order": ("date", "last purchase"),
    "days_since_last_order": ("days", "analysis date - last purchase"),
    "tenure_days": ("days", "analysis date - first purchase"),
    "avg_order_value": ("currency", "sales / orders"),
    "mean_days_between_orders": ("days", "mean gap between distinct order days"),
    "std_days_between_orders": ("days", "standard deviation of those gaps"),
    "return_share": ("share", "returned amount / sales"),
    "discount_share": ("share", "discount / (sales + discount)"),
    "distinct_products": ("products", "distinct product ids bought"),
    "lines_per_order": ("lines", "purchase lines / orders"),
    "top_category_share": ("share", "sales in the customer's largest category / sales"),
    "channel_share_<channel>": ("share", "sales through that channel / sales"),
}


def feature_dictionary() -> pd.DataFrame:
    """Return :data:`FEATURE_DOCS` as a table: feature, unit, formula."""
    return pd.DataFrame(
        [(name, unit, formula) for name, (unit, formula) in FEATURE_DOCS.items()],
        columns=["feature", "unit", "formula"],
    )


def _period_ordinals(dates: pd.Series, time_unit: str) -> np.ndarray:
    """Integer period numbers, so differences count whole periods.

    Weeks run Monday to Sunday, as pandas' ``W`` (``W-SUN``) periods do.
    """
    days = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    if time_unit == "D":
        return days
    if time_unit == "W":
        # 1970-01-01 is a Thursday; shifting by 3 days makes weeks start on Monday.
        return np.floor_divide(days + 3, 7)
    months = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]")
    return months.astype(np.int64)


def _check_time_unit(time_unit: str) -> None:
    if time_unit not in TIME_UNITS:
        raise ConfigError(
            f"time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNITS)}."
        )


def default_as_of(transactions: pd.DataFrame, *, date_col: str = "order_date") -> pd.Timestamp:
    """Return the default analysis date: the day after the last transaction."""
    return transactions[date_col].max().normalize() + pd.Timedelta(days=1)


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
    with ``observation_period_end=as_of`` and ``freq=time_unit``: transactions are
    grouped into periods (days, Monday-start weeks or calendar months); a period
    counts once however many orders it holds; periods after the period of ``as_of``
    are ignored.

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
        counts calendar months between periods, the natural extension.

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
    """
    _check_time_unit(time_unit)
    tx = transactions[[customer_id_col, date_col, amount_col]]
    as_of_ts = tx[date_col].max() if as_of is None else pd.Timestamp(as_of)
    end_period = _period_ordinals(pd.Series([as_of_ts]), time_unit)[0]
    period = _period_ordinals(tx[date_col], time_unit)
    keep = period <= end_period
    per_period = (
        pd.DataFrame(
            {
                "customer": tx[customer_id_col].to_numpy()[keep],
                "period": period[keep],
                "amount": tx[amount_col].to_numpy(dtype=float)[keep],
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


def _order_table(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per order: customer, day and net amount."""
    order_key = tx["order_id"] if "order_id" in tx else tx["order_date"].astype("string")
    orders = (
        tx.assign(_order=order_key.to_numpy())
        .groupby(["customer_id", "_order"], sort=False)
        .agg(order_date=("order_date", "min"), amount=("amount", "sum"), lines=("amount", "size"))
        .reset_index()
    )
    return orders


def _gap_stats(purchases: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of days between a customer's distinct purchase days."""
    days = (
        purchases.assign(day=purchases["order_date"].dt.normalize())[["customer_id", "day"]]
        .drop_duplicates()
        .sort_values(["customer_id", "day"])
    )
    gaps = days.groupby("customer_id", sort=False)["day"].diff().dt.days
    return (
        gaps.groupby(days["customer_id"])
        .agg(["mean", "std"])
        .rename(columns={"mean": "mean_days_between_orders", "std": "std_days_between_orders"})
    )


def _mix_shares(sales: pd.DataFrame, column: str, prefix: str) -> pd.DataFrame:
    """Share of each customer's sales per value of ``column`` (one column per value)."""
    table = sales.pivot_table(
        index="customer_id", columns=column, values="amount", aggfunc="sum", fill_value=0.0
    )
    shares = table.div(table.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    shares.columns = [f"{prefix}{str(c).strip().lower().replace(' ', '_')}" for c in shares]
    return shares


def customer_features(
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    time_unit: str = "D",
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the customer table: RFM plus behaviour and time features.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (one row per order line; returns as negative
        lines). Uses ``customer_id``, ``order_date``, ``amount`` and, when present,
        ``order_id``, ``product_id``, ``category``, ``channel``, ``discount``.
    as_of : pandas.Timestamp or str, optional
        Analysis date. Default: the day after the last transaction.
    time_unit : {"D", "W", "M"}
        Period for the lifetimes RFM columns.
    customers : pandas.DataFrame, optional
        Canonical customer attributes, joined on ``customer_id``.

    Returns
    -------
    pandas.DataFrame
        One row per customer who bought before ``as_of``, ``customer_id`` first,
        sorted by it, with the columns described in :data:`FEATURE_DOCS`.
    """
    _check_time_unit(time_unit)
    as_of_ts = default_as_of(transactions) if as_of is None else pd.Timestamp(as_of)
    tx = transactions[transactions["order_date"] < as_of_ts + pd.Timedelta(days=1)]
    rfm = rfm_summary(tx, as_of=as_of_ts, time_unit=time_unit)

    orders = _order_table(tx)
    purchases = orders[orders["amount"] > 0]
    sales = tx[tx["amount"] > 0]
    by_customer = tx.groupby("customer_id", sort=True)
    table = pd.DataFrame(
        {
            "revenue": by_customer["amount"].sum(),
            "sales": sales.groupby("customer_id")["amount"].sum(),
            "orders": purchases.groupby("customer_id").size(),
            "purchase_lines": purchases.groupby("customer_id")["lines"].sum(),
            "first_order": purchases.groupby("customer_id")["order_date"].min(),
            "last_order": purchases.groupby("customer_id")["order_date"].max(),
        }
    ).reindex(rfm.index)
    table[["sales", "orders", "purchase_lines"]] = table[
        ["sales", "orders", "purchase_lines"]
    ].fillna(0.0)
    # A customer whose only orders are returns has no purchase dates; fall back to
    # any activity so the time features stay defined.
    table["first_order"] = table["first_order"].fillna(by_customer["order_date"].min())
    table["last_order"] = table["last_order"].fillna(by_customer["order_date"].max())
    table["days_since_last_order"] = (as_of_ts - table["last_order"]).dt.days
    table["tenure_days"] = (as_of_ts - table["first_order"]).dt.days
    safe_orders = table["orders"].replace(0, np.nan)
    table["avg_order_value"] = (table["sales"] / safe_orders).fillna(0.0)
    table["lines_per_order"] = (table["purchase_lines"] / safe_orders).fillna(0.0)
    table = table.join(_gap_stats(purchases))
    safe_sales = table["sales"].replace(0, np.nan)
    returned = -tx.loc[tx["amount"] < 0].groupby("customer_id")["amount"].sum()
    table["return_share"] = (returned.reindex(table.index).fillna(0.0) / safe_sales).fillna(0.0)
    if "discount" in tx:
        discount = sales.groupby("customer_id")["discount"].sum().reindex(table.index)
        table["discount_share"] = (discount / (table["sales"] + discount)).fillna(0.0)
    if "product_id" in tx:
        table["distinct_products"] = sales.groupby("customer_id")["product_id"].nunique()
    if "category" in tx and sales["category"].notna().any():
        category_mix = _mix_shares(sales, "category", "category_share_")
        table["top_category"] = (
            sales.groupby(["customer_id", "category"])["amount"].sum().unstack().idxmax(axis=1)
        )
        table["top_category_share"] = category_mix.max(axis=1)
        table = table.join(category_mix)
    if "channel" in tx and sales["channel"].notna().any():
        table = table.join(_mix_shares(sales, "channel", "channel_share_"))
    table = table.drop(columns="purchase_lines")
    # Gaps stay missing for one-time buyers: no gap is not a gap of zero days.
    gap_columns = ["mean_days_between_orders", "std_days_between_orders"]
    numeric = table.select_dtypes("number").columns.difference(gap_columns)
    table[numeric] = table[numeric].fillna(0.0)

    result = rfm.join(table).reset_index()
    if customers is not None:
        attributes = customers.drop_duplicates("customer_id").set_index("customer_id")
        result = result.join(attributes, on="customer_id")
    return result
