"""Profit per customer, sub-segment, segment and portfolio, including cost-to-serve."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from seglab import i18n
from seglab.analysis_date import day_end, default_as_of
from seglab.engine import _literal
from seglab.errors import ConfigError, InputError

#: P&L lines per customer, in reading order: revenue is net of discounts and returns,
#: ``profit`` is the contribution (gross margin minus cost-to-serve).
PNL_COLUMNS: tuple[str, ...] = (
    "gross_sales",
    "discounts",
    "returns",
    "revenue",
    "cost_of_goods",
    "gross_margin",
    "handling",
    "shipping",
    "rent",
    "returns_handling",
    "service",
    "marketing",
    "cost_to_serve",
    "profit",
)

#: The parts of cost-to-serve, in the order they are charged.
COST_TO_SERVE_PARTS: tuple[str, ...] = (
    "handling",
    "shipping",
    "rent",
    "returns_handling",
    "service",
    "marketing",
)

#: Measures reconciled at every level (customer, sub-segment, segment, portfolio).
RECONCILED: tuple[str, ...] = ("revenue", "cost_of_goods", "gross_margin", "cost_to_serve",
                               "profit")


@dataclass(frozen=True)
class CostTable:
    """Cost assumptions for the P&L; every figure is documented and overridable.

    Money is in the data's currency. The defaults are placeholders a retailer would
    recognise (a few currency units to pick, pack and ship an order, a store's rent
    a few per cent of its sales); replace them with your own figures through
    :func:`cost_table` (a dict or a YAML file, e.g. the ``costs`` notebook parameter).

    Attributes
    ----------
    default_margin_rate : float
        Gross margin share of revenue when a line has no ``cost`` and its category no rate.
    category_margin_rates : dict
        Gross margin share of revenue by category (used only where ``cost`` is missing).
    order_cost_by_channel : dict
        Handling cost of one purchase order by channel: picking, packing, payment, till.
    default_order_cost : float
        The same for channels not listed, or when the data has no channel.
    shipping_cost_by_channel : dict
        Delivery cost of one purchase order by channel (store orders are carried home).
    default_shipping_cost : float
        The same for channels not listed, or when the data has no channel: an order is
        then assumed to be shipped.
    store_rent_share : dict
        Share of a store's sales that its rent and occupancy cost, by store name.
    default_store_rent_share : float
        The same for stores not listed; online and app orders pay no rent.
    return_cost : float
        Cost of handling one returned order (reverse logistics, inspection, restocking).
    service_contact_cost : float
        Cost of one customer-service contact; charged when the customer table has a
        ``service_contacts`` column (the canonical schema has none yet).
    marketing_cost_by_segment : dict
        Marketing cost per customer per year on file, by segment label (as text).
    default_marketing_cost : float
        The same for segments not listed (CRM messages, loyalty mailings).
    """

    default_margin_rate: float = 0.35
    category_margin_rates: dict[str, float] = field(default_factory=dict)
    order_cost_by_channel: dict[str, float] = field(
        default_factory=lambda: {"store": 1.5, "online": 3.0, "app": 2.5}
    )
    default_order_cost: float = 3.0
    shipping_cost_by_channel: dict[str, float] = field(
        default_factory=lambda: {"store": 0.0, "online": 4.0, "app": 4.0}
    )
    default_shipping_cost: float = 4.0
    store_rent_share: dict[str, float] = field(default_factory=dict)
    default_store_rent_share: float = 0.06
    return_cost: float = 12.0
    service_contact_cost: float = 6.0
    marketing_cost_by_segment: dict[str, float] = field(default_factory=dict)
    default_marketing_cost: float = 2.0

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            values = value.items() if isinstance(value, dict) else [(None, value)]
            for key, number in values:
                where = item.name if key is None else f"{item.name}[{key!r}]"
                if isinstance(number, bool) or not isinstance(number, int | float):
                    raise ConfigError(f"cost table: {where}={number!r} should be a number.")
                rate = "rate" in item.name or "share" in item.name
                if rate and not 0 <= number < 1:
                    raise ConfigError(
                        f"cost table: {where}={number!r} should be a share between 0 and 1."
                    )
                if number < 0:
                    raise ConfigError(f"cost table: {where}={number!r} should not be negative.")


#: What each cost item covers and how it is charged (shown in the report).
COST_DOCS: dict[str, str] = {
    "default_margin_rate": "gross margin share of revenue for lines without cost or rate",
    "category_margin_rates": "gross margin share of revenue by category (lines without cost)",
    "order_cost_by_channel": "handling per purchase order by channel (pick, pack, pay, till)",
    "default_order_cost": "handling per purchase order, other or unknown channel",
    "shipping_cost_by_channel": "delivery per purchase order by channel",
    "default_shipping_cost": "delivery per purchase order, other or unknown channel",
    "store_rent_share": "rent and occupancy as a share of the store's sales, by store",
    "default_store_rent_share": "rent share of other stores (online and app pay none)",
    "return_cost": "handling per returned order (reverse logistics, inspection)",
    "service_contact_cost": "per customer-service contact (when the data has contacts)",
    "marketing_cost_by_segment": "marketing per customer per year on file, by segment",
    "default_marketing_cost": "marketing per customer per year on file, other segments",
}


def cost_table(
    spec: Mapping[str, Any] | str | Path | None = None, *, base: CostTable | None = None
) -> CostTable:
    """Build a cost table from defaults and overrides.

    Parameters
    ----------
    spec : Mapping, str, Path or None
        Overrides: a mapping of :class:`CostTable` field to value, or the path of a YAML
        file holding that mapping (at the top level or under a ``costs:`` key). Dict
        fields are updated key by key, so ``{"order_cost_by_channel": {"store": 2}}``
        keeps the other channels. None, ``""`` or ``{}`` gives ``base``.
    base : CostTable, optional
        The table overridden; default :class:`CostTable`.

    Returns
    -------
    CostTable
        A new table.

    Raises
    ------
    ConfigError
        If the file is missing or not a mapping, a field is unknown or a value is not
        a valid number.

    Examples
    --------
    >>> cost_table({"return_cost": 20.0}).return_cost
    20.0
    """
    base = base or CostTable()
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return base
    source = "costs"
    if isinstance(spec, str | Path):
        path = Path(spec)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"{path}: cost table file not found.")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error}).") from error
        if isinstance(loaded, dict) and isinstance(loaded.get("costs"), dict):
            loaded = loaded["costs"]
        spec = loaded
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{source}: expected a mapping of cost item to value, got {type(spec).__name__}."
        )
    known = {f.name for f in dataclasses.fields(CostTable)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown cost item(s) {unknown}; known: {sorted(known)}.")
    changes: dict[str, Any] = {}
    for name, value in spec.items():
        current = getattr(base, name)
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {name} should be a mapping, got {value!r}.")
            changes[name] = {**current, **{str(k): v for k, v in value.items()}}
        else:
            changes[name] = value
    return dataclasses.replace(base, **changes)


def cost_table_frame(costs: CostTable, *, lang: str = "en") -> pd.DataFrame:
    """Tabulate the cost assumptions for a business reader to check.

    Parameters
    ----------
    costs : CostTable
        Cost assumptions.
    lang : {"en", "zh"}
        Language of the items and ``what it covers`` (values are data and numbers).

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``value`` (dicts as ``key: value`` text) and ``what it covers``.
    """
    rows = []
    for item in dataclasses.fields(costs):
        value = getattr(costs, item.name)
        if isinstance(value, dict):
            text = ", ".join(f"{k}: {v:g}" for k, v in value.items()) or i18n.text("(none)",
                                                                                    lang)
        else:
            text = f"{value:g}"
        rows.append((i18n.text(item.name.replace("_", " "), lang), text,
                     i18n.text(COST_DOCS[item.name], lang)))
    return pd.DataFrame(rows, columns=["item", "value", "what it covers"])


def _check_transactions(transactions: pd.DataFrame) -> None:
    missing = [c for c in ("customer_id", "order_date", "amount") if c not in transactions]
    if missing:
        raise InputError(f"transactions: missing column(s) {missing} needed for the P&L.")


def line_costs(transactions: pd.DataFrame, costs: CostTable | None = None) -> pd.DataFrame:
    """Cost of goods and rent for every line.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions.
    costs : CostTable, optional
        Cost assumptions; defaults to :class:`CostTable`.

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``cost_of_goods`` (the ``cost`` column where present,
        else revenue times one minus the margin rate) and ``rent`` (store lines only:
        amount times the store's rent share, so a return gives its rent back).
    """
    costs = costs or CostTable()
    amount = transactions["amount"].astype(float)
    if "category" in transactions:
        rate = transactions["category"].map(costs.category_margin_rates).astype(float)
    else:
        rate = pd.Series(np.nan, index=transactions.index)
    estimated = amount * (1 - rate.fillna(costs.default_margin_rate))
    if "cost" in transactions:
        cost_of_goods = transactions["cost"].astype(float).fillna(estimated)
    else:
        cost_of_goods = estimated
    rent = pd.Series(0.0, index=transactions.index)
    if "channel" in transactions and "store" in transactions:
        in_store = transactions["channel"].eq("store").fillna(False).astype(bool)
        share = (
            transactions["store"].map(costs.store_rent_share).astype(float)
            .fillna(costs.default_store_rent_share)
        )
        rent = (amount * share).where(in_store, 0.0)
    return pd.DataFrame({"cost_of_goods": cost_of_goods, "rent": rent})


def _lines(transactions: pd.DataFrame, costs: CostTable) -> pd.DataFrame:
    """Lines with their money columns: sales at list price, discount, return, costs."""
    amount = transactions["amount"].astype(float)
    sale = amount > 0
    discount = (
        transactions["discount"].astype(float).fillna(0.0).where(sale, 0.0)
        if "discount" in transactions else pd.Series(0.0, index=transactions.index)
    )
    lines = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].to_numpy(),
            "order": (transactions["order_id"] if "order_id" in transactions
                      else transactions["order_date"].astype("string")).to_numpy(),
            "channel": (transactions["channel"] if "channel" in transactions
                        else pd.Series(pd.NA, index=transactions.index)).to_numpy(),
            "gross_sales": amount.where(sale, 0.0) + discount,
            "discounts": discount,
            "returns": -amount.where(amount < 0, 0.0),
            "revenue": amount,
        },
        index=transactions.index,
    )
    return lines.join(line_costs(transactions, costs))


def _orders(lines: pd.DataFrame, costs: CostTable) -> pd.DataFrame:
    """One row per (customer, order): handling and shipping if a purchase, return cost."""
    orders = lines.groupby(["customer_id", "order"], sort=False, dropna=False).agg(
        amount=("revenue", "sum"), channel=("channel", "first")
    )
    channel = orders["channel"]
    handling = channel.map(costs.order_cost_by_channel).astype(float)
    shipping = channel.map(costs.shipping_cost_by_channel).astype(float)
    purchase = orders["amount"] > 0
    orders["handling"] = np.where(purchase, handling.fillna(costs.default_order_cost), 0.0)
    orders["shipping"] = np.where(purchase, shipping.fillna(costs.default_shipping_cost), 0.0)
    orders["returns_handling"] = np.where(orders["amount"] < 0, costs.return_cost, 0.0)
    return orders


def _customer_charges(
    lines: pd.DataFrame | None,
    costs: CostTable,
    *,
    segments: pd.Series | None,
    as_of: pd.Timestamp,
    first_order: pd.Series,
    service_contacts: pd.Series | None,
) -> pd.DataFrame:
    """Costs charged per customer rather than per line: service contacts and marketing."""
    ids = first_order.index
    years = (as_of - first_order.dt.normalize()).dt.days.clip(lower=1) / 365.25
    if segments is None:
        rate = pd.Series(costs.default_marketing_cost, index=ids)
    else:
        labels = segments.astype("string").reindex(ids)
        rate = labels.map(costs.marketing_cost_by_segment).astype(float).fillna(
            costs.default_marketing_cost
        )
    contacts = (
        pd.Series(0.0, index=ids) if service_contacts is None
        else service_contacts.astype(float).reindex(ids).fillna(0.0)
    )
    return pd.DataFrame(
        {"service": contacts * costs.service_contact_cost, "marketing": rate * years},
        index=ids,
    )


#: Per-customer sums :func:`customer_line_sums` takes from the lines and orders.
LINE_SUMS: tuple[str, ...] = ("gross_sales", "discounts", "returns", "revenue",
                              "cost_of_goods", "rent", "handling", "shipping",
                              "returns_handling")


def customer_line_sums(transactions: pd.DataFrame, costs: CostTable | None = None
                       ) -> pd.DataFrame:
    """Sum the P&L lines that come from transactions, per customer.

    The first half of :func:`customer_pnl`; a large log is summed bucket by bucket of
    customers and finished once with :func:`pnl_from_line_sums`.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions (see :func:`customer_pnl`).
    costs : CostTable, optional
        Cost assumptions.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted): the columns of :data:`LINE_SUMS` and
        ``first_order`` (first transaction time).
    """
    return line_sums_and_totals(transactions, costs)[0]


def line_sums_and_totals(transactions: pd.DataFrame, costs: CostTable | None = None
                         ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Return :func:`customer_line_sums` and :func:`line_totals` of one log together.

    Both come from the same priced lines and orders (computed once), added up two
    ways: by customer, and straight over lines and orders.
    """
    _check_transactions(transactions)
    costs = costs or CostTable()
    lines = _lines(transactions, costs)
    orders = _orders(lines, costs)
    sums = lines.groupby("customer_id", sort=True)[list(LINE_SUMS[:6])].sum()
    served = orders.groupby(level="customer_id")[
        ["handling", "shipping", "returns_handling"]
    ].sum()
    first_order = transactions.groupby("customer_id", sort=True)["order_date"].min()
    sums = sums.join(served).assign(first_order=first_order)
    sums.index.name = "customer_id"
    totals = {name: float((orders if name in ("handling", "shipping", "returns_handling")
                           else lines)[name].sum()) for name in LINE_SUMS}
    return sums, totals


def _sql_number(value: float) -> str:
    # DuckDB reads 0.35 as a DECIMAL; pandas computes in doubles, and so must the SQL.
    return f"CAST({float(value)!r} AS DOUBLE)"


def _sql_lookup(column: str, rates: Mapping[str, float], default: float) -> str:
    """Return SQL for ``rates.get(column, default)``, as ``map(...).fillna(default)``."""
    if not rates:
        return _sql_number(default)
    cases = " ".join(f"WHEN {_literal(key)} THEN {_sql_number(rate)}"
                     for key, rate in rates.items())
    return f"COALESCE(CASE {column} {cases} END, {_sql_number(default)})"


def line_sums_sql(columns: Sequence[str], costs: CostTable | None = None, *,
                  as_of: pd.Timestamp, dimension: str | None = None) -> str:
    """Return the DuckDB query of :func:`line_sums_and_totals` (and :func:`main_value`).

    It reads the relation ``transactions`` (clean canonical columns, and
    ``line_number``: the lines' order, for an order's first channel) up to the end of
    ``as_of``, and returns one row per customer with the columns of
    :func:`customer_line_sums`, plus one row with ``is_total`` true: the sums over every
    line and order (:func:`line_totals`). With ``dimension``, ``main`` is
    :func:`main_value` of that column.

    Parameters
    ----------
    columns : sequence of str
        Columns the transactions have.
    costs : CostTable, optional
        Cost assumptions.
    as_of : pandas.Timestamp
        Analysis date (its whole day counts).
    dimension : str, optional
        Column whose main value per customer to add.

    Returns
    -------
    str
        One query.
    """
    costs = costs or CostTable()
    end = f"TIMESTAMP '{day_end(as_of)}'"
    zero = _sql_number(0)
    discount = (f"CASE WHEN amount > 0 THEN COALESCE(CAST(discount AS DOUBLE), {zero}) "
                f"ELSE {zero} END" if "discount" in columns else zero)
    rate = _sql_lookup("category", costs.category_margin_rates, costs.default_margin_rate)
    if "category" not in columns:
        rate = _sql_number(costs.default_margin_rate)
    estimated = f"amount * ({_sql_number(1)} - {rate})"
    cost_of_goods = (f"COALESCE(CAST(cost AS DOUBLE), {estimated})" if "cost" in columns
                     else estimated)
    rent = zero
    if "channel" in columns and "store" in columns:
        share = _sql_lookup("store", costs.store_rent_share, costs.default_store_rent_share)
        rent = f"CASE WHEN channel = 'store' THEN amount * {share} ELSE {zero} END"
    order_key = "order_id" if "order_id" in columns else "order_date"
    channel = "channel" if "channel" in columns else "CAST(NULL AS VARCHAR)"
    handling = _sql_lookup("o.channel", costs.order_cost_by_channel, costs.default_order_cost)
    shipping = _sql_lookup("o.channel", costs.shipping_cost_by_channel,
                           costs.default_shipping_cost)
    line_sums = ", ".join(f"FSUM({name}) AS {name}" for name in LINE_SUMS[:6])
    main, main_join = "", ""
    if dimension:
        # Sales rounded and ties broken by name, as main_value does, so both pick the
        # same value whatever order their sums add in.
        main = ", ANY_VALUE(m.main) AS main"
        main_join = f"""
LEFT JOIN (
    SELECT customer_id, FIRST(value ORDER BY sales DESC, value) AS main
    FROM (SELECT customer_id, {dimension} AS value, ROUND(FSUM(amount), {MAIN_DECIMALS}) AS sales
          FROM transactions
          WHERE amount > 0 AND {dimension} IS NOT NULL AND order_date < {end}
          GROUP BY customer_id, {dimension})
    GROUP BY customer_id
) AS m ON m.customer_id = o.customer_id"""
    # FSUM (Kahan) rather than SUM: the portfolio ledger of 100 million lines must agree
    # with the customers' P&L to the cent, as pandas' compensated sums do.
    return f"""
WITH lines AS (
    SELECT customer_id, {order_key} AS order_key, {channel} AS channel, order_date,
           line_number,
           CASE WHEN amount > 0 THEN amount ELSE {zero} END + {discount} AS gross_sales,
           {discount} AS discounts,
           CASE WHEN amount < 0 THEN -amount ELSE {zero} END AS returns,
           amount AS revenue,
           {cost_of_goods} AS cost_of_goods,
           {rent} AS rent
    FROM transactions
    WHERE order_date < {end}
), orders AS (
    SELECT customer_id, {line_sums}, MIN(order_date) AS first_order,
           ARG_MIN(channel, line_number) AS channel
    FROM lines
    GROUP BY customer_id, order_key
)
SELECT o.customer_id, GROUPING(o.customer_id) = 1 AS is_total,
       {", ".join(f"FSUM(o.{name}) AS {name}" for name in LINE_SUMS[:6])},
       FSUM(CASE WHEN o.revenue > 0 THEN {handling} ELSE {zero} END)
           AS handling,
       FSUM(CASE WHEN o.revenue > 0 THEN {shipping} ELSE {zero} END)
           AS shipping,
       FSUM(CASE WHEN o.revenue < 0 THEN {_sql_number(costs.return_cost)} ELSE {zero} END)
           AS returns_handling,
       MIN(o.first_order) AS first_order{main}
FROM orders AS o{main_join}
GROUP BY GROUPING SETS ((o.customer_id), ())
"""


def pnl_from_line_sums(
    sums: pd.DataFrame,
    costs: CostTable | None = None,
    *,
    segments: pd.Series | None = None,
    as_of: pd.Timestamp,
    service_contacts: pd.Series | None = None,
) -> pd.DataFrame:
    """Finish the customer P&L from :func:`customer_line_sums`: charges and totals.

    Parameters
    ----------
    sums : pandas.DataFrame
        Output of :func:`customer_line_sums` (for one log, or stacked over buckets).
    costs, segments, as_of, service_contacts
        As for :func:`customer_pnl`.

    Returns
    -------
    pandas.DataFrame
        As :func:`customer_pnl`.
    """
    costs = costs or CostTable()
    pnl = sums.drop(columns="first_order").join(
        _customer_charges(None, costs, segments=segments, as_of=pd.Timestamp(as_of),
                          first_order=sums["first_order"], service_contacts=service_contacts)
    )
    pnl["gross_margin"] = pnl["revenue"] - pnl["cost_of_goods"]
    pnl["cost_to_serve"] = pnl[list(COST_TO_SERVE_PARTS)].sum(axis=1)
    pnl["profit"] = pnl["gross_margin"] - pnl["cost_to_serve"]
    pnl.index.name = "customer_id"
    return pnl[list(PNL_COLUMNS)]


def customer_pnl(
    transactions: pd.DataFrame,
    costs: CostTable | None = None,
    *,
    segments: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    service_contacts: pd.Series | None = None,
) -> pd.DataFrame:
    """Profit and loss per customer, from gross sales down to contribution.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions: one row per line, returns negative. Uses
        ``customer_id``, ``order_date``, ``amount`` and, when present, ``order_id``,
        ``discount``, ``cost``, ``category``, ``channel`` and ``store``.
    costs : CostTable, optional
        Cost assumptions.
    segments : pandas.Series, optional
        Segment label per customer id, for the marketing cost per segment.
    as_of : pandas.Timestamp, optional
        Analysis date, for the years on file that marketing is charged for; default
        the day after the last transaction.
    service_contacts : pandas.Series, optional
        Service contacts per customer id.

    Returns
    -------
    pandas.DataFrame
        One row per customer (indexed by ``customer_id``, sorted) with the columns of
        :data:`PNL_COLUMNS`: ``revenue = gross_sales - discounts - returns``,
        ``gross_margin = revenue - cost_of_goods``, ``cost_to_serve`` the sum of
        :data:`COST_TO_SERVE_PARTS` and ``profit = gross_margin - cost_to_serve`` (the
        contribution). Sums over customers equal :func:`portfolio_totals`.

    Raises
    ------
    InputError
        If a required column is missing.
    """
    _check_transactions(transactions)
    if as_of is None:
        as_of = default_as_of(transactions)
    return pnl_from_line_sums(customer_line_sums(transactions, costs), costs,
                              segments=segments, as_of=as_of,
                              service_contacts=service_contacts)


def line_totals(transactions: pd.DataFrame, costs: CostTable | None = None
                ) -> dict[str, float]:
    """Totals of :data:`LINE_SUMS` straight from the lines and orders, not by customer.

    The first half of :func:`portfolio_totals`; totals of buckets of a large log add up.
    """
    return line_sums_and_totals(transactions, costs)[1]


def portfolio_totals(
    transactions: pd.DataFrame,
    costs: CostTable | None = None,
    *,
    segments: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    service_contacts: pd.Series | None = None,
) -> dict[str, float]:
    """Portfolio totals straight from the lines and orders, without grouping by customer.

    Parameters
    ----------
    transactions, costs, segments, as_of, service_contacts
        As for :func:`customer_pnl`.

    Returns
    -------
    dict
        Total of every column of :data:`PNL_COLUMNS`.
    """
    _check_transactions(transactions)
    if as_of is None:
        as_of = default_as_of(transactions)
    first_order = transactions.groupby("customer_id")["order_date"].min()
    return portfolio_from_line_totals([line_totals(transactions, costs)], first_order, costs,
                              segments=segments, as_of=as_of,
                              service_contacts=service_contacts)


def portfolio_from_line_totals(
    totals: list[dict[str, float]],
    first_order: pd.Series,
    costs: CostTable | None = None,
    *,
    segments: pd.Series | None = None,
    as_of: pd.Timestamp,
    service_contacts: pd.Series | None = None,
) -> dict[str, float]:
    """Finish :func:`portfolio_totals` from :func:`line_totals` of one log or of its buckets.

    Parameters
    ----------
    totals : list of dict
        :func:`line_totals` of each part of the log.
    first_order : pandas.Series
        First transaction time per customer id (for the marketing charge).
    costs, segments, as_of, service_contacts
        As for :func:`customer_pnl`.

    Returns
    -------
    dict
        Total of every column of :data:`PNL_COLUMNS`.
    """
    costs = costs or CostTable()
    charges = _customer_charges(None, costs, segments=segments, as_of=pd.Timestamp(as_of),
                                first_order=first_order, service_contacts=service_contacts)
    out = {name: math.fsum(part[name] for part in totals) for name in LINE_SUMS}
    out |= {name: float(charges[name].sum()) for name in ("service", "marketing")}
    out["gross_margin"] = out["revenue"] - out["cost_of_goods"]
    out["cost_to_serve"] = sum(out[name] for name in COST_TO_SERVE_PARTS)
    out["profit"] = out["gross_margin"] - out["cost_to_serve"]
    return {name: out[name] for name in PNL_COLUMNS}


def _money_columns(customers: pd.DataFrame) -> list[str]:
    return [c for c in PNL_COLUMNS if c in customers]


def _ratios(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["margin_rate"] = table["gross_margin"] / table["revenue"].replace(0, np.nan)
    table["profit_margin"] = table["profit"] / table["revenue"].replace(0, np.nan)
    table["profit_per_customer"] = table["profit"] / table["customers"]
    return table


def segment_pnl(customers: pd.DataFrame, segment_col: str) -> pd.DataFrame:
    """Sum customer P&L by segment, with a portfolio total row.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with the columns of :func:`customer_pnl` (at least
        ``revenue``, ``gross_margin``, ``cost_to_serve``, ``profit``) and ``segment_col``.
    segment_col : str
        Column to group by.

    Returns
    -------
    pandas.DataFrame
        One row per segment plus ``"Portfolio"``: ``customers``, the P&L sums,
        ``unprofitable_share`` (customers with negative profit), ``margin_rate``
        (gross margin / revenue), ``profit_margin`` (profit / revenue) and
        ``profit_per_customer``.

    Raises
    ------
    ConfigError
        If ``segment_col`` is not a column.
    """
    if segment_col not in customers:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of the customer table.")
    money = _money_columns(customers)
    grouped = customers.groupby(segment_col, sort=True)
    table = grouped[money].sum()
    table.insert(0, "customers", grouped.size())
    table["unprofitable_share"] = grouped["profit"].apply(lambda p: float((p < 0).mean()))
    total = customers[money].sum().to_frame("Portfolio").T
    total.insert(0, "customers", len(customers))
    total["unprofitable_share"] = float((customers["profit"] < 0).mean())
    table = pd.concat([table, total])
    table.index.name = segment_col
    return _ratios(table)


def sub_segment_pnl(
    customers: pd.DataFrame, segment_col: str, by: str, *, top: int | None = 6
) -> pd.DataFrame:
    """Sum customer P&L by segment and a second customer attribute (channel, region).

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with the P&L columns, ``segment_col`` and ``by``.
    segment_col : str
        Segment column.
    by : str
        Column splitting each segment, e.g. ``main_channel``; missing values are
        shown as ``"(unknown)"`` so every customer is counted once.
    top : int or None
        Keep the ``top`` values of ``by`` with the most revenue and pool the rest as
        ``"(other)"`` (None keeps all), so 37 countries do not make 37 rows a segment.

    Returns
    -------
    pandas.DataFrame
        One row per (segment, ``by``) pair present, columns ``segment_col``, ``by``,
        ``customers``, the P&L sums, ``unprofitable_share``, ``margin_rate``,
        ``profit_margin`` and ``profit_per_customer``.

    Raises
    ------
    ConfigError
        If a column is missing.
    """
    for column in (segment_col, by):
        if column not in customers:
            raise ConfigError(f"{column!r} is not a column of the customer table.")
    money = _money_columns(customers)
    values = customers[by].astype("string").fillna("(unknown)")
    if top is not None and values.nunique() > top:
        kept = customers.groupby(values)["revenue"].sum().nlargest(top).index
        values = values.where(values.isin(kept), "(other)")
    frame = customers.assign(**{by: values})
    grouped = frame.groupby([segment_col, by], sort=True)
    table = grouped[money].sum()
    table.insert(0, "customers", grouped.size())
    table["unprofitable_share"] = grouped["profit"].apply(lambda p: float((p < 0).mean()))
    return _ratios(table).reset_index()


def sub_segment_column(transactions: pd.DataFrame, by: str = "auto") -> str | None:
    """Pick the transaction column that splits segments into sub-segments.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions.
    by : {"auto", "channel", "region", "country"}
        The column wanted; ``auto`` takes the first of channel, region, country that
        has values.

    Returns
    -------
    str or None
        The column, or None when ``auto`` finds none.

    Raises
    ------
    ConfigError
        If ``by`` is not one of the choices, or the column asked for has no values.
    """
    options = ("channel", "region", "country")
    if by != "auto" and by not in options:
        raise ConfigError(f"sub_segment_by={by!r} should be 'auto' or one of {list(options)}.")
    for column in options if by == "auto" else (by,):
        if column in transactions and transactions[column].notna().any():
            return column
    if by != "auto":
        raise ConfigError(f"sub_segment_by={by!r}: the transactions have no {by} values.")
    return None


#: Decimals a customer's sales per value are rounded to before :func:`main_value`
#: picks the largest: sums a float rounding apart are ties, broken by name.
MAIN_DECIMALS = 6


def main_value(transactions: pd.DataFrame, column: str) -> pd.Series:
    """Find the value of ``column`` on which each customer spent most (ties: first by name).

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions with ``column``.
    column : str
        E.g. ``channel``, ``region`` or ``country``.

    Returns
    -------
    pandas.Series
        Indexed by ``customer_id``; missing when the customer has no positive line
        with a value.
    """
    sales = transactions.loc[transactions["amount"] > 0, ["customer_id", column, "amount"]]
    sales = sales.dropna(subset=[column])
    totals = (sales.groupby(["customer_id", column], sort=True, observed=True)["amount"].sum()
              .round(MAIN_DECIMALS))
    if totals.empty:
        return pd.Series(dtype="string", name=column)
    best = totals.groupby(level="customer_id").idxmax()
    return pd.Series([pair[1] for pair in best], index=best.index, dtype="string", name=column)


def whale_curve(profit: pd.Series) -> pd.DataFrame:
    """Cumulative profit share against customers ranked by profit (the whale curve).

    Parameters
    ----------
    profit : pandas.Series
        Profit per customer.

    Returns
    -------
    pandas.DataFrame
        ``customer_share`` (0..1), ``cumulative_profit`` and
        ``cumulative_profit_share`` (total profit = 1; the curve peaks above 1 when
        some customers lose money).
    """
    ordered = profit.sort_values(ascending=False, kind="stable").to_numpy(dtype=float)
    total = ordered.sum()
    cumulative = np.cumsum(ordered)
    return pd.DataFrame(
        {
            "customer_share": np.arange(1, len(ordered) + 1) / len(ordered),
            "cumulative_profit": cumulative,
            "cumulative_profit_share": cumulative / total if total else np.nan,
        }
    )


def whale_summary(profit: pd.Series, *, lang: str = "en") -> dict[str, Any]:
    """Describe the whale curve's peak in words and numbers.

    Parameters
    ----------
    profit : pandas.Series
        Profit per customer.
    lang : {"en", "zh"}
        Language of ``text``.

    Returns
    -------
    dict
        ``peak_customers`` and ``peak_customer_share`` (customers with positive
        profit), ``peak_profit`` and ``peak_profit_share`` (their profit, as a share of
        the total), ``give_back`` (loss of all the others, positive) and
        ``give_back_share`` (as a share of the total), ``total_profit`` and ``text``,
        e.g. "22% of customers earn 130% of the profit; the other 78% give back 30%".
    """
    values = profit.to_numpy(dtype=float)
    n = len(values)
    total = float(values.sum())
    winners = values[values > 0]
    peak = float(winners.sum())
    give_back = float(-values[values <= 0].sum())
    share = len(winners) / n if n else 0.0
    summary: dict[str, Any] = {
        "customers": n,
        "peak_customers": len(winners),
        "peak_customer_share": share,
        "peak_profit": peak,
        "peak_profit_share": peak / total if total > 0 else None,
        "give_back": give_back,
        "give_back_share": give_back / total if total > 0 else None,
        "total_profit": total,
    }
    if n == 0:
        text = i18n.text("No customers.", lang)
    elif give_back == 0:
        text = i18n.text("Every customer is profitable: together they earn {total:,.0f}.",
                         lang, total=total)
    elif total > 0:
        text = i18n.text(
            "{share:.0%} of customers ({winners:,}) earn {peak_share:.0%} of the profit "
            "({peak:,.0f}); the other {others:.0%} give back {give_back:,.0f} "
            "({give_back_share:.0%} of the total), leaving {total:,.0f}.", lang,
            share=share, winners=len(winners), peak_share=peak / total, peak=peak,
            others=1 - share, give_back=give_back, give_back_share=give_back / total,
            total=total)
    else:
        text = i18n.text(
            "{share:.0%} of customers ({winners:,}) earn {peak:,.0f}; the other {others:.0%} "
            "lose {give_back:,.0f}, so the portfolio loses {loss:,.0f}.", lang,
            share=share, winners=len(winners), peak=peak, others=1 - share,
            give_back=give_back, loss=-total)
    summary["text"] = text
    return summary


def high_revenue_loss_makers(
    customers: pd.DataFrame, segment_col: str, *, top_share: float = 0.25,
    describe: str | None = None,
) -> pd.DataFrame:
    """High-revenue customers who lose money, and what makes them lose it, per segment.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with the P&L columns and ``segment_col``.
    segment_col : str
        Segment column (or any label, e.g. ``persona``).
    top_share : float
        Share of customers, by revenue, counted as high-revenue (default the top 25%).
    describe : str, optional
        A label column (e.g. the planted segment) whose values among the losers are
        counted in a text column ``"<describe> of losers"``.

    Returns
    -------
    pandas.DataFrame
        One row per segment with such customers plus ``"All"``: ``high_revenue``
        (customers in the top share), ``losing`` (of those, negative profit),
        ``losing_share``, ``losing_by_cost_to_serve`` (positive gross margin but
        negative profit: cost-to-serve alone turns them), ``largest_cost`` (the biggest
        part of the losers' cost-to-serve and its share, as text), and their ``revenue``,
        ``gross_margin``, the parts of cost-to-serve present, ``cost_to_serve`` and
        ``profit``.
    """
    if not 0 < top_share <= 1:
        raise ConfigError(f"top_share={top_share} should be in (0, 1].")
    cut = customers["revenue"].quantile(1 - top_share)
    high = customers[customers["revenue"] >= cut]
    losing = high[high["profit"] < 0]
    parts = [c for c in COST_TO_SERVE_PARTS if c in customers]
    money = ["revenue", "gross_margin", *parts, "cost_to_serve", "profit"]

    def summarise(frame_high: pd.DataFrame, frame_losing: pd.DataFrame) -> dict[str, Any]:
        row = {
            "high_revenue": len(frame_high),
            "losing": len(frame_losing),
            "losing_share": len(frame_losing) / len(frame_high) if len(frame_high) else 0.0,
            "losing_by_cost_to_serve": int((frame_losing["gross_margin"] > 0).sum()),
        }
        sums = frame_losing[money].sum()
        largest = sums[parts].idxmax() if parts and sums[parts].max() > 0 else None
        row["largest_cost"] = (
            f"{largest.replace('_', ' ')} ({sums[largest] / sums['cost_to_serve']:.0%})"
            if largest else ""
        )
        if describe is not None:
            counts = frame_losing[describe].astype("string").fillna("?").value_counts()
            row[f"{describe} of losers"] = ", ".join(f"{k} {v}" for k, v in counts.items())
        return row | sums.to_dict()

    rows = {
        segment: summarise(group, losing[losing[segment_col] == segment])
        for segment, group in high.groupby(segment_col, sort=True)
    }
    rows["All"] = summarise(high, losing)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = segment_col
    return table


def reconciliation(
    customers: pd.DataFrame,
    segments: pd.DataFrame,
    ledger: Mapping[str, float],
    *,
    sub_segments: pd.DataFrame | None = None,
    measures: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Show that every level of the P&L adds up to the ledger, to the cent.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table with the P&L columns.
    segments : pandas.DataFrame
        Output of :func:`segment_pnl` (with its ``"Portfolio"`` row).
    ledger : Mapping
        Totals straight from the transactions (:func:`portfolio_totals`).
    sub_segments : pandas.DataFrame, optional
        Output of :func:`sub_segment_pnl`.
    measures : tuple of str, optional
        Measures to check; default those of :data:`RECONCILED` present in ``ledger``.

    Returns
    -------
    pandas.DataFrame
        One row per measure; a column per level (customers, sub-segments, segments,
        portfolio, ledger), ``difference`` (largest minus smallest) and ``agrees``
        (the difference is under half a cent).
    """
    measures = measures or tuple(m for m in RECONCILED if m in ledger)
    rows = {}
    for measure in measures:
        levels = {"customers": float(customers[measure].sum())}
        if sub_segments is not None:
            levels["sub-segments"] = float(sub_segments[measure].sum())
        levels |= {
            "segments": float(segments.drop(index="Portfolio")[measure].sum()),
            "portfolio": float(segments.loc["Portfolio", measure]),
            "ledger": float(ledger[measure]),
        }
        spread = max(levels.values()) - min(levels.values())
        rows[measure] = {**levels, "difference": spread, "agrees": bool(spread < 0.005)}
    table = pd.DataFrame(rows).T
    table["agrees"] = table["agrees"].astype(bool)
    table.index.name = "measure"
    return table
