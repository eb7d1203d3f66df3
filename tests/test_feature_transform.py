from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import random_transactions

from seglab.errors import ConfigError, InputError
from seglab.feature_transform import (
    FeatureTransform,
    load_transform,
    make_transform,
    save_transform,
)
from seglab.features import customer_features


@pytest.fixture(scope="module")
def table():
    return customer_features(random_transactions(n_customers=80, seed=2))


def test_transform_logs_scales_and_weights_groups(table):
    transform = FeatureTransform("behaviour_mix").fit(table)
    X = transform.transform(table)
    names = transform.columns_
    assert X.shape == (len(table), len(names))
    assert not np.isnan(X).any()
    assert "overdue_ratio" in names and "orders" in names
    channels = [i for i, n in enumerate(names) if n.startswith("channel_share_")]
    assert len(channels) == 3
    # a single feature has sd 1; each of the three channel columns 0.7 / sqrt(3)
    assert X[:, names.index("orders")].std() == pytest.approx(1.0)
    for i in channels:
        assert X[:, i].std() == pytest.approx(0.7 / np.sqrt(3))
    expected = (np.log1p(table["orders"]) - np.log1p(table["orders"]).mean()) / np.log1p(
        table["orders"]).std(ddof=0)
    np.testing.assert_allclose(X[:, names.index("orders")], expected)
    assert transform.source_columns_ == sorted(transform.source_columns_)
    assert "mean_days_between_orders" in transform.source_columns_


def test_shares_of_few_orders_are_shrunk_to_the_mean(table):
    transform = FeatureTransform("behaviour_mix", shrink_orders=3).fit(table)
    raw = FeatureTransform("behaviour_mix", shrink_orders=0).fit(table)
    one = table.index[table["orders"] == 1][0]
    column = "channel_share_store"
    mean = table[column].mean()
    shrunk = transform._values(table.loc[[one]], column, "share")[0]
    assert shrunk == pytest.approx((table.at[one, column] + 3 * mean) / 4)
    assert raw._values(table.loc[[one]], column, "share")[0] == table.at[one, column]


def test_raw_rfm_is_left_unscaled(table):
    X = FeatureTransform("rfm_raw").fit(table).transform(table)
    np.testing.assert_allclose(X[:, 1], table["orders"].to_numpy(dtype=float))


def test_transform_errors(table):
    with pytest.raises(ConfigError, match="feature_set='nope' is unknown"):
        make_transform(table, "nope")
    with pytest.raises(InputError, match="none of the columns of feature_set='rfm'"):
        FeatureTransform("rfm").fit(table[["customer_id"]])
    transform = FeatureTransform("rfm").fit(table)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['revenue'\]"):
        transform.transform(table.drop(columns="revenue"))


def test_transform_does_not_change_its_input(table):
    before = table.copy()
    FeatureTransform().fit(table).transform(table)
    pd.testing.assert_frame_equal(table, before)


def test_summary_describes_every_column(table):
    transform = FeatureTransform("behaviour_mix").fit(table)
    summary = transform.summary()
    assert summary["column"].tolist() == transform.columns_
    orders = summary.set_index("column").loc["orders"]
    values = np.log1p(table["orders"].to_numpy(dtype=float))
    assert orders["step"] == "log1p"
    assert orders["center"] == pytest.approx(values.mean())
    assert orders["scale"] == pytest.approx(values.std())
    channels = summary[summary["column"].str.startswith("channel_share_")]
    assert (channels["step"] == "shrunk share").all()
    assert channels["weight"].to_numpy() ** 2 @ np.ones(len(channels)) == pytest.approx(0.49)


def test_transform_saved_and_reused_on_new_data(tmp_path, table):
    transform = FeatureTransform("behaviour_mix").fit(table)
    path = save_transform(transform, tmp_path / "t.joblib")
    again = load_transform(path)
    new = customer_features(random_transactions(20, seed=7))
    np.testing.assert_array_equal(again.transform(new), transform.transform(new))
    with pytest.raises(InputError, match=r"lacks column\(s\) \['orders'\]"):
        again.transform(new.drop(columns="orders"))
    with pytest.raises(InputError, match="no saved feature transform"):
        load_transform(tmp_path / "missing.joblib")
    joblib.dump({"not": "a transform"}, tmp_path / "other.joblib")
    with pytest.raises(InputError, match="holds a dict, not a FeatureTransform"):
        load_transform(tmp_path / "other.joblib")
