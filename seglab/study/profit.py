"""Stage 4 (notebook 04): P&L at four levels, CLV and persona cards."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seglab import (
    clv,
    i18n,
    persona,
    products,
    profit,
    support,
)
from seglab.errors import ConfigError, InputError
from seglab.runfolder import (
    StudyMeta,
    open_for_writing,
)
from seglab.study.common import (
    StageOutput,
    add_by_customer,
    customer_table,
    drop_in_place,
    write_output,
)
from seglab.study.source import LineFigures, TransactionLog, open_log
from seglab.study.staging import load_inputs


@dataclass
class ProfitStage:
    """What the profit stage produced, for display."""

    customers: pd.DataFrame
    segment_pnl: pd.DataFrame
    cards: pd.DataFrame
    whale: pd.DataFrame
    ledger: dict[str, float]
    sub_segment_pnl: pd.DataFrame = field(default_factory=pd.DataFrame)
    reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)
    whale_summary: dict[str, Any] = field(default_factory=dict)
    loss_makers: pd.DataFrame = field(default_factory=pd.DataFrame)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    clv_parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    rules: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: pd.Series | None = None
    notes: dict[str, str] = field(default_factory=dict)
    output: StageOutput = field(default_factory=StageOutput, repr=False)


#: Most customers the CLV models are fitted (and the holdout check is run) on.
CLV_FIT_SAMPLE = 500_000

#: The customer columns of the purchase models, empty when they are not fitted.
CLV_COLUMNS = ("p_alive", "expected_orders_90d", "clv")


def profit_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    sub_segment_by: str = "auto",
    horizon_days: int = 365,
    discount_rate: float = 0.10,
    holdout_days: int = 180,
    strategy_rules: list | None = None,
) -> ProfitStage:
    """P&L at four levels, whale curve, CLV and persona cards; write ``segments.csv``.

    Adds ``gross_margin``, ``cost_to_serve``, ``profit`` (with the other P&L lines),
    ``p_alive``, ``expected_orders_90d``, ``clv``, ``persona`` and ``strategy`` to
    ``customers.csv``; writes one row per segment to ``segments.csv`` (with ``standout``,
    the categories the segment buys more often than the average customer, from
    :func:`seglab.products.segment_index`, when the log has categories); records the
    ``profit``, ``bgnbd`` (r, alpha, a, b in the run's time unit) and ``clv`` metrics.

    The costs charged are the study's (``study.json``, set when the inputs are staged
    from the params file's shared ``costs``), so notebooks 05 and 07 charge the same.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to report on (``cluster`` or a rule segment column).
    sub_segment_by : str
        Splits segments into sub-segments by each customer's main ``channel``,
        ``region`` or ``country``; ``auto`` takes the first the data has.
    horizon_days : int
        CLV horizon in days.
    discount_rate : float
        Annual discount rate of CLV.
    holdout_days : int
        Days at the end kept out of a second BG/NBD fit to check its forecast.
    strategy_rules : list, optional
        A replacement for :data:`seglab.persona.STRATEGY_RULES` (dicts with
        ``strategy``, ``when``, ``action``, ``kpi``).

    Returns
    -------
    ProfitStage
        Tables for the report.

    Raises
    ------
    ConfigError
        For an unknown segment column, sub-segment column or a bad rule.
    """
    run = open_for_writing(run_dir)
    table = customer_table(run.path, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(run.path, lines=False)
    result = compute_profit(
        table, open_log(inputs), inputs.meta, truth=inputs.truth, segment_col=segment_col,
        sub_segment_by=sub_segment_by, horizon_days=horizon_days, discount_rate=discount_rate,
        holdout_days=holdout_days, strategy_rules=strategy_rules)
    write_output(run, result.output)
    return result


def compute_profit(table: pd.DataFrame, log: TransactionLog, meta: StudyMeta, *,
                   truth: pd.DataFrame | None, segment_col: str, sub_segment_by: str,
                   horizon_days: int, discount_rate: float, holdout_days: int,
                   strategy_rules: list | None) -> ProfitStage:
    """Compute each customer's P&L, CLV and persona, and the tables by segment.

    ``table`` is the customer table (one row per customer, with the RFM columns and
    ``segment_col``); the stage's columns are added to it in place, replacing those a
    previous run left, so that a large table is not copied. ``truth`` holds the planted
    segments of synthetic data (None otherwise); ``meta`` gives the costs, time unit,
    language and what the log supports. The other parameters are :func:`profit_stage`'s.
    Nothing is written.
    """
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    lang, found, costs, time_unit = meta.lang, meta.support, meta.cost_table(), meta.time_unit
    strategy_rules = strategy_rules or None  # an empty list means the default table
    rules = persona.rules_frame(strategy_rules, lang=lang)  # refuses a malformed rule
    transactions = log.lines()  # a large log's: those of the sample
    dimension = profit.sub_segment_column(transactions, sub_segment_by)
    notes, holdout_days = _section_notes(found, dimension, holdout_days, lang)

    table["segment"] = table[segment_col].astype(str)
    labels = table.set_index("customer_id")["segment"]
    figures = log.line_figures(costs=costs, dimension=dimension, holdout_days=holdout_days,
                               time_unit=time_unit, holdout_customers=CLV_FIT_SAMPLE)
    seg, sub, totals, check = _add_pnl(table, figures, costs, labels, meta.as_of, dimension)
    bgnbd, spend, notes["clv"] = _add_clv(
        table, seg, skipped=notes["clv"], horizon_days=horizon_days,
        discount_rate=discount_rate, time_unit=time_unit, lang=lang)
    holdout, calibrated = pd.DataFrame(), None
    if holdout_days:
        holdout, calibrated, failed = _holdout_check(figures.holdout, holdout_days, found, lang)
        notes["clv_holdout"] = failed or notes["clv_holdout"]

    index = (products.segment_index(transactions, labels, item_col="category", name_col=None)
             if found.has("category") else None)
    cards = _add_personas(table, seg, index, strategy_rules)
    export = _segments_table(cards, seg)
    whale = profit.whale_summary(table["profit"], lang=lang)
    planted = None if truth is None else table[["customer_id"]].merge(
        truth, on="customer_id", how="left")["segment"].rename("planted segment").set_axis(
        table.index)
    losers = _loss_makers(table, planted)
    metrics = {
        "profit": _profit_metrics(table, segment_col, totals, check, whale, losers, dimension,
                                  costs, export),
        "bgnbd": bgnbd.params_ if bgnbd else {"fitted": False},
        "clv": _clv_metrics(table, bgnbd, spend, holdout, calibrated, time_unit=time_unit,
                            horizon_days=horizon_days, discount_rate=discount_rate,
                            holdout_days=holdout_days),
    }
    output = StageOutput(customers=table, files={"segments": export}, metrics=metrics,
                         sections=notes)
    table, seg, cards = _in_language(table, seg, cards, index, lang)
    return ProfitStage(
        customers=table, segment_pnl=seg, cards=cards,
        whale=profit.whale_curve(table["profit"]), ledger=totals,
        sub_segment_pnl=pd.DataFrame() if sub is None else sub, reconciliation=check,
        whale_summary=whale, loss_makers=losers, costs=profit.cost_table_frame(costs, lang=lang),
        clv_parameters=pd.DataFrame() if bgnbd is None else
        clv.parameter_table(bgnbd, spend, time_unit=time_unit, lang=lang),
        holdout=holdout, rules=rules, truth=planted, notes=notes, output=output)


def _section_notes(found: support.DataSupport, dimension: str | None, holdout_days: int,
                   lang: str) -> tuple[dict[str, str], int]:
    """Return the notes on CLV, its holdout check and sub-segments, and the holdout days.

    The holdout shrinks to half the log's span (the model needs as long before it), and
    is 0 when the check is skipped.
    """
    notes = {"clv": "", "clv_holdout": "", "sub_segments": "" if dimension else
             found.missing_note(support.SUB_SEGMENT_DIMENSIONS,
                                i18n.text("splitting segments by channel", lang), lang=lang)}
    fitted = found.fit_days(holdout_days, share=1 / 2)
    if not found.fits_purchase_model:
        notes["clv"] = i18n.text(
            "Skipped: only {repeat} customers bought on two or more days; the purchase models "
            "need at least {needed}, so p_alive, expected_orders_90d and clv are left empty.",
            lang, repeat=found.repeat_customers, needed=support.MIN_REPEAT_CUSTOMERS)
        fitted = 0
    if not fitted:
        notes["clv_holdout"] = notes["clv"] or i18n.text(
            "Skipped: {span} days of history are too few to keep {days} or more days out of a "
            "second fit.", lang, span=found.span_days, days=support.MIN_WINDOW_DAYS)
    elif fitted != holdout_days:
        notes["clv_holdout"] = i18n.text(
            "The CLV holdout check keeps out the last {days} days instead of {asked}: the log "
            "covers {span} days and the purchase model needs at least as long before it.",
            lang, days=fitted, asked=holdout_days, span=found.span_days)
    return notes, fitted


def _add_pnl(table: pd.DataFrame, figures: LineFigures, costs: profit.CostTable,
             labels: pd.Series, as_of: pd.Timestamp, dimension: str | None
             ) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, float], pd.DataFrame]:
    """Add each customer's P&L lines to ``table`` in place, replacing a previous run's.

    Returns the P&L by segment, by sub-segment (None without ``dimension``), the
    portfolio's ledger and the reconciliation of the four levels.
    """
    contacts = (table.set_index("customer_id")["service_contacts"]
                if "service_contacts" in table else None)
    options = {"segments": labels, "as_of": as_of, "service_contacts": contacts}
    pnl = profit.pnl_from_line_sums(figures.sums, costs, **options)
    stale = [c for c in (*pnl.columns, *CLV_COLUMNS, "persona", "strategy")
             if c in table and c != "revenue"]
    sub_col = f"main_{dimension}" if dimension is not None else None
    drop_in_place(table, [*stale, sub_col])
    add_by_customer(table, pnl.drop(columns="revenue"))
    if sub_col is not None:
        add_by_customer(table, figures.main.rename(sub_col).to_frame())

    seg = profit.segment_pnl(table, "segment")
    sub = profit.sub_segment_pnl(table, "segment", sub_col) if sub_col else None
    totals = profit.portfolio_from_line_totals(figures.totals, figures.sums["first_order"],
                                               costs, **options)
    check = profit.reconciliation(table, seg, totals, sub_segments=sub)
    if sub is not None:
        sub = sub[["segment", sub_col, "customers", "revenue", "gross_margin", "cost_to_serve",
                   "profit", "profit_margin", "profit_per_customer", "unprofitable_share"]]
    return seg, sub, totals, check


def _add_clv(table: pd.DataFrame, seg: pd.DataFrame, *, skipped: str, horizon_days: int,
             discount_rate: float, time_unit: str, lang: str
             ) -> tuple[clv.BetaGeoModel | None, clv.GammaGammaModel | None, str]:
    """Add :data:`CLV_COLUMNS` to ``table`` in place: BG/NBD and Gamma-Gamma on the RFM columns.

    CLV is valued at the contribution margin of the customer's segment. The columns
    stay empty when the fit is ``skipped`` (its note) or fails; returns the two fitted
    models (None then) and the CLV note.
    """
    margin = table["segment"].map(seg["profit_margin"]).fillna(0.0).to_numpy()
    for name in CLV_COLUMNS:
        table[name] = np.nan
    if skipped:
        return None, None, skipped
    try:
        predicted, bgnbd, spend = clv.customer_clv(
            table[["frequency", "recency", "T", "monetary_value"]], margin=margin,
            horizon_days=horizon_days, discount_rate=discount_rate, time_unit=time_unit,
            forecast_days=90, fit_sample=CLV_FIT_SAMPLE,
        )
    except InputError as error:
        return None, None, i18n.text(
            "Skipped: the purchase models cannot be fitted on this log ({error}); "
            "p_alive, expected_orders_90d and clv are left empty.", lang, error=error)
    table["p_alive"] = predicted["p_alive"]
    table["expected_orders_90d"] = predicted["expected_orders"]
    table["clv"] = predicted["clv"]
    return bgnbd, spend, ""


def _holdout_check(split: pd.DataFrame, holdout_days: int, found: support.DataSupport,
                   lang: str) -> tuple[pd.DataFrame, clv.BetaGeoModel | None, str]:
    """Fit BG/NBD without the last ``holdout_days`` and compare its forecast with them.

    Returns :func:`seglab.clv.holdout_check` (empty when the fit fails), the model
    fitted and a note on the failure ("" when there is none).
    """
    if len(split) > CLV_FIT_SAMPLE:
        split = split.sample(CLV_FIT_SAMPLE, random_state=0).sort_index()
    calibrated = None
    try:
        calibrated = clv.BetaGeoModel().fit(split["frequency"], split["recency"], split["T"])
        return clv.holdout_check(split, calibrated), calibrated, ""
    except InputError as error:
        return pd.DataFrame(), calibrated, i18n.text(
            "Skipped: the first {days} days cannot be fitted on their own ({error})",
            lang, days=found.span_days - holdout_days, error=error)


def _add_personas(table: pd.DataFrame, seg: pd.DataFrame, index: pd.DataFrame | None,
                  rules: list | None) -> pd.DataFrame:
    """Return the persona cards; add each segment's persona and strategy to both tables.

    ``index`` (:func:`seglab.products.segment_index`, None without categories) gives
    the cards' ``standout``: the categories a segment buys more than the average customer.
    """
    cards = persona.persona_cards(table, "segment", rules=rules)
    if index is not None:
        cards["standout"] = products.standout_text(index).reindex(cards.index)
    table["persona"] = table["segment"].map(cards["persona"])
    table["strategy"] = table["segment"].map(cards["strategy"])
    seg.insert(0, "persona", seg.index.map(cards["persona"]).fillna(""))
    return cards


def _segments_table(cards: pd.DataFrame, seg: pd.DataFrame) -> pd.DataFrame:
    """Return ``segments.csv``: the persona cards, key figures first, and the costs."""
    first = ["persona", "customers", "revenue", "profit", "clv", "strategy", "action", "kpi"]
    extra = seg[[c for c in ("cost_of_goods", *profit.COST_TO_SERVE_PARTS) if c in seg]]
    export = cards[first + [c for c in cards if c not in first]].join(extra)
    return export.rename_axis("segment").reset_index()


def _loss_makers(table: pd.DataFrame, planted: pd.Series | None) -> pd.DataFrame:
    """Tabulate the high-revenue customers who lose money, by segment and in all."""
    money = ["segment", "revenue", "gross_margin", "cost_to_serve", "profit",
             *(c for c in profit.COST_TO_SERVE_PARTS if c in table)]
    losers = profit.high_revenue_loss_makers(
        table[money] if planted is None else table[money].assign(**{"planted segment": planted}),
        "segment", describe=None if planted is None else "planted segment")
    shown = ["high_revenue", "losing", "losing_share", "losing_by_cost_to_serve",
             "largest_cost", "planted segment of losers", "revenue", "gross_margin",
             "cost_to_serve", "profit"]
    return losers[[c for c in shown if c in losers]]


def _profit_metrics(table: pd.DataFrame, segment_col: str, totals: dict[str, float],
                    check: pd.DataFrame, whale: dict[str, Any], losers: pd.DataFrame,
                    dimension: str | None, costs: profit.CostTable, export: pd.DataFrame
                    ) -> dict[str, Any]:
    """Return the ``profit`` section of ``metrics.json``."""
    return {
        "segment_col": segment_col,
        **{name: totals[name] for name in ("revenue", "gross_margin", "cost_to_serve",
                                           "profit")},
        "unprofitable_customer_share": float((table["profit"] < 0).mean()),
        "reconciles": bool(check["agrees"].all()),
        "whale_peak_customer_share": whale["peak_customer_share"],
        "whale_peak_profit_share": whale["peak_profit_share"],
        "high_revenue_losing": int(losers.loc["All", "losing"]),
        "sub_segment_by": dimension,
        "costs": {item.name: getattr(costs, item.name) for item in fields(costs)},
        "segments": export[["segment", "persona", "customers", "revenue", "profit", "clv",
                            "strategy"]].to_dict("records"),
    }


def _clv_metrics(table: pd.DataFrame, bgnbd: clv.BetaGeoModel | None,
                 spend: clv.GammaGammaModel | None, holdout: pd.DataFrame,
                 calibrated: clv.BetaGeoModel | None, *, time_unit: str, horizon_days: int,
                 discount_rate: float, holdout_days: int) -> dict[str, Any]:
    """Return the ``clv`` section of ``metrics.json``: the fits and the holdout check."""
    repeat = table["frequency"] > 0
    return {
        "time_unit": time_unit,
        "horizon_days": horizon_days,
        "discount_rate": discount_rate,
        "fitted": bgnbd is not None,
        **({} if bgnbd is None else {
            "customers": bgnbd.n_customers_,
            "bgnbd_fit_seconds": bgnbd.fit_seconds_,
            "bgnbd_log_likelihood": bgnbd.log_likelihood_,
            "gamma_gamma": spend.params_,
            "gamma_gamma_customers": spend.n_customers_,
            "gamma_gamma_fit_seconds": spend.fit_seconds_,
            "frequency_spend_correlation": float(
                table.loc[repeat, ["frequency", "monetary_value"]].corr().iloc[0, 1]),
            "clv_total": float(table["clv"].sum()),
        }),
        "holdout": None if holdout.empty else {
            "days": holdout_days, "bgnbd": calibrated.params_,
            "predicted_purchases": float((holdout["predicted"] * holdout["customers"]).sum()),
            "actual_purchases": float((holdout["actual"] * holdout["customers"]).sum())},
    }


def _in_language(table: pd.DataFrame, seg: pd.DataFrame, cards: pd.DataFrame,
                 index: pd.DataFrame | None, lang: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return display copies of the customers, segment P&L and cards in ``lang``.

    The files keep the English names; the copies share the tables' other columns.
    ``index`` is :func:`seglab.products.segment_index` of the standout categories.
    """
    if lang == "en":
        return table, seg, cards
    cards = persona.display_cards(cards, lang)
    if index is not None:
        cards["standout"] = products.standout_text(index, lang=lang).reindex(cards.index)
    seg = seg.assign(persona=seg["persona"].map(lambda name: persona.persona_label(name, lang)))
    table = table.assign(**{column: table["segment"].map(cards[column])
                            for column in ("persona", "strategy")})
    return table, seg, cards
