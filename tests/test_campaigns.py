"""Tests of campaigns: audiences with a control group, exposures in, the readout per segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from seglab import campaigns, study, synth
from seglab.errors import ConfigError, InputError
from seglab.run import RunOptions, check_options
from seglab.runfolder import RunFolder


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "segment": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        "spend": rng.lognormal(6, 1.2, size=n).round(2),
    })


@pytest.fixture(scope="module")
def planted() -> synth.PlantedCampaigns:
    return synth.plant_campaigns(synth.make_study(2000, seed=0), seed=0)


@pytest.fixture(scope="module")
def planted_readout(planted: synth.PlantedCampaigns) -> campaigns.Readout:
    outcomes = campaigns.campaign_outcomes(planted.exposures, planted.transactions,
                                           costs=synth.COST_TABLE)
    shares = planted.lifts.groupby("campaign")["control_share"].first().to_dict()
    return campaigns.readout(outcomes, control_share=shares)


# --- audiences ----------------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.1, 0.25])
def test_control_share_per_segment_is_the_parameter(people: pd.DataFrame, share: float) -> None:
    audience = campaigns.assign_groups(people, control_share=share, seed=1)
    assert len(audience) == len(people)
    shares = audience.groupby("segment")["group"].apply(lambda g: (g == "control").mean())
    assert shares.to_numpy() == pytest.approx(share, abs=0.02)


def test_same_seed_same_audience_other_seed_other(people: pd.DataFrame) -> None:
    one = campaigns.assign_groups(people, seed=7)
    two = campaigns.assign_groups(people.sample(frac=1, random_state=2), seed=7)
    pd.testing.assert_frame_equal(one, two)  # the input's row order does not matter
    other = campaigns.assign_groups(people, seed=8)
    assert (one["group"] != other["group"]).any()


def test_groups_spend_alike_in_blocks(people: pd.DataFrame) -> None:
    balance = campaigns.group_balance(campaigns.assign_groups(people, seed=0))
    assert list(balance["segment"]) == ["a", "b", "c"]
    assert (balance["treatment"] + balance["control"] == balance["customers"]).all()

    def imbalance(block_size: int) -> float:
        return float(np.mean([
            campaigns.group_balance(campaigns.assign_groups(
                people, seed=seed, block_size=block_size))["std_difference"].abs().mean()
            for seed in range(20)]))

    # Blocks of similar spend balance spend better than a plain draw per segment (on
    # this heavy-tailed spend: 0.037 against 0.085 on average over 20 draws).
    blocked, plain = imbalance(campaigns.BLOCK_SIZE), imbalance(len(people))
    assert blocked < plain * 0.6
    assert blocked < 0.05


def test_bad_control_share_is_refused(people: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"control_share=1\.5"):
        campaigns.assign_groups(people, control_share=1.5)


def test_customers_without_consent_are_left_out(people: pd.DataFrame) -> None:
    attributes = pd.DataFrame({"customer_id": people["customer_id"].iloc[:10],
                               "contact_consent": pd.array([True, False] * 5,
                                                           dtype="boolean")})
    kept, left_out = campaigns.contactable(people.iloc[:12], attributes)
    assert list(kept["customer_id"]) == list(people["customer_id"].iloc[[0, 2, 4, 6, 8]])
    assert left_out == 7  # 5 said no, 2 have no recorded consent
    kept, left_out = campaigns.contactable(people, None)
    assert len(kept) == len(people) and left_out == 0


def test_action_code() -> None:
    assert campaigns.action_code("Win back / re-activate") == "WIN_BACK_RE_ACTIVATE"
    assert campaigns.action_code("") == "NONE"


def test_near_next_tier() -> None:
    table = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                          "membership": ["Silver", "Silver", "Regular", "Gold"],
                          "orders": [5, 3, 2, 9], "avg_order_value": [50.0, 80.0, 10.0, 90.0]})
    tier = campaigns.near_next_tier(table)
    assert list(tier["customer_id"]) == ["a", "c"]  # b lacks 3 orders; d is at the top
    assert list(tier["next_tier"]) == ["Gold", "Silver"]
    assert (tier["orders_gap"] == 1).all()


# --- exposures in ---------------------------------------------------------------------------


def test_group_labels_are_mapped_with_a_note() -> None:
    raw = pd.DataFrame({"group": ["Test", "holdout", "test"]})
    out, note = campaigns.normalise_groups(raw)
    assert list(out["group"]) == ["treatment", "control", "treatment"]
    assert "'holdout' → control" in note and "'Test' → treatment" in note
    out, note = campaigns.normalise_groups(pd.DataFrame({"group": ["1", "0"]}))
    assert list(out["group"]) == ["treatment", "control"] and note
    assert campaigns.normalise_groups(pd.DataFrame({"group": ["control"]}))[1] == ""


def test_an_unknown_group_label_names_file_column_and_value() -> None:
    with pytest.raises(InputError, match=r"sends.csv: column 'Arm' has group 'maybe'"):
        campaigns.normalise_groups(pd.DataFrame({"group": ["test", "maybe"]}),
                                   source="sends.csv", column="Arm")


def _foreign_file(planted: synth.PlantedCampaigns, path: Path) -> Path:
    exp = planted.exposures
    pd.DataFrame({
        "Member": exp["customer_id"], "Promo": exp["campaign"],
        "Arm": exp["group"].map({"treatment": "test", "control": "holdout"}),
        "Sent": exp["sent_at"].dt.strftime("%Y-%m-%d %H:%M"), "Unit cost": exp["cost"],
    }).to_csv(path, index=False)
    return path


MAPPING = "customer_id=Member,campaign=Promo,group=Arm,sent_at=Sent,cost=Unit cost"


def test_a_foreign_exposures_file_goes_through_a_mapping(
        planted: synth.PlantedCampaigns, tmp_path: Path) -> None:
    path = _foreign_file(planted, tmp_path / "sends.csv")
    study.stage_inputs(tmp_path / "run", campaigns=path, campaign_columns=MAPPING)
    staged = pd.read_parquet(RunFolder(tmp_path / "run").exposures)
    assert len(staged) == len(planted.exposures)
    assert set(staged["group"]) == {"treatment", "control"}
    assert (staged["group"].to_numpy() == planted.exposures["group"].to_numpy()).all()
    assert staged["sent_at"].min() == planted.exposures["sent_at"].min()
    meta = study.read_json(tmp_path / "run" / "study.json")
    assert "'holdout' → control" in meta["campaigns"]


def test_exposures_missing_a_column_or_with_a_bad_label(
        planted: synth.PlantedCampaigns, tmp_path: Path) -> None:
    path = _foreign_file(planted, tmp_path / "sends.csv")
    with pytest.raises(InputError, match=r"required exposures column 'group' is missing.*"
                                         r"--campaign-columns"):
        study.stage_inputs(tmp_path / "a", campaigns=path,
                           campaign_columns="customer_id=Member,campaign=Promo,sent_at=Sent")
    table = pd.read_csv(path)
    table.loc[5, "Arm"] = "B"
    table.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"sends.csv: column 'Arm' has group 'B'"):
        study.stage_inputs(tmp_path / "b", campaigns=path, campaign_columns=MAPPING)


def test_campaign_options_are_checked_up_front(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--campaign-columns maps a --campaigns file"):
        check_options(RunOptions(campaign_columns="campaign=Promo", out=tmp_path), {})
    with pytest.raises(ConfigError, match=r"--campaigns 'nowhere\.csv': no such file"):
        check_options(RunOptions(campaigns="nowhere.csv", out=tmp_path), {})
    with pytest.raises(ConfigError, match="--campaign-columns: unknown canonical column"):
        check_options(RunOptions(campaigns="synthetic", campaign_columns="campain=Promo",
                                 out=tmp_path), {})


def test_bad_exposures_are_left_out_with_a_note() -> None:
    exp = pd.DataFrame({
        "customer_id": ["a", "b", "zz", "c", "d", "e"],
        "campaign": ["X", "X", "X", "Y", "Y", "Z"],
        "group": ["treatment", "control", "control", "treatment", "treatment", "control"],
        "sent_at": pd.to_datetime(["2024-01-01"] * 5 + ["2024-03-01"]),
    })
    kept, notes = campaigns.check_exposures(
        exp, known_customers=pd.Index(list("abcde")), as_of=pd.Timestamp("2024-01-20"),
        log_end=pd.Timestamp("2024-01-19 18:00"), window_days=30)
    text = " ".join(notes)
    assert "1 exposures name customers the study does not know (e.g. zz)" in text
    assert "sent after the analysis date 2024-01-20 (Z)" in text
    assert "Campaign Y: no control group" in text
    assert "Campaign X: its 30-day window runs past the end of the log" in text
    assert "followed for 18 days" in text
    assert list(kept["customer_id"]) == ["a", "b"]


def test_outcomes_count_the_window_after_and_before_the_send() -> None:
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "order_id": ["o1", "o2", "o2", "o3", "o4"],
        "order_date": pd.to_datetime(["2024-01-05", "2024-01-12", "2024-01-12",
                                      "2024-02-20", "2023-12-20"]),
        "amount": [10.0, 20.0, 5.0, 100.0, 40.0],
        "cost": [6.0, 12.0, 3.0, 60.0, 24.0],
    })
    exp = pd.DataFrame({"customer_id": ["a", "b"], "campaign": "X",
                        "group": ["treatment", "control"],
                        "sent_at": pd.to_datetime(["2024-01-01", "2024-01-01"])})
    out = campaigns.campaign_outcomes(exp, tx, window_days=30).set_index("customer_id")
    assert out.loc["a", "orders"] == 2 and out.loc["a", "revenue"] == pytest.approx(35.0)
    assert out.loc["a", "conversion"] == 1.0
    assert out.loc["b", ["orders", "revenue", "conversion"]].tolist() == [0, 0, 0]
    assert out.loc["b", "pre_revenue"] == pytest.approx(40.0)
    assert out.loc["b", "pre_orders"] == 1
    # Profit: revenue - cost of goods - handling and shipping of each order (3 + 4).
    assert out.loc["a", "profit"] == pytest.approx(35.0 - 21.0 - 2 * 7.0)


# --- the statistics, against known answers -------------------------------------------------


def test_srm_flags_a_broken_split_only() -> None:
    assert campaigns.srm_p_value(9000, 1000, 0.1) > 0.5
    assert campaigns.srm_p_value(9000, 800, 0.1) < campaigns.SRM_ALPHA
    expected = stats.chisquare([900, 120], f_exp=[918, 102]).pvalue
    assert campaigns.srm_p_value(900, 120, 0.1) == pytest.approx(expected)


def test_cuped_matches_a_hand_computed_regression() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.gamma(2.0, 10.0, n)
    treated = rng.random(n) < 0.5
    y = 5 + 0.8 * x + 2.0 * treated + rng.normal(0, 5, n)
    est = campaigns.cuped_effect(y, x, treated)
    slope = np.polyfit(x, y, 1)[0]  # theta: the slope of y on x over both groups
    adjusted = y - slope * (x - x.mean())
    assert est.theta == pytest.approx(slope)
    assert est.effect == pytest.approx(adjusted[treated].mean() - adjusted[~treated].mean())
    assert abs(est.effect - 2.0) < 3 * est.se  # the planted 2.0, within sampling error
    assert est.variance_reduction == pytest.approx(stats.pearsonr(x, y)[0] ** 2, abs=1e-9)
    assert est.se < est.raw_se / 2
    # Without a covariate it is Welch's t-test.
    plain = campaigns.cuped_effect(y, None, treated)
    welch = stats.ttest_ind(y[treated], y[~treated], equal_var=False)
    assert plain.p_value == pytest.approx(welch.pvalue)
    assert plain.effect == pytest.approx(plain.raw_effect)


def test_cochran_q_and_mde_known_answers() -> None:
    q, p = campaigns.cochran_q(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    assert q == pytest.approx(2.0) and p == pytest.approx(np.exp(-1.0))
    mde = campaigns.minimum_detectable_effect(900, 100, 10.0)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert mde == pytest.approx(z * 10.0 * np.sqrt(1 / 900 + 1 / 100), rel=1e-3)


def test_holm_matches_statsmodels(planted_readout: campaigns.Readout) -> None:
    e = planted_readout.effects
    for (_, _), part in e.groupby(["campaign", "metric"]):
        expected = multipletests(part["p_value"].to_numpy(), method="holm")[1]
        assert part["p_adjusted"].to_numpy() == pytest.approx(expected)


# --- the planted campaigns ---------------------------------------------------------------------


def test_planted_lift_shows_in_the_log_after_the_send(planted: synth.PlantedCampaigns) -> None:
    added = planted.transactions[planted.transactions["product_id"] == "P-CAMPAIGN"]
    exp = planted.exposures.set_index(["campaign", "customer_id"])
    assert len(added) > 200
    sent = planted.exposures.groupby("campaign")["sent_at"].first()
    first = sent.min()
    assert (added["order_date"] > first).all()
    treated = set(exp.index[exp["group"] == "treatment"].get_level_values(1))
    assert set(added["customer_id"]) <= treated


def test_planted_effects_inside_their_intervals(planted: synth.PlantedCampaigns,
                                                 planted_readout: campaigns.Readout) -> None:
    e = planted_readout.effects.merge(
        planted.lifts.melt(id_vars=["campaign", "segment"], value_vars=["orders", "revenue"],
                           var_name="metric", value_name="planted"),
        on=["campaign", "segment", "metric"])
    inside = (e["ci_low"] <= e["planted"]) & (e["planted"] <= e["ci_high"])
    clean = e[e["campaign"] == "Reactivation"]
    assert inside[clean.index].all()  # the clean 50/50 campaign: every planted lift
    assert inside.mean() >= 0.8  # 95% intervals, 28 of them, one campaign broken
    zero = clean[(clean["segment"] == "VIP loyal") & (clean["metric"] == "orders")]
    assert not zero["significant"].iloc[0]
    strong = clean[(clean["segment"] == "Lapsing") & (clean["metric"] == "orders")]
    assert strong["significant"].iloc[0]


def test_srm_flags_the_campaign_that_lost_controls(planted_readout: campaigns.Readout) -> None:
    flags = planted_readout.campaigns.set_index("campaign")["srm_flag"]
    assert flags.to_dict() == {"Reactivation": False, "Summer sale": True}


def test_sentences_read_for_a_marketing_reader(planted_readout: campaigns.Readout) -> None:
    lines = campaigns.sentences(planted_readout, names={"Lapsing": "Lapsing shoppers"})
    lapsing = next(s for s in lines if s.startswith("Reactivation — Lapsing shoppers"))
    assert "revenue per customer (95% CI" in lapsing
    assert "significant after adjustment" in lapsing
    assert any(s.startswith("Reactivation: segments respond differently") for s in lines)


# --- the stage -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, study.CampaignStage]:
    folder = tmp_path_factory.mktemp("campaigns")
    study.stage_inputs(folder, campaigns="synthetic")
    return folder, study.campaigns_stage(folder)


def test_stage_writes_audiences_and_readout(
        stage_run: tuple[Path, study.CampaignStage]) -> None:
    folder, result = stage_run
    audiences = pd.read_csv(folder / "audiences.csv", dtype={"customer_id": "string"})
    assert list(audiences.columns[:7]) == ["customer_id", "segment", "persona", "strategy",
                                           "action_code", "action", "group"]
    consent = pd.read_parquet(folder / "inputs" / "customers.parquet")
    assert len(audiences) == int(consent["contact_consent"].sum())
    assert "735 of 2,000 customers gave no contact consent" in result.notes["audiences"]
    shares = audiences.groupby("segment")["group"].apply(lambda g: (g == "control").mean())
    assert shares.to_numpy() == pytest.approx(0.1, abs=0.02)
    readout = pd.read_csv(folder / "campaign_readout.csv")
    assert set(readout["metric"]) == set(campaigns.METRICS)
    assert {"campaign", "segment", "customers_treatment", "customers_control", "effect",
            "ci_low", "ci_high", "p_value", "p_adjusted"} <= set(readout.columns)
    metrics = study.read_json(folder / "metrics.json")
    assert metrics["campaigns"]["Summer sale"]["srm_flag"] is True
    assert metrics["campaigns"]["Reactivation"]["srm_flag"] is False
    assert metrics["sections"]["campaign_readout"]["status"] == "adapted"
    assert "SAMPLE RATIO MISMATCH in Summer sale" in result.notes["campaign_readout"]
    assert result.planted["inside_ci"].mean() >= 0.8


def test_stage_again_gives_the_same_audiences(
        stage_run: tuple[Path, study.CampaignStage]) -> None:
    folder, _ = stage_run
    before = (folder / "audiences.csv").read_bytes()
    again = study.campaigns_stage(folder)
    assert (folder / "audiences.csv").read_bytes() == before
    assert again.sentences


def test_stage_without_campaigns_shows_the_audiences_only(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    study.stage_inputs(folder, n_customers=400)
    result = study.campaigns_stage(folder, control_share=0.2, seed=3)
    assert result.notes["campaign_readout"].startswith("Skipped: no campaign results")
    assert result.effects.empty and not result.sentences
    assert pd.read_csv(folder / "campaign_readout.csv").empty
    assert (result.audiences["group"] == "control").mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(ConfigError, match="control_share=0"):
        study.campaigns_stage(folder, control_share=0.0)


def test_mask_pii_masks_the_audiences_and_keeps_them_private(tmp_path: Path) -> None:
    from seglab import privacy

    run = tmp_path / "run"
    run.mkdir()
    audience = pd.DataFrame({"customer_id": ["C1", "C2"], "segment": ["0", "1"],
                             "group": ["treatment", "control"]})
    audience.to_csv(run / "audiences.csv", index=False)
    private = privacy.make_shareable(run, tmp_path / "private", "salt")
    shared = pd.read_csv(run / "audiences.csv")
    assert shared["customer_id"].str.fullmatch(r"id_[0-9a-f]{12}").all()
    assert shared["group"].tolist() == ["treatment", "control"]
    assert pd.read_csv(private / "audiences.csv")["customer_id"].tolist() == ["C1", "C2"]


def test_cli_refuses_a_bad_group_label_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from seglab.cli import app

    path = tmp_path / "sends.csv"
    pd.DataFrame({"Member": ["C000001", "C000002"], "Promo": "X", "Arm": ["test", "B"],
                  "Sent": "2026-05-01"}).to_csv(path, index=False)
    result = CliRunner().invoke(app, [
        "run", "--out", str(tmp_path / "out"), "--synthetic-customers", "200", "-q",
        "--campaigns", str(path), "--campaign-columns", MAPPING.replace(",cost=Unit cost", "")])
    assert result.exit_code == 2
    assert "sends.csv: column 'Arm' has group 'B'" in result.output
    assert not (tmp_path / "out" / "latest").exists()


def test_stage_reads_a_foreign_exposures_file_out_per_study_segment(
        stage_run: tuple[Path, study.CampaignStage], planted: synth.PlantedCampaigns,
        tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(stage_run[0], folder)
    path = _foreign_file(planted, tmp_path / "sends.csv")
    note = study._stage_exposures(RunFolder(folder), path, MAPPING, encoding=None,
                                  decimal=".", dayfirst=False)
    meta = study.read_json(folder / "study.json")
    study.write_json(folder / "study.json", {**meta, "campaigns": note})
    result = study.campaigns_stage(folder)
    assert "'holdout' → control" in result.notes["campaign_readout"]
    clusters = set(pd.read_csv(folder / "audiences.csv", dtype={"segment": str})["segment"])
    assert set(result.effects["segment"]) <= clusters  # no segment given: the study's
    assert result.readout_names  # shown by persona name
    assert (result.effects["customers_treatment"] > 0).all()
