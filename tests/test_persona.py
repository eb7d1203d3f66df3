from __future__ import annotations

import pandas as pd
import pytest
from planted import planted_table

from seglab import features, persona
from seglab.errors import ConfigError


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    """Customer table of a small synthetic study, with P&L, lifecycle and planted segment."""
    return planted_table(1000, seed=0)


#: What a reader expects each planted segment's card to say: name words and strategy.
EXPECTED = {
    "VIP loyal": ("High-value loyal", "Retain and reward"),
    "Regular": ("regular", "Upsell"),
    "Big-ticket occasional": ("big-ticket occasional", "Serve at lower cost"),
    "Bargain hunter": ("bargain-hunting", "Upsell"),
    "New": ("new", "Nurture new"),
    "Lapsing": ("lapsing", "Win back"),
    "One-time": ("one-time", "Let go"),
}


def test_cards_of_the_planted_segments_read_as_expected(planted):
    cards = persona.persona_cards(planted, "planted")
    assert set(cards.index) == set(EXPECTED)
    for segment, (words, strategy) in EXPECTED.items():
        assert words in cards.loc[segment, "persona"], (segment, cards.loc[segment, "persona"])
        assert cards.loc[segment, "strategy"] == strategy, segment
    assert cards.loc["Big-ticket occasional", "persona"].endswith("with heavy returns")
    assert cards["persona"].is_unique
    assert cards["customers"].sum() == len(planted)
    assert cards.loc["Bargain hunter", "top_channel"] == "online"
    assert cards["kpi"].str.len().gt(0).all() and cards["action"].str.len().gt(0).all()


def test_summary_figures(planted):
    summary = persona.card_figures(planted, "planted")
    vip = summary.loc["VIP loyal"]
    assert vip["revenue_index"] > 1.5 and vip["profit_margin_index"] > 1
    assert summary["customer_share"].sum() == pytest.approx(1.0)
    assert summary["revenue"].sum() == pytest.approx(planted["revenue"].sum())
    assert summary.loc["One-time", "churned_share"] > 0.5
    assert summary.loc["New", "new_share"] > 0.5
    assert 0 <= vip["female_share"] <= 1 and 20 < vip["median_age"] < 70
    assert vip["city_tiers"].startswith("Tier")
    assert summary.loc["Big-ticket occasional", "unprofitable_share"] > 0.1


def test_custom_rules_and_errors(planted):
    rules = [{"strategy": "Keep", "when": "revenue_index >= 1", "action": "a", "kpi": "k"},
             {"strategy": "Other", "when": "True"}]
    cards = persona.persona_cards(planted, "planted", rules=rules)
    assert cards.loc["VIP loyal", "strategy"] == "Keep"
    assert cards.loc["One-time", "strategy"] == "Other"
    with pytest.raises(ConfigError, match="no strategy rule matches"):
        persona.persona_cards(planted, "planted", rules=[{"strategy": "Only", "when": "False"}])
    with pytest.raises(ConfigError, match="cannot evaluate when='no_such_figure > 1'"):
        persona.persona_cards(planted, "planted",
                              rules=[{"strategy": "X", "when": "no_such_figure > 1"}])
    with pytest.raises(ConfigError, match="needs 'strategy'"):
        persona.persona_cards(planted, "planted", rules=[{"when": "True"}])
    with pytest.raises(ConfigError, match="rule table is empty"):
        persona.persona_cards(planted, "planted", rules=[])
    with pytest.raises(ConfigError, match="segment_col='nope'"):
        persona.card_figures(planted, "nope")
    assert list(persona.rules_frame().columns) == ["strategy", "when", "action", "kpi"]


def test_cards_without_optional_columns(transactions):
    table = features.customer_features(transactions.drop(columns=["channel", "store"]))
    table = table[[c for c in table if not c.startswith("channel_share_")]]
    table["segment"] = (table["orders"] >= 3).map({True: "frequent", False: "rare"})
    cards = persona.persona_cards(table, "segment")
    # No channel in the data: "customers", not "<channel> shoppers".
    assert cards["persona"].str.contains(" customers").all()
    assert not cards["persona"].str.contains("shoppers").any()
    assert cards["persona"].is_unique
    assert "profit" not in cards and "lifecycle" not in cards
    assert "<table>" in persona.cards_html(cards)


def test_repeated_names_are_told_apart(transactions):
    table = features.customer_features(transactions)
    table["segment"] = table["customer_id"].str[-1].map(lambda d: "even" if int(d) % 2 else "odd")
    cards = persona.persona_cards(table, "segment")
    assert cards["persona"].is_unique


def test_cards_html_escapes_text_from_the_data(planted):
    table = planted.assign(planted=planted["planted"].replace(
        {"VIP loyal": "<script>alert(1)</script>"}), clv=planted["profit"] / 2, p_alive=0.8)
    table = table.rename(columns={"category_share_home": "category_share_<b>home</b>"})
    cards = persona.persona_cards(table, "planted")
    page = persona.cards_html(cards, horizon_days=180)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>home</b>" not in page and "&lt;b&gt;home&lt;/b&gt;" in page
    assert "over the next 180 days" in page
    assert page.count('class="card"') == len(cards)


def test_cards_say_what_a_segment_buys_more_than_average(planted):
    cards = persona.persona_cards(planted, "planted")
    cards["standout"] = pd.Series({"Bargain hunter": "buys <Grocery> 1.4x as often as the "
                                   "average customer"})
    page = persona.cards_html(cards)
    assert "<th>Stands out</th><td>buys &lt;Grocery&gt; 1.4x as often" in page
    assert page.count("Stands out") == 1  # segments without a sentence get no row
