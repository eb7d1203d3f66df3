"""Persona cards: a readable name, the key figures and a strategy for each segment."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seglab import i18n
from seglab.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """One row of a rule table: a label and the condition that earns it.

    Attributes
    ----------
    label : str
        What a segment matching the rule is called (a behaviour or a strategy).
    when : str
        A pandas expression on the segment figures of :func:`card_figures`
        (see :data:`RULE_FIGURES` and :data:`OPTIONAL_FIGURES`), e.g.
        ``"lapsed_share >= 0.5 and revenue_index >= 1"``.
    action : str
        What to do for such a segment (strategy rules only).
    kpi : str
        The KPI to watch (strategy rules only).
    """

    label: str
    when: str
    action: str = ""
    kpi: str = ""


#: Figures rules can use, beyond the columns of :func:`card_figures`: indices are a
#: segment's figure over the whole customer base's (1 = like the average customer).
RULE_FIGURES: dict[str, str] = {
    "revenue_index": "revenue per customer / revenue per customer of all customers",
    "profit_margin_index": "profit margin / profit margin of all customers",
    "orders_index": "median orders / median orders of all customers",
    "aov_index": "median order value / median order value of all customers",
    "discount_index": "mean discount share / mean discount share of all customers",
    "return_index": "mean return share / mean return share of all customers",
    "lapsed_share": "share of customers at risk, dormant or churned",
    "new_share": "share of customers in the New lifecycle stage",
    "churned_share": "share of customers in the Churned lifecycle stage",
}

#: Figures of :func:`card_figures` that only some data has (P&L, CLV, lifecycle,
#: demographics); rules see them as missing values when absent, so comparisons are false.
OPTIONAL_FIGURES: tuple[str, ...] = (
    "profit", "profit_per_customer", "profit_margin", "unprofitable_share", "clv",
    "clv_per_customer", "p_alive", "expected_orders_90d", "new_share", "active_share",
    "at_risk_share", "dormant_share", "churned_share", "recent_revenue_per_customer",
    "revenue_growth", "revenue_growth_per_customer", "median_age", "female_share",
    "top_channel_share",
)

#: Behaviour words of persona names, first match wins. Edit to rename segments.
NAME_RULES: tuple[Rule, ...] = (
    Rule("one-time", "median_orders <= 1 and median_days_since_last_order > 180"),
    Rule("lapsing", "median_days_since_last_order > 120"),
    Rule("new", "median_tenure_days <= 120"),
    Rule("bargain-hunting", "mean_discount_share >= 0.12 and discount_index >= 1.5"),
    Rule("big-ticket occasional", "aov_index >= 1.5 and orders_index <= 1"),
    Rule("loyal", "orders_index >= 2"),
    Rule("regular", "True"),
)

#: A qualifier added to the name: heavy returners.
HEAVY_RETURNS = "mean_return_share >= 0.15 and return_index >= 2"

#: Differentiated strategies, first match wins. Edit (or pass ``rules=``) to change
#: the playbook; conditions use the figures of :func:`card_figures`.
STRATEGY_RULES: tuple[Rule, ...] = (
    Rule("Serve at lower cost",
         "revenue_index >= 0.5 and (profit_margin_index < 0.6 or unprofitable_share >= 0.2)",
         "Steer orders to low-cost channels and stores, tighten the return policy, set a "
         "minimum basket for free delivery",
         "profit per customer"),
    Rule("Let go", "profit_per_customer <= 0 or (churned_share >= 0.5 and revenue_index < 0.5)",
         "Stop paid contact; serve only through low-cost mass channels",
         "marketing cost per customer"),
    Rule("Win back", "lapsed_share >= 0.5 and revenue_index >= 0.8",
         "Personalised win-back offer in the categories they bought, before they churn",
         "win-back rate"),
    Rule("Reactivate", "lapsed_share >= 0.4",
         "Low-cost reminders and time-limited offers to bring them back",
         "reactivation rate"),
    Rule("Nurture new", "new_share >= 0.4 or median_tenure_days <= 120",
         "Onboarding journey towards the second order", "second-order rate"),
    Rule("Retain and reward", "revenue_index >= 1.5",
         "VIP service, early access and member perks; protect the relationship",
         "retention rate"),
    Rule("Upsell", "discount_index >= 1.5",
         "Move them from discounts to bundles and multi-buys; cap the discount depth",
         "discount share of sales"),
    Rule("Upsell", "True",
         "Bundles and cross-category recommendations to grow order value",
         "average order value"),
)

LIFECYCLE_STAGES: tuple[str, ...] = ("New", "Active", "At risk", "Dormant", "Churned")

#: The value word that opens a persona name: revenue index >= 1.5, < 0.5, in between.
VALUE_WORDS: tuple[str, ...] = ("High-value", "Low-value", "Mid-value")

#: Strategies shown as cost or exit strategies (a red badge on the card).
LOSS_STRATEGIES: frozenset[str] = frozenset({"Serve at lower cost", "Let go"})


def _mix(frame: pd.DataFrame, prefix: str, top: int = 3) -> tuple[pd.Series, pd.Series,
                                                                  pd.Series]:
    """Top value, its share and a "name share, ..." text from ``<prefix>*`` share columns."""
    columns = [c for c in frame if c.startswith(prefix)]
    mix = frame[columns].rename(columns=lambda c: c.removeprefix(prefix).replace("_", " "))
    text = mix.apply(
        lambda row: ", ".join(f"{name} {share:.0%}" for name, share in
                              row.sort_values(ascending=False).head(top).items() if share > 0),
        axis=1,
    )
    return mix.idxmax(axis=1), mix.max(axis=1), text


def _shares_text(values: pd.Series, top: int = 3) -> str:
    shares = values.value_counts(normalize=True, dropna=True)
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.head(top).items())


def card_figures(customers: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Card figures per segment: size, value, RFM medians, mix, demographics, CLV.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table (one row per customer) with the features, and optionally the
        P&L (``profit``...), CLV (``clv``, ``p_alive``), lifecycle, value-growth and
        demographic columns, and ``segment_col``.
    segment_col : str
        The segmentation to summarise.

    Returns
    -------
    pandas.DataFrame
        One row per segment. Always: ``customers``, ``customer_share``, ``revenue``,
        ``revenue_share``, ``revenue_per_customer``, medians of
        ``days_since_last_order``, ``orders``, ``revenue`` (monetary),
        ``avg_order_value`` and ``tenure_days``. When the inputs allow: P&L sums and
        ``profit_per_customer``, ``profit_margin``, ``unprofitable_share``; mean
        ``return_share``/``discount_share``; ``top_channel``, ``top_channel_share``,
        ``channels`` (text), ``top_category``, ``categories`` (text); ``median_age``,
        ``female_share``, ``city_tiers``, ``regions`` (text); ``lifecycle`` (text) and
        ``<stage>_share`` per lifecycle stage; ``clv_per_customer``, ``clv``,
        ``p_alive``, ``expected_orders_90d``; ``recent_revenue_per_customer`` and
        ``revenue_growth`` (last 180 days over the 180 before, as a share) and
        ``revenue_growth_per_customer`` (the change in currency); and the rule figures
        of :data:`RULE_FIGURES`.

    Raises
    ------
    ConfigError
        If ``segment_col`` is not a column.
    """
    if segment_col not in customers:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of the customer table.")
    grouped = customers.groupby(segment_col, sort=True)
    table = pd.DataFrame({"customers": grouped.size()})
    table["customer_share"] = table["customers"] / len(customers)
    table["revenue"] = grouped["revenue"].sum()
    table["revenue_share"] = table["revenue"] / customers["revenue"].sum()
    table["revenue_per_customer"] = table["revenue"] / table["customers"]
    if "profit" in customers:
        for column in ("gross_margin", "cost_to_serve", "profit"):
            if column in customers:
                table[column] = grouped[column].sum()
        table["profit_per_customer"] = table["profit"] / table["customers"]
        table["profit_margin"] = table["profit"] / table["revenue"].replace(0, np.nan)
        table["unprofitable_share"] = grouped["profit"].apply(lambda p: float((p < 0).mean()))
    medians = {"days_since_last_order": "median_days_since_last_order",
               "orders": "median_orders", "revenue": "median_revenue",
               "avg_order_value": "median_avg_order_value", "tenure_days": "median_tenure_days"}
    for column, name in medians.items():
        table[name] = grouped[column].median()
    for column in ("return_share", "discount_share"):
        table[f"mean_{column}"] = grouped[column].mean() if column in customers else 0.0
    if any(c.startswith("channel_share_") for c in customers):
        mix = grouped[[c for c in customers if c.startswith("channel_share_")]].mean()
        table["top_channel"], table["top_channel_share"], table["channels"] = _mix(
            mix, "channel_share_")
    if any(c.startswith("category_share_") for c in customers):
        mix = grouped[[c for c in customers if c.startswith("category_share_")]].mean()
        table["top_category"], _, table["categories"] = _mix(mix, "category_share_")
    if "age" in customers and customers["age"].notna().any():
        table["median_age"] = grouped["age"].median().astype(float)
    if "gender" in customers and customers["gender"].notna().any():
        table["female_share"] = grouped["gender"].apply(
            lambda g: float(g.dropna().isin(["F", "f", "female", "Female"]).mean())
            if g.notna().any() else np.nan)
    for column, name in (("city_tier", "city_tiers"), ("region", "regions"),
                         ("country", "countries")):
        if column in customers and customers[column].notna().any():
            table[name] = grouped[column].apply(_shares_text)
    if "lifecycle_stage" in customers:
        shares = pd.crosstab(customers[segment_col], customers["lifecycle_stage"],
                             normalize="index")
        for stage in LIFECYCLE_STAGES:
            key = stage.lower().replace(" ", "_") + "_share"
            table[key] = shares[stage] if stage in shares else 0.0
        table["lifecycle"] = grouped["lifecycle_stage"].apply(lambda s: _shares_text(s, 5))
    if "clv" in customers:
        table["clv"] = grouped["clv"].sum()
        table["clv_per_customer"] = grouped["clv"].mean()
    if "p_alive" in customers:
        table["p_alive"] = grouped["p_alive"].mean()
    if "expected_orders_90d" in customers:
        table["expected_orders_90d"] = grouped["expected_orders_90d"].sum()
    if {"recent_revenue", "previous_revenue"} <= set(customers):
        recent = grouped["recent_revenue"].sum()
        previous = grouped["previous_revenue"].sum()
        table["recent_revenue_per_customer"] = recent / table["customers"]
        table["revenue_growth"] = (recent - previous) / previous.replace(0, np.nan)
        table["revenue_growth_per_customer"] = (recent - previous) / table["customers"]
    return table.join(_rule_figures(customers, table))


def _rule_figures(customers: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Compute the relative figures of :data:`RULE_FIGURES`, per segment."""
    def index(segment_values: pd.Series, overall: float) -> pd.Series:
        return segment_values / overall if overall else pd.Series(np.nan, index=table.index)

    figures = pd.DataFrame(index=table.index)
    figures["revenue_index"] = index(table["revenue_per_customer"],
                                     customers["revenue"].sum() / len(customers))
    if "profit_margin" in table:
        overall = customers["profit"].sum() / customers["revenue"].sum()
        figures["profit_margin_index"] = index(table["profit_margin"], overall)
    figures["orders_index"] = index(table["median_orders"], customers["orders"].median())
    figures["aov_index"] = index(table["median_avg_order_value"],
                                 customers["avg_order_value"].median())
    for column, name in (("discount_share", "discount_index"), ("return_share", "return_index")):
        overall = customers[column].mean() if column in customers else 0.0
        figures[name] = index(table[f"mean_{column}"], overall)
    stage = {s: table.get(s.lower().replace(" ", "_") + "_share") for s in LIFECYCLE_STAGES}
    if stage["Churned"] is not None:
        # new_share and churned_share are lifecycle columns of the summary already.
        figures["lapsed_share"] = stage["At risk"] + stage["Dormant"] + stage["Churned"]
    return figures


def _as_rules(rules: Sequence[Rule | Mapping[str, str]]) -> list[Rule]:
    out = []
    for rule in rules:
        if isinstance(rule, Rule):
            out.append(rule)
            continue
        data = dict(rule)
        if "strategy" in data:
            data["label"] = data.pop("strategy")
        unknown = sorted(set(data) - {"label", "when", "action", "kpi"})
        if unknown or "label" not in data or "when" not in data:
            raise ConfigError(
                f"rule {rule!r}: needs 'strategy' (or 'label') and 'when', optionally "
                f"'action' and 'kpi'" + (f"; unknown keys {unknown}" if unknown else "") + "."
            )
        out.append(Rule(**{k: str(v) for k, v in data.items()}))
    if not out:
        raise ConfigError("the rule table is empty; end it with a catch-all rule (when: 'True').")
    return out


def apply_rules(summary: pd.DataFrame, rules: Sequence[Rule | Mapping[str, str]]) -> pd.Series:
    """Label each segment with the first rule whose condition holds.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`card_figures`.
    rules : sequence of Rule or mapping
        The rule table, in order; mappings take keys ``strategy`` (or ``label``),
        ``when``, ``action`` and ``kpi``. Figures missing for this data (e.g. lifecycle
        shares) are missing values, and a comparison with them is false.

    Returns
    -------
    pandas.Series
        Index of the matching rule per segment (-1 when none matches).

    Raises
    ------
    ConfigError
        If a condition cannot be evaluated (unknown figure, bad syntax).
    """
    rules = _as_rules(rules)
    figures = summary.select_dtypes("number")
    for name in (*RULE_FIGURES, *OPTIONAL_FIGURES):
        if name not in figures:
            figures = figures.assign(**{name: np.nan})
    chosen = pd.Series(-1, index=summary.index)
    for position, rule in enumerate(rules):
        try:
            hit = figures.eval(rule.when) if rule.when.strip() != "True" else True
        except Exception as error:
            raise ConfigError(
                f"rule {rule.label!r}: cannot evaluate when={rule.when!r} ({error}); figures "
                f"available: {sorted(figures.columns)}."
            ) from error
        hit = pd.Series(hit, index=summary.index).fillna(False).astype(bool)
        chosen = chosen.where(~(hit & (chosen < 0)), position)
    return chosen


def persona_names(summary: pd.DataFrame, rules: Sequence[Rule] = NAME_RULES) -> pd.Series:
    """Readable names from the profile, e.g. "High-value loyal app shoppers".

    The name reads ``<value> <behaviour> <channel> shoppers [with heavy returns]``:
    value is high (revenue per customer at least 1.5 times the average customer's),
    low (under half) or mid; behaviour the first matching of ``rules``; channel the
    top channel when it takes at least half the sales ("omnichannel" otherwise, and
    "customers" when the data has no channel). Names that repeat get the top category
    or the segment label added.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`card_figures`.
    rules : sequence of Rule
        Behaviour rules; default :data:`NAME_RULES`.

    Returns
    -------
    pandas.Series
        Unique name per segment.
    """
    rules = _as_rules(rules)
    index = summary["revenue_index"]
    value = np.select([index >= 1.5, index < 0.5], list(VALUE_WORDS[:2]), VALUE_WORDS[2])
    picked = apply_rules(summary, rules)
    behaviour = picked.map(lambda i: rules[i].label if i >= 0 else "")
    if "top_channel" in summary:
        channel = summary["top_channel"].where(summary["top_channel_share"] >= 0.5,
                                               "omnichannel") + " shoppers"
    else:
        channel = pd.Series("customers", index=summary.index)
    names = (pd.Series(value, index=summary.index) + " " + behaviour + " " + channel).str.replace(
        "  ", " ")
    heavy = apply_rules(summary, [Rule("heavy", HEAVY_RETURNS)]) == 0
    names = names.where(~heavy, names + " with heavy returns")
    repeated = names.duplicated(keep=False)
    if repeated.any() and "top_category" in summary:
        names = names.where(~repeated, names + " (" + summary["top_category"].astype(str) + ")")
        repeated = names.duplicated(keep=False)
    if repeated.any():
        labels = pd.Series(summary.index.astype(str), index=summary.index)
        names = names.where(~repeated, names + " (segment " + labels + ")")
    return names


def persona_label(name: str, lang: str = "en", *,
                  rules: Sequence[Rule] = NAME_RULES) -> str:
    """Return a persona name of :func:`persona_names` in the report's language.

    Files keep the English name; this is for display. A name is read back into its
    parts (value, behaviour, channel, heavy returns, category or segment added), and
    each part is translated; the channel and category are data values and stay.

    Parameters
    ----------
    name : str
        A name made by :func:`persona_names`.
    lang : {"en", "zh"}
        The report's language.
    rules : sequence of Rule
        The behaviour rules the name was made with; default :data:`NAME_RULES`.

    Returns
    -------
    str
        The name in ``lang`` (``name`` itself in English, or when it is not one
        :func:`persona_names` makes, e.g. an edited rule table's unknown label).

    Examples
    --------
    >>> persona_label("High-value loyal app shoppers", "en")
    'High-value loyal app shoppers'
    """
    if lang == "en" or not isinstance(name, str):
        return name
    rest, suffixes = name, []
    found = re.fullmatch(r"(.+) \(segment (.+)\)", rest)
    if found:
        rest, segment = found.groups()
        suffixes.append(("{name} (segment {segment})", {"segment": segment}))
    found = re.fullmatch(r"(.+?) \((.+)\)", rest)
    if found:
        rest, category = found.groups()
        suffixes.append(("{name} ({category})", {"category": category}))
    heavy = rest.endswith(" with heavy returns")
    rest = rest.removesuffix(" with heavy returns")
    value, _, rest = rest.partition(" ")
    if value not in VALUE_WORDS:
        return name
    labels = sorted({rule.label for rule in _as_rules(rules)}, key=len, reverse=True)
    if rest.endswith(" shoppers"):
        body = rest.removesuffix(" shoppers")
        rest = next((label for label in labels if body.startswith(label + " ")), "")
        channel = body.removeprefix(rest).strip()
    elif rest == "customers" or rest.endswith(" customers"):
        rest, channel = rest.removesuffix("customers").strip(), ""
    else:
        return name
    if rest and rest not in labels:
        return name
    parts = {"value": i18n.text(value, lang), "behaviour": i18n.text(rest, lang) if rest else ""}
    if channel == "":
        label = i18n.text("{value} {behaviour} customers", lang, **parts)
    else:
        if channel == "omnichannel":
            channel = i18n.text("omnichannel", lang)
        label = i18n.text("{value} {behaviour} {channel} shoppers", lang, channel=channel,
                          **parts)
    if heavy:
        label = i18n.text("{name} with heavy returns", lang, name=label)
    for template, values in reversed(suffixes):
        if template == "{name} (segment {segment})":
            label = i18n.text("{name} (segment {segment})", lang, name=label, **values)
        else:
            label = i18n.text("{name} ({category})", lang, name=label, **values)
    return label


def display_cards(cards: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Return persona cards with their names, strategies, actions and KPIs in ``lang``.

    Parameters
    ----------
    cards : pandas.DataFrame
        Output of :func:`persona_cards` (``persona``, ``strategy``, ``action``, ``kpi``
        are translated where present; a custom rule's text without a translation stays).
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        A copy for display (``cards`` itself in English); files keep the English cards.
    """
    if lang == "en":
        return cards
    out = cards.copy()
    if "persona" in out:
        out["persona"] = out["persona"].map(lambda name: persona_label(name, lang))
    for column in ("strategy", "action", "kpi"):
        if column in out:
            out[column] = out[column].map(lambda value: i18n.text(value, lang)
                                          if isinstance(value, str) and value else value)
    return out


def persona_cards(
    customers: pd.DataFrame,
    segment_col: str,
    *,
    rules: Sequence[Rule | Mapping[str, str]] | None = None,
    name_rules: Sequence[Rule] = NAME_RULES,
) -> pd.DataFrame:
    """Name each segment, and give it a differentiated strategy and a KPI to watch.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with features, P&L, CLV and ``segment_col``.
    segment_col : str
        The segmentation to describe.
    rules : sequence of Rule or mapping, optional
        Strategy table, first match wins; default :data:`STRATEGY_RULES`.
    name_rules : sequence of Rule
        Behaviour words of the names; default :data:`NAME_RULES`.

    Returns
    -------
    pandas.DataFrame
        :func:`card_figures` plus ``persona``, ``strategy``, ``action`` and ``kpi``.

    Raises
    ------
    ConfigError
        If no strategy rule matches a segment, or a rule cannot be evaluated.
    """
    rules = _as_rules(STRATEGY_RULES if rules is None else rules)
    cards = card_figures(customers, segment_col)
    cards.insert(0, "persona", persona_names(cards, name_rules))
    picked = apply_rules(cards, rules)
    if (picked < 0).any():
        missing = [str(s) for s in picked.index[picked < 0]]
        raise ConfigError(f"no strategy rule matches segment(s) {missing}; end the rule table "
                          "with a catch-all rule (when: 'True').")
    cards.insert(1, "strategy", picked.map(lambda i: rules[i].label))
    cards.insert(2, "action", picked.map(lambda i: rules[i].action))
    cards.insert(3, "kpi", picked.map(lambda i: rules[i].kpi))
    return cards


def rules_frame(rules: Sequence[Rule | Mapping[str, str]] | None = None, *,
                lang: str = "en") -> pd.DataFrame:
    """Return the strategy rule table as a DataFrame, to show users what they can edit.

    Parameters
    ----------
    rules : sequence of Rule or mapping, optional
        Default :data:`STRATEGY_RULES`.
    lang : {"en", "zh"}
        Language of the strategies, actions and KPIs shown (the conditions are code).

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy``, ``when``, ``action``, ``kpi``, in rule order.
    """
    rules = _as_rules(STRATEGY_RULES if rules is None else rules)
    table = pd.DataFrame([(r.label, r.when, r.action, r.kpi) for r in rules],
                         columns=["strategy", "when", "action", "kpi"])
    return display_cards(table, lang)


# --- HTML cards ---------------------------------------------------------------------------

CARD_CSS = """
.seglab-personas { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr));
  gap: 1rem; margin: .5rem 0 1rem; font-size: .9rem; }
.seglab-personas .card { border: 1px solid #d0d7de; border-radius: .6rem; padding: .8rem 1rem;
  background: #fff; }
.seglab-personas h3 { margin: 0 0 .2rem; font-size: 1.05rem; }
.seglab-personas .sub { color: #57606a; margin: 0 0 .5rem; }
.seglab-personas .strategy { display: inline-block; border-radius: 1rem; padding: .1rem .6rem;
  background: #ddf4ff; color: #0a3069; font-weight: 600; margin-bottom: .5rem; }
.seglab-personas .strategy.loss { background: #ffebe9; color: #82071e; }
.seglab-personas table { border-collapse: collapse; width: 100%; }
.seglab-personas table th { text-align: left !important; color: #57606a; font-weight: normal;
  width: 34%; vertical-align: top; padding: .12rem .4rem .12rem 0; }
.seglab-personas table td { text-align: left !important; padding: .12rem 0;
  vertical-align: top; }
.seglab-personas table tr { background: none !important; }
.seglab-personas .neg { color: #cf222e; }
.seglab-personas .do { margin-top: .5rem; border-top: 1px solid #eaeef2; padding-top: .4rem; }
"""


def _money(value: float, lang: str = "en") -> str:
    if value is None or pd.isna(value):
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if lang == "zh":  # 万 (10^4) and 亿 (10^8), as Chinese readers count money
        for limit, suffix in ((1e8, "亿"), (1e4, "万")):
            if value >= limit:
                return f"{sign}{value / limit:,.1f}{suffix}"
        return f"{sign}{value:,.0f}"
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e4, "k")):
        if value >= limit:
            return f"{sign}{value / (limit if suffix != 'k' else 1e3):,.1f}{suffix}"
    return f"{sign}{value:,.0f}"


def _get(card: pd.Series, key: str) -> Any:
    value = card.get(key)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _card_rows(card: pd.Series, horizon: str, lang: str = "en") -> list[tuple[str, str, bool]]:
    """(label, text, negative) rows of one card; text is escaped later."""
    rows: list[tuple[str, str, bool]] = []

    def add(label: str, text: str | None, negative: bool = False) -> None:
        if text:
            rows.append((label, text, negative))

    def money(value: float) -> str:
        return _money(value, lang)

    add(i18n.text("Customers", lang),
        i18n.text("{customers:,.0f} ({share:.0%} of all)", lang, customers=card["customers"],
                  share=card["customer_share"]))
    add(i18n.text("Revenue", lang),
        i18n.text("{revenue} ({share:.0%} of all)", lang, revenue=money(card["revenue"]),
                  share=card["revenue_share"]))
    profit = _get(card, "profit")
    if profit is not None:
        values = {"profit": money(profit), "per_customer": money(card["profit_per_customer"])}
        if _get(card, "unprofitable_share") is not None:
            text = i18n.text("{profit} ({per_customer} per customer; {share:.0%} lose money)",
                             lang, share=card["unprofitable_share"], **values)
        else:
            text = i18n.text("{profit} ({per_customer} per customer)", lang, **values)
        add(i18n.text("Profit after cost-to-serve", lang), text, profit < 0)
    clv = _get(card, "clv_per_customer")
    if clv is not None:
        if _get(card, "p_alive") is not None:
            text = i18n.text("{clv} per customer over the {horizon}; P(still active) "
                             "{p_alive:.0%}", lang, clv=money(clv), horizon=horizon,
                             p_alive=card["p_alive"])
        else:
            text = i18n.text("{clv} per customer over the {horizon}", lang, clv=money(clv),
                             horizon=horizon)
        add(i18n.text("Lifetime value (CLV)", lang), text, clv < 0)
    days, orders = card["median_days_since_last_order"], card["median_orders"]
    count = f"{orders:,.0f}" if orders == int(orders) else f"{orders:,.1f}"
    recency = (i18n.text("last order {days:,.0f} day ago", lang, days=days) if days == 1
               else i18n.text("last order {days:,.0f} days ago", lang, days=days))
    frequency = (i18n.text("{count} order", lang, count=count) if orders == 1
                 else i18n.text("{count} orders", lang, count=count))
    add(i18n.text("Recency, frequency, monetary", lang),
        i18n.text("{recency}, {frequency}, {spent} spent (medians)", lang, recency=recency,
                  frequency=frequency, spent=money(card["median_revenue"])))
    add(i18n.text("Order value", lang),
        i18n.text("{value} (median)", lang, value=money(card["median_avg_order_value"])))
    add(i18n.text("Buys", lang), _get(card, "categories"))
    add(i18n.text("Stands out", lang), _get(card, "standout"))
    add(i18n.text("Channels", lang), _get(card, "channels"))
    age, women = _get(card, "median_age"), _get(card, "female_share")
    if age is not None and women is not None:
        who = i18n.text("median age {age:.0f}, {share:.0%} women", lang, age=age, share=women)
    elif age is not None:
        who = i18n.text("median age {age:.0f}", lang, age=age)
    elif women is not None:
        who = i18n.text("{share:.0%} women", lang, share=women)
    else:
        who = None
    add(i18n.text("Who", lang), who)
    add(i18n.text("City tier", lang), _get(card, "city_tiers"))
    add(i18n.text("Region", lang), _get(card, "regions") or _get(card, "countries"))
    add(i18n.text("Lifecycle", lang), _lifecycle_text(_get(card, "lifecycle"), lang))
    returns = _get(card, "mean_return_share")
    discounts = _get(card, "mean_discount_share")
    if returns and discounts:
        habits = i18n.text("returns {returns:.0%} of sales, discounts {discounts:.0%} of list "
                           "price", lang, returns=returns, discounts=discounts)
    elif returns:
        habits = i18n.text("returns {returns:.0%} of sales", lang, returns=returns)
    elif discounts:
        habits = i18n.text("discounts {discounts:.0%} of list price", lang, discounts=discounts)
    else:
        habits = None
    add(i18n.text("Habits", lang), habits)
    return rows


def _lifecycle_text(text: str | None, lang: str) -> str | None:
    """Translate the stage names of a "New 40%, Active 30%" text (data shares stay)."""
    if not text or lang == "en":
        return text
    for stage in sorted(LIFECYCLE_STAGES, key=len, reverse=True):
        text = re.sub(rf"(?<![^\s,]){re.escape(stage)} (?=\d)", i18n.text(stage, lang) + " ",
                      text)
    return text


def cards_html(cards: pd.DataFrame, *, horizon_days: int = 365, lang: str = "en") -> str:
    """Render persona cards as HTML; every text taken from the data is escaped.

    Parameters
    ----------
    cards : pandas.DataFrame
        Output of :func:`persona_cards` (or its :func:`display_cards` copy).
    horizon_days : int
        Horizon of the ``clv`` figures, for their label.
    lang : {"en", "zh"}
        The report's language: labels, names, strategies, actions and KPIs (text of a
        custom rule without a translation stays as written; data values stay).

    Returns
    -------
    str
        A self-contained ``<div>`` with its own ``<style>``, for
        ``IPython.display.HTML``.
    """
    esc = html.escape
    horizon = (i18n.text("next year", lang) if horizon_days == 365
               else i18n.text("next {days} days", lang, days=horizon_days))
    loss_names = LOSS_STRATEGIES | {i18n.text(name, lang) for name in LOSS_STRATEGIES}
    shown = display_cards(cards, lang)
    parts = [f"<style>{CARD_CSS}</style>", '<div class="seglab-personas">']
    for segment, card in shown.iterrows():
        loss = card.get("strategy") in loss_names
        parts.append('<div class="card">')
        parts.append(f"<h3>{esc(str(card['persona']))}</h3>")
        parts.append(f'<p class="sub">'
                     f"{esc(i18n.text('Segment {segment}', lang, segment=segment))}</p>")
        parts.append(f'<span class="strategy{" loss" if loss else ""}">'
                     f"{esc(str(card['strategy']))}</span>")
        parts.append("<table>")
        for label, text, negative in _card_rows(card, horizon, lang):
            cls = ' class="neg"' if negative else ""
            parts.append(f"<tr><th>{esc(label)}</th><td{cls}>{esc(text)}</td></tr>")
        parts.append("</table>")
        parts.append(f'<div class="do"><strong>{esc(i18n.text("Do:", lang))}</strong> '
                     f'{esc(str(card["action"]))}<br>'
                     f"<strong>{esc(i18n.text('Watch:', lang))}</strong> "
                     f"{esc(str(card['kpi']))}</div>")
        parts.append("</div>")
    parts.append("</div>")
    return "\n".join(parts)
