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
    open_for_writing,
)
from seglab.study.common import (
    add_by_customer,
    customer_table,
    drop_in_place,
    record_metrics,
    record_sections,
    write_customers,
)
from seglab.study.source import open_log
from seglab.study.staging import load_inputs, report_language


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


#: Most customers the CLV models are fitted (and the holdout check is run) on.
CLV_FIT_SAMPLE = 500_000


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
    folder = run.path
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    inputs = load_inputs(folder, lines=False)
    log = open_log(inputs)
    transactions = log.lines()  # a large log's: those of the sample
    costs, time_unit = inputs.meta.cost_table(), inputs.meta.time_unit

    # P&L per customer: replace any P&L columns a previous run of this stage left.
    table["segment"] = table[segment_col].astype(str)
    labels = table.set_index("customer_id")["segment"]
    contacts = (table.set_index("customer_id")["service_contacts"]
                if "service_contacts" in table else None)
    options = {"segments": labels, "as_of": inputs.as_of, "service_contacts": contacts}
    dimension = profit.sub_segment_column(transactions, sub_segment_by)
    found = inputs.support
    lang = report_language(folder)
    notes = {"clv": "", "clv_holdout": "", "sub_segments": "" if dimension else
             found.missing_note(support.SUB_SEGMENT_DIMENSIONS,
                                i18n.text("splitting segments by channel", lang), lang=lang)}
    asked_holdout, holdout_days = holdout_days, found.fit_days(holdout_days, share=1 / 2)
    if not found.fits_purchase_model:
        notes["clv"] = i18n.text(
            "Skipped: only {repeat} customers bought on two or more days; the purchase models "
            "need at least {needed}, so p_alive, expected_orders_90d and clv are left empty.",
            lang, repeat=found.repeat_customers, needed=support.MIN_REPEAT_CUSTOMERS)
        holdout_days = 0
    if not holdout_days:
        notes["clv_holdout"] = notes["clv"] or i18n.text(
            "Skipped: {span} days of history are too few to keep {days} or more days out of a "
            "second fit.", lang, span=found.span_days, days=support.MIN_WINDOW_DAYS)
    elif holdout_days != asked_holdout:
        notes["clv_holdout"] = i18n.text(
            "The check keeps out the last {days} days instead of {asked}: the log covers "
            "{span} days and the model needs at least as long before it.", lang,
            days=holdout_days, asked=asked_holdout, span=found.span_days)
    figures = log.line_figures(costs=costs, dimension=dimension, holdout_days=holdout_days,
                               time_unit=time_unit, holdout_customers=CLV_FIT_SAMPLE)
    pnl = profit.pnl_from_line_sums(figures.sums, costs, **options)
    added = ["p_alive", "expected_orders_90d", "clv", "persona", "strategy"]
    stale = [c for c in (*pnl.columns, *added) if c in table and c != "revenue"]
    sub_col = f"main_{dimension}" if dimension is not None else None
    drop_in_place(table, [*stale, sub_col])
    add_by_customer(table, pnl.drop(columns="revenue"))
    if sub_col is not None:
        add_by_customer(table, figures.main.rename(sub_col).to_frame())

    seg = profit.segment_pnl(table, "segment")
    sub = profit.sub_segment_pnl(table, "segment", sub_col) if sub_col else None
    totals = profit.portfolio_from_line_totals(figures.totals, figures.sums["first_order"], costs,
                                       **options)
    check = profit.reconciliation(table, seg, totals, sub_segments=sub)

    # CLV: BG/NBD and Gamma-Gamma on the run's RFM columns, valued at the contribution
    # margin of the customer's segment.
    margin = table["segment"].map(seg["profit_margin"]).fillna(0.0).to_numpy()
    bgnbd = spend = calibrated = None
    for name in ("p_alive", "expected_orders_90d", "clv"):
        table[name] = np.nan
    if not notes["clv"]:
        try:
            predicted, bgnbd, spend = clv.customer_clv(
                table[["frequency", "recency", "T", "monetary_value"]], margin=margin,
                horizon_days=horizon_days, discount_rate=discount_rate, time_unit=time_unit,
                forecast_days=90, fit_sample=CLV_FIT_SAMPLE,
            )
        except InputError as error:
            notes["clv"] = i18n.text(
                "Skipped: the purchase models cannot be fitted on this log ({error}); "
                "p_alive, expected_orders_90d and clv are left empty.", lang, error=error)
    if bgnbd is not None:
        table["p_alive"] = predicted["p_alive"]
        table["expected_orders_90d"] = predicted["expected_orders"]
        table["clv"] = predicted["clv"]
    holdout = pd.DataFrame()
    if holdout_days:
        split = figures.holdout
        if len(split) > CLV_FIT_SAMPLE:
            split = split.sample(CLV_FIT_SAMPLE, random_state=0).sort_index()
        try:
            calibrated = clv.BetaGeoModel().fit(split["frequency"], split["recency"],
                                                split["T"])
            holdout = clv.holdout_check(split, calibrated)
        except InputError as error:
            notes["clv_holdout"] = i18n.text(
                "Skipped: the first {days} days cannot be fitted on their own ({error})",
                lang, days=found.span_days - holdout_days, error=error)

    strategy_rules = strategy_rules or None  # an empty list means the default table
    cards = persona.persona_cards(table, "segment", rules=strategy_rules)
    standout = None
    if found.has("category"):  # the categories each segment buys more than average
        index = products.segment_index(transactions, labels, item_col="category", name_col=None)
        cards["standout"] = products.standout_text(index).reindex(cards.index)
        if lang != "en":
            standout = products.standout_text(index, lang=lang).reindex(cards.index)
    table["persona"] = table["segment"].map(cards["persona"])
    table["strategy"] = table["segment"].map(cards["strategy"])
    write_customers(folder, table)
    seg.insert(0, "persona", seg.index.map(cards["persona"]).fillna(""))
    if sub is not None:
        sub = sub[["segment", sub_col, "customers", "revenue", "gross_margin", "cost_to_serve",
                   "profit", "profit_margin", "profit_per_customer", "unprofitable_share"]]

    first = ["persona", "customers", "revenue", "profit", "clv", "strategy", "action", "kpi"]
    extra = seg[[c for c in ("cost_of_goods", *profit.COST_TO_SERVE_PARTS) if c in seg]]
    export = cards[first + [c for c in cards if c not in first]].join(extra)
    export.rename_axis("segment").reset_index().to_csv(run.segments, index=False)

    whale = profit.whale_summary(table["profit"], lang=lang)
    truth = None
    if inputs.truth is not None:
        truth = table[["customer_id"]].merge(inputs.truth, on="customer_id", how="left")[
            "segment"].rename("planted segment").set_axis(table.index)
    money = ["segment", "revenue", "gross_margin", "cost_to_serve", "profit",
             *(c for c in profit.COST_TO_SERVE_PARTS if c in table)]
    losers = profit.high_revenue_loss_makers(
        table[money].assign(**{"planted segment": truth}) if truth is not None
        else table[money], "segment", describe="planted segment" if truth is not None else None)
    shown = ["high_revenue", "losing", "losing_share", "losing_by_cost_to_serve",
             "largest_cost", "planted segment of losers", "revenue", "gross_margin",
             "cost_to_serve", "profit"]
    record_metrics(folder, "profit", {
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
        "segments": export[["persona", "customers", "revenue", "profit", "clv", "strategy"]]
        .rename_axis("segment").reset_index().to_dict("records"),
    })
    record_metrics(folder, "bgnbd", bgnbd.params_ if bgnbd else {"fitted": False})
    repeat = table["frequency"] > 0
    record_metrics(folder, "clv", {
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
    })
    record_sections(folder, notes)
    if lang != "en":  # display copies: the files keep the English names
        cards = persona.display_cards(cards, lang)
        if standout is not None:
            cards["standout"] = standout
        seg["persona"] = seg["persona"].map(lambda name: persona.persona_label(name, lang))
        for column in ("persona", "strategy"):
            table[column] = table["segment"].map(cards[column])
    return ProfitStage(
        customers=table, segment_pnl=seg, cards=cards,
        whale=profit.whale_curve(table["profit"]), ledger=totals, sub_segment_pnl=sub
        if sub is not None else pd.DataFrame(), reconciliation=check, whale_summary=whale,
        loss_makers=losers[[c for c in shown if c in losers]],
        costs=profit.cost_table_frame(costs, lang=lang),
        clv_parameters=pd.DataFrame() if bgnbd is None else
        clv.parameter_table(bgnbd, spend, time_unit=time_unit, lang=lang),
        holdout=holdout, rules=persona.rules_frame(strategy_rules, lang=lang), truth=truth,
        notes=notes,
    )


