"""Embedded synthetic customer study: transactions, customers and planted segments.

The study is what every report and test runs on when a user brings no data. It mimics a
Chinese omnichannel retailer (stores, web shop, app) over a window of ``years`` ending
at ``end_date``, with seven planted customer segments whose behaviour overlaps the way
real segments do: each customer draws personal rates (order frequency, basket size,
price tier, discount and return propensity, channel mix) from segment-level
distributions, so each segment is a cloud with heavy tails rather than a point.

Conventions other modules rely on
---------------------------------
* Time window: orders fall on the ``round(365.25 * years)`` calendar days *before*
  ``end_date`` (normalised to midnight), so every ``order_date`` satisfies
  ``end_date - window <= order_date < end_date``. Ages are measured at ``end_date``.
* Ids: customers ``"C000123"`` (at least six digits), orders ``"O00001234"``
  (at least eight digits, sale orders numbered in time order; planted dirt orders
  follow, see "Dirt"), products ``"P0001"``.
* Returns: a return is a later row with negative ``quantity``, ``amount`` and ``cost``
  for the same product, in an order whose id is ``RETURN_PREFIX`` (``"R"``) followed by
  the original order id (``"RO00001234"`` returns lines of ``"O00001234"``); all lines
  of one original order returned together share that id and timestamp. On return rows
  ``unit_price`` is the net price the customer paid per unit (refund per unit) and
  ``discount`` is 0, so ``amount == quantity * unit_price - discount`` holds on every
  row and ``discount >= 0`` everywhere. Returns that would fall on or after
  ``end_date`` are not generated (not yet happened).
* Channels are ``"store"``, ``"online"`` and ``"app"``. ``store`` is the name of the
  physical store for store orders and missing (``pd.NA``) for online and app orders;
  ``region`` is the store's region for store orders and the customer's (ship-to)
  region otherwise. ``country`` is ``"China"`` throughout.
* Costs: ``cost`` on a sale line is the cost of goods at list price; on a return row
  it is minus the cost recovered into stock (``return_recovery`` of the category), so
  returns lose money through write-offs. Store rents live in ``STORES`` and, with the
  category margins, in ``COST_TABLE`` (a ``seglab.profit.CostTable``) for profit
  reports on this data; the high-rent flagship is ``FLAGSHIP_STORE``.

Planted movement
----------------
Segments are not frozen over the window: each customer buys only inside a planted
activity period, so membership moves in known ways over time. Loyal customers lapse
(``"Lapsing"`` buy about monthly, then stop 120-365 days before ``end_date``); new
customers arrive all through the window and those of the ongoing segments
(``"Regular"``, ``"Bargain hunter"``, ...) grow into regulars; ``"One-time"`` customers
arrive, buy once or twice within three weeks and lapse; ``"New"`` arrive in the last
90 days. ``SyntheticStudy.movement`` gives each customer's activity period
(``active_from``, ``active_until``) and :func:`planted_stage` the planted lifecycle
stage of every customer at any date, so measured segment migration can be checked
against the truth. The movement comes from the same draws as the transactions: adding
it changed no generated row.

Dirt
----
Real logs hold lines a study must clean away, so by default (``make_study(dirt=True)``)
the log carries a small planted share of them, about 0.7% of the lines, added after
every other draw (the clean rows, customers, truth and movement are those of
``dirt=False``) and counted in ``SyntheticStudy.dirt`` (:class:`PlantedDirt`), which
matches the rows of seglab's cleaning log under the default rules:

* lines without customer id (``missing_customer``): copies of whole sale orders on
  another day with no ``customer_id`` (guest checkouts), in orders numbered on after
  the last sale order;
* exact duplicates (``exact_duplicates``): second copies of distinct lines;
* postage and fees (``non_product_codes``): one line of ``"POST"`` (postage, 10 CNY)
  on online and app orders, or of ``"BANK CHARGES"`` (a payment fee, 15 CNY), with
  no category and no cost, in customers' orders;
* one cancelled outlier order (``extreme_outliers``): as in the UCI log, a customer
  orders ``DIRT_OUTLIER_QUANTITY`` units of the cheapest product on the day of one of
  their orders, in an order of its own, and cancels it minutes later in an order whose
  id is ``CANCEL_PREFIX`` (``"C"``) followed by the order's id (quantity, amount and
  cost negated);
* free lines (``free_lines``, kept and flagged by default): one unit of a cheap
  product at unit price 0 in a customer's order, at its cost of goods.

Lines added to customers' orders share the order's id and time, so no customer gains
a purchase day; the outlier order adds an order, not a day. Cleaning with
``CleaningRules(outlier_rule="drop", drop_free_lines=True)`` removes exactly the dirt
and leaves the ``dirt=False`` log.

Large studies, of millions of customers, are written in parts by
:func:`seglab.synth_parts.write_study_parts` (spotless logs).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seglab.analysis_date import default_as_of, parse_as_of
from seglab.errors import ConfigError, RunError
from seglab.profit import CostTable
from seglab.schema import CUSTOMER_COLUMNS, TRANSACTION_COLUMNS

logger = logging.getLogger(__name__)

#: Planted segments and the distributions their customers' personal rates are drawn
#: from. Category weights follow the order of ``CATEGORIES``; channel weights the order
#: of ``CHANNELS``; city-tier weights multiply the city weights of Tier 1, 2, 3.
#:
#: * ``share``: fraction of customers (shares are normalised; counts are allocated
#:   exactly by largest remainder).
#: * ``orders_per_month``: mean of the per-customer lognormal order rate while active;
#:   ``rate_sigma`` its log-scale spread (heavier tail when larger).
#: * ``last_days_ago``: uniform range of the end of activity, in days before
#:   ``end_date`` (0 = still active; clipped to the window). ``span_days``: uniform
#:   range of the length of the active period before that, so the first purchase is
#:   ``last + span`` days ago; a first purchase before the window means the customer
#:   was already active (and signed up) then. ``max_orders``: cap on orders
#:   (``None`` = no cap).
#: * ``extra_lines``: mean number of lines beyond the first per order (per-customer
#:   gamma). ``premium``: mean price-tier propensity (negative = budget tier,
#:   positive = premium). ``item_tilt``: how strongly pricier items within a category
#:   are preferred. ``quantity_mult``: multiplies the category's extra units per line.
#: * ``flagship``: probability the customer's home store is ``FLAGSHIP_STORE``.
#: * ``discount_prob``: mean per-customer probability that a line is discounted;
#:   ``discount_depth``: mean fraction taken off a discounted line.
#: * ``return_rate``: mean per-customer line return propensity (multiplied by the
#:   category's ``return_factor``); ``heavy_return_share`` of the customers are heavy
#:   returners with mean propensity ``heavy_return_rate`` instead.
#: * ``age``: (mean, sd) in years; ``female``: share of women among known genders;
#:   ``consent``: probability of contact consent.
SEGMENT_PROFILES: dict[str, dict[str, Any]] = {
    "VIP loyal": {
        "share": 0.06,
        "orders_per_month": 2.8,
        "rate_sigma": 0.45,
        "last_days_ago": (0.0, 0.0),
        "span_days": (450.0, 2500.0),
        "max_orders": None,
        "extra_lines": 1.6,
        "premium": 0.8,
        "item_tilt": 0.2,
        "quantity_mult": 1.1,
        "category_weights": (0.22, 0.22, 0.12, 0.14, 0.10, 0.12, 0.08),
        "channel_weights": (0.40, 0.12, 0.48),
        "flagship": 0.15,
        "discount_prob": 0.10,
        "discount_depth": 0.12,
        "return_rate": 0.05,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (41.0, 9.0),
        "female": 0.62,
        "city_tier_weights": (1.8, 1.0, 0.5),
        "consent": 0.88,
    },
    "Regular": {
        "share": 0.25,
        "orders_per_month": 1.0,
        "rate_sigma": 0.5,
        "last_days_ago": (0.0, 0.0),
        "span_days": (60.0, 1500.0),
        "max_orders": None,
        "extra_lines": 1.1,
        "premium": 0.0,
        "item_tilt": 0.0,
        "quantity_mult": 1.0,
        "category_weights": (0.20, 0.16, 0.08, 0.12, 0.22, 0.12, 0.10),
        "channel_weights": (0.40, 0.35, 0.25),
        "flagship": 0.05,
        "discount_prob": 0.22,
        "discount_depth": 0.15,
        "return_rate": 0.06,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (37.0, 11.0),
        "female": 0.55,
        "city_tier_weights": (1.0, 1.0, 1.0),
        "consent": 0.72,
    },
    "Big-ticket occasional": {
        "share": 0.08,
        "orders_per_month": 0.28,
        "rate_sigma": 0.5,
        "last_days_ago": (0.0, 0.0),
        "span_days": (90.0, 1800.0),
        "max_orders": None,
        "extra_lines": 0.5,
        "premium": 1.1,
        "item_tilt": 0.7,
        "quantity_mult": 1.0,
        "category_weights": (0.08, 0.04, 0.42, 0.34, 0.02, 0.08, 0.02),
        "channel_weights": (0.55, 0.35, 0.10),
        "flagship": 0.55,
        "discount_prob": 0.15,
        "discount_depth": 0.10,
        "return_rate": 0.06,
        "heavy_return_share": 0.30,
        "heavy_return_rate": 0.50,
        "age": (44.0, 10.0),
        "female": 0.38,
        "city_tier_weights": (2.0, 1.0, 0.5),
        "consent": 0.60,
    },
    "Bargain hunter": {
        "share": 0.18,
        "orders_per_month": 1.8,
        "rate_sigma": 0.55,
        "last_days_ago": (0.0, 0.0),
        "span_days": (60.0, 1200.0),
        "max_orders": None,
        "extra_lines": 0.4,
        "premium": -1.0,
        "item_tilt": -0.3,
        "quantity_mult": 1.3,
        "category_weights": (0.20, 0.10, 0.04, 0.08, 0.40, 0.10, 0.08),
        "channel_weights": (0.10, 0.62, 0.28),
        "flagship": 0.02,
        "discount_prob": 0.65,
        "discount_depth": 0.28,
        "return_rate": 0.08,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (32.0, 10.0),
        "female": 0.58,
        "city_tier_weights": (0.6, 1.0, 1.5),
        "consent": 0.78,
    },
    "New": {
        "share": 0.12,
        "orders_per_month": 0.9,
        "rate_sigma": 0.5,
        "last_days_ago": (0.0, 0.0),
        "span_days": (0.0, 88.0),
        "max_orders": 3,
        "extra_lines": 1.0,
        "premium": 0.0,
        "item_tilt": 0.0,
        "quantity_mult": 1.0,
        "category_weights": (0.22, 0.18, 0.10, 0.12, 0.18, 0.12, 0.08),
        "channel_weights": (0.30, 0.40, 0.30),
        "flagship": 0.05,
        "discount_prob": 0.40,
        "discount_depth": 0.18,
        "return_rate": 0.07,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (29.0, 8.0),
        "female": 0.55,
        "city_tier_weights": (1.1, 1.0, 0.9),
        "consent": 0.68,
    },
    "Lapsing": {
        "share": 0.13,
        "orders_per_month": 1.1,
        "rate_sigma": 0.5,
        "last_days_ago": (120.0, 365.0),
        "span_days": (180.0, 1500.0),
        "max_orders": None,
        "extra_lines": 1.3,
        "premium": 0.1,
        "item_tilt": 0.0,
        "quantity_mult": 1.0,
        "category_weights": (0.20, 0.16, 0.08, 0.12, 0.22, 0.12, 0.10),
        "channel_weights": (0.42, 0.33, 0.25),
        "flagship": 0.05,
        "discount_prob": 0.20,
        "discount_depth": 0.15,
        "return_rate": 0.09,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (40.0, 12.0),
        "female": 0.52,
        "city_tier_weights": (1.0, 1.0, 1.0),
        "consent": 0.55,
    },
    "One-time": {
        "share": 0.18,
        "orders_per_month": 1.0,
        "rate_sigma": 0.5,
        "last_days_ago": (200.0, 730.0),
        "span_days": (0.0, 21.0),
        "max_orders": 2,
        "extra_lines": 0.9,
        "premium": -0.2,
        "item_tilt": 0.0,
        "quantity_mult": 1.0,
        "category_weights": (0.22, 0.14, 0.12, 0.14, 0.16, 0.12, 0.10),
        "channel_weights": (0.38, 0.47, 0.15),
        "flagship": 0.06,
        "discount_prob": 0.35,
        "discount_depth": 0.20,
        "return_rate": 0.12,
        "heavy_return_share": 0.0,
        "heavy_return_rate": 0.0,
        "age": (34.0, 13.0),
        "female": 0.50,
        "city_tier_weights": (0.9, 1.0, 1.2),
        "consent": 0.35,
    },
}

#: Planted segment names, in the fixed order of ``SEGMENT_PROFILES``.
SEGMENTS: tuple[str, ...] = tuple(SEGMENT_PROFILES)

#: Product categories: gross margin rate ``(price - cost) / price`` at list price,
#: relative return propensity, share of a returned line's cost recovered into stock
#: (the rest is written off: opened beauty products and food cannot be resold), mean
#: extra units per line, and items with their base list price (CNY). Every item exists
#: in each of the ``PRICE_TIERS``.
CATEGORIES: dict[str, dict[str, Any]] = {
    "Apparel": {
        "margin": 0.55,
        "return_factor": 2.4,
        "return_recovery": 0.85,
        "extra_units": 0.25,
        "items": {
            "T-Shirt": 79.0,
            "Jeans": 299.0,
            "Hoodie": 249.0,
            "Dress": 399.0,
            "Sneakers": 499.0,
            "Down Jacket": 899.0,
        },
    },
    "Beauty": {
        "margin": 0.68,
        "return_factor": 0.5,
        "return_recovery": 0.4,
        "extra_units": 0.5,
        "items": {
            "Lipstick": 199.0,
            "Face Serum": 499.0,
            "Sunscreen": 159.0,
            "Sheet Mask Set": 129.0,
            "Perfume": 699.0,
            "Moisturizer": 299.0,
        },
    },
    "Electronics": {
        "margin": 0.14,
        "return_factor": 1.3,
        "return_recovery": 0.7,
        "extra_units": 0.05,
        "items": {
            "Power Bank": 149.0,
            "Earbuds": 399.0,
            "Bluetooth Speaker": 499.0,
            "Smartwatch": 1499.0,
            "Tablet": 2999.0,
            "Laptop": 6999.0,
        },
    },
    "Home": {
        "margin": 0.36,
        "return_factor": 0.9,
        "return_recovery": 0.8,
        "extra_units": 0.15,
        "items": {
            "Storage Box": 59.0,
            "Desk Lamp": 199.0,
            "Bedding Set": 599.0,
            "Cookware Set": 899.0,
            "Air Purifier": 1999.0,
            "Robot Vacuum": 2999.0,
        },
    },
    "Grocery": {
        "margin": 0.20,
        "return_factor": 0.1,
        "return_recovery": 0.3,
        "extra_units": 1.4,
        "items": {
            "Instant Noodles Pack": 29.0,
            "Cooking Oil": 39.0,
            "Snack Box": 49.0,
            "Rice 5kg": 59.0,
            "Green Tea": 68.0,
            "Coffee Beans": 89.0,
        },
    },
    "Sports": {
        "margin": 0.42,
        "return_factor": 1.2,
        "return_recovery": 0.85,
        "extra_units": 0.2,
        "items": {
            "Yoga Mat": 129.0,
            "Cycling Jersey": 199.0,
            "Badminton Racket": 259.0,
            "Dumbbell Set": 399.0,
            "Running Shoes": 599.0,
            "Camping Tent": 899.0,
        },
    },
    "Books": {
        "margin": 0.30,
        "return_factor": 0.3,
        "return_recovery": 0.9,
        "extra_units": 0.25,
        "items": {
            "Picture Book": 39.0,
            "Novel": 49.0,
            "Business Book": 69.0,
            "Cookbook": 79.0,
            "Language Course": 129.0,
            "Art Album": 199.0,
        },
    },
}

#: Price tiers every item comes in: (name used as product-name prefix, price
#: multiplier, margin-rate adjustment).
PRICE_TIERS: tuple[tuple[str, float, float], ...] = (
    ("Essential", 0.6, -0.04),
    ("Classic", 1.0, 0.0),
    ("Premium", 2.0, 0.05),
)

#: Sales channels; ``store`` orders carry a store name, the others ``pd.NA``.
CHANNELS: tuple[str, ...] = ("store", "online", "app")

#: Customer home cities: (city in pinyin, region, city tier, population weight).
CITIES: tuple[tuple[str, str, str, float], ...] = (
    ("Shanghai", "East China", "Tier 1", 10.0),
    ("Beijing", "North China", "Tier 1", 9.0),
    ("Guangzhou", "South China", "Tier 1", 7.0),
    ("Shenzhen", "South China", "Tier 1", 7.0),
    ("Hangzhou", "East China", "Tier 2", 5.0),
    ("Nanjing", "East China", "Tier 2", 4.0),
    ("Suzhou", "East China", "Tier 2", 4.0),
    ("Qingdao", "East China", "Tier 2", 2.5),
    ("Chengdu", "Southwest", "Tier 2", 5.0),
    ("Chongqing", "Southwest", "Tier 2", 5.0),
    ("Wuhan", "Central China", "Tier 2", 4.0),
    ("Changsha", "Central China", "Tier 2", 3.0),
    ("Zhengzhou", "Central China", "Tier 2", 3.0),
    ("Tianjin", "North China", "Tier 2", 3.0),
    ("Xi'an", "Northwest", "Tier 2", 3.0),
    ("Shenyang", "Northeast", "Tier 2", 2.5),
    ("Shaoxing", "East China", "Tier 3", 1.5),
    ("Yangzhou", "East China", "Tier 3", 1.2),
    ("Ganzhou", "East China", "Tier 3", 1.0),
    ("Luoyang", "Central China", "Tier 3", 1.2),
    ("Zhuzhou", "Central China", "Tier 3", 1.0),
    ("Mianyang", "Southwest", "Tier 3", 1.0),
    ("Baoding", "North China", "Tier 3", 1.2),
    ("Guilin", "South China", "Tier 3", 1.0),
    ("Zhanjiang", "South China", "Tier 3", 1.0),
    ("Jilin", "Northeast", "Tier 3", 0.8),
    ("Daqing", "Northeast", "Tier 3", 0.8),
    ("Yinchuan", "Northwest", "Tier 3", 0.8),
)

#: Planted lifecycle stages of :func:`planted_stage`, in order.
PLANTED_STAGES: tuple[str, ...] = ("(not yet)", "New", "Active", "Lapsed")

#: Days after the planted first purchase during which a customer is planted "New".
PLANTED_NEW_DAYS = 90

#: Days after the end of a customer's activity before they are planted "Lapsed": a
#: business cannot tell a stop from a pause at once (seglab's lifecycle stages call a
#: monthly buyer dormant after about four silent months).
PLANTED_LAPSE_DAYS = 120

#: Regions, in order of first appearance in ``CITIES``.
REGIONS: tuple[str, ...] = tuple(dict.fromkeys(c[1] for c in CITIES))

#: City tiers in order; ``SEGMENT_PROFILES[...]["city_tier_weights"]`` follow it.
CITY_TIERS: tuple[str, ...] = ("Tier 1", "Tier 2", "Tier 3")

#: The high-rent flagship store (a cost-to-serve hot spot).
FLAGSHIP_STORE = "Flagship Shanghai Nanjing Rd"

#: Physical stores: city, region, rent and occupancy cost as a share of the store's
#: sales (the cost-to-serve of ``COST_TABLE``) and relative walk-in traffic.
STORES: dict[str, dict[str, Any]] = {
    FLAGSHIP_STORE: {
        "city": "Shanghai",
        "region": "East China",
        "rent_share": 0.22,
        "traffic": 3.0,
    },
    "Shanghai Xujiahui": {
        "city": "Shanghai",
        "region": "East China",
        "rent_share": 0.09,
        "traffic": 1.5,
    },
    "Beijing Sanlitun": {
        "city": "Beijing",
        "region": "North China",
        "rent_share": 0.1,
        "traffic": 2.0,
    },
    "Guangzhou Tianhe": {
        "city": "Guangzhou",
        "region": "South China",
        "rent_share": 0.08,
        "traffic": 1.5,
    },
    "Shenzhen Futian": {
        "city": "Shenzhen",
        "region": "South China",
        "rent_share": 0.08,
        "traffic": 1.5,
    },
    "Hangzhou Wulin": {
        "city": "Hangzhou",
        "region": "East China",
        "rent_share": 0.06,
        "traffic": 1.0,
    },
    "Chengdu Chunxi Rd": {
        "city": "Chengdu",
        "region": "Southwest",
        "rent_share": 0.06,
        "traffic": 1.0,
    },
    "Wuhan Jianghan Rd": {
        "city": "Wuhan",
        "region": "Central China",
        "rent_share": 0.05,
        "traffic": 0.8,
    },
    "Xi'an Zhonglou": {
        "city": "Xi'an",
        "region": "Northwest",
        "rent_share": 0.05,
        "traffic": 0.6,
    },
    "Shenyang Zhongjie": {
        "city": "Shenyang",
        "region": "Northeast",
        "rent_share": 0.04,
        "traffic": 0.6,
    },
}

#: Cost assumptions matching the synthetic data: category margins at list price and
#: each store's rent share; order handling and return costs are the profit defaults.
COST_TABLE = CostTable(
    category_margin_rates={name: spec["margin"] for name, spec in CATEGORIES.items()},
    store_rent_share={name: spec["rent_share"] for name, spec in STORES.items()},
)

COUNTRY = "China"
CUSTOMER_PREFIX = "C"
ORDER_PREFIX = "O"
PRODUCT_PREFIX = "P"
#: A return order's id is this prefix followed by the original order id.
RETURN_PREFIX = "R"
#: A cancellation's order id is this prefix followed by the cancelled order's id (the
#: UCI Online Retail convention, which seglab's cleaning reads as a cancellation).
CANCEL_PREFIX = "C"

#: Planted dirt (see "Dirt" in the module docstring): lines of each kind as a share of
#: the clean lines, at least one line of each kind.
DIRT_SHARES: dict[str, float] = {
    "missing_customer": 0.003,
    "exact_duplicates": 0.0015,
    "non_product": 0.002,
    "free": 0.0005,
}
#: Units of the planted outlier order: above ``CleaningRules.outlier_quantity``
#: (10,000), as the 80,995 units of the UCI log.
DIRT_OUTLIER_QUANTITY = 12_000
#: Non-product lines: (product_id, product_name, unit price in CNY). Postage goes on
#: online and app orders, the payment fee on any order; one fee line in five.
DIRT_POSTAGE: tuple[str, str, float] = ("POST", "Postage", 10.0)
DIRT_FEE: tuple[str, str, float] = ("BANK CHARGES", "Bank Charges", 15.0)

_DAY_NS = 86_400 * 10**9
_DAYS_PER_MONTH = 365.25 / 12
_MIN_YEARS = 1.0
_MAX_YEARS = 20.0
# Customer-level spread of the segment means (Dirichlet / beta concentrations, normal
# sd of the price-tier propensity) and a few fixed behavioural constants.
_CATEGORY_CONCENTRATION = 10.0
_CHANNEL_CONCENTRATION = 6.0
_PREMIUM_SD = 0.7
_RATE_CONCENTRATION = 8.0
_HEAVY_RETURN_CONCENTRATION = 6.0
_DEPTH_CONCENTRATION = 8.0
_HOME_STORE_LOYALTY = 0.85
_FULL_RETURN_PROB = 0.85
_RETURN_LAG_DAYS = (2.0, 4.0)  # gamma shape, scale of the extra days after day one
_SIGNUP_AT_FIRST_ORDER = 0.5
_SIGNUP_LAG_DAYS = 60.0
_MISSING_GENDER = 0.05
_MISSING_BIRTH_YEAR = 0.04
_AGE_RANGE = (18.0, 80.0)
_ITEM_POPULARITY_DECAY = 0.8
_DIRT_FEE_SHARE = 0.2
_DIRT_FREE_MAX_PRICE = 50.0  # free gifts are cheap products
_DIRT_OUTLIER_MINUTES = (5, 30)  # outlier order after its source order; cancellation after that


@dataclass(frozen=True)
class PlantedDirt:
    """The dirt planted in a synthetic log (see "Dirt" in the module docstring).

    Every count is of transaction lines and matches the row of seglab's cleaning log
    that catches those lines under the default rules.

    Attributes
    ----------
    missing_customer : int
        Lines without a customer id (whole guest orders); rule ``missing_customer``.
    exact_duplicates : int
        Second copies of lines, identical in every column; rule ``exact_duplicates``.
    non_product : int
        Postage (``"POST"``) and payment-fee (``"BANK CHARGES"``) lines added to
        customers' orders; rule ``non_product_codes``.
    outlier : int
        The outlier order line and its cancellation (2); rule ``extreme_outliers``
        (kept and flagged ``is_outlier`` by default).
    free : int
        Lines with unit price 0 and a positive quantity added to customers' orders
        (free gifts); rule ``free_lines`` (kept and flagged ``is_free`` by default).
    revenue : dict of str to float
        Sum of ``amount`` over each kind's lines, under the names above.
    """

    missing_customer: int = 0
    exact_duplicates: int = 0
    non_product: int = 0
    outlier: int = 0
    free: int = 0
    revenue: dict[str, float] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        """All planted dirt lines."""
        return (
            self.missing_customer + self.exact_duplicates + self.non_product
            + self.outlier + self.free
        )

    def counts(self) -> dict[str, int]:
        """Lines per kind, under the attribute names."""
        return {
            "missing_customer": self.missing_customer,
            "exact_duplicates": self.exact_duplicates,
            "non_product": self.non_product,
            "outlier": self.outlier,
            "free": self.free,
        }


@dataclass(frozen=True)
class SyntheticStudy:
    """A synthetic study: transactions, customers and the planted truth.

    Attributes
    ----------
    transactions : pandas.DataFrame
        One row per order line (sales and returns) with the columns of
        ``seglab.schema.TRANSACTION_COLUMNS``, sorted by ``order_date``, ``order_id``.
    customers : pandas.DataFrame
        One row per customer with the columns of ``seglab.schema.CUSTOMER_COLUMNS``,
        sorted by ``customer_id``.
    truth : pandas.DataFrame
        One row per customer: ``customer_id`` and the planted ``segment`` (one of
        ``SEGMENTS``). For scoring only; the pipeline must never read it.
    movement : pandas.DataFrame
        One row per customer, in the order of ``truth``: ``customer_id``, ``segment``,
        ``active_from`` (day of the planted first purchase; before the window for
        customers already active when it opens) and ``active_until`` (last day the
        customer may buy; ``NaT`` while still active at ``end_date``). Every purchase
        falls within these days, and a first purchase inside the window falls exactly
        on ``active_from``. For scoring only, with :func:`planted_stage`.
    dirt : PlantedDirt
        The dirt planted in ``transactions`` (all counts 0 for a spotless log).
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame
    movement: pd.DataFrame = field(default_factory=pd.DataFrame)
    dirt: PlantedDirt = field(default_factory=PlantedDirt)


def make_study(
    n_customers: int = 2000,
    *,
    seed: int = 0,
    end_date: str | pd.Timestamp = "2026-06-30",
    years: float = 2.0,
    dirt: bool = True,
) -> SyntheticStudy:
    """Generate the synthetic study with planted customer segments.

    Customers are split among ``SEGMENTS`` in the proportions of
    ``SEGMENT_PROFILES`` (exact counts by largest remainder, shuffled over ids); every
    customer has at least one order. Generation is fully vectorised and depends only
    on the arguments: the same arguments give identical frames. By default the log
    carries a small planted share of dirt for the cleaning to catch (see "Dirt" in
    the module docstring; counts in ``SyntheticStudy.dirt``); ``dirt=False`` gives
    the spotless log, which is the dirty one without its dirt lines.

    Parameters
    ----------
    n_customers : int, default 2000
        Number of customers (at least 1). With fewer than about 20 customers some
        segments are empty.
    seed : int, default 0
        Seed for ``numpy.random.default_rng``; the only source of randomness.
    end_date : str or pandas.Timestamp, default "2026-06-30"
        End of the observation window, normalised to midnight and exclusive: the last
        orders fall on the day before. Ages are measured at this date.
    years : float, default 2.0
        Length of the window in years, between 1 and 20; the window is
        ``round(365.25 * years)`` days.
    dirt : bool, default True
        Plant dirt in the log (about 0.7% of the lines): lines without customer id,
        exact duplicates, postage and fee lines, one cancelled outlier order and a
        few free lines. Customers, truth and movement are the same either way.

    Returns
    -------
    SyntheticStudy
        ``transactions`` (one row per order line, about 35 per customer at the
        defaults, returns included), ``customers`` (one row per customer),
        ``truth`` (customer_id, segment), ``movement`` (each customer's planted
        activity period, see the module's "Planted movement") and ``dirt`` (the
        planted dirt counts).

    Raises
    ------
    ConfigError
        If ``n_customers``, ``seed``, ``end_date`` or ``years`` is invalid.

    Examples
    --------
    >>> study = make_study(500, seed=1)
    >>> study.customers["customer_id"].is_unique
    True
    """
    end, n_days = _validate(n_customers, seed, end_date, years)
    study, _ = _generate(np.random.default_rng(seed), n_customers, end, n_days, dirt=dirt)
    return study


def planted_stage(
    movement: pd.DataFrame,
    as_of: str | pd.Timestamp,
    *,
    new_days: int = PLANTED_NEW_DAYS,
    lapse_days: int = PLANTED_LAPSE_DAYS,
) -> pd.Series:
    """Planted lifecycle stage of every customer at the end of a day.

    The truth that measured segment migration is checked against: ``"(not yet)"``
    before the planted first purchase, ``"Lapsed"`` once the activity ended more than
    ``lapse_days`` ago, ``"New"`` within ``new_days`` of the first purchase, else
    ``"Active"`` (see :data:`PLANTED_STAGES`).

    Parameters
    ----------
    movement : pandas.DataFrame
        ``SyntheticStudy.movement`` (``customer_id``, ``active_from``,
        ``active_until``).
    as_of : str or pandas.Timestamp
        The day; it counts whole, as the study's analysis date.
    new_days, lapse_days : int
        See :data:`PLANTED_NEW_DAYS` and :data:`PLANTED_LAPSE_DAYS`.

    Returns
    -------
    pandas.Series
        Stage per customer, indexed by ``customer_id``, in the order of ``movement``.

    Raises
    ------
    ConfigError
        If ``as_of`` is not a date or a number of days is negative.

    Examples
    --------
    >>> study = make_study(200, seed=1)
    >>> stages = planted_stage(study.movement, "2026-06-29")
    >>> sorted(set(stages)) == ["Active", "Lapsed", "New"]
    True
    """
    day = parse_as_of(as_of, option="as_of")
    for name, days in (("new_days", new_days), ("lapse_days", lapse_days)):
        if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 0:
            raise ConfigError(f"{name}={days!r} should be a whole number of days >= 0.")
    since_first = (day - movement["active_from"]).dt.days.to_numpy()
    since_end = (day - movement["active_until"]).dt.days.to_numpy(dtype=float, na_value=np.nan)
    stage = np.select(
        [since_first < 0, since_end > lapse_days, since_first <= new_days],
        ["(not yet)", "Lapsed", "New"],
        default="Active",
    )
    return pd.Series(
        stage, index=pd.Index(movement["customer_id"], name="customer_id"), name="stage"
    )


def write_study(study: SyntheticStudy, directory: str | Path) -> dict[str, Path]:
    """Write a synthetic study to a folder.

    Parameters
    ----------
    study : SyntheticStudy
        The study to write, as returned by ``make_study``.
    directory : str or pathlib.Path
        Target folder; created (with parents) if absent. Existing files of the same
        names are overwritten.

    Returns
    -------
    dict of str to pathlib.Path
        Paths of the written files under the keys ``"transactions"``
        (``transactions.parquet``), ``"customers"`` (``customers.parquet``) and
        ``"truth"`` (``truth.csv``).

    Raises
    ------
    RunError
        If the folder cannot be created or a file cannot be written.
    """
    folder = Path(directory)
    paths = {
        "transactions": folder / "transactions.parquet",
        "customers": folder / "customers.parquet",
        "truth": folder / "truth.csv",
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        study.transactions.to_parquet(paths["transactions"], index=False)
        study.customers.to_parquet(paths["customers"], index=False)
        study.truth.to_csv(paths["truth"], index=False)
    except OSError as exc:
        raise RunError(
            f"Cannot write the synthetic study to {str(folder)!r}: {exc}. "
            "Choose a writable folder."
        ) from exc
    return paths


# ----------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Numbering:
    """Where a block of customers and orders starts in the id sequences, and id widths.

    The defaults number one whole study: customers and orders from 1, customer ids at
    least six digits, order ids at least eight (wider when there are more).
    """

    first_customer: int = 1
    customer_width: int | None = None
    first_order: int = 1
    order_width: int | None = None


def _draw(
    rng: np.random.Generator,
    n_customers: int,
    end: pd.Timestamp,
    n_days: int,
    order_rate: float,
    catalogue: dict[str, Any],
) -> tuple[dict[str, np.ndarray], ...]:
    """Draw customers, orders, lines and returns.

    These are all the random numbers of a study but the customers' signup and
    demographic details, which :func:`_assemble_customers` draws next.
    """
    cust = _draw_customers(rng, n_customers, n_days)
    orders = _draw_orders(rng, cust, n_days, end, order_rate)
    lines = _draw_lines(rng, cust, orders, catalogue)
    returns = _draw_returns(rng, cust, orders, lines, catalogue, end)
    return cust, orders, lines, returns


def _generate(
    rng: np.random.Generator,
    n_customers: int,
    end: pd.Timestamp,
    n_days: int,
    *,
    order_rate: float = 1.0,
    numbering: _Numbering | None = None,
    dirt: bool = False,
) -> tuple[SyntheticStudy, int]:
    """Generate a (validated) study and count its (clean) sale orders.

    ``order_rate`` multiplies every order rate; ``numbering`` places the block's ids;
    ``dirt`` plants dirt after every other draw, so the clean rows stay as they are.
    """
    numbering = numbering or _Numbering()
    catalogue = _catalogue()
    cust, orders, lines, returns = _draw(rng, n_customers, end, n_days, order_rate, catalogue)
    counts = (len(orders["ts"]), len(lines["order"]), len(returns["line"]))
    transactions = _assemble_transactions(cust, orders, lines, returns, catalogue, numbering)
    customers = _assemble_customers(rng, cust, orders, end, numbering)
    truth = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].copy(),
            "segment": _strings(list(SEGMENTS), cust["segment"]),
        }
    )
    movement = _movement(cust, truth, end, n_days)
    planted = PlantedDirt()
    if dirt:
        last_order = numbering.first_order + counts[0] - 1
        transactions, planted = _add_dirt(
            rng,
            transactions,
            catalogue,
            end,
            n_days,
            next_order=last_order + 1,
            order_width=numbering.order_width or max(8, len(str(last_order))),
        )
    logger.debug(
        "synthetic study: %d customers, %d orders, %d lines, %d return lines, %d dirt lines",
        n_customers,
        *counts,
        planted.lines,
    )
    study = SyntheticStudy(
        transactions=transactions,
        customers=customers,
        truth=truth,
        movement=movement,
        dirt=planted,
    )
    return study, counts[0]


# --------------------------------------------------------------------------- dirt


def _add_dirt(
    rng: np.random.Generator,
    tx: pd.DataFrame,
    catalogue: dict[str, Any],
    end: pd.Timestamp,
    n_days: int,
    *,
    next_order: int,
    order_width: int,
) -> tuple[pd.DataFrame, PlantedDirt]:
    """Add the planted dirt lines to a clean log and count them.

    New orders (guest orders, the outlier order) are numbered from ``next_order``.
    Lines added to existing orders copy the order's date, customer, channel, store
    and region, so no customer gains a purchase day. The result is sorted as the clean
    log (``order_date``, ``order_id``, stable), so the clean lines keep their order.
    """
    n = len(tx)
    want = {kind: max(1, round(share * n)) for kind, share in DIRT_SHARES.items()}
    want["exact_duplicates"] = min(want["exact_duplicates"], n)
    sale_pos = np.flatnonzero(
        (tx["quantity"].to_numpy() > 0) & tx["order_id"].str.startswith(ORDER_PREFIX).to_numpy()
    )
    order_code, _ = pd.factorize(tx["order_id"].to_numpy()[sale_pos])
    n_orders = int(order_code.max()) + 1
    order_lines = np.bincount(order_code, minlength=n_orders)
    first_line = sale_pos[np.unique(order_code, return_index=True)[1]]  # row of each order
    ts = tx["order_date"].to_numpy().view(np.int64)
    seconds = (ts - end.value) % _DAY_NS
    text = pa.large_string()

    def strings(values: list[str] | np.ndarray) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(pa.array(list(values), type=text)))

    def missing(k: int) -> pd.Series:
        return _strings([""], np.full(k, -1))

    def order_ids(numbers: np.ndarray) -> pd.Series:
        return pd.Series(
            pd.arrays.ArrowStringArray(_ids(ORDER_PREFIX, numbers, order_width)), copy=False
        )

    def with_columns(rows: np.ndarray, **columns: Any) -> pd.DataFrame:
        frame = tx.iloc[rows].reset_index(drop=True)
        for name, values in columns.items():
            frame[name] = values.array if isinstance(values, pd.Series) else values
        return frame

    # Guest orders: copies of whole sale orders on another day, without customer id.
    picks = rng.permutation(n_orders)
    k = int(np.searchsorted(np.cumsum(order_lines[picks]), want["missing_customer"])) + 1
    k = min(k, n_orders)
    guests = np.sort(picks[:k])
    guest_rows = sale_pos[np.isin(order_code, guests)]
    guest_of_row = np.searchsorted(guests, order_code[np.isin(order_code, guests)])
    day_ago = rng.integers(1, n_days + 1, k)
    numbers = np.arange(next_order, next_order + k)
    guest = with_columns(
        guest_rows,
        customer_id=missing(len(guest_rows)),
        order_id=order_ids(numbers[guest_of_row]),
        order_date=(
            end.value - day_ago[guest_of_row] * _DAY_NS + seconds[guest_rows]
        ).view("datetime64[ns]"),
    )

    # Exact duplicates: second copies of distinct clean lines.
    duplicate = tx.iloc[np.sort(rng.choice(n, want["exact_duplicates"], replace=False))]

    # Postage on online and app orders, a payment fee on any order.
    n_fee = min(round(_DIRT_FEE_SHARE * want["non_product"]), n_orders)
    n_post = min(want["non_product"] - n_fee, n_orders)
    remote = first_line[tx["channel"].to_numpy()[first_line] != "store"]
    remote = remote if len(remote) >= n_post else first_line
    post_rows = np.sort(rng.choice(remote, n_post, replace=False))
    fee_rows = np.sort(rng.choice(first_line, n_fee, replace=False))
    non_product = pd.concat(
        [
            with_columns(
                rows,
                product_id=strings([code] * len(rows)),
                product_name=strings([name] * len(rows)),
                category=missing(len(rows)),
                quantity=1.0,
                unit_price=price,
                discount=0.0,
                amount=price,
                cost=0.0,
            )
            for rows, (code, name, price) in ((post_rows, DIRT_POSTAGE), (fee_rows, DIRT_FEE))
        ],
        ignore_index=True,
    )

    # Free gifts: one unit of a cheap product at price 0 in a customer's order.
    cheap = np.flatnonzero(catalogue["price"] <= _DIRT_FREE_MAX_PRICE)
    n_free = min(want["free"], n_orders)
    free_rows = np.sort(rng.choice(first_line, n_free, replace=False))
    gift = rng.choice(cheap, n_free)
    free = with_columns(
        free_rows,
        product_id=strings(catalogue["product_id"][gift]),
        product_name=strings(catalogue["product_name"][gift]),
        category=strings(np.asarray(list(CATEGORIES))[catalogue["category"][gift]]),
        quantity=1.0,
        unit_price=0.0,
        discount=0.0,
        amount=0.0,
        cost=catalogue["unit_cost"][gift],
    )

    # The outlier: a customer orders DIRT_OUTLIER_QUANTITY units of the cheapest
    # product minutes after one of their orders (or, for an order late in the day,
    # earlier that day) and cancels minutes later: order and cancellation on one day.
    late = _DAY_NS - 2 * _DIRT_OUTLIER_MINUTES[1] * 60 * 10**9
    source = int(rng.choice(first_line))
    start = ts[source] - max(0, seconds[source] - late)
    after = rng.integers(*_DIRT_OUTLIER_MINUTES, 2, endpoint=True) * 60 * 10**9
    product = int(np.argmin(catalogue["price"]))
    price = float(catalogue["price"][product])
    units = float(DIRT_OUTLIER_QUANTITY)
    sign = np.array([1.0, -1.0])
    outlier_id = order_ids(np.array([next_order + k]))
    outlier = with_columns(
        np.array([source, source]),
        order_id=strings([outlier_id.iat[0], CANCEL_PREFIX + outlier_id.iat[0]]),
        order_date=(start + np.cumsum(after)).view("datetime64[ns]"),
        product_id=strings([catalogue["product_id"][product]] * 2),
        product_name=strings([catalogue["product_name"][product]] * 2),
        category=strings([list(CATEGORIES)[catalogue["category"][product]]] * 2),
        quantity=sign * units,
        unit_price=price,
        discount=0.0,
        amount=sign * round(units * price, 2),
        cost=sign * round(units * float(catalogue["unit_cost"][product]), 2),
    )

    kinds = {
        "missing_customer": guest,
        "exact_duplicates": duplicate,
        "non_product": non_product,
        "outlier": outlier,
        "free": free,
    }
    planted = PlantedDirt(
        **{kind: len(frame) for kind, frame in kinds.items()},
        revenue={kind: math.fsum(frame["amount"]) for kind, frame in kinds.items()},
    )
    dirty = pd.concat([tx, *kinds.values()], ignore_index=True)
    dirty = dirty.sort_values(["order_date", "order_id"], kind="stable", ignore_index=True)
    return dirty, planted


# --------------------------------------------------------------------------- checks


def _validate(
    n_customers: Any, seed: Any, end_date: Any, years: Any
) -> tuple[pd.Timestamp, int]:
    """Check the arguments of ``make_study``; return the end and the window days."""
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ConfigError(
            f"n_customers={n_customers!r} should be an integer >= 1, e.g. 2000."
        )
    if n_customers < 1:
        raise ConfigError(f"n_customers={n_customers} should be >= 1, e.g. 2000.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed={seed!r} should be a non-negative integer, e.g. 0.")
    if (
        isinstance(years, bool)
        or not isinstance(years, int | float | np.integer | np.floating)
        or not math.isfinite(years)
        or not _MIN_YEARS <= years <= _MAX_YEARS
    ):
        raise ConfigError(
            f"years={years!r} should be a number between {_MIN_YEARS:g} and "
            f"{_MAX_YEARS:g}, e.g. 2.0."
        )
    try:
        end = pd.Timestamp(end_date)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"end_date={end_date!r} is not a date; give e.g. '2026-06-30'."
        ) from exc
    if end is pd.NaT or pd.isna(end):
        raise ConfigError(f"end_date={end_date!r} is not a date; give e.g. '2026-06-30'.")
    if end.tzinfo is not None:
        end = end.tz_localize(None)
    end = end.normalize().as_unit("ns")
    return end, round(365.25 * float(years))


# ---------------------------------------------------------------------- catalogue


def _catalogue() -> dict[str, Any]:
    """Build the product catalogue from ``CATEGORIES`` and ``PRICE_TIERS``.

    Products are ordered by category, item, tier, so the product index is
    ``category_offset[c] + item * n_tiers + tier``.
    """
    names, categories, prices, margins = [], [], [], []
    offsets, counts = [], []
    n_tiers = len(PRICE_TIERS)
    for c, spec in enumerate(CATEGORIES.values()):
        offsets.append(len(names))
        counts.append(len(spec["items"]))
        for item, base in spec["items"].items():
            for tier, mult, margin_adj in PRICE_TIERS:
                names.append(f"{tier} {item}")
                categories.append(c)
                prices.append(_price_point(base * mult))
                margins.append(spec["margin"] + margin_adj)
    price = np.asarray(prices)
    width = max(4, len(str(len(names))))
    return {
        "product_id": np.asarray(
            [f"{PRODUCT_PREFIX}{i + 1:0{width}d}" for i in range(len(names))]
        ),
        "product_name": np.asarray(names),
        "category": np.asarray(categories),
        "price": price,
        "unit_cost": np.round(price * (1.0 - np.asarray(margins)), 2),
        "offset": np.asarray(offsets),
        "n_tiers": n_tiers,
        "base_price": np.asarray(
            [
                [base for base in spec["items"].values()]
                + [np.nan] * (max(counts) - len(spec["items"]))
                for spec in CATEGORIES.values()
            ]
        ),
    }


def _price_point(price: float) -> float:
    """Round a price to a retail price point (16.9, 299, 1199)."""
    if price < 100:
        return round(price) - 0.1
    return round(price / 10) * 10 - 1.0


# ---------------------------------------------------------------------- customers


def _allocate(n: int, shares: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``shares`` (largest remainder)."""
    exact = shares / shares.sum() * n
    counts = np.floor(exact).astype(np.int64)
    short = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _inverse_cdf(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample a column per draw: ``cum`` holds cumulative probabilities per row."""
    out = np.zeros(len(u), dtype=np.int32)
    for j in range(cum.shape[1] - 1):
        out += u >= np.ascontiguousarray(cum[:, j])[rows]
    return out


def _beta(rng: np.random.Generator, mean: float, conc: float, size: int) -> np.ndarray:
    """Beta draws with the given mean and concentration (0 when the mean is 0)."""
    if mean <= 0:
        return np.zeros(size)
    mean = min(mean, 0.99)
    return rng.beta(mean * conc, (1.0 - mean) * conc, size)


def _draw_customers(
    rng: np.random.Generator, n: int, n_days: int
) -> dict[str, np.ndarray]:
    """Draw each customer's segment, home, activity window and personal rates."""
    profiles = list(SEGMENT_PROFILES.values())
    counts = _allocate(n, np.asarray([p["share"] for p in profiles], dtype=float))
    segment = rng.permutation(np.repeat(np.arange(len(profiles), dtype=np.int8), counts))

    n_cat, n_ch = len(CATEGORIES), len(CHANNELS)
    store_cum = np.cumsum(_city_store_probs(), axis=1)
    city_weight = np.asarray([c[3] for c in CITIES])
    city_tier = np.asarray([CITY_TIERS.index(c[2]) for c in CITIES])
    flagship = list(STORES).index(FLAGSHIP_STORE)

    cust: dict[str, np.ndarray] = {
        "segment": segment,
        "first_ago": np.empty(n),
        "last_ago": np.empty(n),
        "rate": np.empty(n),
        "extra_lines": np.empty(n),
        "premium": np.empty(n),
        "category_cum": np.empty((n, n_cat)),
        "channel_cum": np.empty((n, n_ch)),
        "city": np.empty(n, dtype=np.int32),
        "home_store": np.empty(n, dtype=np.int32),
        "discount_prob": np.empty(n),
        "return_rate": np.empty(n),
        "age": np.empty(n),
        "female": np.empty(n, dtype=bool),
        "consent": np.empty(n, dtype=bool),
    }
    for s, prof in enumerate(profiles):
        idx = np.flatnonzero(segment == s)
        m = len(idx)
        last_lo, last_hi = prof["last_days_ago"]
        last = rng.uniform(last_lo, max(last_lo, min(last_hi, n_days - 1.0)), m)
        cust["last_ago"][idx] = last
        cust["first_ago"][idx] = last + rng.uniform(*prof["span_days"], m)
        sigma = prof["rate_sigma"]
        cust["rate"][idx] = rng.lognormal(
            math.log(prof["orders_per_month"]) - sigma**2 / 2, sigma, m
        )
        cust["extra_lines"][idx] = rng.gamma(2.0, prof["extra_lines"] / 2.0, m)
        cust["premium"][idx] = rng.normal(prof["premium"], _PREMIUM_SD, m)
        cust["category_cum"][idx] = np.cumsum(
            rng.dirichlet(
                _CATEGORY_CONCENTRATION * np.asarray(prof["category_weights"]), m
            ),
            axis=1,
        )
        cust["channel_cum"][idx] = np.cumsum(
            rng.dirichlet(_CHANNEL_CONCENTRATION * np.asarray(prof["channel_weights"]), m),
            axis=1,
        )
        tier_weight = np.asarray(prof["city_tier_weights"])[city_tier]
        p_city = city_weight * tier_weight
        city = rng.choice(len(CITIES), size=m, p=p_city / p_city.sum()).astype(np.int32)
        cust["city"][idx] = city
        home = _inverse_cdf(store_cum, city, rng.random(m))
        cust["home_store"][idx] = np.where(rng.random(m) < prof["flagship"], flagship, home)
        cust["discount_prob"][idx] = _beta(
            rng, prof["discount_prob"], _RATE_CONCENTRATION, m
        )
        heavy = rng.random(m) < prof["heavy_return_share"]
        cust["return_rate"][idx] = np.where(
            heavy,
            _beta(rng, prof["heavy_return_rate"], _HEAVY_RETURN_CONCENTRATION, m),
            _beta(rng, prof["return_rate"], _RATE_CONCENTRATION, m),
        )
        cust["age"][idx] = np.clip(rng.normal(*prof["age"], m), *_AGE_RANGE)
        cust["female"][idx] = rng.random(m) < prof["female"]
        cust["consent"][idx] = rng.random(m) < prof["consent"]
    return cust


def _city_store_probs() -> np.ndarray:
    """Probability of each store being a customer's home store, per home city."""
    stores = list(STORES.values())
    traffic = np.asarray([s["traffic"] for s in stores], dtype=float)
    traffic /= traffic.sum()
    probs = np.empty((len(CITIES), len(stores)))
    for i, (city, region, _tier, _w) in enumerate(CITIES):
        same_city = np.asarray([s["city"] == city for s in stores], dtype=float)
        same_region = np.asarray([s["region"] == region for s in stores], dtype=float)
        if same_city.any():
            p = 0.80 * same_city / same_city.sum()
            p += 0.12 * same_region / same_region.sum() + 0.08 * traffic
        elif same_region.any():
            p = 0.75 * same_region / same_region.sum() + 0.25 * traffic
        else:
            p = traffic.copy()
        probs[i] = p / p.sum()
    return probs


# ------------------------------------------------------------------------- orders


def _time_of_day(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """Seconds after midnight: store hours for stores, evening peak online."""
    in_store = channel == CHANNELS.index("store")
    n_store = int(in_store.sum())
    n_remote = len(channel) - n_store
    hours = np.empty(len(channel))
    hours[in_store] = rng.uniform(10.0, 21.75, n_store)
    hours[~in_store] = np.where(
        rng.random(n_remote) < 0.7,
        rng.normal(20.5, 2.5, n_remote) % 24.0,
        rng.uniform(0.0, 24.0, n_remote),
    )
    return np.minimum(np.floor(hours * 3600.0), 86_399).astype(np.int64)


def _draw_orders(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    n_days: int,
    end: pd.Timestamp,
    order_rate: float = 1.0,
) -> dict[str, np.ndarray]:
    """Draw orders (customer, timestamp, channel, store), sorted by timestamp.

    ``order_rate`` multiplies every customer's order rate; the first purchase of a
    customer who starts inside the window and the caps on orders stay as they are.
    """
    max_orders = np.asarray(
        [
            np.iinfo(np.int64).max if p["max_orders"] is None else p["max_orders"]
            for p in SEGMENT_PROFILES.values()
        ]
    )
    first_ago, last_ago = cust["first_ago"], cust["last_ago"]
    forced = first_ago < n_days  # first purchase inside the window
    hi = np.minimum(first_ago, n_days)
    lo = np.minimum(last_ago, hi)
    months = (hi - lo) / _DAYS_PER_MONTH
    n_orders = forced + rng.poisson(order_rate * cust["rate"] * months)
    n_orders = np.clip(n_orders, 1, max_orders[cust["segment"]])

    n_total = int(n_orders.sum())
    customer = np.repeat(np.arange(len(n_orders), dtype=np.int32), n_orders)
    starts = np.cumsum(n_orders) - n_orders
    is_first = np.zeros(n_total, dtype=bool)
    is_first[starts] = True
    day_ago = lo[customer] + rng.random(n_total) * (hi - lo)[customer]
    day_ago = np.where(is_first & forced[customer], first_ago[customer], day_ago)
    days_ago = np.clip(np.ceil(day_ago), 1, n_days).astype(np.int64)

    channel = _inverse_cdf(cust["channel_cum"], customer, rng.random(n_total))
    seconds = _time_of_day(rng, channel)
    ts = end.value - days_ago * _DAY_NS + seconds * 10**9

    traffic = np.asarray([s["traffic"] for s in STORES.values()], dtype=float)
    any_store = rng.choice(len(STORES), size=n_total, p=traffic / traffic.sum())
    store = np.where(
        rng.random(n_total) < _HOME_STORE_LOYALTY, cust["home_store"][customer], any_store
    ).astype(np.int32)
    store[channel != CHANNELS.index("store")] = -1

    order = np.argsort(ts, kind="stable")
    return {
        "customer": customer[order],
        "ts": ts[order],
        "channel": channel[order],
        "store": store[order],
    }


# -------------------------------------------------------------------------- lines


def _draw_lines(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    catalogue: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Draw the lines of every order: product, quantity, price, discount, cost."""
    o_cust = orders["customer"]
    n_lines = 1 + rng.poisson(cust["extra_lines"][o_cust])
    order = np.repeat(np.arange(len(o_cust), dtype=np.int64), n_lines)
    c = o_cust[order]
    seg = cust["segment"][c]
    n = len(order)

    category = _inverse_cdf(cust["category_cum"], c, rng.random(n))
    tiers = np.arange(len(PRICE_TIERS)) - (len(PRICE_TIERS) - 1) / 2
    tier_logit = cust["premium"][:, None] * tiers[None, :]
    tier_p = np.exp(tier_logit - tier_logit.max(axis=1, keepdims=True))
    tier_cum = np.cumsum(tier_p / tier_p.sum(axis=1, keepdims=True), axis=1)
    tier = _inverse_cdf(tier_cum, c, rng.random(n))

    item_cum = _item_cum(catalogue)  # (segment, category, item)
    n_cat = item_cum.shape[1]
    item = _inverse_cdf(
        item_cum.reshape(-1, item_cum.shape[2]), seg.astype(np.int64) * n_cat + category,
        rng.random(n),
    )
    product = catalogue["offset"][category] + item * catalogue["n_tiers"] + tier
    order, product, seg, units = _merge_repeats(order, product.astype(np.int64), seg)
    n = len(order)

    extra_units = np.asarray([spec["extra_units"] for spec in CATEGORIES.values()])
    qmult = np.asarray([p["quantity_mult"] for p in SEGMENT_PROFILES.values()])
    category = catalogue["category"][product]
    quantity = units + rng.poisson(extra_units[category] * qmult[seg] * units)
    price = catalogue["price"][product]
    gross = np.round(quantity * price, 2)

    depth_mean = np.asarray([p["discount_depth"] for p in SEGMENT_PROFILES.values()])
    a = depth_mean * _DEPTH_CONCENTRATION
    b = (1.0 - depth_mean) * _DEPTH_CONCENTRATION
    discounted = np.flatnonzero(rng.random(n) < cust["discount_prob"][o_cust[order]])
    depth = np.clip(rng.beta(a[seg[discounted]], b[seg[discounted]]), 0.03, 0.7)
    discount = np.zeros(n)
    discount[discounted] = np.round(gross[discounted] * depth, 2)
    return {
        "order": order,
        "product": product.astype(np.int32),
        "quantity": quantity.astype(np.float64),
        "unit_price": price,
        "discount": discount,
        "amount": np.round(gross - discount, 2),
        "cost": np.round(quantity * catalogue["unit_cost"][product], 2),
    }


def _merge_repeats(
    order: np.ndarray, product: np.ndarray, seg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make each product appear once per order, counting how often it was drawn.

    Lines come sorted by order; afterwards they are sorted by product within the
    order (as on a receipt). Returns order, product, segment and draw counts.
    """
    key = order * (int(product.max(initial=0)) + 1) + product
    sort = np.argsort(key, kind="stable")
    key = key[sort]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    units = np.diff(np.append(starts, len(key)))
    keep = sort[starts]
    return order[keep], product[keep], seg[keep], units


def _item_cum(catalogue: dict[str, Any]) -> np.ndarray:
    """Cumulative item choice probabilities per (segment, category, item)."""
    base = catalogue["base_price"]  # (category, item), NaN where no item
    rank = np.arange(base.shape[1])
    popularity = _ITEM_POPULARITY_DECAY**rank
    rel_price = base / np.nanmedian(base, axis=1, keepdims=True)
    out = np.empty((len(SEGMENT_PROFILES), *base.shape))
    for s, prof in enumerate(SEGMENT_PROFILES.values()):
        w = np.nan_to_num(popularity * rel_price ** prof["item_tilt"], nan=0.0)
        out[s] = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return out


# ------------------------------------------------------------------------ returns


def _draw_returns(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
    catalogue: dict[str, Any],
    end: pd.Timestamp,
) -> dict[str, np.ndarray]:
    """Draw which lines come back, when and how many units (same order per return)."""
    n_orders = len(orders["ts"])
    lag_days = 1 + np.floor(rng.gamma(*_RETURN_LAG_DAYS, n_orders)).astype(np.int64)
    seconds = _time_of_day(rng, orders["channel"])
    day_start = orders["ts"] - (orders["ts"] - end.value) % _DAY_NS
    ret_ts = day_start + lag_days * _DAY_NS + seconds * 10**9

    order = lines["order"]
    category = catalogue["category"][lines["product"]]
    factor = np.asarray([spec["return_factor"] for spec in CATEGORIES.values()])
    p = np.minimum(cust["return_rate"][orders["customer"][order]] * factor[category], 0.95)
    returned = (rng.random(len(order)) < p) & (ret_ts[order] < end.value)
    line = np.flatnonzero(returned)
    qty = lines["quantity"][line].astype(np.int64)
    partial = rng.integers(1, qty, endpoint=True)
    ret_qty = np.where(rng.random(len(line)) < _FULL_RETURN_PROB, qty, partial)

    unit_refund = np.round(lines["amount"][line] / lines["quantity"][line], 2)
    quantity = -ret_qty.astype(np.float64)
    recovery = np.asarray([spec["return_recovery"] for spec in CATEGORIES.values()])
    product = lines["product"][line]
    unit_cost = catalogue["unit_cost"][product] * recovery[catalogue["category"][product]]
    ts = ret_ts[order[line]]
    keep = np.argsort(ts, kind="stable")  # lines are in order-id order already
    line = line[keep]
    return {
        "line": line,
        "ts": ts[keep],
        "quantity": quantity[keep],
        "unit_price": unit_refund[keep],
        "amount": np.round(quantity * unit_refund, 2)[keep],
        "cost": np.round(quantity * unit_cost, 2)[keep],
    }


# ----------------------------------------------------------------------- assembly


def _strings(dictionary: list[str] | pa.Array, codes: np.ndarray) -> pd.Series:
    """Build a pandas ``string`` series ``dictionary[codes]`` (code -1 = missing).

    Decoding a dictionary array is several times faster than ``take``; missing values
    decode to ``""`` first and are then masked with a validity bitmap.
    """
    text = pa.large_string()
    if not isinstance(dictionary, pa.Array):
        dictionary = pa.array(dictionary, type=text)
    codes = np.asarray(codes)
    missing = codes < 0
    n_missing = int(missing.sum())
    if n_missing:
        codes = np.where(missing, len(dictionary), codes)
        dictionary = pa.concat_arrays([dictionary, pa.array([""], type=text)])
    index_type = np.int32 if len(dictionary) < 2**31 else np.int64
    values = pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(index_type, copy=False)), dictionary
    ).cast(text)
    if n_missing:
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
        _, offsets, data = values.buffers()
        values = pa.LargeStringArray.from_buffers(
            len(values), offsets, data, validity, null_count=n_missing
        )
    return pd.Series(pd.arrays.ArrowStringArray(values), copy=False)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded ids such as ``C000123`` for the given numbers."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.large_string()), width=width, padding="0")
    return _prefixed(prefix, digits)


def _prefixed(prefix: str, values: pa.Array) -> pa.Array:
    """Prepend ``prefix`` to every (large) string of ``values``."""
    text = pa.large_string()
    return pc.binary_join_element_wise(pa.scalar(prefix, text), values, pa.scalar("", text))


def _merge_positions(
    sales_ts: np.ndarray, return_ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Output rows of sorted sales and sorted returns merged by timestamp.

    A return sorts after a sale with the same timestamp, as ``"O..." < "R..."``.
    Returns the row positions of the sales and of the returns.
    """
    n_ret = len(return_ts)
    insert = np.searchsorted(sales_ts, return_ts, side="right")
    sales_pos = np.arange(len(sales_ts), dtype=np.int64)
    sales_pos += np.searchsorted(insert, sales_pos, side="right")
    return sales_pos, insert + np.arange(n_ret)


def _assemble_transactions(
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    lines: dict[str, np.ndarray],
    returns: dict[str, np.ndarray],
    catalogue: dict[str, Any],
    numbering: _Numbering,
) -> pd.DataFrame:
    """Combine sales and return lines into the canonical transactions table.

    Consumes ``lines`` and ``returns`` (their arrays are released as the columns are
    built, to keep the peak memory near the size of the output).
    """
    line_order = lines.pop("order")
    ret_line = returns.pop("line")
    sales_pos, ret_pos = _merge_positions(orders["ts"][line_order], returns["ts"])
    n_rows = len(sales_pos) + len(ret_pos)

    def merged(sales: np.ndarray, rets: np.ndarray) -> np.ndarray:
        out = np.empty(n_rows, dtype=np.result_type(sales, rets))
        out[sales_pos] = sales
        out[ret_pos] = rets
        return out

    columns: dict[str, Any] = {}
    columns["order_date"] = merged(orders["ts"][line_order], returns.pop("ts")).view(
        "datetime64[ns]"
    )
    for name in ("amount", "quantity", "unit_price", "cost"):
        columns[name] = merged(lines.pop(name), returns.pop(name))
    columns["discount"] = merged(lines.pop("discount"), np.zeros(len(ret_line)))

    n_orders = len(orders["ts"])
    first_order = numbering.first_order
    last_order = first_order + n_orders - 1
    order_width = numbering.order_width or max(8, len(str(last_order)))
    order_ids = _ids(ORDER_PREFIX, np.arange(first_order, last_order + 1), order_width)
    order = merged(line_order, line_order[ret_line] + n_orders)
    del line_order
    columns["order_id"] = _strings(
        pa.concat_arrays([order_ids, _prefixed(RETURN_PREFIX, order_ids)]), order
    )
    del order_ids
    order[ret_pos] -= n_orders

    customer_ids = _customer_ids(len(cust["segment"]), numbering)
    customer = orders["customer"][order]
    columns["customer_id"] = _strings(customer_ids, customer)
    del customer_ids
    columns["channel"] = _strings(list(CHANNELS), orders["channel"][order])
    store = orders["store"][order]
    del order
    columns["store"] = _strings(list(STORES), store)
    store_region = np.asarray([REGIONS.index(s["region"]) for s in STORES.values()])
    city_region = np.asarray([REGIONS.index(c[1]) for c in CITIES])
    region = np.where(
        store >= 0, store_region[np.maximum(store, 0)], city_region[cust["city"][customer]]
    )
    del store, customer
    columns["region"] = _strings(list(REGIONS), region)
    del region
    columns["country"] = pd.Series(
        pd.arrays.ArrowStringArray(pa.repeat(pa.scalar(COUNTRY, pa.large_string()), n_rows)),
        copy=False,
    )

    product = lines.pop("product")
    product = merged(product, product[ret_line])
    columns["product_id"] = _strings(list(catalogue["product_id"]), product)
    columns["product_name"] = _strings(list(catalogue["product_name"]), product)
    columns["category"] = _strings(list(CATEGORIES), catalogue["category"][product])
    return pd.DataFrame({name: columns[name] for name in TRANSACTION_COLUMNS}, copy=False)


def _movement(
    cust: dict[str, np.ndarray], truth: pd.DataFrame, end: pd.Timestamp, n_days: int
) -> pd.DataFrame:
    """Each customer's planted activity period, from the draws of the orders.

    Orders fall ``ceil(day_ago)`` days before ``end`` (at least one), between
    ``last_ago`` and ``first_ago``; a first purchase inside the window is on
    ``first_ago``.
    """
    first = np.maximum(np.ceil(cust["first_ago"]), 1).astype(np.int64)
    last = np.clip(np.ceil(cust["last_ago"]), 1, n_days).astype(np.int64)
    ongoing = cust["last_ago"] <= 0
    until = (end.value - last * _DAY_NS).view("datetime64[ns]")
    return pd.DataFrame(
        {
            "customer_id": truth["customer_id"].copy(),
            "segment": truth["segment"].copy(),
            "active_from": (end.value - first * _DAY_NS).view("datetime64[ns]"),
            "active_until": np.where(ongoing, np.datetime64("NaT"), until),
        }
    )


def _customer_width(n: int) -> int:
    """Digits of customer ids: at least six (``C000123``)."""
    return max(6, len(str(n)))


def _customer_ids(n: int, numbering: _Numbering) -> pa.Array:
    """Ids of ``n`` customers numbered from ``numbering.first_customer``."""
    last = numbering.first_customer + n - 1
    width = numbering.customer_width or _customer_width(last)
    return _ids(CUSTOMER_PREFIX, np.arange(numbering.first_customer, last + 1), width)


def _assemble_customers(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    end: pd.Timestamp,
    numbering: _Numbering,
) -> pd.DataFrame:
    """Build the canonical customers table (signup, demographics, home, consent)."""
    n = len(cust["segment"])
    first_ts = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, orders["customer"], orders["ts"])
    first_day = first_ts - (first_ts - end.value) % _DAY_NS
    lag = np.where(
        rng.random(n) < _SIGNUP_AT_FIRST_ORDER,
        0,
        np.ceil(rng.exponential(_SIGNUP_LAG_DAYS, n)),
    ).astype(np.int64)
    before_window = end.value - np.ceil(cust["first_ago"]).astype(np.int64) * _DAY_NS
    signup = np.minimum(first_day - lag * _DAY_NS, before_window)

    age_days = np.floor(cust["age"] * 365.25).astype(np.int64)
    birth = pd.DatetimeIndex((end.value - age_days * _DAY_NS).view("datetime64[ns]"))
    birth_year = birth.year.to_numpy().astype(np.int64)
    not_yet = (birth.month.to_numpy() > end.month) | (
        (birth.month.to_numpy() == end.month) & (birth.day.to_numpy() > end.day)
    )
    age = end.year - birth_year - not_yet
    no_birth = rng.random(n) < _MISSING_BIRTH_YEAR
    gender = np.where(cust["female"], 0, 1)
    gender[rng.random(n) < _MISSING_GENDER] = -1

    ids = _customer_ids(n, numbering)
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(pd.arrays.ArrowStringArray(ids), copy=False),
            "signup_date": signup.view("datetime64[ns]"),
            "birth_year": pd.arrays.IntegerArray(birth_year, no_birth),
            "age": pd.arrays.IntegerArray(age.astype(np.int64), no_birth.copy()),
            "gender": _strings(["F", "M"], gender),
            "region": _strings([c[1] for c in CITIES], cust["city"]),
            "city": _strings([c[0] for c in CITIES], cust["city"]),
            "city_tier": _strings([c[2] for c in CITIES], cust["city"]),
            "contact_consent": pd.array(cust["consent"], dtype="boolean"),
        }
    )
    return frame[list(CUSTOMER_COLUMNS)]


# --- Planted campaigns ---------------------------------------------------------------------

#: Extra orders per treated customer planted by :func:`plant_campaigns`, by planted
#: segment, for the first campaign ("Reactivation"); one segment is left at zero.
PLANTED_CAMPAIGN_LIFTS: dict[str, float] = {
    "Bargain hunter": 0.6, "Regular": 0.3, "Lapsing": 0.4, "New": 0.3,
    "Big-ticket occasional": 0.2, "VIP loyal": 0.0, "One-time": 0.15,
}
#: Money of each planted campaign order (one line, quantity 1, no discount).
PLANTED_CAMPAIGN_AMOUNT = 80.0
#: Margin of the planted campaign orders (their ``cost`` is the rest of the amount).
PLANTED_CAMPAIGN_MARGIN = 0.4


@dataclass(frozen=True)
class PlantedCampaigns:
    """A synthetic study with two planted campaigns and what was planted.

    Attributes
    ----------
    transactions : pandas.DataFrame
        The study's log plus one planted order per converted treated customer,
        sorted as :attr:`SyntheticStudy.transactions`.
    exposures : pandas.DataFrame
        Canonical exposures: ``customer_id``, ``campaign``, ``group``, ``sent_at``,
        ``segment`` (the planted segment at send time) and ``cost`` per contact.
    lifts : pandas.DataFrame
        One row per campaign and segment: the planted ``orders`` and ``revenue`` lift
        per treated customer, and ``control_share`` planned.
    """

    transactions: pd.DataFrame
    exposures: pd.DataFrame
    lifts: pd.DataFrame


def plant_campaigns(study: SyntheticStudy, *, seed: int = 0, window_days: int = 30,
                    amount: float = PLANTED_CAMPAIGN_AMOUNT,
                    lifts: dict[str, float] | None = None) -> PlantedCampaigns:
    """Plant two campaigns with a control group in a synthetic study's log.

    "Reactivation" goes out 75 days before the end of the log to every customer
    active by then, half of each planted segment held out; each treated customer of
    segment ``s`` buys one extra order of ``amount`` within ``window_days`` of the send
    with probability ``lifts[s]`` (one segment at zero). "Summer sale" goes out 45 days
    before the end to the same customers, 20% held out, with a lift of 0.25 orders
    everywhere, and its control list lost 40% of its customers on the way to the CRM,
    so its split fails the sample-ratio test.

    Parameters
    ----------
    study : SyntheticStudy
        Output of :func:`make_study`.
    seed : int
        Seed of the groups and the planted orders.
    window_days : int
        Days after the send the planted orders fall in.
    amount : float
        Money of each planted order.
    lifts : dict, optional
        Planted segment → extra orders per treated customer (default
        :data:`PLANTED_CAMPAIGN_LIFTS`).

    Returns
    -------
    PlantedCampaigns
        The log with the planted orders, the exposures and the planted lifts.
    """
    lifts = dict(PLANTED_CAMPAIGN_LIFTS if lifts is None else lifts)
    rng = np.random.default_rng([seed, 17])
    tx = study.transactions
    end = default_as_of(tx)
    segment = study.truth.set_index("customer_id")["segment"].astype(str)
    plans = (("Reactivation", 75, 0.5, lifts, 0.0),
             ("Summer sale", 45, 0.2, dict.fromkeys(lifts, 0.25), 0.4))
    exposures, added, rows = [], [], []
    for name, days_before, share, lift, lost in plans:
        sent = end - pd.Timedelta(days=days_before) + pd.Timedelta(hours=9)
        active = tx.loc[tx["order_date"] < sent, "customer_id"].dropna().unique()
        ids = np.sort(active.astype(str))
        control = rng.random(len(ids)) < share
        seg = segment.reindex(ids).fillna("Regular").to_numpy()
        buys = ~control & (rng.random(len(ids)) < pd.Series(seg).map(lift).fillna(0.0)
                           .to_numpy())
        when = sent + pd.to_timedelta(rng.uniform(0.1, window_days - 1, len(ids)), unit="D")
        keep = ~(control & (rng.random(len(ids)) < lost))
        exposures.append(pd.DataFrame({
            "customer_id": ids[keep], "campaign": name,
            "group": np.where(control, "control", "treatment")[keep],
            "sent_at": sent, "segment": seg[keep], "cost": np.where(control, 0.0, 1.5)[keep]}))
        n = int(buys.sum())
        added.append(pd.DataFrame({
            "customer_id": pd.array(ids[buys], dtype="string"),
            "order_date": when[buys].astype("datetime64[ns]"),
            "amount": amount, "quantity": 1.0, "unit_price": amount,
            "order_id": pd.array([f"K{name[:1]}{i:06d}" for i in range(n)], dtype="string"),
            "product_id": pd.array(["P-CAMPAIGN"] * n, dtype="string"),
            "product_name": pd.array([f"{name} offer"] * n, dtype="string"),
            "channel": pd.array(["online"] * n, dtype="string"),
            "discount": 0.0, "cost": amount * (1 - PLANTED_CAMPAIGN_MARGIN)}))
        for s, q in sorted(lift.items()):
            rows.append({"campaign": name, "segment": s, "orders": q, "revenue": q * amount,
                         "control_share": share})
    log = pd.concat([tx, *added], ignore_index=True)
    log = log.sort_values(["order_date", "order_id"], kind="mergesort").reset_index(drop=True)
    for column in tx.columns:
        log[column] = log[column].astype(tx[column].dtype)
    exp = pd.concat(exposures, ignore_index=True)
    exp["customer_id"] = exp["customer_id"].astype("string")
    return PlantedCampaigns(log[list(tx.columns)], exp, pd.DataFrame(rows))
