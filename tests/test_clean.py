"""Tests for seglab.clean: one per rule, reconciliation, no mutation, the UCI file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_RETAIL

from seglab.clean import (
    ABSENT,
    FLAGGED,
    NETTED,
    OFF,
    REMOVED,
    CleaningRules,
    clean_transactions,
    cleaning_metrics,
    reconcile,
)
from seglab.errors import ConfigError, InputError
from seglab.io import load_transactions

UCI = SHARED_RETAIL


def line(**overrides) -> dict:
    """One order line with sensible defaults."""
    row = {
        "customer_id": "100",
        "order_date": pd.Timestamp("2011-01-03 10:00"),
        "order_id": "500001",
        "product_id": "85123A",
        "product_name": "WHITE HANGING HEART",
        "quantity": 2.0,
        "unit_price": 2.5,
        "country": "United Kingdom",
    }
    row.update(overrides)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    """Canonical frame from lines; amount = quantity * unit_price."""
    tx = pd.DataFrame(list(rows))
    for col in ("customer_id", "order_id", "product_id", "product_name", "country"):
        tx[col] = tx[col].astype("string")
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    return tx.assign(amount=tx["quantity"] * tx["unit_price"])


def log_row(result, rule: str) -> pd.Series:
    return result.log.set_index("rule").loc[rule]


def assert_rule(result, rule, *, action, rows, revenue):
    row = log_row(result, rule)
    assert row["action"] == action
    assert row["rows"] == rows
    assert row["revenue"] == pytest.approx(revenue, abs=0.005)
    assert result.reconciles


# --- one test per rule -------------------------------------------------------------


def test_future_dates_removed_only_with_as_of():
    tx = frame(line(), line(order_date=pd.Timestamp("2011-12-11 09:00"), quantity=4.0),
               line(order_date=pd.Timestamp("2011-12-10 23:00")))
    result = clean_transactions(tx, as_of=pd.Timestamp("2011-12-10"))
    # The whole analysis day is kept; the next day is removed.
    assert_rule(result, "future_dates", action=REMOVED, rows=1, revenue=10.0)
    assert list(result.transactions.index) == [0, 2]
    no_as_of = clean_transactions(tx)
    assert log_row(no_as_of, "future_dates")["action"].startswith("not applicable")
    assert len(no_as_of.transactions) == 3


def test_missing_customer_set_aside_with_revenue():
    tx = frame(line(), line(customer_id=None, quantity=3.0), line(customer_id="  "))
    result = clean_transactions(tx)
    assert_rule(result, "missing_customer", action=REMOVED, rows=2, revenue=12.5)
    assert list(result.missing_customer.index) == [1, 2]
    assert list(result.transactions.index) == [0]


def test_exact_duplicates_keep_first():
    tx = frame(line(), line(), line(quantity=3.0), line())
    result = clean_transactions(tx)
    assert_rule(result, "exact_duplicates", action=REMOVED, rows=2, revenue=10.0)
    assert list(result.transactions.index) == [0, 2]


def test_adjustments_removed():
    tx = frame(line(), line(order_id="A563185", product_id="X", unit_price=11062.06, quantity=1.0))
    result = clean_transactions(tx)
    assert_rule(result, "adjustments", action=REMOVED, rows=1, revenue=11062.06)


def test_non_product_codes_removed():
    tx = frame(
        line(),
        line(product_id="POST", unit_price=18.0, quantity=1.0),
        line(product_id="m", unit_price=1.0, quantity=1.0),  # lower-case manual line
        line(product_id="gift_0001_20", unit_price=16.67, quantity=1.0),
        line(product_id="DCGSSGIRL", unit_price=3.0, quantity=1.0),  # a real product
    )
    result = clean_transactions(tx)
    assert_rule(result, "non_product_codes", action=REMOVED, rows=3, revenue=35.67)
    assert list(result.transactions.index) == [0, 4]


def test_negative_price_removed_free_line_kept_and_flagged():
    tx = frame(line(), line(unit_price=0.0, quantity=12540.0), line(unit_price=-1.0, quantity=1.0))
    result = clean_transactions(tx)
    assert_rule(result, "non_positive_price", action=REMOVED, rows=1, revenue=-1.0)
    assert_rule(result, "free_lines", action=FLAGGED, rows=1, revenue=0.0)
    assert not log_row(result, "free_lines")["in_reconciliation"]
    assert list(result.transactions.index) == [0, 1]
    assert result.transactions["is_free"].tolist() == [False, True]
    # a free line can carry several flags: this one is also an extreme quantity
    assert result.transactions["is_outlier"].tolist() == [False, True]
    assert "removed: free_lines" not in set(result.reconciliation()["item"])


def test_drop_free_lines_restores_the_old_rule():
    tx = frame(line(), line(unit_price=0.0, quantity=12540.0), line(unit_price=-1.0, quantity=1.0))
    result = clean_transactions(tx, rules=CleaningRules(drop_free_lines=True))
    assert_rule(result, "non_positive_price", action=REMOVED, rows=1, revenue=-1.0)
    assert_rule(result, "free_lines", action=REMOVED, rows=1, revenue=0.0)
    assert log_row(result, "extreme_outliers")["rows"] == 0  # removed before the test
    assert list(result.transactions.index) == [0]
    assert not result.transactions["is_free"].any()
    assert result.removed["removed_by"].tolist() == ["free_lines", "non_positive_price"]


def test_free_lines_flag_counts_only_lines_still_kept():
    # outlier_rule="drop" removes the extreme free line after free_lines has looked at it
    tx = frame(line(), line(unit_price=0.0, quantity=12540.0), line(unit_price=0.0))
    result = clean_transactions(tx, rules=CleaningRules(outlier_rule="drop"))
    assert_rule(result, "free_lines", action=FLAGGED, rows=1, revenue=0.0)
    assert_rule(result, "extreme_outliers", action=REMOVED, rows=1, revenue=0.0)
    assert result.transactions["is_free"].tolist() == [False, True]
    steps = result.log.set_index("rule")["step"]
    assert steps["non_positive_price"] < steps["free_lines"] < steps["extreme_outliers"]


def test_drop_non_positive_price_off_keeps_negative_prices_unflagged():
    tx = frame(line(), line(unit_price=0.0), line(unit_price=-1.0, quantity=1.0))
    result = clean_transactions(tx, rules=CleaningRules(drop_non_positive_price=False))
    assert log_row(result, "non_positive_price")["action"] == OFF
    assert result.transactions["is_free"].tolist() == [False, True, False]


def test_free_lines_without_unit_price_use_amount():
    tx = frame(line(), line(quantity=0.0), line(quantity=-2.0)).drop(columns="unit_price")
    result = clean_transactions(tx)
    assert log_row(result, "non_positive_price")["action"] == ABSENT  # needs unit_price
    assert_rule(result, "free_lines", action=FLAGGED, rows=1, revenue=0.0)
    assert result.transactions["is_free"].tolist() == [False, True, False]
    assert result.transactions["is_return"].tolist() == [False, False, True]
    dropped = clean_transactions(tx, rules=CleaningRules(drop_free_lines=True))
    assert_rule(dropped, "free_lines", action=REMOVED, rows=1, revenue=0.0)
    assert dropped.transactions["is_return"].tolist() == [False, True]


def test_returns_kept_and_netted():
    tx = frame(
        line(quantity=10.0),
        line(order_id="C500002", quantity=-4.0),
        line(order_id="500003", quantity=-1.0),  # negative line not on a C order
    )
    result = clean_transactions(tx)
    assert_rule(result, "returns", action=NETTED, rows=2, revenue=-12.5)
    assert result.transactions["is_return"].tolist() == [False, True, True]
    assert result.transactions["amount"].sum() == pytest.approx(12.5)
    assert not log_row(result, "returns")["in_reconciliation"]


@pytest.fixture
def mistaken_order() -> pd.DataFrame:
    return frame(
        line(),
        line(customer_id="16446", product_id="23843", quantity=80995.0, unit_price=2.08),
        line(
            customer_id="16446",
            product_id="23843",
            order_id="C581484",
            quantity=-80995.0,
            unit_price=2.08,
            order_date=pd.Timestamp("2011-01-03 10:12"),
        ),
    )


def test_extreme_order_and_its_cancellation_both_flagged(mistaken_order):
    result = clean_transactions(mistaken_order)
    assert_rule(result, "extreme_outliers", action=FLAGGED, rows=2, revenue=0.0)
    assert result.transactions["is_outlier"].tolist() == [False, True, True]
    assert len(result.transactions) == 3


def test_extreme_order_and_its_cancellation_both_dropped(mistaken_order):
    result = clean_transactions(mistaken_order, rules=CleaningRules(outlier_rule="drop"))
    assert_rule(result, "extreme_outliers", action=REMOVED, rows=2, revenue=0.0)
    assert list(result.transactions.index) == [0]
    assert set(result.removed["removed_by"]) == {"extreme_outliers"}


def test_cancellation_below_threshold_follows_its_extreme_order():
    tx = frame(
        line(quantity=10.0, unit_price=2000.0),
        line(order_id="C1", quantity=-10.0, unit_price=1000.0),  # amount under 15,000
        line(customer_id="200", order_id="C2", quantity=-10.0, unit_price=1000.0),
    )
    rules = CleaningRules(outlier_quantity=None, outlier_amount=15_000)
    result = clean_transactions(tx, rules=rules)
    assert result.transactions["is_outlier"].tolist() == [True, True, False]


def test_outlier_rule_none_is_logged_off(mistaken_order):
    result = clean_transactions(mistaken_order, rules=CleaningRules(outlier_rule="none"))
    assert log_row(result, "extreme_outliers")["action"] == OFF
    assert not result.transactions["is_outlier"].any()


def test_invalid_values_removed():
    tx = frame(line(), line(order_date=None), line(quantity=np.nan))
    result = clean_transactions(tx)
    assert_rule(result, "invalid_values", action=REMOVED, rows=2, revenue=5.0)


def test_text_whitespace_fixed_not_removed():
    tx = frame(line(product_name="MUG COSY "), line(product_name=" MUG COSY", quantity=3.0))
    result = clean_transactions(tx)
    assert_rule(result, "text_whitespace", action="fixed", rows=2, revenue=12.5)
    assert set(result.transactions["product_name"]) == {"MUG COSY"}
    assert not log_row(result, "text_whitespace")["in_reconciliation"]


def test_first_matching_rule_claims_the_line():
    # a duplicate line without customer id is claimed by missing_customer, not duplicates
    tx = frame(line(customer_id=None), line(customer_id=None), line(product_id="POST"))
    result = clean_transactions(tx)
    assert log_row(result, "missing_customer")["rows"] == 2
    assert log_row(result, "exact_duplicates")["rows"] == 0
    assert log_row(result, "non_product_codes")["rows"] == 1
    assert result.removed["removed_by"].tolist() == [
        "missing_customer",
        "missing_customer",
        "non_product_codes",
    ]


def test_disabled_rules_are_logged_off():
    tx = frame(line(), line(), line(customer_id=None))
    rules = CleaningRules(drop_missing_customer=False, drop_exact_duplicates=False)
    result = clean_transactions(tx, rules=rules)
    assert log_row(result, "missing_customer")["action"] == OFF
    assert log_row(result, "exact_duplicates")["action"] == OFF
    assert len(result.transactions) == 3
    assert result.missing_customer.empty


# --- reconciliation, mutation, optional columns ------------------------------------


def random_messy(seed: int, n: int = 400) -> pd.DataFrame:
    """A log with every kind of problem the rules handle, in random amounts."""
    rng = np.random.default_rng(seed)
    quantity = rng.integers(-5, 30, n).astype(float)
    quantity[rng.random(n) < 0.02] = 20_000.0
    tx = pd.DataFrame(
        {
            "customer_id": rng.choice(["1", "2", "3", "4", None], n),
            "order_date": pd.Timestamp("2011-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "order_id": rng.choice(["1001", "1002", "C1003", "A1004", "1005"], n),
            "product_id": rng.choice(["P1", "P2", "POST", "M", "gift_0001_10"], n),
            "product_name": rng.choice(["Mug ", "Cup", None], n),
            "quantity": quantity,
            "unit_price": np.round(rng.choice([-1.0, 0.0, 0.3333, 2.5, 17.99], n), 4),
            "country": rng.choice(["United Kingdom", "France"], n),
        }
    )
    tx = pd.concat([tx, tx.sample(n // 10, random_state=seed)], ignore_index=True)
    for col in ("customer_id", "order_id", "product_id", "product_name", "country"):
        tx[col] = tx[col].astype("string")
    return tx.assign(amount=tx["quantity"] * tx["unit_price"])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("outlier_rule", ["flag", "drop"])
@pytest.mark.parametrize("drop_free_lines", [False, True])
def test_reconciles_on_random_frames(seed, outlier_rule, drop_free_lines):
    tx = random_messy(seed)
    rules = CleaningRules(outlier_rule=outlier_rule, drop_free_lines=drop_free_lines)
    result = clean_transactions(tx, as_of=pd.Timestamp("2011-12-01"), rules=rules)
    free = log_row(result, "free_lines")
    assert free["rows"] > 0
    assert free["in_reconciliation"] == drop_free_lines
    kept_free = (result.transactions["unit_price"] == 0).sum()
    assert result.transactions["is_free"].sum() == kept_free
    assert kept_free == (0 if drop_free_lines else free["rows"])
    removals = result.log[result.log["in_reconciliation"]]
    assert len(tx) == len(result.transactions) + removals["rows"].sum()
    assert tx["amount"].sum() == pytest.approx(
        result.transactions["amount"].sum() + removals["revenue"].sum(), abs=0.005
    )
    assert len(result.removed) == removals["rows"].sum()
    assert result.reconciles
    table = result.reconciliation()
    assert table.iloc[-1]["rows"] == 0 and abs(table.iloc[-1]["revenue"]) < 0.005
    assert tx.index.equals(result.transactions.index.union(result.removed.index))


def test_reconcile_reports_a_mismatch():
    result = clean_transactions(random_messy(0))
    table = reconcile(
        result.log,
        rows_in=result.rows_in + 1,
        revenue_in=result.revenue_in + 0.01,
        rows_kept=result.rows_kept,
        revenue_kept=result.revenue_kept,
    )
    assert table.iloc[-1]["rows"] == 1
    assert table.iloc[-1]["revenue"] == pytest.approx(0.01)


def test_input_is_not_mutated():
    tx = random_messy(1)
    before = tx.copy()
    clean_transactions(tx, as_of=pd.Timestamp("2011-06-01"))
    pd.testing.assert_frame_equal(tx, before)


def test_optional_columns_absent():
    tx = random_messy(2).drop(columns=["order_id", "product_id", "unit_price", "quantity"])
    result = clean_transactions(tx)
    log = result.log.set_index("rule")["action"]
    assert log["adjustments"] == ABSENT
    assert log["non_product_codes"] == ABSENT
    assert log["extreme_outliers"] == ABSENT
    # Negative prices need unit_price; free lines fall back to amount == 0 (they were
    # removed under non_positive_price before free lines became purchases).
    assert log["non_positive_price"] == ABSENT
    assert log["free_lines"] == FLAGGED
    assert result.transactions["is_free"].sum() == log_row(result, "free_lines")["rows"] > 0
    assert result.reconciles
    assert result.transactions["is_return"].equals(result.transactions["amount"] < 0)


def test_amount_derived_when_absent():
    tx = frame(line(quantity=3.0)).drop(columns="amount")
    result = clean_transactions(tx)
    assert result.transactions["amount"].tolist() == [7.5]
    assert "amount" not in tx


def test_works_on_the_shared_synthetic_fixture(transactions):
    result = clean_transactions(transactions)
    assert result.reconciles
    kept = result.transactions
    assert kept["is_return"].sum() == (kept["quantity"] < 0).sum() > 0


def test_metrics_are_json_ready():
    result = clean_transactions(random_messy(3), as_of=pd.Timestamp("2011-12-01"))
    metrics = cleaning_metrics(result)
    assert json.loads(json.dumps(metrics)) == metrics
    assert metrics["reconciles"] is True
    assert metrics["rows_in"] == metrics["rows_kept"] + metrics["rows_removed"]
    assert set(metrics["rules"]) == set(result.log["rule"])
    assert metrics["as_of"] == "2011-12-01T00:00:00"


# --- errors ----------------------------------------------------------------------


def test_missing_required_column_raises():
    with pytest.raises(InputError, match=r"no column\(s\) \['customer_id'\]"):
        clean_transactions(frame(line()).drop(columns="customer_id"))


def test_no_amount_source_raises():
    with pytest.raises(InputError, match="no 'amount' column"):
        clean_transactions(frame(line()).drop(columns=["amount", "unit_price"]))


def test_text_dates_raise():
    tx = frame(line()).assign(order_date="2011-01-03")
    with pytest.raises(InputError, match=r"order_date.*pd\.to_datetime"):
        clean_transactions(tx)


def test_text_amounts_raise():
    tx = frame(line()).assign(amount="5.00")
    with pytest.raises(InputError, match=r"'amount' has dtype.*'5\.00'"):
        clean_transactions(tx)


def test_time_zone_mismatch_raises():
    with pytest.raises(InputError, match="time zone"):
        clean_transactions(frame(line()), as_of=pd.Timestamp("2011-12-01", tz="UTC"))


def test_bad_outlier_rule_raises():
    with pytest.raises(ConfigError, match="outlier_rule='remove'"):
        CleaningRules(outlier_rule="remove")


def test_string_instead_of_tuple_raises():
    with pytest.raises(ConfigError, match="non_product_codes='POST' should be a tuple"):
        CleaningRules(non_product_codes="POST")


def test_lists_from_a_params_file_become_tuples():
    assert CleaningRules(cancellation_prefixes=["C", "X"]).cancellation_prefixes == (
        "C",
        "X",
    )


def test_bad_threshold_and_pattern_raise():
    with pytest.raises(ConfigError, match="outlier_quantity=0"):
        CleaningRules(outlier_quantity=0)
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        CleaningRules(non_product_pattern="gift_(")


# --- the real UCI file -----------------------------------------------------------


@pytest.fixture(scope="module")
def uci() -> pd.DataFrame:
    if not UCI.exists():
        pytest.skip(f"shared UCI file not found at {UCI}")
    return load_transactions(UCI, columns="online_retail")


def test_uci_cleaning_reconciles_with_the_readme(uci):
    result = clean_transactions(uci)
    log = result.log.set_index("rule")
    # README totals
    assert result.rows_in == 541_909
    assert result.revenue_in == pytest.approx(9_747_747.93, abs=0.005)
    assert result.reconciles
    # 135,080 rows have no CustomerID (the first removal rule that can match them)
    assert log.loc["missing_customer", "rows"] == 135_080
    assert log.loc["missing_customer", "revenue"] == pytest.approx(1_447_682.12, abs=0.005)
    assert len(result.missing_customer) == 135_080
    # 5,268 exact duplicates: 43 lack a customer id, so missing_customer claims them
    assert log.loc["exact_duplicates", "rows"] == 5_225
    assert log.loc["exact_duplicates", "rows"] + result.missing_customer.duplicated().sum() == (
        5_268
    )
    # the three "A" bad-debt adjustments have no customer id: claimed before adjustments
    assert log.loc["adjustments", "rows"] == 0
    assert result.missing_customer["order_id"].str.startswith("A").sum() == 3
    # 113,452 descriptions had stray spaces
    assert log.loc["text_whitespace", "rows"] == 113_452
    # 2,517 rows have UnitPrice <= 0: the 33 free lines of known customers are kept
    # and flagged; the rest (no customer id, or a negative price) removed
    assert (result.removed["unit_price"] <= 0).sum() == 2_517 - 33
    assert log.loc["free_lines", "rows"] == result.transactions["is_free"].sum() == 33
    assert (result.transactions.loc[~result.transactions["is_free"], "unit_price"] > 0).all()
    # 9,288 "C" lines and 10,624 negative lines: each kept as a return or removed
    kept, removed = result.transactions, result.removed
    assert (
        kept["order_id"].str.startswith("C").sum() + removed["order_id"].str.startswith("C").sum()
        == 9_288
    )
    assert kept["is_return"].sum() + (removed["quantity"] < 0).sum() == 10_624
    assert kept["is_return"].sum() == log.loc["returns", "rows"]
    # the 80,995 and 74,215 mistaken orders and their cancellations: both flagged; so is
    # the free line of 12,540 units (kept as a purchase now, removed before)
    flagged = kept[kept["is_outlier"]]
    assert sorted(flagged.loc[~flagged["is_free"], "quantity"]) == [
        -80_995, -74_215, 74_215, 80_995]
    assert flagged.loc[flagged["is_free"], "quantity"].tolist() == [12_540]
    assert flagged["amount"].sum() == pytest.approx(0.0, abs=0.005)
    # no non-product code survives
    assert not kept["product_id"].str.upper().isin(["POST", "DOT", "M", "AMAZONFEE"]).any()
    metrics = cleaning_metrics(result)
    assert metrics["rows_kept"] == 399_656 + 33
    assert metrics["revenue_kept"] == pytest.approx(8_265_476.93, abs=0.005)
    assert result.transactions["customer_id"].nunique() == 4_363


def test_uci_free_lines_keep_a_customer_the_old_rule_dropped(uci):
    new = clean_transactions(uci).transactions
    old = clean_transactions(uci, rules=CleaningRules(drop_free_lines=True))
    assert old.reconciles
    assert cleaning_metrics(old)["rows_kept"] == 399_656  # the numbers before the change
    assert len(new) - old.rows_kept == 33
    free_customers = set(new.loc[new["is_free"], "customer_id"])
    assert len(free_customers) == 24
    lost = set(new["customer_id"]) - set(old.transactions["customer_id"])
    assert len(lost) == 1 and lost <= free_customers
