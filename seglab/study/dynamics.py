"""Stage 5 (notebook 05): segments over time, churn risk and the monitor."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from seglab import (
    i18n,
    support,
    synth,
)
from seglab.analysis_date import day_end
from seglab.errors import ConfigError, InputError
from seglab.runfolder import (
    open_for_writing,
)
from seglab.study.common import (
    customer_table,
    drop_in_place,
    masked_for_display,
    record_metrics,
    record_sections,
    write_customers,
)
from seglab.study.source import open_log
from seglab.study.staging import StudyInputs, load_inputs, report_language

logger = logging.getLogger(__name__)


@dataclass
class DynamicsStage:
    """What the segments-over-time stage produced, for display."""

    dates: pd.DataFrame
    segment_col: str
    sizes: pd.DataFrame
    migration: pd.DataFrame
    checks: pd.DataFrame
    check_summary: pd.DataFrame
    matrix: pd.DataFrame
    thresholds: pd.DataFrame
    tier_flows: pd.DataFrame
    tier_revenue: pd.DataFrame
    at_risk: pd.DataFrame
    cohorts: pd.DataFrame
    churn: Any
    churn_summary: pd.DataFrame
    monitoring: pd.DataFrame
    monitoring_order: list
    planted: pd.DataFrame
    planted_known: bool = False
    masked: bool = False
    snapshots: Any = None
    sample_note: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    lang: str = "en"

    @property
    def churn_calibration(self) -> pd.DataFrame:
        """The churn model's calibration table (empty when the model was skipped)."""
        return pd.DataFrame() if self.churn is None else self.churn.calibration

    @property
    def churn_headline(self) -> str:
        """The churn model against the strongest simple rule, in a sentence ("" if skipped)."""
        return "" if self.churn is None else self.churn.headline(self.lang)

    @property
    def churn_drivers(self) -> pd.DataFrame:
        """The churn model's drivers (empty when the model was skipped)."""
        return pd.DataFrame() if self.churn is None else self.churn.drivers


def _fitting_snapshot_dates(as_of: pd.Timestamp, cadence: str, steps: int,
                            first_day: pd.Timestamp) -> tuple[list[pd.Timestamp], str]:
    """Snapshot dates at ``cadence``, or monthly when the log is too short for two."""
    from seglab import dynamics

    try:
        return dynamics.snapshot_dates(as_of, cadence=cadence, steps=steps,
                                       first_day=first_day), cadence
    except ConfigError:
        if cadence == "monthly" or cadence not in dynamics.CADENCES:
            raise
    return dynamics.snapshot_dates(as_of, cadence="monthly", steps=max(steps, 2),
                                   first_day=first_day), "monthly"


def _planted_movement(inputs: StudyInputs) -> pd.DataFrame | None:
    """Regenerate the synthetic study's planted movement from ``study.json`` (or None)."""
    meta = inputs.meta
    if not meta.synthetic or inputs.truth is None or meta.n_customers is None:
        return None
    study = synth.make_study(meta.n_customers, seed=meta.seed)
    same = study.truth["customer_id"].astype(str).tolist() == inputs.truth[
        "customer_id"].astype(str).tolist()
    return study.movement if same else None


def dynamics_stage(
    run_dir: str | Path | None,
    *,
    cadence: str = "quarterly",
    steps: int = 4,
    segment_col: str = "rfm_segment",
    window_days: int = 365,
    horizon_days: int = 90,
    cohort_months: int = 12,
    seed: int = 0,
) -> DynamicsStage:
    """Segments over time: snapshots, migration, cohorts, churn risk and a monitor.

    Recomputes features and segments at ``steps + 1`` dates ending at the analysis
    date, each from the data up to it (see :mod:`seglab.dynamics` for how segments
    stay comparable), and writes ``segment_migration.csv`` (customers and next-period
    revenue per step, from segment and to segment) and ``segment_monitoring.csv``. A
    churn model (:func:`seglab.churn_model.fit_churn_model`) trained on dates whose
    outcomes end by a holdout ``horizon_days`` before the analysis date, and checked on
    it, adds ``churn_risk`` (and the ``newly_at_risk`` flag) to ``customers.csv``;
    records the ``churn`` and ``dynamics`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    cadence : {"monthly", "quarterly"}
        Months between snapshots.
    steps : int
        Steps between snapshots (``steps + 1`` dates).
    segment_col : str
        Segmentation followed in ``segment_migration.csv`` and the monitor: one of
        :data:`seglab.dynamics.SEGMENTATIONS`.
    window_days : int
        Trailing window of the RFM frequency and money scores and the value tiers
        (0 = all history, as notebook 02).
    horizon_days : int
        Churn means no purchase in this many days.
    cohort_months : int
        Acquisition months shown in the cohort triangle.
    seed : int
        Seed of the churn model.

    Returns
    -------
    DynamicsStage
        Tables and the churn model for the report.

    Raises
    ------
    ConfigError
        For an unknown cadence or segmentation, or data too short for the snapshots or
        two churn horizons.
    """
    from seglab import churn_model, dynamics

    if segment_col not in dynamics.SEGMENTATIONS:
        raise ConfigError(f"segment_col={segment_col!r} cannot be followed over time; use one "
                          f"of {list(dynamics.SEGMENTATIONS)}.")
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(folder)
    as_of = inputs.as_of
    transactions = open_log(inputs).lines()
    transactions = transactions[transactions["order_date"] < day_end(as_of)]
    first_day = transactions["order_date"].min().normalize()
    found = inputs.support
    lang = report_language(folder)
    notes = {"snapshots": "", "churn": ""}
    dates, used_cadence = _fitting_snapshot_dates(as_of, cadence, steps, first_day)
    if used_cadence != cadence:
        notes["snapshots"] = i18n.text(
            "Snapshots are {used}, not {asked}: the log covers {span} days, too few for two "
            "{asked} dates.", lang, used=i18n.text(used_cadence, lang),
            asked=i18n.text(cadence, lang), span=found.span_days)
    asked_horizon, horizon_days = horizon_days, found.fit_days(horizon_days, share=1 / 3)
    if horizon_days and horizon_days != asked_horizon:
        notes["churn"] = i18n.text(
            "Churn means no purchase in {days} days, not {asked}: the log covers {span} days "
            "and the model needs two horizons of history before the analysis date.", lang,
            days=horizon_days, asked=asked_horizon, span=found.span_days)
    churn_dates = churn_model.churn_dates(as_of, horizon_days=max(horizon_days, 1))
    churn_dates["train"] = [d for d in churn_dates["train"] if d > first_day]
    if not horizon_days or not churn_dates["train"]:
        notes["churn"] = i18n.text(
            "Skipped: the log covers {span} days, too few to train a churn model and check it "
            "on a later holdout.", lang, span=found.span_days)

    model_path = run.cluster_model
    assign = None
    if model_path.exists() and "cluster" in table:
        try:
            assign = dynamics.cluster_assigner(joblib.load(model_path), table)
            assign(table.head(5))
        except (AttributeError, KeyError, TypeError, ValueError, InputError) as exc:
            if segment_col == "cluster":
                raise
            assign = None
            logger.warning("clusters are not followed over time: %s cannot assign the "
                           "customer table (%s); rerun the clustering notebook", model_path,
                           exc)
    if segment_col == "cluster" and assign is None:
        raise ConfigError(f"segment_col='cluster' needs {model_path.name} in the run folder; "
                          "run the clustering notebook (03) first.")
    snaps = dynamics.take_snapshots(transactions, dates, window_days=window_days,
                                    cluster_labels=assign)
    book = dynamics.ledger(transactions)
    flows = dynamics.migration(snaps, book, segment_col=segment_col)
    flows.to_csv(run.segment_migration, index=False)
    checks = dynamics.check_migration(flows, snaps, segment_col=segment_col)

    churn = None
    if not support.is_skipped(notes["churn"]):
        needed = sorted({d for group in churn_dates.values() for d in group})
        tables = dynamics.features_at(transactions, needed, cache=snaps.features)
        try:
            churn = churn_model.fit_churn_model(
                book, tables, train_dates=churn_dates["train"],
                test_date=churn_dates["test"][0], horizon_days=horizon_days, as_of=as_of,
                random_state=seed)
        except (ValueError, InputError) as error:
            notes["churn"] = i18n.text("Skipped: the churn model cannot be fitted on this log "
                                       "({error}).", lang, error=error)
    # A large log's snapshots cover the customer sample; its customer table everyone.
    risk = (pd.Series(np.nan, index=pd.Index(table["customer_id"]), name="churn_risk")
            if churn is None else
            churn.predict(snaps.features[as_of] if inputs.partition is None else table))
    at_risk = dynamics.newly_at_risk(snaps, risk=None if churn is None else risk)

    drop_in_place(table, ["churn_risk", "newly_at_risk"])
    table["churn_risk"] = table["customer_id"].map(risk).to_numpy()
    table["newly_at_risk"] = table["customer_id"].isin(at_risk["customer_id"]).to_numpy()
    write_customers(folder, table)

    incomplete = {d: churn.predict(snaps.features[d]) for d in dates
                  if churn is not None and d + pd.Timedelta(days=horizon_days) > as_of}
    # The monitor charges the study's costs, as notebook 04's P&L does.
    monitor = dynamics.monitoring(snaps, transactions, segment_col=segment_col,
                                  costs=inputs.meta.cost_table(),
                                  horizon_days=horizon_days, predicted_risk=incomplete,
                                  as_of=as_of)
    monitor.to_csv(run.segment_monitoring, index=False, date_format="%Y-%m-%d")

    planted = None
    movement = _planted_movement(inputs)
    if movement is not None:
        planted = dynamics.planted_comparison(
            snaps, {d: synth.planted_stage(movement, d) for d in dates})

    history = pd.DataFrame({
        "date": [d.date().isoformat() for d in dates],
        "days of data up to it": [(d - first_day).days + 1 for d in dates],
        "customers": [int((snaps.table["date"] == d).sum()) for d in dates],
    })
    tier_revenue = dynamics.transition_matrix(flows if segment_col == "value_tier" else
                                              dynamics.migration(snaps, book,
                                                                 segment_col="value_tier"),
                                              steps=1, value="revenue", normalize=False,
                                              segment_col="value_tier")
    shown_at_risk, masked = masked_for_display(folder, at_risk)
    record_sections(folder, notes)
    s = churn.scores if churn is not None else None
    record_metrics(folder, "churn", {"fitted": False} if s is None else {
        "auc": s["auc"],
        "horizon_days": horizon_days,
        "baseline_auc": s["baseline_auc"],
        "baseline": "1 - P(alive), BG/NBD fitted at the holdout date",
        "expected_purchases_auc": s["expected_auc"],
        "recency_auc": s["recency_auc"],
        "best_baseline": churn.best_baseline,
        "best_baseline_auc": churn.best_baseline_auc,
        "headline": churn.headline(),
        "top_decile_precision": s["top_decile_precision"],
        "baseline_top_decile_precision": s["baseline_top_decile_precision"],
        "base_rate": s["base_rate"],
        "model": "logistic regression",
        "train_dates": [d.date().isoformat() for d in churn.train_dates],
        "test_date": churn.test_date.date().isoformat(),
        "holdout_customers": s["test_customers"],
        "drivers": churn.drivers["feature"].head(5).tolist(),
    })
    record_metrics(folder, "dynamics", {
        "cadence": used_cadence,
        "dates": [d.date().isoformat() for d in dates],
        "segment_col": segment_col,
        "window_days": window_days,
        "migration_adds_up": bool(checks["agrees"].all()),
        "clusters_followed": assign is not None,
        "cluster_agreement_latest": None if assign is None else float(
            (snaps.at(as_of)["cluster"].to_numpy() == table.set_index("customer_id")[
                "cluster"].reindex(snaps.at(as_of).index).to_numpy()).mean()),
        "newly_at_risk": len(at_risk),
        "planted_agreement": None if planted is None else planted["agreement"].iloc[-1],
    })
    order = dynamics.segment_order(monitor["segment"].unique(), segment_col)
    return DynamicsStage(
        dates=history, segment_col=segment_col,
        sizes=dynamics.display_names(dynamics.segment_sizes(snaps, segment_col), lang),
        migration=flows, checks=checks,
        check_summary=dynamics.display_names(dynamics.check_summary(checks), lang),
        matrix=dynamics.transition_matrix(flows, segment_col=segment_col),
        thresholds=snaps.thresholds.frame(),
        tier_flows=dynamics.display_names(dynamics.tier_value_flows(snaps), lang),
        tier_revenue=tier_revenue, at_risk=dynamics.display_names(shown_at_risk, lang),
        cohorts=dynamics.cohorts(book, as_of=as_of, months=cohort_months), churn=churn,
        churn_summary=pd.DataFrame() if churn is None else churn.summary(lang),
        monitoring=monitor, monitoring_order=order, notes=notes, lang=lang,
        planted=planted if planted is not None else pd.DataFrame(
            {"note": [i18n.text("Not available: this data has no planted movement.", lang)]}),
        planted_known=planted is not None, masked=masked, snapshots=snaps,
        sample_note=inputs.sample_note(
            whole=i18n.text("Features, segments and the churn risk of every customer", lang),
            sampled=i18n.text("the snapshots, migration, cohorts, monitor and the churn "
                              "model's training", lang), lang=lang),
    )


