"""Persona cards: a readable name, the key figures and a strategy for each segment."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Behaviour archetype -> (strategy, KPI to watch). Edit to change the playbook.
STRATEGIES: dict[str, tuple[str, str]] = {
    "loyal": ("Retain and reward: VIP service, early access, member perks", "retention rate"),
    "big-ticket": ("Serve at lower cost: steer to low-cost channels, cut returns",
                   "profit per customer"),
    "bargain": ("Upsell with bundles; cap discount depth", "discount share"),
    "new": ("Nurture new: onboarding journey towards the second order", "second-order rate"),
    "regular": ("Upsell and cross-sell to grow order value", "average order value"),
    "lapsing": ("Reactivate: personalised win-back before they go", "reactivation rate"),
    "churned": ("Let go or win back cheaply by mass channels", "cost per reactivation"),
}


def segment_summary(customers: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Key figures per segment: size, value, RFM medians, mix.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with features, P&L and ``segment_col``.
    segment_col : str
        The segmentation to summarise.

    Returns
    -------
    pandas.DataFrame
        One row per segment: ``customers``, ``customer_share``, ``revenue``,
        ``revenue_share``, ``profit`` (when present), medians of
        ``days_since_last_order``, ``orders``, ``avg_order_value``, ``tenure_days``,
        means of ``return_share`` and ``discount_share``, ``top_channel`` and
        ``top_category``.
    """
    grouped = customers.groupby(segment_col, sort=True)
    table = pd.DataFrame({"customers": grouped.size()})
    table["customer_share"] = table["customers"] / len(customers)
    table["revenue"] = grouped["revenue"].sum()
    table["revenue_share"] = table["revenue"] / customers["revenue"].sum()
    if "profit" in customers:
        table["profit"] = grouped["profit"].sum()
    for column in ("days_since_last_order", "orders", "avg_order_value", "tenure_days"):
        table[f"median_{column}"] = grouped[column].median()
    for column in ("return_share", "discount_share"):
        if column in customers:
            table[f"mean_{column}"] = grouped[column].mean()
    channels = [c for c in customers if c.startswith("channel_share_")]
    if channels:
        mix = grouped[channels].mean()
        table["top_channel"] = mix.idxmax(axis=1).str.removeprefix("channel_share_")
    if "top_category" in customers:
        table["top_category"] = grouped["top_category"].agg(
            lambda s: s.mode().iat[0] if s.notna().any() else pd.NA
        )
    return table


def archetype(summary: pd.DataFrame) -> pd.Series:
    """Classify each segment's behaviour into a key of :data:`STRATEGIES`.

    Rules, in order, on segment medians relative to the portfolio's segments: a long
    silence with one order is churned; a long silence otherwise lapsing; short tenure
    new; top order value with few orders big-ticket; heavy discounts bargain; many
    orders loyal; the rest regular.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`segment_summary`.

    Returns
    -------
    pandas.Series
        Archetype per segment.
    """
    silence = summary["median_days_since_last_order"]
    orders = summary["median_orders"]
    aov = summary["median_avg_order_value"]
    discount = summary.get("mean_discount_share", pd.Series(0.0, index=summary.index))
    kinds = np.select(
        [
            (silence > 270) & (orders <= 1.5),
            silence > 120,
            summary["median_tenure_days"] <= 120,
            (aov >= aov.quantile(0.75)) & (orders <= orders.median()),
            discount >= max(0.15, float(discount.quantile(0.75))),
            orders >= orders.quantile(0.75),
        ],
        ["churned", "lapsing", "new", "big-ticket", "bargain", "loyal"],
        default="regular",
    )
    return pd.Series(kinds, index=summary.index)


def persona_cards(customers: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Name each segment, and give it a strategy and KPI.

    The name reads "<value> <archetype> <channel> shoppers", e.g. "High-value loyal
    app shoppers"; value is high, mid or low by revenue per customer among segments.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with features, P&L and ``segment_col``.
    segment_col : str
        The segmentation to describe.

    Returns
    -------
    pandas.DataFrame
        :func:`segment_summary` plus ``persona``, ``archetype``, ``strategy`` and ``kpi``.
    """
    cards = segment_summary(customers, segment_col)
    per_customer = cards["revenue"] / cards["customers"]
    value = pd.cut(
        per_customer.rank(pct=True), [0, 1 / 3, 2 / 3, 1], labels=["Low", "Mid", "High"]
    ).astype(str)
    cards["archetype"] = archetype(cards)
    channel = cards["top_channel"] + " " if "top_channel" in cards else ""
    cards["persona"] = value + "-value " + cards["archetype"] + " " + channel + "shoppers"
    cards["strategy"] = cards["archetype"].map(lambda a: STRATEGIES[a][0])
    cards["kpi"] = cards["archetype"].map(lambda a: STRATEGIES[a][1])
    return cards
