"""The seglab modules' report text in Chinese: names held in constants, cards, notes."""

from __future__ import annotations

import dataclasses
import html
import re

import pandas as pd
import pytest
from planted import planted_table

from seglab import (
    campaigns,
    churn_model,
    clean,
    dynamics,
    features,
    i18n,
    persona,
    profile,
    profit,
    segments,
    support,
    synth,
)
from seglab.analysis_date import default_as_of

CHINESE = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def zh() -> dict[str, str]:
    return i18n.catalog("zh")


#: Every set of names and texts held in constants that a report shows.
CONSTANT_SETS = {
    "RFM segments": segments.RFM_SEGMENT_ORDER,
    "RFM segment descriptions": tuple(text for pair in segments.RFM_SEGMENT_DESCRIPTIONS.values()
                                      for text in pair),
    "pyramid levels": segments.SegmentRules().pyramid_names,
    "membership grades": segments.SEGMENT_COLUMNS["membership"],
    "lifecycle stages": (*segments.SEGMENT_COLUMNS["lifecycle_stage"], *persona.LIFECYCLE_STAGES),
    "value x growth quadrants": segments.QUADRANTS,
    "persona value words": persona.VALUE_WORDS,
    "persona behaviours": tuple(rule.label for rule in persona.NAME_RULES),
    "strategies": tuple(rule.label for rule in persona.STRATEGY_RULES),
    "strategy actions": tuple(rule.action for rule in persona.STRATEGY_RULES),
    "strategy KPIs": tuple(rule.kpi for rule in persona.STRATEGY_RULES),
    "cost items": tuple(profit.COST_DOCS.values()),
    "cost item names": tuple(item.name.replace("_", " ")
                             for item in dataclasses.fields(profit.CostTable)),
    "churn baselines": tuple(name for _, name in churn_model.CHURN_BASELINES),
    "value tiers": dynamics.TIER_NAMES,
    "dynamics table words": dynamics.SHOWN_WORDS,
    "campaign metrics": campaigns.METRICS,
    "feature dictionary": tuple(text for docs in features.FEATURE_DOCS.values() for text in docs
                                if re.search("[A-Za-z]", text)),
    "time units": tuple(features.TIME_UNITS.values()),
    "data overview metrics": profile.OVERVIEW_METRICS,
}


@pytest.mark.parametrize("name", sorted(CONSTANT_SETS))
def test_every_name_held_in_a_constant_has_a_chinese_translation(name):
    missing = [value for value in CONSTANT_SETS[name] if value not in zh()]
    assert not missing, f"{name} without a translation: {missing}"
    assert all(CHINESE.search(zh()[value]) for value in CONSTANT_SETS[name])


def test_names_that_differ_in_english_differ_in_chinese():
    for name, values in CONSTANT_SETS.items():
        if name in {"lifecycle stages", "time units"}:
            continue
        shown = {i18n.text(value, "zh") for value in set(values)}
        assert len(shown) == len(set(values)), name


def test_a_skipped_note_reads_skipped_in_every_language():
    for message, translation in zh().items():
        if message.startswith("Skipped"):
            assert translation.startswith(support.SKIPPED_PREFIXES["zh"]), message
    found = support.DataSupport(columns=(), derived=("order_id",), lines=10, customers=5,
                                repeat_customers=2, span_days=30, orders=8)
    assert support.is_skipped(found.missing_note(("category",), "x", lang="zh"))
    assert not support.is_skipped(found.order_note(lang="zh"))


def test_segment_labels_translate_names_and_leave_others():
    assert segments.segment_label("Champions", "zh") == zh()["Champions"]
    assert segments.segment_label("Champions") == "Champions"
    assert segments.segment_label("3", "zh") == "3"
    assert segments.segment_label(3, "zh") == 3
    table = segments.rfm_segment_table(lang="zh")
    assert table["segment"].map(CHINESE.search).all() and table["action"].map(CHINESE.search).all()
    assert table["cells"].equals(segments.rfm_segment_table()["cells"])
    grid = segments.rfm_segment_map(lang="zh")
    assert grid.drop(columns="recency score").map(lambda v: bool(CHINESE.search(v))).all().all()


@pytest.fixture(scope="module")
def cards() -> pd.DataFrame:
    """Persona cards of a small synthetic study with P&L, CLV and lifecycle."""
    table = planted_table(600, seed=1)
    table["clv"], table["p_alive"] = table["revenue"] * 0.4, 0.6
    return persona.persona_cards(table, "planted")


def _visible_words(page: str) -> set[str]:
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    return set(WORD.findall(html.unescape(re.sub(r"<[^>]+>", " ", page))))


def test_a_chinese_persona_card_has_no_english_words_of_the_template(cards):
    page = persona.cards_html(cards, lang="zh")
    assert CHINESE.search(page)
    data = cards.index.astype(str).tolist() + [
        str(value) for column in ("categories", "channels", "city_tiers", "regions",
                                  "countries", "top_channel", "top_category")
        if column in cards for value in cards[column]]
    allowed = {word for value in data for word in WORD.findall(value)} | {"CLV", "RFM", "VIP"}
    template = {word for message in zh() for word in WORD.findall(message)}
    leftover = (_visible_words(page) & template) - allowed
    assert not leftover, leftover


def test_persona_names_are_translated_part_by_part(cards):
    for name in cards["persona"]:
        shown = persona.persona_label(name, "zh")
        assert CHINESE.search(shown), name
        assert not WORD.findall(shown) or set(WORD.findall(shown)) <= set(WORD.findall(name))
        assert persona.persona_label(name) == name
    assert persona.persona_label("not a persona name", "zh") == "not a persona name"
    shown = persona.persona_label("High-value loyal app shoppers (Beauty) (segment 2)", "zh")
    assert shown.startswith(zh()["High-value"] + zh()["loyal"])
    assert shown.index("app") < shown.index("Beauty") < shown.index("2")


def test_display_cards_keep_the_figures_and_translate_the_words(cards):
    shown = persona.display_cards(cards, "zh")
    assert shown.drop(columns=["persona", "strategy", "action", "kpi"]).equals(
        cards.drop(columns=["persona", "strategy", "action", "kpi"]))
    assert shown["strategy"].map(CHINESE.search).all() and shown["kpi"].map(CHINESE.search).all()
    assert persona.display_cards(cards) is cards
    assert persona.rules_frame(lang="zh")["when"].equals(persona.rules_frame()["when"])


def test_a_chinese_section_note_has_no_english_words_of_the_template():
    found = support.DataSupport(columns=(), derived=("order_id",), lines=10, customers=5,
                                repeat_customers=2, span_days=30, orders=8)
    columns = support.SELLING_DIMENSIONS
    note = found.missing_note(columns, i18n.text("splitting segments by channel", "zh"),
                              lang="zh")
    assert support.is_skipped(note) and CHINESE.search(note)
    assert set(WORD.findall(note)) <= {word for c in columns for word in WORD.findall(c)}
    assert found.missing_note(columns, "what sells, where") == (
        "Skipped: what sells, where needs a column product_id, category, channel, region or "
        "country, and this log has none.")
    order = found.order_note(lang="zh")
    assert CHINESE.search(order) and set(WORD.findall(order)) <= {"seglab", "lifetimes"}
    assert found.describe(lang="zh")["what"].map(CHINESE.search).all()


def test_english_text_is_unchanged():
    summary = profit.whale_summary(pd.Series([5.0, 3.0, -1.0, -2.0]))
    assert summary["text"] == ("50% of customers (2) earn 160% of the profit (8); the other "
                               "50% give back 3 (60% of the total), leaving 5.")
    assert CHINESE.search(profit.whale_summary(pd.Series([5.0, -1.0]), lang="zh")["text"])
    assert profit.cost_table_frame(profit.CostTable()).equals(
        profit.cost_table_frame(profit.CostTable(), lang="en"))


def test_the_cleaning_log_shows_chinese_descriptions_and_keeps_its_codes():
    study = synth.make_study(300, seed=2)
    result = clean.clean_transactions(study.transactions,
                                      as_of=default_as_of(study.transactions))
    assert clean.display_log(result) is result.log
    shown = clean.display_log(result, "zh")
    assert shown["description"].map(CHINESE.search).all()
    assert shown.drop(columns="description").equals(result.log.drop(columns="description"))
    assert result.log["description"].map(lambda text: not CHINESE.search(text)).all()


def test_the_alerts_name_every_cleaning_rule_in_chinese():
    study = synth.make_study(300, seed=2)
    result = clean.clean_transactions(study.transactions,
                                      as_of=default_as_of(study.transactions))
    for rule in result.log["rule"]:
        assert CHINESE.search(profile._rule_name(rule, "zh")), rule
        assert profile._rule_name(rule) == rule.replace("_", " ")


def _template_words() -> set[str]:
    return {word for message in zh() for word in WORD.findall(message)}


@pytest.mark.parametrize("auc", [0.8, 0.69, 0.6])
def test_a_chinese_churn_headline_has_no_english_words_of_the_template(auc):
    for _, rule in churn_model.CHURN_BASELINES:
        line = churn_model.churn_headline(auc, rule, 0.69, horizon_days=90, lang="zh")
        assert CHINESE.search(line) and zh()[rule] in line
        notation = {"ROC", "AUC", "BG", "NBD", "alive"}
        assert not set(WORD.findall(line)) & _template_words() - notation
        assert churn_model.churn_headline(auc, rule, 0.69, horizon_days=90).startswith(
            "Churn in the next 90 days, on the holdout: the churn model")


def test_dynamics_tables_show_names_in_chinese_and_keep_the_figures():
    flows = pd.DataFrame({"from_tier": ["(new)", "High value", "Total"],
                          "to_tier": ["Low value", "Middle value", ""],
                          "move": ["new", "down", ""], "customers": [3, 2, 5]})
    shown = dynamics.display_names(flows, "zh")
    assert dynamics.display_names(flows) is flows
    assert shown["customers"].equals(flows["customers"])
    assert shown["from_tier"].tolist() == [zh()["(new)"], zh()["High value"], zh()["Total"]]
    assert shown["move"].tolist() == [zh()["new"], zh()["down"], ""]
    sizes = pd.DataFrame({"2024-01-01": [4, 4]}, index=pd.Index(["Champions", "Total"],
                                                                 name="rfm_segment"))
    shown = dynamics.display_names(sizes, "zh")
    assert shown.index.tolist() == [zh()["Champions"], zh()["Total"]]
    assert shown.index.name == "rfm_segment"
    assert not any(WORD.findall(str(value)) for value in shown.index)


def test_the_cost_table_shows_its_items_in_chinese():
    shown = profit.cost_table_frame(profit.CostTable(), lang="zh")
    assert shown["item"].map(CHINESE.search).all()
    assert profit.cost_table_frame(profit.CostTable())["item"].iloc[0] == "default margin rate"


def test_clustering_comparison_shows_rule_baselines_in_chinese():
    from seglab import cluster

    table = pd.DataFrame({"method": ["kmeans", "rule: rfm_segment"],
                          "kind": ["clustering", "rule baseline"]})
    shown = cluster.display_comparison(table, lang="zh")
    assert shown["method"].tolist() == [
        "kmeans", i18n.text("rule: {name}", "zh", name=i18n.column_label("rfm_segment", "zh"))]
    assert "规则" in shown["method"].iloc[1]
    assert shown["kind"].tolist() == ["聚类", "规则基线"]
    assert cluster.display_comparison(table).equals(table)


def test_segment_rules_name_the_pyramid_levels_in_chinese():
    shown = segments.describe_rules(lang="zh").set_index("rule")["value"]
    assert "铂金" in shown["pyramid_names"] and "Platinum" not in shown["pyramid_names"]
    assert "Platinum (top 1%)" in segments.describe_rules().set_index("rule")["value"][
        "pyramid_names"]
