"""A large log studied bucket by bucket gives the numbers of the same log in memory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seglab import buckets, engine, profile, study, synth
from seglab.errors import InputError
from seglab.study import common as study_common
from seglab.study import staging
from seglab.study.clean import load_clean_transactions


def _dirty_log(n_customers: int = 400, seed: int = 5) -> pd.DataFrame:
    """Synthetic lines plus what cleaning must catch: no customer id, exact duplicates."""
    tx = synth.make_study(n_customers, seed=seed, dirt=False).transactions
    no_id = tx.sample(40, random_state=1).assign(customer_id=pd.NA)
    copies = tx.sample(25, random_state=2)
    return pd.concat([tx, no_id, copies], ignore_index=True)


def _write_parts(tx: pd.DataFrame, folder: Path, parts: int = 3) -> Path:
    folder.mkdir(parents=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(tx)), parts)):
        tx.iloc[chunk].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> tuple[pd.DataFrame, Path, Path]:
    base = tmp_path_factory.mktemp("large")
    tx = _dirty_log()
    tx.to_parquet(base / "log.parquet", index=False)
    return tx, _write_parts(tx, base / "lake"), base / "log.parquet"


def test_partition_keeps_every_line_in_its_customers_bucket(log, tmp_path):
    tx, lake, _ = log
    part = buckets.partition(lake, tmp_path / "p", buckets=3)
    assert part.lines == len(tx)
    frames = {b: part.read(b) for b in part.all_buckets}
    assert sum(len(f) for f in frames.values()) == len(tx)
    assert frames[3]["customer_id"].isna().all() and len(frames[3]) == 40
    seen = [set(frames[b]["customer_id"]) for b in range(3)]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert set().union(*seen) == set(tx["customer_id"].dropna())
    # Each bucket reads back in the order of the source.
    expected = tx[tx["customer_id"].isin(seen[1])].reset_index(drop=True)
    pd.testing.assert_frame_equal(frames[1][list(tx.columns)], expected, check_dtype=False)


def test_whole_log_overview_equals_pandas(log, tmp_path):
    tx, lake, _ = log
    overview, missing = buckets.overview(buckets.partition(lake, tmp_path / "p", buckets=2))
    expected = profile.overview(tx).set_index("metric")["value"]
    got = overview.set_index("metric")["value"]
    assert list(got.index) == list(expected.index)
    for metric, value in expected.items():
        if isinstance(value, float):
            assert got[metric] == pytest.approx(value, rel=1e-12), metric
        else:
            assert got[metric] == value, metric
    pandas_missing = profile.missing_values(tx).set_index("column")["missing"]
    assert missing.set_index("column")["missing"].to_dict() == pandas_missing.to_dict()


def test_value_of_the_wrong_type_names_file_and_column(tmp_path):
    folder = tmp_path / "lake"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "order_date": ["2024-01-02", "soon"],
                  "amount": [1.0, 2.0]}).to_parquet(folder / "p.parquet")
    with pytest.raises(InputError, match=r"lake.*'order_date'.*1 value that is not a date"):
        buckets.partition(folder, tmp_path / "out")


def test_broken_parquet_file_is_named(tmp_path):
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "broken.parquet").write_bytes(b"x")
    with pytest.raises(InputError, match=r"broken\.parquet: not a readable Parquet file"):
        study.stage_inputs(tmp_path / "run", data=folder)


def test_not_parquet_is_refused(tmp_path):
    (tmp_path / "a.csv").write_text("customer_id,order_date,amount\n")
    with pytest.raises(InputError, match="no Parquet files"):
        buckets.partition(tmp_path / "a.csv", tmp_path / "out")


def _study(run_dir: Path, data: Path) -> dict:
    study.stage_inputs(run_dir, data=data)
    study.clean_stage(run_dir)
    study.feature_stage(run_dir)
    study.cluster_stage(run_dir, methods="kmeans", k_max=4, n_resamples=1)
    study.profit_stage(run_dir)
    study.products_stage(run_dir, min_support=0.005, min_pair_orders=2)
    return json.loads((run_dir / "metrics.json").read_text())


def test_bucketed_study_equals_the_study_in_memory(log, tmp_path, monkeypatch):
    _, lake, single = log
    monkeypatch.setattr(buckets, "BUCKET_LINES", 3_000)  # about 5 buckets
    large = _study(tmp_path / "large", lake)
    small = _study(tmp_path / "memory", single)
    assert json.loads((tmp_path / "large" / "study.json").read_text())["partition"]["buckets"] > 3
    assert large["cleaning"] == small["cleaning"]
    assert large["cleaning"]["rules"]["missing_customer"]["rows"] == 40
    assert large["cleaning"]["reconciles"]
    for section in ("features", "profit", "bgnbd", "clv"):
        timed = {k for k in large[section] if k.endswith("seconds")}
        assert ({k: v for k, v in large[section].items() if k not in timed}
                == {k: v for k, v in small[section].items() if k not in timed}), section
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "large" / "customers.parquet"),
                                  pd.read_parquet(tmp_path / "memory" / "customers.parquet"))
    # The rules of a large log count every order of the clean partition in DuckDB.
    assert large["products"]["rules"] > 0
    for name in ("basket_rules.csv", "category_rules.csv", "segment_products.csv",
                 "recommendations.csv"):
        assert ((tmp_path / "large" / name).read_bytes()
                == (tmp_path / "memory" / name).read_bytes()), name


def test_line_level_tables_use_a_customer_sample(log, tmp_path, monkeypatch):
    _, lake, _ = log
    monkeypatch.setattr(buckets, "BUCKET_LINES", 3_000)
    monkeypatch.setattr(staging, "SAMPLE_LINES", 3_000)
    inputs = study.stage_inputs(tmp_path, data=lake)
    assert inputs.sample_buckets == (0,)
    assert set(inputs.transactions["customer_id"]) == set(inputs.partition.read(0)["customer_id"])
    note = inputs.sample_note()
    assert f"{inputs.partition.lines:,} lines" in note
    assert f"{inputs.transactions['customer_id'].nunique():,} customers" in note
    assert study.load_inputs(tmp_path, lines=False).sample_note() == note  # as stages load it
    stage = study.dynamics_stage(tmp_path, steps=2, horizon_days=60)
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    assert customers["churn_risk"].notna().all()  # everyone scored, snapshots on the sample
    assert stage.snapshots.table["customer_id"].isin(inputs.transactions["customer_id"]).all()


def test_sample_smaller_than_a_bucket_keeps_whole_customers(log, tmp_path, monkeypatch):
    _, lake, _ = log
    monkeypatch.setattr(buckets, "BUCKET_LINES", 6_000)
    monkeypatch.setattr(staging, "SAMPLE_LINES", 1_500)
    inputs = study.stage_inputs(tmp_path, data=lake)
    bucket = inputs.partition.read(0)
    sampled = inputs.transactions
    assert 0.5 * 1_500 < len(sampled) < 1.5 * 1_500 < len(bucket)
    ids = set(sampled["customer_id"])
    assert len(sampled) == bucket["customer_id"].isin(ids).sum()  # all their lines
    again = study.load_inputs(tmp_path).transactions
    pd.testing.assert_frame_equal(again, sampled)  # the same customers on every read
    clean_ids = set(load_clean_transactions(tmp_path)["customer_id"])
    assert clean_ids <= ids and len(clean_ids) > 0.9 * len(ids)
    assert f"{len(ids):,} customers" in inputs.sample_note()


def test_long_customer_table_is_exported_to_csv_once_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(study_common, "CSV_ROWS", 50)
    study.stage_inputs(tmp_path, data=None)
    study.feature_stage(tmp_path)
    assert not (tmp_path / "customers.csv").exists()
    written = study.export_customers_csv(tmp_path)
    assert written == tmp_path / "customers.csv"
    table = pd.read_parquet(tmp_path / "customers.parquet")
    exported = pd.read_csv(written, dtype={"customer_id": "string"})
    assert list(exported.columns) == list(table.columns)
    assert exported["customer_id"].tolist() == table["customer_id"].tolist()
    assert exported["first_order"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    np.testing.assert_allclose(exported["revenue"], table["revenue"])
    assert study.export_customers_csv(tmp_path) is None  # up to date


def test_customer_table_written_in_slices_reads_back_the_same(tmp_path, monkeypatch):
    study.stage_inputs(tmp_path, data=None)
    table = study.feature_stage(tmp_path).customers
    table["cluster"] = pd.Categorical(np.arange(len(table)) % 3)
    monkeypatch.setattr(study_common, "WRITE_ROWS", 450)  # 5 slices of 2,000 customers
    study.write_parquet(table, tmp_path / "sliced.parquet")
    table.to_parquet(tmp_path / "whole.parquet", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sliced.parquet"),
                                  pd.read_parquet(tmp_path / "whole.parquet"))
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(("time_unit", "drop"), [("D", []), ("W", []),
                                              ("D", ["category", "channel", "store"])])
def test_customer_aggregates_by_bucket_equal_the_whole_log(tmp_path, time_unit, drop):
    from conftest import random_transactions

    from seglab import engine

    # Top-2 mixes: a category whose sales spread over the buckets must still be chosen.
    tx = random_transactions(90, seed=4).drop(columns=drop)  # no text: no mixes
    kwargs = {"as_of": "2024-05-31", "time_unit": time_unit, "window_days": 90,
              "category_top_n": 2, "channel_top_n": 1}
    whole = engine.customer_aggregates(tx, **kwargs)
    codes = tx["customer_id"].map(lambda c: sum(map(ord, str(c))) % 4)
    for bucket in range(4):
        (tmp_path / f"bucket={bucket}").mkdir()
        tx[codes == bucket].to_parquet(tmp_path / f"bucket={bucket}" / "part-0000.parquet",
                                       index=False)
    ours = buckets.customer_aggregates(buckets.Partition(tmp_path, 4, len(tx)), jobs=2,
                                       **kwargs)
    pd.testing.assert_frame_equal(ours, whole, check_exact=False, atol=1e-9, rtol=0)
    assert bool([c for c in whole if c.startswith("category_")]) != bool(drop)
    assert len(ours) > 80


def test_bucketed_features_see_the_engines_column_types(tmp_path):
    # A partition written by pandas holds nanosecond timestamps; the engine's view casts
    # them to TIMESTAMP. Run on the raw type, DuckDB 2.0.1 gave NaN repurchase rates for
    # customers whose first purchase falls in the analysis month (membership then
    # dropped them from Silver), where the engine gives 0.
    tx = pd.DataFrame({
        "customer_id": ["new", "new", "old", "old"],
        "order_date": pd.to_datetime(["2026-06-16 21:01:36", "2026-06-21 10:00:00",
                                      "2026-03-02 09:00:00", "2026-06-20 09:00:00"]
                                     ).astype("datetime64[ns]"),
        "amount": [10.0, 20.0, 5.0, 7.0],
        "order_id": ["a", "b", "c", "d"],
    })
    (tmp_path / "bucket=0").mkdir()
    tx.to_parquet(tmp_path / "bucket=0" / "part-0000.parquet", index=False)
    part = buckets.Partition(tmp_path, 1, len(tx))
    got = buckets.customer_aggregates(part, as_of="2026-06-30").set_index("customer_id")
    expected = engine.customer_aggregates(tmp_path / "bucket=0" / "part-0000.parquet",
                                          as_of="2026-06-30", threads=1)
    assert got["repurchase_rate"].to_dict() == {"new": 0.0, "old": 1 / 3}
    pd.testing.assert_frame_equal(got.reset_index(), expected, check_dtype=False)
