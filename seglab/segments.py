"""Rule-based segments: RFM names, value tiers (pyramid, ABC, membership), lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from seglab import i18n
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


#: What each RFM segment means and what to do for it: segment -> (who, action).
RFM_SEGMENT_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "Champions": ("bought recently, buy often and spend the most",
                  "reward; early access, VIP service; ask for reviews and referrals"),
    "Loyal": ("buy often and spend well, a little less recently",
              "membership benefits, cross-sell higher-value products"),
    "Potential loyalists": ("recent buyers with a few orders or middling spend",
                            "membership offer, recommendations to build the habit"),
    "New": ("bought very recently, for the first time or little",
            "onboarding: welcome series, second-order incentive"),
    "Promising": ("fairly recent, bought once or twice at low value",
                  "low-cost nudges and brand content to bring them back"),
    "Need attention": ("middling recency, frequency and spend",
                       "limited-time offers based on past purchases"),
    "About to sleep": ("buying less recently, low frequency and spend",
                       "reactivation with popular products or a discount"),
    "At risk": ("used to buy often or spend well, not lately",
                "personalised win-back messages, service check"),
    "Can't lose": ("were among the best customers, silent for a long time",
                   "one-to-one win-back; find out why they left"),
    "Hibernating": ("last bought long ago, few orders, low spend",
                    "occasional mass-channel offers; do not overspend"),
    "Lost": ("longest silence, one small order",
             "leave out of paid campaigns; keep in low-cost mailings"),
}


def segment_label(name: object, lang: str = "en") -> object:
    """Return the display name of a rule segment (RFM segment, tier, grade, stage, quadrant).

    Files keep the English names; this is for tables and charts. A name without a
    translation (a custom pyramid level, a cluster number) is returned as it is.

    Parameters
    ----------
    name : object
        A value of one of the :data:`SEGMENT_COLUMNS`.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    object
        The name in ``lang``; ``name`` unchanged in English or when it is not text.
    """
    if lang == "en" or not isinstance(name, str):
        return name
    return i18n.text(name, lang)


def rfm_segment_table(*, lang: str = "en") -> pd.DataFrame:
    """Document the RFM map as a table: each segment, its cells, who they are, what to do.

    Parameters
    ----------
    lang : {"en", "zh"}
        Language of the segment names and descriptions (the cells are codes).

    Returns
    -------
    pandas.DataFrame
        One row per segment in :data:`RFM_SEGMENT_ORDER`: ``segment``, ``cells`` (the
        (R, FM) score pairs of :data:`RFM_SEGMENT_GRID` it covers, 25 in all),
        ``who`` and ``action``.
    """
    cells: dict[str, list[str]] = {name: [] for name in RFM_SEGMENT_ORDER}
    for r, row in enumerate(RFM_SEGMENT_GRID, start=1):
        for fm, name in enumerate(row, start=1):
            cells[name].append(f"R{r} FM{fm}")
    return pd.DataFrame(
        [
            (segment_label(name, lang), ", ".join(cells[name]),
             *(i18n.text(text, lang) for text in RFM_SEGMENT_DESCRIPTIONS[name]))
            for name in RFM_SEGMENT_ORDER
        ],
        columns=["segment", "cells", "who", "action"],
    )


def rfm_segment_map(*, lang: str = "en") -> pd.DataFrame:
    """Return the named RFM map as a grid: one row per recency score (5 first).

    Parameters
    ----------
    lang : {"en", "zh"}
        Language of the segment names in the cells.

    Returns
    -------
    pandas.DataFrame
        Column ``recency score`` (5 = most recent) and one column per rounded mean of
        the frequency and monetary scores (``FM 1`` ... ``FM 5``) holding the segment.
    """
    grid = pd.DataFrame(
        [[segment_label(name, lang) for name in row] for row in RFM_SEGMENT_GRID],
        columns=[f"FM {fm}" for fm in range(1, 6)],
    )
    grid.insert(0, "recency score", [f"R {r}" for r in range(1, 6)])
    return grid.iloc[::-1].reset_index(drop=True)


@dataclass(frozen=True)
class SegmentRules:
    """Thresholds for every rule segmentation; override any field by keyword.

    Attributes
    ----------
    rfm_bins : int
        Number of score levels for R, F and M (quintiles; the named map needs 5).
    tier_value : str
        Customer-table column the pyramid and ABC classes rank by: ``"revenue"``, or
        ``"profit"`` once the profit stage has added it.
    pyramid_shares : tuple of float
        Customer shares of the pyramid levels from the top (1%, 4%, 15%, the rest).
    pyramid_names : tuple of str
        Names of those levels.
    abc_cutoffs : tuple of float
        Cumulative value shares closing classes A and B (Pareto).
    gold_min_orders, silver_min_orders : int
        Orders (purchase frequency) needed for gold and silver membership.
    gold_min_aov_quantile, silver_min_aov_quantile : float
        Order-value quantile (among repeat buyers) needed for gold and silver.
    gold_min_repurchase_rate, silver_min_repurchase_rate : float
        ``repurchase_rate`` (share of months since the first purchase with another
        purchase) needed for gold and silver.
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
    tier_value: str = "revenue"
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
    gold_min_repurchase_rate: float = 0.2
    silver_min_repurchase_rate: float = 0.0
    new_days: int = 90
    rhythm_min_orders: int = 3
    at_risk_gaps: float = 2.0
    dormant_gaps: float = 4.0
    churned_gaps: float = 8.0
    at_risk_days: int = 90
    dormant_days: int = 180
    churned_days: int = 365
    rhythm_floor_share: float = 1 / 3

    def __post_init__(self) -> None:
        if len(self.pyramid_shares) != len(self.pyramid_names):
            raise ConfigError(
                f"pyramid_shares has {len(self.pyramid_shares)} levels but pyramid_names "
                f"{len(self.pyramid_names)}; give one name per level."
            )
        if abs(sum(self.pyramid_shares) - 1) > 1e-9 or min(self.pyramid_shares) <= 0:
            raise ConfigError(
                f"pyramid_shares={tuple(self.pyramid_shares)} should be positive and add "
                "up to 1, e.g. (0.01, 0.04, 0.15, 0.8)."
            )
        a_cut, b_cut = self.abc_cutoffs
        if not 0 < a_cut < b_cut <= 1:
            raise ConfigError(
                f"abc_cutoffs={tuple(self.abc_cutoffs)} should rise within (0, 1], "
                "e.g. (0.8, 0.95)."
            )
        if not self.at_risk_days < self.dormant_days < self.churned_days:
            raise ConfigError(
                f"at_risk_days={self.at_risk_days}, dormant_days={self.dormant_days} and "
                f"churned_days={self.churned_days} should rise in that order."
            )
        if not self.at_risk_gaps < self.dormant_gaps < self.churned_gaps:
            raise ConfigError(
                f"at_risk_gaps={self.at_risk_gaps}, dormant_gaps={self.dormant_gaps} and "
                f"churned_gaps={self.churned_gaps} should rise in that order."
            )


def segment_rules(**overrides: Any) -> SegmentRules:
    """Build :class:`SegmentRules` from keyword overrides, naming unknown ones.

    Parameters
    ----------
    **overrides
        Field values, e.g. from a notebook's ``segment_rules`` parameter (lists are
        turned into tuples).

    Returns
    -------
    SegmentRules

    Raises
    ------
    ConfigError
        If a name is not a field.
    """
    known = {f.name for f in fields(SegmentRules)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown segment rule(s) {unknown}; known: {sorted(known)}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return SegmentRules(**values)


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
    """Gold / silver / regular membership by frequency, order value and repurchase rate.

    Gold needs ``gold_min_orders`` orders, an order value at least the
    ``gold_min_aov_quantile`` of repeat buyers and a ``repurchase_rate`` of at least
    ``gold_min_repurchase_rate``; silver the smaller thresholds. Buying again at all
    is required for both.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table with ``orders``, ``avg_order_value`` and (optional, else not
        used) ``repurchase_rate``.
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
    rate = features.get("repurchase_rate", pd.Series(1.0, index=features.index))
    repeat_aov = aov[orders >= 2]
    if repeat_aov.empty:
        return pd.Series("Regular", index=features.index)
    gold = (
        (orders >= max(2, rules.gold_min_orders))
        & (aov >= repeat_aov.quantile(rules.gold_min_aov_quantile))
        & (rate >= rules.gold_min_repurchase_rate)
    )
    silver = (
        (orders >= max(2, rules.silver_min_orders))
        & (aov >= repeat_aov.quantile(rules.silver_min_aov_quantile))
        & (rate >= rules.silver_min_repurchase_rate)
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


#: The value x growth quadrants, best first.
QUADRANTS: tuple[str, ...] = (
    "High value, growing",
    "High value, declining",
    "Low value, growing",
    "Low value, declining",
)

#: Every rule-segment column :func:`rule_segments` adds, with its levels in order
#: (None: numbers).
SEGMENT_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "rfm_segment": RFM_SEGMENT_ORDER,
    "value_tier": SegmentRules().pyramid_names,
    "abc_class": ("A", "B", "C"),
    "membership": ("Gold", "Silver", "Regular"),
    "lifecycle_stage": ("New", "Active", "At risk", "Dormant", "Churned"),
    "value_growth_quadrant": QUADRANTS,
}


def value_growth_quadrant(features: pd.DataFrame) -> pd.DataFrame:
    """Cross current value with growth between the last two windows (four quadrants).

    Value is ``recent_revenue`` (the last ``window_days`` before the analysis date);
    growth is that minus ``previous_revenue`` (the window before). "High" value means
    at or above the median of customers active in either window, and above zero.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table with ``recent_revenue`` and ``previous_revenue``.

    Returns
    -------
    pandas.DataFrame
        ``revenue_growth`` and ``value_growth_quadrant``, same index.
    """
    recent, previous = features["recent_revenue"], features["previous_revenue"]
    growth = recent - previous
    active = (recent != 0) | (previous != 0)
    median = recent[active].median() if active.any() else 0.0
    high = (recent >= median) & (recent > 0)
    growing = growth > 0
    quadrant = np.select(
        [high & growing, high & ~growing, ~high & growing], QUADRANTS[:3], default=QUADRANTS[3]
    )
    return pd.DataFrame(
        {"revenue_growth": growth, "value_growth_quadrant": quadrant}, index=features.index
    )


def rule_segments(features: pd.DataFrame, *, rules: SegmentRules | None = None) -> pd.DataFrame:
    """Add every rule segmentation to the customer table; every customer gets each one.

    Parameters
    ----------
    features : pandas.DataFrame
        Output of :func:`seglab.features.customer_features` or
        :func:`seglab.engine.customer_aggregates`.
    rules : SegmentRules, optional
        Thresholds.

    Returns
    -------
    pandas.DataFrame
        A copy of ``features`` with ``r_score`` ... ``rfm_segment``, ``value_tier``
        (pyramid), ``abc_class``, ``membership``, ``lifecycle_stage``,
        ``revenue_growth`` and ``value_growth_quadrant``.

    Raises
    ------
    ConfigError
        If ``rules.tier_value`` is not a numeric column of the table.
    """
    rules = rules or SegmentRules()
    value_col = rules.tier_value
    if value_col not in features or not pd.api.types.is_numeric_dtype(features[value_col]):
        raise ConfigError(
            f"tier_value={value_col!r} is not a numeric column of the customer table; use "
            "'revenue' (or 'profit' once the profit stage has run)."
        )
    out = features.drop(columns=[c for c in (*SEGMENT_COLUMNS, "r_score", "f_score",
                                             "m_score", "rfm_score", "revenue_growth")
                                 if c in features])
    out = out.join(rfm_segments(out, rules=rules))
    out["value_tier"] = pyramid_tier(out[value_col], rules=rules)
    out["abc_class"] = abc_class(out[value_col], rules=rules)
    out["membership"] = membership_grade(out, rules=rules)
    out["lifecycle_stage"] = lifecycle_stage(out, rules=rules)
    return out.join(value_growth_quadrant(out))


def segment_summary(
    customers: pd.DataFrame, segment_col: str, *, order: tuple[str, ...] | list | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """Size, revenue share and typical behaviour of each segment of one segmentation.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``segment_col``, ``revenue``, ``orders`` and
        ``days_since_last_order``.
    segment_col : str
        Segmentation to summarise.
    order : sequence, optional
        Segment order; default :data:`SEGMENT_COLUMNS` for known columns, else by
        revenue.
    lang : {"en", "zh"}
        Language of the segment names shown (:func:`segment_label`).

    Returns
    -------
    pandas.DataFrame
        One row per segment present: ``segment``, ``customers``, ``customer_share``,
        ``revenue``, ``revenue_share``, ``revenue_per_customer``, ``median_orders``,
        ``median_days_since_last_order``.
    """
    if segment_col not in customers:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of the customer table.")
    grouped = customers.groupby(segment_col, sort=False)
    table = pd.DataFrame({
        "customers": grouped.size(),
        "revenue": grouped["revenue"].sum(),
        "median_orders": grouped["orders"].median(),
        "median_days_since_last_order": grouped["days_since_last_order"].median(),
    })
    table.insert(1, "customer_share", table["customers"] / len(customers))
    total = customers["revenue"].sum()
    table.insert(3, "revenue_share", table["revenue"] / total if total else np.nan)
    table.insert(4, "revenue_per_customer", table["revenue"] / table["customers"])
    if order is None:
        order = SEGMENT_COLUMNS.get(segment_col) or list(
            table.sort_values("revenue", ascending=False).index
        )
    if segment_col == "value_tier" and not set(table.index) <= set(order):
        order = list(table.sort_values("revenue", ascending=False).index)
    table = table.reindex([s for s in order if s in table.index])
    table = table.rename_axis("segment").reset_index()
    if lang != "en":
        table["segment"] = table["segment"].map(lambda name: segment_label(name, lang))
    return table


def segment_coverage(customers: pd.DataFrame) -> pd.DataFrame:
    """Check that every customer got every rule segment.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table after :func:`rule_segments`.

    Returns
    -------
    pandas.DataFrame
        One row per rule-segment column: ``segmentation``, ``segments`` (levels
        used), ``customers`` and ``without_segment`` (0 when complete).
    """
    rows = [
        (column, customers[column].nunique(), len(customers),
         int(customers[column].isna().sum()))
        for column in SEGMENT_COLUMNS if column in customers
    ]
    return pd.DataFrame(rows, columns=["segmentation", "segments", "customers",
                                       "without_segment"])


def describe_rules(rules: SegmentRules | None = None, *, lang: str = "en") -> pd.DataFrame:
    """Return the thresholds in use as a table (rule, value), for the report.

    Parameters
    ----------
    rules : SegmentRules, optional
        Thresholds; default the defaults.
    lang : {"en", "zh"}
        Language of the names among the values (the pyramid's levels).

    Returns
    -------
    pandas.DataFrame
        One row per field of :class:`SegmentRules`.
    """
    rules = rules or SegmentRules()

    def show(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        if isinstance(value, tuple):
            return ", ".join(show(v) for v in value)
        return str(segment_label(value, lang))

    return pd.DataFrame(
        [(f.name, show(getattr(rules, f.name))) for f in fields(SegmentRules)],
        columns=["rule", "value"],
    )
