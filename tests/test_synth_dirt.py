"""Tests of the dirt planted in the synthetic log (seglab.synth, "Dirt").

The default study carries known counts of lines that real logs hold and seglab's
cleaning must catch; the cleaning log of the default study is checked against them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seglab import clean, synth

N, SEED = 2000, 0  # the default study of `seglab run`

#: Removal rules that no planted line should trigger.
QUIET_RULES = ("invalid_values", "adjustments", "non_positive_price")


@pytest.fixture(scope="module")
def dirty() -> synth.SyntheticStudy:
    return synth.make_study(N, seed=SEED)


@pytest.fixture(scope="module")
def spotless() -> synth.SyntheticStudy:
    return synth.make_study(N, seed=SEED, dirt=False)


@pytest.fixture(scope="module")
def cleaned(dirty: synth.SyntheticStudy) -> clean.CleaningResult:
    return clean.clean_transactions(dirty.transactions)


def _row(log: pd.DataFrame, rule: str) -> pd.Series:
    rows = log[log["rule"] == rule]
    assert len(rows) == 1, rule
    return rows.iloc[0]


def test_default_study_plants_a_small_share_of_every_kind(dirty, spotless):
    dirt = dirty.dirt
    counts = dirt.counts()
    assert set(counts) == {"missing_customer", "exact_duplicates", "non_product", "outlier",
                           "free"}
    assert all(count >= 1 for count in counts.values())
    assert dirt.outlier == 2
    assert dirt.lines == sum(counts.values())
    assert len(dirty.transactions) == len(spotless.transactions) + dirt.lines
    assert 0.005 <= dirt.lines / len(dirty.transactions) <= 0.01
    for kind, share in synth.DIRT_SHARES.items():
        assert counts[kind] == pytest.approx(share * len(spotless.transactions), rel=0.1), kind
    assert spotless.dirt == synth.PlantedDirt()
    assert spotless.dirt.lines == 0


def test_cleaning_log_of_the_default_study_matches_the_planted_dirt(dirty, cleaned):
    log, dirt = cleaned.log, dirty.dirt
    planted = {
        "missing_customer": ("missing_customer", clean.REMOVED),
        "exact_duplicates": ("exact_duplicates", clean.REMOVED),
        "non_product": ("non_product_codes", clean.REMOVED),
        "outlier": ("extreme_outliers", clean.FLAGGED),
        "free": ("free_lines", clean.FLAGGED),
    }
    for kind, (rule, action) in planted.items():
        row = _row(log, rule)
        assert row["rows"] == getattr(dirt, kind), kind
        assert row["revenue"] == pytest.approx(dirt.revenue[kind], abs=0.005), kind
        assert row["action"] == action, kind
    for rule in QUIET_RULES:
        assert _row(log, rule)["rows"] == 0, rule
    removed = log.loc[log["in_reconciliation"], "rows"].sum()
    assert removed == dirt.lines - dirt.outlier - dirt.free
    assert cleaned.transactions["is_free"].sum() == dirt.free
    assert cleaned.transactions["is_outlier"].sum() == dirt.outlier
    assert cleaned.reconciles
    assert cleaned.reconciliation().iloc[-1]["rows"] == 0


def test_clean_data_has_exactly_the_planted_customers(dirty, cleaned):
    kept = set(cleaned.transactions["customer_id"])
    assert kept == set(dirty.truth["customer_id"]) == set(dirty.customers["customer_id"])
    assert len(cleaned.missing_customer) == dirty.dirt.missing_customer


def test_removing_the_dirt_gives_the_spotless_log(dirty, spotless):
    rules = clean.CleaningRules(outlier_rule="drop", drop_free_lines=True)
    result = clean.clean_transactions(dirty.transactions, rules=rules)
    assert result.reconciles
    assert len(result.removed) == dirty.dirt.lines
    kept = result.transactions[list(spotless.transactions.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, spotless.transactions, check_exact=True)


def test_dirt_leaves_customers_truth_and_movement_unchanged(dirty, spotless):
    pd.testing.assert_frame_equal(dirty.customers, spotless.customers)
    pd.testing.assert_frame_equal(dirty.truth, spotless.truth)
    pd.testing.assert_frame_equal(dirty.movement, spotless.movement)
    pd.testing.assert_series_equal(dirty.transactions.dtypes, spotless.transactions.dtypes)


def test_dirty_log_keeps_the_conventions_of_the_clean_one(dirty):
    tx = dirty.transactions
    resorted = tx.sort_values(["order_date", "order_id"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(tx, resorted)
    end = pd.Timestamp("2026-06-30")
    assert tx["order_date"].max() < end
    assert tx["order_date"].min() >= end - pd.Timedelta(days=round(365.25 * 2))
    assert tx["order_id"].str.fullmatch(r"(R|C)?O\d{8}").all()
    assert tx["customer_id"].dropna().isin(dirty.truth["customer_id"]).all()
    expected = tx["quantity"] * tx["unit_price"] - tx["discount"]
    assert np.allclose(tx["amount"], expected, atol=0.011)


def test_customer_dirt_falls_on_the_customers_existing_purchase_days(dirty, spotless):
    def days(tx: pd.DataFrame) -> pd.DataFrame:
        lines = tx.dropna(subset=["customer_id"])
        return (lines.assign(day=lines["order_date"].dt.normalize())[["customer_id", "day"]]
                .drop_duplicates().sort_values(["customer_id", "day"], ignore_index=True))

    pd.testing.assert_frame_equal(days(dirty.transactions), days(spotless.transactions))


def test_postage_fees_and_free_lines_sit_in_customers_orders(dirty, spotless):
    tx = dirty.transactions
    orders = spotless.transactions.drop_duplicates("order_id").set_index("order_id")
    non_product = tx[tx["product_id"].isin([synth.DIRT_POSTAGE[0], synth.DIRT_FEE[0]])]
    free = tx[tx["unit_price"] == 0]
    assert len(non_product) == dirty.dirt.non_product
    assert len(free) == dirty.dirt.free
    for lines in (non_product, free):
        source = orders.loc[lines["order_id"]]
        assert (lines["customer_id"].to_numpy() == source["customer_id"].to_numpy()).all()
        assert (lines["order_date"].to_numpy() == source["order_date"].to_numpy()).all()
    postage = non_product[non_product["product_id"] == synth.DIRT_POSTAGE[0]]
    assert (postage["channel"] != "store").all()
    assert non_product["product_id"].isin(clean.NON_PRODUCT_CODES).all()
    assert (free["quantity"] > 0).all() and (free["amount"] == 0).all()


def test_missing_customer_lines_are_whole_guest_orders(dirty, spotless):
    tx = dirty.transactions
    guests = tx[tx["customer_id"].isna()]
    assert len(guests) == dirty.dirt.missing_customer
    assert not guests["order_id"].isin(spotless.transactions["order_id"]).any()
    assert not tx.loc[tx["order_id"].isin(guests["order_id"]), "customer_id"].notna().any()
    assert (guests["quantity"] > 0).all()


def test_the_outlier_order_is_cancelled_minutes_later(dirty):
    tx = dirty.transactions
    threshold = clean.CleaningRules().outlier_quantity
    extreme = tx[tx["quantity"].abs() > threshold]
    assert len(extreme) == 2
    order, cancel = extreme.iloc[0], extreme.iloc[1]
    assert order["quantity"] == synth.DIRT_OUTLIER_QUANTITY == -cancel["quantity"]
    assert cancel["order_id"] == synth.CANCEL_PREFIX + order["order_id"]
    assert order["customer_id"] == cancel["customer_id"]
    assert order["product_id"] == cancel["product_id"]
    assert order["amount"] == -cancel["amount"] > 0
    lag = cancel["order_date"] - order["order_date"]
    assert pd.Timedelta(minutes=1) <= lag <= pd.Timedelta(hours=1)
    assert order["order_date"].normalize() == cancel["order_date"].normalize()
    assert (tx["order_id"] == order["order_id"]).sum() == 1


def test_the_dirt_is_seeded():
    a, b = synth.make_study(300, seed=4), synth.make_study(300, seed=4)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    other = synth.make_study(300, seed=5)
    assert a.dirt.counts() == b.dirt.counts()
    assert a.dirt.revenue != other.dirt.revenue


def test_a_spotless_log_has_no_dirt(spotless):
    tx = spotless.transactions
    assert tx["customer_id"].notna().all()
    assert not tx.duplicated().any()
    assert not tx["product_id"].isin(clean.NON_PRODUCT_CODES).any()
    assert (tx["unit_price"] > 0).all()
    assert (tx["quantity"].abs() <= clean.CleaningRules().outlier_quantity).all()


def test_tiny_dirty_studies_work():
    one = synth.make_study(1)
    assert one.dirt.outlier == 2
    result = clean.clean_transactions(one.transactions)
    assert result.reconciles
    assert set(result.transactions["customer_id"]) == set(one.truth["customer_id"])
