"""Stage 5 (notebook 05): segments over time, churn risk and the monitor."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd

from seglab import i18n, support, synth
from seglab.analysis_date import day_end
from seglab.errors import ConfigError, InputError
from seglab.runfolder import FILES, StudyMeta, open_for_writing
from seglab.study.common import (
    StageOutput,
    customer_table,
    display_salt,
    drop_in_place,
    show_customers,
    write_output,
)
from seglab.study.source import TransactionLog, open_log
from seglab.study.staging import load_inputs

if TYPE_CHECKING:
    from seglab.churn_model import ChurnResult
    from seglab.dynamics import Ledger, Snapshots

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
    output: StageOutput = field(default_factory=StageOutput, repr=False)

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
    from seglab import dynamics

    if segment_col not in dynamics.SEGMENTATIONS:
        raise ConfigError(f"segment_col={segment_col!r} cannot be followed over time; use one "
                          f"of {list(dynamics.SEGMENTATIONS)}.")
    if cadence not in dynamics.CADENCES:
        raise ConfigError(f"cadence={cadence!r} is not supported; use one of "
                          f"{list(dynamics.CADENCES)}.")
    run = open_for_writing(run_dir)
    table = customer_table(run.path, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(run.path)  # lines too: the sample note counts a large log's sample
    meta, lang = inputs.meta, inputs.meta.lang
    result = compute_dynamics(
        table, open_log(inputs), meta, truth=inputs.truth,
        saved_clustering=functools.partial(joblib.load, run.cluster_model)
        if run.cluster_model.exists() else None,
        pii_salt=display_salt(run, meta),
        sample_note=inputs.sample_note(
            whole=i18n.text("Features, segments and the churn risk of every customer", lang),
            sampled=i18n.text("the snapshots, migration, cohorts, monitor and the churn "
                              "model's training", lang), lang=lang),
        cadence=cadence, steps=steps, segment_col=segment_col, window_days=window_days,
        horizon_days=horizon_days, cohort_months=cohort_months, seed=seed)
    write_output(run, result.output)
    return result


def compute_dynamics(table: pd.DataFrame, log: TransactionLog, meta: StudyMeta, *,
                     truth: pd.DataFrame | None, saved_clustering: Callable[[], Any] | None,
                     pii_salt: str | None, sample_note: str, cadence: str, steps: int,
                     segment_col: str, window_days: int, horizon_days: int,
                     cohort_months: int, seed: int) -> DynamicsStage:
    """Follow the segments over time, fit the churn model and build the monitor.

    The parameters are :func:`dynamics_stage`'s, checked there. ``table`` (the customer
    table) gains ``churn_risk`` and ``newly_at_risk`` in place, not copied since it
    may hold millions of rows. ``meta`` gives the analysis date, language, costs and
    what the log supports; ``truth`` the planted truth of a synthetic study (or None).
    ``saved_clustering`` reads the clustering of notebook 03 (None: the run has none);
    ``pii_salt`` pseudonymises the customers shown as newly at risk (None: shown as
    they are); ``sample_note`` says what a large log's sample covers. Nothing is written.
    """
    from seglab import dynamics

    as_of, lang = meta.as_of, meta.lang
    transactions = log.lines()
    transactions = transactions[transactions["order_date"] < day_end(as_of)]
    first_day = transactions["order_date"].min().normalize()
    dates, used_cadence, snapshots_note = _snapshot_dates(
        as_of, first_day, cadence=cadence, steps=steps, span_days=meta.support.span_days,
        lang=lang)
    horizon_days, churn_dates, churn_note = _churn_horizon(
        as_of, first_day, horizon_days=horizon_days, found=meta.support, lang=lang)
    assign = _cluster_assigner(saved_clustering, table, segment_col)
    snaps = dynamics.take_snapshots(transactions, dates, window_days=window_days,
                                    cluster_labels=assign)
    book = dynamics.ledger(transactions)
    flows = dynamics.migration(snaps, book, segment_col=segment_col)
    checks = dynamics.check_migration(flows, snaps, segment_col=segment_col)
    churn, churn_note = _churn_model(transactions, snaps, book, churn_dates, churn_note,
                                     horizon_days=horizon_days, as_of=as_of, seed=seed,
                                     lang=lang)
    notes = {"snapshots": snapshots_note, "churn": churn_note}
    # A sample's snapshots cover only its customers; the customer table has everyone.
    risk = (pd.Series(np.nan, index=pd.Index(table["customer_id"]), name="churn_risk")
            if churn is None else
            churn.predict(table if log.is_sample else snaps.features[as_of]))
    at_risk = dynamics.newly_at_risk(snaps, risk=None if churn is None else risk)
    drop_in_place(table, ["churn_risk", "newly_at_risk"])
    table["churn_risk"] = table["customer_id"].map(risk).to_numpy()
    table["newly_at_risk"] = table["customer_id"].isin(at_risk["customer_id"]).to_numpy()

    incomplete = {d: churn.predict(snaps.features[d]) for d in dates
                  if churn is not None and d + pd.Timedelta(days=horizon_days) > as_of}
    # The monitor charges the study's costs, as notebook 04's P&L does.
    monitor = dynamics.monitoring(snaps, transactions, segment_col=segment_col,
                                  costs=meta.cost_table(), horizon_days=horizon_days,
                                  predicted_risk=incomplete, as_of=as_of)
    movement = _planted_movement(meta, truth)
    planted = None if movement is None else dynamics.planted_comparison(
        snaps, {d: synth.planted_stage(movement, d) for d in dates})
    latest = snaps.at(as_of)
    metrics = {"churn": _churn_metrics(churn, horizon_days), "dynamics": {
        "cadence": used_cadence,
        "dates": [d.date().isoformat() for d in dates],
        "segment_col": segment_col,
        "window_days": window_days,
        "migration_adds_up": bool(checks["agrees"].all()),
        "clusters_followed": assign is not None,
        "cluster_agreement_latest": None if assign is None else float(
            (latest["cluster"].to_numpy() == table.set_index("customer_id")["cluster"]
             .reindex(latest.index).to_numpy()).mean()),
        "newly_at_risk": len(at_risk),
        "planted_agreement": None if planted is None else planted["agreement"].iloc[-1],
    }}
    return DynamicsStage(
        **_display_tables(snaps, book, flows, checks, at_risk, churn, monitor, planted,
                          segment_col=segment_col, first_day=first_day, as_of=as_of,
                          cohort_months=cohort_months, pii_salt=pii_salt, lang=lang),
        segment_col=segment_col, migration=flows, checks=checks, churn=churn,
        monitoring=monitor, snapshots=snaps, sample_note=sample_note, notes=notes, lang=lang,
        output=StageOutput(customers=table,
                           files={"segment_migration": flows, "segment_monitoring": monitor},
                           metrics=metrics, sections=notes))


def _snapshot_dates(as_of: pd.Timestamp, first_day: pd.Timestamp, *, cadence: str,
                    steps: int, span_days: int, lang: str
                    ) -> tuple[list[pd.Timestamp], str, str]:
    """Take snapshot dates at ``cadence``, or monthly when the log is too short for two.

    Returns the dates, the cadence used and the note of the snapshots section.
    """
    from seglab import dynamics

    try:
        return dynamics.snapshot_dates(as_of, cadence=cadence, steps=steps,
                                       first_day=first_day), cadence, ""
    except ConfigError:
        if cadence == "monthly" or cadence not in dynamics.CADENCES:
            raise
    dates = dynamics.snapshot_dates(as_of, cadence="monthly", steps=max(steps, 2),
                                    first_day=first_day)
    return dates, "monthly", i18n.text(
        "Snapshots are {used}, not {asked}: the log covers {span} days, too few for two "
        "{asked} dates.", lang, used=i18n.text("monthly", lang),
        asked=i18n.text(cadence, lang), span=span_days)


def _churn_horizon(as_of: pd.Timestamp, first_day: pd.Timestamp, *, horizon_days: int,
                   found: support.DataSupport, lang: str
                   ) -> tuple[int, dict[str, list[pd.Timestamp]], str]:
    """Fit the churn horizon to the log; return it, the churn model's dates and the note.

    The horizon is 0 (and the note says the model is skipped) when no horizon fits.
    """
    from seglab import churn_model

    asked, horizon_days = horizon_days, found.fit_days(horizon_days, share=1 / 3)
    note = ""
    if horizon_days and horizon_days != asked:
        note = i18n.text(
            "Churn means no purchase in {days} days, not {asked}: the log covers {span} days "
            "and the model needs two horizons of history before the analysis date.", lang,
            days=horizon_days, asked=asked, span=found.span_days)
    churn_dates = churn_model.churn_dates(as_of, horizon_days=max(horizon_days, 1))
    churn_dates["train"] = [d for d in churn_dates["train"] if d > first_day]
    if not horizon_days or not churn_dates["train"]:
        note = i18n.text(
            "Skipped: the log covers {span} days, too few to train a churn model and check it "
            "on a later holdout.", lang, span=found.span_days)
    return horizon_days, churn_dates, note


def _cluster_assigner(saved_clustering: Callable[[], Any] | None, table: pd.DataFrame,
                      segment_col: str) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """Return a labeller of past customer tables by the saved clustering (None: no clusters).

    A clustering that cannot label the customer table is left out with a warning, unless
    the clusters are the segmentation followed (``segment_col="cluster"``): then it raises,
    and so does a missing one (:class:`ConfigError`).
    """
    from seglab import dynamics

    if saved_clustering is not None and "cluster" in table:
        try:
            assign = dynamics.cluster_assigner(saved_clustering(), table)
            assign(table.head(5))
            return assign
        except (AttributeError, KeyError, TypeError, ValueError, InputError) as exc:
            if segment_col == "cluster":
                raise
            logger.warning("clusters are not followed over time: %s cannot assign the "
                           "customer table (%s); rerun the clustering notebook",
                           FILES.cluster_model, exc)
    if segment_col == "cluster":
        raise ConfigError(f"segment_col='cluster' needs {FILES.cluster_model} in the run "
                          "folder; run the clustering notebook (03) first.")
    return None


def _churn_model(transactions: pd.DataFrame, snaps: Snapshots, book: Ledger,
                 churn_dates: dict[str, list[pd.Timestamp]], note: str, *,
                 horizon_days: int, as_of: pd.Timestamp, seed: int, lang: str
                 ) -> tuple[ChurnResult | None, str]:
    """Fit the churn model unless ``note`` skips it; return it (or None) and the churn note."""
    from seglab import churn_model, dynamics

    if support.is_skipped(note):
        return None, note
    needed = sorted({d for group in churn_dates.values() for d in group})
    tables = dynamics.features_at(transactions, needed, cache=snaps.features)
    try:
        return churn_model.fit_churn_model(
            book, tables, train_dates=churn_dates["train"], test_date=churn_dates["test"][0],
            horizon_days=horizon_days, as_of=as_of, random_state=seed), note
    except (ValueError, InputError) as error:
        return None, i18n.text("Skipped: the churn model cannot be fitted on this log "
                               "({error}).", lang, error=error)


def _churn_metrics(churn: ChurnResult | None, horizon_days: int) -> dict[str, Any]:
    """Return the ``churn`` section of ``metrics.json``."""
    if churn is None:
        return {"fitted": False}
    s = churn.scores
    return {
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
    }


def _display_tables(snaps: Snapshots, book: Ledger, flows: pd.DataFrame,
                    checks: pd.DataFrame, at_risk: pd.DataFrame, churn: ChurnResult | None,
                    monitor: pd.DataFrame, planted: pd.DataFrame | None, *,
                    segment_col: str, first_day: pd.Timestamp, as_of: pd.Timestamp,
                    cohort_months: int, pii_salt: str | None, lang: str) -> dict[str, Any]:
    """Return the report's tables by :class:`DynamicsStage` field, names in ``lang``."""
    from seglab import dynamics

    tier_migration = flows if segment_col == "value_tier" else dynamics.migration(
        snaps, book, segment_col="value_tier")
    at_risk = show_customers(at_risk, pii_salt)
    return {
        "dates": pd.DataFrame({
            "date": [d.date().isoformat() for d in snaps.dates],
            "days of data up to it": [(d - first_day).days + 1 for d in snaps.dates],
            "customers": [int((snaps.table["date"] == d).sum()) for d in snaps.dates],
        }),
        "sizes": dynamics.display_names(dynamics.segment_sizes(snaps, segment_col), lang),
        "check_summary": dynamics.display_names(dynamics.check_summary(checks), lang),
        "matrix": dynamics.transition_matrix(flows, segment_col=segment_col),
        "thresholds": snaps.thresholds.frame(),
        "tier_flows": dynamics.display_names(dynamics.tier_value_flows(snaps), lang),
        "tier_revenue": dynamics.transition_matrix(tier_migration, steps=1, value="revenue",
                                                   normalize=False, segment_col="value_tier"),
        "at_risk": dynamics.display_names(at_risk, lang),
        "masked": pii_salt is not None,
        "cohorts": dynamics.cohorts(book, as_of=as_of, months=cohort_months),
        "churn_summary": pd.DataFrame() if churn is None else churn.summary(lang),
        "monitoring_order": dynamics.segment_order(monitor["segment"].unique(), segment_col),
        "planted": planted if planted is not None else pd.DataFrame(
            {"note": [i18n.text("Not available: this data has no planted movement.", lang)]}),
        "planted_known": planted is not None,
    }


def _planted_movement(meta: StudyMeta, truth: pd.DataFrame | None) -> pd.DataFrame | None:
    """Regenerate the synthetic study's planted movement from ``study.json`` (or None)."""
    if not meta.synthetic or truth is None or meta.n_customers is None:
        return None
    study = synth.make_study(meta.n_customers, seed=meta.seed)
    same = study.truth["customer_id"].astype(str).tolist() == truth[
        "customer_id"].astype(str).tolist()
    return study.movement if same else None
