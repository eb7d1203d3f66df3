from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import random_transactions

from seglab.errors import ConfigError
from seglab.features import customer_features, default_as_of, rfm_summary

lifetimes_utils = pytest.importorskip("lifetimes.utils")


@pytest.mark.parametrize("time_unit", ["D", "W"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rfm_equals_lifetimes(time_unit, seed):
    tx = random_transactions(80, seed=seed)
    as_of = pd.Timestamp("2024-03-01")
    expected = lifetimes_utils.summary_data_from_transaction_data(
        tx, "customer_id", "order_date", "amount",
        observation_period_end=as_of, freq=time_unit,
    )
    got = rfm_summary(tx, as_of=as_of, time_unit=time_unit)
    expected.index = expected.index.astype("string")
    pd.testing.assert_frame_equal(got, expected.sort_index(), check_exact=False, atol=1e-9,
                                  rtol=0, check_index_type=False)


def test_rfm_ignores_periods_after_as_of():
    tx = random_transactions(30)
    as_of = pd.Timestamp("2023-06-30")
    later = tx[tx["order_date"] >= as_of + pd.Timedelta(days=1)]
    assert not later.empty
    got = rfm_summary(tx, as_of=as_of)
    assert set(got.index) == set(tx.loc[tx["order_date"] < as_of + pd.Timedelta(days=1),
                                        "customer_id"])
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


def test_customer_features_plain_figures(transactions):
    as_of = default_as_of(transactions)
    table = customer_features(transactions, as_of=as_of)
    assert table.columns[0] == "customer_id"
    assert table["customer_id"].is_unique
    assert table["revenue"].sum() == pytest.approx(transactions["amount"].sum())
    one = table.iloc[0]
    mine = transactions[transactions["customer_id"] == one["customer_id"]]
    purchases = mine[mine["amount"] > 0]
    assert one["orders"] == purchases["order_id"].nunique()
    assert one["sales"] == pytest.approx(purchases["amount"].sum())
    assert one["avg_order_value"] == pytest.approx(one["sales"] / one["orders"])
    assert one["days_since_last_order"] == (as_of - purchases["order_date"].max()).days
    shares = table.filter(like="channel_share_").sum(axis=1)
    assert np.allclose(shares[table["sales"] > 0], 1.0)
    assert (table["return_share"] >= 0).all()  # may exceed 1: returns of earlier purchases


def test_one_time_buyers_have_no_gap(transactions):
    table = customer_features(transactions)
    single = table["orders"] == 1
    assert single.any()
    assert table.loc[single, "mean_days_between_orders"].isna().all()


def test_customer_features_joins_attributes(transactions):
    attributes = pd.DataFrame({"customer_id": pd.array(["00000", "00001"], dtype="string"),
                               "gender": ["F", "M"]})
    table = customer_features(transactions, customers=attributes)
    assert table.set_index("customer_id").loc["00001", "gender"] == "M"
    assert table["gender"].isna().sum() == len(table) - 2


def test_inputs_not_modified(transactions):
    before = transactions.copy()
    customer_features(transactions)
    pd.testing.assert_frame_equal(transactions, before)
