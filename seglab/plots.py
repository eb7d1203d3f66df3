"""Plots for the study's reports: each draws one thing on ``ax`` and returns the Axes."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter
from pandas.io.formats.style import Styler

RC: dict[str, object] = {
    "figure.figsize": (8, 4.2),
    "figure.dpi": 90,
    "axes.titleweight": "bold",
    "axes.titlesize": 12,
}

#: Fonts with Chinese, Japanese and Korean glyphs, tried in order as fallbacks after
#: DejaVu Sans so labels such as "美妆" or "上海" are readable (Debian: fonts-noto-cjk).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
    "PingFang SC", "Heiti SC", "Arial Unicode MS",
)


def cjk_font() -> str | None:
    """Return the first installed font of :data:`CJK_FONTS`, or None.

    Fonts installed after matplotlib built its font cache are found on disk and
    registered for this session.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    installed = {font.name for font in manager.ttflist}
    if not installed.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if "cjk" in path.lower() or "wqy" in path.lower():
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {font.name for font in manager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _rc() -> dict[str, object]:
    fallback = cjk_font()
    # A list of families makes matplotlib fall back glyph by glyph.
    fonts = ["DejaVu Sans", fallback] if fallback else ["DejaVu Sans"]
    return {**RC, "font.family": fonts}


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """Apply seglab's plot style inside a ``with`` block (no global change on import)."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.95):
        with plt.rc_context(_rc()):
            yield


def set_theme() -> None:
    """Apply seglab's plot style for the rest of a notebook session."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95, rc=_rc())


def _nothing_when_empty(draw: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``draw`` show nothing for an empty table: its section was skipped (a note says why)."""
    @functools.wraps(draw)
    def wrapper(data: pd.DataFrame | None, *args: Any, **kwargs: Any) -> Any:
        if data is None or len(data) == 0:
            return None
        return draw(data, *args, **kwargs)
    return wrapper


@_nothing_when_empty
def table(frame: pd.DataFrame, *, money: tuple[str, ...] = (), share: tuple[str, ...] = (),
          digits: int = 1) -> Styler:
    """Format a table for a business reader; text from the data is HTML-escaped.

    An empty table shows nothing (a section skipped for want of data; its note says why).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to show.
    money : tuple of str
        Columns shown as whole currency amounts with thousands separators.
    share : tuple of str
        Columns shown as percentages.
    digits : int
        Decimals for other numbers.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    # A content-derived id (instead of a random one) keeps the HTML identical between runs.
    digest = hashlib.sha1(frame.to_csv().encode()).hexdigest()[:10]
    styler = Styler(frame, uuid=digest).format(
        precision=digits, thousands=",", escape="html", na_rep="")
    present = [c for c in money if c in frame]
    if present:
        styler = styler.format("{:,.0f}", subset=present, na_rep="")
    present = [c for c in share if c in frame]
    if present:
        styler = styler.format("{:.1%}", subset=present, na_rep="")
    text = [c for c in frame if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    if isinstance(frame.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    return styler.format_index(escape="html")


def _axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _note(ax: Axes, text: str, *, title: str) -> Axes:
    """Draw a short note instead of a chart the data cannot support."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#555555")
    ax.set(title=title)
    ax.axis("off")
    return ax


def _thousands(ax: Axes, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis

    def label(value: float, _: int) -> str:
        # Billions in full ("5,000,000,000") overlap; write them as "5.00bn".
        if max(abs(x) for x in target.get_view_interval()) >= 1e9:
            return _short(value)
        return f"{value:,.0f}"

    target.set_major_formatter(FuncFormatter(label))


def volume_over_time(volume: pd.DataFrame, *, value: str = "revenue",
                     ax: Axes | None = None) -> Axes:
    """Line of ``value`` per period (gaps show as drops to zero).

    Parameters
    ----------
    volume : pandas.DataFrame
        Columns ``period`` and ``value``.
    value : str
        Column to plot.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    ax.plot(volume["period"], volume[value], marker="o", markersize=3)
    ax.set(title=f"{value.replace('_', ' ').capitalize()} per period", xlabel="",
           ylabel=value.replace("_", " "))
    _thousands(ax)
    return ax


def missing_values(missing: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the share of missing values per column.

    Parameters
    ----------
    missing : pandas.DataFrame
        Columns ``column`` and ``missing_share``.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    sns.barplot(missing, y="column", x="missing_share", color="#4c72b0", ax=ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title="Share of missing values per column", xlabel="missing", ylabel="")
    return ax


def distribution(values: pd.Series | None, *, label: str, log: bool = True,
                 ax: Axes | None = None) -> Axes:
    """Histogram of positive values, on a log scale when skewed.

    Parameters
    ----------
    values : pandas.Series or None
        Values (non-positive ones are left out of a log plot); None when the data has
        no such column, which draws a note instead.
    label : str
        What the values are, with their unit.
    log : bool
        Log-scale the x axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    if values is None or values.dropna().empty:
        return _note(ax, f"No {label} in this data", title=f"Distribution of {label}")
    shown = (values[values > 0] if log else values).dropna().to_numpy(dtype=float)
    # Binned by numpy and drawn from the counts: seaborn's histplot takes seconds per
    # chart on ten million customers, numpy a tenth of one.
    low, high = (np.log10(shown.min()), np.log10(shown.max())) if log else (shown.min(),
                                                                          shown.max())
    edges = np.linspace(low, high, 41) if high > low else np.array([low - 0.5, high + 0.5])
    edges = 10 ** edges if log else edges
    counts, edges = np.histogram(shown, bins=edges)
    ax.hist(edges[:-1], bins=edges, weights=counts, color="#4c72b0", alpha=0.75,
            edgecolor="white", linewidth=0.5)
    if log:
        ax.set_xscale("log")
    ax.set(title=f"Distribution of {label}", xlabel=label, ylabel="count")
    return ax


def feature_distributions(features: pd.DataFrame, columns: list[str]) -> plt.Figure:
    """Small multiples: one histogram per feature (log scale for skewed ones).

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table.
    columns : list of str
        Features to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(columns)
    ncols = 3
    fig, axes = plt.subplots(int(np.ceil(n / ncols)), ncols, figsize=(11, 2.8 * np.ceil(n / 3)))
    for ax, column in zip(axes.flat, columns, strict=False):
        values = features[column].dropna()
        skewed = values.min() >= 0 and values.skew() > 2
        distribution(values, label=column.replace("_", " "), log=bool(skewed), ax=ax)
        ax.set_title(column.replace("_", " "), fontsize=10)
    for ax in axes.flat[n:]:
        ax.remove()
    fig.suptitle("How customers are distributed on each feature", fontweight="bold")
    fig.tight_layout()
    return fig


def segment_sizes(customers: pd.DataFrame, segment_col: str, *, order: list | None = None,
                  ax: Axes | None = None) -> Axes:
    """Share of customers and share of revenue per segment, side by side.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``revenue`` and ``segment_col``.
    segment_col : str
        Segmentation to show.
    order : list, optional
        Segment order (default: numeric labels in order, names by revenue share).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    shares = pd.DataFrame({
        "customers": customers[segment_col].value_counts(normalize=True),
        "revenue": customers.groupby(segment_col)["revenue"].sum()
        / customers["revenue"].sum(),
    })
    if order is None:
        numeric = pd.api.types.is_numeric_dtype(customers[segment_col])
        order = shares.index if numeric else shares.sort_values("revenue", ascending=False).index
    order = [s for s in order if s in shares.index]
    long = shares.loc[order].reset_index(names="segment").melt(
        id_vars="segment", var_name="share of", value_name="share")
    long["segment"] = long["segment"].astype(str)
    sns.barplot(long, y="segment", x="share", hue="share of", ax=ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title=f"Customers and revenue by {segment_col.replace('_', ' ')}",
           xlabel="share of all", ylabel="")
    return ax


def rf_heatmap(customers: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Count customers per recency score x frequency score cell.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``r_score`` and ``f_score``.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (6, 4.5))
    grid = pd.crosstab(customers["r_score"], customers["f_score"]).sort_index(ascending=False)
    sns.heatmap(grid, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(title="Customers by recency and frequency score",
           xlabel="frequency score (5 = most orders)", ylabel="recency score (5 = most recent)")
    return ax


def k_selection(k_scores: dict[str, pd.DataFrame], *, min_stability: float | None = None
                ) -> plt.Figure:
    """Plot the curves that justify k, one row per method.

    Columns: silhouette and stability (both 0-1, the two the rule weighs),
    Calinski-Harabasz (higher is better), Davies-Bouldin (lower is better), and the
    within-cluster sum of squares with its elbow (BIC for mixtures, lower is better).

    Parameters
    ----------
    k_scores : dict
        Method name to ``seglab.cluster.KScan.scores``, whose ``chosen`` column marks
        the k picked.
    min_stability : float, optional
        Stability threshold of the rule, drawn as a dotted line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(max(1, len(k_scores)), 4, figsize=(12, 2.6 * max(1, len(k_scores))),
                             squeeze=False)
    for row, (method, scores) in zip(axes, k_scores.items(), strict=False):
        chosen = int(scores.loc[scores["chosen"], "k"].iat[0]) if "chosen" in scores else None
        ax = row[0]
        ax.plot(scores["k"], scores["silhouette"], marker="o", label="silhouette")
        if "stability" in scores:
            ax.plot(scores["k"], scores["stability"], marker="s", label="stability")
        if min_stability is not None:
            ax.axhline(min_stability, color="grey", linestyle=":", linewidth=1)
        ax.set(title=f"{method}: separation and stability", ylim=(-0.05, 1.05))
        ax.legend(fontsize=7, loc="lower left")
        ax = row[1]
        ax.plot(scores["k"], scores["calinski_harabasz"], marker="o")
        ax.set(title=f"{method}: Calinski-Harabasz (higher better)")
        ax = row[2]
        ax.plot(scores["k"], scores["davies_bouldin"], marker="o")
        ax.set(title=f"{method}: Davies-Bouldin (lower better)")
        ax = row[3]
        if "bic" in scores:
            ax.plot(scores["k"], scores["bic"], marker="o")
            ax.set(title=f"{method}: BIC (lower better)")
        else:
            ax.plot(scores["k"], scores["inertia"], marker="o")
            if "elbow" in scores and scores["elbow"].any():
                at = scores.loc[scores["elbow"]].iloc[0]
                ax.scatter([at["k"]], [at["inertia"]], s=120, facecolors="none",
                           edgecolors="#dd8452", linewidths=2, zorder=3, label="elbow")
                ax.legend(fontsize=7)
            ax.set(title=f"{method}: within-cluster spread (elbow)")
        for ax in row:
            if chosen is not None:
                ax.axvline(chosen, color="#c44e52", linestyle="--", linewidth=1)
            ax.set_xlabel("k (segments)")
            ax.title.set_fontsize(9)
    fig.suptitle("Choosing the number of segments (red dashed line: chosen k)",
                 fontweight="bold")
    fig.tight_layout()
    return fig


def _scatter_segments(ax: Axes, xy: np.ndarray, labels: np.ndarray, *, legend: bool) -> None:
    """Scatter points coloured by segment; noise (-1) in light grey underneath."""
    values = sorted(pd.unique(labels), key=lambda v: (str(v) == "-1", str(v)))
    clusters = [v for v in values if str(v) != "-1"]
    palette = sns.color_palette("tab10" if len(clusters) <= 10 else "tab20", len(clusters))
    noise = np.array([str(v) == "-1" for v in labels])
    if noise.any():
        ax.scatter(xy[noise, 0], xy[noise, 1], s=4, color="#cccccc", linewidths=0,
                   label="noise")
    for color, value in zip(palette, clusters, strict=True):
        hit = labels == value
        ax.scatter(xy[hit, 0], xy[hit, 1], s=5, color=color, linewidths=0, alpha=0.75,
                   label=str(value))
    if legend:
        ax.legend(title="segment", markerscale=3, fontsize=7, loc="best")


def cluster_maps(xy: np.ndarray, labels: dict[str, np.ndarray], *, rows: np.ndarray,
                 title: str = "Each method's segments on the same map",
                 ncols: int = 3) -> plt.Figure:
    """Small multiples: the same 2-D map of customers, coloured by each method's segments.

    Parameters
    ----------
    xy : numpy.ndarray
        2-D coordinates (``seglab.cluster.map_coordinates``) of the customers ``rows``.
    labels : dict
        Method name → labels of all customers (-1 = noise, grey).
    rows : numpy.ndarray
        Which customers ``xy`` holds.
    title : str
        Figure title.
    ncols : int
        Maps per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = max(1, len(labels))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.6 * nrows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (name, values) in zip(axes.flat, labels.items(), strict=False):
        _scatter_segments(ax, xy, np.asarray(values)[rows], legend=True)
        ax.set_title(name, fontsize=10)
    for ax in axes.flat[n:]:
        ax.remove()
    fig.suptitle(title, fontweight="bold")
    fig.supxlabel("map dimension 1", fontsize=9)
    fig.supylabel("map dimension 2", fontsize=9)
    fig.tight_layout()
    return fig


def profile_heatmap(profile: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Standardised feature means per cluster: what makes each cluster different.

    Parameters
    ----------
    profile : pandas.DataFrame
        Output of :func:`seglab.cluster.cluster_profile`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (max(9.0, 0.6 * profile.shape[1] + 3), 0.5 * len(profile) + 2.5))
    shown = profile.rename(index=lambda v: "noise" if str(v) == "-1" else v)
    sns.heatmap(shown, annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-2, vmax=2, ax=ax,
                annot_kws={"fontsize": 8},
                cbar_kws={"label": "standard deviations from the average customer"})
    ax.set(title="What sets each segment apart (feature means, standardised)",
           xlabel="", ylabel="segment")
    ax.set_xticklabels([t.get_text().replace("_", " ") for t in ax.get_xticklabels()],
                       rotation=35, ha="right")
    return ax


def crosstab_heatmap(rows: pd.Series | None, columns: pd.Series, *, title: str,
                     ax: Axes | None = None) -> Axes:
    """Share of each row group falling in each column group.

    Parameters
    ----------
    rows, columns : pandas.Series
        Two labellings of the same customers; ``rows`` None (no planted truth on real
        data) draws a note instead.
    title : str
        Plot title.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    width = 8.0 if columns is None else max(8.0, 0.75 * columns.nunique() + 3)
    ax = _axes(ax, (width, 4.5))
    if rows is None:
        return _note(ax, "Not available for this data", title=title)
    shares = pd.crosstab(rows, columns, normalize="index")
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(title=title, xlabel=str(columns.name).replace("_", " "),
           ylabel=str(rows.name).replace("_", " "))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    return ax


def agreement_heatmap(agreement: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Pairwise agreement (adjusted Rand index) between methods and rule segments.

    Parameters
    ----------
    agreement : pandas.DataFrame
        Output of :func:`seglab.cluster.agreement` (square, 1 on the diagonal).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (0.8 * len(agreement) + 3, 0.6 * len(agreement) + 2))
    sns.heatmap(agreement, annot=True, fmt=".2f", cmap="Greens", vmin=0, vmax=1, ax=ax,
                annot_kws={"fontsize": 8},
                cbar_kws={"label": "adjusted Rand index (1 = same segments, 0 = chance)"})
    ax.set(title="How far the methods agree on who belongs together", xlabel="", ylabel="")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    return ax


def method_scores(comparison: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Separation, stability, coverage and (when known) accuracy of each method, as bars.

    Parameters
    ----------
    comparison : pandas.DataFrame
        ``clustering_comparison.csv``: ``method``, ``silhouette``, ``stability``,
        ``noise_share`` and optionally ``ari_truth``; the chosen method (``chosen``)
        is starred.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (10, 4.2))
    frame = comparison.assign(assigned=1 - comparison["noise_share"])
    measures = {"silhouette": "separation (silhouette)", "stability": "stability (ARI)",
                "assigned": "customers assigned", "ari_truth": "match to planted truth (ARI)"}
    present = {k: v for k, v in measures.items() if k in frame and frame[k].notna().any()}
    names = [f"{m} *" if chosen else m for m, chosen in
             zip(frame["method"], frame.get("chosen", [False] * len(frame)), strict=True)]
    long = frame.assign(method=names).melt(id_vars="method", value_vars=list(present),
                                           var_name="measure", value_name="score")
    long["measure"] = long["measure"].map(present)
    sns.barplot(long, x="method", y="score", hue="measure", ax=ax)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(title="Methods side by side (* = chosen)", xlabel="", ylabel="score (higher is better)",
           ylim=(min(-0.1, float(long["score"].min()) - 0.05), 1.05))
    ax.tick_params(axis="x", labelrotation=20)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def segment_pnl_bars(pnl: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Revenue, gross margin, cost-to-serve and profit per segment.

    Parameters
    ----------
    pnl : pandas.DataFrame
        Output of :func:`seglab.profit.segment_pnl` (the portfolio row is dropped); an
        optional ``persona`` column labels the segments.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    shown = pnl.drop(index="Portfolio", errors="ignore")
    ax = _axes(ax, (9, 0.6 * len(shown) + 2))
    measures = shown[["revenue", "gross_margin", "cost_to_serve", "profit"]].copy()
    measures.index = _segment_labels(shown)
    measures.columns = [c.replace("_", " ") for c in measures.columns]
    long = measures.reset_index(names="segment").melt(id_vars="segment", var_name="measure")
    sns.barplot(long, y="segment", x="value", hue="measure", ax=ax)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(title="Revenue, margin, cost-to-serve and profit by segment", ylabel="",
           xlabel="currency")
    ax.legend(title="", fontsize=8, loc="lower right")
    _thousands(ax, "x")
    return ax


#: Most dots (or line points) a chart draws; above it, a seeded random sample (or every
#: n-th point of a curve), so a chart of ten million customers draws in a second.
MAX_DOTS = 50_000


def whale_curve(curve: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Cumulative profit against customers ranked by profit, with its peak marked.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`seglab.profit.whale_curve`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (7, 4.2))
    drawn = curve
    if len(curve) > MAX_DOTS:  # a line of millions of points draws the same, slowly
        step = len(curve) // MAX_DOTS
        drawn = curve.iloc[np.unique(np.r_[np.arange(0, len(curve), step), len(curve) - 1])]
    ax.plot(drawn["customer_share"], drawn["cumulative_profit_share"])
    peak = curve["cumulative_profit_share"].idxmax()
    x, y = curve.loc[peak, ["customer_share", "cumulative_profit_share"]]
    ax.scatter([x], [y], color="#c44e52", zorder=3)
    label = f"{x:.0%} of customers earn {y:.0%} of the profit"
    if y > 1:
        label += f";\nthe other {1 - x:.0%} give back {y - 1:.0%}"
    ax.annotate(label, (x, y), textcoords="offset points", xytext=(10, -30), fontsize=9)
    ax.axhline(1, color="grey", linestyle=":")
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title="Whale curve: who makes the profit",
           xlabel="customers, most profitable first", ylabel="cumulative share of total profit")
    return ax


def _segment_labels(table: pd.DataFrame) -> list[str]:
    """Segment labels for an axis: ``"<segment> · <persona>"`` when personas are known."""
    labels = table.index.astype(str)
    if "persona" in table:
        return [f"{s} · {p}" if isinstance(p, str) and p else s
                for s, p in zip(labels, table["persona"], strict=True)]
    return list(labels)


def _short(value: float) -> str:
    """Money in a few characters: 1,234 / 12.3k / 4.56m / 1.2bn."""
    size = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e4, "k")):
        if size >= limit:
            scale = 1e3 if suffix == "k" else limit
            return f"{value / scale:,.{1 if suffix == 'k' else 2}f}{suffix}"
    return f"{value:,.0f}"


def pnl_waterfall(totals: dict[str, float], *, ax: Axes | None = None) -> Axes:
    """Walk from gross sales to profit: every discount, cost and charge as a step.

    Parameters
    ----------
    totals : dict
        Portfolio totals of the P&L lines (:func:`seglab.profit.portfolio_totals`).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    steps = [("gross sales", totals["gross_sales"], "total"),
             ("discounts", -totals["discounts"], "step"), ("returns", -totals["returns"], "step"),
             ("revenue", totals["revenue"], "total"),
             ("cost of goods", -totals["cost_of_goods"], "step"),
             ("gross margin", totals["gross_margin"], "total")]
    steps += [(name.replace("_", " "), -totals[name], "step") for name in
              ("handling", "shipping", "rent", "returns_handling", "service", "marketing")]
    steps.append(("profit", totals["profit"], "total"))
    ax = _axes(ax, (11, 4.8))
    level = 0.0
    for i, (_, value, kind) in enumerate(steps):
        if kind == "total":
            bottom, height, color = 0.0, value, "#4c72b0" if value >= 0 else "#c44e52"
            level = value
        else:
            bottom, height, color = level, value, "#dd8452" if value < 0 else "#55a868"
            level += value
        ax.bar(i, height, bottom=bottom, color=color)
        ax.annotate(_short(value), (i, max(bottom, bottom + height)), ha="center",
                    va="bottom", fontsize=8, textcoords="offset points", xytext=(0, 2))
    ax.set_xticks(range(len(steps)), [s[0] for s in steps], rotation=35, ha="right")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(title="From gross sales to profit: the whole portfolio", ylabel="currency")
    _thousands(ax)
    return ax


def cost_to_serve_bars(pnl: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Cost-to-serve per customer by segment, split into its parts.

    Parameters
    ----------
    pnl : pandas.DataFrame
        Output of :func:`seglab.profit.segment_pnl` (with the parts of cost-to-serve;
        an optional ``persona`` column labels the segments; the portfolio row is dropped).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    pnl = pnl.drop(index="Portfolio", errors="ignore")
    parts = [c for c in ("handling", "shipping", "rent", "returns_handling", "service",
                         "marketing") if c in pnl]
    per_customer = pnl[parts].div(pnl["customers"], axis=0)
    per_customer.index = _segment_labels(pnl)
    per_customer.columns = [c.replace("_", " ") for c in parts]
    ax = _axes(ax, (9, 0.45 * len(pnl) + 1.8))
    per_customer.iloc[::-1].plot.barh(stacked=True, ax=ax, width=0.7,
                                       color=sns.color_palette("Set2", len(parts)))
    ax.set(title="Cost-to-serve per customer, by segment", xlabel="currency per customer",
           ylabel="")
    ax.legend(title="", fontsize=8, loc="lower right")
    _thousands(ax, "x")
    return ax


def unprofitable_share(pnl: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Share of customers who lose money, by segment (the portfolio as a reference line).

    Parameters
    ----------
    pnl : pandas.DataFrame
        Output of :func:`seglab.profit.segment_pnl`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    shown = pnl.drop(index="Portfolio", errors="ignore")
    ax = _axes(ax, (8, 0.4 * len(shown) + 1.8))
    labels = _segment_labels(shown)
    ax.barh(labels[::-1], shown["unprofitable_share"].to_numpy()[::-1], color="#c44e52")
    if "Portfolio" in pnl.index:
        ax.axvline(pnl.loc["Portfolio", "unprofitable_share"], color="black", linestyle="--",
                   linewidth=1, label="all customers")
        ax.legend(loc="lower right", fontsize=8)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title="Customers who lose money, by segment", xlabel="share of the segment's customers",
           ylabel="")
    return ax


@_nothing_when_empty
def calibration_holdout(check: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Mean purchases in the holdout period, actual against BG/NBD's forecast.

    Parameters
    ----------
    check : pandas.DataFrame
        Output of :func:`seglab.clv.holdout_check`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (8, 4.2))
    x = np.arange(len(check))
    ax.plot(x, check["actual"], marker="o", label="actual")
    ax.plot(x, check["predicted"], marker="s", linestyle="--", label="predicted (BG/NBD)")
    actual = float((check["actual"] * check["customers"]).sum())
    predicted = float((check["predicted"] * check["customers"]).sum())
    gap = (predicted - actual) / actual if actual else float("nan")
    ax.set_xticks(x, check["calibration_purchases"])
    ax.set(title="Does the purchase model forecast the holdout period?",
           xlabel="repeat purchases in the calibration period",
           ylabel="mean purchases per customer in holdout")
    ax.legend(title=f"all customers: {predicted:,.0f} predicted, {actual:,.0f} actual "
                    f"({gap:+.1%})", title_fontsize=8, fontsize=8, loc="upper left")
    return ax


def value_growth_bubbles(cards: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Place segments on the value x growth matrix, bubbles sized by customers.

    Value is revenue per customer in the last 180 days; growth its change per customer
    against the 180 days before. Dashed lines: all customers' value, and no growth.

    Parameters
    ----------
    cards : pandas.DataFrame
        Output of :func:`seglab.persona.persona_cards` (``recent_revenue_per_customer``,
        ``revenue_growth_per_customer``, ``customers``, ``persona``, ``strategy``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (9, 6))
    if "recent_revenue_per_customer" not in cards:
        ax.text(0.5, 0.5, "No value-growth columns for this segmentation", ha="center")
        ax.axis("off")
        return ax
    x, y = cards["recent_revenue_per_customer"], cards["revenue_growth_per_customer"]
    size = 3000 * cards["customers"] / cards["customers"].sum() + 40
    strategies = list(dict.fromkeys(cards["strategy"]))
    palette = dict(zip(strategies, sns.color_palette("tab10", len(strategies)), strict=True))
    for strategy in strategies:
        pick = cards["strategy"] == strategy
        ax.scatter(x[pick], y[pick], s=size[pick], alpha=0.55, color=palette[strategy],
                   edgecolor="black", linewidth=0.6, label=strategy)
    middle = (x.min() + x.max()) / 2
    for segment, card in cards.iterrows():
        left = x[segment] <= middle
        ax.annotate(f"{segment} · {card['persona']}", (x[segment], y[segment]), fontsize=7,
                    ha="left" if left else "right", va="bottom", textcoords="offset points",
                    xytext=(6 if left else -6, 8))
    overall = float((x * cards["customers"]).sum() / cards["customers"].sum())
    ax.axvline(overall, color="grey", linestyle="--", linewidth=1)
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    ax.set(title="Value x growth: where each segment stands",
           xlabel="value: revenue per customer, last 180 days",
           ylabel="growth: change per customer vs the 180 days before")
    ax.legend(title="strategy", fontsize=8, markerscale=0.4, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    ax.margins(0.15)
    _thousands(ax)
    _thousands(ax, "x")
    return ax


def persona_composition(persona: pd.Series, truth: pd.Series | None, *,
                        order: list | pd.Series | None = None, ax: Axes | None = None) -> Axes:
    """Show what each persona is made of: its customers' shares by planted segment.

    Parameters
    ----------
    persona : pandas.Series
        Persona per customer.
    truth : pandas.Series or None
        Planted segment per customer (synthetic data); None draws a note instead.
    order : list or pandas.Series, optional
        Personas from the top (default alphabetical).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    title = "Which planted segments each persona holds"
    if truth is None:
        ax = _axes(ax, (8, 2))
        ax.text(0.5, 0.5, "Not available: this data has no planted segments", ha="center",
                va="center")
        ax.set(title=title)
        ax.axis("off")
        return ax
    shares = pd.crosstab(persona.to_numpy(), truth.to_numpy(), normalize="index")
    if order is not None:
        shares = shares.reindex([p for p in order if p in shares.index])
    ax = _axes(ax, (10, 0.5 * len(shares) + 2))
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=title, xlabel="planted segment", ylabel="")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=25, ha="right")
    return ax


def revenue_profit_scatter(customers: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Profit against revenue per customer: revenue alone does not tell who earns money.

    Customers below zero lose money; red ones have a positive gross margin, so the
    cost-to-serve alone turns them into losses.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``revenue``, ``gross_margin`` and ``profit``.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (8, 5))
    # Three columns before filtering: the whole table would be copied (6 GB at 10M rows).
    shown = customers.loc[customers["revenue"] > 0, ["revenue", "gross_margin", "profit"]]
    title = "Profit against revenue, one dot per customer"
    if len(shown) > MAX_DOTS:
        title += f" (a random {MAX_DOTS:,} of {len(shown):,})"
        shown = shown.sample(MAX_DOTS, random_state=0)
    turned = (shown["gross_margin"] > 0) & (shown["profit"] < 0)
    losing = (shown["profit"] < 0) & ~turned
    earning = shown["profit"] >= 0
    ax.scatter(shown.loc[earning, "revenue"], shown.loc[earning, "profit"], s=6, alpha=0.35,
               color="#4c72b0", label="earns money")
    ax.scatter(shown.loc[losing, "revenue"], shown.loc[losing, "profit"], s=10, alpha=0.7,
               color="#dd8452", label="loses money on the goods (returns, write-offs)")
    ax.scatter(shown.loc[turned, "revenue"], shown.loc[turned, "profit"], s=18, alpha=0.9,
               color="#c44e52", label="gross margin positive, lost to cost-to-serve")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=100)
    ax.set(title=title, xlabel="revenue (log scale)", ylabel="profit (symmetric log scale)")
    ax.legend(fontsize=8, loc="upper left")
    _thousands(ax, "x")
    return ax


# --- segments over time (notebook 05) ------------------------------------------------------


def _compact_money(value: float) -> str:
    """Money in a few characters for crowded charts: 950 / 12.3k / 4.56m."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:,.2f}m"
    if size >= 1e4:
        return f"{value / 1e3:,.1f}k"
    if size < 10 and value != round(value):
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _segment_colors(labels: list) -> dict:
    """One stable colour per segment label; new customers in grey."""
    palette = sns.color_palette("tab20", max(len(labels), 1))
    colors = {label: palette[i % len(palette)] for i, label in enumerate(labels)}
    if "(new)" in colors:
        colors["(new)"] = (0.6, 0.6, 0.6)
    return colors


@_nothing_when_empty
def transition_heatmap(matrix: pd.DataFrame, *, title: str | None = None, share: bool = True,
                       ax: Axes | None = None) -> Axes:
    """Heatmap of a from-segment x to-segment matrix (row shares by default).

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of :func:`seglab.dynamics.transition_matrix`.
    title : str, optional
        Title; a default one says what the cells are.
    share : bool
        Cells are row shares (shown as %) rather than amounts.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (0.75 * matrix.shape[1] + 3.5, 0.45 * matrix.shape[0] + 2))
    if matrix.empty:
        return _note(ax, "No customers moved between these dates", title=title or "Migration")
    labels = matrix.map(lambda v: f"{v:.0%}" if v >= 0.005 else "") if share else \
        matrix.map(lambda v: _compact_money(v) if v else "")
    sns.heatmap(matrix, annot=labels, fmt="", cmap="Blues", cbar=False, vmin=0,
                vmax=1 if share else None, linewidths=0.5, linecolor="white", ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(title=title or "Where each segment's customers went (share of the row)",
           xlabel="segment at the later date", ylabel="segment at the earlier date")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


@_nothing_when_empty
def migration_flow(migration: pd.DataFrame, *, steps: int = 2, order: list | None = None,
                   ax: Axes | None = None) -> Axes:
    """Alluvial chart of the last migration steps: bands of customers between dates.

    Each column is a snapshot date with its segments stacked (height = customers); a
    band joins a segment at one date to a segment at the next. Customers first seen in
    a step start from a grey "(new)" block under the earlier column.

    Parameters
    ----------
    migration : pandas.DataFrame
        Output of :func:`seglab.dynamics.migration` (``from_date``, ``to_date``,
        ``from_segment``, ``to_segment``, ``customers``).
    steps : int
        How many of the last steps to draw.
    order : list, optional
        Segment order, top to bottom; default order of first appearance.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path

    title = "How customers moved between segments"
    ax = _axes(ax, (12, 7))
    if migration.empty:
        return _note(ax, "No migration to draw", title=title)
    starts = sorted(migration["from_date"].astype(str).unique())[-max(1, steps):]
    flows = migration[migration["from_date"].astype(str).isin(starts)].copy()
    dates = [*starts, str(flows["to_date"].max())]
    labels = order or list(dict.fromkeys([*flows["from_segment"], *flows["to_segment"]]))
    labels = [x for x in labels if x != "(new)"] + [x for x in dict.fromkeys(
        [*flows["from_segment"], *flows["to_segment"]]) if x not in labels and x != "(new)"]
    colors = _segment_colors(["(new)", *labels])
    total = max(
        flows.groupby("from_date")["customers"].sum().max(),
        flows.groupby("to_date")["customers"].sum().max(),
    )
    gap = 0.012 * total
    width = 0.06

    def stack(sizes: dict) -> dict:
        """Top and bottom of each block of a column, segments top down then (new)."""
        blocks, top = {}, 0.0
        for label in [*labels, "(new)"]:
            size = sizes.get(label, 0)
            if size > 0:
                blocks[label] = (top, top + size)
                top += size + gap
        return blocks

    columns = []
    for i, date in enumerate(dates):
        sizes: dict = {}
        if i > 0:
            sizes.update(flows[flows["to_date"] == date].groupby("to_segment")["customers"].sum())
        if i < len(dates) - 1:
            out = flows[flows["from_date"] == date].groupby("from_segment")["customers"].sum()
            if i == 0:
                sizes.update({k: v for k, v in out.items()})
            elif "(new)" in out:
                sizes["(new)"] = out["(new)"]
        columns.append(stack(sizes))

    for i, date in enumerate(dates[:-1]):
        step = flows[flows["from_date"] == date]
        out_cursor = {k: v[0] for k, v in columns[i].items()}
        in_cursor = {k: v[0] for k, v in columns[i + 1].items()}
        rank = {label: n for n, label in enumerate([*labels, "(new)"])}
        step = step.assign(_f=step["from_segment"].map(rank), _t=step["to_segment"].map(rank))
        for _, flow in step.sort_values(["_f", "_t"]).iterrows():
            n = flow["customers"]
            y0 = out_cursor[flow["from_segment"]]
            y1 = in_cursor[flow["to_segment"]]
            out_cursor[flow["from_segment"]] += n
            in_cursor[flow["to_segment"]] += n
            x0, x1 = i + width / 2, i + 1 - width / 2
            xm = (x0 + x1) / 2
            path = Path(
                [(x0, y0), (xm, y0), (xm, y1), (x1, y1), (x1, y1 + n), (xm, y1 + n),
                 (xm, y0 + n), (x0, y0 + n), (x0, y0)],
                [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO,
                 Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY],
            )
            ax.add_patch(PathPatch(path, facecolor=colors[flow["from_segment"]], alpha=0.45,
                                   edgecolor="none"))
    for i, blocks in enumerate(columns):
        for label, (low, high) in blocks.items():
            ax.add_patch(Rectangle((i - width / 2, low), width, high - low,
                                   facecolor=colors[label], edgecolor="white", linewidth=0.5))
            if high - low >= 0.018 * total:
                side = -1 if i == 0 else 1
                ax.text(i + side * (width / 2 + 0.01), (low + high) / 2,
                        f"{label} ({high - low:,.0f})", fontsize=7, va="center",
                        ha="right" if side < 0 else "left")
    ax.set_xlim(-0.55, len(dates) - 0.45)
    ax.set_ylim(max(max(b[1] for b in c.values()) for c in columns) + gap, -gap)
    ax.set_xticks(range(len(dates)), dates)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set(title=title, xlabel="snapshot date", ylabel="customers (band height)")
    return ax


@_nothing_when_empty
def cohort_heatmap(cohorts: pd.DataFrame, *, value: str = "retention",
                   ax: Axes | None = None) -> Axes:
    """Cohort triangle: acquisition month (rows) by months since acquisition (columns).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`seglab.dynamics.cohorts`.
    value : {"retention", "revenue_per_customer"}
        Share of the cohort buying that month, or its net revenue per cohort customer.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    grid = cohorts.pivot(index="cohort", columns="month", values=value)
    sizes = cohorts.groupby("cohort")["cohort_customers"].first()
    ax = _axes(ax, (0.6 * grid.shape[1] + 3, 0.42 * grid.shape[0] + 2))
    retention = value == "retention"
    if retention and grid.shape[1] > 1:
        grid = grid.drop(columns=0)  # month 0 is 100% by definition
    annot = grid.map(
        lambda v: "" if pd.isna(v) else (f"{v:.0%}" if retention else _compact_money(v)))
    sns.heatmap(grid, annot=annot, fmt="", cmap="YlGnBu", cbar=False, ax=ax,
                annot_kws={"fontsize": 7}, linewidths=0.3, linecolor="white")
    ax.grid(False)
    ax.set_yticklabels([f"{c} ({sizes[c]:,})" for c in grid.index], rotation=0)
    what = "share of the cohort buying" if retention else "net revenue per cohort customer"
    ax.set(title=f"Cohorts by acquisition month: {what}",
           xlabel="months since the first purchase", ylabel="acquisition month (customers)")
    return ax


@_nothing_when_empty
def churn_calibration(calibration: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Predicted churn risk against the churn observed, per risk decile of the holdout.

    Parameters
    ----------
    calibration : pandas.DataFrame
        ``predicted`` and ``observed`` per bin (``ChurnResult.calibration``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (5.5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly honest")
    ax.plot(calibration["predicted"], calibration["observed"], marker="o",
            label="churn model, one dot per decile")
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set(xlim=(0, 1), ylim=(0, 1), title="Is the churn risk honest? (holdout)",
           xlabel="predicted risk of no purchase", ylabel="customers who did not buy")
    ax.legend(fontsize=8, loc="upper left")
    return ax


@_nothing_when_empty
def churn_drivers(drivers: pd.DataFrame, *, top: int = 10, ax: Axes | None = None) -> Axes:
    """Strongest drivers of churn risk: the drop in holdout ROC AUC when each is shuffled.

    Parameters
    ----------
    drivers : pandas.DataFrame
        ``feature``, ``auc_drop``, ``auc_drop_sd`` and ``direction``
        (``ChurnResult.drivers``).
    top : int
        Drivers shown.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    shown = drivers.head(top).iloc[::-1]
    ax = _axes(ax, (8, 0.38 * len(shown) + 1.5))
    labels = [f"{f.replace('_', ' ')} ({d})" if d else f.replace("_", " ")
              for f, d in zip(shown["feature"], shown["direction"], strict=True)]
    ax.barh(labels, shown["auc_drop"], xerr=shown["auc_drop_sd"], color="#4c72b0")
    ax.set(title="What drives churn risk", ylabel="",
           xlabel="drop in holdout ROC AUC when the feature is shuffled")
    return ax


@_nothing_when_empty
def segment_monitor(monitoring: pd.DataFrame, *, order: list | None = None) -> plt.Figure:
    """Small multiples: one row per segment, one column per figure, over the snapshots.

    Parameters
    ----------
    monitoring : pandas.DataFrame
        Output of :func:`seglab.dynamics.monitoring` (``date``, ``segment``,
        ``customers``, ``revenue``, ``profit``, ``avg_order_value``, ``churn_share``,
        ``churn_basis``).
    order : list, optional
        Segments, top to bottom.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import MaxNLocator

    metrics = [("customers", "customers"), ("revenue", "revenue in the period"),
               ("profit", "profit in the period"), ("avg_order_value", "average order value"),
               ("churn_share", "churn share (next horizon)")]
    segments_ = order or list(dict.fromkeys(monitoring["segment"]))
    segments_ = [s for s in segments_ if s in set(monitoring["segment"])]
    fig, axes = plt.subplots(len(segments_), len(metrics), sharex=True,
                             figsize=(13, 1.15 * len(segments_) + 1.2), squeeze=False)
    dates = sorted(monitoring["date"].unique())
    x = {d: i for i, d in enumerate(dates)}
    for row, segment in enumerate(segments_):
        part = monitoring[monitoring["segment"] == segment].sort_values("date")
        xs = part["date"].map(x).to_numpy()
        for col, (metric, label) in enumerate(metrics):
            ax = axes[row, col]
            ax.yaxis.set_major_locator(MaxNLocator(3))
            values = part[metric].to_numpy(dtype=float)
            if metric == "churn_share":
                seen = (part["churn_basis"] == "observed").to_numpy()
                ax.plot(xs[seen], values[seen], marker="o", markersize=3, color="#c44e52")
                ax.plot(xs[~seen], values[~seen], marker="o", markersize=4, linestyle="",
                        markerfacecolor="white", color="#c44e52")
                ax.yaxis.set_major_formatter(PercentFormatter(1, decimals=0))
                ax.set_ylim(0, 1.05)
            else:
                ax.plot(xs, values, marker="o", markersize=3, color="#4c72b0")
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact_money(v)))
                if not np.isfinite(values).any():
                    ax.set_yticks([])
                elif np.nanmin(values) >= 0:
                    ax.set_ylim(bottom=0, top=max(np.nanmax(values) * 1.15, 1))
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(label, fontsize=9)
            if col == 0:
                ax.set_ylabel(segment, rotation=0, ha="right", va="center", fontsize=8)
    for ax in axes[-1]:
        ax.set_xticks(range(len(dates)), [pd.Timestamp(d).strftime("%y-%m") for d in dates],
                      rotation=45, fontsize=7)
    fig.suptitle("Segment monitor: each segment over the snapshots (own scale per panel; "
                 "hollow dots: predicted)", fontweight="bold")
    # Fixed margins: tight_layout on dozens of small axes costs seconds.
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.14, right=0.99, bottom=0.75 / height, top=1 - 0.75 / height,
                        wspace=0.45, hspace=0.25)
    return fig


def value_pyramid(customers: pd.DataFrame, *, order: list, tier_col: str = "value_tier",
                  value_col: str = "revenue", ax: Axes | None = None) -> Axes:
    """Draw the customer pyramid, top tier on top, each level labelled beside it.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``tier_col`` and ``value_col``.
    order : list
        Tiers from the top.
    tier_col : str
        Tier column.
    value_col : str
        What the tiers rank by (``revenue`` or ``profit``).
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (9, 3.8))
    grouped = customers.groupby(tier_col)
    value = grouped[value_col].sum().reindex(order).fillna(0)
    total = value.sum()
    value_share = value / total if total else value * 0
    customer_share = grouped.size().reindex(order).fillna(0) / max(len(customers), 1)
    widths = np.linspace(0.3, 1.0, len(order))
    colours = sns.color_palette("crest", len(order))
    for level, (tier, width) in enumerate(zip(order, widths, strict=True)):
        y = len(order) - 1 - level
        ax.barh(y, width, left=(1 - width) / 2, color=colours[level], height=0.85)
        ax.text(0.5, y, f"{value_share[tier]:.0%}", ha="center", va="center", color="white",
                fontweight="bold")
        ax.text(1.04, y, f"{tier}: {customer_share[tier]:.0%} of customers, "
                f"{value_share[tier]:.0%} of {value_col.replace('_', ' ')}",
                ha="left", va="center")
    ax.set(title=f"Customer pyramid: share of {value_col.replace('_', ' ')} by tier",
           xlim=(0, 1), ylim=(-0.6, len(order) - 0.4))
    ax.axis("off")
    return ax


def note(text: str) -> Any:
    """Show a sentence to the reader (escaped), or nothing for empty text.

    Parameters
    ----------
    text : str
        Plain text, e.g. :meth:`seglab.study.StudyInputs.sample_note`.

    Returns
    -------
    IPython.display.HTML or None
        Displayed by Jupyter when it is the last expression of a cell.
    """
    return _paragraph(text, css_class="seglab-note", lead="Note.")


@_nothing_when_empty
def campaign_effects(effects: pd.DataFrame, *, metric: str = "revenue",
                     names: dict[str, str] | None = None,
                     flagged: tuple[str, ...] | list[str] = ()) -> plt.Figure:
    """Each campaign's effect per customer per segment, with its 95% interval.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``Readout.effects`` (:func:`seglab.campaigns.readout`): ``campaign``,
        ``segment``, ``metric``, ``effect``, ``ci_low``, ``ci_high``, ``significant``.
    metric : str
        Metric shown.
    names : dict, optional
        Segment label → persona name for the axis.
    flagged : sequence of str
        Campaigns whose split failed the sample-ratio test (marked in their title).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per campaign; filled dots are significant after Holm's adjustment.
    """
    names = names or {}
    shown = effects[(effects["metric"] == metric) & effects["effect"].notna()]
    campaigns = sorted(shown["campaign"].unique())
    if not campaigns:
        return None
    rows = shown["segment"].nunique()
    fig, axes = plt.subplots(1, len(campaigns), figsize=(5.5 * len(campaigns), 0.45 * rows + 1.8),
                             squeeze=False, sharey=True)
    for ax, campaign in zip(axes[0], campaigns, strict=True):
        part = shown[shown["campaign"] == campaign].sort_values("segment", ascending=False)
        labels = [names.get(str(s), str(s)) for s in part["segment"]]
        y = np.arange(len(part))
        ax.errorbar(part["effect"], y, xerr=[part["effect"] - part["ci_low"],
                                             part["ci_high"] - part["effect"]],
                    fmt="none", ecolor="#4c72b0", capsize=3)
        sig = part["significant"].fillna(False).astype(bool).to_numpy()
        ax.scatter(part["effect"][sig], y[sig], color="#4c72b0", zorder=3,
                   label="significant after adjustment")
        ax.scatter(part["effect"][~sig], y[~sig], facecolor="white", edgecolor="#4c72b0",
                   zorder=3, label="not significant")
        ax.axvline(0, color="#999999", lw=1)
        ax.set_yticks(y, labels)
        warning = "\n(split broken: sample ratio mismatch)" if campaign in flagged else ""
        ax.set(title=f"{campaign}: extra {metric} per customer{warning}",
               xlabel=f"treatment minus control, {metric} per customer (95% CI)")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


@_nothing_when_empty
def group_spend_balance(balance: pd.DataFrame, *, names: dict[str, str] | None = None,
                        ax: Axes | None = None) -> Axes:
    """Mean pre-period spend of treatment and control in each segment.

    Parameters
    ----------
    balance : pandas.DataFrame
        :func:`seglab.campaigns.group_balance`.
    names : dict, optional
        Segment label → persona name.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    names = names or {}
    ax = _axes(ax, (8, 0.5 * len(balance) + 1.5))
    labels = [names.get(str(s), str(s)) for s in balance["segment"]]
    y = np.arange(len(balance))
    ax.barh(y + 0.2, balance["mean_spend_treatment"], height=0.4, label="treatment",
            color="#4c72b0")
    ax.barh(y - 0.2, balance["mean_spend_control"], height=0.4, label="control",
            color="#dd8452")
    ax.set_yticks(y, labels)
    ax.set(title="Mean spend before the campaign: treatment and control, per segment",
           xlabel="mean spend per customer before the campaign")
    _thousands(ax, "x")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


@_nothing_when_empty
def pair_heatmap(matrix: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Heatmap of the lift of the top product pairs in each segment's orders.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of :func:`seglab.products.top_pairs`: segments x pairs, cells the lift.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (0.7 * matrix.shape[1] + 3.5, 0.45 * matrix.shape[0] + 3))
    labels = matrix.map(lambda v: f"{v:.1f}" if pd.notna(v) else "")
    sns.heatmap(matrix.astype(float), annot=labels, fmt="", cmap="RdBu_r", center=1.0,
                cbar_kws={"label": "lift (1 = as often as chance)"}, linewidths=0.5,
                linecolor="white", ax=ax, annot_kws={"fontsize": 8})
    ax.set(title="What sells together: lift of the top product pairs in each segment's orders",
           xlabel="product pair (bought in one order)", ylabel="segment")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=35, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


@_nothing_when_empty
def offer_evaluation(scores: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Bars of precision and recall at N of each offer method.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``scores`` of :func:`seglab.products.evaluate_offers`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (7, 3.5))
    n = int(scores["n"].iloc[0])
    long = scores.melt(id_vars="method", value_vars=["precision_at_n", "recall_at_n"],
                       var_name="measure", value_name="value")
    long["measure"] = long["measure"].map({"precision_at_n": f"precision at {n}",
                                           "recall_at_n": f"recall at {n}"})
    sns.barplot(long, x="measure", y="value", hue="method", ax=ax)
    for container in ax.containers:
        ax.bar_label(container, labels=[f"{v:.1%}" for v in container.datavalues], fontsize=8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title="Do the offers predict what customers bought next?", xlabel="",
           ylabel="share (mean over customers)")
    ax.legend(title="offers from", fontsize=8)
    return ax


def sentence(text: str) -> Any:
    """Show a finding to the reader in one paragraph (escaped), or nothing for empty text.

    Unlike :func:`note`, which says what the data could not show, this states a result.

    Parameters
    ----------
    text : str
        Plain text, e.g. :attr:`seglab.study.ProductsStage.summary`.

    Returns
    -------
    IPython.display.HTML or None
        Displayed by Jupyter when it is the last expression of a cell.
    """
    return _paragraph(text, css_class="seglab-finding")


def _paragraph(text: str, *, css_class: str, lead: str = "") -> Any:
    """Escaped ``text`` as one HTML paragraph of ``css_class`` (None for empty text)."""
    if not text:
        return None
    from IPython.display import HTML

    strong = f"<strong>{lead}</strong> " if lead else ""
    return HTML(f'<p class="{css_class}">{strong}{html.escape(text)}</p>')
