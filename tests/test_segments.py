from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError
from seglab.features import customer_features
from seglab.segments import (
    QUADRANTS,
    RFM_SEGMENT_DESCRIPTIONS,
    RFM_SEGMENT_GRID,
    RFM_SEGMENT_ORDER,
    SEGMENT_COLUMNS,
    SegmentRules,
    abc_class,
    describe_rules,
    lifecycle_stage,
    membership_grade,
    pyramid_tier,
    rfm_segment_map,
    rfm_segment_table,
    rfm_segments,
    rule_segments,
    score,
    segment_coverage,
    segment_rules,
    segment_summary,
    value_growth_quadrant,
)


def test_grid_names_are_the_documented_segments():
    names = {name for row in RFM_SEGMENT_GRID for name in row}
    assert names == set(RFM_SEGMENT_ORDER)
    assert len(RFM_SEGMENT_GRID) == 5 and all(len(row) == 5 for row in RFM_SEGMENT_GRID)


def test_score_ties_share_lowest_score():
    values = pd.Series([1, 1, 1, 1, 1, 2, 3, 4, 5, 6])
    scores = score(values, bins=5)
    assert scores[:5].tolist() == [1] * 5
    assert scores.iloc[-1] == 5
    assert scores.is_monotonic_increasing


def test_score_lower_is_better():
    scores = score(pd.Series([10, 200, 30, 5, 90]), bins=5, higher_is_better=False)
    assert scores.tolist() == [4, 1, 3, 5, 2]


def test_every_customer_gets_every_segment(transactions):
    table = rule_segments(customer_features(transactions, as_of=default_as_of(transactions)))
    for column, levels in SEGMENT_COLUMNS.items():
        assert table[column].notna().all(), column
        assert set(table[column]) <= set(levels), column
    coverage = segment_coverage(table)
    assert list(coverage["segmentation"]) == list(SEGMENT_COLUMNS)
    assert (coverage["without_segment"] == 0).all()
    assert (coverage["customers"] == len(table)).all()


def test_rule_segments_do_not_change_input_and_can_rerun(transactions):
    features = customer_features(transactions)
    before = features.copy()
    once = rule_segments(features)
    pd.testing.assert_frame_equal(features, before)
    pd.testing.assert_frame_equal(rule_segments(once), once)


def test_map_documented_as_a_table_covers_every_cell():
    table = rfm_segment_table()
    assert list(table["segment"]) == list(RFM_SEGMENT_ORDER)
    cells = [c for row in table["cells"] for c in row.split(", ")]
    assert len(cells) == 25 and len(set(cells)) == 25
    assert table.set_index("segment").loc["Lost", "cells"] == "R1 FM1"
    assert set(RFM_SEGMENT_DESCRIPTIONS) == set(RFM_SEGMENT_ORDER)
    grid = rfm_segment_map()
    assert list(grid["recency score"]) == ["R 5", "R 4", "R 3", "R 2", "R 1"]
    assert grid.loc[0, "FM 5"] == "Champions"


def test_rfm_champions_are_recent_and_frequent():
    features = pd.DataFrame({
        "days_since_last_order": np.arange(100, 0, -1),
        "orders": np.arange(1, 101),
        "revenue": np.arange(1, 101) * 10.0,
    })
    named = rfm_segments(features)
    assert named["rfm_segment"].iloc[-1] == "Champions"
    assert named["rfm_segment"].iloc[0] == "Lost"
    assert named["rfm_score"].iloc[-1] == "555"


def test_rfm_bins_other_than_five_rejected():
    with pytest.raises(ConfigError, match="rfm_bins=4"):
        rfm_segments(pd.DataFrame({"days_since_last_order": [1], "orders": [1],
                                   "revenue": [1.0]}), rules=SegmentRules(rfm_bins=4))


def test_pyramid_shares():
    tiers = pyramid_tier(pd.Series(np.arange(1000.0)))
    counts = tiers.value_counts()
    names = SegmentRules().pyramid_names
    assert [counts[n] for n in names] == [10, 40, 150, 800]
    assert tiers.iloc[-1] == names[0] and tiers.iloc[0] == names[-1]


def test_abc_classes_follow_cumulative_value():
    value = pd.Series([50.0, 30.0, 10.0, 5.0, 3.0, 2.0, 0.0, -4.0])
    classes = abc_class(value)
    assert classes.tolist() == ["A", "A", "B", "B", "C", "C", "C", "C"]


def test_membership_needs_repeat_orders():
    features = pd.DataFrame({"orders": [1, 3, 8, 8, 2],
                             "avg_order_value": [500.0, 60.0, 80.0, 10.0, 100.0]})
    assert membership_grade(features).tolist() == ["Regular", "Silver", "Gold", "Regular",
                                                   "Regular"]


def test_membership_needs_repurchase_rate_for_gold():
    features = pd.DataFrame({"orders": [8, 8, 3],
                             "avg_order_value": [80.0, 80.0, 90.0],
                             "repurchase_rate": [0.5, 0.1, 0.0]})
    assert membership_grade(features).tolist() == ["Gold", "Silver", "Silver"]
    strict = SegmentRules(silver_min_repurchase_rate=0.05)
    assert membership_grade(features, rules=strict).tolist() == ["Gold", "Silver", "Regular"]


def test_lifecycle_uses_own_rhythm():
    features = pd.DataFrame({
        "tenure_days": [30, 400, 400, 400, 400],
        "days_since_last_order": [10, 10, 100, 100, 500],
        "orders": [1, 10, 10, 1, 1],
        "mean_days_between_orders": [np.nan, 20.0, 20.0, np.nan, np.nan],
    })
    stages = lifecycle_stage(features).tolist()
    # 100 silent days: 5 gaps for a 20-day buyer is dormant; for a one-timer just at risk.
    assert stages == ["New", "Active", "Dormant", "At risk", "Churned"]


def test_value_growth_quadrants():
    features = pd.DataFrame({
        "recent_revenue": [500.0, 400.0, 10.0, 0.0, 0.0],
        "previous_revenue": [100.0, 900.0, 0.0, 50.0, 0.0],
    })
    table = value_growth_quadrant(features)
    assert table["value_growth_quadrant"].tolist() == [
        "High value, growing", "High value, declining", "Low value, growing",
        "Low value, declining", "Low value, declining"]
    assert table["revenue_growth"].tolist() == [400.0, -500.0, 10.0, -50.0, 0.0]
    assert set(QUADRANTS) == set(SEGMENT_COLUMNS["value_growth_quadrant"])


def test_tiers_by_profit(transactions):
    features = customer_features(transactions)
    features["profit"] = -features["revenue"]  # the smallest spenders earn the most
    table = rule_segments(features, rules=SegmentRules(tier_value="profit"))
    top = table.loc[table["profit"].idxmax()]
    names = list(SegmentRules().pyramid_names)
    assert names.index(top["value_tier"]) == min(names.index(t) for t in table["value_tier"])
    assert top["abc_class"] == "A"
    assert table.loc[table["revenue"].idxmax(), "abc_class"] == "C"
    with pytest.raises(ConfigError, match="tier_value='margin'"):
        rule_segments(features, rules=SegmentRules(tier_value="margin"))


@pytest.mark.parametrize(("overrides", "match"), [
    ({"pyramid_shares": (0.1, 0.9)}, "pyramid_shares has 2 levels"),
    ({"pyramid_shares": (0.5, 0.2, 0.2, 0.2)}, "add up to 1"),
    ({"abc_cutoffs": (0.9, 0.8)}, "abc_cutoffs"),
    ({"dormant_days": 30}, "should rise in that order"),
])
def test_rules_are_checked(overrides, match):
    with pytest.raises(ConfigError, match=match):
        SegmentRules(**overrides)


def test_segment_rules_from_parameters():
    rules = segment_rules(new_days=30, abc_cutoffs=[0.7, 0.9])
    assert rules.new_days == 30 and rules.abc_cutoffs == (0.7, 0.9)
    with pytest.raises(ConfigError, match=r"unknown segment rule\(s\) \['new_dayz'\]"):
        segment_rules(new_dayz=30)
    shown = describe_rules(rules).set_index("rule")["value"]
    assert shown["new_days"] == "30" and shown["rhythm_floor_share"] == "0.3333"


def test_segment_summary_adds_up(transactions):
    table = rule_segments(customer_features(transactions))
    summary = segment_summary(table, "lifecycle_stage")
    assert summary["customers"].sum() == len(table)
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    order = list(SEGMENT_COLUMNS["lifecycle_stage"])
    assert list(summary["segment"]) == [s for s in order if s in set(summary["segment"])]
    with pytest.raises(ConfigError, match="segment_col='nope'"):
        segment_summary(table, "nope")
