from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_RETAIL, random_transactions

from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError, InputError
from seglab.features import (
    FEATURE_DOCS,
    MIX_COLUMNS,
    customer_features,
    feature_dictionary,
    feature_overview,
    rfm_summary,
)

lifetimes_utils = pytest.importorskip("lifetimes.utils")


def lifetimes_rfm(tx: pd.DataFrame, as_of: pd.Timestamp, time_unit: str) -> pd.DataFrame:
    expected = lifetimes_utils.summary_data_from_transaction_data(
        tx, "customer_id", "order_date", "amount",
        observation_period_end=as_of, freq=time_unit,
    )
    expected.index = expected.index.astype("string")
    return expected.sort_index()


def cut(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return tx[tx["order_date"] < as_of.normalize() + pd.Timedelta(days=1)]


@pytest.mark.parametrize("time_unit", ["D", "W"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rfm_equals_lifetimes(time_unit, seed):
    tx = random_transactions(80, seed=seed)
    as_of = pd.Timestamp("2024-03-01")  # a Friday: the week goes on after it
    got = rfm_summary(tx, as_of=as_of, time_unit=time_unit)
    # lifetimes keeps the rest of the as_of period; on a log that ends at as_of
    # (as after cleaning) the two agree exactly.
    expected = lifetimes_rfm(cut(tx, as_of), as_of, time_unit)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, atol=1e-9, rtol=0,
                                  check_index_type=False)


def test_rfm_drops_lines_after_as_of_where_lifetimes_keeps_the_week():
    tx = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a"], dtype="string"),
        "order_date": pd.to_datetime(["2024-02-05", "2024-02-28", "2024-03-02"]),
        "amount": [10.0, 20.0, 40.0],
    })
    as_of = pd.Timestamp("2024-02-28")  # Wednesday; 2024-03-02 is the Saturday after
    ours = rfm_summary(tx, as_of=as_of, time_unit="W").loc["a"]
    theirs = lifetimes_rfm(tx, as_of, "W").loc["a"]
    assert ours["monetary_value"] == 20.0  # the documented meaning: later lines truncated
    assert theirs["monetary_value"] == 60.0  # lifetimes' code keeps Thursday-Sunday
    assert ours["frequency"] == theirs["frequency"] == 1.0
    assert ours["T"] == theirs["T"] == 3.0


def test_rfm_ignores_periods_after_as_of():
    tx = random_transactions(30)
    as_of = pd.Timestamp("2023-06-30")
    assert not tx[tx["order_date"] >= as_of + pd.Timedelta(days=1)].empty
    got = rfm_summary(tx, as_of=as_of)
    assert set(got.index) == set(cut(tx, as_of)["customer_id"])
    assert (got["T"] >= got["recency"]).all()


def test_monthly_rfm_counts_calendar_months():
    tx = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a"], dtype="string"),
        "order_date": pd.to_datetime(["2023-01-31", "2023-02-01", "2023-04-15"]),
        "amount": [10.0, 20.0, 40.0],
    })
    got = rfm_summary(tx, as_of="2023-06-10", time_unit="M").loc["a"]
    assert got.to_dict() == {"frequency": 2.0, "recency": 3.0, "T": 5.0,
                             "monetary_value": 30.0}


def test_bad_time_unit():
    with pytest.raises(ConfigError, match="time_unit='Q'"):
        rfm_summary(random_transactions(5), time_unit="Q")
    with pytest.raises(ConfigError, match="time_unit='Q'"):
        customer_features(random_transactions(5), time_unit="Q")


@pytest.mark.parametrize(("option", "value"), [("window_days", 0), ("category_top_n", -1),
                                                ("channel_top_n", 2.5)])
def test_bad_options(option, value):
    with pytest.raises(ConfigError, match=f"{option}="):
        customer_features(random_transactions(5), **{option: value})


def test_missing_column_is_named():
    tx = random_transactions(5).drop(columns="amount")
    with pytest.raises(InputError, match="no column 'amount'"):
        customer_features(tx)
    tx = random_transactions(5).assign(order_date="2024-01-01")
    with pytest.raises(InputError, match="order_date should hold dates"):
        customer_features(tx)


def test_customer_features_plain_figures(transactions):
    as_of = default_as_of(transactions)
    table = customer_features(transactions, as_of=as_of)
    assert table.columns[0] == "customer_id"
    assert table["customer_id"].is_unique and table["customer_id"].is_monotonic_increasing
    assert table["revenue"].sum() == pytest.approx(transactions["amount"].sum())
    one = table.iloc[0]
    mine = transactions[transactions["customer_id"] == one["customer_id"]]
    purchases = mine[mine["amount"] > 0]
    assert one["orders"] == purchases["order_id"].nunique()
    assert one["sales"] == pytest.approx(purchases["amount"].sum())
    assert one["avg_order_value"] == pytest.approx(one["sales"] / one["orders"])
    last_day = purchases["order_date"].max().normalize()
    assert one["days_since_last_order"] == (as_of - last_day).days
    # Daily RFM: both count days, T from the first line of any kind (a return too).
    assert (table["tenure_days"] <= table["T"]).all()
    assert (table["tenure_days"] == table["T"]).mean() > 0.9
    shares = table.filter(like="channel_share_").sum(axis=1)
    assert np.allclose(shares[table["sales"] > 0], 1.0)
    assert (table["return_share"] >= 0).all()  # may exceed 1: returns of earlier purchases


def test_days_since_last_order_counts_calendar_days():
    tx = pd.DataFrame({
        "customer_id": pd.array(["a", "b"], dtype="string"),
        "order_date": pd.to_datetime(["2024-03-10 23:50", "2024-03-09 08:00"]),
        "amount": [5.0, 7.0],
    })
    table = customer_features(tx, as_of="2024-03-10").set_index("customer_id")
    assert table["days_since_last_order"].to_dict() == {"a": 0, "b": 1}


def test_one_time_buyers_have_no_gap(transactions):
    table = customer_features(transactions)
    single = table["orders"] == 1
    assert single.any()
    assert table.loc[single, "mean_days_between_orders"].isna().all()
    assert table.loc[single, "purchase_regularity"].isna().all()


def small_log() -> pd.DataFrame:
    """Customer a buys every 10 days; b twice, then returns; c once, in the old window."""
    rows = [
        ("a", "o1", "2024-01-01 10:00", 100.0, "Home", "UK", 2.0),
        ("a", "o1", "2024-01-01 10:00", 50.0, "Toys", "UK", 1.0),
        ("a", "o2", "2024-01-11 10:00", 40.0, "Home", "UK", 1.0),
        ("a", "o3", "2024-01-21 10:00", 60.0, "Books", "UK", 3.0),
        ("a", "o4", "2024-01-31 10:00", 30.0, "Garden", "FR", 1.0),
        ("b", "o5", "2023-12-01 09:00", 80.0, "Home", "FR", 1.0),
        ("b", "o6", "2024-01-15 09:00", 20.0, None, "FR", 1.0),
        ("b", "r6", "2024-01-20 09:00", -20.0, None, "FR", -1.0),
        ("c", "o7", "2023-09-01 12:00", 15.0, "Toys", "DE", 1.0),
    ]
    tx = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount",
                                     "category", "country", "quantity"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    for column in ("customer_id", "order_id", "category", "country"):
        tx[column] = tx[column].astype("string")
    return tx


def test_behaviour_features_by_hand():
    table = customer_features(small_log(), as_of="2024-02-01", window_days=60,
                              category_top_n=2).set_index("customer_id")
    a, b, c = table.loc["a"], table.loc["b"], table.loc["c"]
    # a: purchases 10 days apart on four days -> mean 10, sd 0, perfectly regular.
    assert a["mean_days_between_orders"] == 10.0
    assert a["std_days_between_orders"] == 0.0
    assert a["purchase_regularity"] == 1.0
    assert a["lines_per_order"] == 5 / 4 and a["units_per_order"] == 8 / 4
    # a bought in one month only (January): no repurchase month after the first.
    assert a["repurchase_rate"] == 0.0
    # b bought in December and January; one month since December -> 1 / 2 months.
    assert b["repurchase_rate"] == pytest.approx(1 / 2)
    # Windows of 60 days: recent = Dec 4 .. Feb 1, previous = Oct 5 .. Dec 3.
    assert (b["recent_revenue"], b["previous_revenue"]) == (0.0, 80.0)
    assert b["spend_trend"] == -1.0
    assert a["spend_trend"] == 1.0
    assert c["spend_trend"] == 0.0  # no spend in either window
    assert b["return_share"] == pytest.approx(20 / 100)
    # Top-2 categories overall: Home (220) and Toys (65); Books, Garden and none -> other.
    assert list(table.filter(like="category_share_")) == [
        "category_share_home", "category_share_toys", "category_share_other"]
    assert a["category_share_home"] == pytest.approx(140 / 280)
    assert a["category_share_toys"] == pytest.approx(50 / 280)
    assert a["category_share_other"] == pytest.approx(90 / 280)
    assert b["category_share_other"] == pytest.approx(20 / 100)
    assert c["category_share_toys"] == 1.0
    assert (a["top_category"], a["top_category_share"]) == ("Home", pytest.approx(0.5))
    assert c["top_category"] == "Toys"
    assert (a["country"], b["country"], c["country"]) == ("UK", "FR", "DE")
    assert b["orders"] == 2  # the return is not a purchase


def test_every_column_is_documented():
    table = customer_features(small_log(), as_of="2024-02-01")
    documented = set(FEATURE_DOCS)
    for column in table.columns.drop("customer_id"):
        if column.startswith(tuple(MIX_COLUMNS.values())):
            continue
        assert column in documented, column
    dictionary = feature_dictionary()
    assert list(dictionary.columns) == ["feature", "unit", "formula"]
    assert len(dictionary) == len(FEATURE_DOCS)


def test_feature_overview_lists_numeric_features(transactions):
    overview = feature_overview(customer_features(transactions))
    assert "revenue" in set(overview["feature"])
    assert "first_order" not in set(overview["feature"])
    row = overview.set_index("feature").loc["mean_days_between_orders"]
    assert row["customers"] < len(customer_features(transactions))


def test_customer_features_joins_attributes(transactions):
    attributes = pd.DataFrame({
        "customer_id": pd.array(["00000", "00001"], dtype="string"),
        "gender": pd.array(["F", "M"], dtype="string"),
        "birth_year": pd.array([1980, 2000], dtype="Int64"),
        "signup_date": pd.to_datetime(["2022-01-01", "2023-06-01"]),
    })
    table = customer_features(transactions, customers=attributes, as_of="2024-06-30")
    indexed = table.set_index("customer_id")
    assert indexed.loc["00001", "gender"] == "M"
    assert indexed.loc["00000", "age"] == 44
    assert indexed.loc["00001", "days_since_signup"] == (
        pd.Timestamp("2024-06-30") - pd.Timestamp("2023-06-01")).days
    assert table["gender"].isna().sum() == len(table) - 2


def test_customer_file_region_wins_over_transactions():
    tx = small_log().rename(columns={"country": "region"})
    attributes = pd.DataFrame({"customer_id": pd.array(["a"], dtype="string"),
                               "region": pd.array(["North"], dtype="string")})
    table = customer_features(tx, customers=attributes).set_index("customer_id")
    assert table.loc["a", "region"] == "North"
    assert table.loc["b", "region"] == "FR"


def test_inputs_not_modified(transactions):
    before = transactions.copy()
    customer_features(transactions)
    pd.testing.assert_frame_equal(transactions, before)


# --- free purchases ---------------------------------------------------------------------


def free_log() -> pd.DataFrame:
    """Lines at a unit price of 0: a customer given things only, one whose first purchase
    was free, one with a free line in a paid order; and a negative price (bad debt)."""
    rows = [
        ("free_only", "1", "2024-01-05 10:00", 2.0, 0.0),
        ("free_only", "2", "2024-02-05 10:00", 1.0, 0.0),
        ("free_first", "3", "2023-09-01 10:00", 1.0, 0.0),
        ("free_first", "4", "2024-03-01 10:00", 2.0, 5.0),
        ("free_first", "5", "2024-04-10 10:00", 1.0, 7.5),
        ("mixed", "6", "2024-02-01 10:00", 3.0, 4.0),
        ("mixed", "6", "2024-02-01 10:00", 1.0, 0.0),
        ("mixed", "7", "2024-03-20 10:00", 1.0, -2.0),
    ]
    tx = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "quantity",
                                     "unit_price"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    for column in ("customer_id", "order_id"):
        tx[column] = tx[column].astype("string")
    return tx.assign(amount=tx["quantity"] * tx["unit_price"])


@pytest.mark.parametrize("time_unit", ["D", "W"])
def test_free_purchases_count_for_rfm_as_in_lifetimes(time_unit):
    from seglab import clean

    as_of = pd.Timestamp("2024-04-30")
    kept = clean.clean_transactions(free_log(), as_of=as_of).transactions
    assert kept["is_free"].sum() == 4 and kept["unit_price"].min() == 0  # -2.0 removed
    table = customer_features(kept, as_of=as_of, time_unit=time_unit).set_index("customer_id")
    rfm = table[["frequency", "recency", "T", "monetary_value"]]
    pd.testing.assert_frame_equal(rfm, lifetimes_rfm(kept, as_of, time_unit),
                                  check_exact=False, atol=1e-9, rtol=0, check_index_type=False)
    if time_unit == "D":
        # given things twice, bought nothing: still a customer, since 2024-01-05
        assert table.loc["free_only", ["frequency", "recency", "T"]].tolist() == [1, 31, 116]
        # a customer since the free first purchase (2023-09-01), not the first paid one
        assert table.loc["free_first", ["frequency", "recency", "T"]].tolist() == [
            2, 222, 242]
    # free lines are not priced purchases: no orders, and no order value from them
    assert table.loc["free_only", "orders"] == 0
    assert table.loc["free_only", "avg_order_value"] == 0
    assert table.loc["free_first", "orders"] == 2
    assert table.loc["free_first", "avg_order_value"] == pytest.approx((10.0 + 7.5) / 2)
    assert table.loc["mixed", "avg_order_value"] == pytest.approx(12.0)


def test_dropping_free_lines_loses_customers_and_shortens_t():
    from seglab import clean

    as_of = pd.Timestamp("2024-04-30")
    rules = clean.CleaningRules(drop_free_lines=True)
    kept = clean.clean_transactions(free_log(), as_of=as_of, rules=rules).transactions
    table = customer_features(kept, as_of=as_of).set_index("customer_id")
    assert "free_only" not in table.index
    assert table.loc["free_first", ["frequency", "T"]].tolist() == [1, 60]


# --- the real log -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retail() -> tuple[pd.DataFrame, pd.Timestamp]:
    if not SHARED_RETAIL.exists():
        pytest.skip("UCI Online Retail log not available")
    from seglab import clean, io

    tx = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(tx)
    return clean.clean_transactions(tx, as_of=as_of).transactions, as_of


@pytest.mark.parametrize("time_unit", ["D", "W"])
def test_rfm_equals_lifetimes_on_online_retail(retail, time_unit):
    tx, as_of = retail
    got = rfm_summary(tx, as_of=as_of, time_unit=time_unit)
    expected = lifetimes_rfm(tx, as_of, time_unit)
    assert len(got) > 4000
    pd.testing.assert_frame_equal(got, expected, check_exact=False, atol=1e-9, rtol=0,
                                  check_index_type=False)


def test_engine_equals_pandas_and_lifetimes_on_online_retail(retail):
    from seglab import engine

    tx, as_of = retail
    ours = engine.customer_aggregates(tx, as_of=as_of)
    reference = customer_features(tx, as_of=as_of)
    pd.testing.assert_frame_equal(ours, reference, check_exact=False, atol=1e-9, rtol=0)
    rfm = ours.set_index("customer_id")[["frequency", "recency", "T", "monetary_value"]]
    pd.testing.assert_frame_equal(rfm, lifetimes_rfm(tx, as_of, "D"), check_exact=False,
                                  atol=1e-9, rtol=0, check_index_type=False)
    # 13256's only purchase was free (12,540 paper stickers on 2011-11-25): a customer
    # now, gone when free lines were removed
    assert tx.loc[tx["customer_id"] == "13256", "is_free"].all()
    assert rfm.loc["13256", ["frequency", "recency", "T"]].tolist() == [0, 0, 15]
