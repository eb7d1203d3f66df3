"""Segments over time: snapshots, migration, cohorts and a monitoring view.

Customers move: last quarter's champions are not all champions now. This module
recomputes the customer table and its segments at a series of analysis dates, each
using only the data up to that date, and follows customers from one date to the next.

How segments stay comparable across dates
-----------------------------------------
* **RFM segments** (:data:`seglab.segments.RFM_SEGMENT_GRID` names) use *fixed* score
  thresholds. The R, F and M scores of notebook 02 are quintiles: scored afresh at
  every date, a fifth of the customers would always be "5", whatever happened. Here the
  cut points are learned once, at the latest date, exactly where the quintile scores
  change there, and applied unchanged at every earlier date. F and M count the orders
  and net revenue of a trailing window (``window_days``, default a year), so that a
  date late in the log is not favoured by having more history behind it (with
  ``window_days=0`` they count all history, and the latest date reproduces notebook
  02's RFM segments exactly).
* **Value tiers** cut the same trailing revenue at fixed amounts learned at the latest
  date: the top ``tier_shares[0]`` of that date's buyers are "High value", the next
  ``tier_shares[1]`` "Middle value", the other buyers "Low value"; no net revenue in
  the window is "Inactive".
* **Lifecycle stages** (:func:`seglab.segments.lifecycle_stage`) already use fixed
  thresholds (days silent against the customer's own rhythm).
* **Clusters** are assigned at every date by the model fitted at the latest date
  (``cluster_model.joblib``), so cluster 2 means the same thing at every date.

A customer belongs to a snapshot once they bought (or returned) anything up to its
date. Between two dates every customer of the earlier snapshot is in the later one;
customers who first appear in the later one come from the :data:`NEW_SEGMENT` row.
Migration counts therefore add up: the customers leaving each segment equal its size
at the earlier date, and those arriving in each segment its size at the later date.

The churn model is in :mod:`seglab.churn_model`; :func:`churned` is its outcome.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seglab import engine, features, i18n, profit, segments
from seglab.analysis_date import day_end, parse_as_of
from seglab.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

#: Snapshot cadences: months between successive analysis dates.
CADENCES: dict[str, int] = {"monthly": 1, "quarterly": 3}

#: ``from_segment`` of customers who first appear at the later date of a step.
NEW_SEGMENT = "(new)"

#: Segmentations that can be followed over time (columns of the snapshot table).
SEGMENTATIONS: tuple[str, ...] = ("rfm_segment", "value_tier", "lifecycle_stage", "cluster")

#: Value tiers, best first; "Inactive" means no net revenue in the trailing window.
TIER_NAMES: tuple[str, ...] = ("High value", "Middle value", "Low value", "Inactive")

#: Lifecycle stages collapsed to the three states a planted truth can say.
LIFECYCLE_STATES: dict[str, str] = {
    "New": "New",
    "Active": "Active",
    "At risk": "Active",
    "Dormant": "Lapsed",
    "Churned": "Lapsed",
}

#: Lifecycle stages from which a move to one of :data:`AT_RISK_STAGES` makes a customer
#: newly at risk, and those stages (silent for two to eight of their own purchase gaps:
#: still worth winning back, unlike "Churned").
HEALTHY_STAGES: tuple[str, ...] = ("New", "Active")
AT_RISK_STAGES: tuple[str, ...] = ("At risk", "Dormant")



#: Values of the dynamics tables that the report shows in its language (the files keep
#: them): the tier moves of :func:`tier_value_flows`, its total row and the basis of the
#: monitor's churn share (:func:`monitoring`). Segment, tier and stage names come from
#: :data:`TIER_NAMES` and the segment catalogs.
SHOWN_WORDS: tuple[str, ...] = ("up", "down", "same", "new", "Total", "observed", "predicted")

#: Columns of the dynamics tables that hold such names.
NAME_COLUMNS: tuple[str, ...] = ("segment", "from_segment", "to_segment", "from_tier",
                                 "to_tier", "move", "stage_before", "lifecycle_stage",
                                 "rfm_segment_before", "rfm_segment", "value_tier",
                                 "churn_basis")


def display_names(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Return a dynamics table with its names in the report's language, for display.

    Segment, tier, stage and move names (:data:`NAME_COLUMNS`, and the index of
    :func:`segment_sizes`) are shown translated where the catalogs have them. The files
    a run writes keep the English names.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table of this module (sizes, tier flows, newly at risk, monitor, ...).
    lang : {"en", "zh"}
        The report's language; "en" returns ``frame`` itself.

    Returns
    -------
    pandas.DataFrame
    """
    if lang == "en" or frame.empty:
        return frame

    def name(value: object) -> object:
        return i18n.text(value, lang) if isinstance(value, str) and value else value

    out = frame.copy()
    for column in NAME_COLUMNS:
        if column in out and not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype(object).map(name)
    if not isinstance(out.index, pd.RangeIndex):
        out.index = out.index.map(name)
    return out


# --- dates ---------------------------------------------------------------------------------


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}={value!r} should be a whole number >= {minimum}.")
    return int(value)


def snapshot_dates(
    as_of: pd.Timestamp | str,
    *,
    cadence: str = "quarterly",
    steps: int = 4,
    first_day: pd.Timestamp | None = None,
) -> list[pd.Timestamp]:
    """Analysis dates of the snapshots, oldest first, ending at ``as_of``.

    Parameters
    ----------
    as_of : pandas.Timestamp or str
        The latest analysis date (a day, counted whole).
    cadence : {"monthly", "quarterly"}
        Calendar months between dates (1 or 3); month ends are kept (May 31 minus a
        month is April 30).
    steps : int
        Steps between dates, so ``steps + 1`` dates.
    first_day : pandas.Timestamp, optional
        First day of the data; earlier dates would see no customers and are dropped.

    Returns
    -------
    list of pandas.Timestamp
        At least two dates.

    Raises
    ------
    ConfigError
        For an unknown cadence, fewer than one step, or data too short for two dates.

    Examples
    --------
    >>> [d.date().isoformat() for d in snapshot_dates("2011-12-09", steps=2)]
    ['2011-06-09', '2011-09-09', '2011-12-09']
    """
    if cadence not in CADENCES:
        raise ConfigError(f"cadence={cadence!r} is not supported; use one of {list(CADENCES)}.")
    steps = _whole("steps", steps, 1)
    day = parse_as_of(as_of, option="as_of")
    months = CADENCES[cadence]
    dates = [day - pd.DateOffset(months=months * k) for k in range(steps, -1, -1)]
    dates = [pd.Timestamp(d) for d in dates]
    if first_day is not None:
        dates = [d for d in dates if d >= first_day.normalize()]
    if len(dates) < 2:
        raise ConfigError(
            f"the data starts on {first_day.date()} and ends on {day.date()}: too short for "
            f"two {cadence} snapshots; use cadence='monthly' or a longer log."
        )
    return dates


# --- the line and order tables every date reads -------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """Transactions reduced to what the snapshots read, with customers as codes.

    Attributes
    ----------
    customers : pandas.Index
        Customer ids (sorted); position = code.
    line_customer, line_day, line_amount : numpy.ndarray
        One entry per line: customer code, day (``datetime64[D]``), net amount.
    order_customer, order_day : numpy.ndarray
        One entry per purchase (order whose lines sum to more than zero).
    """

    customers: pd.Index
    line_customer: np.ndarray
    line_day: np.ndarray
    line_amount: np.ndarray
    order_customer: np.ndarray
    order_day: np.ndarray

    def per_customer(self, values: np.ndarray | None, mask: np.ndarray, *,
                     orders: bool = False) -> np.ndarray:
        """Sum ``values`` (or count when ``values`` is None) over lines or purchases."""
        codes = self.order_customer if orders else self.line_customer
        weights = None if values is None else values[mask]
        return np.bincount(codes[mask], weights=weights, minlength=len(self.customers))

    def lines_between(self, start: pd.Timestamp | None, end: pd.Timestamp) -> np.ndarray:
        """Mask of lines on days after ``start`` and up to ``end`` (``start`` None: all)."""
        return _days_between(self.line_day, start, end)

    def orders_between(self, start: pd.Timestamp | None, end: pd.Timestamp) -> np.ndarray:
        """Mask of purchases on days after ``start`` and up to ``end``."""
        return _days_between(self.order_day, start, end)


def _days_between(days: np.ndarray, start: pd.Timestamp | None, end: pd.Timestamp
                  ) -> np.ndarray:
    """Mask of ``days`` in the dates ``start`` (exclusive) to ``end``, each counted whole."""
    mask = days < np.datetime64(day_end(end).date(), "D")
    if start is not None:
        mask &= days >= np.datetime64(day_end(start).date(), "D")
    return mask


def ledger(transactions: pd.DataFrame) -> Ledger:
    """Reduce canonical transactions to customer codes, days and amounts.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (one row per line, returns negative); uses
        ``customer_id``, ``order_date``, ``amount`` and ``order_id`` when present.

    Returns
    -------
    Ledger
        Lines and purchases; a purchase is an order whose lines sum to more than
        zero, as in :mod:`seglab.features`.

    Raises
    ------
    InputError
        If a required column is missing.
    """
    missing = [c for c in ("customer_id", "order_date", "amount") if c not in transactions]
    if missing:
        raise InputError(f"transactions have no column {missing[0]!r}; columns are "
                         f"{list(transactions.columns)}.")
    tx = transactions.dropna(subset=["customer_id", "order_date", "amount"])
    codes, customers = pd.factorize(tx["customer_id"], sort=True)
    day = tx["order_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    amount = tx["amount"].to_numpy(dtype=float)
    order_key = (tx["order_id"] if "order_id" in tx else tx["order_date"].astype("string"))
    order_key = order_key.fillna(tx["order_date"].astype("string"))
    orders = pd.DataFrame({"customer": codes, "key": order_key.to_numpy(), "day": day,
                           "amount": amount})
    orders = orders.groupby(["customer", "key"], sort=False).agg(
        day=("day", "min"), amount=("amount", "sum"))
    orders = orders[orders["amount"] > features.MONEY_TOLERANCE]
    return Ledger(
        customers=pd.Index(customers, name="customer_id"),
        line_customer=codes,
        line_day=day,
        line_amount=amount,
        order_customer=orders.index.get_level_values("customer").to_numpy(),
        order_day=orders["day"].to_numpy(dtype="datetime64[D]"),
    )


def window_figures(book: Ledger, date: pd.Timestamp, *, window_days: int = 365
                   ) -> pd.DataFrame:
    """Orders and net revenue of each customer in the trailing window ending at ``date``.

    Parameters
    ----------
    book : Ledger
        Output of :func:`ledger`.
    date : pandas.Timestamp
        Analysis date (a day, counted whole).
    window_days : int
        Window length; 0 counts all history up to ``date``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (customers with a line up to ``date``):
        ``window_orders`` and ``window_revenue``.
    """
    start = None if window_days == 0 else date - pd.Timedelta(days=window_days)
    seen = book.per_customer(None, book.lines_between(None, date)) > 0
    lines = book.lines_between(start, date)
    orders = book.orders_between(start, date)
    table = pd.DataFrame(
        {
            "window_orders": book.per_customer(None, orders, orders=True),
            "window_revenue": book.per_customer(book.line_amount, lines),
        },
        index=book.customers,
    )
    return table[seen]


# --- fixed thresholds -----------------------------------------------------------------------


def _edges(values: pd.Series, *, higher_is_better: bool, bins: int = 5) -> tuple[float, ...]:
    """Smallest value (in the better direction) earning each score 2..bins."""
    signed = values if higher_is_better else -values
    scores = segments.score(values, bins=bins, higher_is_better=higher_is_better)
    edges = []
    for s in range(2, bins + 1):
        reached = signed[scores >= s]
        edges.append(float(reached.min()) if len(reached) else math.inf)
    return tuple(edges)


def _count(value: float) -> int | float:
    """Return a whole number as int for display (infinite edges stay float)."""
    return int(value) if math.isfinite(value) and float(value).is_integer() else value


def _apply_edges(values: pd.Series, edges: Sequence[float], *, higher_is_better: bool
                 ) -> pd.Series:
    signed = (values if higher_is_better else -values).to_numpy(dtype=float)
    scores = 1 + (signed[:, None] >= np.asarray(edges)[None, :]).sum(axis=1)
    return pd.Series(scores.astype(int), index=values.index)


@dataclass(frozen=True)
class FixedThresholds:
    """Score and tier cut points learned at one date and applied at every date.

    Attributes
    ----------
    date : pandas.Timestamp
        Date they were learned at.
    window_days : int
        Trailing window of F, M and the tiers (0 = all history).
    recency, frequency, monetary : tuple of float
        Smallest (for recency: minus the largest days silent) value earning scores 2-5.
    tiers : tuple of float
        Trailing net revenue at which "High value" and "Middle value" start.
    """

    date: pd.Timestamp
    window_days: int
    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    tiers: tuple[float, float]

    def frame(self) -> pd.DataFrame:
        """Return the cut points as a table for the report (one row per score)."""
        rows = []
        for score, (r, f, m) in enumerate(
            zip(self.recency, self.frequency, self.monetary, strict=True), start=2
        ):
            rows.append({"score": score, "days since last order at most": _count(-r),
                         "orders in window at least": _count(f),
                         "net revenue in window at least": m})
        return pd.DataFrame(rows)


def fit_thresholds(table: pd.DataFrame, *, date: pd.Timestamp, window_days: int = 365,
                   tier_shares: tuple[float, float] = (0.2, 0.3)) -> FixedThresholds:
    """Learn RFM score and value tier cut points from one date's customers.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer: ``days_since_last_order``, ``window_orders``,
        ``window_revenue`` (at ``date``).
    date : pandas.Timestamp
        The date (for the record).
    window_days : int
        Window of ``window_orders`` and ``window_revenue``.
    tier_shares : tuple of float
        Shares of the buyers at ``date`` in the "High value" and "Middle value" tiers.

    Returns
    -------
    FixedThresholds
        Cut points that reproduce the quintile scores at ``date`` exactly.

    Raises
    ------
    ConfigError
        If the tier shares are not two shares adding up to less than 1.
    """
    if (len(tier_shares) != 2 or any(not 0 < s < 1 for s in tier_shares)
            or sum(tier_shares) >= 1):
        raise ConfigError(f"tier_shares={tier_shares!r} should be two shares between 0 and 1 "
                          "adding up to less than 1, e.g. (0.2, 0.3).")
    buyers = table.loc[table["window_revenue"] > 0, "window_revenue"]
    if buyers.empty:
        high = middle = math.inf
    else:
        high = float(buyers.quantile(1 - tier_shares[0]))
        middle = float(buyers.quantile(1 - tier_shares[0] - tier_shares[1]))
    return FixedThresholds(
        date=date,
        window_days=window_days,
        recency=_edges(table["days_since_last_order"], higher_is_better=False),
        frequency=_edges(table["window_orders"], higher_is_better=True),
        monetary=_edges(table["window_revenue"], higher_is_better=True),
        tiers=(high, middle),
    )


def apply_thresholds(table: pd.DataFrame, thresholds: FixedThresholds) -> pd.DataFrame:
    """Score customers against fixed cut points and name their RFM segment and tier.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer: ``days_since_last_order``, ``window_orders``,
        ``window_revenue``.
    thresholds : FixedThresholds
        Output of :func:`fit_thresholds`.

    Returns
    -------
    pandas.DataFrame
        Same index: ``r_score``, ``f_score``, ``m_score``, ``rfm_segment`` (named on
        :data:`seglab.segments.RFM_SEGMENT_GRID` as in notebook 02) and ``value_tier``
        (one of :data:`TIER_NAMES`).
    """
    r = _apply_edges(table["days_since_last_order"], thresholds.recency, higher_is_better=False)
    f = _apply_edges(table["window_orders"], thresholds.frequency, higher_is_better=True)
    m = _apply_edges(table["window_revenue"], thresholds.monetary, higher_is_better=True)
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    grid = np.array(segments.RFM_SEGMENT_GRID, dtype=object)
    revenue = table["window_revenue"]
    high, middle = thresholds.tiers
    tier = np.select([revenue >= high, revenue >= middle, revenue > 0], list(TIER_NAMES[:3]),
                     default=TIER_NAMES[3])
    return pd.DataFrame(
        {
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_segment": grid[r.to_numpy() - 1, fm.to_numpy() - 1],
            "value_tier": tier,
        },
        index=table.index,
    )


# --- snapshots ----------------------------------------------------------------------------


def features_at(transactions: pd.DataFrame, dates: Sequence[pd.Timestamp], *,
                customers: pd.DataFrame | None = None,
                cache: dict[pd.Timestamp, pd.DataFrame] | None = None,
                ) -> dict[pd.Timestamp, pd.DataFrame]:
    """Compute the customer table (:func:`seglab.features.customer_features`) at each date.

    The table comes from DuckDB (:func:`seglab.engine.customer_aggregates`, equal to
    the pandas reference to 1e-9 and several times faster on a large log) on one thread,
    so that sums add up in the same order, and the tables are identical, in every run.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions; each date sees only lines up to its day.
    dates : sequence of pandas.Timestamp
        Analysis dates.
    customers : pandas.DataFrame, optional
        Customer attributes to join.
    cache : dict, optional
        Tables already computed, by date; reused and extended (a new dict is returned).

    Returns
    -------
    dict of pandas.Timestamp to pandas.DataFrame
        One customer table per date (customers with a line up to it).
    """
    out = dict(cache or {})
    for date in dates:
        if date not in out:
            out[date] = engine.customer_aggregates(transactions, as_of=date,
                                                   customers=customers, threads=1)
    return out


@dataclass
class Snapshots:
    """Segments of every customer at every snapshot date.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (date, customer present at that date): ``date``, ``customer_id``,
        ``days_since_last_order``, ``window_orders``, ``window_revenue``, the scores,
        ``rfm_segment``, ``value_tier``, ``lifecycle_stage`` and, with a cluster
        model, ``cluster``.
    dates : list of pandas.Timestamp
        Snapshot dates, oldest first.
    thresholds : FixedThresholds
        Cut points learned at the latest date.
    features : dict
        Customer table per date (for the churn model and cluster assignment).
    """

    table: pd.DataFrame
    dates: list[pd.Timestamp]
    thresholds: FixedThresholds
    features: dict[pd.Timestamp, pd.DataFrame] = field(default_factory=dict)

    def at(self, date: pd.Timestamp) -> pd.DataFrame:
        """Return the snapshot of one date, indexed by ``customer_id``."""
        return self.table[self.table["date"] == date].set_index("customer_id")


def take_snapshots(
    transactions: pd.DataFrame,
    dates: Sequence[pd.Timestamp],
    *,
    window_days: int = 365,
    tier_shares: tuple[float, float] = (0.2, 0.3),
    cluster_labels: Callable[[pd.DataFrame], np.ndarray] | None = None,
    customers: pd.DataFrame | None = None,
    rules: segments.SegmentRules | None = None,
    feature_tables: dict[pd.Timestamp, pd.DataFrame] | None = None,
) -> Snapshots:
    """Recompute features and segments at each date from the data up to that date.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (one row per line).
    dates : sequence of pandas.Timestamp
        Snapshot dates, oldest first; thresholds are learned at the last one.
    window_days : int
        Trailing window of F, M and the value tiers (0 = all history).
    tier_shares : tuple of float
        See :func:`fit_thresholds`.
    cluster_labels : callable, optional
        Maps a customer table to cluster labels (the latest model's ``predict``); adds
        a ``cluster`` column.
    customers : pandas.DataFrame, optional
        Customer attributes (joined to the feature tables).
    rules : seglab.segments.SegmentRules, optional
        Lifecycle thresholds.
    feature_tables : dict, optional
        Feature tables already computed, by date.

    Returns
    -------
    Snapshots
        The long table and what it was built from.

    Raises
    ------
    ConfigError
        If the dates are not increasing or the window is negative.
    """
    dates = [parse_as_of(d, option="snapshot date") for d in dates]
    if len(dates) < 1 or any(b <= a for a, b in itertools.pairwise(dates)):
        raise ConfigError(f"snapshot dates {[d.date().isoformat() for d in dates]} should "
                          "be increasing.")
    window_days = _whole("window_days", window_days, 0)
    book = ledger(transactions)
    tables = features_at(transactions, dates, customers=customers, cache=feature_tables)
    frames = {}
    for date in dates:
        feats = tables[date].set_index("customer_id")
        frame = window_figures(book, date, window_days=window_days).reindex(feats.index)
        frame.insert(0, "days_since_last_order", feats["days_since_last_order"])
        frame["lifecycle_stage"] = segments.lifecycle_stage(feats, rules=rules)
        if cluster_labels is not None:
            frame["cluster"] = np.asarray(cluster_labels(tables[date]))
        frames[date] = frame
    latest = dates[-1]
    thresholds = fit_thresholds(frames[latest], date=latest, window_days=window_days,
                                tier_shares=tier_shares)
    parts = []
    for date in dates:
        frame = frames[date]
        scored = frame.join(apply_thresholds(frame, thresholds))
        parts.append(scored.reset_index().assign(date=date))
    table = pd.concat(parts, ignore_index=True)
    order = ["date", "customer_id", "days_since_last_order", "window_orders", "window_revenue",
             "r_score", "f_score", "m_score", "rfm_segment", "value_tier", "lifecycle_stage"]
    order += [c for c in table if c not in order]
    return Snapshots(table=table[order], dates=dates, thresholds=thresholds, features=tables)


def segment_sizes(snapshots: Snapshots, segment_col: str = "rfm_segment") -> pd.DataFrame:
    """Count customers per segment at each date (segments as rows, dates as columns).

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    segment_col : str
        A segmentation of :data:`SEGMENTATIONS` present in the snapshots.

    Returns
    -------
    pandas.DataFrame
        Counts, segments in report order, a "Total" row.
    """
    _check_segment_col(snapshots.table, segment_col)
    sizes = pd.crosstab(snapshots.table[segment_col], snapshots.table["date"])
    sizes = sizes.reindex(segment_order(sizes.index, segment_col)).fillna(0).astype(int)
    sizes.loc["Total"] = sizes.sum()
    sizes.columns = [d.date().isoformat() for d in sizes.columns]
    return sizes.rename_axis(segment_col)


def segment_order(labels: Sequence[object], segment_col: str) -> list:
    """Labels of a segmentation in report order (best first; new customers first)."""
    known: dict[str, Sequence[str]] = {
        "rfm_segment": segments.RFM_SEGMENT_ORDER,
        "value_tier": TIER_NAMES,
        "lifecycle_stage": ("New", "Active", "At risk", "Dormant", "Churned"),
    }
    labels = list(dict.fromkeys(labels))
    first = [NEW_SEGMENT] if NEW_SEGMENT in labels else []
    rest = [x for x in labels if x != NEW_SEGMENT]
    ranking = list(known.get(segment_col, ()))

    def key(label: object) -> tuple[int, float, str]:
        text = str(label)
        number = float(text) if text.lstrip("-").isdigit() else math.inf
        return (ranking.index(text) if text in ranking else len(ranking), number, text)

    return first + sorted(rest, key=key)


def _check_segment_col(table: pd.DataFrame, segment_col: str) -> None:
    if segment_col not in table:
        available = [c for c in SEGMENTATIONS if c in table]
        raise ConfigError(f"segment_col={segment_col!r} is not followed over time; use one of "
                          f"{available}.")


def _with_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add columns a past date lacks (a channel or category not sold yet) as zero shares."""
    missing = [c for c in columns if c not in table]
    return table.assign(**dict.fromkeys(missing, 0.0)) if missing else table


def cluster_assigner(bundle: Any, reference: pd.DataFrame
                     ) -> Callable[[pd.DataFrame], np.ndarray]:
    """Turn the saved clustering into a function from a customer table to cluster labels.

    ``cluster_model.joblib`` holds the transform and clusterer fitted at the latest
    date: either a model with ``predict(customer_table)`` that returns the reported,
    value-ordered labels (:class:`seglab.cluster.SegmentModel`), or a dict with
    ``transform`` and ``model`` (and optionally ``order``, model label to reported
    label). Without ``order`` the mapping is read off the latest table: the label most
    of a model cluster's customers carry in ``reference``. Columns a past date lacks
    (a channel or category with no sales yet) are added as zero shares.

    Parameters
    ----------
    bundle : object or dict
        What the clustering stage saved.
    reference : pandas.DataFrame
        The latest customer table with its ``cluster`` column.

    Returns
    -------
    callable
        Customer table -> numpy array of reported cluster labels (-1 = unassigned).

    Raises
    ------
    InputError
        If the bundle is neither.
    """
    if not isinstance(bundle, dict) and callable(getattr(bundle, "predict", None)):
        needed = list(getattr(getattr(bundle, "transform", None), "source_columns_", []))
        return lambda table: np.asarray(bundle.predict(_with_columns(table, needed)),
                                        dtype=int)
    try:
        transform, model = bundle["transform"], bundle["model"]
    except (KeyError, TypeError) as exc:
        raise InputError("cluster_model.joblib should hold a fitted model with predict() or "
                         "a dict with 'transform' and 'model'; rerun the clustering "
                         "notebook.") from exc
    names_in = list(getattr(transform, "feature_names_in_", []))
    needed = names_in or list(getattr(transform, "source_columns_", []))

    def model_labels(table: pd.DataFrame) -> np.ndarray:
        frame = _with_columns(table, needed)
        return np.asarray(model.predict(transform.transform(frame[names_in] if names_in
                                                            else frame)))

    if bundle.get("order"):
        mapping = pd.Series(bundle["order"])
    else:
        pairs = pd.DataFrame({"raw": model_labels(reference),
                              "reported": reference["cluster"].to_numpy()})
        mapping = pairs.groupby("raw")["reported"].agg(lambda s: s.value_counts().index[0])

    def assign(table: pd.DataFrame) -> np.ndarray:
        labels = pd.Series(model_labels(table)).map(mapping)
        return labels.fillna(-1).astype(int).to_numpy()

    return assign


# --- migration ----------------------------------------------------------------------------


def migration(snapshots: Snapshots, transactions: pd.DataFrame | Ledger, *,
              segment_col: str = "rfm_segment") -> pd.DataFrame:
    """Count customers moving between segments from each snapshot date to the next.

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    transactions : pandas.DataFrame or Ledger
        The transactions the snapshots were taken from.
    segment_col : str
        Segmentation to follow.

    Returns
    -------
    pandas.DataFrame
        One row per (step, from segment, to segment) that some customer took:
        ``from_date``, ``to_date`` (ISO days), ``from_segment`` (:data:`NEW_SEGMENT` for
        customers first seen at ``to_date``), ``to_segment``, ``customers`` and
        ``revenue``: those customers' net revenue in the following period (days after
        ``from_date`` up to ``to_date``).
    """
    _check_segment_col(snapshots.table, segment_col)
    book = transactions if isinstance(transactions, Ledger) else ledger(transactions)
    rows = []
    for start, end in itertools.pairwise(snapshots.dates):
        before = snapshots.at(start)[segment_col]
        after = snapshots.at(end)[segment_col]
        revenue = pd.Series(
            book.per_customer(book.line_amount, book.lines_between(start, end)),
            index=book.customers,
        )
        step = pd.DataFrame({  # labels as text first: a reindexed int column turns float
            "from_segment": before.astype(str).reindex(after.index).fillna(NEW_SEGMENT),
            "to_segment": after.astype(str),
            "revenue": revenue.reindex(after.index).fillna(0.0),
        })
        grouped = step.groupby(["from_segment", "to_segment"], sort=False).agg(
            customers=("revenue", "size"), revenue=("revenue", "sum")).reset_index()
        grouped.insert(0, "to_date", end.date().isoformat())
        grouped.insert(0, "from_date", start.date().isoformat())
        rows.append(grouped)
    table = pd.concat(rows, ignore_index=True)
    order = segment_order(
        [*table["from_segment"], *table["to_segment"]],
        segment_col if segment_col != "cluster" else "",
    )
    rank = {label: i for i, label in enumerate(order)}
    table = table.assign(_f=table["from_segment"].map(rank), _t=table["to_segment"].map(rank))
    table = table.sort_values(["from_date", "_f", "_t"], kind="stable").drop(columns=["_f", "_t"])
    table["revenue"] = table["revenue"].round(2)
    return table.reset_index(drop=True)


def check_migration(table: pd.DataFrame, snapshots: Snapshots, *,
                    segment_col: str = "rfm_segment") -> pd.DataFrame:
    """Check that a migration table adds up to the segment sizes at both ends.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`migration` (or ``segment_migration.csv`` read back).
    snapshots : Snapshots
        The snapshots it was built from.
    segment_col : str
        Its segmentation.

    Returns
    -------
    pandas.DataFrame
        One row per (step, side, segment): ``from_date``, ``to_date``, ``side``
        ("leaving" compares the customers leaving a segment with its size at
        ``from_date``, "arriving" those arriving with its size at ``to_date``; the
        :data:`NEW_SEGMENT` row is checked against the customers first seen at
        ``to_date``), ``segment``, ``in_file``, ``in_snapshot`` and ``agrees``.
    """
    rows = []
    for start, end in itertools.pairwise(snapshots.dates):
        step = table[table["from_date"].astype(str) == start.date().isoformat()]
        before = snapshots.at(start)[segment_col].astype(str)
        after = snapshots.at(end)[segment_col].astype(str)
        new = int((~after.index.isin(before.index)).sum())
        expected = {
            "leaving": before.value_counts().to_dict() | {NEW_SEGMENT: new},
            "arriving": after.value_counts().to_dict(),
        }
        found = {
            "leaving": step.groupby(step["from_segment"].astype(str))["customers"].sum(),
            "arriving": step.groupby(step["to_segment"].astype(str))["customers"].sum(),
        }
        for side in ("leaving", "arriving"):
            labels = set(expected[side]) | set(found[side].index)
            for label in segment_order(labels, segment_col):
                in_snapshot = int(expected[side].get(label, 0))
                in_file = int(found[side].get(label, 0))
                rows.append({"from_date": start.date().isoformat(),
                             "to_date": end.date().isoformat(), "side": side,
                             "segment": label, "in_file": in_file,
                             "in_snapshot": in_snapshot, "agrees": in_file == in_snapshot})
    return pd.DataFrame(rows)


def check_summary(checks: pd.DataFrame) -> pd.DataFrame:
    """Summarise :func:`check_migration` per step for the report.

    Parameters
    ----------
    checks : pandas.DataFrame
        Output of :func:`check_migration`.

    Returns
    -------
    pandas.DataFrame
        One row per step: customers at the earlier date and leaving in the file, first
        seen at the later date and new in the file, customers at the later date and
        arriving in the file, and whether every segment agrees on both sides.
    """
    rows = []
    for (start, end), step in checks.groupby(["from_date", "to_date"], sort=False):
        leaving = step[(step["side"] == "leaving") & (step["segment"] != NEW_SEGMENT)]
        new = step[(step["side"] == "leaving") & (step["segment"] == NEW_SEGMENT)]
        arriving = step[step["side"] == "arriving"]
        rows.append({
            "from_date": start, "to_date": end,
            "customers at from_date": int(leaving["in_snapshot"].sum()),
            "leaving (file)": int(leaving["in_file"].sum()),
            "first seen at to_date": int(new["in_snapshot"].sum()),
            "(new) (file)": int(new["in_file"].sum()),
            "customers at to_date": int(arriving["in_snapshot"].sum()),
            "arriving (file)": int(arriving["in_file"].sum()),
            "every segment adds up": bool(step["agrees"].all()),
        })
    return pd.DataFrame(rows)


def transition_matrix(table: pd.DataFrame, *, steps: int | None = None,
                      value: str = "customers", normalize: bool = True,
                      segment_col: str = "") -> pd.DataFrame:
    """From-segment x to-segment matrix of a migration table, pooled over steps.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`migration`.
    steps : int, optional
        Pool only the last ``steps`` steps; None pools all.
    value : {"customers", "revenue"}
        What to add up.
    normalize : bool
        Divide each row by its total (row shares: where a segment's customers went).
    segment_col : str
        Segmentation, for the order of rows and columns.

    Returns
    -------
    pandas.DataFrame
        Rows: from segments (new customers first); columns: to segments.
    """
    if value not in ("customers", "revenue"):
        raise ConfigError(f"value={value!r} should be 'customers' or 'revenue'.")
    chosen = table
    if steps is not None:
        keep = sorted(table["from_date"].unique())[-_whole("steps", steps, 1):]
        chosen = table[table["from_date"].isin(keep)]
    matrix = chosen.pivot_table(index="from_segment", columns="to_segment", values=value,
                                aggfunc="sum", fill_value=0)
    rows = segment_order(matrix.index, segment_col)
    columns = segment_order(matrix.columns, segment_col)
    matrix = matrix.reindex(index=rows, columns=columns, fill_value=0)
    if normalize:
        matrix = matrix.div(matrix.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    matrix.index.name, matrix.columns.name = "from", "to"
    return matrix


def tier_value_flows(snapshots: Snapshots, *, start: pd.Timestamp | None = None,
                     end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Value moving between tiers over one step: who moved and what their value did.

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    start, end : pandas.Timestamp, optional
        The step; default the last one.

    Returns
    -------
    pandas.DataFrame
        One row per (from tier, to tier): ``move`` ("up", "down", "same", "new"),
        ``customers``, ``value_before`` and ``value_after`` (trailing-window net
        revenue at each date) and ``change``; a "Total" row.
    """
    start = snapshots.dates[-2] if start is None else start
    end = snapshots.dates[-1] if end is None else end
    before = snapshots.at(start)[["value_tier", "window_revenue"]]
    after = snapshots.at(end)[["value_tier", "window_revenue"]]
    frame = after.join(before.add_suffix("_before"), how="left")
    frame["from_tier"] = frame["value_tier_before"].astype(object).fillna(NEW_SEGMENT)
    frame["value_before"] = frame["window_revenue_before"].fillna(0.0)
    rank = {name: i for i, name in enumerate(TIER_NAMES)}
    was = frame["from_tier"].map(rank)
    now = frame["value_tier"].map(rank)
    frame["move"] = np.select([was.isna(), now < was, now > was], ["new", "up", "down"],
                              default="same")
    flows = frame.groupby(["from_tier", "value_tier", "move"], sort=False).agg(
        customers=("value_before", "size"), value_before=("value_before", "sum"),
        value_after=("window_revenue", "sum")).reset_index()
    flows = flows.rename(columns={"value_tier": "to_tier"})
    flows["change"] = flows["value_after"] - flows["value_before"]
    order = {name: i for i, name in enumerate([NEW_SEGMENT, *TIER_NAMES])}
    flows = flows.sort_values(["from_tier", "to_tier"], key=lambda s: s.map(order),
                              kind="stable").reset_index(drop=True)
    total = flows[["customers", "value_before", "value_after", "change"]].sum()
    flows.loc[len(flows)] = {"from_tier": "Total", "to_tier": "", "move": "", **total}
    flows["customers"] = flows["customers"].astype(int)
    return flows


def newly_at_risk(snapshots: Snapshots, *, at_risk: Sequence[str] = AT_RISK_STAGES,
                  healthy: Sequence[str] = HEALTHY_STAGES,
                  risk: pd.Series | None = None) -> pd.DataFrame:
    """List customers who moved from a healthy lifecycle stage to at risk in the last step.

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    at_risk : sequence of str
        Lifecycle stages that call for action.
    healthy : sequence of str
        Stages they came from.
    risk : pandas.Series, optional
        Churn risk per ``customer_id``; adds ``churn_risk`` and ``value_at_risk``
        (risk x trailing net revenue) and orders the list by the latter.

    Returns
    -------
    pandas.DataFrame
        One row per customer, most value at risk first (without ``risk``: most trailing
        net revenue first): ``customer_id``, (``value_at_risk``, ``churn_risk``),
        ``stage_before``, ``lifecycle_stage``, ``rfm_segment_before``, ``rfm_segment``,
        ``days_since_last_order``, ``window_orders``, ``window_revenue`` (and
        ``cluster`` when followed).
    """
    start, end = snapshots.dates[-2], snapshots.dates[-1]
    before = snapshots.at(start)
    after = snapshots.at(end)
    was = before["lifecycle_stage"].reindex(after.index)
    chosen = after[after["lifecycle_stage"].isin(list(at_risk)) & was.isin(list(healthy))]
    columns = ["lifecycle_stage", "rfm_segment", "days_since_last_order", "window_orders",
               "window_revenue"]
    if "cluster" in chosen:
        columns.append("cluster")
    out = chosen[columns].copy()
    out.insert(1, "rfm_segment_before", before["rfm_segment"].reindex(out.index))
    out.insert(0, "stage_before", was.reindex(out.index))
    key = "window_revenue"
    if risk is not None:
        out.insert(0, "churn_risk", risk.reindex(out.index))
        out.insert(0, "value_at_risk", out["churn_risk"] * out["window_revenue"].clip(lower=0))
        key = "value_at_risk"
    out = out.sort_values([key, "days_since_last_order"], ascending=[False, False],
                          kind="stable")
    return out.reset_index()


# --- cohorts -------------------------------------------------------------------------------


def cohorts(transactions: pd.DataFrame | Ledger, *, as_of: pd.Timestamp,
            months: int = 12) -> pd.DataFrame:
    """Retention and revenue by acquisition month (the cohort triangle, long form).

    A customer's cohort is the calendar month of their first purchase in the data (the
    first month of a log also holds every customer who was already buying when it
    starts). Month 0 is the acquisition month.

    Parameters
    ----------
    transactions : pandas.DataFrame or Ledger
        Clean canonical transactions.
    as_of : pandas.Timestamp
        Analysis date; later lines are ignored and its month may be partial.
    months : int
        The latest ``months`` cohorts are kept.

    Returns
    -------
    pandas.DataFrame
        One row per (cohort, months since acquisition): ``cohort`` ("2011-03"),
        ``month`` (0, 1, ...), ``cohort_customers``, ``active_customers`` (bought in
        that month), ``retention`` (their share), ``revenue`` (net, all lines of the
        cohort's customers in that month) and ``revenue_per_customer`` (per cohort
        customer).
    """
    months = _whole("months", months, 1)
    book = transactions if isinstance(transactions, Ledger) else ledger(transactions)
    day = parse_as_of(as_of, option="as_of")
    lines = book.lines_between(None, day)
    orders = book.orders_between(None, day)
    if not orders.any():
        raise InputError(f"no purchase up to {day.date()}: no cohorts to show.")
    month_of = lambda days: days.astype("datetime64[M]").astype(np.int64)  # noqa: E731
    first = np.full(len(book.customers), np.iinfo(np.int64).max)
    np.minimum.at(first, book.order_customer[orders], month_of(book.order_day[orders]))
    has_cohort = first < np.iinfo(np.int64).max
    buys = pd.DataFrame({"customer": book.order_customer[orders],
                         "month": month_of(book.order_day[orders])}).drop_duplicates()
    buys["cohort"] = first[buys["customer"]]
    spend = pd.DataFrame({"customer": book.line_customer[lines],
                          "month": month_of(book.line_day[lines]),
                          "amount": book.line_amount[lines]})
    spend = spend[has_cohort[spend["customer"]]]
    spend["cohort"] = first[spend["customer"]]
    spend = spend[spend["month"] >= spend["cohort"]]
    active = buys.groupby(["cohort", "month"]).size().rename("active_customers")
    revenue = spend.groupby(["cohort", "month"])["amount"].sum().rename("revenue")
    table = pd.concat([active, revenue], axis=1).fillna(0.0).reset_index()
    size = pd.Series(first[has_cohort]).value_counts().rename("cohort_customers")
    last_month = month_of(np.array([np.datetime64(day.date(), "D")]))[0]
    kept = sorted(size.index)[-months:]
    grid = pd.MultiIndex.from_tuples(
        [(c, m) for c in kept for m in range(c, last_month + 1)], names=["cohort", "month"])
    table = table.set_index(["cohort", "month"]).reindex(grid, fill_value=0.0).reset_index()
    table["cohort_customers"] = table["cohort"].map(size).astype(int)
    table["active_customers"] = table["active_customers"].astype(int)
    table["retention"] = table["active_customers"] / table["cohort_customers"]
    table["revenue_per_customer"] = table["revenue"] / table["cohort_customers"]
    table["month_index"] = table["month"] - table["cohort"]
    table["cohort"] = pd.PeriodIndex.from_ordinals(table["cohort"], freq="M").astype(str)
    table = table.drop(columns="month").rename(columns={"month_index": "month"})
    return table[["cohort", "month", "cohort_customers", "active_customers", "retention",
                  "revenue", "revenue_per_customer"]]


# --- the churn outcome -------------------------------------------------------------------


def churned(book: Ledger, date: pd.Timestamp, horizon_days: int,
            ids: pd.Index) -> pd.Series:
    """Whether each customer made no purchase in the ``horizon_days`` after ``date``.

    Parameters
    ----------
    book : Ledger
        Output of :func:`ledger`.
    date : pandas.Timestamp
        The day the prediction is made at the end of.
    horizon_days : int
        Days after ``date`` that are watched.
    ids : pandas.Index
        Customers to label.

    Returns
    -------
    pandas.Series
        Boolean per customer of ``ids`` (True = no purchase: churned).
    """
    window = book.orders_between(date, date + pd.Timedelta(days=horizon_days))
    bought = pd.Series(book.per_customer(None, window, orders=True) > 0, index=book.customers)
    return ~bought.reindex(ids, fill_value=False)


# --- monitoring -----------------------------------------------------------------------------


def monitoring(
    snapshots: Snapshots,
    transactions: pd.DataFrame,
    *,
    segment_col: str = "rfm_segment",
    costs: profit.CostTable | None = None,
    horizon_days: int = 90,
    predicted_risk: dict[pd.Timestamp, pd.Series] | None = None,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per segment and date: size, revenue, profit, order value and churn share.

    Revenue, profit and orders are those of the period ending at each date (the days
    after the previous date; for the first date, the same length before it) by the
    customers in the segment at that date. Profit is :func:`seglab.profit.customer_pnl`
    on that period's lines (marketing charged for the time since each customer's first
    order in the period). Churn share is the share of the segment's customers who made
    no purchase in the ``horizon_days`` after the date where that is known, else the
    mean predicted churn risk (``churn_basis`` says which).

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    transactions : pandas.DataFrame
        The transactions they were taken from.
    segment_col : str
        Segmentation.
    costs : seglab.profit.CostTable, optional
        Cost assumptions.
    horizon_days : int
        Churn horizon.
    predicted_risk : dict, optional
        Churn risk per customer by date, used where the outcome is not known yet.
    as_of : pandas.Timestamp, optional
        Last day whose purchases are known; default the last day of the data.

    Returns
    -------
    pandas.DataFrame
        One row per (date, segment): ``customers``, ``revenue``, ``profit``,
        ``orders``, ``avg_order_value``, ``churn_share``, ``churn_basis``.
    """
    _check_segment_col(snapshots.table, segment_col)
    book = ledger(transactions)
    known = pd.Timestamp(book.line_day.max()) if as_of is None else as_of
    dates = snapshots.dates
    rows = []
    for i, date in enumerate(dates):
        start = dates[i - 1] if i else date - (dates[1] - dates[0])
        snap = snapshots.at(date)
        dates_of = transactions["order_date"]
        period = transactions[(dates_of >= day_end(start)) & (dates_of < day_end(date))]
        pnl = (profit.customer_pnl(period, costs, as_of=day_end(date)) if len(period)
               else pd.DataFrame(columns=["revenue", "profit"]))
        orders = pd.Series(book.per_customer(None, book.orders_between(start, date),
                                             orders=True), index=book.customers)
        frame = pd.DataFrame({
            "segment": snap[segment_col].astype(str),
            "revenue": pnl["revenue"].reindex(snap.index).fillna(0.0),
            "profit": pnl["profit"].reindex(snap.index).fillna(0.0),
            "orders": orders.reindex(snap.index).fillna(0),
        })
        if date + pd.Timedelta(days=horizon_days) <= known:
            frame["churn"] = churned(book, date, horizon_days, snap.index).astype(float)
            basis = "observed"
        elif predicted_risk is not None and date in predicted_risk:
            frame["churn"] = predicted_risk[date].reindex(snap.index)
            basis = "predicted"
        else:
            frame["churn"] = np.nan
            basis = ""
        grouped = frame.groupby("segment").agg(
            customers=("revenue", "size"), revenue=("revenue", "sum"),
            profit=("profit", "sum"), orders=("orders", "sum"), churn_share=("churn", "mean"))
        grouped["avg_order_value"] = grouped["revenue"] / grouped["orders"].replace(0, np.nan)
        grouped["churn_basis"] = basis
        grouped.insert(0, "date", date)
        rows.append(grouped.reset_index())
    table = pd.concat(rows, ignore_index=True)
    return table[["date", "segment", "customers", "revenue", "profit", "orders",
                  "avg_order_value", "churn_share", "churn_basis"]]


# --- checking against a planted truth -------------------------------------------------------


def planted_comparison(snapshots: Snapshots, planted: dict[pd.Timestamp, pd.Series]
                       ) -> pd.DataFrame:
    """Compare measured lifecycle movement with a planted truth, step by step.

    Measured lifecycle stages are collapsed with :data:`LIFECYCLE_STATES` (at risk
    still counts as active; dormant and churned as lapsed); customers not yet in a
    snapshot are "(not yet)".

    Parameters
    ----------
    snapshots : Snapshots
        Output of :func:`take_snapshots`.
    planted : dict of pandas.Timestamp to pandas.Series
        Planted stage per ``customer_id`` at each snapshot date ("(not yet)", "New",
        "Active", "Lapsed"), e.g. from :func:`seglab.synth.planted_stage`.

    Returns
    -------
    pandas.DataFrame
        One row per step and a last row for the whole period: ``from_date``,
        ``to_date``, ``planted_arrivals`` / ``measured_arrivals`` (first seen in the
        step), ``planted_lapses`` / ``measured_lapses`` (new or active at the start,
        lapsed at the end), ``lapses_in_both`` and ``agreement`` (share of customers
        whose measured state at ``to_date`` equals the planted one).
    """
    ids = planted[snapshots.dates[-1]].index

    def measured(date: pd.Timestamp) -> pd.Series:
        stage = snapshots.at(date)["lifecycle_stage"].map(LIFECYCLE_STATES)
        return stage.reindex(ids).fillna("(not yet)")

    def row(start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
        p0, p1 = planted[start].reindex(ids), planted[end].reindex(ids)
        m0, m1 = measured(start), measured(end)
        live = ["New", "Active"]
        p_lapse = p0.isin(live) & (p1 == "Lapsed")
        m_lapse = m0.isin(live) & (m1 == "Lapsed")
        return {
            "from_date": start.date().isoformat(),
            "to_date": end.date().isoformat(),
            "planted_arrivals": int(((p0 == "(not yet)") & (p1 != "(not yet)")).sum()),
            "measured_arrivals": int(((m0 == "(not yet)") & (m1 != "(not yet)")).sum()),
            "planted_lapses": int(p_lapse.sum()),
            "measured_lapses": int(m_lapse.sum()),
            "lapses_in_both": int((p_lapse & m_lapse).sum()),
            "agreement": float((m1 == p1).mean()),
        }

    dates = snapshots.dates
    rows = [row(a, b) for a, b in itertools.pairwise(dates)]
    if len(dates) > 2:
        rows.append(row(dates[0], dates[-1]))
    return pd.DataFrame(rows)
