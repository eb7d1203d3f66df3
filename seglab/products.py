"""What each segment buys: distinguishing products, basket rules and next-product offers.

Three pure steps on the clean transactions and a customer → segment map:

* :func:`segment_index` — the retail index of every product (or category) per segment:
  the segment's share of the item's buyers over its share of all customers, x 100 (and
  the same for revenue), kept only where enough of the segment's customers bought it.
* :func:`basket_rules` — pairwise association rules per segment, counted in DuckDB SQL
  as co-occurrence of two items in one order (the same SQL runs on a partitioned log).
* :func:`recommend` and :func:`evaluate_offers` — the top products a customer's segment
  rules and best sellers suggest that the customer has not bought, and their precision
  and recall against what customers bought after a time split.

Baskets are orders of sales lines only: returns, cancellations, adjustments and free
lines are left out (:func:`sales_lines`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import duckdb
import pandas as pd

from seglab import i18n
from seglab.analysis_date import day_end
from seglab.errors import ConfigError
from seglab.segments import segment_label


@dataclass(frozen=True)
class ProductRules:
    """Thresholds of the product analysis (the notebook's parameters override them).

    Attributes
    ----------
    min_support : float
        Smallest share of a segment's orders that must hold both items of a rule.
    min_confidence : float
        Smallest share of the orders holding the antecedent that also hold the consequent.
    min_pair_orders : int
        Fewest orders that must hold both items (keeps a rule of a small segment from
        resting on one or two orders).
    max_rules : int
        Most rules written and shown per segment (highest lift first); 0 keeps all. Offers
        use every rule: on the UCI log, capping them at 100 per segment cut their
        precision at 5 from 8.5% to 5.1%.
    min_buyers : int
        Fewest customers of a segment who bought an item for its index to count.
    top_products : int
        Products listed per segment and ranking (index, revenue, buyers).
    top_n : int
        Offers per customer.
    holdout_days : int
        Days at the end of the log the offer evaluation keeps out.
    """

    min_support: float = 0.002
    min_confidence: float = 0.05
    min_pair_orders: int = 5
    max_rules: int = 100
    min_buyers: int = 10
    top_products: int = 10
    top_n: int = 5
    holdout_days: int = 90


#: Default thresholds.
PRODUCT_RULES = ProductRules()


def _check_share(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ConfigError(f"{name}={value!r} should be a share above 0 and at most 1.")


def sales_lines(transactions: pd.DataFrame, *, item_col: str = "product_id",
                return_col: str = "is_return") -> pd.DataFrame:
    """Keep the lines that are sales of an item: positive quantity and amount, no return.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean transactions, one row per line, with ``customer_id``, ``order_id``,
        ``amount``, ``item_col`` and optionally ``quantity`` and ``return_col``.
    item_col : str
        The item column (``product_id`` or ``category``).
    return_col : str
        Boolean column flagging returns and cancellations (absent: none).

    Returns
    -------
    pandas.DataFrame
        The sales lines with a known customer, order and item (a new table).
    """
    keep = (transactions["amount"] > 0).fillna(False)
    if "quantity" in transactions:
        keep &= (transactions["quantity"] > 0).fillna(False)
    if return_col in transactions:
        keep &= ~transactions[return_col].fillna(False).astype(bool)
    for column in ("customer_id", "order_id", item_col):
        keep &= transactions[column].notna()
    return transactions.loc[keep.to_numpy()].copy()


def _segment_of(lines: pd.DataFrame, segments: pd.Series) -> pd.Series:
    """Segment (as text) of each line's customer; missing for customers not in the map."""
    labels = segments.astype(str)
    labels.index = labels.index.astype(str)
    return lines["customer_id"].astype(str).map(labels)


def segment_index(
    transactions: pd.DataFrame,
    segments: pd.Series,
    *,
    item_col: str = "product_id",
    name_col: str | None = "product_name",
    min_buyers: int = PRODUCT_RULES.min_buyers,
    top: int = PRODUCT_RULES.top_products,
) -> pd.DataFrame:
    """Rank each segment's items by retail index, revenue and buyers.

    The buyers index is the segment's share of the item's buyers over the segment's share
    of all customers, x 100: 340 means the segment's customers buy the item 3.4 times as
    often as the average customer. The revenue index is the same with revenue.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean transactions, one row per line (sales lines are taken by
        :func:`sales_lines`).
    segments : pandas.Series
        Segment of every customer, indexed by ``customer_id`` (all customers: those who
        bought no item count in the segment's size).
    item_col : str
        ``product_id`` or ``category``.
    name_col : str or None
        A readable name of the item (:func:`item_names`; the id where the log has no
        names), or None.
    min_buyers : int
        Fewest segment customers who bought the item for it to be ranked by index.
    top : int
        Items kept per segment in each ranking; an item in any of the three is listed.

    Returns
    -------
    pandas.DataFrame
        One row per segment and listed item, sorted by segment and ``rank_index``:
        ``segment`` (text), ``item_col``, ``name_col``, ``buyers`` (segment customers who
        bought it), ``segment_customers``, ``penetration`` (buyers / segment customers),
        ``all_buyers``, ``buyers_index``, ``revenue``, ``revenue_index``,
        ``revenue_share`` (of the segment's item revenue), and ``rank_index``,
        ``rank_revenue``, ``rank_buyers`` (1 = first; ``rank_index`` is empty where
        ``buyers < min_buyers``).

    Raises
    ------
    ConfigError
        If ``min_buyers`` or ``top`` is below 1.
    """
    if min_buyers < 1 or top < 1:
        raise ConfigError(f"min_buyers={min_buyers!r} and top={top!r} should be 1 or more.")
    name_col = name_col if name_col and name_col != item_col else None
    columns = ["segment", item_col, *([name_col] if name_col else []), "buyers",
               "segment_customers", "penetration", "all_buyers", "buyers_index", "revenue",
               "revenue_index", "revenue_share", "rank_index", "rank_revenue", "rank_buyers"]
    lines = sales_lines(transactions, item_col=item_col)
    lines["segment"] = _segment_of(lines, segments)
    lines = lines[lines["segment"].notna()]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    sizes = segments.astype(str).value_counts()
    customers = float(len(segments))
    lines[item_col] = lines[item_col].astype(str)
    # Sums in one order whatever the order of the lines (a bucketed log's differs).
    lines = lines.sort_values(["segment", item_col, "customer_id", "order_id", "amount"],
                              kind="mergesort")
    grouped = lines.groupby(["segment", item_col], sort=True)
    table = pd.DataFrame({"buyers": grouped["customer_id"].nunique(),
                          "revenue": grouped["amount"].sum()}).reset_index()
    all_buyers = lines.groupby(item_col)["customer_id"].nunique()
    all_revenue = lines.groupby(item_col)["amount"].sum()
    segment_revenue = lines.groupby("segment")["amount"].sum()
    table["segment_customers"] = table["segment"].map(sizes).astype(int)
    table["penetration"] = table["buyers"] / table["segment_customers"]
    table["all_buyers"] = table[item_col].map(all_buyers).astype(int)
    table["buyers_index"] = 100 * (table["buyers"] / table["all_buyers"]) / (
        table["segment_customers"] / customers)
    total = float(lines["amount"].sum())
    table["revenue_index"] = 100 * (table["revenue"] / table[item_col].map(all_revenue)) / (
        table["segment"].map(segment_revenue) / total)
    table["revenue_share"] = table["revenue"] / table["segment"].map(segment_revenue)
    if name_col:
        table[name_col] = table[item_col].map(
            item_names(transactions, item_col=item_col, name_col=name_col))

    def rank(values: pd.DataFrame, by: list[str]) -> pd.Series:
        ordered = values.sort_values(["segment", *by], ascending=[True] + [False] * (
            len(by) - 1) + [True], kind="mergesort")
        return ordered.groupby("segment").cumcount().add(1).reindex(values.index)

    supported = table[table["buyers"] >= min_buyers]
    table["rank_index"] = rank(supported, ["buyers_index", "buyers", item_col])
    table["rank_revenue"] = rank(table, ["revenue", item_col])
    table["rank_buyers"] = rank(table, ["buyers", "revenue", item_col])
    listed = (table[["rank_index", "rank_revenue", "rank_buyers"]] <= top).any(axis=1)
    table = table[listed].copy()
    table["rank_index"] = table["rank_index"].astype("Int64")
    return table.sort_values(["segment", "rank_index", "rank_revenue"],
                             na_position="last", kind="mergesort")[columns].reset_index(
        drop=True)


def standout_text(index: pd.DataFrame, *, item_col: str = "category", top: int = 2,
                  min_index: float = 110.0, lang: str = "en") -> pd.Series:
    """One sentence per segment naming the items it buys most above the average customer.

    Parameters
    ----------
    index : pandas.DataFrame
        Output of :func:`segment_index`.
    item_col : str
        Column naming the items in the sentence.
    top : int
        Items named per segment.
    min_index : float
        Smallest buyers index worth saying (110: 10% more often than average).
    lang : {"en", "zh"}
        The report's language (item names are data and stay).

    Returns
    -------
    pandas.Series
        Text such as ``"buys Beauty 3.4x as often as the average customer"``, indexed
        by segment; segments without such an item are absent.
    """
    ranked = index[index["rank_index"].notna() & (index["buyers_index"] >= min_index)]
    ranked = ranked.sort_values(["segment", "rank_index"]).groupby("segment").head(top)
    if ranked.empty:
        return pd.Series(dtype=str, name="standout").rename_axis("segment")
    def sentence(rows: pd.DataFrame) -> str:
        items = ""
        for item, ix in zip(rows[item_col], rows["buyers_index"], strict=True):
            one = i18n.text("{item} {times:.1f}x", lang, item=item, times=ix / 100)
            items = i18n.text("{items}, {item}", lang, items=items, item=one) if items else one
        return i18n.text("buys {items} as often as the average customer", lang, items=items)

    return ranked.groupby("segment").apply(sentence, include_groups=False).rename("standout")


# --- Basket rules ------------------------------------------------------------------------

#: Pairwise rules of every segment in one query. ``baskets(segment, order_id, item)``
#: holds distinct items per order; ``$min_support``, ``$min_confidence`` and
#: ``$min_pair_orders`` are the thresholds. Items below the support threshold on their own
#: cannot be in a rule above it, so they are pruned before the self-join (as apriori does).
RULES_SQL = """
WITH orders AS (
    SELECT segment, count(DISTINCT order_id) AS n FROM baskets GROUP BY segment
), items AS (
    SELECT b.segment, b.item, count(*) AS n_item, any_value(o.n) AS n
    FROM baskets b JOIN orders o USING (segment)
    GROUP BY b.segment, b.item
    HAVING count(*) >= greatest($min_pair_orders, 1)
       AND count(*) / any_value(o.n) >= $min_support
), frequent AS (
    SELECT b.segment, b.order_id, b.item FROM baskets b JOIN items i USING (segment, item)
), pairs AS (
    SELECT a.segment, a.item AS antecedent, c.item AS consequent, count(*) AS n_both
    FROM frequent a JOIN frequent c
      ON a.segment = c.segment AND a.order_id = c.order_id AND a.item <> c.item
    GROUP BY a.segment, a.item, c.item
    HAVING count(*) >= $min_pair_orders
), rules AS (
    SELECT p.segment, p.antecedent, p.consequent,
           ia.n AS orders, ia.n_item AS antecedent_orders, ic.n_item AS consequent_orders,
           p.n_both AS both_orders,
           ia.n_item / ia.n AS antecedent_support, ic.n_item / ic.n AS consequent_support,
           p.n_both / ia.n AS support, p.n_both / ia.n_item AS confidence
    FROM pairs p
    JOIN items ia ON ia.segment = p.segment AND ia.item = p.antecedent
    JOIN items ic ON ic.segment = p.segment AND ic.item = p.consequent
)
SELECT *, confidence / consequent_support AS lift,
       support - antecedent_support * consequent_support AS leverage,
       CASE WHEN confidence >= 1 THEN 'inf'::DOUBLE
            ELSE (1 - consequent_support) / (1 - confidence) END AS conviction
FROM rules
WHERE support >= $min_support AND confidence >= $min_confidence
"""

RULE_COLUMNS: tuple[str, ...] = (
    "segment", "antecedent", "consequent", "support", "confidence", "lift", "leverage",
    "conviction", "antecedent_support", "consequent_support", "both_orders",
    "antecedent_orders", "consequent_orders", "orders",
)


def baskets(transactions: pd.DataFrame, segments: pd.Series, *,
            item_col: str = "product_id") -> pd.DataFrame:
    """Distinct items of each order of sales lines, with the customer's segment.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean transactions, one row per line.
    segments : pandas.Series
        Segment of every customer, indexed by ``customer_id``.
    item_col : str
        ``product_id`` or ``category``.

    Returns
    -------
    pandas.DataFrame
        Columns ``segment``, ``order_id``, ``item`` (all text), one row per order and
        distinct item, sorted.
    """
    lines = sales_lines(transactions, item_col=item_col)
    table = pd.DataFrame({"segment": _segment_of(lines, segments).to_numpy(),
                          "order_id": lines["order_id"].astype(str).to_numpy(),
                          "item": lines[item_col].astype(str).to_numpy()})
    table = table.dropna().drop_duplicates()
    return table.sort_values(["segment", "order_id", "item"]).reset_index(drop=True)


def basket_rules(
    basket_table: pd.DataFrame | None,
    *,
    min_support: float = PRODUCT_RULES.min_support,
    min_confidence: float = PRODUCT_RULES.min_confidence,
    min_pair_orders: int = PRODUCT_RULES.min_pair_orders,
    max_rules: int = PRODUCT_RULES.max_rules,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Pairwise association rules ``antecedent → consequent`` per segment, in DuckDB SQL.

    For a segment with ``n`` orders: ``support`` = orders holding both / n,
    ``confidence`` = orders holding both / orders holding the antecedent, ``lift`` =
    confidence / consequent support, ``leverage`` = support - antecedent support x
    consequent support, ``conviction`` = (1 - consequent support) / (1 - confidence)
    (infinite at confidence 1), as mlxtend's ``association_rules`` defines them.

    Parameters
    ----------
    basket_table : pandas.DataFrame or None
        Output of :func:`baskets` (``segment``, ``order_id``, ``item``; one row per
        order and distinct item); None: the view ``baskets`` of ``connection`` (see
        :func:`partition_rules`).
    min_support, min_confidence : float
        Thresholds (shares of the segment's orders, and of the antecedent's orders).
    min_pair_orders : int
        Fewest orders holding both items (1: support alone decides).
    max_rules : int
        Most rules kept per segment, by lift then support; 0 keeps all.
    connection : duckdb.DuckDBPyConnection, optional
        Connection to run on (default: a new in-memory one).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RULE_COLUMNS`, sorted by segment, lift (highest first),
        antecedent and consequent.

    Raises
    ------
    ConfigError
        For a threshold out of range.
    """
    _check_share("min_support", min_support)
    _check_share("min_confidence", min_confidence)
    if min_pair_orders < 1 or max_rules < 0:
        raise ConfigError(f"min_pair_orders={min_pair_orders!r} should be 1 or more and "
                          f"max_rules={max_rules!r} 0 or more.")
    con = connection or duckdb.connect()
    try:
        with contextlib.suppress(duckdb.Error):  # in Jupyter, DuckDB refuses to touch it
            con.execute("SET enable_progress_bar = false")
        if basket_table is not None:
            con.register("baskets", basket_table[["segment", "order_id", "item"]])
        rules = con.execute(RULES_SQL, {"min_support": float(min_support),
                                        "min_confidence": float(min_confidence),
                                        "min_pair_orders": int(min_pair_orders)}).df()
        if basket_table is not None:
            con.unregister("baskets")
    finally:
        if connection is None:
            con.close()
    rules = rules[list(RULE_COLUMNS)]
    for column in ("both_orders", "antecedent_orders", "consequent_orders", "orders"):
        rules[column] = rules[column].astype("int64")
    rules = rules.sort_values(["segment", "lift", "support", "antecedent", "consequent"],
                              ascending=[True, False, False, True, True], kind="mergesort")
    if max_rules:
        rules = rules.groupby("segment", sort=False).head(max_rules)
    return rules.reset_index(drop=True)


def partition_rules(files: str, segments: pd.Series, *, item_col: str = "product_id",
                    return_col: str = "is_return", **thresholds: float) -> pd.DataFrame:
    """Basket rules of every order of a clean log in Parquet files, read by DuckDB.

    The same rules as ``basket_rules(baskets(transactions, segments))`` without reading
    the log into memory: the sales lines (as :func:`sales_lines` keeps them) are joined
    with the segments and reduced to distinct items per order in SQL.

    Parameters
    ----------
    files : str
        Parquet files or a glob (a partition's :meth:`seglab.buckets.Partition.glob`).
    segments : pandas.Series
        Segment of every customer, indexed by ``customer_id``.
    item_col : str
        ``product_id`` or ``category``.
    return_col : str
        Boolean column flagging returns (absent: none).
    **thresholds
        ``min_support``, ``min_confidence``, ``min_pair_orders``, ``max_rules`` of
        :func:`basket_rules`.

    Returns
    -------
    pandas.DataFrame
        As :func:`basket_rules`.
    """
    con = duckdb.connect()
    try:
        source = f"read_parquet('{files}', hive_partitioning = true)"
        names = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        keep = ["t.amount > 0", "t.order_id IS NOT NULL", f"t.{item_col} IS NOT NULL"]
        if "quantity" in names:
            keep.append("t.quantity > 0")
        if return_col in names:
            keep.append(f"NOT coalesce(t.{return_col}, false)")
        labels = pd.DataFrame({"customer_id": segments.index.astype(str),
                               "segment": segments.astype(str).to_numpy()})
        con.register("segment_labels", labels)
        con.execute(
            "CREATE TEMP VIEW baskets AS SELECT DISTINCT s.segment, "
            f"CAST(t.order_id AS VARCHAR) AS order_id, CAST(t.{item_col} AS VARCHAR) AS item "
            f"FROM {source} t JOIN segment_labels s "
            "ON CAST(t.customer_id AS VARCHAR) = s.customer_id WHERE " + " AND ".join(keep))
        return basket_rules(None, connection=con, **thresholds)
    finally:
        con.close()


def top_pairs(rules: pd.DataFrame, *, top: int = 12,
              names: pd.Series | None = None, lang: str = "en") -> pd.DataFrame:
    """Lift of the pairs found in most segments' orders: a segment x pair matrix.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`basket_rules`.
    top : int
        Pairs shown: those with the highest support summed over the segments where their
        lift is above 1.
    names : pandas.Series, optional
        Item → readable name for the pair labels.
    lang : {"en", "zh"}
        Language of the segment names (:func:`seglab.segments.segment_label`).

    Returns
    -------
    pandas.DataFrame
        Rows segments, columns ``"A + B"`` pairs, cells the lift (empty where the pair is
        not a rule of the segment).
    """
    if rules.empty:
        return pd.DataFrame()
    pairs = rules[rules["antecedent"] < rules["consequent"]].copy()
    if pairs.empty:
        return pd.DataFrame()

    def label(item: str) -> str:
        text = str(names.get(item, item)) if names is not None else str(item)
        return text if len(text) <= 24 else text[:23] + "…"

    pairs["pair"] = pairs["antecedent"].map(label) + " + " + pairs["consequent"].map(label)
    lifted = pairs[pairs["lift"] > 1]
    chosen = lifted.groupby("pair")["support"].sum().sort_values(ascending=False,
                                                                 kind="mergesort")
    chosen = chosen.head(top).index
    matrix = pairs[pairs["pair"].isin(chosen)].pivot_table(
        index="segment", columns="pair", values="lift", aggfunc="max")
    matrix = matrix.reindex(columns=list(chosen))
    if lang != "en":
        matrix.index = matrix.index.map(lambda segment: segment_label(segment, lang))
    return matrix


# --- Offers -------------------------------------------------------------------------------


def recommend(
    transactions: pd.DataFrame,
    segments: pd.Series,
    rules: pd.DataFrame,
    *,
    top_n: int = PRODUCT_RULES.top_n,
    use_rules: bool = True,
    names: pd.Series | None = None,
    candidates: int | None = None,
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """Offer each customer the top products of their segment not bought before.

    Products a rule of the customer's segment leads to from a product the customer
    bought come first, by the rule's confidence (the highest over the customer's
    products); the segment's best sellers (share of its customers who bought them) fill
    the remaining places. With ``use_rules=False`` only best sellers are offered (the
    baseline).

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean transactions up to the analysis date (the history a customer bought).
    segments : pandas.Series
        Segment of every customer, indexed by ``customer_id``; every customer with a
        segment gets offers.
    rules : pandas.DataFrame
        Output of :func:`basket_rules` on product ids.
    top_n : int
        Offers per customer.
    use_rules : bool
        Whether rules rank first (False: best sellers only).
    names : pandas.Series, optional
        Product id → product name.
    candidates : int, optional
        Best sellers per segment considered (default ``top_n`` + 50).
    min_lift : float
        Only rules whose lift is above this lead to offers (1: the consequent is bought
        more often with the antecedent than without).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``rank`` (1 = first), ``product_id``, ``product_name``,
        ``score`` (rule confidence or segment penetration, 0-1), ``reason``; sorted by
        customer and rank. A customer who bought every candidate gets fewer rows.

    Raises
    ------
    ConfigError
        If ``top_n`` is below 1.
    """
    if top_n < 1:
        raise ConfigError(f"top_n={top_n!r} should be 1 or more.")
    columns = ["customer_id", "rank", "product_id", "product_name", "score", "reason"]
    labels = segments.astype(str)
    labels.index = labels.index.astype(str)
    lines = sales_lines(transactions)
    bought = pd.DataFrame({"customer_id": transactions["customer_id"].astype(str),
                           "product_id": transactions["product_id"].astype(str)})
    bought = bought[transactions["product_id"].notna().to_numpy()
                    & transactions["customer_id"].notna().to_numpy()].drop_duplicates()
    if lines.empty or labels.empty:
        return pd.DataFrame(columns=columns)
    lines = pd.DataFrame({"customer_id": lines["customer_id"].astype(str),
                          "product_id": lines["product_id"].astype(str)}).drop_duplicates()
    lines["segment"] = lines["customer_id"].map(labels)
    lines = lines.dropna()
    sizes = labels.value_counts()
    popular = lines.groupby(["segment", "product_id"]).size().rename("buyers").reset_index()
    popular["score"] = popular["buyers"] / popular["segment"].map(sizes)
    popular = popular.sort_values(["segment", "score", "product_id"],
                                  ascending=[True, False, True], kind="mergesort")
    popular = popular.groupby("segment").head(candidates or top_n + 50)
    customers = labels.rename("segment").rename_axis("customer_id").reset_index()
    offers = [customers.merge(popular[["segment", "product_id", "score"]], on="segment")
              .assign(tier=1, antecedent=pd.NA)]
    rules = rules[rules["lift"] > min_lift] if not rules.empty else rules
    if use_rules and not rules.empty:
        linked = bought.merge(customers, on="customer_id").merge(
            rules[["segment", "antecedent", "consequent", "confidence"]].rename(
                columns={"antecedent": "product_id"}), on=["segment", "product_id"])
        linked = linked.rename(columns={"product_id": "antecedent", "consequent": "product_id",
                                        "confidence": "score"})
        offers.insert(0, linked[["customer_id", "segment", "product_id", "score",
                                 "antecedent"]].assign(tier=0))
    offers = pd.concat([o for o in offers if not o.empty], ignore_index=True)
    offers = offers.merge(bought.assign(had=True), on=["customer_id", "product_id"],
                          how="left")
    offers = offers[offers["had"].isna()].drop(columns="had")
    offers = offers.sort_values(["customer_id", "tier", "score", "product_id", "antecedent"],
                                ascending=[True, True, False, True, True], kind="mergesort",
                                na_position="last")
    offers = offers.drop_duplicates(["customer_id", "product_id"])
    offers["rank"] = offers.groupby("customer_id").cumcount() + 1
    offers = offers[offers["rank"] <= top_n].reset_index(drop=True)
    label = (lambda item: str(names.get(item, item))) if names is not None else str
    offers["product_name"] = offers["product_id"].map(label)
    offers["reason"] = [
        offer_reason((label(antecedent) if isinstance(antecedent, str) else "")
                     if tier == 0 else None, share)
        for tier, antecedent, share in zip(offers["tier"], offers["antecedent"],
                                           _percent(offers["score"]), strict=True)]
    return offers[columns]


def _percent(scores: pd.Series) -> list[int]:
    return (scores * 100).round().astype(int).tolist()


def offer_reason(item: str | None, share: int, lang: str = "en") -> str:
    """Say why a product is offered: the rule's antecedent, or a best seller.

    Parameters
    ----------
    item : str or None
        Name of the product the customer bought that a rule leads from; None for a
        best seller of the segment.
    share : int
        The rule's confidence, or the share of the segment's customers who bought the
        product, in percent.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    str
        E.g. ``"often bought with MUG in this segment (12% of orders with it)"``.
    """
    if item is None:
        return i18n.text("bought by {share}% of this segment's customers", lang, share=share)
    return i18n.text("often bought with {item} in this segment ({share}% of orders with it)",
                     lang, item=item, share=share)


def display_offers(offers: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Return offers with their ``reason`` in the report's language.

    ``recommendations.csv`` keeps the English reasons; the item named in a rule's reason
    is read back from the English text (:func:`offer_reason` is their one source).

    Parameters
    ----------
    offers : pandas.DataFrame
        Output of :func:`recommend` (or some of its rows).
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        ``offers`` itself in English, else a copy with ``reason`` translated.
    """
    if lang == "en" or offers.empty:
        return offers

    def shown(reason: str, share: int) -> str:
        if reason == offer_reason(None, share):
            return offer_reason(None, share, lang)
        before, after = offer_reason("\0", share).split("\0")
        if reason.startswith(before) and reason.endswith(after):
            return offer_reason(reason[len(before):len(reason) - len(after)], share, lang)
        return reason

    return offers.assign(reason=[shown(reason, share) for reason, share in zip(
        offers["reason"], _percent(offers["score"]), strict=True)])


@dataclass
class OfferEvaluation:
    """Precision and recall at N of the offers against what customers bought next."""

    scores: pd.DataFrame
    cutoff: pd.Timestamp
    customers: int


def offer_scores(offers: pd.DataFrame, later: pd.DataFrame, *, top_n: int) -> dict[str, float]:
    """Mean precision and recall at ``top_n`` over customers who bought something new.

    Parameters
    ----------
    offers : pandas.DataFrame
        ``customer_id``, ``product_id`` (the offers, at most ``top_n`` per customer).
    later : pandas.DataFrame
        ``customer_id``, ``product_id``: products each customer bought after the split
        and had not bought before it.
    top_n : int
        N: precision is hits / N (a customer offered fewer counts the missing places as
        misses).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``hit_rate`` (share of those customers with a hit) and
        ``customers`` (those evaluated: in ``later`` and offered something).
    """
    later = later[["customer_id", "product_id"]].drop_duplicates()
    offered = offers[["customer_id", "product_id"]].drop_duplicates()
    evaluated = later[later["customer_id"].isin(offered["customer_id"])]
    if evaluated.empty:
        return {"precision": math.nan, "recall": math.nan, "hit_rate": math.nan,
                "customers": 0}
    wanted = evaluated.groupby("customer_id").size()
    hits = offered.merge(evaluated, on=["customer_id", "product_id"]).groupby(
        "customer_id").size().reindex(wanted.index, fill_value=0)
    return {"precision": float((hits / top_n).mean()), "recall": float((hits / wanted).mean()),
            "hit_rate": float((hits > 0).mean()), "customers": len(wanted)}


def evaluate_offers(
    transactions: pd.DataFrame,
    segments: pd.Series,
    *,
    as_of: pd.Timestamp,
    holdout_days: int = PRODUCT_RULES.holdout_days,
    top_n: int = PRODUCT_RULES.top_n,
    **thresholds: float,
) -> OfferEvaluation:
    """Offer from the history before a split, score against what was bought after it.

    Rules and best sellers are learned from the lines before ``as_of - holdout_days``;
    each customer who bought before the split gets ``top_n`` offers by rules (then best
    sellers) and, as the baseline, by best sellers only; both are scored on the
    products the customer bought in the last ``holdout_days`` and had not bought before.
    Segments are the customers' current ones.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean transactions up to the analysis date.
    segments : pandas.Series
        Segment of every customer, indexed by ``customer_id``.
    as_of : pandas.Timestamp
        Analysis date (its day counts).
    holdout_days : int
        Days kept out.
    top_n : int
        N.
    **thresholds
        ``min_support``, ``min_confidence``, ``min_pair_orders`` of :func:`basket_rules`
        (every rule is used: ``max_rules`` is ignored).

    Returns
    -------
    OfferEvaluation
        ``scores``: one row per method (``segment rules``, ``segment best sellers``) with
        ``precision_at_n``, ``recall_at_n``, ``hit_rate``, ``customers``, ``n``.
    """
    cutoff = day_end(as_of) - pd.Timedelta(days=holdout_days)
    before = transactions[transactions["order_date"] < cutoff]
    after = sales_lines(transactions[transactions["order_date"] >= cutoff])
    ids = segments.index.astype(str)
    active = segments[ids.isin(before["customer_id"].astype(str).unique())]
    thresholds = {**thresholds, "max_rules": 0}
    rules = basket_rules(baskets(before, active), **thresholds)
    had = pd.DataFrame({"customer_id": before["customer_id"].astype(str),
                        "product_id": before["product_id"].astype(str)}).drop_duplicates()
    later = pd.DataFrame({"customer_id": after["customer_id"].astype(str),
                          "product_id": after["product_id"].astype(str)}).drop_duplicates()
    later = later.merge(had.assign(had=True), how="left", on=["customer_id", "product_id"])
    later = later[later["had"].isna()].drop(columns="had")
    rows = []
    for method, use_rules in (("segment rules", True), ("segment best sellers", False)):
        offers = recommend(before, active, rules, top_n=top_n, use_rules=use_rules)
        score = offer_scores(offers, later, top_n=top_n)
        rows.append({"method": method, "precision_at_n": score["precision"],
                     "recall_at_n": score["recall"], "hit_rate": score["hit_rate"],
                     "customers": score["customers"], "n": top_n})
    return OfferEvaluation(scores=pd.DataFrame(rows), cutoff=cutoff,
                           customers=len(active))


def display_evaluation(scores: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Return :func:`evaluate_offers`' scores with the methods named in the report's language.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``OfferEvaluation.scores`` (``method`` holds ``segment rules`` and ``segment best
        sellers``, as the metrics do).
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        ``scores`` itself in English, else a copy with ``method`` translated.
    """
    if lang == "en" or scores.empty:
        return scores
    names = {"segment rules": i18n.text("segment rules", lang),
             "segment best sellers": i18n.text("segment best sellers", lang)}
    return scores.assign(method=scores["method"].map(lambda method: names.get(method, method)))


def offer_summary(scores: pd.DataFrame, *, days: int, lang: str = "en") -> str:
    """Say in one sentence whether offers led by basket rules beat the best sellers.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``OfferEvaluation.scores`` in English (:func:`evaluate_offers`).
    days : int
        Days kept out for the check.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    str
        The verdict with precision and recall at N of both methods ("" for no scores).
    """
    if scores.empty:
        return ""
    by = scores.set_index("method")
    rule_p = by.loc["segment rules", "precision_at_n"]
    base_p = by.loc["segment best sellers", "precision_at_n"]
    verdict = (i18n.text("beat", lang) if rule_p > base_p else
               i18n.text("tie with", lang) if rule_p == base_p else
               i18n.text("do not beat", lang))
    return i18n.text(
        "Offers led by the segment's basket rules {verdict} the segment's best sellers: "
        "precision at {top_n} {rule_p:.1%} against {base_p:.1%}, recall {rule_r:.1%} "
        "against {base_r:.1%}, over {customers:,} customers who bought something new to "
        "them in the last {days} days.", lang, verdict=verdict,
        top_n=int(by.loc["segment rules", "n"]), rule_p=rule_p, base_p=base_p,
        rule_r=by.loc["segment rules", "recall_at_n"],
        base_r=by.loc["segment best sellers", "recall_at_n"],
        customers=int(by.loc["segment rules", "customers"]), days=days)


def item_names(transactions: pd.DataFrame, *, item_col: str = "product_id",
               name_col: str = "product_name") -> pd.Series:
    """Item → readable name (the first name in sort order; the id where there is none).

    Parameters
    ----------
    transactions : pandas.DataFrame
        Transactions with ``item_col`` and optionally ``name_col``.
    item_col, name_col : str
        Id and name columns.

    Returns
    -------
    pandas.Series
        Names as text, indexed by the item as text.
    """
    if item_col not in transactions:
        return pd.Series(dtype=str)
    ids = transactions[item_col].dropna().astype(str)
    if name_col not in transactions:
        return pd.Series(ids.unique(), index=ids.unique(), dtype=str).sort_index()
    table = pd.DataFrame({"item": ids, "name": transactions.loc[ids.index, name_col]})
    table = table.dropna().sort_values(["item", "name"]).drop_duplicates("item")
    names = table.set_index("item")["name"].astype(str)
    missing = ids.unique()[~pd.Index(ids.unique()).isin(names.index)]
    return pd.concat([names, pd.Series(missing, index=missing, dtype=str)]).sort_index()


def rules_view(rules: pd.DataFrame, *, names: pd.Series | None = None,
               top: int = 5, lang: str = "en") -> pd.DataFrame:
    """Tabulate the strongest rules of each segment in words, for the report.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`basket_rules`.
    names : pandas.Series, optional
        Item → readable name.
    top : int
        Rules per segment (highest lift first).
    lang : {"en", "zh"}
        Language of the segment names (:func:`seglab.segments.segment_label`; the
        column names stay, the report labels them).

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``who bought``, ``also bought``, ``orders with both``, ``support``,
        ``confidence``, ``lift``.
    """
    if rules.empty:
        return pd.DataFrame()
    shown = rules[rules["lift"] > 1].groupby("segment", sort=True).head(top)

    def label(item: str) -> str:
        return str(names.get(item, item)) if names is not None else str(item)

    return pd.DataFrame({
        "segment": shown["segment"] if lang == "en" else shown["segment"].map(
            lambda segment: segment_label(segment, lang)),
        "who bought": shown["antecedent"].map(label),
        "also bought": shown["consequent"].map(label), "orders with both": shown["both_orders"],
        "support": shown["support"], "confidence": shown["confidence"],
        "lift": shown["lift"]}).reset_index(drop=True)
