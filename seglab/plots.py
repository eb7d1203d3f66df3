"""Plots for the study's reports: each draws one thing on ``ax`` and returns the Axes."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

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


def table(frame: pd.DataFrame, *, money: tuple[str, ...] = (), share: tuple[str, ...] = (),
          digits: int = 1) -> Styler:
    """Format a table for a business reader; text from the data is HTML-escaped.

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
    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


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
    shown = values[values > 0] if log else values
    sns.histplot(shown, log_scale=log, bins=40, ax=ax, color="#4c72b0")
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


def pyramid(customers: pd.DataFrame, *, tier_col: str = "value_tier", order: list,
            ax: Axes | None = None) -> Axes:
    """Draw the customer pyramid: revenue share per tier, top tier on top.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with ``revenue`` and ``tier_col``.
    tier_col : str
        Tier column.
    order : list
        Tiers from the top.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (7, 3.6))
    share = customers.groupby(tier_col)["revenue"].sum().reindex(order).fillna(0)
    share = share / share.sum()
    widths = np.linspace(0.35, 1.0, len(order))
    for level, (tier, width) in enumerate(zip(order, widths, strict=True)):
        y = len(order) - 1 - level
        ax.barh(y, width, left=(1 - width) / 2, color=sns.color_palette("crest", len(order))[level])
        ax.text(0.5, y, f"{tier}: {share[tier]:.0%} of revenue", ha="center", va="center",
                color="white", fontweight="bold")
    ax.set(title="Customer pyramid: revenue share of each tier", xlim=(0, 1), yticks=[])
    ax.axis("off")
    return ax


def k_selection(k_scores: dict[str, pd.DataFrame]) -> plt.Figure:
    """Plot the curves that justify k, one row per method: silhouette, elbow or BIC.

    Parameters
    ----------
    k_scores : dict
        Method name to the output of :func:`seglab.cluster.choose_k`, whose ``chosen``
        column marks the k picked.

    Returns
    -------
    matplotlib.figure.Figure
    """
    metrics = ("silhouette", "inertia", "bic", "davies_bouldin")
    fig, axes = plt.subplots(len(k_scores), 3, figsize=(10, 2.8 * len(k_scores)),
                             squeeze=False)
    for row, (method, scores) in zip(axes, k_scores.items(), strict=True):
        chosen = int(scores.loc[scores["chosen"], "k"].iat[0])
        for ax, column in zip(row, [m for m in metrics if m in scores], strict=False):
            ax.plot(scores["k"], scores[column], marker="o")
            ax.axvline(chosen, color="#c44e52", linestyle="--")
            ax.set(title=f"{method}: {column.replace('_', ' ')}", xlabel="k (segments)")
    fig.suptitle("Choosing the number of segments (dashed line: chosen k)",
                 fontweight="bold")
    fig.tight_layout()
    return fig


def cluster_map(X: np.ndarray, labels: np.ndarray, *, title: str,
                random_state: int = 0, ax: Axes | None = None) -> Axes:
    """Map customers on the first two principal components, coloured by segment.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    labels : numpy.ndarray
        Segment per customer (-1 = noise, grey).
    title : str
        Plot title.
    random_state : int
        Seed for the PCA solver.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from sklearn.decomposition import PCA

    ax = _axes(ax, (6, 5))
    xy = PCA(n_components=2, random_state=random_state).fit_transform(X)
    frame = pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1], "segment": labels.astype(str)})
    sns.scatterplot(frame, x="pc1", y="pc2", hue="segment", s=8, linewidth=0, alpha=0.7,
                    ax=ax, hue_order=sorted(frame["segment"].unique()))
    ax.set(title=title, xlabel="first principal component", ylabel="second principal component")
    ax.legend(title="segment", markerscale=2, fontsize=8, loc="best")
    return ax


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
    ax = _axes(ax, (9, 0.5 * len(profile) + 2))
    sns.heatmap(profile, annot=True, fmt=".1f", cmap="RdBu_r", center=0, ax=ax,
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
    ax = _axes(ax, (8, 4.5))
    if rows is None:
        return _note(ax, "Not available for this data", title=title)
    shares = pd.crosstab(rows, columns, normalize="index")
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=title, xlabel=str(columns.name).replace("_", " "),
           ylabel=str(rows.name).replace("_", " "))
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
    ax.plot(curve["customer_share"], curve["cumulative_profit_share"])
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
