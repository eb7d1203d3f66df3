"""Tests for seglab.synth_parts.write_study_parts: a synthetic study written in parts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from seglab import engine, schema, synth, synth_parts
from seglab.errors import ConfigError, RunError

N, PART, LINES, SEED = 900, 300, 10, 3
END = pd.Timestamp("2026-06-30")


def _write(folder, **kwargs):
    arguments = {"seed": SEED, "part_customers": PART, "lines_per_customer": LINES} | kwargs
    return synth_parts.write_study_parts(folder, N, **arguments)


@pytest.fixture(scope="module", autouse=True)
def small_pilot():
    """Calibrate on a smaller pilot study: quicker, and precise enough for 900 customers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth_parts, "_PILOT_CUSTOMERS", 10_000)
        yield


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("parts") / "study")


@pytest.fixture(scope="module")
def transactions(parts):
    return pd.read_parquet(parts.folder / "transactions")


@pytest.fixture(scope="module")
def truth(parts):
    return pd.read_parquet(parts.truth)


def test_layout_and_manifest(parts, transactions):
    names = sorted(p.name for p in (parts.folder / "transactions").iterdir())
    assert names == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [p.name for p in parts.transaction_files] == names
    assert not parts.folder.with_name("study.partial").exists()
    manifest = json.loads(parts.manifest.read_text())
    assert manifest["arguments"]["n_customers"] == N
    assert manifest["customers"] == parts.n_customers == N
    assert manifest["transactions"] == parts.n_transactions == len(transactions)
    assert [p["transactions"] for p in manifest["parts"]] == [
        pq.ParquetFile(f).metadata.num_rows for f in parts.transaction_files
    ]
    assert [p["seed_spawn_key"] for p in manifest["parts"]] == [[0], [1], [2]]
    sales = transactions["order_id"].str.startswith(synth.ORDER_PREFIX)
    assert manifest["orders"] == parts.n_orders == transactions.loc[sales, "order_id"].nunique()
    assert pq.ParquetFile(parts.transaction_files[0]).metadata.row_group(0).column(
        0).compression == synth_parts.PART_COMPRESSION.upper()


def test_same_arguments_give_identical_files(parts, tmp_path):
    again = _write(tmp_path / "again")
    files = sorted(p.relative_to(parts.folder) for p in parts.folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again.folder) for p in again.folder.rglob("*")
                           if p.is_file())
    for file in files:
        assert (parts.folder / file).read_bytes() == (again.folder / file).read_bytes(), file


def test_parts_draw_from_their_own_seeds(tmp_path):
    a = synth_parts.write_study_parts(tmp_path / "a", 60, seed=1, part_customers=30)
    b = synth_parts.write_study_parts(tmp_path / "b", 60, seed=2, part_customers=30)
    first, second = (pd.read_parquet(f) for f in a.transaction_files)
    assert not first["amount"].head(20).equals(second["amount"].head(20))
    assert a.transaction_files[0].read_bytes() != b.transaction_files[0].read_bytes()


def test_ids_are_unique_across_parts_and_match_truth_and_customers(parts, transactions, truth):
    customers = pd.read_parquet(parts.customers)
    movement = pd.read_parquet(parts.movement)
    ids = customers["customer_id"]
    assert ids.is_unique and ids.is_monotonic_increasing and len(ids) == N
    assert ids.str.len().nunique() == 1
    assert ids.iat[0] == "C000001" and ids.iat[-1] == f"C{N:06d}"
    pd.testing.assert_series_equal(truth["customer_id"], ids)
    pd.testing.assert_series_equal(movement["customer_id"], ids)
    assert transactions["customer_id"].isin(ids).all()
    per_part = [set(pd.read_parquet(f, columns=["customer_id"])["customer_id"])
                for f in parts.transaction_files]
    assert not (per_part[0] & per_part[1]) and not (per_part[1] & per_part[2])
    order_ids = [pd.read_parquet(f, columns=["order_id"])["order_id"]
                 for f in parts.transaction_files]
    sale_orders = [set(o[o.str.startswith(synth.ORDER_PREFIX)]) for o in order_ids]
    assert sum(map(len, sale_orders)) == len(set().union(*sale_orders)) == parts.n_orders
    returns = transactions[transactions["quantity"] < 0]
    originals = returns["order_id"].str.slice(len(synth.RETURN_PREFIX))
    assert originals.isin(transactions["order_id"]).all()


def test_every_part_shares_one_calendar(parts):
    for file in parts.transaction_files:
        dates = pd.read_parquet(file, columns=["order_date"])["order_date"]
        assert dates.is_monotonic_increasing
        assert dates.max() < END
        assert dates.min() >= END - pd.Timedelta(days=round(365.25 * 2))
        assert dates.max() > END - pd.Timedelta(days=30)


def test_lines_per_customer_scales_purchases(parts, transactions, tmp_path):
    assert len(transactions) == pytest.approx(LINES * N, rel=0.15)  # seeds give 9.0-10.6
    assert 0 < parts.order_rate < 0.5
    planted = synth_parts.write_study_parts(tmp_path / "planted", 300, seed=SEED,
                                            part_customers=150)
    assert planted.order_rate == 1.0
    assert planted.n_transactions / 300 > 2.5 * LINES


def test_segment_shares_hold_over_the_whole_set(parts, truth):
    counts = truth["segment"].value_counts()
    manifest = json.loads(parts.manifest.read_text())
    assert manifest["segments"] == {name: int(counts[name]) for name in synth.SEGMENTS}
    total = sum(p["share"] for p in synth.SEGMENT_PROFILES.values())
    n_parts = len(parts.transaction_files)
    for name, profile in synth.SEGMENT_PROFILES.items():
        assert abs(counts[name] - profile["share"] / total * N) <= n_parts


def test_directory_reads_back_in_the_canonical_schema(transactions):
    assert list(transactions.columns) == list(schema.TRANSACTION_COLUMNS)
    # Stored as microseconds (Spark cannot read nanosecond Parquet timestamps).
    assert transactions["order_date"].dtype == np.dtype("datetime64[us]")
    validated = schema.validate_transactions(transactions, source="parts")
    reference = synth.make_study(20).transactions
    pd.testing.assert_series_equal(validated.dtypes, reference.dtypes)
    pd.testing.assert_frame_equal(
        validated, transactions.astype({"order_date": "datetime64[ns]"}), check_exact=True
    )


def test_parts_are_spotless(transactions):
    """Large logs carry none of make_study's planted dirt."""
    assert transactions["customer_id"].notna().all()
    assert not transactions.duplicated().any()
    assert not transactions["product_id"].isin(
        [synth.DIRT_POSTAGE[0], synth.DIRT_FEE[0]]).any()
    assert (transactions["unit_price"] > 0).all()
    assert (transactions["quantity"].abs() < synth.DIRT_OUTLIER_QUANTITY).all()
    assert transactions["order_id"].str.fullmatch(r"R?O\d{8}").all()


def test_planted_segments_stay_apart_at_lower_activity(parts, transactions, truth):
    table = engine.customer_aggregates(
        parts.transaction_files[0], as_of=END - pd.Timedelta(days=1)
    )
    assert table["customer_id"].is_unique
    assert set(table["customer_id"]) <= set(truth["customer_id"][: PART])
    whole = engine.customer_aggregates(transactions, as_of=END - pd.Timedelta(days=1))
    assert len(whole) == N
    segment = whole["customer_id"].map(truth.set_index("customer_id")["segment"])
    orders = whole.groupby(segment)["orders"].median()
    assert orders["VIP loyal"] > 2 * orders["Regular"]
    assert orders["Regular"] > orders["Big-ticket occasional"]
    assert orders["One-time"] <= 2
    value = whole.groupby(segment)["avg_order_value"].median()
    assert value["Big-ticket occasional"] > 2 * value["Regular"] > 2 * value["Bargain hunter"]


def test_an_existing_folder_is_not_overwritten(parts):
    before = parts.manifest.read_bytes()
    with pytest.raises(RunError, match="exists and is not an empty folder"):
        _write(parts.folder)
    assert parts.manifest.read_bytes() == before


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk)
    with pytest.raises(RunError, match="No space left on device"):
        synth_parts.write_study_parts(tmp_path / "study", 40, part_customers=20)
    assert list(tmp_path.iterdir()) == []


def test_a_leftover_partial_folder_is_reported(tmp_path):
    (tmp_path / "study.partial").mkdir()
    with pytest.raises(RunError, match=r"study\.partial' is left from an interrupted write"):
        synth_parts.write_study_parts(tmp_path / "study", 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"part_customers": 0}, r"part_customers=0 should be an integer >= 1"),
        ({"part_customers": 2.5}, r"part_customers=2.5 should be an integer >= 1"),
        ({"lines_per_customer": -1}, r"lines_per_customer=-1 should be a number above 0"),
        ({"lines_per_customer": "10"}, r"lines_per_customer='10' should be a number"),
        ({"lines_per_customer": 1.5}, r"lines_per_customer=1.5 should be at least 2\.\d\d"),
        ({"seed": -1}, r"seed=-1 should be a non-negative integer"),
    ],
)
def test_invalid_arguments_raise_config_error(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        synth_parts.write_study_parts(tmp_path / "study", 10, **kwargs)
    assert list(tmp_path.iterdir()) == []
