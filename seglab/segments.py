"""Rule-based segments: RFM names, value tiers (pyramid, ABC, membership), lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seglab.errors import ConfigError

#: Named RFM segments on the grid of recency score (rows, 1-5) and the rounded mean of
#: frequency and monetary scores (columns, 1-5). Every cell has a name: there is no
#: "Other". Adapted from the widely used R x F map, with "Lost" split off the corner.
RFM_SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    # FM:  1              2              3                4            5
    ("Lost", "Hibernating", "At risk", "At risk", "Can't lose"),  # R = 1
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),  # R = 2
    ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),  # R = 3
    ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),  # R = 4
    ("New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),  # R = 5
)

#: Order in which RFM segments are listed, best first.
RFM_SEGMENT_ORDER: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)


def rfm_segment_map() -> pd.DataFrame:
    """Return the named RFM map as a table: recency score rows, FM score columns."""
    return pd.DataFrame(
        RFM_SEGMENT_GRID,
        index=pd.Index(range(1, 6), name="recency score"),
        columns=pd.Index(range(1, 6), name="mean of frequency and monetary scores"),
    ).sort_index(ascending=False)


@dataclass(frozen=True)
class SegmentRules:
    """Thresholds for every rule segmentation; override any field by keyword.

    Attributes
    ----------
    rfm_bins : int
        Number of score levels for R, F and M (quintiles by default).
    pyramid_shares : tuple of float
        Customer shares of the pyramid levels from the top (1%, 4%, 15%, the rest).
    pyramid_names : tuple of str
        Names of those levels.
    abc_cutoffs : tuple of float
        Cumulative revenue shares closing classes A and B (Pareto).
    gold_min_orders, silver_min_orders : int
        Orders needed for gold and silver membership.
    gold_min_aov_quantile, silver_min_aov_quantile : float
        Order-value quantile (among repeat buyers) needed for gold and silver.
    new_days : int
        A first order within this many days makes a customer new.
    rhythm_min_orders : int
        Orders needed before a customer's own purchase rhythm sets their thresholds.
    at_risk_gaps, dormant_gaps, churned_gaps : float
        Lifecycle thresholds in multiples of the customer's mean gap between orders.
    at_risk_days, dormant_days, churned_days : int
        The same thresholds in days, for customers without a rhythm.
    rhythm_floor_share : float
        A rhythm-based threshold is never shorter than this share of the fixed one, so
        a daily buyer is not called churned after a fortnight.
    """

    rfm_bins: int = 5
    pyramid_shares: tuple[float, ...] = (0.01, 0.04, 0.15, 0.80)
    pyramid_names: tuple[str, ...] = (
        "Platinum (top 1%)",
        "Gold (next 4%)",
        "Iron (next 15%)",
        "Lead (other 80%)",
    )
    abc_cutoffs: tuple[float, float] = (0.80, 0.95)
    gold_min_orders: int = 6
    silver_min_orders: int = 3
    gold_min_aov_quantile: float = 0.5
    silver_min_aov_quantile: float = 0.25
    new_days: int = 90
    rhythm_min_orders: int = 3
    at_risk_gaps: float = 2.0
    dormant_gaps: float = 4.0
    churned_gaps: float = 8.0
    at_risk_days: int = 90
    dormant_days: int = 180
    churned_days: int = 365
    rhythm_floor_share: float = 1 / 3


def score(values: pd.Series, *, bins: int = 5, higher_is_better: bool = True) -> pd.Series:
    """Score values 1..bins by their position in the distribution (quantile bins).

    Ties share the lowest score of their run, so a mass of one-time buyers all score 1
    on frequency instead of being split arbitrarily.

    Parameters
    ----------
    values : pandas.Series
        Values to score.
    bins : int
        Number of score levels.
    higher_is_better : bool
        Whether large values earn high scores.

    Returns
    -------
    pandas.Series
        Integer scores from 1 to ``bins``, same index as ``values``.
    """
    ranked = (values if higher_is_better else -values).rank(method="min")
    scores = 1 + np.floor((ranked - 1) / len(values) * bins)
    return scores.clip(1, bins).astype(int)


def rfm_segments(features: pd.DataFrame, *, rules: SegmentRules | None = None) -> pd.DataFrame:
    """Score recency, frequency and monetary value and name each customer's segment.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table with ``days_since_last_order``, ``orders`` and ``revenue``.
    rules : SegmentRules, optional
        Thresholds; the defaults score quintiles.

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``r_score``, ``f_score``, ``m_score``, ``rfm_score``
        (e.g. ``"545"``) and ``rfm_segment``.
    """
    rules = rules or SegmentRules()
    if rules.rfm_bins != 5:
        raise ConfigError(f"rfm_bins={rules.rfm_bins} is not supported by the 5x5 named map.")
    r = score(features["days_since_last_order"], bins=5, higher_is_better=False)
    f = score(features["orders"], bins=5)
    m = score(features["revenue"], bins=5)
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    grid = np.array(RFM_SEGMENT_GRID, dtype=object)
    return pd.DataFrame(
        {
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_score": r.astype(str) + f.astype(str) + m.astype(str),
            "rfm_segment": grid[r.to_numpy() - 1, fm.to_numpy() - 1],
        },
        index=features.index,
    )


def pyramid_tier(value: pd.Series, *, rules: SegmentRules | None = None) -> pd.Series:
    """Place customers on the customer pyramid by value rank (top 1% / 4% / 15% / rest).

    Parameters
    ----------
    value : pandas.Series
        Revenue or profit per customer.
    rules : SegmentRules, optional
        Level shares and names.

    Returns
    -------
    pandas.Series
        Level name per customer.
    """
    rules = rules or SegmentRules()
    if len(rules.pyramid_shares) != len(rules.pyramid_names):
        raise ConfigError("pyramid_shares and pyramid_names must have the same length.")
    # rank(method="first") after a stable sort by id keeps the split deterministic.
    top_share = value.rank(ascending=False, method="first") / len(value)
    edges = np.cumsum(rules.pyramid_shares)
    level = np.searchsorted(edges, top_share.to_numpy() - 1e-12)
    level = np.minimum(level, len(rules.pyramid_names) - 1)
    return pd.Series(np.asarray(rules.pyramid_names, dtype=object)[level], index=value.index)


def abc_class(value: pd.Series, *, rules: SegmentRules | None = None) -> pd.Series:
    """Pareto classes: A holds the first 80% of value, B the next 15%, C the rest.

    Parameters
    ----------
    value : pandas.Series
        Revenue or profit per customer; customers with no positive value are C.
    rules : SegmentRules, optional
        Cumulative cut-offs.

    Returns
    -------
    pandas.Series
        ``"A"``, ``"B"`` or ``"C"`` per customer.
    """
    rules = rules or SegmentRules()
    positive = value.clip(lower=0)
    ordered = positive.sort_values(ascending=False, kind="stable")
    total = ordered.sum()
    share_before = (ordered.cumsum() - ordered) / total if total > 0 else ordered * 0
    a_cut, b_cut = rules.abc_cutoffs
    classes = np.where(share_before < a_cut, "A", np.where(share_before < b_cut, "B", "C"))
    classes = pd.Series(classes, index=ordered.index).where(ordered > 0, "C")
    return classes.reindex(value.index)


def membership_grade(features: pd.DataFrame, *, rules: SegmentRules | None = None) -> pd.Series:
    """Gold / silver / regular membership by orders, order value and repurchase.

    Gold needs ``gold_min_orders`` orders and an order value at least the
    ``gold_min_aov_quantile`` of repeat buyers; silver the smaller thresholds.
    Buying again at all (repurchase) is required for both.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table with ``orders`` and ``avg_order_value``.
    rules : SegmentRules, optional
        Thresholds.

    Returns
    -------
    pandas.Series
        ``"Gold"``, ``"Silver"`` or ``"Regular"`` per customer.
    """
    rules = rules or SegmentRules()
    orders = features["orders"]
    aov = features["avg_order_value"]
    repeat_aov = aov[orders >= 2]
    if repeat_aov.empty:
        return pd.Series("Regular", index=features.index)
    gold = (orders >= rules.gold_min_orders) & (
        aov >= repeat_aov.quantile(rules.gold_min_aov_quantile)
    )
    silver = (orders >= rules.silver_min_orders) & (
        aov >= repeat_aov.quantile(rules.silver_min_aov_quantile)
    )
    return pd.Series(
        np.where(gold, "Gold", np.where(silver, "Silver", "Regular")), index=features.index
    )


def lifecycle_stage(features: pd.DataFrame, *, rules: SegmentRules | None = None) -> pd.Series:
    """Lifecycle stage: new, active, at risk, dormant or churned.

    A customer with at least ``rhythm_min_orders`` orders is judged against their
    own rhythm: silent for more than ``at_risk_gaps`` mean gaps is at risk, and so on
    (never less than ``rhythm_floor_share`` of the fixed days). Others are judged by
    fixed days.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table with ``tenure_days``, ``days_since_last_order``, ``orders`` and
        ``mean_days_between_orders``.
    rules : SegmentRules, optional
        Thresholds.

    Returns
    -------
    pandas.Series
        Stage per customer.
    """
    rules = rules or SegmentRules()
    silent = features["days_since_last_order"]
    gap = features["mean_days_between_orders"]
    has_rhythm = (features["orders"] >= rules.rhythm_min_orders) & gap.notna()

    def threshold(gaps: float, days: int) -> pd.Series:
        own = (gap * gaps).clip(lower=days * rules.rhythm_floor_share)
        return own.where(has_rhythm, days)

    stage = np.select(
        [
            silent > threshold(rules.churned_gaps, rules.churned_days),
            silent > threshold(rules.dormant_gaps, rules.dormant_days),
            silent > threshold(rules.at_risk_gaps, rules.at_risk_days),
            features["tenure_days"] <= rules.new_days,
        ],
        ["Churned", "Dormant", "At risk", "New"],
        default="Active",
    )
    return pd.Series(stage, index=features.index)


def value_growth_quadrant(
    transactions: pd.DataFrame,
    customer_ids: pd.Series,
    *,
    as_of: pd.Timestamp,
    window_days: int = 180,
) -> pd.DataFrame:
    """Cross current value with growth between the last two windows (four quadrants).

    Value is revenue in the last ``window_days`` before ``as_of``; growth is that
    minus revenue in the window before. "High" value means at or above the median
    of customers active in either window.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions.
    customer_ids : pandas.Series
        Customers to classify (all get a quadrant; no revenue means low, not growing).
    as_of : pandas.Timestamp
        Analysis date.
    window_days : int
        Length of each window.

    Returns
    -------
    pandas.DataFrame
        ``recent_revenue``, ``previous_revenue``, ``revenue_growth`` and
        ``value_growth_quadrant`` per customer, indexed like ``customer_ids``.
    """
    end = as_of + pd.Timedelta(days=1)
    mid = end - pd.Timedelta(days=window_days)
    start = mid - pd.Timedelta(days=window_days)
    dates = transactions["order_date"]
    recent = transactions[(dates >= mid) & (dates < end)].groupby("customer_id")["amount"].sum()
    previous = transactions[(dates >= start) & (dates < mid)].groupby("customer_id")[
        "amount"
    ].sum()
    table = pd.DataFrame(
        {
            "recent_revenue": recent.reindex(customer_ids).fillna(0.0).to_numpy(),
            "previous_revenue": previous.reindex(customer_ids).fillna(0.0).to_numpy(),
        },
        index=customer_ids.index,
    )
    table["revenue_growth"] = table["recent_revenue"] - table["previous_revenue"]
    active = table[["recent_revenue", "previous_revenue"]].max(axis=1) > 0
    median = table.loc[active, "recent_revenue"].median() if active.any() else 0.0
    high = (table["recent_revenue"] >= median) & (table["recent_revenue"] > 0)
    growing = table["revenue_growth"] > 0
    table["value_growth_quadrant"] = np.select(
        [high & growing, high & ~growing, ~high & growing],
        ["High value, growing", "High value, declining", "Low value, growing"],
        default="Low value, declining",
    )
    return table


def rule_segments(
    features: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    rules: SegmentRules | None = None,
) -> pd.DataFrame:
    """Add every rule segmentation to the customer table.

    Parameters
    ----------
    features : pandas.DataFrame
        Output of :func:`seglab.features.customer_features`.
    transactions : pandas.DataFrame
        The transactions the features were built from (for the growth windows).
    as_of : pandas.Timestamp
        Analysis date.
    rules : SegmentRules, optional
        Thresholds.

    Returns
    -------
    pandas.DataFrame
        A copy of ``features`` with ``r_score`` ... ``rfm_segment``,
        ``value_tier`` (pyramid), ``abc_class``, ``membership``, ``lifecycle_stage``
        and the value-growth columns.
    """
    rules = rules or SegmentRules()
    out = features.join(rfm_segments(features, rules=rules))
    out["value_tier"] = pyramid_tier(out["revenue"], rules=rules)
    out["abc_class"] = abc_class(out["revenue"], rules=rules)
    out["membership"] = membership_grade(out, rules=rules)
    out["lifecycle_stage"] = lifecycle_stage(out, rules=rules)
    quadrant = value_growth_quadrant(transactions, out["customer_id"], as_of=as_of)
    return out.join(quadrant)
