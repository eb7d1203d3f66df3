"""Tests of segments over time (seglab.dynamics) and its stage."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_RETAIL

from seglab import churn_model, dynamics, features, plots, report, segments, study, synth
from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError, InputError

N = 1000
SEED = 5


@pytest.fixture(scope="module")
def planted() -> synth.SyntheticStudy:
    return synth.make_study(N, seed=SEED, dirt=False)  # dynamics of a clean log


@pytest.fixture(scope="module")
def tx(planted: synth.SyntheticStudy) -> pd.DataFrame:
    return planted.transactions


@pytest.fixture(scope="module")
def as_of(tx: pd.DataFrame) -> pd.Timestamp:
    return default_as_of(tx)


@pytest.fixture(scope="module")
def snaps(tx: pd.DataFrame, as_of: pd.Timestamp) -> dynamics.Snapshots:
    return dynamics.take_snapshots(tx, dynamics.snapshot_dates(as_of))


@pytest.fixture(scope="module")
def flows(snaps: dynamics.Snapshots, tx: pd.DataFrame) -> pd.DataFrame:
    return dynamics.migration(snaps, tx)


# ------------------------------------------------------------------------------ dates


def test_snapshot_dates_step_back_in_calendar_months():
    dates = dynamics.snapshot_dates("2011-12-09", cadence="quarterly", steps=4)
    assert [d.date().isoformat() for d in dates] == [
        "2010-12-09", "2011-03-09", "2011-06-09", "2011-09-09", "2011-12-09"]
    monthly = dynamics.snapshot_dates("2024-05-31", cadence="monthly", steps=3)
    assert [d.date().isoformat() for d in monthly] == [
        "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]
    clipped = dynamics.snapshot_dates("2011-12-09", steps=4,
                                      first_day=pd.Timestamp("2011-01-01"))
    assert clipped[0] == pd.Timestamp("2011-03-09") and len(clipped) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cadence": "weekly"}, r"cadence='weekly' is not supported"),
        ({"steps": 0}, r"steps=0 should be a whole number >= 1"),
        ({"first_day": pd.Timestamp("2011-11-01")}, r"too short for two quarterly snapshots"),
    ],
)
def test_snapshot_dates_reject_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        dynamics.snapshot_dates("2011-12-09", **kwargs)


# ----------------------------------------------------------------------- thresholds


def test_fixed_thresholds_reproduce_notebook_02_segments_at_the_latest_date(tx, as_of):
    dates = dynamics.snapshot_dates(as_of, steps=1)
    whole = dynamics.take_snapshots(tx, dates, window_days=0)
    latest = whole.at(dates[-1])
    table = features.customer_features(tx, as_of=dates[-1]).set_index("customer_id")
    expected = segments.rfm_segments(table)
    pd.testing.assert_series_equal(latest["rfm_segment"], expected["rfm_segment"],
                                   check_names=False)
    assert (latest["r_score"] == expected["r_score"]).all()
    # The earlier date is scored on the latest cut points, not on its own quintiles.
    earlier = whole.at(dates[0])
    edges = whole.thresholds.frequency
    manual = 1 + sum((earlier["window_orders"] >= e).astype(int) for e in edges)
    assert (earlier["f_score"] == manual).all()
    own = segments.score(earlier["window_orders"])
    assert not (earlier["f_score"] == own).all()


def test_value_tiers_cut_at_fixed_amounts(snaps):
    high, middle = snaps.thresholds.tiers
    table = snaps.table
    assert (table.loc[table["value_tier"] == "High value", "window_revenue"] >= high).all()
    low = table["value_tier"] == "Low value"
    assert (table.loc[low, "window_revenue"] < middle).all()
    assert (table.loc[low, "window_revenue"] > 0).all()
    latest = snaps.at(snaps.dates[-1])
    buyers = latest[latest["window_revenue"] > 0]
    assert (buyers["value_tier"] == "High value").mean() == pytest.approx(0.2, abs=0.01)


def test_tier_shares_are_checked(snaps):
    latest = snaps.at(snaps.dates[-1])
    with pytest.raises(ConfigError, match=r"tier_shares=\(0.6, 0.5\) should be two shares"):
        dynamics.fit_thresholds(latest, date=snaps.dates[-1], tier_shares=(0.6, 0.5))


def test_snapshots_use_only_data_up_to_each_date(snaps, tx):
    first = snaps.dates[0]
    seen = set(tx.loc[tx["order_date"] < first + pd.Timedelta(days=1), "customer_id"])
    assert set(snaps.at(first).index) == seen
    assert (snaps.at(first)["days_since_last_order"] >= 0).all()


# ------------------------------------------------------------------------- clusters


def test_cluster_assigner_keeps_the_reported_labels_at_every_date(tx, snaps):
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    latest = snaps.features[snaps.dates[-1]].assign(extra=1.0)
    transform = make_pipeline(
        ColumnTransformer([("used", "passthrough", ["orders", "days_since_last_order"])]),
        StandardScaler()).fit(latest)
    model = KMeans(n_clusters=3, n_init=3, random_state=0).fit(transform.transform(latest))
    renumber = {0: 2, 1: 0, 2: 1}  # the stage reports clusters in value order
    reference = latest.assign(cluster=pd.Series(model.labels_).map(renumber).to_numpy())
    assign = dynamics.cluster_assigner({"transform": transform, "model": model}, reference)
    np.testing.assert_array_equal(assign(reference), reference["cluster"])
    earlier = snaps.features[snaps.dates[0]]  # has no "extra" column: filled in
    labels = assign(earlier)
    assert len(labels) == len(earlier) and set(labels) <= {0, 1, 2}
    taken = dynamics.take_snapshots(tx, snaps.dates[-3:], cluster_labels=assign)
    assert taken.at(snaps.dates[-1])["cluster"].tolist() == reference["cluster"].tolist()
    flows = dynamics.migration(taken, tx, segment_col="cluster")
    assert set(flows["from_segment"]) == {"(new)", "0", "1", "2"}  # not "0.0"
    assert dynamics.check_migration(flows, taken, segment_col="cluster")["agrees"].all()


def test_cluster_assigner_uses_a_model_that_predicts_reported_labels(snaps):
    class Reported:
        class transform:  # mimics the fitted transform attribute
            source_columns_ = ("orders", "channel_share_kiosk")

        def predict(self, table):
            assert "channel_share_kiosk" in table
            return np.where(table["orders"] > 3, 1, 0)

    table = snaps.features[snaps.dates[-1]]
    labels = dynamics.cluster_assigner(Reported(), table)(table)
    np.testing.assert_array_equal(labels, np.where(table["orders"] > 3, 1, 0))
    with pytest.raises(InputError, match=r"cluster_model\.joblib should hold"):
        dynamics.cluster_assigner({"model": None}, table)


# ------------------------------------------------------------------------ migration


def test_migration_file_adds_up(snaps, flows, tx, tmp_path):
    assert list(flows.columns) == ["from_date", "to_date", "from_segment", "to_segment",
                                   "customers", "revenue"]
    for start, end in itertools.pairwise(snaps.dates):
        step = flows[flows["from_date"] == start.date().isoformat()]
        before = snaps.at(start)["rfm_segment"].value_counts()
        after = snaps.at(end)["rfm_segment"].value_counts()
        leaving = step.groupby("from_segment")["customers"].sum()
        new = leaving.pop(dynamics.NEW_SEGMENT)
        pd.testing.assert_series_equal(leaving.sort_index(), before.sort_index(),
                                       check_names=False)
        assert new == after.sum() - before.sum()
        arriving = step.groupby("to_segment")["customers"].sum()
        pd.testing.assert_series_equal(arriving.sort_index(), after.sort_index(),
                                       check_names=False)
        day = tx["order_date"].dt.normalize()
        period = tx.loc[(day > start) & (day <= end), "amount"].sum()
        assert step["revenue"].sum() == pytest.approx(period, abs=0.01 * len(step))
    path = tmp_path / "segment_migration.csv"
    flows.to_csv(path, index=False)
    checks = dynamics.check_migration(pd.read_csv(path), snaps)
    assert checks["agrees"].all()
    assert dynamics.check_summary(checks)["every segment adds up"].all()


def test_migration_check_catches_a_wrong_count(snaps, flows):
    broken = flows.copy()
    broken.loc[0, "customers"] += 1
    checks = dynamics.check_migration(broken, snaps)
    assert not checks["agrees"].all()
    assert not dynamics.check_summary(checks)["every segment adds up"].iloc[0]


def test_migration_follows_other_segmentations(snaps, tx):
    lifecycle = dynamics.migration(snaps, tx, segment_col="lifecycle_stage")
    assert set(lifecycle["to_segment"]) <= {"New", "Active", "At risk", "Dormant", "Churned"}
    assert dynamics.check_migration(lifecycle, snaps, segment_col="lifecycle_stage")[
        "agrees"].all()
    with pytest.raises(ConfigError, match=r"segment_col='membership' is not followed"):
        dynamics.migration(snaps, tx, segment_col="membership")


def test_transition_matrix_rows_are_shares_new_first(flows):
    matrix = dynamics.transition_matrix(flows, segment_col="rfm_segment")
    assert matrix.index[0] == dynamics.NEW_SEGMENT
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    last = dynamics.transition_matrix(flows, steps=1, normalize=False)
    assert last.to_numpy().sum() == flows.loc[flows["from_date"] == flows["from_date"].max(),
                                              "customers"].sum()


def test_tier_value_flows_reconcile_with_the_snapshots(snaps):
    tiers = dynamics.tier_value_flows(snaps)
    total = tiers.iloc[-1]
    latest = snaps.at(snaps.dates[-1])
    assert total["customers"] == len(latest)
    assert total["value_after"] == pytest.approx(latest["window_revenue"].sum())
    assert total["value_before"] == pytest.approx(snaps.at(snaps.dates[-2])[
        "window_revenue"].sum())
    rank = {name: i for i, name in enumerate(dynamics.TIER_NAMES)}
    moved = tiers.iloc[:-1]
    up = moved[moved["move"] == "up"]
    assert (up["from_tier"].map(rank) > up["to_tier"].map(rank)).all()


def test_newly_at_risk_were_healthy_and_are_ranked_by_value_at_risk(snaps):
    risk = pd.Series(0.5, index=snaps.at(snaps.dates[-1]).index)
    listed = dynamics.newly_at_risk(snaps, risk=risk)
    assert len(listed) > 0
    assert set(listed["stage_before"]) <= set(dynamics.HEALTHY_STAGES)
    assert set(listed["lifecycle_stage"]) <= set(dynamics.AT_RISK_STAGES)
    assert listed["value_at_risk"].is_monotonic_decreasing


# ----------------------------------------------------------- planted movement


def test_measured_migration_matches_planted_movement(planted, snaps):
    """The generator's planted movement is what the snapshots measure.

    Checked three ways: (1) lifecycle states measured at each date against the planted
    stage (arrivals exactly, lapses over the year, agreement per customer); (2) loyal
    customers the generator made lapse leave the good RFM segments while loyal ones it
    kept active stay; (3) customers of the ongoing segments who arrived in the first
    step have become active regulars by the end.
    """
    dates = snaps.dates
    truth = {d: synth.planted_stage(planted.movement, d) for d in dates}
    table = dynamics.planted_comparison(snaps, truth)
    steps, year = table.iloc[:-1], table.iloc[-1]
    assert (abs(steps["measured_arrivals"] - steps["planted_arrivals"])
            <= 0.05 * steps["planted_arrivals"] + 2).all()
    assert year["measured_arrivals"] == pytest.approx(year["planted_arrivals"], rel=0.03)
    assert year["lapses_in_both"] >= 0.85 * year["planted_lapses"]
    assert year["lapses_in_both"] >= 0.75 * year["measured_lapses"]
    assert (table["agreement"] >= 0.9).all()

    movement = planted.movement.set_index("customer_id")
    first, last = snaps.at(dates[0]), snaps.at(dates[-1])
    good = ["Champions", "Loyal"]
    loyal_then = first.index[first["rfm_segment"].isin(good)]
    lapsing = loyal_then[movement.loc[loyal_then, "segment"].eq("Lapsing").to_numpy()]
    kept = loyal_then[movement.loc[loyal_then, "segment"].isin(["VIP loyal", "Regular"])
                      .to_numpy()]
    assert len(lapsing) >= 50 and len(kept) >= 100
    assert last.loc[lapsing, "rfm_segment"].isin(
        ["At risk", "Can't lose", "Hibernating", "Lost"]).mean() >= 0.9
    assert last.loc[kept, "rfm_segment"].isin(good).mean() >= 0.75

    ongoing = movement["segment"].isin(["VIP loyal", "Regular", "Bargain hunter"])
    arrived = movement.index[ongoing & (movement["active_from"] > dates[0])
                             & (movement["active_from"] <= dates[1])]
    assert len(arrived) >= 15
    assert (first.index.intersection(arrived)).empty
    assert last.loc[arrived, "lifecycle_stage"].eq("Active").mean() >= 0.8


# ---------------------------------------------------------------------------- cohorts


def test_cohorts_count_every_buyer_once_and_reconcile_revenue(tx, as_of):
    table = dynamics.cohorts(tx, as_of=as_of, months=100)
    sizes = table.groupby("cohort")["cohort_customers"].first()
    assert sizes.sum() == tx.loc[tx["amount"] > 0, "customer_id"].nunique()
    assert (table.loc[table["month"] == 0, "retention"] == 1.0).all()
    assert table["revenue"].sum() == pytest.approx(tx["amount"].sum(), rel=1e-9)
    assert table.groupby("cohort")["month"].max().is_monotonic_decreasing
    assert (table["retention"].between(0, 1)).all()
    latest = dynamics.cohorts(tx, as_of=as_of, months=3)
    assert latest["cohort"].nunique() == 3


# ------------------------------------------------------------------------------ churn


@pytest.fixture(scope="module")
def churn(tx, as_of, snaps) -> churn_model.ChurnResult:
    dates = churn_model.churn_dates(as_of)
    needed = sorted({d for group in dates.values() for d in group})
    tables = dynamics.features_at(tx, needed, cache=snaps.features)
    return churn_model.fit_churn_model(tx, tables, train_dates=dates["train"],
                                    test_date=dates["test"][0], final_dates=dates["final"],
                                    as_of=as_of, random_state=0)


def test_churn_dates_keep_training_outcomes_before_the_holdout():
    dates = churn_model.churn_dates(pd.Timestamp("2011-12-10"), horizon_days=90, train_dates=3)
    assert dates["test"] == [pd.Timestamp("2011-09-11")]
    assert max(dates["train"]) + pd.Timedelta(days=90) == dates["test"][0]
    assert max(dates["final"]) == dates["test"][0]
    assert len(dates["train"]) == 3


def test_churn_model_beats_p_alive_on_the_synthetic_holdout(churn):
    s = churn.scores
    assert s["auc"] > 0.85
    assert s["auc"] > s["baseline_auc"] + 0.1
    assert s["auc"] > s["recency_auc"]
    assert 0 < s["base_rate"] < 1
    assert churn.holdout["risk"].between(0, 1).all()
    top = churn.calibration.iloc[-1]
    assert top["observed"] > 0.8 and churn.calibration.iloc[0]["observed"] < 0.2
    assert churn.drivers["auc_drop"].iloc[0] > 0.01
    summary = churn.summary()
    assert summary.iloc[0]["ROC AUC"] == s["auc"]
    rules = {"baseline_auc", "expected_auc", "recency_auc"}
    assert s["best_baseline_auc"] == max(s[k] for k in rules) == churn.best_baseline_auc
    assert s["auc"] > s["best_baseline_auc"]
    assert "ranks customers better than" in churn.headline()


def _with_scores(churn: churn_model.ChurnResult, **aucs: float) -> churn_model.ChurnResult:
    """The fitted result with its holdout AUCs replaced (keys as in ``scores``)."""
    return dataclasses.replace(churn, scores={**churn.scores, **aucs})


def test_headline_names_the_strongest_rule_not_p_alive(churn):
    # The UCI pattern: 1 - P(alive) below chance, days since last order the strongest.
    result = _with_scores(churn, auc=0.74, baseline_auc=0.43, expected_auc=0.61,
                          recency_auc=0.69)
    assert result.best_baseline == "days since last order"
    assert result.best_baseline_auc == 0.69
    assert result.headline() == (
        "Churn in the next 90 days, on the holdout: the churn model ranks customers better "
        "than days since last order, the strongest simple rule (ROC AUC 0.74 vs 0.69).")
    assert "P(alive)" not in result.headline()
    table = result.summary()
    assert table["score"].tolist()[1:4] == [
        "baseline: 1 - P(alive), BG/NBD",
        "baseline: BG/NBD expected purchases in the horizon",
        "baseline: days since last order (strongest)",
    ]
    assert table["ROC AUC"].tolist()[1:4] == [0.43, 0.61, 0.69]

    expected = _with_scores(churn, auc=0.80, baseline_auc=0.43, expected_auc=0.73,
                            recency_auc=0.69)
    assert expected.best_baseline == "BG/NBD expected purchases in the horizon"
    assert "better than BG/NBD expected purchases in the horizon" in expected.headline()
    assert "(ROC AUC 0.80 vs 0.73)" in expected.headline()


def test_headline_says_when_the_model_loses_to_a_simple_rule(churn):
    result = _with_scores(churn, auc=0.66, baseline_auc=0.43, expected_auc=0.61,
                          recency_auc=0.69)
    assert result.headline() == (
        "Churn in the next 90 days, on the holdout: the churn model does not beat days since "
        "last order, the strongest simple rule, which ranks customers better (ROC AUC 0.66 "
        "vs 0.69); rank by the rule instead.")
    assert "ranks customers better than" not in result.headline()
    # Level at the two decimals printed: no claim of a win either way.
    level = _with_scores(churn, auc=0.6912, baseline_auc=0.43, expected_auc=0.61,
                         recency_auc=0.6901)
    assert "no better than days since last order" in level.headline()
    assert "(ROC AUC 0.69 vs 0.69)" in level.headline()


def test_strongest_baseline_breaks_ties_in_a_fixed_order():
    def best(recency: float, expected: float, p_alive: float) -> str:
        return churn_model.strongest_baseline(
            {"recency_auc": recency, "expected_auc": expected, "baseline_auc": p_alive})[1]

    assert best(0.7, 0.7, 0.7) == "days since last order"
    assert best(0.6, 0.7, 0.7) == "BG/NBD expected purchases in the horizon"
    assert best(0.6, 0.6, 0.7) == "1 - P(alive), BG/NBD"
    assert [name for _, name in churn_model.CHURN_BASELINES] == [
        "days since last order", "BG/NBD expected purchases in the horizon",
        "1 - P(alive), BG/NBD"]


def test_churn_model_scores_everyone_today(churn, as_of, snaps):
    risk = churn.predict(snaps.features[as_of])
    assert len(risk) == len(snaps.at(as_of)) and risk.between(0, 1).all()


def test_churn_model_refuses_overlapping_or_incomplete_windows(tx, as_of, snaps):
    test_date = as_of - pd.Timedelta(days=90)
    with pytest.raises(ConfigError, match=r"should end at least horizon_days=90 before"):
        churn_model.fit_churn_model(tx, snaps.features, train_dates=[test_date - pd.Timedelta(
            days=30)], test_date=test_date, as_of=as_of)
    with pytest.raises(ConfigError, match=r"outcome window of 90 days .* is not complete"):
        churn_model.fit_churn_model(tx, snaps.features, train_dates=[as_of - pd.Timedelta(
            days=200)], test_date=as_of - pd.Timedelta(days=60), as_of=as_of)


@pytest.mark.skipif(not SHARED_RETAIL.exists(), reason="shared Online Retail log absent")
def test_churn_model_beats_p_alive_on_online_retail():
    from seglab import clean, io

    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(raw)
    tx = clean.clean_transactions(raw, as_of=as_of).transactions
    dates = churn_model.churn_dates(as_of, horizon_days=90)
    tables = dynamics.features_at(tx, sorted({d for g in dates.values() for d in g}))
    result = churn_model.fit_churn_model(tx, tables, train_dates=dates["train"],
                                      test_date=dates["test"][0], as_of=as_of)
    s = result.scores
    assert s["test_customers"] > 2500
    assert s["auc"] > 0.72
    assert s["auc"] > s["baseline_auc"] + 0.2
    assert s["top_decile_precision"] > s["baseline_top_decile_precision"]
    assert s["auc"] > s["recency_auc"]
    # 1 - P(alive) is below chance here (every one-time buyer has P(alive) = 1); BG/NBD's
    # expected purchases are the strongest simple rule (0.734; recency 0.688).
    assert s["baseline_auc"] < 0.5
    assert result.best_baseline == "BG/NBD expected purchases in the horizon"
    assert s["best_baseline_auc"] > s["recency_auc"] + 0.03
    assert s["auc"] > s["best_baseline_auc"]
    assert "better than BG/NBD expected purchases in the horizon" in result.headline()


# -------------------------------------------------------------------------- monitoring


def test_monitoring_reconciles_and_marks_predicted_churn(snaps, tx, churn, as_of):
    predicted = {as_of: churn.predict(snaps.features[as_of])}
    table = dynamics.monitoring(snaps, tx, costs=synth.COST_TABLE, predicted_risk=predicted,
                                as_of=as_of)
    per_date = table.groupby("date")["customers"].sum()
    assert per_date.tolist() == [len(snaps.at(d)) for d in snaps.dates]
    last_step = table[table["date"] == snaps.dates[-1]]
    day = tx["order_date"].dt.normalize()
    period = tx.loc[(day > snaps.dates[-2]) & (day <= snaps.dates[-1]), "amount"].sum()
    assert last_step["revenue"].sum() == pytest.approx(period, rel=1e-9)
    assert set(last_step["churn_basis"]) == {"predicted"}
    assert set(table.loc[table["date"] == snaps.dates[0], "churn_basis"]) == {"observed"}
    assert table["churn_share"].between(0, 1).all()


# ------------------------------------------------------------------------------- plots


def test_dynamics_plots_draw(snaps, flows, tx, as_of, churn):
    with plots.theme():
        matrix = dynamics.transition_matrix(flows, segment_col="rfm_segment")
        ax = plots.transition_heatmap(matrix)
        assert ax.get_title().startswith("Where each segment")
        ax = plots.migration_flow(flows, steps=2)
        assert len(ax.patches) > 20
        assert [t.get_text() for t in ax.get_xticklabels()] == [
            d.date().isoformat() for d in snaps.dates[-3:]]
        ax = plots.cohort_heatmap(dynamics.cohorts(tx, as_of=as_of))
        assert "Cohorts" in ax.get_title()
        assert len(plots.churn_calibration(churn.calibration).lines) == 2
        assert len(plots.churn_drivers(churn.drivers, top=5).patches) == 5
        monitor = dynamics.monitoring(snaps, tx, as_of=as_of)
        fig = plots.segment_monitor(monitor, order=dynamics.segment_order(
            monitor["segment"].unique(), "rfm_segment"))
        assert len(fig.axes) == 5 * monitor["segment"].nunique()
    plt.close("all")


# ------------------------------------------------------------------------------- stage


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dynamics-run")
    study.stage_inputs(folder, n_customers=500, seed=3)
    return folder


def test_stage_writes_migration_metrics_and_churn_risk(run_dir):
    result = study.dynamics_stage(run_dir, seed=1)
    flows = pd.read_csv(run_dir / "segment_migration.csv")
    assert list(flows.columns) == ["from_date", "to_date", "from_segment", "to_segment",
                                   "customers", "revenue"]
    assert dynamics.check_migration(flows, result.snapshots)["agrees"].all()
    customers = pd.read_csv(run_dir / "customers.csv", dtype={"customer_id": "string"})
    assert customers.columns[0] == "customer_id"
    assert customers["churn_risk"].between(0, 1).all()
    assert customers["newly_at_risk"].sum() == len(result.at_risk)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"auc", "horizon_days", "baseline_auc"} <= set(metrics["churn"])
    churn = metrics["churn"]
    assert churn["best_baseline"] == result.churn.best_baseline
    assert churn["best_baseline_auc"] == max(churn["baseline_auc"], churn["recency_auc"],
                                             churn["expected_purchases_auc"])
    assert churn["headline"] == result.churn.headline()
    assert churn["best_baseline"] in churn["headline"]
    label, value = report.headline_figures(metrics)[-1]
    assert label == ("churn risk, next 90 days: ROC AUC (strongest simple rule: "
                     f"{churn['best_baseline']})")
    assert value == f"{churn['auc']:.2f} ({churn['best_baseline_auc']:.2f})"
    assert metrics["churn"]["horizon_days"] == 90
    assert metrics["dynamics"]["migration_adds_up"] is True
    assert result.planted_known and metrics["dynamics"]["planted_agreement"] > 0.85
    assert (run_dir / "segment_monitoring.csv").exists()
    assert not result.masked
    assert result.at_risk["customer_id"].str.startswith("C").all()

    again = study.dynamics_stage(run_dir, seed=1)
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "segment_migration.csv"), flows)
    assert again.churn.scores == result.churn.scores


def test_stage_masks_the_action_list_when_the_run_is_shared(run_dir, monkeypatch):
    monkeypatch.setenv("SEGLAB_PII_SALT", "test-salt")
    meta = json.loads((run_dir / "study.json").read_text())
    (run_dir / "study.json").write_text(json.dumps({**meta, "mask_pii": True}))
    try:
        result = study.dynamics_stage(run_dir, steps=2)
    finally:
        (run_dir / "study.json").write_text(json.dumps(meta))
    assert result.masked
    assert result.at_risk["customer_id"].str.fullmatch(r"id_[0-9a-f]{12}").all()
    customers = pd.read_csv(run_dir / "customers.csv", dtype={"customer_id": "string"})
    assert customers["customer_id"].str.startswith("C").all()  # the private file is not


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"segment_col": "membership"}, r"segment_col='membership' cannot be followed"),
        ({"cadence": "yearly"}, r"cadence='yearly' is not supported"),
    ],
)
def test_stage_rejects_bad_parameters(run_dir, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        study.dynamics_stage(run_dir, **kwargs)


def test_stage_shrinks_a_churn_horizon_the_log_cannot_hold(run_dir):
    # Two horizons of 400 days do not fit the two-year log: the horizon shrinks to a third
    # of the span, the report says so, and metrics record the horizon actually used.
    result = study.dynamics_stage(run_dir, horizon_days=400)
    span = study.load_inputs(run_dir).support.span_days
    assert result.notes["churn"].startswith(f"Churn means no purchase in {span // 3} days, not 400")
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert metrics["churn"]["horizon_days"] == span // 3
    assert metrics["sections"]["churn"] == {"status": "adapted", "note": result.notes["churn"]}
