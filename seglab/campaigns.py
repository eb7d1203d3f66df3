"""Campaigns: audiences with a control group out to the CRM, results back in, read out per segment.

Two halves, each pure functions on DataFrames:

- **Audiences out.** :func:`contactable` keeps the customers who may be contacted,
  :func:`assign_groups` draws a control group within each segment (stratified, in blocks
  of customers of similar pre-period spend, so both groups spend alike), and
  :func:`group_balance` shows that they do. The audiences that exist over time and by
  reach: :func:`segment_moves` lists who entered or left a segment since the previous
  run, :func:`near_next_tier` who is close to the next membership tier, and
  :func:`growth_accessibility` puts every customer in a growth x accessibility quadrant.
- **Results in.** :func:`normalise_groups` and :func:`check_exposures` read the
  canonical exposures table (one row per customer contacted or held out per campaign),
  :func:`campaign_outcomes` measures each exposed customer's conversion, orders,
  revenue and profit in a window after ``sent_at`` and the same window before it, and
  :func:`readout` compares treatment with control per campaign and segment: a
  sample-ratio-mismatch test, CUPED-adjusted effects with 95% intervals, Holm-adjusted
  p-values, a heterogeneity test across segments, the minimum detectable effect and the
  incremental money after the campaign's cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from seglab import i18n, profit
from seglab.analysis_date import day_end
from seglab.errors import InputError

#: Share of each segment held out as the control group.
CONTROL_SHARE = 0.10
#: Customers of similar spend among whom the control customers are drawn (per segment).
BLOCK_SIZE = 20
#: Days after ``sent_at`` whose purchases count as the campaign's outcome.
CAMPAIGN_WINDOW_DAYS = 30
#: A sample-ratio-mismatch p-value below this flags the campaign's split as broken.
SRM_ALPHA = 0.001
#: Outcome metrics of a campaign, per customer.
METRICS: tuple[str, ...] = ("conversion", "orders", "revenue", "profit")
#: Group labels read as treatment or control (lower case; the canonical two need no note).
GROUP_LABELS: dict[str, str] = {
    "treatment": "treatment", "control": "control",
    "test": "treatment", "holdout": "control", "hold-out": "control", "hold out": "control",
    "treated": "treatment", "target": "treatment", "exposed": "treatment",
    "1": "treatment", "0": "control", "1.0": "treatment", "0.0": "control",
    "true": "treatment", "false": "control", "t": "treatment", "c": "control",
}

# --- audiences out ---------------------------------------------------------------------


def action_code(strategy: str) -> str:
    """Return a short code for a strategy, for the CRM (``"Win back"`` → ``"WIN_BACK"``).

    Parameters
    ----------
    strategy : str
        Strategy label from the persona cards.

    Returns
    -------
    str
        Upper-case letters, digits and underscores; ``"NONE"`` for an empty label.
    """
    code = re.sub(r"[^0-9A-Za-z]+", "_", str(strategy)).strip("_").upper()
    return code or "NONE"


def contactable(customers: pd.DataFrame, attributes: pd.DataFrame | None, *,
                consent_col: str = "contact_consent") -> tuple[pd.DataFrame, int]:
    """Keep the customers who may be contacted.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with ``customer_id``.
    attributes : pandas.DataFrame or None
        The customer attribute file; where it has ``consent_col``, customers whose
        consent is false or missing are not contactable. Customers absent from it are
        not contactable either (nobody recorded their consent).
    consent_col : str
        Consent column.

    Returns
    -------
    (pandas.DataFrame, int)
        The contactable customers (same columns) and how many were left out.
    """
    if attributes is None or consent_col not in attributes:
        return customers.copy(), 0
    consent = attributes.set_index("customer_id")[consent_col]
    ok = customers["customer_id"].map(consent).fillna(False).astype(bool).to_numpy()
    return customers.loc[ok].copy(), int((~ok).sum())


def assign_groups(customers: pd.DataFrame, *, segment_col: str = "segment",
                  spend_col: str = "spend", control_share: float = CONTROL_SHARE,
                  seed: int = 0, block_size: int = BLOCK_SIZE) -> pd.DataFrame:
    """Draw a control group within each segment, balanced on pre-period spend.

    Within a segment, customers are sorted by spend (ties by id) and cut into blocks
    of ``block_size``; in each block ``control_share x size`` customers are drawn as
    control (the fraction rounded up or down at random, so every segment's expected
    share is exactly ``control_share``). Customers of similar spend thus land in both
    groups, and the draw depends only on the customers, their spend and ``seed``.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with ``customer_id``, ``segment_col`` and ``spend_col``.
    segment_col, spend_col : str
        Stratum and balancing variable.
    control_share : float
        Share held out, strictly between 0 and 1.
    seed : int
        Seed of the draw.
    block_size : int
        Customers per block (at least 2).

    Returns
    -------
    pandas.DataFrame
        The customers sorted by segment and id, with ``group`` (``treatment`` or
        ``control``).

    Raises
    ------
    ValueError
        If ``control_share`` is not in (0, 1) or ``block_size`` below 2.
    """
    if not 0 < control_share < 1:
        raise ValueError(f"control_share={control_share} should be between 0 and 1.")
    if block_size < 2:
        raise ValueError(f"block_size={block_size} should be >= 2.")
    rng = np.random.default_rng(seed)
    table = customers.sort_values([segment_col, spend_col, "customer_id"], kind="mergesort")
    control = np.zeros(len(table), dtype=bool)
    labels = table[segment_col].astype(str).to_numpy()
    start = 0
    for _, size in pd.Series(labels).groupby(labels, sort=False).size().items():
        for first in range(start, start + size, block_size):
            n = min(block_size, start + size - first)
            expected = control_share * n
            k = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
            chosen = rng.choice(n, size=k, replace=False)
            control[first + chosen] = True
        start += size
    out = table.assign(group=np.where(control, "control", "treatment"))
    return out.sort_values([segment_col, "customer_id"], kind="mergesort").reset_index(drop=True)


def group_balance(audience: pd.DataFrame, *, segment_col: str = "segment",
                  spend_col: str = "spend") -> pd.DataFrame:
    """Count customers and mean spend per group, per segment.

    Parameters
    ----------
    audience : pandas.DataFrame
        Output of :func:`assign_groups`.
    segment_col, spend_col : str
        Stratum and balancing variable.

    Returns
    -------
    pandas.DataFrame
        One row per segment: ``customers``, ``treatment``, ``control``,
        ``control_share``, ``mean_spend_treatment``, ``mean_spend_control`` and
        ``std_difference`` (difference in means over the pooled standard deviation;
        below 0.1 is the usual bar for balance).
    """
    rows = []
    for segment, part in audience.groupby(segment_col, sort=True):
        spend = part[spend_col].astype(float)
        treat, ctrl = spend[part["group"] == "treatment"], spend[part["group"] == "control"]
        sd = float(np.sqrt((treat.var(ddof=1) + ctrl.var(ddof=1)) / 2)) if (
            len(treat) > 1 and len(ctrl) > 1) else np.nan
        rows.append({
            "segment": segment, "customers": len(part), "treatment": len(treat),
            "control": len(ctrl), "control_share": len(ctrl) / len(part),
            "mean_spend_treatment": treat.mean(), "mean_spend_control": ctrl.mean(),
            "std_difference": (treat.mean() - ctrl.mean()) / sd if sd and sd > 0 else np.nan,
        })
    return pd.DataFrame(rows)


def near_next_tier(customers: pd.DataFrame, *, tier_col: str = "membership",
                   orders_col: str = "orders", spend_col: str = "avg_order_value",
                   max_orders_gap: int = 1) -> pd.DataFrame:
    """List customers one step from the next membership tier, and the gap to close.

    A Silver customer who lacks orders for Gold, or a Regular customer who lacks orders
    for Silver, is listed when the orders gap is at most ``max_orders_gap``. The order
    thresholds and order-value bar are those of :class:`seglab.segments.SegmentRules`
    (the order-value bar is a quantile among repeat buyers, recomputed here).

    Parameters
    ----------
    customers : pandas.DataFrame
        The customer table with ``tier_col``, ``orders_col`` and ``spend_col``.
    tier_col, orders_col, spend_col : str
        Membership grade, orders and average order value.
    max_orders_gap : int
        Largest orders gap listed.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``membership``, ``next_tier``, ``orders_gap`` and
        ``order_value_gap`` (money short of the next tier's order-value bar; 0 when
        it is met), sorted by id. Empty when the table lacks the columns.
    """
    from seglab.segments import SegmentRules

    needed = {tier_col, orders_col, spend_col, "customer_id"}
    columns = ["customer_id", "membership", "next_tier", "orders_gap", "order_value_gap"]
    if not needed <= set(customers.columns):
        return pd.DataFrame(columns=columns)
    rules = SegmentRules()
    repeat = customers.loc[customers[orders_col] >= 2, spend_col].astype(float)
    steps = {"Silver": ("Gold", max(2, rules.gold_min_orders), rules.gold_min_aov_quantile),
             "Regular": ("Silver", max(2, rules.silver_min_orders),
                         rules.silver_min_aov_quantile)}
    parts = []
    for tier, (target, orders, quantile) in steps.items():
        bar = float(repeat.quantile(quantile)) if len(repeat) else np.nan
        part = customers[customers[tier_col].astype(str) == tier]
        gap = orders - part[orders_col].astype(float)
        keep = (gap > 0) & (gap <= max_orders_gap) & (part[orders_col] >= 1)
        part = part[keep]
        parts.append(pd.DataFrame({
            "customer_id": part["customer_id"].to_numpy(), "membership": tier,
            "next_tier": target, "orders_gap": gap[keep].astype(int).to_numpy(),
            "order_value_gap": (bar - part[spend_col].astype(float)).clip(lower=0).round(2)
            .to_numpy()}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return out.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


# --- audiences over time, and by reach ----------------------------------------------------

#: How a customer's segment changed between two runs, in the order the report shows them.
MOVES: tuple[str, ...] = ("moved up", "moved down", "moved across", "new customer",
                          "no longer in the log")

#: What to do for each move; ``{strategy}`` is the strategy of the segment the customer is
#: in now. Edit to change the playbook.
MOVE_ACTIONS: dict[str, str] = {
    "moved up": "Now in a more valuable segment: recognise it, then its strategy ({strategy})",
    "moved down": "Now in a less valuable segment: ask what changed before it sticks (a "
                  "personal check-in), then its strategy ({strategy})",
    "moved across": "Switch them to the new segment's strategy ({strategy})",
    "new customer": "Onboard them with their segment's strategy ({strategy})",
    "no longer in the log": "None from this run: check whether the log still covers them",
}


def segment_moves(previous: pd.DataFrame, current: pd.DataFrame, *,
                  segment_col: str = "persona", value_col: str = "revenue",
                  strategy_col: str = "strategy") -> pd.DataFrame:
    """List the customers whose segment differs between two runs, with what to do.

    Segments are compared by ``segment_col``, a name that means the same in both runs:
    the persona name (cluster numbers are not comparable between two clusterings).
    A customer in both tables whose segment name differs moved *up* or *down* when
    the new segment's value index (its mean ``value_col`` over the mean of all
    customers of its run) is higher or lower than the old one's, *across* when equal
    or when a table lacks ``value_col``. A customer only in ``current`` is a new
    customer; only in ``previous``, no longer in the log. Customers who stayed are not
    listed.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        One row per customer, each with ``customer_id`` and ``segment_col`` (and
        ``value_col``; ``current`` optionally ``strategy_col``).
    segment_col : str
        The segment name compared.
    value_col : str
        Value per customer behind "up" and "down".
    strategy_col : str
        Strategy of the customer's segment now, for the action.

    Returns
    -------
    pandas.DataFrame
        One row per customer who moved, joined or left: ``customer_id``,
        ``previous_<segment_col>``, ``<segment_col>`` (empty for a customer no longer in
        the log or new), ``move`` (one of :data:`MOVES`), ``strategy``, ``action_code``
        and ``action`` (:data:`MOVE_ACTIONS`), sorted by move and id.
    """
    def side(table: pd.DataFrame) -> pd.DataFrame:
        part = table[["customer_id", segment_col]].copy()
        part[segment_col] = part[segment_col].astype("string")
        if value_col in table:
            values = table[value_col].astype(float)
            mean = values.mean()
            index = values.groupby(part[segment_col]).transform("mean") / mean if mean else (
                pd.Series(np.nan, index=table.index))
            part["_index"] = index.to_numpy()
        else:
            part["_index"] = np.nan
        return part

    before = f"previous_{segment_col}"
    merged = side(previous).merge(side(current), on="customer_id", how="outer",
                                  suffixes=("_before", ""), indicator=True)
    merged = merged.rename(columns={f"{segment_col}_before": before})
    moved = (merged["_merge"] == "both") & (merged[before] != merged[segment_col])
    keep = moved | (merged["_merge"] != "both")
    merged = merged[keep.to_numpy()].copy()
    change = (merged["_index"] - merged["_index_before"]).to_numpy()
    merged["move"] = np.select(
        [merged["_merge"].eq("right_only").to_numpy(), merged["_merge"].eq("left_only").to_numpy(),
         change > 0, change < 0],
        ["new customer", "no longer in the log", "moved up", "moved down"], "moved across")
    strategy = (current.set_index("customer_id")[strategy_col].astype("string")
                if strategy_col in current else pd.Series(dtype="string"))
    merged["strategy"] = merged["customer_id"].map(strategy).fillna("").astype(str)
    merged["action_code"] = np.where(merged["move"] == "no longer in the log", "NONE",
                                     merged["strategy"].map(action_code))
    merged["action"] = [MOVE_ACTIONS[move].format(strategy=s or "none named")
                        for move, s in zip(merged["move"], merged["strategy"], strict=True)]
    order = {move: i for i, move in enumerate(MOVES)}
    out = merged.assign(_order=merged["move"].map(order)).sort_values(
        ["_order", "customer_id"], kind="mergesort")
    out = out[["customer_id", before, segment_col, "move", "strategy", "action_code", "action"]]
    for column in out.columns[1:]:
        out[column] = out[column].fillna("").astype(str)
    return out.reset_index(drop=True)


def move_summary(moves: pd.DataFrame, current: pd.DataFrame, *,
                 segment_col: str = "persona") -> pd.DataFrame:
    """Count per segment who stayed, entered and left since the previous run.

    Parameters
    ----------
    moves : pandas.DataFrame
        Output of :func:`segment_moves`.
    current : pandas.DataFrame
        This run's customers with ``segment_col``.
    segment_col : str
        The segment name compared.

    Returns
    -------
    pandas.DataFrame
        One row per segment of either run: ``segment`` (the name), ``previous``
        (customers then), ``stayed``, ``entered`` (moved in or new), ``left`` (moved
        out or no longer in the log), ``now`` (customers now) and ``net``; sorted by
        customers now, largest first.
    """
    before = f"previous_{segment_col}"
    now = current[segment_col].astype(str).value_counts()
    entered = moves.loc[moves[segment_col] != "", segment_col].value_counts()
    left = moves.loc[moves[before] != "", before].value_counts()
    names = sorted(set(now.index) | set(left.index))
    table = pd.DataFrame(index=pd.Index(names, name="segment"))
    table["now"] = now.reindex(names).fillna(0).astype(int)
    table["entered"] = entered.reindex(names).fillna(0).astype(int)
    table["left"] = left.reindex(names).fillna(0).astype(int)
    table["stayed"] = table["now"] - table["entered"]
    table["previous"] = table["stayed"] + table["left"]
    table["net"] = table["now"] - table["previous"]
    table = table[["previous", "stayed", "entered", "left", "now", "net"]]
    return table.sort_values(["now", "previous"], ascending=False, kind="mergesort").reset_index()


def move_counts(moves: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Count customers per kind of move, and how many of them may be contacted.

    Parameters
    ----------
    moves : pandas.DataFrame
        Output of :func:`segment_moves` with ``group`` (treatment/control for
        customers in the audiences, empty otherwise).
    lang : {"en", "zh"}
        Language of the move names.

    Returns
    -------
    pandas.DataFrame
        One row per move of :data:`MOVES`: ``move``, ``customers``, ``contactable``.
    """
    kind = moves["move"].astype(str)
    reachable = moves["group"].isin(["treatment", "control"]) if "group" in moves else False
    return pd.DataFrame([{"move": i18n.text(move, lang), "customers": int((kind == move).sum()),
                          "contactable": int(((kind == move) & reachable).sum())}
                         for move in MOVES])


def display_moves(moves: pd.DataFrame, *, segment_col: str = "persona",
                  lang: str = "en") -> pd.DataFrame:
    """Return the moves with names, strategies and actions in ``lang``, for display.

    Parameters
    ----------
    moves : pandas.DataFrame
        Output of :func:`segment_moves` (the file keeps English values).
    segment_col : str
        The segment name compared.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        A copy; the same values in English.
    """
    if lang == "en" or moves.empty:
        return moves.copy()
    from seglab.persona import persona_label

    out = moves.copy()
    out["action"] = [i18n.text(MOVE_ACTIONS[move], lang,
                               strategy=i18n.text(s, lang) if s else i18n.text("none named",
                                                                               lang))
                     for move, s in zip(out["move"], out["strategy"], strict=True)]
    for column in (f"previous_{segment_col}", segment_col):
        out[column] = out[column].map(lambda name: persona_label(name, lang) if name else name)
    out["strategy"] = out["strategy"].map(lambda s: i18n.text(s, lang) if s else s)
    out["move"] = out["move"].map(lambda m: i18n.text(m, lang))
    return out


def display_audience(audience: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Return audience rows with persona, strategy, action and group in ``lang``, for display.

    Parameters
    ----------
    audience : pandas.DataFrame
        Rows of ``audiences.csv`` or their summary (the file keeps English values);
        the columns present of ``persona``, ``strategy``, ``action`` and ``group``
        are translated.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        A copy; the same values in English.
    """
    if lang == "en" or audience.empty:
        return audience.copy()
    from seglab.persona import persona_label

    out = audience.copy()
    if "persona" in out:
        out["persona"] = out["persona"].map(
            lambda name: persona_label(name, lang) if isinstance(name, str) and name else name)
    for column in ("strategy", "action", "group"):
        if column in out:
            out[column] = out[column].map(
                lambda v: i18n.text(v, lang) if isinstance(v, str) and v else v)
    return out


def display_readout(table: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Return a readout table with its metric names and "all" in ``lang``, for display.

    Parameters
    ----------
    table : pandas.DataFrame
        ``effects``, ``srm`` or ``heterogeneity`` of a :class:`Readout` (the file
        ``campaign_readout.csv`` keeps English values).
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        A copy; the same values in English.
    """
    if lang == "en" or table.empty:
        return table.copy()
    out = table.copy()
    if "metric" in out:
        out["metric"] = out["metric"].map(lambda m: i18n.text(m, lang) if m in METRICS else m)
    if "segment" in out:
        out["segment"] = out["segment"].map(lambda s: i18n.text("all", lang) if s == "all"
                                            else s)
    return out


#: The growth x accessibility quadrants (四象限矩阵), best first, with what to do.
GROWTH_ACCESS_QUADRANTS: dict[str, str] = {
    "Growing, easy to reach": "Invest: contact them now with offers that grow them further "
                              "(cross-sell, member perks)",
    "Growing, hard to reach": "Open a channel: ask for contact consent at their next purchase "
                              "and invite them to the app or membership",
    "Not growing, easy to reach": "Re-engage at low cost: reminders and time-limited offers "
                                  "through the channels they use",
    "Not growing, hard to reach": "Spend little: mass channels only, no paid one-to-one "
                                  "contact",
}
#: The two levels of each axis of the growth x accessibility matrix.
GROWTH_LEVELS: tuple[str, str] = ("Growing", "Not growing")
REACH_LEVELS: tuple[str, str] = ("easy to reach", "hard to reach")
#: The signals accessibility is built from, where the data has them.
ACCESS_SIGNALS: tuple[str, ...] = ("channels reached", "recent engagement", "contact consent")
#: Days since the last order at which recent engagement scores 0.5 (0 at twice as many).
ENGAGEMENT_DAYS = 90
#: Accessibility above this is "easy to reach".
ACCESSIBLE_SCORE = 0.5


@dataclass
class GrowthAccess:
    """Each customer's growth x accessibility quadrant, and what the score was made of."""

    customers: pd.DataFrame
    used: list[str]
    missing: list[str]

    def matrix(self, lang: str = "en") -> pd.DataFrame:
        """Count customers per quadrant in a 2 x 2 table: growth by row, reach by column.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language of the row and column labels.
        """
        if self.customers.empty:
            return pd.DataFrame()
        growth = np.where(self.customers["growing"], *GROWTH_LEVELS)
        reach = np.where(self.customers["easy_to_reach"], *REACH_LEVELS)
        table = pd.crosstab(pd.Series(growth, name="growth"), pd.Series(reach, name="reach"))
        table = table.reindex(index=list(GROWTH_LEVELS), columns=list(REACH_LEVELS),
                              fill_value=0)
        return table.rename(index=lambda v: i18n.text(v, lang),
                            columns=lambda v: i18n.text(v, lang)).rename_axis(
            index=i18n.column_label("growth", lang), columns=i18n.column_label("reach", lang))

    def summary(self, lang: str = "en") -> pd.DataFrame:
        """Sum up each quadrant: customers, share, contactable, mean accessibility, action.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language of the quadrant names and actions.
        """
        if self.customers.empty:
            return pd.DataFrame()
        frame = self.customers
        rows = []
        for name, action in GROWTH_ACCESS_QUADRANTS.items():
            part = frame[frame["quadrant"] == name]
            rows.append({"quadrant": i18n.text(name, lang), "customers": len(part),
                         "share": len(part) / len(frame),
                         "contactable": int(part["contactable"].sum()),
                         "mean_accessibility": part["accessibility"].mean(),
                         "mean_revenue_growth": part["revenue_growth"].mean(),
                         "what_to_do": i18n.text(action, lang)})
        return pd.DataFrame(rows)


def growth_accessibility(customers: pd.DataFrame, *, consent: pd.Series | None = None,
                         growth_col: str = "revenue_growth",
                         recency_col: str = "days_since_last_order",
                         channel_prefix: str = "channel_share_",
                         engagement_days: int = ENGAGEMENT_DAYS,
                         threshold: float = ACCESSIBLE_SCORE) -> GrowthAccess:
    """Cross growth with accessibility (可及性): four quadrants, each an audience list.

    Growth is ``growth_col`` above zero: revenue in the last window over the window
    before, as in :func:`seglab.segments.value_growth_quadrant`. Accessibility is a score
    from 0 to 1 built from what the data has:

    - **channels reached**: the channels the customer bought through (a positive
      ``<channel_prefix><channel>`` share) over the channels in the data; left out when
      the table has fewer than two channel columns;
    - **recent engagement**: 1 for an order today, falling in a straight line to 0.5
      at ``engagement_days`` since the last order and 0 at twice that; left out
      without ``recency_col``;
    - **contact consent**: the mean of the two above is multiplied by it (no consent,
      or none recorded, gives 0: the business may not contact them); left out when
      ``consent`` is None.

    A customer is easy to reach when the score is above ``threshold``: with consent
    and three channels in the data, after an order in the last 60 days through one
    channel, 120 days through two, or 180 days through all three.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with ``customer_id``, ``growth_col`` and what it has of
        ``recency_col`` and the channel shares.
    consent : pandas.Series of bool, optional
        Whether each customer may be contacted, aligned with ``customers``; None when
        the data records no consent.
    growth_col, recency_col : str
        Revenue growth and days since the last order.
    channel_prefix : str
        Prefix of the channel share columns.
    engagement_days : int
        Days since the last order at which engagement scores 0.5.
    threshold : float
        Accessibility above which a customer is easy to reach.

    Returns
    -------
    GrowthAccess
        ``customers``: ``customer_id``, ``quadrant`` (a key of
        :data:`GROWTH_ACCESS_QUADRANTS`), ``action``, ``revenue_growth``, ``growing``,
        ``contactable``, ``channels``, ``days_since_last_order``, ``accessibility``
        and ``easy_to_reach``, same order as the input (empty when ``growth_col`` is
        missing or no accessibility signal is); ``used`` and ``missing`` name the
        signals.

    Raises
    ------
    ValueError
        If ``engagement_days`` is below 1 or ``threshold`` outside [0, 1).
    """
    if engagement_days < 1:
        raise ValueError(f"engagement_days={engagement_days} should be >= 1.")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold={threshold} should be in [0, 1).")
    used, missing, parts = [], [], []
    shares = customers[[c for c in customers if c.startswith(channel_prefix)]]
    channels = (shares > 0).sum(axis=1) if shares.shape[1] else pd.Series(np.nan,
                                                                          index=customers.index)
    reached, recent, consented = ACCESS_SIGNALS
    if shares.shape[1] >= 2:
        used.append(reached)
        parts.append(channels / shares.shape[1])
    else:
        missing.append(reached)
    recency = (customers[recency_col].astype(float) if recency_col in customers
               else pd.Series(np.nan, index=customers.index))
    if recency_col in customers:
        used.append(recent)
        parts.append((1 - recency / (2 * engagement_days)).clip(0, 1).fillna(0.0))
    else:
        missing.append(recent)
    if consent is not None:
        used.append(consented)
        contactable = pd.Series(np.asarray(consent, dtype=bool), index=customers.index)
    else:
        missing.append(consented)
        contactable = pd.Series(True, index=customers.index)
    if growth_col not in customers or not parts:
        return GrowthAccess(customers=pd.DataFrame(), used=used, missing=missing)
    score = pd.concat(parts, axis=1).mean(axis=1) * contactable.astype(float)
    growing = customers[growth_col].astype(float) > 0
    easy = score > threshold
    quadrant = np.select([growing & easy, growing & ~easy, ~growing & easy],
                         list(GROWTH_ACCESS_QUADRANTS)[:3], list(GROWTH_ACCESS_QUADRANTS)[3])
    out = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy(), "quadrant": quadrant,
        "action": pd.Series(quadrant).map(GROWTH_ACCESS_QUADRANTS).to_numpy(),
        "revenue_growth": customers[growth_col].astype(float).round(2).to_numpy(),
        "growing": growing.to_numpy(), "contactable": contactable.to_numpy(),
        "channels": channels.to_numpy(), "days_since_last_order": recency.to_numpy(),
        "accessibility": score.round(4).to_numpy(), "easy_to_reach": easy.to_numpy()})
    return GrowthAccess(customers=out, used=used, missing=missing)


# --- campaign results in -----------------------------------------------------------------


def normalise_groups(exposures: pd.DataFrame, *, source: str = "exposures",
                     column: str = "group", lang: str = "en") -> tuple[pd.DataFrame, str]:
    """Map group labels onto ``treatment`` / ``control``.

    Parameters
    ----------
    exposures : pandas.DataFrame
        Canonical exposures table.
    source : str
        File name for messages.
    column : str
        The source column's name, for messages.
    lang : {"en", "zh"}
        Language of the note.

    Returns
    -------
    (pandas.DataFrame, str)
        A copy with ``group`` mapped, and a note naming the labels read otherwise than
        as written ("" when all were ``treatment``/``control``).

    Raises
    ------
    InputError
        For a label that is neither (naming file, column and value).
    """
    raw = exposures["group"].astype("string").str.strip()
    mapped = raw.str.lower().map(GROUP_LABELS)
    bad = mapped.isna()
    if bad.any():
        value = raw[bad].iloc[0]
        raise InputError(
            f"{source}: column {column!r} has group {value!r}, neither treatment nor control; "
            "use treatment/control, test/holdout or 1/0.")
    out = exposures.assign(group=mapped.astype(str).to_numpy())
    read = sorted({(str(a), str(b)) for a, b in zip(raw, mapped, strict=True)
                   if str(a) not in ("treatment", "control")})
    note = ("" if not read else i18n.text(
        "Group labels read as: {labels}.", lang,
        labels=i18n.text(", ", lang).join(f"{a!r} → {i18n.text(b, lang)}" for a, b in read)))
    return out, note


def check_exposures(exposures: pd.DataFrame, *, known_customers: pd.Index | pd.Series,
                    as_of: pd.Timestamp, log_end: pd.Timestamp,
                    window_days: int = CAMPAIGN_WINDOW_DAYS, lang: str = "en"
                    ) -> tuple[pd.DataFrame, list[str]]:
    """Drop exposures that cannot be read out, saying why in one line each.

    Parameters
    ----------
    exposures : pandas.DataFrame
        Canonical exposures with groups already mapped (:func:`normalise_groups`).
    known_customers : pandas.Index or Series
        Customer ids of the study.
    as_of : pandas.Timestamp
        Analysis date (a day; lines on it are in).
    log_end : pandas.Timestamp
        Last purchase time of the clean log.
    window_days : int
        Outcome window.
    lang : {"en", "zh"}
        Language of the notes.

    Returns
    -------
    (pandas.DataFrame, list of str)
        The exposures kept and the notes: unknown customers dropped, exposures sent
        after the analysis date dropped, campaigns without a control (or treatment)
        group dropped, windows running past the end of the log (kept, named).
    """
    notes: list[str] = []
    out = exposures.copy()
    unknown = ~out["customer_id"].isin(pd.Index(known_customers))
    if unknown.any():
        examples = ", ".join(map(str, out.loc[unknown, "customer_id"].head(3)))
        notes.append(i18n.text("{n:,} exposures name customers the study does not know "
                               "(e.g. {examples}); left out.", lang, n=int(unknown.sum()),
                               examples=examples))
        out = out[~unknown]
    end = day_end(as_of)
    late = out["sent_at"] >= end
    if late.any():
        names = ", ".join(sorted(out.loc[late, "campaign"].astype(str).unique()))
        notes.append(i18n.text("{n:,} exposures were sent after the analysis date {date} "
                               "({names}); left out: their outcomes are not in the log yet.",
                               lang, n=int(late.sum()), date=pd.Timestamp(as_of).date(),
                               names=names))
        out = out[~late]
    for campaign, part in out.groupby("campaign", sort=True):
        groups = set(part["group"])
        if groups != {"treatment", "control"}:
            missing = ({"treatment", "control"} - groups).pop()
            notes.append(i18n.text("Campaign {campaign}: no {group} group, so no effect can "
                                   "be measured; left out.", lang, campaign=campaign,
                                   group=i18n.text(missing, lang)))
            out = out[out["campaign"] != campaign]
            continue
        last = part["sent_at"].max() + pd.Timedelta(days=window_days)
        if last > min(end, pd.Timestamp(log_end)):
            short = (min(end, pd.Timestamp(log_end)) - part["sent_at"].max()).days
            notes.append(i18n.text("Campaign {campaign}: its {window}-day window runs past the "
                                   "end of the log; the last sends are followed for {days} days "
                                   "only (treatment and control alike).", lang,
                                   campaign=campaign, window=window_days, days=max(short, 0)))
    repeated = out.duplicated(["campaign", "customer_id"])
    if repeated.any():
        notes.append(i18n.text("{n:,} customers appear twice in one campaign; the first row "
                               "counts.", lang, n=int(repeated.sum())))
        out = out[~repeated]
    return out.reset_index(drop=True), notes


def _window_figures(lines: pd.DataFrame, costs: profit.CostTable) -> pd.DataFrame:
    """Orders, revenue and profit per exposure key of lines already cut to a window."""
    if lines.empty:
        return pd.DataFrame(columns=["orders", "revenue", "profit"], dtype=float)
    sums = profit.customer_line_sums(lines, costs)
    cost = sums[["cost_of_goods", "rent", "handling", "shipping", "returns_handling"]]
    order_key = lines["order_id"] if "order_id" in lines else lines["order_date"].astype(str)
    per_order = lines.assign(order_key=order_key.to_numpy()).groupby(
        ["customer_id", "order_key"])["amount"].sum()
    orders = (per_order > 0).groupby(level=0).sum()
    return pd.DataFrame({"orders": orders.reindex(sums.index).fillna(0),
                         "revenue": sums["revenue"],
                         "profit": sums["revenue"] - cost.sum(axis=1)})


def campaign_outcomes(exposures: pd.DataFrame, transactions: pd.DataFrame, *,
                      window_days: int = CAMPAIGN_WINDOW_DAYS,
                      costs: profit.CostTable | None = None) -> pd.DataFrame:
    """Each exposed customer's outcomes after ``sent_at`` and the same window before it.

    Parameters
    ----------
    exposures : pandas.DataFrame
        One row per campaign and customer: ``customer_id``, ``campaign``, ``group``,
        ``sent_at`` (and optionally ``segment``, ``cost``).
    transactions : pandas.DataFrame
        The clean canonical transactions.
    window_days : int
        Days after (and, for the pre-period, before) ``sent_at``.
    costs : seglab.profit.CostTable, optional
        Cost of goods and cost-to-serve, as notebook 04 charges them (per line and order:
        cost of goods, store rent, handling, shipping, return handling).

    Returns
    -------
    pandas.DataFrame
        The exposures with ``conversion`` (1 if the customer bought in the window),
        ``orders``, ``revenue``, ``profit`` and the same four prefixed ``pre_``,
        sorted by campaign and customer.
    """
    costs = costs or profit.CostTable()
    exp = exposures.reset_index(drop=True).copy()
    exp["_key"] = np.arange(len(exp)).astype(str)
    lines = transactions.merge(exp[["customer_id", "sent_at", "_key"]], on="customer_id",
                               how="inner")
    offset = lines["order_date"] - lines["sent_at"]
    window = pd.Timedelta(days=window_days)
    out = exp.copy()
    for prefix, keep in (("", (offset >= pd.Timedelta(0)) & (offset < window)),
                         ("pre_", (offset < pd.Timedelta(0)) & (offset >= -window))):
        part = lines.loc[keep].drop(columns=["customer_id", "sent_at"]).rename(
            columns={"_key": "customer_id"})
        figures = _window_figures(part, costs).reindex(exp["_key"]).fillna(0.0)
        out[f"{prefix}conversion"] = (figures["orders"].to_numpy() > 0).astype(float)
        for name in ("orders", "revenue", "profit"):
            out[f"{prefix}{name}"] = figures[name].to_numpy().astype(float)
    out = out.drop(columns="_key")
    return out.sort_values(["campaign", "customer_id"], kind="mergesort").reset_index(drop=True)


# --- the readout ---------------------------------------------------------------------------


def srm_p_value(n_treatment: int, n_control: int, control_share: float) -> float:
    """Chi-square test of the observed split against the planned one.

    Parameters
    ----------
    n_treatment, n_control : int
        Customers per group.
    control_share : float
        Planned control share.

    Returns
    -------
    float
        p-value (1.0 when there is nobody).
    """
    n = n_treatment + n_control
    if n == 0:
        return 1.0
    expected = [n * (1 - control_share), n * control_share]
    return float(stats.chisquare([n_treatment, n_control], f_exp=expected).pvalue)


@dataclass(frozen=True)
class Effect:
    """A treatment effect per customer with its CUPED adjustment."""

    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    raw_effect: float
    raw_se: float
    theta: float
    variance_reduction: float
    sd: float


def cuped_effect(y: np.ndarray, x: np.ndarray | None, treated: np.ndarray, *,
                 level: float = 0.95) -> Effect:
    """Treatment mean minus control mean, CUPED-adjusted by a pre-period covariate.

    ``theta = cov(y, x) / var(x)`` over both groups; ``y - theta (x - mean x)`` has the
    same expected difference between groups and, when ``x`` predicts ``y``, a smaller
    variance (Deng et al., 2013). The interval is Welch's t on the adjusted values.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome per customer.
    x : numpy.ndarray or None
        Covariate per customer (the same metric in the pre-period); None for no
        adjustment.
    treated : numpy.ndarray of bool
        Group per customer.
    level : float
        Confidence level.

    Returns
    -------
    Effect
        Adjusted and raw effects, the interval, p-value, ``theta`` and the variance
        reduction (1 - adjusted variance / raw variance).
    """
    y = np.asarray(y, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    theta = 0.0
    if x is not None:
        x = np.asarray(x, dtype=float)
        var_x = x.var(ddof=1) if len(x) > 1 else 0.0
        if var_x > 0:
            theta = float(np.cov(y, x, ddof=1)[0, 1] / var_x)
    adjusted = y if theta == 0.0 else y - theta * (x - x.mean())

    def welch(values: np.ndarray) -> tuple[float, float, float]:
        a, b = values[treated], values[~treated]
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = float(np.sqrt(va + vb))
        df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1.0
        return float(a.mean() - b.mean()), se, float(df)

    raw, raw_se, _ = welch(y)
    effect, se, df = welch(adjusted)
    if se > 0:
        half = float(stats.t.ppf(0.5 + level / 2, df)) * se
        p = float(2 * stats.t.sf(abs(effect) / se, df))
    else:
        half, p = 0.0, 1.0 if effect == 0 else 0.0
    var_y = y.var(ddof=1)
    return Effect(effect=effect, se=se, ci_low=effect - half, ci_high=effect + half,
                  p_value=p, raw_effect=raw, raw_se=raw_se, theta=theta,
                  variance_reduction=float(1 - adjusted.var(ddof=1) / var_y) if var_y > 0
                  else 0.0, sd=float(adjusted.std(ddof=1)))


def minimum_detectable_effect(n_treatment: int, n_control: int, sd: float, *,
                              alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest effect per customer a two-sided test would detect with ``power``.

    Parameters
    ----------
    n_treatment, n_control : int
        Customers per group.
    sd : float
        Standard deviation of the (adjusted) metric per customer.
    alpha, power : float
        Test level and power.

    Returns
    -------
    float
        The effect in the metric's units (NaN for an empty group).
    """
    from statsmodels.stats.power import NormalIndPower

    if n_treatment < 2 or n_control < 2 or not np.isfinite(sd):
        return float("nan")
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n_treatment, alpha=alpha,
                                     power=power, ratio=n_control / n_treatment)
    return float(d) * sd


def cochran_q(effects: np.ndarray, ses: np.ndarray) -> tuple[float, float]:
    """Cochran's Q test that segment effects are equal (inverse-variance weights).

    Parameters
    ----------
    effects, ses : numpy.ndarray
        Effect and standard error per segment.

    Returns
    -------
    (float, float)
        Q and its chi-square p-value (k - 1 degrees of freedom); NaN for fewer than
        two segments with a positive standard error.
    """
    effects, ses = np.asarray(effects, dtype=float), np.asarray(ses, dtype=float)
    ok = np.isfinite(effects) & np.isfinite(ses) & (ses > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    w = 1 / ses[ok] ** 2
    pooled = (w * effects[ok]).sum() / w.sum()
    q = float((w * (effects[ok] - pooled) ** 2).sum())
    return q, float(stats.chi2.sf(q, ok.sum() - 1))


@dataclass
class Readout:
    """A campaign readout: per campaign x segment x metric, and per campaign."""

    effects: pd.DataFrame
    campaigns: pd.DataFrame
    srm: pd.DataFrame
    heterogeneity: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def readout(outcomes: pd.DataFrame, *, segment_col: str = "segment",
            control_share: float | Mapping[str, float] = CONTROL_SHARE,
            metrics: tuple[str, ...] = METRICS,
            alpha: float = 0.05, power: float = 0.8) -> Readout:
    """Compare treatment with control per campaign and segment.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Output of :func:`campaign_outcomes` with ``segment_col`` filled.
    segment_col : str
        Segment of each customer (at send time when the exposures gave it).
    control_share : float or Mapping
        Planned control share, for the sample-ratio-mismatch test: one for every
        campaign, or campaign → share (campaigns not named get :data:`CONTROL_SHARE`).
    metrics : tuple of str
        Metrics read out (each with a ``pre_`` column as CUPED covariate).
    alpha, power : float
        Test level (intervals are ``1 - alpha``) and the power of the MDE.

    Returns
    -------
    Readout
        ``effects``: one row per campaign x segment x metric with
        ``customers_treatment``, ``customers_control``, ``effect``, ``ci_low``,
        ``ci_high``, ``p_value``, ``p_adjusted`` (Holm across the campaign's
        segments), ``significant``, ``raw_effect``, ``variance_reduction``, ``mde``,
        ``incremental`` (effect x treated customers), ``cost`` and
        ``incremental_after_cost`` (profit only: incremental profit - cost of the
        treated contacts); ``campaigns``: one row per campaign; ``srm``: one row per
        campaign and segment (``segment`` "all" for the campaign); ``heterogeneity``:
        Cochran's Q per campaign and metric.
    """
    from statsmodels.stats.multitest import multipletests

    rows, srm_rows, het_rows, camp_rows = [], [], [], []
    for campaign, part in outcomes.groupby("campaign", sort=True):
        planned = (control_share.get(str(campaign), CONTROL_SHARE)
                   if isinstance(control_share, Mapping) else control_share)
        treated_all = part["group"].eq("treatment")
        n_t, n_c = int(treated_all.sum()), int((~treated_all).sum())
        p_all = srm_p_value(n_t, n_c, planned)
        srm_rows.append({"campaign": campaign, "segment": "all", "customers_treatment": n_t,
                         "customers_control": n_c, "control_share": n_c / max(n_t + n_c, 1),
                         "srm_p_value": p_all, "srm_flag": p_all < SRM_ALPHA})
        segs = []
        for segment, seg in part.groupby(segment_col, sort=True):
            treated = seg["group"].eq("treatment").to_numpy()
            st, sc = int(treated.sum()), int((~treated).sum())
            p_seg = srm_p_value(st, sc, planned)
            srm_rows.append({"campaign": campaign, "segment": segment,
                             "customers_treatment": st, "customers_control": sc,
                             "control_share": sc / max(st + sc, 1), "srm_p_value": p_seg,
                             "srm_flag": p_seg < SRM_ALPHA})
            cost = float(seg.loc[treated, "cost"].fillna(0).sum()) if "cost" in seg else 0.0
            for metric in metrics:
                base = {"campaign": campaign, "segment": segment, "metric": metric,
                        "customers_treatment": st, "customers_control": sc}
                if st < 2 or sc < 2:
                    rows.append({**base, "effect": np.nan})
                    continue
                pre = f"pre_{metric}"
                est = cuped_effect(seg[metric].to_numpy(), seg[pre].to_numpy()
                                   if pre in seg else None, treated, level=1 - alpha)
                incremental = est.effect * st
                rows.append({**base, "effect": est.effect, "ci_low": est.ci_low,
                             "ci_high": est.ci_high, "p_value": est.p_value,
                             "se": est.se, "raw_effect": est.raw_effect,
                             "variance_reduction": est.variance_reduction,
                             "mde": minimum_detectable_effect(st, sc, est.sd, alpha=alpha,
                                                              power=power),
                             "incremental": incremental,
                             "cost": cost if metric == "profit" else np.nan,
                             "incremental_after_cost": incremental - cost
                             if metric == "profit" else np.nan})
            segs.append(segment)
        camp_rows.append({"campaign": campaign, "first_sent": part["sent_at"].min(),
                          "last_sent": part["sent_at"].max(), "segments": len(segs),
                          "customers_treatment": n_t, "customers_control": n_c,
                          "control_share": n_c / max(n_t + n_c, 1),
                          "planned_control_share": planned, "srm_p_value": p_all,
                          "srm_flag": p_all < SRM_ALPHA,
                          "cost": float(part.loc[treated_all, "cost"].fillna(0).sum())
                          if "cost" in part else 0.0})
    effects = pd.DataFrame(rows)
    if effects.empty:
        effects = pd.DataFrame(columns=["campaign", "segment", "metric", "customers_treatment",
                                        "customers_control", "effect", "ci_low", "ci_high",
                                        "p_value", "p_adjusted"])
    else:
        effects["p_adjusted"] = np.nan
        for (campaign, metric), idx in effects.groupby(["campaign", "metric"]).groups.items():
            p = effects.loc[idx, "p_value"]
            ok = p.notna()
            if ok.any():
                effects.loc[p[ok].index, "p_adjusted"] = multipletests(
                    p[ok].to_numpy(), alpha=alpha, method="holm")[1]
            part = effects.loc[idx]
            q, q_p = cochran_q(part["effect"].to_numpy(), part.get(
                "se", pd.Series(np.nan, index=idx)).to_numpy())
            het_rows.append({"campaign": campaign, "metric": metric, "segments": len(part),
                             "q": q, "p_value": q_p,
                             "segments_differ": bool(q_p < alpha) if np.isfinite(q_p)
                             else False})
        effects["significant"] = effects["p_adjusted"] < alpha
    campaigns = pd.DataFrame(camp_rows)
    if not campaigns.empty and not effects.empty:
        totals = effects.pivot_table(index="campaign", columns="metric",
                                     values="incremental", aggfunc="sum")
        for metric in ("revenue", "profit"):
            campaigns[f"incremental_{metric}"] = campaigns["campaign"].map(
                totals[metric]) if metric in totals else np.nan
        if "incremental_profit" in campaigns:
            campaigns["profit_after_cost"] = campaigns["incremental_profit"] - campaigns["cost"]
    return Readout(effects=effects, campaigns=campaigns, srm=pd.DataFrame(srm_rows),
                   heterogeneity=pd.DataFrame(het_rows))


def _money(value: float) -> str:
    return f"{value:+,.1f}" if abs(value) < 100 else f"{value:+,.0f}"


def sentences(result: Readout, *, metric: str = "revenue",
              names: dict[str, str] | None = None, alpha: float = 0.05,
              lang: str = "en") -> list[str]:
    """One sentence per campaign and segment for a marketing reader.

    Parameters
    ----------
    result : Readout
        Output of :func:`readout`.
    metric : str
        Metric the sentence leads with (its profit after cost follows).
    names : dict, optional
        Segment label → persona name, shown instead of the label.
    alpha : float
        Level of "significant".
    lang : {"en", "zh"}
        The report's language (``names`` are shown as given: pass them translated).

    Returns
    -------
    list of str
        One per campaign and segment, then one per campaign on whether its segments
        respond differently (Cochran's Q). E.g. ``"Spring sale — Bargain hunters: +5.5
        revenue per customer (95% CI 2.4 to 8.6), significant after adjustment; worth
        +4,200 in profit after cost."`` (the money after cost is stated as a worth only
        when the profit effect itself is significant before adjustment).
    """
    names = names or {}
    e = result.effects
    if e.empty:
        return []
    lines = []
    lead = e[e["metric"] == metric].dropna(subset=["effect"])
    profit_rows = e[e["metric"] == "profit"].set_index(["campaign", "segment"])
    level = f"{1 - alpha:.0%}"
    shown_metric = i18n.text(metric, lang)
    for row in lead.itertuples(index=False):
        who = names.get(str(row.segment), str(row.segment))
        verdict = (i18n.text("significant after adjustment", lang) if row.p_adjusted < alpha
                   else i18n.text("not significant after adjustment", lang)
                   if row.p_value < alpha else i18n.text("not significant", lang))
        text = i18n.text("{campaign} — {who}: {effect} {metric} per customer ({level} CI "
                         "{low:,.1f} to {high:,.1f}), {verdict}", lang, campaign=row.campaign,
                         who=who, effect=_money(row.effect), metric=shown_metric, level=level,
                         low=row.ci_low, high=row.ci_high, verdict=verdict)
        key = (row.campaign, row.segment)
        if key in profit_rows.index:
            gain = profit_rows.loc[key]
            after = gain["incremental_after_cost"]
            if np.isfinite(after) and gain["p_value"] < alpha:
                text += i18n.text("; worth {amount} in profit after cost", lang,
                                  amount=_money(after))
            elif np.isfinite(after):
                text += i18n.text("; its profit after cost cannot be told from zero (estimate "
                                  "{amount})", lang, amount=_money(after))
        lines.append(text + i18n.text(".", lang))
    het = result.heterogeneity
    for row in (het[het["metric"] == metric].itertuples(index=False) if len(het) else ()):
        if not np.isfinite(row.p_value):
            continue
        verdict = (i18n.text("segments respond differently: aim it at the segments where it "
                             "works", lang) if row.segments_differ else
                   i18n.text("the segments' responses cannot be told apart", lang))
        lines.append(i18n.text("{campaign}: {verdict} (Cochran's Q = {q:.1f} over {segments} "
                               "segments, p = {p:.3g}).", lang, campaign=row.campaign,
                               verdict=verdict, q=row.q, segments=row.segments, p=row.p_value))
    return lines
