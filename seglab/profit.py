"""Profit per customer, segment and portfolio, including cost-to-serve."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CostTable:
    """Costs used when the data has none; every figure is documented and overridable.

    Attributes
    ----------
    default_margin_rate : float
        Gross margin share of revenue when a line has no ``cost`` and its category no rate.
    category_margin_rates : dict
        Gross margin share of revenue by category (used only when ``cost`` is absent).
    order_cost_by_channel : dict
        Cost of handling one purchase order (picking, packing, shipping, till) by channel.
    default_order_cost : float
        The same for channels not listed (or no channel column).
    store_rent_share : dict
        Share of a store's sales that its rent and occupancy cost, by store name.
    default_store_rent_share : float
        The same for stores not listed; online and app orders pay no rent.
    return_cost : float
        Cost of handling one returned order (reverse logistics, inspection, restocking).
    """

    default_margin_rate: float = 0.35
    category_margin_rates: dict[str, float] = field(default_factory=dict)
    order_cost_by_channel: dict[str, float] = field(
        default_factory=lambda: {"store": 1.5, "online": 7.0, "app": 6.0}
    )
    default_order_cost: float = 4.0
    store_rent_share: dict[str, float] = field(default_factory=dict)
    default_store_rent_share: float = 0.06
    return_cost: float = 12.0


def line_costs(transactions: pd.DataFrame, costs: CostTable | None = None) -> pd.DataFrame:
    """Cost of goods and rent for every line.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions.
    costs : CostTable, optional
        Cost assumptions; defaults to :class:`CostTable`.

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``cost_of_goods`` (the ``cost`` column where present,
        else revenue times one minus the margin rate) and ``rent``.
    """
    costs = costs or CostTable()
    amount = transactions["amount"]
    if "category" in transactions:
        rate = transactions["category"].map(costs.category_margin_rates).astype(float)
    else:
        rate = pd.Series(np.nan, index=transactions.index)
    estimated = amount * (1 - rate.fillna(costs.default_margin_rate))
    if "cost" in transactions:
        cost_of_goods = transactions["cost"].astype(float).fillna(estimated)
    else:
        cost_of_goods = estimated
    rent = pd.Series(0.0, index=transactions.index)
    if "channel" in transactions and "store" in transactions:
        in_store = transactions["channel"].eq("store").fillna(False).astype(bool)
        share = (
            transactions["store"].map(costs.store_rent_share).astype(float)
            .fillna(costs.default_store_rent_share)
        )
        rent = (amount * share).where(in_store, 0.0)
    return pd.DataFrame({"cost_of_goods": cost_of_goods, "rent": rent})


def customer_pnl(transactions: pd.DataFrame, costs: CostTable | None = None) -> pd.DataFrame:
    """Profit and loss per customer: revenue, margin, cost-to-serve, profit.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (one row per line, returns negative).
    costs : CostTable, optional
        Cost assumptions.

    Returns
    -------
    pandas.DataFrame
        One row per customer (indexed by ``customer_id``): ``revenue``,
        ``cost_of_goods``, ``gross_margin``, ``order_costs``, ``rent``,
        ``return_costs``, ``cost_to_serve`` and ``profit`` (= gross margin -
        cost-to-serve). Sums over customers equal the ledger totals.
    """
    costs = costs or CostTable()
    lines = transactions.join(line_costs(transactions, costs))
    order_key = lines["order_id"] if "order_id" in lines else lines["order_date"].astype("string")
    channel = lines["channel"] if "channel" in lines else pd.Series(pd.NA, index=lines.index)
    orders = (
        lines.assign(_order=order_key.to_numpy(), _channel=channel.to_numpy())
        .groupby(["customer_id", "_order"], sort=False, dropna=False)
        .agg(amount=("amount", "sum"), channel=("_channel", "first"))
    )
    per_order = orders["channel"].map(costs.order_cost_by_channel).astype(float)
    orders["order_costs"] = np.where(
        orders["amount"] > 0, per_order.fillna(costs.default_order_cost), 0.0
    )
    orders["return_costs"] = np.where(orders["amount"] < 0, costs.return_cost, 0.0)
    by_customer = lines.groupby("customer_id", sort=True)
    pnl = pd.DataFrame(
        {
            "revenue": by_customer["amount"].sum(),
            "cost_of_goods": by_customer["cost_of_goods"].sum(),
            "rent": by_customer["rent"].sum(),
        }
    )
    served = orders.groupby(level="customer_id")[["order_costs", "return_costs"]].sum()
    pnl = pnl.join(served)
    pnl["gross_margin"] = pnl["revenue"] - pnl["cost_of_goods"]
    pnl["cost_to_serve"] = pnl["order_costs"] + pnl["rent"] + pnl["return_costs"]
    pnl["profit"] = pnl["gross_margin"] - pnl["cost_to_serve"]
    columns = ["revenue", "cost_of_goods", "gross_margin", "order_costs", "rent",
               "return_costs", "cost_to_serve", "profit"]
    return pnl[columns]


def segment_pnl(customers: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Sum customer P&L by segment, with a portfolio total row.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with the columns of :func:`customer_pnl` and ``segment_col``.
    segment_col : str
        Column to group by.

    Returns
    -------
    pandas.DataFrame
        One row per segment plus ``"Portfolio"``: ``customers``, the P&L sums,
        ``margin_rate``, ``profit_per_customer`` and ``unprofitable_share``.
    """
    money = ["revenue", "gross_margin", "cost_to_serve", "profit"]
    grouped = customers.groupby(segment_col, sort=True)
    table = grouped[money].sum()
    table.insert(0, "customers", grouped.size())
    table["unprofitable_share"] = grouped["profit"].apply(lambda p: float((p < 0).mean()))
    total = customers[money].sum().to_frame("Portfolio").T
    total.insert(0, "customers", len(customers))
    total["unprofitable_share"] = float((customers["profit"] < 0).mean())
    table = pd.concat([table, total])
    table["margin_rate"] = table["gross_margin"] / table["revenue"].replace(0, np.nan)
    table["profit_per_customer"] = table["profit"] / table["customers"]
    table.index.name = segment_col
    return table


def whale_curve(profit: pd.Series) -> pd.DataFrame:
    """Cumulative profit share against customers ranked by profit (the whale curve).

    Parameters
    ----------
    profit : pandas.Series
        Profit per customer.

    Returns
    -------
    pandas.DataFrame
        ``customer_share`` (0..1) and ``cumulative_profit_share`` (total profit = 1;
        the curve peaks above 1 when some customers lose money).
    """
    ordered = profit.sort_values(ascending=False, kind="stable").to_numpy()
    total = ordered.sum()
    return pd.DataFrame(
        {
            "customer_share": np.arange(1, len(ordered) + 1) / len(ordered),
            "cumulative_profit_share": np.cumsum(ordered) / total if total else 0.0,
        }
    )


def reconciliation(customers: pd.DataFrame, segments: pd.DataFrame,
                   ledger: dict[str, float]) -> pd.DataFrame:
    """Show that customer sums, segment sums, the portfolio row and the ledger agree.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``revenue`` and ``profit``.
    segments : pandas.DataFrame
        Output of :func:`segment_pnl` (with its ``"Portfolio"`` row).
    ledger : dict
        Totals straight from the transactions: ``revenue`` and ``profit``.

    Returns
    -------
    pandas.DataFrame
        Rows ``revenue`` and ``profit``; columns per level and ``agrees`` (to the cent).
    """
    rows = {}
    for measure in ("revenue", "profit"):
        levels = {
            "customers": customers[measure].sum(),
            "segments": segments.drop(index="Portfolio")[measure].sum(),
            "portfolio": segments.loc["Portfolio", measure],
            "ledger": ledger[measure],
        }
        spread = max(levels.values()) - min(levels.values())
        rows[measure] = {**levels, "agrees": bool(round(spread, 2) == 0)}
    return pd.DataFrame(rows).T
