"""Tests of campaigns: audiences with a control group, exposures in, the readout per segment."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from seglab import campaigns, i18n, study, synth
from seglab.errors import ConfigError, InputError
from seglab.run import RunOptions, check_options
from seglab.runfolder import FILES, RunFolder, read_json, write_json
from seglab.study import staging

CHINESE = re.compile(r"[\u4e00-\u9fff]")
WORDS = re.compile(r"[A-Za-z][A-Za-z'-]+")


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
    meta = read_json(tmp_path / "run" / "study.json")
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


def test_exposure_notes_read_in_chinese() -> None:
    exp = pd.DataFrame({
        "customer_id": ["a", "b", "zz", "c", "d", "a"],
        "campaign": ["X", "X", "X", "Y", "Y", "X"],
        "group": ["treatment", "control", "control", "treatment", "treatment", "treatment"],
        "sent_at": pd.to_datetime(["2024-01-01"] * 6),
    })
    _, notes = campaigns.check_exposures(
        exp, known_customers=pd.Index(list("abcd")), as_of=pd.Timestamp("2024-01-20"),
        log_end=pd.Timestamp("2024-01-19 18:00"), window_days=30, lang="zh")
    assert len(notes) == 4
    template = {word for message in i18n.catalog("zh") for word in WORDS.findall(message)}
    for note in notes:
        assert CHINESE.search(note), note
        assert not set(WORDS.findall(note)) & template - {"X", "Y", "zz"}, note
    _, note = campaigns.normalise_groups(exp.assign(group=["test", "holdout"] * 3), lang="zh")
    assert note.startswith("分组标签") and "实验组" in note and "对照组" in note


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


def test_a_chinese_readout_sentence_has_no_english_words_of_the_template(
        planted_readout: campaigns.Readout) -> None:
    names = {"Lapsing": "流失中的客户"}
    lines = campaigns.sentences(planted_readout, names=names, lang="zh")
    english = campaigns.sentences(planted_readout, names=names)
    assert len(lines) == len(english)
    data = {word for value in planted_readout.effects["campaign"].astype(str).tolist()
            + planted_readout.effects["segment"].astype(str).tolist()
            for word in WORDS.findall(value)} | {"Cochran's", "Q", "CI"}
    template = {word for message in i18n.catalog("zh") for word in WORDS.findall(message)}
    for line in lines:
        assert CHINESE.search(line), line
        assert not (set(WORDS.findall(line)) & template) - data, line
    assert any("置信区间" in line and "流失中的客户" in line for line in lines)


# --- the stage -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, study.CampaignStage]:
    folder = tmp_path_factory.mktemp("campaigns")
    study.stage_inputs(folder, campaigns="synthetic")
    # The segments of the default study (k-means wins there), without fitting the
    # methods it beats: the same audiences and readout in a quarter of the time.
    study.cluster_stage(folder, methods="kmeans")
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
    metrics = read_json(folder / "metrics.json")
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
    study.cluster_stage(folder, methods="kmeans")  # the default's choice here too
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
    names = tuple(str(p) for p in (FILES.audiences, FILES.segment_moves,
                                   FILES.growth_accessibility))
    for name in names:
        audience.to_csv(run / name, index=False)
    private = privacy.make_shareable(run, tmp_path / "private", "salt")
    for name in names:
        shared = pd.read_csv(run / name)
        assert shared["customer_id"].str.fullmatch(r"id_[0-9a-f]{12}").all()
        assert shared["group"].tolist() == ["treatment", "control"]
        assert pd.read_csv(private / name)["customer_id"].tolist() == ["C1", "C2"]


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
    note = staging._stage_exposures(RunFolder(folder), path, MAPPING, encoding=None,
                                  decimal=".", dayfirst=False)
    meta = read_json(folder / "study.json")
    write_json(folder / "study.json", {**meta, "campaigns": note})
    result = study.campaigns_stage(folder)
    assert "'holdout' → control" in result.notes["campaign_readout"]
    clusters = set(pd.read_csv(folder / "audiences.csv", dtype={"segment": str})["segment"])
    assert set(result.effects["segment"]) <= clusters  # no segment given: the study's
    assert result.readout_names  # shown by persona name
    assert (result.effects["customers_treatment"] > 0).all()


# --- audiences over time and by reach ---------------------------------------------------------


def _plain_moves(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Who entered or left a segment, by a plain outer merge of two customer tables."""
    both = previous.merge(current, on="customer_id", how="outer", suffixes=("_then", "_now"))
    changed = both["persona_then"].fillna("-") != both["persona_now"].fillna("-")
    out = both.loc[changed, ["customer_id", "persona_then", "persona_now"]].fillna("")
    return out.set_axis(["customer_id", "previous_persona", "persona"], axis=1).sort_values(
        "customer_id").reset_index(drop=True)


def _then_and_now(n: int = 500, seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = np.array(["Loyal", "Lapsing", "Bargain"])
    now = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)],
                        "persona": rng.choice(names, size=n),
                        "revenue": rng.lognormal(5, 1, size=n)})
    now.loc[now["persona"] == "Loyal", "revenue"] *= 5
    now["strategy"] = now["persona"].map({"Loyal": "Retain and reward", "Lapsing": "Win back",
                                          "Bargain": "Upsell"})
    then = now[["customer_id", "persona", "revenue"]].sample(frac=0.9, random_state=seed)
    flip = rng.random(len(then)) < 0.2
    then.loc[flip, "persona"] = rng.choice(names, size=int(flip.sum()))
    gone = pd.DataFrame({"customer_id": ["X1", "X2"], "persona": "Lapsing", "revenue": 1.0})
    return pd.concat([then, gone], ignore_index=True), now


def test_segment_moves_equal_a_plain_merge() -> None:
    then, now = _then_and_now()
    moves = campaigns.segment_moves(then, now)
    got = moves[["customer_id", "previous_persona", "persona"]].sort_values(
        "customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, _plain_moves(then, now))
    kinds = moves.set_index("customer_id")["move"]
    assert (kinds[["X1", "X2"]] == "no longer in the log").all()
    assert (kinds[moves.set_index("customer_id")["previous_persona"] == ""]
            == "new customer").all()
    # Up and down follow the segments' value index (revenue per customer over all
    # customers' of the same run): Loyal earns about five times more than the others.
    def index(table: pd.DataFrame) -> pd.Series:
        return table.groupby("persona")["revenue"].mean() / table["revenue"].mean()

    moved = moves[moves["move"].str.startswith("moved")]
    change = (moved["persona"].map(index(now)) - moved["previous_persona"].map(index(then)))
    expected = np.where(change > 0, "moved up", np.where(change < 0, "moved down",
                                                         "moved across"))
    assert list(moved["move"]) == list(expected)
    assert (moved.loc[moved["persona"] == "Loyal", "move"] == "moved up").all()
    assert (moved.loc[moved["previous_persona"] == "Loyal", "move"] == "moved down").all()
    row = moves[moves["move"] == "moved up"].iloc[0]
    assert row["action_code"] == "RETAIN_AND_REWARD" and "Retain and reward" in row["action"]
    assert set(moves.loc[moves["move"] == "no longer in the log", "action_code"]) == {"NONE"}


def test_move_summary_adds_up() -> None:
    then, now = _then_and_now()
    summary = campaigns.move_summary(campaigns.segment_moves(then, now), now).set_index(
        "segment")
    assert summary["now"].to_dict() == now["persona"].value_counts().to_dict()
    assert summary["previous"].to_dict() == then["persona"].value_counts().to_dict()
    assert (summary["now"] - summary["previous"] == summary["net"]).all()


def test_growth_accessibility_score_and_quadrants() -> None:
    table = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "revenue_growth": [10.0, 10.0, -5.0, 0.0, 3.0],
        "days_since_last_order": [30, 30, 10, 400, 150],
        "channel_share_store": [1.0, 0.5, 0.2, 1.0, 0.4],
        "channel_share_app": [0.0, 0.5, 0.4, 0.0, 0.3],
        "channel_share_online": [0.0, 0.0, 0.4, 0.0, 0.3],
    })
    consent = pd.Series([True, False, True, True, True])
    result = campaigns.growth_accessibility(table, consent=consent)
    out = result.customers.set_index("customer_id")
    # Consent x mean(channels used / channels in the data, 1 - days / (2 x 90), floored at 0).
    expected = consent.to_numpy() * (np.array([1, 2, 3, 1, 3]) / 3 + np.clip(
        1 - table["days_since_last_order"] / 180, 0, 1)) / 2
    assert out["accessibility"].to_numpy() == pytest.approx(expected, abs=1e-4)
    assert list(out["quadrant"]) == ["Growing, easy to reach", "Growing, hard to reach",
                                     "Not growing, easy to reach",
                                     "Not growing, hard to reach", "Growing, easy to reach"]
    assert result.used == ["channels reached", "recent engagement", "contact consent"]
    assert result.matrix().to_numpy().tolist() == [[2, 1], [1, 1]]
    summary = result.summary()
    assert summary["customers"].sum() == len(table)
    assert summary["what_to_do"].str.len().gt(0).all()

    # Without consent or channels, the score is what remains; every customer may be contacted.
    alone = campaigns.growth_accessibility(table[["customer_id", "revenue_growth",
                                                  "days_since_last_order"]])
    assert alone.missing == ["channels reached", "contact consent"]
    assert alone.customers["contactable"].all()
    assert alone.customers["accessibility"].to_numpy() == pytest.approx(
        np.clip(1 - table["days_since_last_order"].to_numpy() / 180, 0, 1), abs=1e-4)
    assert campaigns.growth_accessibility(table.drop(columns="revenue_growth")).customers.empty
    with pytest.raises(ValueError, match="engagement_days=0"):
        campaigns.growth_accessibility(table, engagement_days=0)


def _finished_run(out: Path, run_id: str, started: str, customers: pd.DataFrame | None, *,
                  status: str = "succeeded", masked: bool = False) -> Path:
    """A fake finished run folder of ``out`` holding only what the moves need."""
    folder = out / run_id
    folder.mkdir(parents=True)
    manifest = {"run_id": run_id, "status": status, "started_at": started,
                "parameters": {"as_of": "2026-03-31"}}
    if customers is not None:
        where = out / "private" / run_id if masked else folder
        where.mkdir(parents=True, exist_ok=True)
        customers.to_parquet(where / "customers.parquet", index=False)
        if masked:
            manifest["masked"] = {"columns": ["customer_id"], "unmasked_files": str(where)}
    write_json(folder / "manifest.json", manifest)
    write_json(folder / "metrics.json", {})
    return folder


@pytest.mark.parametrize("masked", [False, True])
def test_stage_lists_moves_since_the_previous_run_of_the_reports_folder(
        stage_run: tuple[Path, study.CampaignStage], tmp_path: Path, masked: bool) -> None:
    import shutil

    out = tmp_path / "reports"
    current = out / ".20260702-000000-bbbb.partial"
    shutil.copytree(stage_run[0], current)
    RunFolder(current).exposures.unlink()  # no readout: faster
    now = pd.read_parquet(current / "customers.parquet",
                          columns=["customer_id", "persona", "revenue"])
    rng = np.random.default_rng(0)
    then = now.sample(frac=0.95, random_state=1).reset_index(drop=True)
    flip = rng.random(len(then)) < 0.15
    then.loc[flip, "persona"] = rng.choice(now["persona"].unique(), size=int(flip.sum()))
    then = pd.concat([then, pd.DataFrame({"customer_id": ["Z1", "Z2"],
                                          "persona": "A segment since renamed",
                                          "revenue": 5.0})], ignore_index=True)
    _finished_run(out, "20260101-000000-aaaa", "2026-01-01T00:00:00+00:00",
                  then.assign(persona="Someone else"))  # older: not the previous run
    _finished_run(out, "20260601-000000-cccc", "2026-06-01T00:00:00+00:00", then,
                  masked=masked)
    _finished_run(out, "20260602-000000-dddd", "2026-06-02T00:00:00+00:00", now,
                  status="failed")  # newer but failed: not the previous run either
    result = study.campaigns_stage(current)

    moves = pd.read_csv(RunFolder(current).segment_moves, dtype=str, keep_default_na=False)
    got = moves[["customer_id", "previous_persona", "persona"]].sort_values(
        "customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, _plain_moves(then, now), check_dtype=False)
    assert result.previous_run.startswith("20260601-000000-cccc")
    audiences = pd.read_csv(current / "audiences.csv", dtype=str).set_index("customer_id")
    in_audience = moves["customer_id"].isin(audiences.index)
    assert (moves.loc[in_audience, "group"].to_numpy()
            == audiences.loc[moves.loc[in_audience, "customer_id"], "group"].to_numpy()).all()
    assert (moves.loc[~in_audience, "group"] == "").all()
    assert "A segment since renamed" in result.notes["segment_moves"]
    counts = result.move_counts.set_index("move")["customers"]
    assert counts["no longer in the log"] == 2
    assert counts["new customer"] == len(now) - len(then) + 2
    assert result.move_summary["now"].sum() == len(now)
    metrics = read_json(current / "metrics.json")["audiences"]
    assert metrics["segment_moves"] == {k: int(v) for k, v in counts.items() if v}
    assert f"{int(result.move_summary['stayed'].sum()):,} customers stayed" in (
        result.moves_headline)


def test_moves_say_why_they_cannot_compare(stage_run: tuple[Path, study.CampaignStage],
                                           tmp_path: Path) -> None:
    import shutil

    folder, result = stage_run  # a folder outside any reports folder
    assert result.notes["segment_moves"].startswith("Skipped: this study is not a run")
    assert pd.read_csv(RunFolder(folder).segment_moves).empty
    assert result.move_counts.empty and result.moves_headline == ""
    metrics = read_json(folder / "metrics.json")
    assert metrics["sections"]["segment_moves"]["status"] == "skipped"

    out = tmp_path / "reports"
    current = out / ".20260702-000000-bbbb.partial"
    shutil.copytree(folder, current)
    RunFolder(current).exposures.unlink()  # no readout: faster
    first = study.campaigns_stage(current)
    assert first.notes["segment_moves"].startswith("Skipped: no earlier run in reports/")
    # A masked previous run whose private folder is gone cannot be matched.
    now = pd.read_parquet(current / "customers.parquet", columns=["customer_id", "persona"])
    _finished_run(out, "20260601-000000-cccc", "2026-06-01T00:00:00+00:00", now, masked=True)
    shutil.rmtree(out / "private")
    lost = study.campaigns_stage(current)
    assert "masked its customer ids" in lost.notes["segment_moves"]
    assert "private/20260601-000000-cccc" in lost.notes["segment_moves"]
    # The same customers in the same segments: the list is empty, and the report says so.
    now.to_parquet(out / "20260601-000000-cccc" / "customers.parquet", index=False)
    same = study.campaigns_stage(current)
    assert same.notes["segment_moves"] == "" and same.moves.empty
    assert same.move_counts["customers"].sum() == 0
    assert same.moves_headline.endswith(f"{len(now):,} customers stayed in their segment; "
                                        "nobody moved.")


def test_stage_writes_the_growth_accessibility_lists(
        stage_run: tuple[Path, study.CampaignStage]) -> None:
    folder, result = stage_run
    access = pd.read_csv(RunFolder(folder).growth_accessibility, dtype={"customer_id": str})
    customers = pd.read_parquet(folder / "customers.parquet")
    assert sorted(access["customer_id"]) == sorted(customers["customer_id"])
    assert set(access["quadrant"]) <= set(campaigns.GROWTH_ACCESS_QUADRANTS)
    # Customers who may not be contacted are never easy to reach, and hold no group.
    audiences = pd.read_csv(folder / "audiences.csv", dtype={"customer_id": str})
    assert access["contactable"].sum() == len(audiences)
    assert not access.loc[~access["contactable"], "easy_to_reach"].any()
    assert (access.loc[~access["contactable"], "group"].isna()).all()
    growing = access.set_index("customer_id")["growing"]
    expected = customers.set_index("customer_id")["revenue_growth"] > 0
    assert (growing == expected.reindex(growing.index)).all()
    assert result.growth_access_matrix.to_numpy().sum() == len(customers)
    assert result.notes["growth_accessibility"] == ""
    metrics = read_json(folder / "metrics.json")["audiences"]
    assert sum(metrics["growth_accessibility"].values()) == len(customers)


def test_every_move_and_quadrant_has_a_chinese_translation() -> None:
    from seglab import i18n

    zh = i18n.catalog("zh")
    names = (*campaigns.MOVES, *campaigns.MOVE_ACTIONS.values(),
             *campaigns.GROWTH_ACCESS_QUADRANTS, *campaigns.GROWTH_ACCESS_QUADRANTS.values(),
             *campaigns.GROWTH_LEVELS, *campaigns.REACH_LEVELS, *campaigns.ACCESS_SIGNALS)
    missing = [name for name in names if name not in zh]
    assert not missing
    for template in campaigns.MOVE_ACTIONS.values():
        assert i18n.fields(zh[template]) == i18n.fields(template)
    then, now = _then_and_now()
    shown = campaigns.display_moves(campaigns.segment_moves(then, now), lang="zh")
    assert set(shown["move"]) <= {zh[move] for move in campaigns.MOVES}
    assert shown.loc[shown["strategy"] != "", "action"].str.contains(zh["Win back"]).any()
    result = campaigns.growth_accessibility(now.assign(revenue_growth=1.0,
                                                       days_since_last_order=10))
    assert list(result.matrix("zh").index) == [zh["Growing"], zh["Not growing"]]
    assert set(result.summary("zh")["quadrant"]) == {
        zh[name] for name in campaigns.GROWTH_ACCESS_QUADRANTS}
