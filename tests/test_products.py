"""What each segment buys: retail index, basket rules, offers and their evaluation."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from seglab import i18n, products, study, synth
from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError
from seglab.runfolder import read_json
from seglab.study.clean import load_clean_transactions


def _line(customer: str, order: str, product: str, day: str, amount: float = 10.0, *,
          category: str = "C", returned: bool = False) -> dict:
    sign = -1 if returned else 1
    return {"customer_id": customer, "order_id": order, "order_date": pd.Timestamp(day),
            "product_id": product, "product_name": f"name {product}", "category": category,
            "quantity": sign * 1.0, "amount": sign * amount, "is_return": returned}


@pytest.fixture
def tiny() -> tuple[pd.DataFrame, pd.Series]:
    """Four customers in two segments; one return and one free line to be ignored."""
    rows = [
        _line("a", "o1", "X", "2024-01-01", 30, category="Beauty"),
        _line("a", "o1", "Y", "2024-01-01", 10),
        _line("a", "o2", "X", "2024-02-01", 30, category="Beauty"),
        _line("b", "o3", "X", "2024-01-05", 20, category="Beauty"),
        _line("b", "o3", "Z", "2024-01-05", 5),
        _line("c", "o4", "Y", "2024-01-07", 10),
        _line("c", "o5", "Z", "2024-01-08", 5),
        _line("c", "r1", "X", "2024-01-09", 30, category="Beauty", returned=True),
        _line("d", "o6", "Y", "2024-01-10", 0),  # free line: not a sale
    ]
    segments = pd.Series({"a": "A", "b": "A", "c": "B", "d": "B"}, name="segment")
    return pd.DataFrame(rows), segments


def test_sales_lines_drop_returns_and_free_lines(tiny):
    lines = products.sales_lines(tiny[0])
    assert set(lines["order_id"]) == {"o1", "o2", "o3", "o4", "o5"}


def test_retail_index_arithmetic_on_a_hand_made_log(tiny):
    transactions, segments = tiny
    index = products.segment_index(transactions, segments, min_buyers=1, top=5)
    row = index.set_index(["segment", "product_id"])
    # X: buyers a, b (both A); A holds 2 of 4 customers: (2/2) / (2/4) * 100 = 200.
    assert row.loc[("A", "X"), "buyers"] == 2
    assert row.loc[("A", "X"), "buyers_index"] == pytest.approx(200.0)
    assert row.loc[("A", "X"), "penetration"] == pytest.approx(1.0)
    # Y: buyers a (A) and c (B; d's free line is no sale): (1/2) / (2/4) * 100 = 100.
    assert row.loc[("B", "Y"), "buyers_index"] == pytest.approx(100.0)
    # Revenue of X: all 80 in A; A's sales 95 of 110: (80/80) / (95/110) * 100.
    assert row.loc[("A", "X"), "revenue_index"] == pytest.approx(100 * 110 / 95)
    assert row.loc[("A", "X"), "product_name"] == "name X"
    assert row.loc[("A", "X"), "rank_index"] == 1
    # Segment B's best by revenue: Y and Z both 10 and 5 -> Y first.
    assert row.loc[("B", "Y"), "rank_revenue"] == 1


def test_index_needs_enough_buyers_to_rank(tiny):
    transactions, segments = tiny
    index = products.segment_index(transactions, segments, min_buyers=2, top=5)
    ranked = index[index["rank_index"].notna()]
    assert list(ranked["product_id"]) == ["X"]  # the only item 2 customers of a segment bought
    assert index["rank_revenue"].notna().all()  # best sellers are listed whatever their size


def test_standout_sentence_says_how_many_times_as_often(tiny):
    transactions, segments = tiny
    cats = products.segment_index(transactions, segments, item_col="category",
                                  name_col=None, min_buyers=1)
    text = products.standout_text(cats)
    # Beauty: a and b of 4 customers, both in A (2/4 of all): 2.0; C: a, b of a, b, c: 1.3.
    assert text["A"] == "buys Beauty 2.0x, C 1.3x as often as the average customer"
    assert "B" not in text  # B buys nothing more often than average
    assert products.standout_text(cats, min_index=1000).empty  # nothing stands out


def test_rules_equal_a_plain_recount_from_orders(tiny):
    transactions, segments = tiny
    rules = products.basket_rules(products.baskets(transactions, segments), min_support=0.1,
                                  min_confidence=0.1, min_pair_orders=1, max_rules=0)
    a = rules[rules["segment"] == "A"].set_index(["antecedent", "consequent"])
    # Segment A's orders: o1 {X, Y}, o2 {X}, o3 {X, Z}.
    assert sorted(a.index) == [("X", "Y"), ("X", "Z"), ("Y", "X"), ("Z", "X")]
    xy = a.loc[("X", "Y")]
    assert xy["support"] == pytest.approx(1 / 3)
    assert xy["confidence"] == pytest.approx(1 / 3)
    assert xy["lift"] == pytest.approx((1 / 3) / (1 / 3))
    assert xy["leverage"] == pytest.approx(1 / 3 - 1 * 1 / 3)
    assert a.loc[("Y", "X"), "confidence"] == pytest.approx(1.0)
    assert np.isinf(a.loc[("Y", "X"), "conviction"])
    assert (rules["segment"] == "B").sum() == 0  # c's orders hold one item each


def _random_baskets(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for segment, n_orders in (("s1", 300), ("s2", 120)):
        weights = rng.dirichlet(np.ones(12))
        for o in range(n_orders):
            size = int(rng.integers(1, 6))
            items = rng.choice(12, size=size, replace=False, p=weights)
            rows += [(segment, f"{segment}-{o}", f"I{i:02d}") for i in items]
    return pd.DataFrame(rows, columns=["segment", "order_id", "item"])


def test_sql_rules_equal_mlxtend_on_the_same_baskets():
    mlxtend = pytest.importorskip("mlxtend.frequent_patterns")
    from mlxtend.preprocessing import TransactionEncoder

    table = _random_baskets()
    ours = products.basket_rules(table, min_support=0.02, min_confidence=0.1,
                                 min_pair_orders=1, max_rules=0)
    assert len(ours) > 20
    for segment, group in table.groupby("segment"):
        orders = group.groupby("order_id")["item"].apply(list).tolist()
        encoder = TransactionEncoder()
        onehot = pd.DataFrame(encoder.fit(orders).transform(orders), columns=encoder.columns_)
        frequent = mlxtend.apriori(onehot, min_support=0.02, use_colnames=True, max_len=2)
        theirs = mlxtend.association_rules(frequent, num_itemsets=len(orders),
                                           metric="confidence", min_threshold=0.1)
        theirs = theirs[(theirs["antecedents"].map(len) == 1)
                        & (theirs["consequents"].map(len) == 1)]
        theirs = theirs.assign(antecedent=theirs["antecedents"].map(lambda s: next(iter(s))),
                               consequent=theirs["consequents"].map(lambda s: next(iter(s))))
        theirs = theirs.set_index(["antecedent", "consequent"]).sort_index()
        mine = ours[ours["segment"] == segment].set_index(
            ["antecedent", "consequent"]).sort_index()
        assert list(mine.index) == list(theirs.index)
        for column in ("support", "confidence", "lift", "leverage", "conviction"):
            np.testing.assert_allclose(mine[column].to_numpy(), theirs[column].to_numpy(),
                                       rtol=1e-12, err_msg=column)


def test_rules_respect_thresholds_and_caps():
    table = _random_baskets()
    rules = products.basket_rules(table, min_support=0.02, min_confidence=0.2,
                                  min_pair_orders=8, max_rules=5)
    assert (rules["support"] >= 0.02).all() and (rules["confidence"] >= 0.2).all()
    assert (rules["both_orders"] >= 8).all()
    assert rules.groupby("segment").size().max() <= 5
    with pytest.raises(ConfigError, match="min_support=0"):
        products.basket_rules(table, min_support=0)


def test_offers_never_include_a_product_bought_before(tiny):
    transactions, segments = tiny
    rules = products.basket_rules(products.baskets(transactions, segments), min_support=0.1,
                                  min_confidence=0.1, min_pair_orders=1)
    offers = products.recommend(transactions, segments, rules, top_n=3)
    had = set(zip(transactions["customer_id"], transactions["product_id"], strict=True))
    assert not any((c, p) in had for c, p in zip(offers["customer_id"], offers["product_id"],
                                                  strict=True))
    # c returned X: a return still means c had it, so X is never offered to c.
    assert "X" not in set(offers.loc[offers["customer_id"] == "c", "product_id"])
    # b bought X and Z; A's rule X -> Y (lift 1) is no reason, so Y comes as a best seller.
    b = offers[offers["customer_id"] == "b"]
    assert list(b["product_id"]) == ["Y"] and b["reason"].iloc[0].startswith("bought by")
    assert list(offers.columns) == ["customer_id", "rank", "product_id", "product_name",
                                    "score", "reason"]


def test_rules_lead_offers_before_best_sellers():
    rows = []
    for k in range(6):  # P and Q go together; R is the best seller
        rows += [_line(f"c{k}", f"o{k}", "P", "2024-01-01"),
                 _line(f"c{k}", f"o{k}", "Q", "2024-01-01"),
                 _line(f"c{k}", f"x{k}", "R", "2024-01-02")]
    rows += [_line(f"d{k}", f"y{k}", "R", "2024-01-03") for k in range(6)]
    rows += [_line("e", "z", "P", "2024-01-04"), _line("e", "z", "S", "2024-01-04")]
    transactions = pd.DataFrame(rows)
    segments = pd.Series("A", index=sorted(transactions["customer_id"].unique()))
    rules = products.basket_rules(products.baskets(transactions, segments), min_support=0.05,
                                  min_confidence=0.5, min_pair_orders=2)
    offers = products.recommend(transactions, segments, rules, top_n=2,
                                names=products.item_names(transactions))
    e = offers[offers["customer_id"] == "e"]
    assert list(e["product_id"]) == ["Q", "R"]
    assert e["reason"].iloc[0].startswith("often bought with name P")
    baseline = products.recommend(transactions, segments, rules, top_n=2, use_rules=False)
    assert list(baseline.loc[baseline["customer_id"] == "e", "product_id"]) == ["R", "Q"]


def test_offer_scores_match_a_hand_computed_precision_and_recall():
    offers = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c"],
                           "product_id": ["X", "Y", "X", "Z", "Y", "Z"]})
    later = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "d"],
                          "product_id": ["X", "Y", "W", "W", "X"]})
    score = products.offer_scores(offers, later, top_n=2)
    # a: 2 hits of 2 offers, 2 of 3 new products; b: 0 hits; c bought nothing new; d no offers.
    assert score["customers"] == 2
    assert score["precision"] == pytest.approx((2 / 2 + 0 / 2) / 2)
    assert score["recall"] == pytest.approx((2 / 3 + 0) / 2)
    assert score["hit_rate"] == pytest.approx(0.5)


def test_evaluation_splits_in_time_and_offers_only_new_products():
    rows = []
    for k in range(20):
        rows += [_line(f"c{k}", f"a{k}", "P", "2024-01-01"),
                 _line(f"c{k}", f"a{k}", "Q", "2024-01-01")]
        # After the split half the customers buy R (the best seller before it) and
        # every one buys Q again (not new: it does not count).
        rows.append(_line(f"c{k}", f"b{k}", "Q", "2024-03-20"))
        if k % 2:
            rows.append(_line(f"c{k}", f"b{k}", "R", "2024-03-20"))
    rows += [_line(f"d{k}", f"e{k}", "R", "2024-01-02") for k in range(5)]
    transactions = pd.DataFrame(rows)
    segments = pd.Series("A", index=sorted(transactions["customer_id"].unique()))
    checked = products.evaluate_offers(transactions, segments, as_of=pd.Timestamp("2024-03-31"),
                                       holdout_days=30, top_n=1, min_support=0.05,
                                       min_confidence=0.1, min_pair_orders=2)
    assert checked.cutoff == pd.Timestamp("2024-03-02")
    scores = checked.scores.set_index("method")
    # The ten c customers who bought R after the split were each offered R (their only
    # product not yet bought): precision and recall at 1 are 1 for both methods.
    assert scores.loc["segment best sellers", "customers"] == 10
    assert scores.loc["segment best sellers", "precision_at_n"] == pytest.approx(1.0)
    assert scores.loc["segment rules", "recall_at_n"] == pytest.approx(1.0)


def test_planted_category_preferences_are_found():
    made = synth.make_study(600, seed=5)
    truth = made.truth.set_index("customer_id")["segment"]
    cats = products.segment_index(made.transactions, truth, item_col="category",
                                  name_col=None, min_buyers=10)
    top = cats[cats["rank_index"] == 1].set_index("segment")["category"]
    # The generator's category weights: big-ticket buyers lean to electronics,
    # bargain hunters to groceries.
    assert top["Big-ticket occasional"] == "Electronics"
    assert top["Bargain hunter"] == "Grocery"


def test_pairs_matrix_holds_lift_per_segment():
    rules = products.basket_rules(_random_baskets(), min_support=0.02, min_confidence=0.05,
                                  min_pair_orders=1, max_rules=0)
    matrix = products.top_pairs(rules, top=4)
    assert matrix.shape[1] == 4 and set(matrix.index) <= {"s1", "s2"}
    first = matrix.columns[0].split(" + ")
    found = rules[(rules["segment"] == "s1") & (rules["antecedent"] == first[0])
                  & (rules["consequent"] == first[1])]
    if len(found):
        assert matrix.loc["s1", matrix.columns[0]] == pytest.approx(found["lift"].iloc[0])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    made = synth.make_study(300, seed=2)
    folder = tmp_path_factory.mktemp("products")
    return made, folder


def _stage_csv(folder, table):
    data = folder / "log.csv"
    table.to_csv(data, index=False)
    study.stage_inputs(folder / "run", data=data)
    return folder / "run"


def test_stage_writes_the_files_with_the_customer_table_segments(small_run):
    made, folder = small_run
    (folder / "full").mkdir()
    run = _stage_csv(folder / "full", made.transactions)
    result = study.products_stage(run, segment_col="rfm_segment", min_buyers=3)
    assert all(note == "" or not note.startswith("Skipped") for note in result.notes.values())
    customers = pd.read_csv(run / "customers.csv", dtype={"customer_id": str})
    rules = pd.read_csv(run / "basket_rules.csv", dtype={"antecedent": str, "consequent": str})
    assert len(rules) and set(rules["segment"]) <= set(customers["rfm_segment"].astype(str))
    assert {"segment", "antecedent", "consequent", "support", "confidence", "lift",
            "leverage", "conviction"} <= set(rules.columns)
    ranked = pd.read_csv(run / "segment_products.csv")
    assert {"segment", "product_id", "product_name", "buyers_index"} <= set(ranked.columns)
    offers = pd.read_csv(run / "recommendations.csv", dtype={"customer_id": str})
    assert offers.groupby("customer_id").size().max() == 5
    history = load_clean_transactions(run)
    had = set(zip(history["customer_id"], history["product_id"], strict=True))
    assert not any(pair in had for pair in zip(offers["customer_id"], offers["product_id"],
                                               strict=True))
    metrics = read_json(run / "metrics.json")
    assert metrics["products"]["rules_written"] == len(rules) <= metrics["products"]["rules"]
    assert {m["method"] for m in metrics["products"]["evaluation"]} == {
        "segment rules", "segment best sellers"}
    assert metrics["sections"]["segment_products"] == {"status": "ran"}


def test_a_chinese_stage_shows_chinese_and_writes_the_english_files(small_run):
    made, folder = small_run
    (folder / "zh").mkdir()
    data = folder / "zh" / "log.csv"
    made.transactions.to_csv(data, index=False)
    study.stage_inputs(folder / "zh" / "run", data=data, lang="zh")
    run = folder / "zh" / "run"
    result = study.products_stage(run, segment_col="rfm_segment", min_buyers=3)
    assert CHINESE.search(result.summary) and not WORD.findall(result.summary)
    assert result.offers["reason"].map(CHINESE.search).all()
    assert result.evaluation["method"].map(CHINESE.search).all()
    for table in (result.rules_view, result.products, result.standout):
        assert table["segment"].map(CHINESE.search).all()
    offers = pd.read_csv(run / "recommendations.csv")
    assert not offers["reason"].map(CHINESE.search).any()
    metrics = read_json(run / "metrics.json")["products"]
    assert {m["method"] for m in metrics["evaluation"]} == {"segment rules",
                                                           "segment best sellers"}
    assert metrics["offers_from_rules"] > 0


def test_a_log_without_products_gets_empty_outputs_and_a_note(small_run):
    made, folder = small_run
    (folder / "bare").mkdir()
    run = _stage_csv(folder / "bare",
                     made.transactions.drop(columns=["product_id", "product_name", "category"]))
    result = study.products_stage(run, segment_col="rfm_segment")
    assert result.notes["segment_products"] == (
        "Skipped: what each segment buys needs a column product_id, and this log has none.")
    assert result.notes["offers"].startswith("Skipped")
    assert result.notes["segment_categories"].startswith("Skipped")
    for name in ("segment_products.csv", "basket_rules.csv", "recommendations.csv",
                 "segment_categories.csv", "category_rules.csv"):
        assert pd.read_csv(run / name).empty, name
    assert result.rules_view.empty and result.pairs.empty and result.evaluation.empty
    sections = read_json(run / "metrics.json")["sections"]
    assert sections["basket_rules"]["status"] == "skipped"


def test_every_pair_is_counted_once_per_order():
    table = pd.DataFrame(
        [("s", f"o{k}", item) for k in range(10) for item in ("A", "B", "C")]
        + [("s", "o10", "A")], columns=["segment", "order_id", "item"])
    rules = products.basket_rules(table, min_support=0.1, min_confidence=0.1,
                                  min_pair_orders=1, max_rules=0)
    assert len(rules) == len(list(itertools.permutations("ABC", 2)))
    assert (rules["both_orders"] == 10).all() and (rules["orders"] == 11).all()


def test_rules_of_a_partitioned_log_equal_those_in_memory(tmp_path):
    table = _random_baskets()
    lines = table.rename(columns={"item": "product_id"}).assign(
        customer_id=lambda t: "c" + t["order_id"].str.split("-").str[1].str.zfill(3)
        + t["segment"], amount=10.0, quantity=1.0, is_return=False)
    lines.loc[lines.index[::17], "is_return"] = True  # returns are no sales
    lines.loc[lines.index[::23], "amount"] = 0.0  # nor are free lines
    segments = lines.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    for bucket, part in enumerate((lines.iloc[::2], lines.iloc[1::2])):
        (tmp_path / f"bucket={bucket}").mkdir()
        part.drop(columns="segment").to_parquet(tmp_path / f"bucket={bucket}" / "0.parquet")
    options = {"min_support": 0.02, "min_confidence": 0.1, "min_pair_orders": 2,
               "max_rules": 0}
    ours = products.partition_rules(str(tmp_path / "*" / "*.parquet"), segments, **options)
    expected = products.basket_rules(products.baskets(lines, segments), **options)
    assert len(expected) > 10
    pd.testing.assert_frame_equal(ours, expected)


def test_rules_equal_a_python_recount_of_one_segments_orders():
    table = _random_baskets(seed=4)
    rules = products.basket_rules(table, min_support=0.01, min_confidence=0.01,
                                  min_pair_orders=1, max_rules=0)
    orders = [set(items) for _, items in
              table[table["segment"] == "s2"].groupby("order_id")["item"]]
    n = len(orders)
    single = {i: sum(i in o for o in orders) for i in set().union(*orders)}
    expected = {}
    for a, c in itertools.permutations(sorted(single), 2):
        both = sum(a in o and c in o for o in orders)
        if both / n >= 0.01 and both / single[a] >= 0.01:
            expected[(a, c)] = (both / n, both / single[a], both / single[a] / (single[c] / n))
    mine = rules[rules["segment"] == "s2"].set_index(["antecedent", "consequent"])
    assert sorted(mine.index) == sorted(expected)
    for pair, (support, confidence, lift) in expected.items():
        assert mine.loc[pair, ["support", "confidence", "lift"]].tolist() == pytest.approx(
            [support, confidence, lift], rel=1e-12)


def test_one_segments_rules_on_the_online_retail_log_equal_mlxtend_and_a_recount():
    from conftest import SHARED_RETAIL

    if not SHARED_RETAIL.exists():
        pytest.skip("UCI Online Retail log not available")
    mlxtend = pytest.importorskip("mlxtend.frequent_patterns")
    from mlxtend.preprocessing import TransactionEncoder

    from seglab import clean, io

    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    kept = clean.clean_transactions(raw, as_of=default_as_of(raw)).transactions
    # One segment: the customers outside the United Kingdom (about 1,800 orders).
    country = kept.groupby("customer_id")["country"].first()
    segments = country.eq("United Kingdom").map({True: "UK", False: "abroad"})
    table = products.baskets(kept, segments)
    rules = products.basket_rules(table, min_support=0.02, min_confidence=0.3,
                                  min_pair_orders=1, max_rules=0)
    mine = rules[rules["segment"] == "abroad"].set_index(["antecedent", "consequent"])
    assert len(mine) > 10

    orders = table[table["segment"] == "abroad"].groupby("order_id")["item"].apply(list)
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(orders.tolist()).transform(orders.tolist()),
                          columns=encoder.columns_)
    frequent = mlxtend.apriori(onehot, min_support=0.02, use_colnames=True, max_len=2)
    theirs = mlxtend.association_rules(frequent, num_itemsets=len(orders),
                                       metric="confidence", min_threshold=0.3)
    theirs = theirs[theirs["antecedents"].map(len).eq(1) & theirs["consequents"].map(len).eq(1)]
    theirs.index = pd.MultiIndex.from_arrays(
        [theirs["antecedents"].map(lambda s: next(iter(s))),
         theirs["consequents"].map(lambda s: next(iter(s)))])
    assert sorted(mine.index) == sorted(theirs.index)
    for column in ("support", "confidence", "lift", "leverage"):
        np.testing.assert_allclose(mine.sort_index()[column], theirs.sort_index()[column],
                                   rtol=1e-12, err_msg=column)

    # And a plain recount of the segment's orders, rule by rule.
    baskets = [set(items) for items in orders]
    for (a, c), rule in mine.iterrows():
        both = sum(a in b and c in b for b in baskets)
        with_a = sum(a in b for b in baskets)
        assert rule["support"] == pytest.approx(both / len(baskets), rel=1e-12)
        assert rule["confidence"] == pytest.approx(both / with_a, rel=1e-12)


CHINESE = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def _template_words() -> set[str]:
    """English words of the catalog's templates, their {fields} left out."""
    return {word for message in i18n.catalog("zh")
            for word in WORD.findall(re.sub(r"\{[^}]*\}", "", message))}


def _scores(rule_p: float, base_p: float) -> pd.DataFrame:
    return pd.DataFrame({"method": ["segment rules", "segment best sellers"],
                         "precision_at_n": [rule_p, base_p], "recall_at_n": [0.2, 0.1],
                         "hit_rate": [0.3, 0.2], "customers": [1234, 1234], "n": [5, 5]})


def test_the_offer_summary_in_english_and_chinese():
    assert products.offer_summary(_scores(0.085, 0.05), days=90) == (
        "Offers led by the segment's basket rules beat the segment's best sellers: precision "
        "at 5 8.5% against 5.0%, recall 20.0% against 10.0%, over 1,234 customers who bought "
        "something new to them in the last 90 days.")
    assert " do not beat " in products.offer_summary(_scores(0.01, 0.05), days=90)
    assert products.offer_summary(pd.DataFrame(), days=90, lang="zh") == ""
    for rule_p in (0.085, 0.05, 0.01):
        shown = products.offer_summary(_scores(rule_p, 0.05), days=90, lang="zh")
        assert CHINESE.search(shown) and not set(WORD.findall(shown)) & _template_words()
        assert "1,234" in shown and f"{rule_p:.1%}" in shown


def test_offers_and_methods_shown_in_chinese_keep_the_data():
    rows = []
    for k in range(6):
        rows += [_line(f"c{k}", f"o{k}", "P", "2024-01-01"),
                 _line(f"c{k}", f"o{k}", "Q", "2024-01-01"),
                 _line(f"c{k}", f"x{k}", "R", "2024-01-02")]
    rows += [_line("e", "z", "P", "2024-01-04"), _line("e", "z", "S", "2024-01-04")]
    transactions = pd.DataFrame(rows)
    segments = pd.Series("Champions", index=sorted(transactions["customer_id"].unique()))
    rules = products.basket_rules(products.baskets(transactions, segments), min_support=0.05,
                                  min_confidence=0.5, min_pair_orders=2)
    offers = products.recommend(transactions, segments, rules, top_n=2,
                                names=products.item_names(transactions))
    assert products.display_offers(offers) is offers
    shown = products.display_offers(offers, "zh")
    assert shown.drop(columns="reason").equals(offers.drop(columns="reason"))
    assert shown["reason"].map(CHINESE.search).all()
    e = shown[shown["customer_id"] == "e"]["reason"]
    assert "name P" in e.iloc[0]  # the product's name is data
    assert not (set(WORD.findall(e.iloc[0])) - {"name", "P"}) & _template_words()
    view = products.rules_view(rules, names=products.item_names(transactions), lang="zh")
    assert set(view["segment"]) == {i18n.text("Champions", "zh")}
    assert products.rules_view(rules).equals(products.rules_view(rules, lang="en"))
    assert list(products.top_pairs(rules, lang="zh").index) == [i18n.text("Champions", "zh")]
    scores = _scores(0.1, 0.05)
    assert products.display_evaluation(scores) is scores
    methods = products.display_evaluation(scores, "zh")["method"]
    assert methods.map(CHINESE.search).all() and methods.nunique() == 2
