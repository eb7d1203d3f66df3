"""The customer table on Spark (PySpark local mode) equals DuckDB's, feature by feature.

One SparkSession for the module (starting one costs ~10 s). It is the user's session
as seglab finds it: on purpose not in UTC, to show that seglab's own settings keep
timestamps from shifting and leave the user's session as it was.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from conftest import SHARED_RETAIL, dirty_log

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'seglab[spark]'")
pytest.importorskip("sqlglot", reason="sqlglot is not installed: pip install 'seglab[spark]'")

from seglab import clean, engine, features, io, spark_job, synth
from seglab import spark as seglab_spark
from seglab.analysis_date import default_as_of
from seglab.errors import InputError

USER_TIME_ZONE = "America/New_York"  # DST gaps: naive times would shift or fail
#: The JVM of short test jobs: compiled by the quick compiler only, one garbage collector
#: thread (about half the CPU time of the defaults here; the results do not depend on it).
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
        session = (SparkSession.builder.master("local[2]").appName("seglab-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "2")
                   # Re-planning at run time pays on big data, not on these small jobs:
                   # off, the module takes a tenth less CPU (the results are the same).
                   .config("spark.sql.adaptive.enabled", "false")
                   .config("spark.sql.session.timeZone", USER_TIME_ZONE)
                   .config("spark.driver.extraJavaOptions", JAVA_OPTIONS)
                   .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def assert_same(on_spark: pd.DataFrame, on_duckdb: pd.DataFrame) -> None:
    """Same rows and columns; numbers to 1e-9, text, integers and dates exactly."""
    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert len(on_duckdb) > 0
    floats = [c for c in on_duckdb if pd.api.types.is_float_dtype(on_duckdb[c])]
    pd.testing.assert_frame_equal(on_spark.drop(columns=floats),
                                  on_duckdb.drop(columns=floats), check_exact=True)
    pd.testing.assert_frame_equal(on_spark[floats], on_duckdb[floats], check_exact=False,
                                  rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    """The cleaned Online Retail log as a lake folder: Parquet partitioned by month."""
    if not SHARED_RETAIL.exists():
        pytest.skip("shared Online Retail data absent")
    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(raw)
    kept = clean.clean_transactions(raw, as_of=as_of).transactions
    folder = tmp_path_factory.mktemp("lake") / "orders"
    # pandas writes nanosecond timestamps, which Spark reads only through seglab's fix.
    kept.assign(month=kept["order_date"].dt.strftime("%Y-%m")).to_parquet(
        folder, partition_cols=["month"], index=False)
    return folder, as_of


@pytest.fixture(scope="module")
def study():
    transactions = synth.make_study(500, seed=5).transactions
    return transactions, default_as_of(transactions)


# Both time units and both dates on each log (a dynamics snapshot is the same query at an
# earlier as_of); each Spark run costs seconds, so each log gets two of the four pairs.
@pytest.mark.parametrize(("time_unit", "days_back"), [("D", 0), ("W", 160)])
def test_online_retail_same_on_spark(spark, retail, time_unit, days_back):
    folder, as_of = retail
    kwargs = {"as_of": as_of - pd.Timedelta(days=days_back), "time_unit": time_unit}
    ours = engine.customer_aggregates(folder, engine="spark", **kwargs)
    assert_same(ours, engine.customer_aggregates(folder, **kwargs))
    assert len(ours) > 2500 and ours["country"].notna().any()
    assert ours["last_order"].max() < kwargs["as_of"] + pd.Timedelta(days=1)


@pytest.mark.parametrize(("time_unit", "days_back"), [("W", 0), ("D", 120)])
def test_synthetic_same_on_spark(spark, study, time_unit, days_back):
    transactions, as_of = study
    kwargs = {"as_of": as_of - pd.Timedelta(days=days_back), "time_unit": time_unit,
              "category_top_n": 3, "channel_top_n": 2}
    ours = engine.customer_aggregates(transactions, engine="spark", **kwargs)
    assert_same(ours, engine.customer_aggregates(transactions, **kwargs))
    assert "category_share_other" in ours and ours["discount_share"].gt(0).any()
    assert spark.conf.get("spark.sql.session.timeZone") == USER_TIME_ZONE
    assert seglab_spark.spark_session() is spark  # the active session, not a new one


def test_rfm_table_same_on_spark(spark, study):
    transactions, as_of = study
    ours = engine.rfm_table(transactions, as_of=as_of, time_unit="W", engine="spark")
    assert_same(ours, engine.rfm_table(transactions, as_of=as_of, time_unit="W"))
    assert ours["frequency"].gt(0).any()


def test_sql_cleaning_same_on_spark(spark, study):
    transactions, as_of = study
    biggest = transactions["amount"].abs().max()
    raw = dirty_log(transactions, as_of, extreme_amount=20 * biggest, seed=1)
    rules = clean.CleaningRules(outlier_rule="drop", outlier_amount=10 * biggest)
    ours = engine.customer_aggregates(raw, as_of=as_of, clean=rules, engine="spark")
    assert_same(ours, engine.customer_aggregates(raw, as_of=as_of, clean=rules))
    # Only rules the SQL covers fire on this log: pandas' cleaning gives the same table.
    kept = clean.clean_transactions(raw, as_of=as_of, rules=rules).transactions
    assert_same(ours, features.customer_features(kept, as_of=as_of))


def test_raw_online_retail_cleaned_on_spark(spark, tmp_path):
    """A raw CSV extract, mapped, cleaned and aggregated in SQL: no pandas involved."""
    if not SHARED_RETAIL.exists():
        pytest.skip("shared Online Retail data absent")
    extract = tmp_path / "extract.csv"
    pd.read_csv(SHARED_RETAIL, nrows=60_000, dtype=str).to_csv(extract, index=False)
    kwargs = {"columns": "online_retail", "clean": True}
    ours = engine.customer_aggregates(extract, engine="spark", **kwargs)
    assert_same(ours, engine.customer_aggregates(extract, **kwargs))
    raw = io.load_transactions(extract, columns="online_retail")
    kept = clean.clean_transactions(raw, as_of=default_as_of(raw)).transactions
    assert_same(ours, engine.customer_aggregates(kept, as_of=default_as_of(raw)))


def test_spark_job_writes_the_customer_table(spark, study, tmp_path, capsys):
    transactions, as_of = study
    data = tmp_path / "orders.parquet"
    transactions.to_parquet(data, index=False)
    output = (tmp_path / "out" / "customers").as_uri()  # a URI: Spark writes a folder
    code = spark_job.main(["--data", str(data), "--output", output, "--as-of", str(as_of.date()),
                           "--clean", "none"])
    assert code == 0 and capsys.readouterr().out.strip() == output
    written = pd.read_parquet(tmp_path / "out" / "customers").sort_values("customer_id")
    expected = engine.customer_aggregates(transactions, as_of=as_of)
    assert written["customer_id"].tolist() == expected["customer_id"].tolist()
    assert {"rfm_segment", "value_tier"} <= set(written.columns)
    assert spark_job.main(["--data", str(tmp_path / "none.parquet"), "--output", output]) == 2
    assert "none.parquet" in capsys.readouterr().err


def test_spark_errors_name_the_file(spark, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,order_date,amount\n1,12/31/2023 10:00,5\n2,yesterday,3\n")
    with pytest.raises(InputError, match="Dates must be ISO"):
        engine.customer_aggregates(bad, engine="spark")
    with pytest.raises(InputError, match="Spark cannot read it"):
        engine.rfm_table((tmp_path / "lake").as_uri(), engine="spark")
    assert "MIN_BY" in engine.feature_sql(bad, as_of="2024-01-01", level="rfm", engine="spark")
