"""Tests of the embedded synthetic study (seglab.synth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seglab import synth
from seglab.errors import ConfigError, RunError
from seglab.schema import CUSTOMER_COLUMNS, TRANSACTION_COLUMNS

N = 2000
END = pd.Timestamp("2026-06-30")


@pytest.fixture(scope="module")
def study() -> synth.SyntheticStudy:
    """The spotless planted log; the planted dirt is tested in test_synth_dirt.py."""
    return synth.make_study(N, seed=7, dirt=False)


@pytest.fixture(scope="module")
def per_customer(study: synth.SyntheticStudy) -> pd.DataFrame:
    """One row per customer: planted segment and the behaviour it should show."""
    tx = study.transactions
    sales = tx[tx["quantity"] > 0]
    returned = -tx.loc[tx["quantity"] < 0].groupby("customer_id")["amount"].sum()
    orders = sales.groupby(["customer_id", "order_id"]).agg(
        value=("amount", "sum"), date=("order_date", "first")
    )
    by_customer = orders.groupby(level="customer_id")
    table = pd.DataFrame(
        {
            "orders": by_customer.size(),
            "order_value": by_customer["value"].median(),
            "first": by_customer["date"].min(),
            "last": by_customer["date"].max(),
            "sales": by_customer["value"].sum(),
            "discount": sales.groupby("customer_id")["discount"].sum(),
        }
    )
    days = orders["date"].dt.normalize().reset_index().drop_duplicates(["customer_id", "date"])
    table["days"] = days.groupby("customer_id").size()
    table["return_share"] = returned.reindex(table.index).fillna(0.0) / table["sales"]
    table["discount_share"] = table["discount"] / (table["sales"] + table["discount"])
    table["segment"] = study.truth.set_index("customer_id")["segment"]
    return table


def _is_nullable_string(dtype: object) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA


# ------------------------------------------------------------------------ schema


def test_transaction_columns_and_dtypes_follow_the_schema(study):
    tx = study.transactions
    assert list(tx.columns) == list(TRANSACTION_COLUMNS)
    for column, kind in TRANSACTION_COLUMNS.items():
        dtype = tx[column].dtype
        if kind in ("id", "text"):
            assert _is_nullable_string(dtype), (column, dtype)
        elif kind == "date":
            assert dtype == np.dtype("datetime64[ns]"), (column, dtype)
        else:
            assert dtype == np.dtype("float64"), (column, dtype)
    required = [c for c in TRANSACTION_COLUMNS if c != "store"]
    assert tx[required].notna().all().all()
    assert isinstance(tx.index, pd.RangeIndex)


def test_customer_and_truth_columns_and_dtypes(study):
    customers, truth = study.customers, study.truth
    assert list(customers.columns) == list(CUSTOMER_COLUMNS)
    expected = {
        "customer_id": "string",
        "signup_date": "datetime64[ns]",
        "birth_year": "Int64",
        "age": "Int64",
        "gender": "string",
        "region": "string",
        "city": "string",
        "city_tier": "string",
        "contact_consent": "boolean",
    }
    for column, dtype in expected.items():
        assert customers[column].dtype == dtype, column
    assert _is_nullable_string(customers["customer_id"].dtype)
    assert list(truth.columns) == ["customer_id", "segment"]
    assert _is_nullable_string(truth["customer_id"].dtype)
    assert set(customers["gender"].dropna()) == {"F", "M"}
    assert 0 < customers["gender"].isna().mean() < 0.15
    assert 0 < customers["birth_year"].isna().mean() < 0.15
    assert (customers["birth_year"].isna() == customers["age"].isna()).all()
    assert set(customers["city_tier"]) == {"Tier 1", "Tier 2", "Tier 3"}
    assert customers["contact_consent"].notna().all()


def test_ids_are_zero_padded_and_returns_prefixed(study):
    tx = study.transactions
    assert study.customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert tx["order_id"].str.fullmatch(r"R?O\d{8}").all()
    assert tx["product_id"].str.fullmatch(r"P\d{4}").all()
    is_return = tx["order_id"].str.startswith(synth.RETURN_PREFIX)
    assert (is_return == (tx["quantity"] < 0)).all()


def test_amount_is_quantity_times_price_minus_discount(study):
    tx = study.transactions
    expected = tx["quantity"] * tx["unit_price"] - tx["discount"]
    np.testing.assert_allclose(tx["amount"], expected, rtol=0, atol=1e-6)
    assert (tx["discount"] >= 0).all()
    assert (tx["unit_price"] > 0).all()
    sales = tx["quantity"] > 0
    assert (tx.loc[sales, ["amount", "cost"]] > 0).all().all()
    assert (tx.loc[~sales, ["amount", "cost"]] < 0).all().all()
    assert 0.05 < (tx["discount"] > 0).mean() < 0.6


def test_catalogue_categories_prices_and_margins(study):
    tx = study.transactions[study.transactions["quantity"] > 0]
    assert 100 <= tx["product_id"].nunique() <= 200
    assert set(tx["category"]) == set(synth.CATEGORIES)
    assert (tx.groupby("product_id")["category"].nunique() == 1).all()
    assert (tx.groupby("product_id")["unit_price"].nunique() == 1).all()
    price = tx.groupby("category")["unit_price"].median()
    assert price["Electronics"] > 5 * price["Grocery"]
    list_margin = 1 - tx["cost"] / (tx["quantity"] * tx["unit_price"])
    margin = list_margin.groupby(tx["category"]).median()
    assert margin["Beauty"] > 0.55 > 0.2 > margin["Electronics"]


def test_dates_fall_inside_the_window():
    study = synth.make_study(500, seed=3, end_date="2025-03-15", years=1.5)
    end = pd.Timestamp("2025-03-15")
    start = end - pd.Timedelta(days=round(365.25 * 1.5))
    dates = study.transactions["order_date"]
    assert dates.min() >= start
    assert dates.max() < end
    assert dates.min() < start + pd.Timedelta(days=7)
    assert dates.max() > end - pd.Timedelta(days=7)


def test_rows_are_sorted_by_date_then_order_id(study):
    tx = study.transactions
    resorted = tx.sort_values(["order_date", "order_id"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(resorted, tx)


def test_orders_are_baskets_without_repeated_products(study):
    tx = study.transactions
    assert not tx.duplicated(["order_id", "product_id"]).any()
    lines_per_order = tx[tx["quantity"] > 0].groupby("order_id").size()
    assert lines_per_order.max() >= 4
    assert 1.5 < lines_per_order.mean() < 4
    assert 25 <= len(tx) / N <= 45
    one_order = tx.groupby("order_id")
    assert (one_order["customer_id"].nunique() == 1).all()
    assert (one_order["order_date"].nunique() == 1).all()
    assert (one_order["channel"].nunique() == 1).all()


def test_channels_stores_and_regions(study):
    tx, customers = study.transactions, study.customers
    assert set(tx["channel"]) == set(synth.CHANNELS)
    in_store = tx["channel"] == "store"
    assert (tx["store"].isna() == ~in_store).all()
    assert set(tx.loc[in_store, "store"]) <= set(synth.STORES)
    assert synth.FLAGSHIP_STORE in set(tx["store"].dropna())
    assert set(tx["region"]) <= set(synth.REGIONS)
    assert set(tx["country"]) == {synth.COUNTRY}
    store_region = tx.loc[in_store, "store"].map(
        {name: spec["region"] for name, spec in synth.STORES.items()}
    )
    assert (store_region == tx.loc[in_store, "region"]).all()
    home = customers.set_index("customer_id")["region"]
    remote = tx[~in_store]
    assert (remote["region"] == home.reindex(remote["customer_id"]).to_numpy()).all()


# --------------------------------------------------------------------- customers


def test_every_customer_is_in_all_three_tables_and_buys(study):
    tx, customers, truth = study.transactions, study.customers, study.truth
    assert customers["customer_id"].is_unique
    assert truth["customer_id"].is_unique
    assert len(customers) == N
    assert set(customers["customer_id"]) == set(truth["customer_id"])
    assert set(tx["customer_id"]) == set(customers["customer_id"])
    buyers = set(tx.loc[tx["quantity"] > 0, "customer_id"])
    assert buyers == set(customers["customer_id"])
    assert customers["customer_id"].is_monotonic_increasing


def test_signup_is_on_or_before_the_first_purchase(study):
    first = study.transactions.groupby("customer_id")["order_date"].min()
    signup = study.customers.set_index("customer_id")["signup_date"]
    assert (signup <= first.reindex(signup.index)).all()
    assert (signup == signup.dt.normalize()).all()
    assert (signup < END - pd.Timedelta(days=730)).any()


def test_age_is_measured_at_end_date(study):
    known = study.customers.dropna(subset=["birth_year"])
    gap = END.year - known["birth_year"] - known["age"]
    assert gap.isin([0, 1]).all()
    assert known["age"].between(18, 80).all()


def test_demographics_lean_by_segment_but_do_not_decide_it(study):
    table = study.customers.merge(study.truth, on="customer_id")
    tier1 = table["city_tier"].eq("Tier 1").groupby(table["segment"]).mean()
    assert tier1["VIP loyal"] > tier1["Bargain hunter"] + 0.1
    age = table.groupby("segment")["age"].mean()
    assert age["Big-ticket occasional"] > age["New"] + 5
    consent = table.groupby("segment")["contact_consent"].mean()
    assert consent["VIP loyal"] > consent["One-time"] + 0.2
    assert (table.groupby("segment")["city_tier"].nunique() == 3).all()
    assert (table.groupby("segment")["gender"].nunique() == 2).all()


# ---------------------------------------------------------------------- segments


def test_all_segments_present_with_configured_shares(study):
    assert len(synth.SEGMENTS) >= 7
    assert synth.SEGMENTS == tuple(synth.SEGMENT_PROFILES)
    shares = study.truth["segment"].value_counts(normalize=True)
    assert set(shares.index) == set(synth.SEGMENTS)
    total = sum(p["share"] for p in synth.SEGMENT_PROFILES.values())
    for name, profile in synth.SEGMENT_PROFILES.items():
        assert shares[name] == pytest.approx(profile["share"] / total, abs=1 / N)


def test_segments_are_shuffled_over_customer_ids(study):
    first_half = study.truth["segment"].iloc[: N // 2].value_counts(normalize=True)
    assert first_half.max() < 0.4
    assert first_half.size == len(synth.SEGMENTS)


def test_big_ticket_orders_are_worth_more_than_regular(per_customer):
    value = per_customer.groupby("segment")["order_value"].median()
    assert value["Big-ticket occasional"] > 2 * value["Regular"]
    assert value["VIP loyal"] > value["Regular"] > value["Bargain hunter"]


def test_frequency_differs_by_segment(per_customer):
    orders = per_customer.groupby("segment")["orders"].median()
    assert orders["VIP loyal"] > 2 * orders["Regular"]
    assert orders["Bargain hunter"] > orders["Regular"]
    assert orders["Regular"] > 2 * orders["Big-ticket occasional"]


def test_new_customers_first_bought_in_the_last_90_days(per_customer):
    new = per_customer[per_customer["segment"] == "New"]
    assert (new["first"] >= END - pd.Timedelta(days=90)).all()
    assert new["orders"].between(1, 3).all()
    others = per_customer[per_customer["segment"] != "New"]
    assert (others["first"] < END - pd.Timedelta(days=90)).mean() > 0.95


def test_lapsing_customers_stopped_buying_months_ago(per_customer):
    lapsing = per_customer[per_customer["segment"] == "Lapsing"]
    assert (lapsing["last"] <= END - pd.Timedelta(days=120)).all()
    assert (lapsing["last"] >= END - pd.Timedelta(days=400)).mean() > 0.8
    assert lapsing["orders"].median() >= 5
    regular = per_customer[per_customer["segment"] == "Regular"]
    assert (regular["last"] > END - pd.Timedelta(days=120)).mean() > 0.8


def test_one_time_customers_bought_once_long_ago(per_customer):
    once = per_customer[per_customer["segment"] == "One-time"]
    assert (once["days"] == 1).mean() > 0.65
    assert (once["orders"] <= 2).all()
    assert ((once["last"] - once["first"]) <= pd.Timedelta(days=22)).all()
    assert (once["last"] < END - pd.Timedelta(days=150)).all()


def test_bargain_hunters_live_on_discounts_and_vips_do_not(per_customer):
    share = per_customer.groupby("segment")["discount_share"].median()
    assert share["Bargain hunter"] > 0.1
    assert share["Bargain hunter"] > 3 * share["Regular"]
    assert share["VIP loyal"] < share["Regular"]


def test_channel_mix_differs_by_segment(study):
    sales = study.transactions[study.transactions["quantity"] > 0]
    segment = sales["customer_id"].map(study.truth.set_index("customer_id")["segment"])
    online = sales["channel"].eq("online").astype(bool).groupby(segment).mean()
    assert online["Bargain hunter"] > 0.5 > online["VIP loyal"]
    flagship = sales["store"].eq(synth.FLAGSHIP_STORE).fillna(False).astype(bool)
    by_segment = flagship.groupby(segment).mean()
    assert by_segment["Big-ticket occasional"] > 2 * by_segment["Regular"]


def _kmeans(x: np.ndarray, k: int, *, seed: int = 0, n_init: int = 5) -> np.ndarray:
    """Plain Lloyd k-means, best of ``n_init`` random starts (keeps sklearn out)."""
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=int), np.inf
    for _ in range(n_init):
        centres = x[rng.choice(len(x), k, replace=False)]
        for _ in range(100):
            distance = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
            labels = distance.argmin(axis=1)
            moved = np.array(
                [x[labels == j].mean(axis=0) if (labels == j).any() else centres[j]
                 for j in range(k)]
            )
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = distance.min(axis=1).sum()
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def _adjusted_rand_index(truth: np.ndarray, labels: np.ndarray) -> float:
    table = pd.crosstab(truth, labels).to_numpy()

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) / 2).sum())

    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / pairs(np.array([table.sum()]))
    return (index - expected) / ((rows + cols) / 2 - expected)


def test_adjusted_rand_index_helper():
    truth = np.array([0, 0, 1, 1, 2, 2])
    assert _adjusted_rand_index(truth, np.array([5, 5, 3, 3, 1, 1])) == pytest.approx(1.0)
    assert _adjusted_rand_index(truth, np.array([0, 1, 0, 1, 0, 1])) < 0


def test_naive_kmeans_does_not_recover_the_segments(per_customer):
    features = pd.DataFrame(
        {
            "recency": (END - per_customer["last"]).dt.days,
            "tenure": (END - per_customer["first"]).dt.days,
            "frequency": np.log1p(per_customer["orders"]),
            "monetary": np.log1p(per_customer["sales"]),
            "order_value": np.log1p(per_customer["order_value"]),
            "discount_share": per_customer["discount_share"],
            "return_share": per_customer["return_share"],
        }
    )
    scaled = ((features - features.mean()) / features.std()).to_numpy()
    labels = _kmeans(scaled, len(synth.SEGMENTS))
    ari = _adjusted_rand_index(per_customer["segment"].to_numpy(), labels)
    assert 0.1 < ari < 0.8


# ----------------------------------------------------------------------- returns


def test_returns_reference_an_earlier_purchase_of_the_same_product(study):
    tx = study.transactions
    returns = tx[tx["quantity"] < 0]
    assert 0.02 < len(returns) / len(tx) < 0.15
    originals = tx[tx["quantity"] > 0]
    matched = returns.assign(
        original=returns["order_id"].str.slice(len(synth.RETURN_PREFIX))
    ).merge(
        originals,
        left_on=["original", "product_id"],
        right_on=["order_id", "product_id"],
        suffixes=("", "_sale"),
        how="left",
        validate="one_to_one",
    )
    assert matched["order_id_sale"].notna().all()
    assert (matched["customer_id"] == matched["customer_id_sale"]).all()
    assert (matched["order_date"] > matched["order_date_sale"]).all()
    assert (-matched["quantity"] <= matched["quantity_sale"]).all()
    assert (-matched["amount"] <= matched["amount_sale"] + 0.01 * matched["quantity_sale"]).all()
    assert (-matched["cost"] <= matched["cost_sale"] + 0.01).all()
    assert (matched["channel"] == matched["channel_sale"]).all()
    per_return_order = returns.groupby("order_id")["order_date"].nunique()
    assert (per_return_order == 1).all()


def test_return_rates_differ_by_category(study):
    tx = study.transactions
    rate = (tx["quantity"] < 0).groupby(tx["category"]).sum() / (tx["quantity"] > 0).groupby(
        tx["category"]
    ).sum()
    assert rate["Apparel"] > 3 * rate["Grocery"]
    assert rate["Electronics"] > rate["Books"]


def test_a_minority_of_big_ticket_customers_return_heavily(per_customer):
    heavy = (per_customer["return_share"] > 0.3).groupby(per_customer["segment"]).mean()
    assert 0.15 < heavy["Big-ticket occasional"] < 0.45
    assert heavy["Regular"] < 0.1
    assert heavy["VIP loyal"] < 0.1


def test_heavy_returners_lose_money_under_the_synthetic_cost_table(study, per_customer):
    profit = pytest.importorskip("seglab.profit")
    pnl = profit.customer_pnl(study.transactions, synth.COST_TABLE)
    table = per_customer.join(pnl["profit"])
    big = table[table["segment"] == "Big-ticket occasional"]
    unprofitable = big["profit"] < 0
    assert 0.15 < unprofitable.mean() < 0.45
    heavy = big["return_share"] > 0.3
    assert unprofitable[heavy].mean() > 2 * unprofitable[~heavy].mean()
    assert big.loc[unprofitable, "sales"].median() > table["sales"].median()
    vip = table[table["segment"] == "VIP loyal"]
    assert (vip["profit"] < 0).mean() < 0.05


# ------------------------------------------------------------------- determinism


def test_same_arguments_give_identical_frames():
    a = synth.make_study(400, seed=11)
    b = synth.make_study(400, seed=11)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert a.dirt == b.dirt


def test_a_different_seed_gives_different_data():
    a = synth.make_study(400, seed=11)
    b = synth.make_study(400, seed=12)
    assert not a.transactions.equals(b.transactions)
    assert not a.truth["segment"].equals(b.truth["segment"])
    assert not a.customers["signup_date"].equals(b.customers["signup_date"])


def test_tiny_studies_work():
    one = synth.make_study(1)
    assert len(one.customers) == 1
    assert len(one.truth) == 1
    assert (one.transactions["quantity"] > 0).any()
    seven = synth.make_study(20, seed=2)
    assert seven.truth["segment"].nunique() == len(synth.SEGMENTS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 0}, r"n_customers=0 should be >= 1"),
        ({"n_customers": "100"}, r"n_customers='100' should be an integer"),
        ({"n_customers": 10, "seed": -1}, r"seed=-1 should be a non-negative integer"),
        ({"n_customers": 10, "years": 0.5}, r"years=0.5 should be a number between 1"),
        ({"n_customers": 10, "years": float("nan")}, r"years=nan should be a number"),
        ({"n_customers": 10, "end_date": "someday"}, r"end_date='someday' is not a date"),
    ],
)
def test_invalid_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        synth.make_study(**kwargs)


# ------------------------------------------------------------------------ writing


def test_write_study_round_trips(tmp_path):
    study = synth.make_study(200, seed=5)
    paths = synth.write_study(study, tmp_path / "new" / "folder")
    assert set(paths) == {"transactions", "customers", "truth"}
    assert paths["transactions"].name == "transactions.parquet"
    assert paths["customers"].name == "customers.parquet"
    assert paths["truth"].name == "truth.csv"
    pd.testing.assert_frame_equal(pd.read_parquet(paths["transactions"]), study.transactions)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["customers"]), study.customers)
    truth = pd.read_csv(paths["truth"], dtype="string")
    pd.testing.assert_frame_equal(truth, study.truth)


def test_write_study_into_a_file_raises_run_error(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(RunError, match="Cannot write the synthetic study"):
        synth.write_study(synth.make_study(20), blocker)


# ------------------------------------------------------------------ planted movement


def test_movement_lists_every_customer_with_its_activity_period(study):
    movement = study.movement
    assert list(movement.columns) == ["customer_id", "segment", "active_from", "active_until"]
    pd.testing.assert_series_equal(movement["customer_id"], study.truth["customer_id"])
    pd.testing.assert_series_equal(movement["segment"], study.truth["segment"])
    assert movement["active_from"].dtype == np.dtype("datetime64[ns]")
    assert movement["active_until"].dtype == np.dtype("datetime64[ns]")
    ended = movement.dropna(subset=["active_until"])
    assert (ended["active_from"] <= ended["active_until"]).all()


def test_every_purchase_falls_in_the_planted_activity_period(study):
    sales = study.transactions[study.transactions["quantity"] > 0]
    days = sales.groupby("customer_id")["order_date"].agg(["min", "max"])
    table = study.movement.set_index("customer_id").join(days)
    assert (table["min"].dt.normalize() >= table["active_from"]).all()
    until = table["active_until"].fillna(END)
    assert (table["max"].dt.normalize() <= until).all()
    window_start = END - pd.Timedelta(days=round(365.25 * 2))
    inside = table["active_from"] >= window_start
    assert inside.mean() > 0.3
    assert (table.loc[inside, "min"].dt.normalize() == table.loc[inside, "active_from"]).all()


def test_movement_is_planted_by_segment(study):
    movement = study.movement
    ago = (END - movement["active_until"]).dt.days
    segment = movement["segment"]
    lapsing = segment == "Lapsing"
    assert ago[lapsing].between(120, 366).all()
    assert ago[segment == "One-time"].between(200, 731).all()
    ongoing = ~segment.isin(["Lapsing", "One-time"])
    assert movement.loc[ongoing, "active_until"].isna().all()
    new = segment == "New"
    assert ((END - movement.loc[new, "active_from"]).dt.days <= 90).all()
    # New customers of the ongoing segments keep arriving all through the window.
    regular = movement[segment.isin(["Regular", "Bargain hunter"])]
    arrived = regular["active_from"] >= END - pd.Timedelta(days=365)
    assert 0.1 < arrived.mean() < 0.6


def test_planted_stage_follows_the_activity_periods(study):
    movement = study.movement
    at_end = synth.planted_stage(movement, END - pd.Timedelta(days=1))
    assert list(at_end.index) == list(movement["customer_id"])
    assert set(at_end) == {"New", "Active", "Lapsed"}
    segment = movement.set_index("customer_id")["segment"]
    assert (at_end[segment == "One-time"] == "Lapsed").all()
    assert (at_end[segment == "New"] == "New").all()
    assert (at_end[segment == "VIP loyal"] == "Active").all()
    lapsing = at_end[segment == "Lapsing"]
    assert 0.5 < (lapsing == "Lapsed").mean() < 1.0  # some stopped less than 120 days ago
    year_ago = synth.planted_stage(movement, END - pd.Timedelta(days=366))
    assert (year_ago[segment == "New"] == "(not yet)").all()
    assert (year_ago[segment == "Lapsing"] != "Lapsed").all()
    assert synth.PLANTED_STAGES == ("(not yet)", "New", "Active", "Lapsed")
    eager = synth.planted_stage(movement, END - pd.Timedelta(days=1), lapse_days=0)
    assert (eager[segment == "Lapsing"] == "Lapsed").all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"as_of": "soon"}, r"as_of 'soon': not a date"),
        ({"as_of": "2026-01-01", "lapse_days": -1}, r"lapse_days=-1 should be a whole number"),
        ({"as_of": "2026-01-01", "new_days": 1.5}, r"new_days=1.5 should be a whole number"),
    ],
)
def test_planted_stage_rejects_bad_arguments(study, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        synth.planted_stage(study.movement, **kwargs)
