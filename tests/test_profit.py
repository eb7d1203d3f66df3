from __future__ import annotations

import pandas as pd
import pytest
from conftest import SHARED_RETAIL

from seglab import profit
from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError, InputError


def _lines():
    return pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "b", "b"], dtype="string"),
        "order_id": pd.array(["1", "1", "R1", "2", "3"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-02", "2024-02-01"]),
        "amount": [100.0, 50.0, -50.0, 200.0, 80.0],
        "discount": [10.0, 0.0, 0.0, 0.0, 5.0],
        "cost": [60.0, 30.0, -30.0, float("nan"), 40.0],
        "category": pd.array(["Home", "Home", "Home", "Beauty", "Beauty"], dtype="string"),
        "channel": pd.array(["store", "store", "store", "online", "store"], dtype="string"),
        "store": pd.array(["Flagship", "Flagship", "Flagship", pd.NA, "Mall"], dtype="string"),
    })


COSTS = profit.CostTable(
    category_margin_rates={"Beauty": 0.6},
    order_cost_by_channel={"store": 2.0, "online": 3.0},
    shipping_cost_by_channel={"store": 0.0, "online": 4.0},
    store_rent_share={"Flagship": 0.2}, default_store_rent_share=0.05,
    return_cost=10.0, default_marketing_cost=0.0,
)


def test_customer_pnl_by_hand():
    pnl = profit.customer_pnl(_lines(), COSTS)
    a, b = pnl.loc["a"], pnl.loc["b"]
    # a: list 160, discount 10, returned 50 -> revenue 100.
    assert (a["gross_sales"], a["discounts"], a["returns"], a["revenue"]) == (160, 10, 50, 100)
    assert a["cost_of_goods"] == 60.0
    assert a["rent"] == pytest.approx(0.2 * 100.0)  # the return gives its rent back
    assert (a["handling"], a["shipping"], a["returns_handling"]) == (2.0, 0.0, 10.0)
    assert a["profit"] == pytest.approx(40.0 - 20.0 - 2.0 - 10.0)
    # b: the online line has no cost and falls back to the Beauty margin (cost = 200 * 0.4).
    assert b["cost_of_goods"] == pytest.approx(80.0 + 40.0)
    assert b["rent"] == pytest.approx(0.05 * 80.0)
    assert b["handling"] == 3.0 + 2.0 and b["shipping"] == 4.0
    assert list(pnl.columns) == list(profit.PNL_COLUMNS)
    assert (pnl["revenue"] == pnl["gross_sales"] - pnl["discounts"] - pnl["returns"]).all()
    assert (pnl["cost_to_serve"] == pnl[list(profit.COST_TO_SERVE_PARTS)].sum(axis=1)).all()


def test_marketing_per_segment_and_service_contacts():
    costs = profit.cost_table({"marketing_cost_by_segment": {"vip": 36.525},
                               "default_marketing_cost": 3.6525,
                               "service_contact_cost": 5.0}, base=COSTS)
    segments = pd.Series({"a": "vip", "b": "other"})
    contacts = pd.Series({"a": 3})
    as_of = pd.Timestamp("2024-03-01")
    pnl = profit.customer_pnl(_lines(), costs, segments=segments, as_of=as_of,
                              service_contacts=contacts)
    # a is on file 60 days, b 59 days (first order 2024-01-02).
    assert pnl.loc["a", "marketing"] == pytest.approx(36.525 * 60 / 365.25)
    assert pnl.loc["b", "marketing"] == pytest.approx(3.6525 * 59 / 365.25)
    assert (pnl.loc["a", "service"], pnl.loc["b", "service"]) == (15.0, 0.0)
    totals = profit.portfolio_totals(_lines(), costs, segments=segments, as_of=as_of,
                           service_contacts=contacts)
    for name in profit.PNL_COLUMNS:
        assert totals[name] == pytest.approx(pnl[name].sum(), abs=1e-9), name


def test_no_channel_charges_default_handling_and_shipping():
    lines = _lines().drop(columns=["channel", "store"])
    pnl = profit.customer_pnl(lines, profit.CostTable(default_marketing_cost=0.0))
    # Two purchase orders for b, one for a (its return order is not a purchase).
    assert pnl.loc["b", "handling"] + pnl.loc["b", "shipping"] == 2 * (3.0 + 4.0)
    assert pnl.loc["a", "cost_to_serve"] == 3.0 + 4.0 + 12.0
    assert (pnl["rent"] == 0).all()


def test_cost_table_overrides(tmp_path):
    table = profit.cost_table({"order_cost_by_channel": {"store": 9}, "return_cost": 20})
    assert table.order_cost_by_channel == {"store": 9, "online": 3.0, "app": 2.5}
    assert table.return_cost == 20
    assert profit.cost_table({}) == profit.CostTable()
    assert profit.cost_table("") == profit.CostTable()
    path = tmp_path / "costs.yaml"
    path.write_text("costs:\n  default_margin_rate: 0.4\n  shipping_cost_by_channel:\n"
                    "    online: 6\n")
    from_file = profit.cost_table(str(path), base=COSTS)
    assert from_file.default_margin_rate == 0.4
    assert from_file.shipping_cost_by_channel == {"store": 0.0, "online": 6}
    assert from_file.store_rent_share == {"Flagship": 0.2}
    frame = profit.cost_table_frame(from_file)
    assert len(frame) == len(profit.COST_DOCS)
    assert "online: 6" in frame.set_index("item").loc["shipping cost by channel", "value"]


def test_cost_table_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown cost item\(s\) \['rent'\]"):
        profit.cost_table({"rent": 3})
    with pytest.raises(ConfigError, match="return_cost=-1 should not be negative"):
        profit.cost_table({"return_cost": -1})
    with pytest.raises(ConfigError, match="share between 0 and 1"):
        profit.cost_table({"store_rent_share": {"Mall": 1.5}})
    with pytest.raises(ConfigError, match="should be a number"):
        profit.cost_table({"return_cost": "twelve"})
    with pytest.raises(ConfigError, match="should be a mapping"):
        profit.cost_table({"order_cost_by_channel": 3})
    with pytest.raises(ConfigError, match="cost table file not found"):
        profit.cost_table(str(tmp_path / "missing.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        profit.cost_table(str(tmp_path / "list.yaml"))
    with pytest.raises(InputError, match=r"missing column\(s\) \['amount'\]"):
        profit.customer_pnl(_lines().drop(columns="amount"))


def test_pnl_reconciles_at_every_level():
    pnl = profit.customer_pnl(_lines(), COSTS)
    customers = pnl.reset_index().assign(segment=["x", "y"],
                                         main_channel=pd.array(["store", pd.NA], "string"))
    segments = profit.segment_pnl(customers, "segment")
    subs = profit.sub_segment_pnl(customers, "segment", "main_channel")
    assert list(subs["main_channel"]) == ["store", "(unknown)"]
    totals = profit.portfolio_totals(_lines(), COSTS)
    check = profit.reconciliation(customers, segments, totals, sub_segments=subs)
    assert list(check.index) == list(profit.RECONCILED)
    assert check["agrees"].all()
    assert list(check.columns[:5]) == ["customers", "sub-segments", "segments", "portfolio",
                                       "ledger"]
    assert segments.loc["Portfolio", "customers"] == 2
    assert segments.loc["x", "profit_margin"] == pytest.approx(8.0 / 100.0)
    off = dict(totals, revenue=totals["revenue"] + 0.01)
    wrong = profit.reconciliation(customers, segments, off, sub_segments=subs)
    assert not wrong.loc["revenue", "agrees"] and wrong.loc["profit", "agrees"]
    with pytest.raises(ConfigError, match="segment_col='nope'"):
        profit.segment_pnl(customers, "nope")


def test_main_value_picks_largest_sales():
    main = profit.main_value(_lines(), "channel")
    assert main.to_dict() == {"a": "store", "b": "online"}


def test_whale_curve_and_summary():
    profits = pd.Series([100.0, 50.0, -30.0, -20.0])
    curve = profit.whale_curve(profits)
    assert curve["cumulative_profit_share"].iloc[-1] == pytest.approx(1.0)
    assert curve["cumulative_profit_share"].max() == pytest.approx(1.5)
    summary = profit.whale_summary(profits)
    assert summary["peak_customer_share"] == 0.5 and summary["peak_profit_share"] == 1.5
    assert summary["give_back"] == 50.0
    assert summary["text"].startswith("50% of customers (2) earn 150% of the profit (150)")
    assert "the other 50% give back 50 (50% of the total)" in summary["text"]
    assert profit.whale_summary(pd.Series([5.0, 1.0]))["text"].startswith("Every customer")
    assert "portfolio loses 10" in profit.whale_summary(pd.Series([5.0, -15.0]))["text"]


def test_high_revenue_loss_makers():
    customers = pd.DataFrame({
        "segment": ["x", "x", "y", "y", "y", "y", "y", "y"],
        "revenue": [1000.0, 900.0, 800.0, 50, 40, 30, 20, 10],
        "gross_margin": [300.0, -50.0, 200.0, 10, 10, 10, 10, 10],
        "rent": [400.0, 10.0, 10.0, 0, 0, 0, 0, 0],
        "handling": [5.0, 5.0, 5.0, 1, 1, 1, 1, 1],
    })
    customers["cost_to_serve"] = customers["rent"] + customers["handling"]
    customers["profit"] = customers["gross_margin"] - customers["cost_to_serve"]
    table = profit.high_revenue_loss_makers(customers, "segment", top_share=0.25)
    assert table.loc["x", "high_revenue"] == 2 and table.loc["x", "losing"] == 2
    assert table.loc["x", "losing_by_cost_to_serve"] == 1
    assert table.loc["x", "largest_cost"] == "rent (98%)"  # 410 of 420
    assert table.loc["All", "losing"] == 2 and table.loc["All", "high_revenue"] == 2
    with pytest.raises(ConfigError, match="top_share=0"):
        profit.high_revenue_loss_makers(customers, "segment", top_share=0)


def test_synthetic_big_ticket_customers_lose_money_to_cost_to_serve():
    from seglab import synth

    study = synth.make_study(1000, seed=0)
    planted = study.truth.set_index("customer_id")["segment"]
    pnl = profit.customer_pnl(study.transactions, synth.COST_TABLE, segments=planted)
    pnl["planted"] = planted
    high = pnl[pnl["revenue"] >= pnl["revenue"].quantile(0.75)]
    losing = high[high["profit"] < 0]
    turned = losing[losing["gross_margin"] > 0]
    assert len(turned) >= 2  # positive margin, lost to cost-to-serve
    assert (losing["planted"] == "Big-ticket occasional").mean() > 0.5
    assert (turned["rent"] > turned[["handling", "shipping", "returns_handling"]].sum(axis=1)).all()


@pytest.mark.skipif(not SHARED_RETAIL.exists(), reason="shared Online Retail data absent")
def test_online_retail_with_default_costs_reads_sensibly():
    from seglab import clean, io

    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(raw)
    tx = clean.clean_transactions(raw, as_of=as_of).transactions
    pnl = profit.customer_pnl(tx, as_of=as_of)
    totals = profit.portfolio_totals(tx, as_of=as_of)
    assert pnl["profit"].sum() == pytest.approx(totals["profit"], abs=0.005)
    assert totals["rent"] == 0 and totals["discounts"] == 0  # no stores, no discounts
    # No channel: every purchase order pays the default handling and shipping.
    assert totals["shipping"] / totals["handling"] == pytest.approx(4.0 / 3.0)
    assert 0.25 < totals["profit"] / totals["revenue"] < 0.35
    assert 0 < (pnl["profit"] < 0).mean() < 0.05


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    """A run folder through the profit stage, segmented by the planted segments."""
    from seglab import features, segments, study

    folder = tmp_path_factory.mktemp("run")
    inputs = study.stage_inputs(folder, n_customers=600, seed=2, costs={"return_cost": 15.0})
    study.clean_stage(folder)
    tx = pd.read_parquet(folder / "transactions.parquet")
    table = features.customer_features(tx, as_of=inputs.as_of, customers=inputs.customers)
    table["lifecycle_stage"] = segments.lifecycle_stage(table)
    table["planted"] = table["customer_id"].map(inputs.truth.set_index("customer_id")["segment"])
    study.write_customers(folder, table)
    options = {"segment_col": "planted", "holdout_days": 120}
    first = study.profit_stage(folder, **options)
    exports = {name: (folder / name).read_bytes() for name in ("customers.csv", "segments.csv")}
    second = study.profit_stage(folder, **options)  # a rerun replaces its own columns
    return folder, first, second, exports


def test_profit_stage_files_and_metrics(stage_run):
    import json

    folder, result, _, _ = stage_run
    customers = pd.read_csv(folder / "customers.csv", dtype={"customer_id": str})
    assert customers.columns[0] == "customer_id"
    for column in ("revenue", "gross_margin", "cost_to_serve", "profit", "clv", "p_alive",
                   "expected_orders_90d", "persona", "strategy"):
        assert customers[column].notna().all(), column
    assert customers["p_alive"].between(0, 1).all()
    table = pd.read_csv(folder / "segments.csv")
    assert list(table.columns[:8]) == ["segment", "persona", "customers", "revenue", "profit",
                                       "clv", "strategy", "action"]
    assert len(table) == customers["planted"].nunique() == len(result.cards)
    assert table["customers"].sum() == len(customers)
    assert table["profit"].sum() == pytest.approx(customers["profit"].sum(), abs=0.01)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert all(value > 0 for value in metrics["bgnbd"].values())
    assert metrics["clv"]["time_unit"] == "D" and metrics["clv"]["bgnbd_fit_seconds"] > 0
    assert metrics["profit"]["reconciles"] is True
    assert metrics["profit"]["costs"]["return_cost"] == 15.0
    assert metrics["profit"]["profit"] == pytest.approx(customers["profit"].sum(), abs=0.01)
    assert result.reconciliation["agrees"].all()
    assert list(result.reconciliation.columns[:5]) == ["customers", "sub-segments", "segments",
                                                       "portfolio", "ledger"]
    assert "main_channel" in result.sub_segment_pnl
    assert result.truth is not None and result.truth.notna().all()
    assert result.holdout["customers"].sum() > 0
    assert "Big-ticket occasional" in result.loss_makers.index


def test_profit_stage_reruns_identically(stage_run):
    folder, first, second, exports = stage_run
    for name, content in exports.items():
        assert (folder / name).read_bytes() == content, name
    pd.testing.assert_frame_equal(first.cards, second.cards)


def test_profit_stage_errors(stage_run):
    from seglab import study

    folder = stage_run[0]
    with pytest.raises(ConfigError, match="segment_col='nope'"):
        study.profit_stage(folder, segment_col="nope")
    with pytest.raises(ConfigError, match="sub_segment_by='city'"):
        study.profit_stage(folder, segment_col="planted", sub_segment_by="city")
    with pytest.raises(ConfigError, match="unknown cost item"):
        study.stage_inputs(folder / "other", n_customers=100, costs={"rents": 1})


def test_sub_segments_pool_small_values():
    customers = pd.DataFrame({
        "segment": ["x"] * 5,
        "country": ["UK", "UK", "France", "Spain", "Peru"],
        "revenue": [10.0, 10.0, 5.0, 2.0, 1.0],
    })
    for name in ("gross_margin", "cost_to_serve", "profit"):
        customers[name] = customers["revenue"] / 2
    table = profit.sub_segment_pnl(customers, "segment", "country", top=2)
    assert table.set_index("country")["customers"].to_dict() == {"(other)": 2, "France": 1,
                                                                 "UK": 2}
    assert table["revenue"].sum() == customers["revenue"].sum()
    assert len(profit.sub_segment_pnl(customers, "segment", "country", top=None)) == 4


def test_profit_plots_draw(stage_run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seglab import plots

    result = stage_run[1]
    drawn = [
        plots.pnl_waterfall(result.ledger),
        plots.segment_pnl_bars(result.segment_pnl),
        plots.cost_to_serve_bars(result.segment_pnl),
        plots.unprofitable_share(result.segment_pnl),
        plots.whale_curve(result.whale),
        plots.revenue_profit_scatter(result.customers),
        plots.calibration_holdout(result.holdout),
        plots.value_growth_bubbles(result.cards),
        plots.persona_composition(result.customers["persona"], result.truth,
                                  order=result.cards["persona"]),
        plots.persona_composition(result.customers["persona"], None),
    ]
    titles = [ax.get_title() for ax in drawn]
    assert all(titles), titles
    assert "give back" in drawn[4].texts[0].get_text()
    assert len(drawn[8].get_yticklabels()) == len(result.cards)
    plt.close("all")


def test_sub_segment_column():
    lines = _lines()
    assert profit.sub_segment_column(lines) == "channel"
    assert profit.sub_segment_column(lines.drop(columns="channel")) is None
    no_channel = lines.assign(country="UK").drop(columns="channel")
    assert profit.sub_segment_column(no_channel) == "country"
    with pytest.raises(ConfigError, match="have no region values"):
        profit.sub_segment_column(lines, "region")


def _sql_line_sums(transactions: pd.DataFrame, costs, as_of, dimension=None):
    import duckdb

    con = duckdb.connect()
    con.register("lines", transactions.assign(line_number=range(len(transactions))))
    con.execute("CREATE VIEW transactions AS SELECT * FROM lines")
    table = con.sql(profit.line_sums_sql(list(transactions.columns), costs, as_of=as_of,
                                         dimension=dimension)).df()
    totals = table[table["is_total"]].drop(columns=["is_total", "customer_id"])
    sums = table[~table["is_total"]].drop(columns="is_total").set_index("customer_id")
    return sums.sort_index(), totals.iloc[0]


@pytest.mark.parametrize("drop", [[], ["order_id", "discount", "store"],
                                  ["category", "channel", "cost"]])
def test_line_sums_sql_equals_pandas(drop):
    from conftest import random_transactions

    tx = random_transactions(80, seed=2).drop(columns=drop, errors="ignore")
    tx.loc[tx.index[::7], "amount"] *= -1  # returns, and orders that net negative
    if drop != ["category", "channel", "cost"]:
        tx["cost"] = (tx["amount"] * 0.5).where(tx.index % 3 == 0)
    costs = profit.CostTable(category_margin_rates={"Home": 0.45}, store_rent_share={"S1": 0.2},
                             order_cost_by_channel={"online": 2.75})
    as_of = tx["order_date"].max() - pd.Timedelta(days=30)  # later lines are left out
    dimension = "channel" if "channel" in tx else None
    sums, totals = _sql_line_sums(tx, costs, as_of, dimension)
    kept = tx[tx["order_date"] < as_of + pd.Timedelta(days=1)]
    expected, expected_totals = profit.line_sums_and_totals(kept, costs)
    if dimension:
        main = sums.pop("main")
        pd.testing.assert_series_equal(
            main.astype("string"), profit.main_value(kept, dimension).reindex(main.index),
            check_names=False)
    sums["first_order"] = sums["first_order"].astype(expected["first_order"].dtype)
    pd.testing.assert_frame_equal(sums[expected.columns], expected, check_exact=False,
                                  atol=1e-9, rtol=0, check_index_type=False)
    for name in profit.LINE_SUMS:
        assert totals[name] == pytest.approx(expected_totals[name], abs=1e-9), name
    assert totals["rent"] != 0 or not {"store", "channel"} <= set(tx)
