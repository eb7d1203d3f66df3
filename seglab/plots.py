"""Plots for the study's reports: each draws one thing on ``ax`` and returns the Axes.

Every title, axis label, legend title and annotation goes through :func:`seglab.i18n.text`
in the report's language: each plot function takes ``lang`` (default: the language
:func:`set_theme` or :func:`theme` was given, else English). Text from the data (segment
names, products) and the text given to :func:`note` and :func:`sentence` is shown as it is.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import sys
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from pandas.io.formats.style import Styler

from seglab import i18n

RC: dict[str, object] = {
    "figure.figsize": (8, 4.2),
    "figure.dpi": 90,
    "axes.titleweight": "bold",
    "axes.titlesize": 12,
    # Titles sit on top of their axes: no chart puts tick labels or offset text ("1e6";
    # numbers are written in full) up there, so matplotlib's search for a free place
    # (a tenth of the drawing time) would always end there.
    "axes.titley": 1.0,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-9, 15),
}

#: Fonts with Chinese glyphs (:data:`seglab.i18n.CJK_FONTS`; Debian: fonts-noto-cjk).
CJK_FONTS: tuple[str, ...] = i18n.CJK_FONTS

#: The language plot functions write in when they are given none (:func:`set_theme`).
_language: list[str] = [i18n.DEFAULT_LANGUAGE]


def cjk_font() -> str | None:
    """Return the first installed font of :data:`CJK_FONTS`, or None when there is none."""
    try:
        return i18n.cjk_font()
    except i18n.ConfigError:
        return None


def _rc(lang: str) -> dict[str, object]:
    """Return the style's rc settings; for Chinese a CJK font first, an ASCII minus sign.

    In English, DejaVu Sans with a CJK font as fallback (matplotlib falls back glyph by
    glyph through the list) keeps data labels such as "上海" readable. In Chinese the
    CJK font comes first (it draws Latin letters and digits as well), DejaVu Sans after
    it for the few symbols it lacks; raises ConfigError when no CJK font is installed.
    """
    if i18n.check_language(lang) == "zh":
        fonts = [i18n.cjk_font(), "DejaVu Sans"]
        return {**RC, "font.family": "sans-serif", "font.sans-serif": fonts,
                "axes.unicode_minus": False}
    fallback = cjk_font()
    fonts = ["DejaVu Sans", fallback] if fallback else ["DejaVu Sans"]
    return {**RC, "font.family": fonts}


@contextlib.contextmanager
def theme(lang: str | None = None) -> Iterator[None]:
    """Apply seglab's plot style inside a ``with`` block (no global change on import).

    Parameters
    ----------
    lang : {"en", "zh"}, optional
        Language of the charts drawn inside the block (default: unchanged).
    """
    previous = _language[0]
    shown = previous if lang is None else i18n.check_language(lang)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.95):
        with plt.rc_context(_rc(shown)):
            _language[0] = shown
            try:
                yield
            finally:
                _language[0] = previous


def set_theme(lang: str | None = None) -> None:
    """Apply seglab's plot style for the rest of a notebook session.

    Parameters
    ----------
    lang : {"en", "zh"}, optional
        Language the plot functions and :func:`table` write in from now on (default
        English); ``"zh"`` also sets a font with Chinese characters
        (:func:`seglab.i18n.cjk_font`, which raises ConfigError when none is installed).

    Examples
    --------
    In a notebook, after its parameters cell::

        plots.set_theme(lang=study.report_language(run_dir))
    """
    shown = i18n.DEFAULT_LANGUAGE if lang is None else i18n.check_language(lang)
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95, rc=_rc(shown))
    _language[0] = shown
    _draw_each_figure_once()


def _draw_each_figure_once() -> None:
    """In a notebook with the inline backend, draw each chart once per cell, not twice.

    After each cell IPython runs pyplot's redraw of every new figure, then the inline
    backend's ``flush_figures``, which draws each figure again into the PNG shown and
    closes it: the first drawing is thrown away (a sixth of a notebook's time). With the
    redraw moved after ``flush_figures`` it finds the figures shown and closed; the PNGs
    are the same. Outside IPython, or with another backend, nothing changes.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    redraw = getattr(plt, "_draw_all_if_interactive", None)  # pyplot's post-execute hook
    if shell is None or redraw is None:
        return
    hooks = shell.events.callbacks.get("post_execute", [])
    if redraw in hooks and any(getattr(hook, "__name__", "") == "flush_figures"
                               for hook in hooks):
        shell.events.unregister("post_execute", redraw)
        shell.events.register("post_execute", redraw)


def language(lang: str | None = None) -> str:
    """Return ``lang``, or the language of the theme when it is None."""
    return _language[0] if lang is None else i18n.check_language(lang)


def _name(value: object, lang: str) -> object:
    """Return a segment name from the data as the report shows it.

    Files keep the English names of rule segments (RFM segments, tiers, grades, stages);
    in Chinese a name with a translation in the catalogs is shown translated
    (:func:`seglab.segments.segment_label`), any other value as it is.
    """
    if lang == "en" or not isinstance(value, str):
        return value
    return i18n.text(value, lang)


def _label(column: str, lang: str) -> str:
    """Return a column's name for a chart: its words in English, its label in Chinese."""
    if lang == "en":
        return column.replace("_", " ")
    label = i18n.column_label(column, lang)
    return label if label != column else column.replace("_", " ")


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
          digits: int = 1, lang: str | None = None) -> Styler:
    """Format a table for a business reader; text from the data is HTML-escaped.

    An empty table shows nothing (a section skipped for want of data; its note says why).
    Column headers show each column's label in the report's language
    (:func:`seglab.i18n.column_label`, ``seglab/locales/columns.yaml``), row names
    with a translation in the catalogs (``"Portfolio"``, segment names) theirs, and
    yes/no columns read in the language too; money is
    written by :func:`seglab.i18n.money` (in Chinese, 10,000 or more in 万 and 亿).

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
    lang : {"en", "zh"}, optional
        Language of the headers and money (default: the theme's).

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    lang = language(lang)
    # A content-derived id (instead of a random one) keeps the HTML identical between runs.
    digest = hashlib.sha1(frame.to_csv().encode()).hexdigest()[:10]
    labels = {column: i18n.column_label(str(column), lang) for column in frame.columns}
    labels = {column: label for column, label in labels.items() if label != str(column)}
    shown = [labels.get(column, column) for column in frame.columns]
    if labels and len(set(map(str, shown))) == len(shown):  # two columns never share a header
        money = tuple(labels.get(c, c) for c in money)
        share = tuple(labels.get(c, c) for c in share)
        frame = frame.rename(columns=labels)
    if lang != "en":
        frame = frame.rename_axis(index=[None if name is None else
                                         i18n.column_label(str(name), lang)
                                         for name in frame.index.names])
        if not isinstance(frame.index, pd.RangeIndex):  # row names: "Portfolio", segments
            frame = frame.rename(index=lambda value: _name(value, lang))
        flags = [c for c in frame if pd.api.types.is_bool_dtype(frame[c])]
        if flags:  # yes/no in the report's language (on a copy: the caller's table stays)
            frame = frame.copy()
            for column in flags:
                frame[column] = frame[column].map({True: i18n.text("yes", lang),
                                                   False: i18n.text("no", lang)})
    styler = Styler(frame, uuid=digest).format(
        precision=digits, thousands=",", escape="html", na_rep="")
    present = [c for c in money if c in frame]
    if present:
        styler = styler.format(functools.partial(_money_cell, lang=lang), subset=present)
    present = [c for c in share if c in frame]
    if present:
        styler = styler.format("{:.1%}", subset=present, na_rep="")
    text = [c for c in frame if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    if isinstance(frame.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    return styler.format_index(escape="html")


def _money_cell(value: object, *, lang: str) -> str:
    """Write a money cell of :func:`table`: "" for a missing value, text as it is."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if not isinstance(value, int | float | np.number) or isinstance(value, bool):
        return html.escape(str(value))
    return i18n.money(float(value), lang)


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


def _thousands(ax: Axes, axis: str = "y", *, lang: str = i18n.DEFAULT_LANGUAGE) -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis

    def label(value: float, _: int) -> str:
        # Billions in full ("5,000,000,000") overlap; write them as "5.00bn".
        if lang == "zh":
            return i18n.short_money(value, lang)
        if max(abs(x) for x in target.get_view_interval()) >= 1e9:
            return _short(value)
        return f"{value:,.0f}"

    target.set_major_formatter(FuncFormatter(label))


def volume_over_time(volume: pd.DataFrame, *, value: str = "revenue",
                     ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Line of ``value`` per period (gaps show as drops to zero).

    Parameters
    ----------
    volume : pandas.DataFrame
        Columns ``period`` and ``value``.
    value : str
        Column to plot.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    ax = _axes(ax)
    ax.plot(volume["period"], volume[value], marker="o", markersize=3)
    what = _label(value, lang)
    ax.set(title=i18n.text("{what} per period", lang, what=what[:1].upper() + what[1:]),
           xlabel="", ylabel=what)
    _thousands(ax, lang=lang)
    return ax


def missing_values(missing: pd.DataFrame, *, ax: Axes | None = None,
                   lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax)
    sns.barplot(missing, y="column", x="missing_share", color="#4c72b0", ax=ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title=i18n.text("Share of missing values per column", lang),
           xlabel=i18n.text("missing", lang), ylabel="")
    return ax


def distribution(values: pd.Series | None, *, label: str, log: bool = True,
                 ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Histogram of positive values, on a log scale when skewed.

    Parameters
    ----------
    values : pandas.Series or None
        Values (non-positive ones are left out of a log plot); None when the data has
        no such column, which draws a note instead.
    label : str
        What the values are, with their unit (an English label is translated).
    log : bool
        Log-scale the x axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    label = i18n.text(label, lang)
    ax = _axes(ax)
    title = i18n.text("Distribution of {label}", lang, label=label)
    if values is None or values.dropna().empty:
        return _note(ax, i18n.text("No {label} in this data", lang, label=label), title=title)
    shown = (values[values > 0] if log else values).dropna().to_numpy(dtype=float)
    # Binned by numpy and drawn from the counts: seaborn's histplot takes seconds per
    # chart on ten million customers, numpy a tenth of one.
    low, high = (np.log10(shown.min()), np.log10(shown.max())) if log else (shown.min(),
                                                                          shown.max())
    edges = np.linspace(low, high, 41) if high > low else np.array([low - 0.5, high + 0.5])
    if log:
        edges = 10 ** edges
        if high > low:  # 10 ** log10(x) can fall short of x, and leave the largest out
            edges[[0, -1]] = shown.min(), shown.max()
    counts, edges = np.histogram(shown, bins=edges)
    # The bars as one collection: forty Rectangle artists cost ten times as much to draw.
    bars = PolyCollection([[(a, 0), (a, n), (b, n), (b, 0)]
                           for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)],
                          facecolor="#4c72b0", alpha=0.75, edgecolor="white", linewidth=0.5)
    bars.sticky_edges.y.append(0)
    ax.add_collection(bars)
    if log:
        ax.set_xscale("log")
    ax.autoscale_view()
    ax.set(title=title, xlabel=label, ylabel=i18n.text("count", lang))
    return ax


def feature_distributions(features: pd.DataFrame, columns: list[str], *,
                          lang: str | None = None) -> plt.Figure:
    """Small multiples: one histogram per feature (log scale for skewed ones).

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table.
    columns : list of str
        Features to show.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = language(lang)
    n = len(columns)
    ncols = 3
    fig, axes = plt.subplots(int(np.ceil(n / ncols)), ncols, figsize=(11, 2.8 * np.ceil(n / 3)))
    for ax, column in zip(axes.flat, columns, strict=False):
        values = features[column].dropna()
        skewed = values.min() >= 0 and values.skew() > 2
        distribution(values, label=_label(column, lang), log=bool(skewed), ax=ax, lang=lang)
        ax.set_title(_label(column, lang), fontsize=10)
    for ax in axes.flat[n:]:
        ax.remove()
    fig.suptitle(i18n.text("How customers are distributed on each feature", lang),
                 fontweight="bold")
    fig.tight_layout()
    return fig


def segment_sizes(customers: pd.DataFrame, segment_col: str, *, order: list | None = None,
                  ax: Axes | None = None, lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax)
    shares = pd.DataFrame({
        _label("customers", lang): customers[segment_col].value_counts(normalize=True),
        _label("revenue", lang): customers.groupby(segment_col)["revenue"].sum()
        / customers["revenue"].sum(),
    })
    if order is None:
        numeric = pd.api.types.is_numeric_dtype(customers[segment_col])
        order = shares.index if numeric else shares.sort_values(
            shares.columns[1], ascending=False).index
    order = [s for s in order if s in shares.index]
    long = shares.loc[order].reset_index(names="segment").melt(
        id_vars="segment", var_name="share of", value_name="share")
    long["segment"] = long["segment"].astype(str).map(lambda name: _name(name, lang))
    sns.barplot(long, y="segment", x="share", hue="share of", ax=ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title=i18n.text("Customers and revenue by {segmentation}", lang,
                           segmentation=_label(segment_col, lang)),
           xlabel=i18n.text("share of all", lang), ylabel="")
    if ax.get_legend() is not None:
        ax.get_legend().set_title(i18n.text("share of", lang))
    return ax


def rf_heatmap(customers: pd.DataFrame, *, ax: Axes | None = None,
               lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (6, 4.5))
    grid = pd.crosstab(customers["r_score"], customers["f_score"]).sort_index(ascending=False)
    sns.heatmap(grid, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=i18n.text("Customers by recency and frequency score", lang),
           xlabel=i18n.text("frequency score (5 = most orders)", lang),
           ylabel=i18n.text("recency score (5 = most recent)", lang))
    return ax


def k_selection(k_scores: dict[str, pd.DataFrame], *, min_stability: float | None = None,
                lang: str | None = None) -> plt.Figure:
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
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = language(lang)
    fig, axes = plt.subplots(max(1, len(k_scores)), 4, figsize=(12, 2.6 * max(1, len(k_scores))),
                             squeeze=False)
    for row, (method, scores) in zip(axes, k_scores.items(), strict=False):
        chosen = int(scores.loc[scores["chosen"], "k"].iat[0]) if "chosen" in scores else None
        ax = row[0]
        ax.plot(scores["k"], scores["silhouette"], marker="o",
                label=_label("silhouette", lang))
        if "stability" in scores:
            ax.plot(scores["k"], scores["stability"], marker="s",
                    label=_label("stability", lang))
        if min_stability is not None:
            ax.axhline(min_stability, color="grey", linestyle=":", linewidth=1)
        ax.set(title=i18n.text("{method}: separation and stability", lang, method=method),
               ylim=(-0.05, 1.05))
        ax.legend(fontsize=7, loc="lower left")
        ax = row[1]
        ax.plot(scores["k"], scores["calinski_harabasz"], marker="o")
        ax.set(title=i18n.text("{method}: Calinski-Harabasz (higher better)", lang,
                               method=method))
        ax = row[2]
        ax.plot(scores["k"], scores["davies_bouldin"], marker="o")
        ax.set(title=i18n.text("{method}: Davies-Bouldin (lower better)", lang, method=method))
        ax = row[3]
        if "bic" in scores:
            ax.plot(scores["k"], scores["bic"], marker="o")
            ax.set(title=i18n.text("{method}: BIC (lower better)", lang, method=method))
        else:
            ax.plot(scores["k"], scores["inertia"], marker="o")
            if "elbow" in scores and scores["elbow"].any():
                at = scores.loc[scores["elbow"]].iloc[0]
                ax.scatter([at["k"]], [at["inertia"]], s=120, facecolors="none",
                           edgecolors="#dd8452", linewidths=2, zorder=3,
                           label=i18n.text("elbow", lang))
                ax.legend(fontsize=7)
            ax.set(title=i18n.text("{method}: within-cluster spread (elbow)", lang,
                                   method=method))
        for ax in row:
            if chosen is not None:
                ax.axvline(chosen, color="#c44e52", linestyle="--", linewidth=1)
            ax.set_xlabel(i18n.text("k (segments)", lang))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no k = 2.5
            ax.title.set_fontsize(9)
    fig.suptitle(i18n.text("Choosing the number of segments (red dashed line: chosen k)", lang),
                 fontweight="bold")
    fig.tight_layout()
    return fig


def _scatter_segments(ax: Axes, xy: np.ndarray, labels: np.ndarray, *, legend: bool,
                      lang: str) -> None:
    """Scatter points coloured by segment; noise (-1) in light grey underneath."""
    values = sorted(pd.unique(labels), key=lambda v: (str(v) == "-1", str(v)))
    clusters = [v for v in values if str(v) != "-1"]
    palette = sns.color_palette("tab10" if len(clusters) <= 10 else "tab20", len(clusters))
    noise = np.array([str(v) == "-1" for v in labels])
    if noise.any():
        ax.scatter(xy[noise, 0], xy[noise, 1], s=4, color="#cccccc", linewidths=0,
                   label=i18n.text("noise", lang))
    for color, value in zip(palette, clusters, strict=True):
        hit = labels == value
        ax.scatter(xy[hit, 0], xy[hit, 1], s=5, color=color, linewidths=0, alpha=0.75,
                   label=str(value))
    if legend:
        ax.legend(title=_label("segment", lang), markerscale=3, fontsize=7, loc="best")


def cluster_maps(xy: np.ndarray, labels: dict[str, np.ndarray], *, rows: np.ndarray,
                 title: str = "Each method's segments on the same map",
                 ncols: int = 3, lang: str | None = None) -> plt.Figure:
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
        Figure title (an English title is translated).
    ncols : int
        Maps per row.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = language(lang)
    n = max(1, len(labels))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.6 * nrows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (name, values) in zip(axes.flat, labels.items(), strict=False):
        _scatter_segments(ax, xy, np.asarray(values)[rows], legend=True, lang=lang)
        ax.set_title(name, fontsize=10)
    for ax in axes.flat[n:]:
        ax.remove()
    fig.suptitle(i18n.text(title, lang), fontweight="bold")
    fig.supxlabel(i18n.text("map dimension 1", lang), fontsize=9)
    fig.supylabel(i18n.text("map dimension 2", lang), fontsize=9)
    fig.tight_layout()
    return fig


def profile_heatmap(profile: pd.DataFrame, *, ax: Axes | None = None,
                    lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (max(9.0, 0.6 * profile.shape[1] + 3), 0.5 * len(profile) + 2.5))
    noise = i18n.text("noise", lang)
    shown = profile.rename(index=lambda v: noise if str(v) == "-1" else v)
    sns.heatmap(shown, annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-2, vmax=2, ax=ax,
                annot_kws={"fontsize": 8},
                cbar_kws={"label": i18n.text("standard deviations from the average customer",
                                             lang)})
    ax.set(title=i18n.text("What sets each segment apart (feature means, standardised)", lang),
           xlabel="", ylabel=_label("segment", lang))
    ax.set_xticklabels([_label(t.get_text(), lang) for t in ax.get_xticklabels()],
                       rotation=35, ha="right")
    return ax


def crosstab_heatmap(rows: pd.Series | None, columns: pd.Series, *, title: str,
                     ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Share of each row group falling in each column group.

    Parameters
    ----------
    rows, columns : pandas.Series
        Two labellings of the same customers; ``rows`` None (no planted truth on real
        data) draws a note instead.
    title : str
        Plot title (an English title is translated).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    title = i18n.text(title, lang)
    width = 8.0 if columns is None else max(8.0, 0.75 * columns.nunique() + 3)
    ax = _axes(ax, (width, 4.5))
    if rows is None:
        return _note(ax, i18n.text("Not available for this data", lang), title=title)
    shares = pd.crosstab(rows, columns, normalize="index")
    shares = shares.rename(index=lambda v: _name(v, lang), columns=lambda v: _name(v, lang))
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(title=title, xlabel=_label(str(columns.name), lang),
           ylabel=_label(str(rows.name), lang))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    return ax


def agreement_heatmap(agreement: pd.DataFrame, *, ax: Axes | None = None,
                      lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (0.8 * len(agreement) + 3, 0.6 * len(agreement) + 2))
    sns.heatmap(agreement, annot=True, fmt=".2f", cmap="Greens", vmin=0, vmax=1, ax=ax,
                annot_kws={"fontsize": 8},
                cbar_kws={"label": i18n.text(
                    "adjusted Rand index (1 = same segments, 0 = chance)", lang)})
    ax.set(title=i18n.text("How far the methods agree on who belongs together", lang),
           xlabel="", ylabel="")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    return ax


def method_scores(comparison: pd.DataFrame, *, ax: Axes | None = None,
                  lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (10, 4.2))
    frame = comparison.assign(assigned=1 - comparison["noise_share"])
    measures = {"silhouette": i18n.text("separation (silhouette)", lang),
                "stability": i18n.text("stability (ARI)", lang),
                "assigned": i18n.text("customers assigned", lang),
                "ari_truth": i18n.text("match to planted truth (ARI)", lang)}
    present = {k: v for k, v in measures.items() if k in frame and frame[k].notna().any()}
    names = [f"{m} *" if chosen else m for m, chosen in
             zip(frame["method"], frame.get("chosen", [False] * len(frame)), strict=True)]
    long = frame.assign(method=names).melt(id_vars="method", value_vars=list(present),
                                           var_name="measure", value_name="score")
    long["measure"] = long["measure"].map(present)
    sns.barplot(long, x="method", y="score", hue="measure", ax=ax)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(title=i18n.text("Methods side by side (* = chosen)", lang), xlabel="",
           ylabel=i18n.text("score (higher is better)", lang),
           ylim=(min(-0.1, float(long["score"].min()) - 0.05), 1.05))
    ax.tick_params(axis="x", labelrotation=20)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def segment_pnl_bars(pnl: pd.DataFrame, *, ax: Axes | None = None,
                     lang: str | None = None) -> Axes:
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
    lang = language(lang)
    shown = pnl.drop(index="Portfolio", errors="ignore")
    ax = _axes(ax, (9, 0.6 * len(shown) + 2))
    measures = shown[["revenue", "gross_margin", "cost_to_serve", "profit"]].copy()
    measures.index = _segment_labels(shown)
    measures.columns = [_label(c, lang) for c in measures.columns]
    long = measures.reset_index(names="segment").melt(id_vars="segment", var_name="measure")
    sns.barplot(long, y="segment", x="value", hue="measure", ax=ax)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(title=i18n.text("Revenue, margin, cost-to-serve and profit by segment", lang),
           ylabel="", xlabel=i18n.text("currency", lang))
    ax.legend(title="", fontsize=8, loc="lower right")
    _thousands(ax, "x", lang=lang)
    return ax


#: Most dots (or line points) a chart draws; above it, a seeded random sample (or every
#: n-th point of a curve), so a chart of ten million customers draws in a second.
MAX_DOTS = 50_000


def whale_curve(curve: pd.DataFrame, *, ax: Axes | None = None,
                lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (7, 4.2))
    drawn = curve
    if len(curve) > MAX_DOTS:  # a line of millions of points draws the same, slowly
        step = len(curve) // MAX_DOTS
        drawn = curve.iloc[np.unique(np.r_[np.arange(0, len(curve), step), len(curve) - 1])]
    ax.plot(drawn["customer_share"], drawn["cumulative_profit_share"])
    peak = curve["cumulative_profit_share"].idxmax()
    x, y = curve.loc[peak, ["customer_share", "cumulative_profit_share"]]
    ax.scatter([x], [y], color="#c44e52", zorder=3)
    label = i18n.text("{customers:.0%} of customers earn {profit:.0%} of the profit", lang,
                      customers=x, profit=y)
    if y > 1:
        label += i18n.text(";\nthe other {customers:.0%} give back {profit:.0%}", lang,
                           customers=1 - x, profit=y - 1)
    ax.annotate(label, (x, y), textcoords="offset points", xytext=(10, -30), fontsize=9)
    ax.axhline(1, color="grey", linestyle=":")
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title=i18n.text("Whale curve: who makes the profit", lang),
           xlabel=i18n.text("customers, most profitable first", lang),
           ylabel=i18n.text("cumulative share of total profit", lang))
    return ax


def _segment_labels(table: pd.DataFrame) -> list[str]:
    """Segment labels for an axis: ``"<segment> · <persona>"`` when personas are known."""
    labels = table.index.astype(str)
    if "persona" in table:
        return [f"{s} · {p}" if isinstance(p, str) and p else s
                for s, p in zip(labels, table["persona"], strict=True)]
    return list(labels)


def _short(value: float, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """Money in a few characters: 1,234 / 12.3k / 4.56m / 1.2bn (Chinese: 万, 亿)."""
    if lang == "zh":
        return i18n.short_money(value, lang)
    size = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e4, "k")):
        if size >= limit:
            scale = 1e3 if suffix == "k" else limit
            return f"{value / scale:,.{1 if suffix == 'k' else 2}f}{suffix}"
    return f"{value:,.0f}"


def pnl_waterfall(totals: dict[str, float], *, ax: Axes | None = None,
                  lang: str | None = None) -> Axes:
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
    lang = language(lang)
    steps = [(_label("gross_sales", lang), totals["gross_sales"], "total"),
             (_label("discounts", lang), -totals["discounts"], "step"),
             (_label("returns", lang), -totals["returns"], "step"),
             (_label("revenue", lang), totals["revenue"], "total"),
             (_label("cost_of_goods", lang), -totals["cost_of_goods"], "step"),
             (_label("gross_margin", lang), totals["gross_margin"], "total")]
    steps += [(_label(name, lang), -totals[name], "step") for name in
              ("handling", "shipping", "rent", "returns_handling", "service", "marketing")]
    steps.append((_label("profit", lang), totals["profit"], "total"))
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
        ax.annotate(_short(value, lang), (i, max(bottom, bottom + height)), ha="center",
                    va="bottom", fontsize=8, textcoords="offset points", xytext=(0, 2))
    ax.set_xticks(range(len(steps)), [s[0] for s in steps], rotation=35, ha="right")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(title=i18n.text("From gross sales to profit: the whole portfolio", lang),
           ylabel=i18n.text("currency", lang))
    _thousands(ax, lang=lang)
    return ax


def cost_to_serve_bars(pnl: pd.DataFrame, *, ax: Axes | None = None,
                       lang: str | None = None) -> Axes:
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
    lang = language(lang)
    pnl = pnl.drop(index="Portfolio", errors="ignore")
    parts = [c for c in ("handling", "shipping", "rent", "returns_handling", "service",
                         "marketing") if c in pnl]
    per_customer = pnl[parts].div(pnl["customers"], axis=0)
    per_customer.index = _segment_labels(pnl)
    per_customer.columns = [_label(c, lang) for c in parts]
    ax = _axes(ax, (9, 0.45 * len(pnl) + 1.8))
    per_customer.iloc[::-1].plot.barh(stacked=True, ax=ax, width=0.7,
                                       color=sns.color_palette("Set2", len(parts)))
    ax.set(title=i18n.text("Cost-to-serve per customer, by segment", lang),
           xlabel=i18n.text("currency per customer", lang), ylabel="")
    ax.legend(title="", fontsize=8, loc="lower right")
    _thousands(ax, "x", lang=lang)
    return ax


def unprofitable_share(pnl: pd.DataFrame, *, ax: Axes | None = None,
                       lang: str | None = None) -> Axes:
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
    lang = language(lang)
    shown = pnl.drop(index="Portfolio", errors="ignore")
    ax = _axes(ax, (8, 0.4 * len(shown) + 1.8))
    labels = _segment_labels(shown)
    ax.barh(labels[::-1], shown["unprofitable_share"].to_numpy()[::-1], color="#c44e52")
    if "Portfolio" in pnl.index:
        ax.axvline(pnl.loc["Portfolio", "unprofitable_share"], color="black", linestyle="--",
                   linewidth=1, label=i18n.text("all customers", lang))
        ax.legend(loc="lower right", fontsize=8)
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.set(title=i18n.text("Customers who lose money, by segment", lang),
           xlabel=i18n.text("share of the segment's customers", lang), ylabel="")
    return ax


@_nothing_when_empty
def calibration_holdout(check: pd.DataFrame, *, ax: Axes | None = None,
                        lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (8, 4.2))
    x = np.arange(len(check))
    ax.plot(x, check["actual"], marker="o", label=i18n.text("actual", lang))
    ax.plot(x, check["predicted"], marker="s", linestyle="--",
            label=i18n.text("predicted (BG/NBD)", lang))
    actual = float((check["actual"] * check["customers"]).sum())
    predicted = float((check["predicted"] * check["customers"]).sum())
    gap = (predicted - actual) / actual if actual else float("nan")
    ax.set_xticks(x, check["calibration_purchases"])
    ax.set(title=i18n.text("Does the purchase model forecast the holdout period?", lang),
           xlabel=i18n.text("repeat purchases in the calibration period", lang),
           ylabel=i18n.text("mean purchases per customer in holdout", lang))
    ax.legend(title=i18n.text("all customers: {predicted:,.0f} predicted, {actual:,.0f} "
                              "actual ({gap:+.1%})", lang, predicted=predicted, actual=actual,
                              gap=gap),
              title_fontsize=8, fontsize=8, loc="upper left")
    return ax


def value_growth_bubbles(cards: pd.DataFrame, *, ax: Axes | None = None,
                         lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (9, 6))
    if "recent_revenue_per_customer" not in cards:
        ax.text(0.5, 0.5, i18n.text("No value-growth columns for this segmentation", lang),
                ha="center")
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
    ax.set(title=i18n.text("Value x growth: where each segment stands", lang),
           xlabel=i18n.text("value: revenue per customer, last 180 days", lang),
           ylabel=i18n.text("growth: change per customer vs the 180 days before", lang))
    ax.legend(title=_label("strategy", lang), fontsize=8, markerscale=0.4, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    ax.margins(0.15)
    _thousands(ax, lang=lang)
    _thousands(ax, "x", lang=lang)
    return ax


def persona_composition(persona: pd.Series, truth: pd.Series | None, *,
                        order: list | pd.Series | None = None, ax: Axes | None = None,
                        lang: str | None = None) -> Axes:
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
    lang = language(lang)
    title = i18n.text("Which planted segments each persona holds", lang)
    if truth is None:
        ax = _axes(ax, (8, 2))
        ax.text(0.5, 0.5, i18n.text("Not available: this data has no planted segments", lang),
                ha="center", va="center")
        ax.set(title=title)
        ax.axis("off")
        return ax
    shares = pd.crosstab(persona.to_numpy(), truth.to_numpy(), normalize="index")
    if order is not None:
        shares = shares.reindex([p for p in order if p in shares.index])
    ax = _axes(ax, (10, 0.5 * len(shares) + 2))
    sns.heatmap(shares, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=title, xlabel=i18n.text("planted segment", lang), ylabel="")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=25, ha="right")
    return ax


def revenue_profit_scatter(customers: pd.DataFrame, *, ax: Axes | None = None,
                           lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (8, 5))
    # Three columns before filtering: the whole table would be copied (6 GB at 10M rows).
    shown = customers.loc[customers["revenue"] > 0, ["revenue", "gross_margin", "profit"]]
    title = i18n.text("Profit against revenue, one dot per customer", lang)
    if len(shown) > MAX_DOTS:
        title += i18n.text(" (a random {shown:,} of {customers:,})", lang, shown=MAX_DOTS,
                           customers=len(shown))
        shown = shown.sample(MAX_DOTS, random_state=0)
    turned = (shown["gross_margin"] > 0) & (shown["profit"] < 0)
    losing = (shown["profit"] < 0) & ~turned
    earning = shown["profit"] >= 0
    ax.scatter(shown.loc[earning, "revenue"], shown.loc[earning, "profit"], s=6, alpha=0.35,
               color="#4c72b0", label=i18n.text("earns money", lang))
    ax.scatter(shown.loc[losing, "revenue"], shown.loc[losing, "profit"], s=10, alpha=0.7,
               color="#dd8452",
               label=i18n.text("loses money on the goods (returns, write-offs)", lang))
    ax.scatter(shown.loc[turned, "revenue"], shown.loc[turned, "profit"], s=18, alpha=0.9,
               color="#c44e52",
               label=i18n.text("gross margin positive, lost to cost-to-serve", lang))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=100)
    ax.set(title=title, xlabel=i18n.text("revenue (log scale)", lang),
           ylabel=i18n.text("profit (symmetric log scale)", lang))
    ax.legend(fontsize=8, loc="upper left")
    _thousands(ax, "x", lang=lang)
    return ax


# --- segments over time (notebook 05) ------------------------------------------------------


def _segment_colors(labels: list) -> dict:
    """One stable colour per segment label; new customers in grey."""
    palette = sns.color_palette("tab20", max(len(labels), 1))
    colors = {label: palette[i % len(palette)] for i, label in enumerate(labels)}
    if "(new)" in colors:
        colors["(new)"] = (0.6, 0.6, 0.6)
    return colors


@_nothing_when_empty
def transition_heatmap(matrix: pd.DataFrame, *, title: str | None = None, share: bool = True,
                       ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Heatmap of a from-segment x to-segment matrix (row shares by default).

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of :func:`seglab.dynamics.transition_matrix`.
    title : str, optional
        Title (an English title is translated); a default one says what the cells are.
    share : bool
        Cells are row shares (shown as %) rather than amounts.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    title = i18n.text(title, lang) if title else None
    ax = _axes(ax, (0.75 * matrix.shape[1] + 3.5, 0.45 * matrix.shape[0] + 2))
    if matrix.empty:
        return _note(ax, i18n.text("No customers moved between these dates", lang),
                     title=title or i18n.text("Migration", lang))
    labels = matrix.map(lambda v: f"{v:.0%}" if v >= 0.005 else "") if share else \
        matrix.map(lambda v: i18n.short_money(v, lang) if v else "")
    names = {"index": lambda v: _name(v, lang), "columns": lambda v: _name(v, lang)}
    matrix, labels = matrix.rename(**names), labels.rename(**names)
    sns.heatmap(matrix, annot=labels, fmt="", cmap="Blues", cbar=False, vmin=0,
                vmax=1 if share else None, linewidths=0.5, linecolor="white", ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(title=title or i18n.text("Where each segment's customers went (share of the row)",
                                    lang),
           xlabel=i18n.text("segment at the later date", lang),
           ylabel=i18n.text("segment at the earlier date", lang))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


@_nothing_when_empty
def migration_flow(migration: pd.DataFrame, *, steps: int = 2, order: list | None = None,
                   ax: Axes | None = None, lang: str | None = None) -> Axes:
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
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path

    lang = language(lang)
    title = i18n.text("How customers moved between segments", lang)
    ax = _axes(ax, (12, 7))
    if migration.empty:
        return _note(ax, i18n.text("No migration to draw", lang), title=title)
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
                name = _name(label, lang)
                ax.text(i + side * (width / 2 + 0.01), (low + high) / 2,
                        f"{name} ({high - low:,.0f})", fontsize=7, va="center",
                        ha="right" if side < 0 else "left")
    ax.set_xlim(-0.55, len(dates) - 0.45)
    ax.set_ylim(max(max(b[1] for b in c.values()) for c in columns) + gap, -gap)
    ax.set_xticks(range(len(dates)), dates)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set(title=title, xlabel=i18n.text("snapshot date", lang),
           ylabel=i18n.text("customers (band height)", lang))
    return ax


@_nothing_when_empty
def cohort_heatmap(cohorts: pd.DataFrame, *, value: str = "retention",
                   ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Cohort triangle: acquisition month (rows) by months since acquisition (columns).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`seglab.dynamics.cohorts`.
    value : {"retention", "revenue_per_customer"}
        Share of the cohort buying that month, or its net revenue per cohort customer.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    grid = cohorts.pivot(index="cohort", columns="month", values=value)
    sizes = cohorts.groupby("cohort")["cohort_customers"].first()
    ax = _axes(ax, (0.6 * grid.shape[1] + 3, 0.42 * grid.shape[0] + 2))
    retention = value == "retention"
    if retention and grid.shape[1] > 1:
        grid = grid.drop(columns=0)  # month 0 is 100% by definition
    annot = grid.map(
        lambda v: "" if pd.isna(v) else (f"{v:.0%}" if retention else
                                         i18n.short_money(v, lang)))
    sns.heatmap(grid, annot=annot, fmt="", cmap="YlGnBu", cbar=False, ax=ax,
                annot_kws={"fontsize": 7}, linewidths=0.3, linecolor="white")
    ax.grid(False)
    ax.set_yticklabels([f"{c} ({sizes[c]:,})" for c in grid.index], rotation=0)
    what = (i18n.text("share of the cohort buying", lang) if retention else
            i18n.text("net revenue per cohort customer", lang))
    ax.set(title=i18n.text("Cohorts by acquisition month: {what}", lang, what=what),
           xlabel=i18n.text("months since the first purchase", lang),
           ylabel=i18n.text("acquisition month (customers)", lang))
    return ax


@_nothing_when_empty
def churn_calibration(calibration: pd.DataFrame, *, ax: Axes | None = None,
                      lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (5.5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1,
            label=i18n.text("perfectly honest", lang))
    ax.plot(calibration["predicted"], calibration["observed"], marker="o",
            label=i18n.text("churn model, one dot per decile", lang))
    ax.xaxis.set_major_formatter(PercentFormatter(1))
    ax.yaxis.set_major_formatter(PercentFormatter(1))
    ax.set(xlim=(0, 1), ylim=(0, 1), title=i18n.text("Is the churn risk honest? (holdout)", lang),
           xlabel=i18n.text("predicted risk of no purchase", lang),
           ylabel=i18n.text("customers who did not buy", lang))
    ax.legend(fontsize=8, loc="upper left")
    return ax


@_nothing_when_empty
def churn_drivers(drivers: pd.DataFrame, *, top: int = 10, ax: Axes | None = None,
                  lang: str | None = None) -> Axes:
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
    lang = language(lang)
    shown = drivers.head(top).iloc[::-1]
    ax = _axes(ax, (8, 0.38 * len(shown) + 1.5))
    labels = [f"{_label(f, lang)} ({i18n.text(d, lang)})" if d else _label(f, lang)
              for f, d in zip(shown["feature"], shown["direction"], strict=True)]
    ax.barh(labels, shown["auc_drop"], xerr=shown["auc_drop_sd"], color="#4c72b0")
    ax.set(title=i18n.text("What drives churn risk", lang), ylabel="",
           xlabel=i18n.text("drop in holdout ROC AUC when the feature is shuffled", lang))
    return ax


@_nothing_when_empty
def segment_monitor(monitoring: pd.DataFrame, *, order: list | None = None,
                    lang: str | None = None) -> plt.Figure:
    """Small multiples: one row per segment, one column per figure, over the snapshots.

    Parameters
    ----------
    monitoring : pandas.DataFrame
        Output of :func:`seglab.dynamics.monitoring` (``date``, ``segment``,
        ``customers``, ``revenue``, ``profit``, ``avg_order_value``, ``churn_share``,
        ``churn_basis``).
    order : list, optional
        Segments, top to bottom.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lang = language(lang)
    metrics = [("customers", _label("customers", lang)),
               ("revenue", i18n.text("revenue in the period", lang)),
               ("profit", i18n.text("profit in the period", lang)),
               ("avg_order_value", i18n.text("average order value", lang)),
               ("churn_share", i18n.text("churn share (next horizon)", lang))]
    segments_ = order or list(dict.fromkeys(monitoring["segment"]))
    segments_ = [s for s in segments_ if s in set(monitoring["segment"])]
    fig, axes = plt.subplots(len(segments_), len(metrics), sharex="col",
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
                ax.yaxis.set_major_formatter(FuncFormatter(
                    lambda v, _: i18n.short_money(v, lang)))
                if not np.isfinite(values).any():
                    ax.set_yticks([])
                elif np.nanmin(values) >= 0:
                    ax.set_ylim(bottom=0, top=max(np.nanmax(values) * 1.15, 1))
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(label, fontsize=9)
            if col == 0:
                ax.set_ylabel(_name(segment, lang), rotation=0, ha="right", va="center",
                              fontsize=8)
    for ax in axes[-1]:
        ax.set_xticks(range(len(dates)), [pd.Timestamp(d).strftime("%y-%m") for d in dates],
                      rotation=45, fontsize=7)
    fig.suptitle(i18n.text("Segment monitor: each segment over the snapshots (own scale per "
                           "panel; hollow dots: predicted)", lang), fontweight="bold")
    # Fixed margins: tight_layout on dozens of small axes costs seconds.
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.14, right=0.99, bottom=0.75 / height, top=1 - 0.75 / height,
                        wspace=0.45, hspace=0.25)
    return fig


def value_pyramid(customers: pd.DataFrame, *, order: list, tier_col: str = "value_tier",
                  value_col: str = "revenue", ax: Axes | None = None,
                  lang: str | None = None) -> Axes:
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
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
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
        ax.text(1.04, y, i18n.text("{tier}: {customers:.0%} of customers, {value:.0%} of {what}",
                                   lang, tier=_name(tier, lang), customers=customer_share[tier],
                                   value=value_share[tier], what=_label(value_col, lang)),
                ha="left", va="center")
    ax.set(title=i18n.text("Customer pyramid: share of {what} by tier", lang,
                           what=_label(value_col, lang)),
           xlim=(0, 1), ylim=(-0.6, len(order) - 0.4))
    ax.axis("off")
    return ax


def note(text: str, *, lang: str | None = None) -> Any:
    """Show a sentence to the reader (escaped), or nothing for empty text.

    Parameters
    ----------
    text : str
        Plain text, e.g. :meth:`seglab.study.StudyInputs.sample_note`, shown as it is
        (the caller writes it in the report's language).
    lang : {"en", "zh"}, optional
        Language of the lead word "Note." (default: the theme's).

    Returns
    -------
    IPython.display.HTML or None
        Displayed by Jupyter when it is the last expression of a cell.
    """
    return _paragraph(text, css_class="seglab-note", lead=i18n.text("Note.", language(lang)))


def in_short(text: str, *, lang: str | None = None) -> Any:
    """Show a finding led by "In short:" (escaped), or nothing for empty text.

    Parameters
    ----------
    text : str
        Plain text in the report's language, shown as it is.
    lang : {"en", "zh"}, optional
        Language of the lead (default: the theme's).

    Returns
    -------
    IPython.display.HTML or None
    """
    return _paragraph(text, css_class="seglab-finding",
                      lead=i18n.text("In short:", language(lang)))


@_nothing_when_empty
def campaign_effects(effects: pd.DataFrame, *, metric: str = "revenue",
                     names: dict[str, str] | None = None,
                     flagged: tuple[str, ...] | list[str] = (),
                     lang: str | None = None) -> plt.Figure:
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
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per campaign; filled dots are significant after Holm's adjustment.
    """
    lang = language(lang)
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
                   label=i18n.text("significant after adjustment", lang))
        ax.scatter(part["effect"][~sig], y[~sig], facecolor="white", edgecolor="#4c72b0",
                   zorder=3, label=i18n.text("not significant", lang))
        ax.axvline(0, color="#999999", lw=1)
        ax.set_yticks(y, labels)
        warning = (i18n.text("\n(split broken: sample ratio mismatch)", lang)
                   if campaign in flagged else "")
        what = _label(metric, lang)
        ax.set(title=i18n.text("{campaign}: extra {metric} per customer", lang,
                               campaign=campaign, metric=what) + warning,
               xlabel=i18n.text("treatment minus control, {metric} per customer (95% CI)",
                                lang, metric=what))
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


@_nothing_when_empty
def group_spend_balance(balance: pd.DataFrame, *, names: dict[str, str] | None = None,
                        ax: Axes | None = None, lang: str | None = None) -> Axes:
    """Mean pre-period spend of treatment and control in each segment.

    Parameters
    ----------
    balance : pandas.DataFrame
        :func:`seglab.campaigns.group_balance`.
    names : dict, optional
        Segment label → persona name.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    lang : {"en", "zh"}, optional
        Language of the chart's text (default: the theme's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang = language(lang)
    names = names or {}
    ax = _axes(ax, (8, 0.5 * len(balance) + 1.5))
    labels = [names.get(str(s), str(s)) for s in balance["segment"]]
    y = np.arange(len(balance))
    ax.barh(y + 0.2, balance["mean_spend_treatment"], height=0.4,
            label=i18n.text("treatment", lang), color="#4c72b0")
    ax.barh(y - 0.2, balance["mean_spend_control"], height=0.4,
            label=i18n.text("control", lang), color="#dd8452")
    ax.set_yticks(y, labels)
    ax.set(title=i18n.text("Mean spend before the campaign: treatment and control, per segment",
                           lang),
           xlabel=i18n.text("mean spend per customer before the campaign", lang))
    _thousands(ax, "x", lang=lang)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


@_nothing_when_empty
def pair_heatmap(matrix: pd.DataFrame, *, ax: Axes | None = None,
                 lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (0.7 * matrix.shape[1] + 3.5, 0.45 * matrix.shape[0] + 3))
    labels = matrix.map(lambda v: f"{v:.1f}" if pd.notna(v) else "")
    sns.heatmap(matrix.astype(float), annot=labels, fmt="", cmap="RdBu_r", center=1.0,
                cbar_kws={"label": i18n.text("lift (1 = as often as chance)", lang)},
                linewidths=0.5, linecolor="white", ax=ax, annot_kws={"fontsize": 8})
    ax.set(title=i18n.text("What sells together: lift of the top product pairs in each "
                           "segment's orders", lang),
           xlabel=i18n.text("product pair (bought in one order)", lang),
           ylabel=_label("segment", lang))
    ax.set_xticklabels(ax.get_xticklabels(), rotation=35, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


@_nothing_when_empty
def offer_evaluation(scores: pd.DataFrame, *, ax: Axes | None = None,
                     lang: str | None = None) -> Axes:
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
    lang = language(lang)
    ax = _axes(ax, (7, 3.5))
    n = int(scores["n"].iloc[0])
    long = scores.melt(id_vars="method", value_vars=["precision_at_n", "recall_at_n"],
                       var_name="measure", value_name="value")
    long["measure"] = long["measure"].map({
        "precision_at_n": i18n.text("precision at {n}", lang, n=n),
        "recall_at_n": i18n.text("recall at {n}", lang, n=n)})
    sns.barplot(long, x="measure", y="value", hue="method", ax=ax)
    for container in ax.containers:
        ax.bar_label(container, labels=[f"{v:.1%}" for v in container.datavalues], fontsize=8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=i18n.text("Do the offers predict what customers bought next?", lang),
           xlabel="", ylabel=i18n.text("share (mean over customers)", lang))
    ax.legend(title=i18n.text("offers from", lang), fontsize=8)
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
