"""Tests for seglab.profile on small hand-built logs and the UCI file."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_RETAIL

from seglab import profile
from seglab.clean import CleaningRules, clean_transactions
from seglab.errors import ConfigError, InputError
from seglab.io import load_transactions

UCI = SHARED_RETAIL


def make_tx(rows: list[tuple]) -> pd.DataFrame:
    """(customer, date, order, product, quantity, price, country) -> canonical frame."""
    tx = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "order_date",
            "order_id",
            "product_id",
            "quantity",
            "unit_price",
            "country",
        ],
    )
    for col in ("customer_id", "order_id", "product_id", "country"):
        tx[col] = tx[col].astype("string")
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    tx["quantity"] = tx["quantity"].astype(float)
    tx["unit_price"] = tx["unit_price"].astype(float)
    tx["product_name"] = ("Item " + tx["product_id"]).astype("string")
    return tx.assign(amount=tx["quantity"] * tx["unit_price"])


@pytest.fixture
def tx() -> pd.DataFrame:
    """Four customers over January and February 2024, with a gap on 2024-01-03."""
    return make_tx(
        [
            ("a", "2024-01-01 10:00", "1", "P1", 2, 10.0, "UK"),
            ("a", "2024-01-01 10:00", "1", "P2", 1, 5.0, "UK"),
            ("b", "2024-01-02 11:00", "2", "P1", 1, 10.0, "UK"),
            (None, "2024-01-02 12:00", "3", "P3", 4, 2.5, "UK"),
            ("b", "2024-01-04 09:00", "C4", "P1", -1, 10.0, "UK"),
            ("c", "2024-02-10 09:00", "5", "P2", 100, 5.0, "France"),
            ("c", "2024-02-10 09:00", "5", "P1", 1, 10.0, "UK"),
            ("d", "2024-02-29 09:00", "6", "P3", 1, 2.5, "UK"),
        ]
    )


def metrics(table: pd.DataFrame) -> pd.Series:
    return table.set_index("metric")["value"]


def test_overview(tx):
    ov = metrics(profile.overview(tx))
    assert ov["Period start"] == pd.Timestamp("2024-01-01 10:00")
    assert ov["Days covered"] == 60
    assert ov["Days with orders"] == 5
    assert ov["Lines"] == 8
    assert ov["Orders"] == 6
    assert ov["Customers"] == 4
    assert ov["Products"] == 3
    assert ov["Countries"] == 2
    assert ov["Lines without customer id"] == 1
    assert ov["Revenue (net of returns)"] == pytest.approx(547.5)
    assert ov["Returns (revenue)"] == pytest.approx(-10.0)
    assert ov["Share of lines that are returns"] == pytest.approx(1 / 8)
    assert "Categories" not in ov.index


def test_overview_uses_is_return_of_a_cleaned_table(tx):
    cleaned = clean_transactions(tx).transactions
    ov = metrics(profile.overview(cleaned))
    assert ov["Returns (revenue)"] == pytest.approx(-10.0)
    assert ov["Lines without customer id"] == 0


def test_missing_values_counts_every_column(tx):
    tx = tx.assign(product_name=tx["product_name"].mask(tx.index == 0, "  "))
    table = profile.missing_values(tx).set_index("column")
    assert list(table.index) == list(tx.columns)
    assert table.loc["customer_id", "missing"] == 1
    assert table.loc["product_name", "missing"] == 1  # blank text counts as missing
    assert table.loc["amount", "missing_share"] == 0.0
    assert table.loc["customer_id", "missing_share"] == pytest.approx(1 / 8)


def test_volume_by_day_shows_gaps(tx):
    daily = profile.volume_by_period(tx, "D").set_index("period")
    assert len(daily) == 60
    assert daily.loc["2024-01-03", "lines"] == 0
    assert daily.loc["2024-01-03", "revenue"] == 0
    assert daily.loc["2024-01-01"].to_dict() == {
        "lines": 2,
        "orders": 1,
        "customers": 1,
        "revenue": 25.0,
    }
    assert daily["revenue"].sum() == pytest.approx(tx["amount"].sum())


def test_volume_by_month(tx):
    monthly = profile.volume_by_period(tx, "MS")
    assert monthly["period"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert monthly["customers"].tolist() == [2, 2]
    assert monthly["orders"].tolist() == [4, 2]


def test_volume_bad_freq_raises(tx):
    with pytest.raises(ConfigError, match="freq='fortnight'"):
        profile.volume_by_period(tx, "fortnight")


def test_new_customers_by_month(tx):
    table = profile.new_customers_by_month(tx).set_index("period")
    assert table["new_customers"].tolist() == [2, 2]
    assert table["active_customers"].tolist() == [2, 2]
    assert table["cumulative_customers"].tolist() == [2, 4]
    later = make_tx([("a", "2024-01-05", "9", "P1", 1, 1.0, "UK")])
    both = profile.new_customers_by_month(
        pd.concat([tx, later.assign(order_date=pd.Timestamp("2024-04-02"))])
    )
    assert both["new_customers"].tolist() == [2, 2, 0, 0]
    assert both["returning_customers"].tolist() == [0, 0, 0, 1]


def test_top_items(tx):
    top = profile.top_items(tx, by="product_id", n=2)
    assert top["product_id"].tolist() == ["P2", "P1"]
    assert top.loc[0, "revenue"] == pytest.approx(505.0)
    assert top.loc[1, "lines"] == 4
    assert top.loc[1, "customers"] == 3
    assert top["share"].tolist() == pytest.approx([505 / 547.5, 30 / 547.5])


def test_top_items_missing_group_is_labelled(tx):
    top = profile.top_items(tx, by="customer_id", n=10)
    assert "(missing)" in set(top["customer_id"])
    assert "customers" not in top


def test_top_items_errors(tx):
    with pytest.raises(ConfigError, match="n=0"):
        profile.top_items(tx, n=0)
    with pytest.raises(InputError, match=r"\['category'\]"):
        profile.top_items(tx, by="category")


def test_revenue_concentration():
    rows = [
        (str(i), "2024-01-01", str(i), "P", 1, float(v), "UK") for i, v in enumerate(range(1, 11))
    ]
    table = profile.revenue_concentration(make_tx(rows), shares=(0.1, 0.2, 1.0))
    assert table["customers"].tolist() == [1, 2, 10]
    assert table["revenue"].tolist() == [10.0, 19.0, 55.0]
    assert table["revenue_share"].tolist() == pytest.approx([10 / 55, 19 / 55, 1.0])


def test_revenue_concentration_nets_returns_and_skips_unknown(tx):
    table = profile.revenue_concentration(tx, shares=(0.25,))
    # c: 510, a: 25, b: 10 - 10 = 0, d: 2.5; no-customer line left out
    assert table.loc[0, "revenue"] == pytest.approx(510.0)
    assert table.loc[0, "revenue_share"] == pytest.approx(510 / 537.5)


def test_revenue_concentration_bad_share_raises(tx):
    with pytest.raises(ConfigError, match=r"should all be in \(0, 1\]"):
        profile.revenue_concentration(tx, shares=(0.1, 20))


def test_order_values(tx):
    values = profile.order_values(tx)
    assert values.name == "order_value"
    assert values.to_dict() == {"1": 25.0, "2": 10.0, "3": 10.0, "C4": -10.0, "5": 510.0, "6": 2.5}


def test_main_item_column(tx):
    assert profile.main_item_column(tx) == "product_name"
    assert profile.main_item_column(tx.assign(category=pd.NA)) == "product_name"
    assert profile.main_item_column(tx.assign(category="Home")) == "category"
    with pytest.raises(InputError, match="no item column"):
        profile.main_item_column(tx.drop(columns=["product_name", "product_id"]))


def test_distribution_summary(tx):
    table = profile.distribution_summary(tx).set_index("variable")
    assert list(table.index) == ["quantity", "unit_price", "amount", "order_value"]
    assert table.loc["quantity", "max"] == 100
    assert table.loc["quantity", "share_negative"] == pytest.approx(1 / 8)
    assert table.loc["order_value", "count"] == 6
    assert table.loc["order_value", "max"] == pytest.approx(510.0)
    assert table.loc["amount", "median"] == pytest.approx(tx["amount"].median())


def test_price_statistics_leave_free_lines_out(tx):
    free = make_tx(
        [
            ("a", "2024-02-12 09:00", "7", "P9", 3, 0.0, "UK"),  # a free line in a paid order
            ("a", "2024-02-12 09:00", "7", "P1", 1, 10.0, "UK"),
            ("e", "2024-02-13 09:00", "8", "P2", 1, 0.0, "UK"),  # an order of free lines only
        ]
    )
    cleaned = clean_transactions(pd.concat([tx, free], ignore_index=True)).transactions
    assert cleaned["is_free"].sum() == 2
    paid = cleaned[~cleaned["is_free"]]
    table = profile.distribution_summary(cleaned).set_index("variable")
    assert table.loc["unit_price", "count"] == len(paid)
    assert table.loc["unit_price", "min"] > 0 and table.loc["unit_price", "share_zero"] == 0
    assert table.loc["unit_price", "mean"] == pytest.approx(paid["unit_price"].mean())
    assert table.loc["amount", "count"] == len(paid)
    assert table.loc["quantity", "count"] == len(cleaned)  # quantities count every line
    values = profile.order_values(cleaned)
    assert "8" not in values.index and values["7"] == pytest.approx(10.0)
    assert table.loc["order_value", "count"] == len(values) == cleaned["order_id"].nunique() - 1
    # a raw table has no is_free column: every line is described
    raw = profile.distribution_summary(cleaned.drop(columns="is_free")).set_index("variable")
    assert raw.loc["unit_price", "count"] == len(cleaned)
    assert raw.loc["unit_price", "share_zero"] > 0


def test_quality_alerts_say_free_lines_were_kept(tx):
    free = make_tx([("a", "2024-02-12 09:00", "7", "P9", 3, 0.0, "UK")])
    result = clean_transactions(pd.concat([tx, free], ignore_index=True))
    text = "\n".join(profile.quality_alerts(result.transactions, result.log))
    assert "Cleaning kept 1 free line (a price of zero) as purchases" in text
    dropped = clean_transactions(pd.concat([tx, free], ignore_index=True),
                                 rules=CleaningRules(drop_free_lines=True))
    text = "\n".join(profile.quality_alerts(dropped.transactions, dropped.log))
    assert "Cleaning kept" not in text and "free lines 1 (0.00)" in text


def test_distribution_summary_unknown_column_raises(tx):
    with pytest.raises(InputError, match="discount"):
        profile.distribution_summary(tx, columns=("discount",))


def test_quality_alerts_are_computed(tx):
    big = make_tx(
        [
            ("e", "2024-02-12 09:00", "7", "P9", 80995, 2.08, "UK"),
            ("e", "2024-02-12 09:12", "C8", "P9", -80995, 2.08, "UK"),
            ("a", "2024-02-13 09:00", "9", "P1", 1, 10.0, "France"),
            ("f", "2024-02-13 09:00", "10", "POST", 1, 18.0, "Unspecified"),
            ("f", "2024-02-13 09:00", "10", "P1", 1, 0.0, "Unspecified"),
        ]
    )
    alerts = profile.quality_alerts(
        pd.concat([tx, big, big.iloc[[2]]], ignore_index=True), currency="£"
    )
    text = "\n".join(alerts)
    assert "7.1% of lines (1) have no customer id" in text
    assert "£10.00 of revenue" in text
    assert "1 line (7.1%) duplicates an earlier line exactly, worth £10.00." in text
    assert "1 order line of more than 10,000 units (80,995) was cancelled the same day" in text
    assert "1 line has a unit price of zero or below." in text
    assert "1 line is not a product (postage, fees, manual lines, vouchers: POST 1)" in text
    assert "2 customers appear under more than one country." in text
    assert "country 'Unspecified'" in text
    assert "days have no orders" in text
    assert "The last month (February 2024)" not in text  # 29 February is its last day


def test_quality_alerts_on_a_tidy_log_are_few():
    rows = [("a", f"2024-01-{d:02d} 10:00", str(d), "P1", 1, 5.0, "UK") for d in range(1, 32)]
    alerts = profile.quality_alerts(make_tx(rows))
    assert len(alerts) == 1, alerts
    assert alerts[0].startswith("Customers seen in January 2024 all count as new")


def test_quality_alerts_read_the_cleaning_log(tx):
    result = clean_transactions(tx.drop(columns="product_id"))
    alerts = profile.quality_alerts(result.transactions, result.log, currency="£")
    text = "\n".join(alerts)
    assert "Cleaning set aside 1 line without customer id" in text
    assert "£10.00 of revenue" in text
    assert "Cleaning could not check non product codes" in text


def test_raw_table_with_log_reports_missing_customers_once(tx):
    result = clean_transactions(tx)
    alerts = profile.quality_alerts(tx, result.log)
    assert sum("customer id" in a for a in alerts) == 1


def test_quality_alerts_use_the_rules_threshold(tx):
    alerts = profile.quality_alerts(tx, rules=CleaningRules(outlier_quantity=50))
    assert any(
        "1 order line of more than 50 units (100) has no matching cancellation" in a for a in alerts
    )


def test_profile_functions_do_not_mutate(tx):
    before = tx.copy()
    profile.overview(tx)
    profile.missing_values(tx)
    profile.volume_by_period(tx, "W")
    profile.new_customers_by_month(tx)
    profile.top_items(tx)
    profile.revenue_concentration(tx)
    profile.distribution_summary(tx)
    profile.quality_alerts(tx)
    pd.testing.assert_frame_equal(tx, before)


def test_empty_log_gives_empty_tables(tx):
    empty = tx.iloc[:0]
    assert profile.volume_by_period(empty).empty
    assert profile.revenue_concentration(empty)["customers"].tolist() == [0, 0, 0]
    assert profile.quality_alerts(empty) == []
    assert metrics(profile.overview(empty))["Lines"] == 0


def test_text_dates_raise(tx):
    with pytest.raises(InputError, match="order_date"):
        profile.overview(tx.assign(order_date=tx["order_date"].astype(str)))


@pytest.fixture(scope="module")
def uci() -> pd.DataFrame:
    if not UCI.exists():
        pytest.skip(f"shared UCI file not found at {UCI}")
    return load_transactions(UCI, columns="online_retail")


def test_uci_profile_matches_the_readme(uci):
    ov = metrics(profile.overview(uci))
    assert ov["Lines"] == 541_909
    assert ov["Orders"] == 25_900
    assert ov["Customers"] == 4_372
    assert ov["Products"] == 4_070
    assert ov["Countries"] == 38
    assert ov["Revenue (net of returns)"] == pytest.approx(9_747_747.93, abs=0.005)
    missing = profile.missing_values(uci).set_index("column")["missing"]
    assert missing["customer_id"] == 135_080
    assert missing["product_name"] == 1_454
    text = "\n".join(profile.quality_alerts(uci, currency="£"))
    assert "25% of lines (135,080) have no customer id" in text
    assert "£1.45m of revenue" in text
    assert "5,268 lines (1.0%) duplicate an earlier line exactly" in text
    assert "8 customers appear under more than one country." in text
    assert "(74,215 and 80,995) were cancelled the same day" in text
    assert "2,517 lines have a unit price of zero or below." in text
    assert "91% of lines come from United Kingdom" in text
    assert "113,452 product names have leading or trailing spaces." in text
    assert np.isclose(
        profile.revenue_concentration(uci)["revenue_share"].iloc[-1], 0.7385, atol=1e-3
    )


def test_top_items_by_dimension_covers_present_dimensions():
    from seglab import synth

    tx = synth.make_study(200, seed=1).transactions
    table = profile.top_items_by_dimension(tx, n=3)
    assert list(dict.fromkeys(table["dimension"])) == [
        "category", "product_name", "channel", "region", "country"]
    assert (table.groupby("dimension").size() <= 3).all()
    top_category = table[table["dimension"] == "category"].iloc[0]
    assert top_category["revenue"] == pytest.approx(
        tx.groupby("category")["amount"].sum().max())


CHINESE = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def _alert_log(tx: pd.DataFrame) -> pd.DataFrame:
    """``tx`` with a line of every kind an alert reports."""
    odd = make_tx(
        [
            ("e", "2024-02-12 09:00", "7", "P9", 80995, 2.08, "UK"),
            ("e", "2024-02-12 09:12", "C8", "P9", -80995, 2.08, "UK"),
            ("g", "2024-02-12 09:00", "11", "P8", 20000, 1.0, "UK"),
            ("a", "2024-02-13 09:00", "9", "P1", 1, 10.0, "France"),
            ("f", "2024-02-13 09:00", "10", "POST", 1, 18.0, "Unspecified"),
            ("f", "2024-02-13 09:00", "10", "P1", 1, 0.0, "Unspecified"),
            ("h", "2024-02-14 09:00", "A1", "P1", 1, 50.0, "UK"),
            ("i", "2024-02-14 09:00", "C12", "P2", -30, 5.0, "UK"),
        ]
    )
    odd.loc[0, "product_name"] = " Item P9"
    odd.loc[2, "product_name"] = None
    return pd.concat([tx, odd, odd.iloc[[3]]], ignore_index=True)


def test_chinese_alerts_have_no_english_words_of_their_templates(tx):
    from seglab import i18n

    raw = _alert_log(tx)
    result = clean_transactions(raw, rules=CleaningRules(outlier_quantity=10000))
    alerts = [*profile.quality_alerts(raw, result.log, currency="£", lang="zh"),
              *profile.quality_alerts(result.transactions, result.log, lang="zh")]
    english = [*profile.quality_alerts(raw, result.log, currency="£"),
               *profile.quality_alerts(result.transactions, result.log)]
    assert len(alerts) == len(english) >= 15
    data = {word for column in ("country", "product_id", "product_name") for value in
            raw[column].dropna() for word in WORD.findall(str(value))}
    template = {word for message in i18n.catalog("zh") for word in WORD.findall(message)}
    for alert in alerts:
        assert CHINESE.search(alert), alert
        assert not (set(WORD.findall(alert)) & template) - data, alert
    assert any("2024年1月" in alert for alert in alerts)


def test_english_alerts_agree_in_number(tx):
    rows = [("a", "2024-01-01", "1", "P1", 1, 0.0, "UK"),
            ("b", "2024-01-01", "2", "P1", 1, 0.0, "UK")]
    two = profile.quality_alerts(make_tx(rows))
    assert "2 lines have a unit price of zero or below." in two
    assert profile.quality_alerts(make_tx(rows[:1]))[0] == (
        "1 line has a unit price of zero or below.")
    assert f"{profile.Count(2):,} {profile.Count(2):day|days}" == "2 days"
    assert f"{profile.Count(1200):,} {profile.Count(1):day|days}" == "1,200 day"


def test_chinese_overview_and_tables_keep_the_values(tx):
    from seglab import i18n

    shown = profile.overview(tx, lang="zh")
    english = profile.overview(tx)
    assert shown["value"].equals(english["value"])
    assert shown["metric"].map(CHINESE.search).all()
    assert profile.display_overview(english) is english
    assert profile.display_overview(english, "zh").equals(shown)
    top = profile.top_items(tx, by="customer_id", n=10, lang="zh")
    missing = i18n.text("(missing)", "zh")
    assert CHINESE.search(missing) and missing in set(top["customer_id"])
