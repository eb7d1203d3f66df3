"""Stage 6 (notebook 06): what each segment buys."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglab import (
    i18n,
    products,
    segments,
    support,
)
from seglab.errors import ConfigError
from seglab.runfolder import (
    StudyMeta,
    open_for_writing,
)
from seglab.study.common import (
    StageOutput,
    customer_table,
    display_salt,
    show_customers,
    write_output,
)
from seglab.study.source import TransactionLog, open_log
from seglab.study.staging import load_inputs

#: Columns of ``basket_rules.csv``: the rule and its products' names.
RULE_FILE_COLUMNS = [*products.RULE_COLUMNS, "antecedent_name", "consequent_name"]


@dataclass
class ProductsStage:
    """What the products stage produced, for display.

    ``products`` and ``categories`` are the distinguishing items per segment
    (:func:`seglab.products.segment_index`), ``rules`` and ``category_rules`` the basket
    rules (:func:`seglab.products.basket_rules`), ``offers`` the next-product offers and
    ``evaluation`` their precision and recall at N against the segment's best sellers.
    Tables of a skipped section are empty and ``notes`` says why.
    """

    segment_col: str
    products: pd.DataFrame
    categories: pd.DataFrame
    standout: pd.DataFrame
    rules: pd.DataFrame
    rules_view: pd.DataFrame
    category_rules: pd.DataFrame
    pairs: pd.DataFrame
    offers: pd.DataFrame
    evaluation: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    sample_note: str = ""
    summary: str = ""
    output: StageOutput = field(default_factory=StageOutput, repr=False)


def products_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    min_support: float = products.PRODUCT_RULES.min_support,
    min_confidence: float = products.PRODUCT_RULES.min_confidence,
    min_pair_orders: int = products.PRODUCT_RULES.min_pair_orders,
    max_rules: int = products.PRODUCT_RULES.max_rules,
    min_buyers: int = products.PRODUCT_RULES.min_buyers,
    top_products: int = products.PRODUCT_RULES.top_products,
    top_n: int = products.PRODUCT_RULES.top_n,
    holdout_days: int = products.PRODUCT_RULES.holdout_days,
) -> ProductsStage:
    """Find what each segment buys: distinguishing items, basket rules, offers.

    Writes ``segment_products.csv`` and ``segment_categories.csv`` (retail index per
    segment and item), ``basket_rules.csv`` and ``category_rules.csv`` (pairwise rules per
    segment), ``recommendations.csv`` (``top_n`` offers per customer) and records the
    ``products`` metrics, with the offers' precision and recall at N after a time split,
    against the segment's best sellers. A log without product ids (or categories) skips
    those sections with a note.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to describe (``cluster`` or a rule segment column).
    min_support, min_confidence, min_pair_orders : float or int
        Rule thresholds (:func:`seglab.products.basket_rules`).
    max_rules : int
        Most rules per segment written to ``basket_rules.csv`` and shown (highest lift
        first; 0: all); the offers use every rule.
    min_buyers, top_products : int
        Fewest segment buyers of a ranked item, and items listed per segment.
    top_n : int
        Offers per customer.
    holdout_days : int
        Days at the end kept out to evaluate the offers (shrunk to a third of the span).

    Returns
    -------
    ProductsStage
        Tables for the report.

    Raises
    ------
    ConfigError
        For an unknown segment column or a threshold out of range.
    """
    run = open_for_writing(run_dir)
    table = customer_table(run.path, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(run.path, lines=False)
    result = compute_products(
        table, open_log(inputs), inputs.meta, segment_col=segment_col,
        pii_salt=display_salt(run, inputs.meta), options=products.ProductRules(
            min_support=min_support, min_confidence=min_confidence,
            min_pair_orders=min_pair_orders, max_rules=max_rules, min_buyers=min_buyers,
            top_products=top_products, top_n=top_n, holdout_days=holdout_days))
    write_output(run, result.output)
    return result


def compute_products(table: pd.DataFrame, log: TransactionLog, meta: StudyMeta, *,
                     segment_col: str, options: products.ProductRules,
                     pii_salt: str | None = None) -> ProductsStage:
    """Compute each segment's distinguishing items, basket rules and offers, and check them.

    ``table`` is the customer table, ``options`` holds :func:`products_stage`'s thresholds
    and ``meta`` gives the language, analysis date and what the log supports. The items
    and offers come from the log's lines (a large log's customer sample), the rules from
    every order. Nothing is written. ``pii_salt`` pseudonymises the customers shown in
    ``offers`` (:func:`seglab.study.common.display_salt`; None: shown as they are).

    Raises
    ------
    ConfigError
        For a ``segment_col`` not in ``table`` or a threshold out of range.
    """
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    lang, found = meta.lang, meta.support
    transactions = log.lines()
    segment_of = table.set_index("customer_id")[segment_col].astype(str)
    thresholds = {"min_support": options.min_support, "min_confidence": options.min_confidence,
                  "min_pair_orders": options.min_pair_orders, "max_rules": options.max_rules}
    has_products = found.has("product_id")
    notes = _section_notes(found, lang)
    names = products.item_names(transactions) if has_products else pd.Series(dtype=str)
    index, cats = _distinguishing_items(transactions, segment_of, found, options)
    rules = every_rule = pd.DataFrame(columns=RULE_FILE_COLUMNS)
    offers = pd.DataFrame(columns=["customer_id", "rank", "product_id", "product_name",
                                   "score", "reason"])
    evaluation = pd.DataFrame()
    if has_products:
        every_rule = log.basket_rules(segment_of, item_col="product_id",
                                      **{**thresholds, "max_rules": 0})
        offers = products.recommend(transactions, segment_of, every_rule,
                                    top_n=options.top_n, names=names)
        rules = _rules_written(every_rule, names, options.max_rules)
        evaluation, notes["offer_evaluation"] = _offer_check(
            transactions, segment_of, meta, options, thresholds)
    category_rules = log.basket_rules(segment_of, item_col="category", **thresholds) \
        if found.has("category") else pd.DataFrame(columns=list(products.RULE_COLUMNS))
    standout, standout_frame = _standout(cats, lang)
    metrics = {
        "segment_col": segment_col, **thresholds, "min_buyers": options.min_buyers,
        "top_n": options.top_n, "products_listed": len(index), "categories_listed": len(cats),
        "rules": len(every_rule), "rules_written": len(rules),
        "category_rules": len(category_rules),
        "rules_per_segment": every_rule.groupby("segment").size().to_dict()
        if len(every_rule) else {},
        "customers_offered": int(offers["customer_id"].nunique()) if len(offers) else 0,
        "offers_from_rules": int(offers["reason"].str.startswith("often").sum())
        if len(offers) else 0,
        "evaluation": evaluation.to_dict("records"),
        "rules_beat_best_sellers": _rules_beat_best_sellers(evaluation),
        "standout": standout.to_dict(),
    }
    output = StageOutput(
        files={"segment_products": index, "segment_categories": cats,
               "basket_rules": rules[RULE_FILE_COLUMNS], "category_rules": category_rules,
               "recommendations": offers},
        metrics={"products": metrics}, sections=notes)
    return ProductsStage(
        segment_col=segment_col,
        products=_products_view(index, "product_id", 5, lang),
        categories=_products_view(cats, "category", 3, lang),
        standout=standout_frame, rules=rules,
        rules_view=products.rules_view(rules, names=names, lang=lang),
        category_rules=category_rules,
        pairs=products.top_pairs(rules, names=names, lang=lang),
        offers=products.display_offers(show_customers(offers.head(3 * options.top_n), pii_salt),
                                       lang),
        evaluation=products.display_evaluation(evaluation, lang),
        notes=notes,
        sample_note=log.inputs.sample_note(
            whole=i18n.text("The customer segments and the basket rules", lang),
            sampled=i18n.text("the distinguishing products, the offers and their check",
                              lang), lang=lang),
        summary=products.offer_summary(
            evaluation, days=found.fit_days(options.holdout_days, share=1 / 3), lang=lang),
        output=output,
    )


def _section_notes(found: support.DataSupport, lang: str) -> dict[str, str]:
    """Say which sections the log's columns leave out (the offer check's note comes later)."""
    return {
        "segment_products": found.missing_note(
            ("product_id",), i18n.text("what each segment buys", lang), lang=lang),
        "segment_categories": found.missing_note(
            ("category",), i18n.text("showing which categories each segment buys", lang),
            lang=lang),
        "basket_rules": found.missing_note(
            ("product_id",), i18n.text("what sells together", lang), lang=lang)
        or found.order_note(lang=lang),
        "offers": found.missing_note(
            ("product_id",), i18n.text("offering each customer a next product", lang),
            lang=lang),
        "offer_evaluation": found.missing_note(
            ("product_id",), i18n.text("checking the offers", lang), lang=lang),
    }


def _distinguishing_items(transactions: pd.DataFrame, segment_of: pd.Series,
                          found: support.DataSupport, options: products.ProductRules
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Index each segment's products and categories (empty tables when the log has none)."""
    index = pd.DataFrame(columns=["segment", "product_id", "product_name", "buyers_index"])
    cats = pd.DataFrame(columns=["segment", "category", "buyers_index"])
    if found.has("product_id"):
        index = products.segment_index(transactions, segment_of, min_buyers=options.min_buyers,
                                       top=options.top_products)
    if found.has("category"):
        cats = products.segment_index(transactions, segment_of, item_col="category",
                                      name_col=None, min_buyers=options.min_buyers,
                                      top=options.top_products)
    return index, cats


def _rules_written(every_rule: pd.DataFrame, names: pd.Series, max_rules: int
                   ) -> pd.DataFrame:
    """Keep the ``max_rules`` strongest product rules of each segment; add product names."""
    rules = every_rule.groupby("segment", sort=False).head(max_rules) if max_rules \
        else every_rule
    rules = rules.reset_index(drop=True)
    rules["antecedent_name"] = rules["antecedent"].map(names)
    rules["consequent_name"] = rules["consequent"].map(names)
    return rules


def _offer_check(transactions: pd.DataFrame, segment_of: pd.Series, meta: StudyMeta,
                 options: products.ProductRules, thresholds: dict[str, float]
                 ) -> tuple[pd.DataFrame, str]:
    """Score the offers on a time split: the scores (empty when skipped) and the note."""
    found, lang = meta.support, meta.lang
    days = found.fit_days(options.holdout_days, share=1 / 3)
    if not days:
        return pd.DataFrame(), i18n.text(
            "Skipped: {span} days of history are too few to keep {days} or more days out "
            "to check the offers.", lang, span=found.span_days, days=support.MIN_WINDOW_DAYS)
    checked = products.evaluate_offers(transactions, segment_of, as_of=meta.as_of,
                                       holdout_days=days, top_n=options.top_n, **thresholds)
    if not checked.scores["customers"].iloc[0]:
        return pd.DataFrame(), i18n.text(
            "Skipped: no customer who bought before {cutoff} bought a product new to "
            "them after it.", lang, cutoff=checked.cutoff.date())
    if days != options.holdout_days:
        return checked.scores, i18n.text(
            "The offer check keeps out the last {days} days instead of {asked}: the log "
            "covers {span} days.", lang, days=days, asked=options.holdout_days,
            span=found.span_days)
    return checked.scores, ""


def _rules_beat_best_sellers(evaluation: pd.DataFrame) -> bool | None:
    """Whether the offers led by rules beat the best sellers' precision (None: unchecked)."""
    if evaluation.empty:
        return None
    precision = evaluation.set_index("method")["precision_at_n"]
    return bool(precision["segment rules"] > precision["segment best sellers"])


def _standout(cats: pd.DataFrame, lang: str) -> tuple[pd.Series, pd.DataFrame]:
    """Each segment's standout categories: in English (for metrics), and as a display table."""
    standout = products.standout_text(cats) if not cats.empty else pd.Series(dtype=str)
    if not len(standout):
        return standout, pd.DataFrame()
    if lang == "en":
        return standout, standout.rename_axis("segment").reset_index()
    shown = products.standout_text(cats, lang=lang).rename_axis("segment").reset_index()
    shown["segment"] = shown["segment"].map(lambda name: segments.segment_label(name, lang))
    return standout, shown


def _products_view(index: pd.DataFrame, item_col: str, top: int,
                   lang: str = "en") -> pd.DataFrame:
    """Tabulate the top distinguishing items of each segment, with readable names."""
    if index.empty:
        return pd.DataFrame()
    shown = index[index["rank_index"].notna() & (index["rank_index"] <= top)]
    if lang != "en":
        shown = shown.assign(segment=shown["segment"].map(
            lambda name: segments.segment_label(name, lang)))
    keep = {"segment": "segment", item_col: item_col, "product_name": "product",
            "buyers": "buyers", "penetration": "share of segment buying",
            "buyers_index": "buyers index", "revenue_index": "revenue index",
            "revenue": "revenue"}
    return shown[[c for c in keep if c in shown]].rename(columns=keep).reset_index(drop=True)
