from __future__ import annotations

import pandas as pd
import pytest

from seglab import persona, profit


def _lines():
    return pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "b", "b"], dtype="string"),
        "order_id": pd.array(["1", "1", "R1", "2", "3"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-02", "2024-02-01"]),
        "amount": [100.0, 50.0, -50.0, 200.0, 80.0],
        "cost": [60.0, 30.0, -30.0, float("nan"), 40.0],
        "category": pd.array(["Home", "Home", "Home", "Beauty", "Beauty"], dtype="string"),
        "channel": pd.array(["store", "store", "store", "online", "store"], dtype="string"),
        "store": pd.array(["Flagship", "Flagship", "Flagship", pd.NA, "Mall"], dtype="string"),
    })


def test_customer_pnl_by_hand():
    costs = profit.CostTable(category_margin_rates={"Beauty": 0.6},
                             order_cost_by_channel={"store": 2.0, "online": 7.0},
                             store_rent_share={"Flagship": 0.2}, default_store_rent_share=0.05,
                             return_cost=10.0)
    pnl = profit.customer_pnl(_lines(), costs)
    a, b = pnl.loc["a"], pnl.loc["b"]
    assert a["revenue"] == 100.0
    assert a["cost_of_goods"] == 60.0
    assert a["rent"] == pytest.approx(0.2 * 100.0)
    assert a["order_costs"] == 2.0 and a["return_costs"] == 10.0
    assert a["profit"] == pytest.approx(40.0 - 20.0 - 2.0 - 10.0)
    # b: line without cost falls back to the Beauty margin rate (cost = 200 * 0.4).
    assert b["cost_of_goods"] == pytest.approx(80.0 + 40.0)
    assert b["rent"] == pytest.approx(0.05 * 80.0)
    assert b["order_costs"] == 7.0 + 2.0


def test_segment_pnl_reconciles():
    pnl = profit.customer_pnl(_lines())
    customers = pnl.reset_index().assign(segment=["x", "y"])
    table = profit.segment_pnl(customers, "segment")
    check = profit.reconciliation(customers, table, {"revenue": 380.0,
                                                     "profit": float(pnl["profit"].sum())})
    assert check["agrees"].all()
    assert table.loc["Portfolio", "customers"] == 2
    wrong = profit.reconciliation(customers, table, {"revenue": 381.0, "profit": 0.0})
    assert not wrong["agrees"].any()


def test_whale_curve_peaks_above_one_with_losses():
    curve = profit.whale_curve(pd.Series([100.0, 50.0, -30.0, -20.0]))
    assert curve["cumulative_profit_share"].iloc[-1] == pytest.approx(1.0)
    assert curve["cumulative_profit_share"].max() == pytest.approx(1.5)


def test_persona_cards_name_and_strategy(transactions):
    from seglab.features import customer_features

    table = customer_features(transactions)
    table["segment"] = (table["orders"] >= 3).map({True: "frequent", False: "rare"})
    table["profit"] = table["revenue"] * 0.1
    cards = persona.persona_cards(table, "segment")
    assert set(cards.index) == {"frequent", "rare"}
    assert cards["persona"].str.endswith("shoppers").all()
    assert cards["strategy"].notna().all() and cards["kpi"].notna().all()
    assert cards["customers"].sum() == len(table)
