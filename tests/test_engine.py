from __future__ import annotations

import pandas as pd
import pytest
from conftest import SHARED_RETAIL, dirty_log, random_transactions
from typer.testing import CliRunner

from seglab import clean, engine, io, synth
from seglab.analysis_date import default_as_of
from seglab.cli import app
from seglab.errors import ConfigError, InputError
from seglab.features import customer_features

RFM_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "orders",
               "revenue", "sales", "first_order", "last_order", "days_since_last_order",
               "tenure_days", "avg_order_value"]


def assert_same(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(ours.columns) == list(reference.columns)
    pd.testing.assert_frame_equal(ours, reference, check_exact=False, atol=1e-9, rtol=0)


@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
@pytest.mark.parametrize("seed", [0, 3])
def test_duckdb_equals_pandas(time_unit, seed):
    tx = random_transactions(70, seed=seed)
    kwargs = {"as_of": "2024-05-31", "time_unit": time_unit, "window_days": 90,
              "category_top_n": 2, "channel_top_n": 2}
    assert_same(engine.customer_aggregates(tx, **kwargs), customer_features(tx, **kwargs))


def test_duckdb_equals_pandas_without_order_ids():
    tx = random_transactions(60, seed=5).drop(columns=["order_id", "category", "channel"])
    assert_same(engine.customer_aggregates(tx), customer_features(tx))


def test_duckdb_equals_pandas_on_awkward_orders():
    tx = random_transactions(40, seed=2)
    tx["order_id"] = tx["order_id"].mask(tx.index % 7 == 0)  # some lines without an id
    span = tx["order_id"] == tx["order_id"].dropna().iloc[0]  # one order over two days
    tx.loc[span.fillna(False) & (tx.index % 2 == 1), "order_date"] += pd.Timedelta(days=1)
    tx.loc[3, "category"] = pd.NA
    assert_same(engine.customer_aggregates(tx, category_top_n=1),
                customer_features(tx, category_top_n=1))


def test_numeric_customer_ids_sort_as_text_in_both_paths():
    tx = random_transactions(30, seed=9)
    tx["customer_id"] = tx["customer_id"].astype(int) * 7  # 0, 7, ..., 203
    ours, reference = engine.customer_aggregates(tx), customer_features(tx)
    assert_same(ours, reference)
    assert ours["customer_id"].iloc[:3].tolist() == ["0", "105", "112"]


def test_duckdb_equals_pandas_on_the_synthetic_study():
    study = synth.make_study(400, seed=3)
    assert_same(engine.customer_aggregates(study.transactions, customers=study.customers),
                customer_features(study.transactions, customers=study.customers))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_files_read_straight_from_disk(tmp_path, suffix):
    tx = random_transactions(50, seed=4)
    path = tmp_path / f"tx{suffix}"
    if suffix == ".csv":
        tx.to_csv(path, index=False)
    else:
        tx.to_parquet(path, index=False)
    assert_same(engine.customer_aggregates(path), engine.customer_aggregates(tx))


def test_column_mapping_and_derived_amount(tmp_path):
    tx = random_transactions(30, seed=6)
    raw = tx.drop(columns="amount").rename(columns={
        "customer_id": "Client", "order_date": "When", "quantity": "Qty",
        "unit_price": "Price"})
    path = tmp_path / "raw.parquet"
    raw.to_parquet(path, index=False)
    mapping = "customer_id=Client,order_date=When,quantity=Qty,unit_price=Price"
    ours = engine.customer_aggregates(path, columns=mapping)
    assert_same(ours, customer_features(tx.assign(amount=tx["quantity"] * tx["unit_price"])))


def test_rfm_table_is_the_rfm_part_of_the_full_table():
    tx = random_transactions(50, seed=8)
    full = engine.customer_aggregates(tx, time_unit="W")
    assert_same(engine.rfm_table(tx, time_unit="W"), full[RFM_COLUMNS])
    bare = tx.drop(columns="order_id")
    assert_same(engine.rfm_table(bare), engine.customer_aggregates(bare)[RFM_COLUMNS])


def test_sql_reads_one_relation_and_is_plain():
    sql = engine.feature_sql(random_transactions(10))
    assert "FROM transactions" in sql
    assert "read_parquet" not in sql and "QUALIFY" not in sql and "::" not in sql
    sqlglot = pytest.importorskip("sqlglot")
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "MIN_BY" in spark


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="no column 'customer_id'"):
        engine.customer_aggregates(random_transactions(5).drop(columns="customer_id"))
    with pytest.raises(InputError, match="no column 'amount'"):
        engine.customer_aggregates(
            random_transactions(5).drop(columns=["amount", "unit_price"]))
    with pytest.raises(InputError, match="file not found"):
        engine.customer_aggregates(tmp_path / "nope.parquet")
    with pytest.raises(InputError, match=r"cannot aggregate a \.xlsx file"):
        engine.customer_aggregates(tmp_path / "orders.xlsx")
    with pytest.raises(ConfigError, match="time_unit='Y'"):
        engine.customer_aggregates(random_transactions(5), time_unit="Y")
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,order_date,amount\n1,12/31/2023 10:00,5\n2,yesterday,3\n")
    with pytest.raises(InputError, match="Dates must be ISO"):
        engine.customer_aggregates(bad)


def test_folders_and_globs_read_like_files(tmp_path):
    tx = random_transactions(40, seed=11)
    folder = tmp_path / "lake"
    tx.assign(month=tx["order_date"].dt.strftime("%Y-%m")).to_parquet(
        folder, partition_cols=["month"], index=False)  # month=2023-01/...parquet
    reference = engine.customer_aggregates(tx)
    assert_same(engine.customer_aggregates(folder), reference)
    assert_same(engine.customer_aggregates(f"{folder}/month=*/*.parquet"), reference)
    with pytest.raises(InputError, match="DuckDB cannot read it"):
        engine.customer_aggregates(tmp_path / "empty*.parquet")


def test_engine_is_checked_and_spark_is_optional(monkeypatch):
    tx = random_transactions(5)
    with pytest.raises(ConfigError, match="engine='polars' is not supported"):
        engine.customer_aggregates(tx, engine="polars")
    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'seglab\[spark\]'"):
        engine.rfm_table(tx, engine="spark")


# --- cleaning in SQL -------------------------------------------------------------------


@pytest.mark.parametrize(("outlier_rule", "drop_free_lines"),
                         [("flag", False), ("drop", False), ("flag", True)])
def test_sql_cleaning_equals_pandas_cleaning(outlier_rule, drop_free_lines):
    study = synth.make_study(200, seed=4)
    as_of = default_as_of(study.transactions)
    biggest = study.transactions["amount"].abs().max()
    raw = dirty_log(study.transactions, as_of, extreme_amount=20 * biggest)
    rules = clean.CleaningRules(outlier_rule=outlier_rule, outlier_amount=10 * biggest,
                                drop_free_lines=drop_free_lines)
    kept = clean.clean_transactions(raw, as_of=as_of, rules=rules).transactions
    # free lines (dirty_log's, unit price 0) are kept by default, removed when asked
    assert (kept["unit_price"] == 0).sum() == kept["is_free"].sum()
    assert bool(kept["is_free"].any()) != drop_free_lines
    ours = engine.customer_aggregates(raw, as_of=as_of, clean=rules)
    assert_same(ours, customer_features(kept, as_of=as_of))
    # The dirt matters: without cleaning the numbers differ.
    assert not ours.equals(engine.customer_aggregates(raw.dropna(subset="customer_id"),
                                                      as_of=as_of))


def free_log() -> pd.DataFrame:
    """A small log with free lines: a customer who only got something free, one whose
    first purchase was free, one with a free line in a paid order, and a return."""
    rows = [
        ("free_only", "2024-01-05 10:00", "1", 2.0, 0.0),
        ("free_only", "2024-02-05 10:00", "2", 1.0, 0.0),
        ("free_first", "2023-09-01 10:00", "3", 1.0, 0.0),
        ("free_first", "2024-03-01 10:00", "4", 2.0, 5.0),
        ("free_first", "2024-04-10 10:00", "5", 1.0, 7.5),
        ("mixed", "2024-02-01 10:00", "6", 3.0, 4.0),
        ("mixed", "2024-02-01 10:00", "6", 1.0, 0.0),
        ("mixed", "2024-03-15 10:00", "C7", -1.0, 4.0),
        ("mixed", "2024-03-20 10:00", "8", -1.0, -2.0),  # a negative price: removed
    ]
    tx = pd.DataFrame(rows, columns=["customer_id", "order_date", "order_id", "quantity",
                                     "unit_price"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    for column in ("customer_id", "order_id"):
        tx[column] = tx[column].astype("string")
    return tx.assign(amount=tx["quantity"] * tx["unit_price"], product_id="P1")


@pytest.mark.parametrize("drop_free_lines", [False, True])
@pytest.mark.parametrize("amount_only", [False, True])
def test_sql_cleaning_equals_pandas_with_free_lines(drop_free_lines, amount_only):
    raw = free_log()
    if amount_only:  # no unit_price: free lines are amounts of 0 that are not returns
        raw = raw.drop(columns="unit_price")
    as_of = pd.Timestamp("2024-04-30")
    rules = clean.CleaningRules(drop_free_lines=drop_free_lines)
    kept = clean.clean_transactions(raw, as_of=as_of, rules=rules).transactions
    ours = engine.customer_aggregates(raw, as_of=as_of, clean=rules)
    assert_same(ours, customer_features(kept, as_of=as_of))
    customers = set(ours["customer_id"])
    assert ("free_only" in customers) is not drop_free_lines
    first = ours.set_index("customer_id").loc["free_first"]
    # T counts from the free first purchase (2023-09-01), or from the first paid one
    assert first["T"] == (60.0 if drop_free_lines else 242.0)


@pytest.mark.skipif(not SHARED_RETAIL.exists(), reason="shared Online Retail data absent")
def test_sql_cleaning_equals_pandas_on_online_retail():
    # Every rule that fires on this log (missing customers, duplicates, non-product codes,
    # padded text; its 33 free lines are kept by both) is one the SQL covers, so the
    # tables are equal.
    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(raw)
    kept = clean.clean_transactions(raw, as_of=as_of).transactions
    ours = engine.customer_aggregates(SHARED_RETAIL, columns="online_retail", clean=True)
    assert_same(ours, engine.customer_aggregates(kept, as_of=as_of))
    assert len(ours) == kept["customer_id"].nunique() > 4000


def test_cleaning_sql_says_what_it_removes():
    sql = engine.cleaning_sql(["amount", "customer_id", "order_date", "product_id"],
                              clean.CleaningRules(drop_exact_duplicates=False,
                                                  non_product_pattern=None))
    assert "DISTINCT" not in sql and "regexp" not in sql and "'POST'" in sql
    # free lines are purchases: kept unless drop_free_lines (without unit_price: amount 0)
    assert "unit_price" not in sql and "amount = 0" not in sql
    old = engine.cleaning_sql(["amount", "customer_id", "order_date", "product_id"],
                              clean.CleaningRules(drop_free_lines=True))
    assert "amount = 0" in old
    priced = ["amount", "customer_id", "order_date", "unit_price"]
    assert "unit_price < 0" in engine.cleaning_sql(priced)
    assert "unit_price = 0" not in engine.cleaning_sql(priced)
    assert "unit_price = 0" in engine.cleaning_sql(priced,
                                                   clean.CleaningRules(drop_free_lines=True))
    with pytest.raises(ConfigError, match="clean='yes'"):
        engine.customer_aggregates(random_transactions(5), clean="yes")


# --- the command -----------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nightly")
    study = synth.make_study(300, seed=2)
    path = folder / "orders.csv"
    study.transactions.to_csv(path, index=False)
    return path, study


def test_features_command_writes_the_customer_table(raw_file, tmp_path):
    path, _ = raw_file
    out = tmp_path / "scores" / "customers.parquet"
    result = runner.invoke(app, ["features", "--data", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    table = pd.read_parquet(out)
    assert table["customer_id"].is_unique and table.columns[0] == "customer_id"
    for column in ("frequency", "monetary_value", "rfm_segment", "value_tier",
                   "lifecycle_stage", "value_growth_quadrant"):
        assert table[column].notna().all(), column
    # Same intake and cleaning as a run: the clean log's customers, the clean revenue.
    from seglab import clean, io

    clean_tx = clean.clean_transactions(io.load_transactions(path)).transactions
    assert len(table) == clean_tx["customer_id"].nunique()
    assert table["revenue"].sum() == pytest.approx(clean_tx["amount"].sum())


def test_features_command_fast_path_and_csv(raw_file, tmp_path):
    path, _ = raw_file
    clean_file = tmp_path / "clean.parquet"
    from seglab import clean, io

    as_of = "2026-07-01"
    kept = clean.clean_transactions(io.load_transactions(path),
                                    as_of=pd.Timestamp(as_of)).transactions
    kept.to_parquet(clean_file, index=False)
    slow, fast = tmp_path / "slow.csv", tmp_path / "fast.csv"
    for args, out in (([], slow), (["--no-clean"], fast)):
        result = runner.invoke(app, ["features", "--data", str(clean_file), "--as-of",
                                     as_of, "-o", str(out), *args])
        assert result.exit_code == 0, result.output
    read = {"dtype": {"customer_id": str}}
    pd.testing.assert_frame_equal(pd.read_csv(fast, **read), pd.read_csv(slow, **read))


def test_features_command_errors_are_one_line(raw_file, tmp_path):
    path, _ = raw_file
    result = runner.invoke(app, ["features", "--data", str(path), "-o",
                                 str(tmp_path / "c.xlsx")])
    assert result.exit_code == 2
    assert "name the output .parquet or .csv" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "none.csv"), "-o",
                                 str(tmp_path / "c.csv")])
    assert result.exit_code == 2 and "none.csv" in result.output
    params = tmp_path / "p.yaml"
    params.write_text("segment_rules: {new_dayz: 3}\nk_max: 4\n")
    result = runner.invoke(app, ["features", "--data", str(path), "--params", str(params),
                                 "-o", str(tmp_path / "c.csv")])
    assert result.exit_code == 2 and "new_dayz" in result.output

