"""Clean a transaction log by documented rules and log what each rule did.

Every rule is a parameter of :class:`CleaningRules`. Rules that remove lines run
in a fixed order and each removed line is claimed by the *first* rule that matches
it, so the log adds up: lines in = lines kept + lines removed (per rule), and the
same for revenue, to the cent. The order is

0. ``text_whitespace``  stray spaces stripped from id and text values (fixed, kept)
1. ``invalid_values``   no order date or no amount (removed)
2. ``future_dates``     dated after the day of ``as_of`` (removed)
3. ``missing_customer`` no customer id (removed from the customer table, set aside
   in :attr:`CleaningResult.missing_customer`)
4. ``exact_duplicates`` a line identical to an earlier line in every column (removed,
   the first copy is kept)
5. ``adjustments``      orders whose id starts with an adjustment prefix, such as the
   "A" bad-debt adjustments (removed)
6. ``non_product_codes`` postage, carriage, fees, manual lines, discounts, samples,
   gift vouchers (removed)
7. ``non_positive_price`` unit price below zero, such as bad-debt adjustment lines
   (removed)
8. ``free_lines``       unit price exactly zero; without a unit price, an amount of zero
   on a line that is not a return: free purchases (kept, flagged ``is_free``: they
   count as purchases for frequency, recency and ``T``, and are left out of price
   statistics; or removed with ``drop_free_lines=True``)
9. ``extreme_outliers`` a quantity (or amount) beyond a threshold, together with
   the lines that exactly cancel it (flagged and kept, or removed)
10. ``returns``         cancellations and negative lines (kept, flagged
    ``is_return``: netted against the customer's purchases)

Flagged lines (``free_lines``, ``extreme_outliers`` with ``outlier_rule="flag"``) stay
in the kept lines; their log rows count the kept lines flagged and are not part of the
reconciliation.

Rules whose column is absent are skipped and logged as
``"not applicable (column absent)"``.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seglab import i18n
from seglab.analysis_date import day_end, parse_as_of
from seglab.errors import ConfigError, InputError
from seglab.schema import REQUIRED_TRANSACTION_COLUMNS, TRANSACTION_COLUMNS

logger = logging.getLogger(__name__)

#: Log actions. Only ``REMOVED`` lines count toward the reconciliation.
REMOVED = "removed"
FLAGGED = "kept, flagged"
NETTED = "netted"
FIXED = "fixed"
OFF = "off (rule disabled)"
ABSENT = "not applicable (column absent)"
NO_AS_OF = "not applicable (no as_of)"

OUTLIER_RULES: tuple[str, ...] = ("flag", "drop", "none")

#: Stock codes that are not products in the UCI Online Retail log: postage (POST,
#: DOT = dotcom postage, C2 = carriage), manual lines (M), discounts (D), samples (S),
#: bank charges, Amazon fees, CRUK commission, bad-debt adjustment (B) and the PADS
#: placeholder priced at 0.001.
NON_PRODUCT_CODES: tuple[str, ...] = (
    "POST",
    "DOT",
    "M",
    "C2",
    "D",
    "S",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "B",
    "PADS",
)

#: Gift vouchers (``gift_0001_20`` …): money paid in advance, spent later on products,
#: so counting the voucher as a sale would count the revenue twice.
NON_PRODUCT_PATTERN = r"^gift_\d+_\d+$"

_TEXT_KINDS = ("id", "text")
_NUMERIC = ("amount", "quantity", "unit_price", "discount", "cost")


@dataclass(frozen=True)
class CleaningRules:
    """The cleaning rules, each a parameter with a documented default.

    Parameters
    ----------
    drop_invalid : bool, default True
        Remove lines with no order date or no amount; they cannot be placed in time
        or valued.
    drop_future : bool, default True
        Remove lines dated after the day of ``as_of`` (only when ``as_of`` is given);
        the whole ``as_of`` day is kept, as lifetimes keeps its observation period end.
    drop_missing_customer : bool, default True
        Remove lines without a customer id from the customer table; they are set
        aside in :attr:`CleaningResult.missing_customer`, counted and valued.
    drop_exact_duplicates : bool, default True
        Remove lines identical to an earlier line in every column, keeping the first.
    adjustment_prefixes : tuple of str, default ("A",)
        ``order_id`` prefixes marking accounting adjustments (UCI: "A" bad-debt
        adjustments of ±11,062.06). An empty tuple turns the rule off.
    non_product_codes : tuple of str, default :data:`NON_PRODUCT_CODES`
        ``product_id`` values that are not products (postage, fees, manual lines).
        Matched ignoring case and surrounding spaces. Empty turns the rule off
        (unless ``non_product_pattern`` is set).
    non_product_pattern : str or None, default :data:`NON_PRODUCT_PATTERN`
        A regular expression (matched ignoring case) for further non-product codes;
        the default catches gift vouchers. None turns it off.
    drop_non_positive_price : bool, default True
        Remove lines with ``unit_price < 0`` (UCI: the negative bad-debt adjustment
        lines). Needs ``unit_price``. Zero prices are ``drop_free_lines``' business.
    drop_free_lines : bool, default False
        What to do with free lines: ``unit_price == 0`` or, without ``unit_price``,
        ``amount == 0`` on a line that is not a return. False (default): keep them as
        purchases, flagged ``is_free``; a customer whose first purchase was free
        became a customer that day (lifetimes counts every transaction date, whatever
        its value), so they count for frequency, recency and ``T``, and price
        statistics leave them out. True: remove them (the earlier default).
    cancellation_prefixes : tuple of str, default ("C",)
        ``order_id`` prefixes marking cancellations. Such lines, and any line with a
        negative quantity (or, without quantity, a negative amount), are returns:
        kept and netted against the customer's purchases, flagged ``is_return``.
    outlier_rule : {"flag", "drop", "none"}, default "flag"
        What to do with extreme lines: flag them ``is_outlier`` and keep them,
        remove them, or ignore the rule.
    outlier_quantity : float or None, default 10_000
        A line with ``|quantity|`` above this is extreme (UCI: the 80,995 and 74,215
        unit orders, each cancelled minutes later). None turns the test off.
    outlier_amount : float or None, default None
        A line with ``|amount|`` above this is extreme. None turns the test off.
    strip_text : bool, default True
        Strip leading and trailing spaces from id and text columns (UCI: 113,452
        product names); values left empty become missing.

    Notes
    -----
    A line that exactly cancels an extreme line (same customer and product, the
    opposite quantity) is treated like it, so an order and its cancellation are
    both flagged or both removed.

    Examples
    --------
    >>> rules = CleaningRules(outlier_rule="drop", outlier_quantity=5_000)
    """

    drop_invalid: bool = True
    drop_future: bool = True
    drop_missing_customer: bool = True
    drop_exact_duplicates: bool = True
    adjustment_prefixes: tuple[str, ...] = ("A",)
    non_product_codes: tuple[str, ...] = NON_PRODUCT_CODES
    non_product_pattern: str | None = NON_PRODUCT_PATTERN
    drop_non_positive_price: bool = True
    drop_free_lines: bool = False
    cancellation_prefixes: tuple[str, ...] = ("C",)
    outlier_rule: str = "flag"
    outlier_quantity: float | None = 10_000
    outlier_amount: float | None = None
    strip_text: bool = True

    def __post_init__(self) -> None:
        for name in (
            "adjustment_prefixes",
            "non_product_codes",
            "cancellation_prefixes",
        ):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}={value!r} should be a tuple of strings, e.g. ('A',).")
            object.__setattr__(self, name, tuple(value))
        if self.outlier_rule not in OUTLIER_RULES:
            raise ConfigError(
                f"outlier_rule={self.outlier_rule!r} is not supported; use one of "
                f"{list(OUTLIER_RULES)}."
            )
        for name in ("outlier_quantity", "outlier_amount"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name}={value!r} should be > 0, or None to turn it off.")
        if self.non_product_pattern is not None:
            try:
                re.compile(self.non_product_pattern)
            except re.error as err:
                raise ConfigError(
                    f"non_product_pattern={self.non_product_pattern!r} is not a valid "
                    f"regular expression: {err}."
                ) from err


@dataclass(frozen=True, eq=False)
class CleaningResult:
    """What :func:`clean_transactions` returns.

    Attributes
    ----------
    transactions : pandas.DataFrame
        The kept lines, one row per order line, with the input's columns (index
        labels kept, so a line can be traced back to the input) plus ``is_return``,
        ``is_outlier`` and ``is_free`` (bool).
    log : pandas.DataFrame
        One row per rule, in the order applied: ``step``, ``rule``, ``description``,
        ``action``, ``rows``, ``revenue`` (sum of ``amount``) and
        ``in_reconciliation`` (True for rows with action ``"removed"``: only these
        add up with the kept lines to the input; flagged, netted and fixed lines are
        still in ``transactions``, and a line may carry several flags).
    missing_customer : pandas.DataFrame
        The lines set aside for having no customer id (input columns), so their
        revenue can be reported and profiled; empty when the rule is off.
    removed : pandas.DataFrame
        Every removed line (input columns) with ``removed_by``, the rule's name.
    rows_in : int
        Lines in the input.
    revenue_in : float
        Sum of ``amount`` over the input.
    as_of : pandas.Timestamp or None
        The cut-off used by ``future_dates``.
    rules : CleaningRules
        The rules applied.
    """

    transactions: pd.DataFrame
    log: pd.DataFrame
    missing_customer: pd.DataFrame
    removed: pd.DataFrame
    rows_in: int
    revenue_in: float
    as_of: pd.Timestamp | None = None
    rules: CleaningRules = field(default_factory=CleaningRules)

    @property
    def rows_kept(self) -> int:
        """Lines kept."""
        return len(self.transactions)

    @property
    def revenue_kept(self) -> float:
        """Sum of ``amount`` over the kept lines."""
        return _revenue(self.transactions["amount"])

    def reconciliation(self) -> pd.DataFrame:
        """Return the reconciliation table; see :func:`reconcile`."""
        return reconcile(
            self.log,
            rows_in=self.rows_in,
            revenue_in=self.revenue_in,
            rows_kept=self.rows_kept,
            revenue_kept=self.revenue_kept,
        )

    @property
    def reconciles(self) -> bool:
        """Whether lines and revenue in equal kept plus removed, to the cent."""
        return _reconciles(self.reconciliation())


def _revenue(amount: pd.Series) -> float:
    """Sum amounts exactly (``math.fsum``), ignoring missing values."""
    values = amount.to_numpy(dtype="float64", na_value=np.nan)
    return math.fsum(values[~np.isnan(values)])


def _validate(transactions: pd.DataFrame) -> None:
    if not isinstance(transactions, pd.DataFrame):
        raise InputError(
            f"transactions should be a pandas DataFrame, got {type(transactions).__name__}."
        )
    missing = [c for c in REQUIRED_TRANSACTION_COLUMNS if c not in transactions]
    if missing:
        raise InputError(
            f"transactions has no column(s) {missing}; map the source columns onto "
            f"seglab.schema.TRANSACTION_COLUMNS first (columns found: "
            f"{list(transactions.columns)})."
        )
    if "amount" not in transactions and not {"quantity", "unit_price"} <= set(transactions):
        raise InputError(
            "transactions has no 'amount' column and no 'quantity' and 'unit_price' to "
            "derive it from; add one of them."
        )
    dates = transactions["order_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        example = dates.dropna().iloc[0] if dates.notna().any() else None
        raise InputError(
            f"column 'order_date' has dtype {dates.dtype} (e.g. {example!r}); "
            "convert it with pd.to_datetime or load the file with seglab.io."
        )
    for col in _NUMERIC:
        if col in transactions and not pd.api.types.is_numeric_dtype(transactions[col]):
            values = transactions[col]
            example = values.dropna().iloc[0] if values.notna().any() else None
            raise InputError(
                f"column {col!r} has dtype {values.dtype} (e.g. {example!r}); "
                "convert it with pd.to_numeric or load the file with seglab.io."
            )


def _check_as_of(as_of: pd.Timestamp, dates: pd.Series) -> pd.Timestamp:
    as_of = parse_as_of(as_of, option="as_of")
    if (as_of.tz is None) != (dates.dt.tz is None):
        raise InputError(
            f"as_of={as_of} and order_date (time zone {dates.dt.tz}) should both have "
            "a time zone or both have none."
        )
    return as_of


def _strip_text(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Strip id and text columns; return the new frame and which rows changed."""
    changed = pd.Series(False, index=df.index)
    stripped = {}
    for col, kind in TRANSACTION_COLUMNS.items():
        if kind not in _TEXT_KINDS or col not in df:
            continue
        values = df[col]
        if not pd.api.types.is_string_dtype(values):
            continue
        new = values.str.strip()
        changed |= (values.notna() & new.ne(values) & new.ne("")).fillna(False)
        stripped[col] = new.mask(new == "")
    return df.assign(**stripped), changed


def _prepare(transactions: pd.DataFrame, rules: CleaningRules) -> tuple[pd.DataFrame, pd.Series]:
    df = transactions
    if "amount" not in df:
        df = df.assign(amount=df["quantity"] * df["unit_price"])
        logger.info("amount derived as quantity * unit_price")
    if rules.strip_text:
        return _strip_text(df)
    return df.copy(), pd.Series(False, index=df.index)


def _as_text(values: pd.Series) -> pd.Series:
    return values if pd.api.types.is_string_dtype(values) else values.astype("string")


def _is_blank(values: pd.Series) -> pd.Series:
    """Flag missing values, counting empty or all-space text as missing."""
    blank = values.isna()
    if pd.api.types.is_string_dtype(values):
        blank |= values.str.strip().eq("").fillna(False)
    return blank.astype(bool)


def _starts_with(values: pd.Series, prefixes: tuple[str, ...]) -> pd.Series:
    return _as_text(values).str.startswith(prefixes).fillna(False).astype(bool)


def _is_return(df: pd.DataFrame, rules: CleaningRules) -> pd.Series:
    """Flag cancellations (order id prefix) and negative lines (quantity or amount)."""
    signed = df["quantity"] if "quantity" in df else df["amount"]
    out = (signed < 0).fillna(False).astype(bool)
    if "order_id" in df and rules.cancellation_prefixes:
        out |= _starts_with(df["order_id"], rules.cancellation_prefixes)
    return out


def _non_product(df: pd.DataFrame, rules: CleaningRules) -> pd.Series:
    codes = _as_text(df["product_id"]).str.strip().str.upper()
    out = codes.isin([c.strip().upper() for c in rules.non_product_codes])
    if rules.non_product_pattern:
        pattern = re.compile(rules.non_product_pattern, re.IGNORECASE)
        out |= codes.str.match(pattern)
    return out.fillna(False).astype(bool)


def _negative_price(df: pd.DataFrame) -> pd.Series:
    return (df["unit_price"] < 0).fillna(False).astype(bool)


def _free(df: pd.DataFrame, rules: CleaningRules) -> pd.Series:
    """Free lines: unit price exactly 0; without it, amount 0 on a line not a return."""
    if "unit_price" in df:
        return (df["unit_price"] == 0).fillna(False).astype(bool)
    return (df["amount"] == 0).fillna(False).astype(bool) & ~_is_return(df, rules)


def _free_description(df: pd.DataFrame | None, lang: str = "en", *,
                      unit_price: bool | None = None) -> str:
    if unit_price if unit_price is not None else "unit_price" in df:
        what = i18n.text("unit price exactly zero", lang)
    else:
        what = i18n.text("amount zero on a line that is not a return (no unit_price column)",
                         lang)
    return i18n.text("{what}: free purchases, counted for frequency, recency and T, left out "
                     "of price statistics (is_free)", lang, what=what)


def _description(rule: str, rules: CleaningRules, as_of: pd.Timestamp | None,
                 lang: str = "en") -> str:
    """Return the log's description of ``rule`` (all but ``free_lines``) in ``lang``."""
    if rule == "text_whitespace":
        return i18n.text("leading or trailing spaces stripped from id and text values", lang)
    if rule == "invalid_values":
        return i18n.text("no order date or no amount", lang)
    if rule == "future_dates":
        return i18n.text("dated after the analysis date ({as_of})", lang, as_of=as_of)
    if rule == "missing_customer":
        return i18n.text("no customer id; set aside in missing_customer, revenue reported",
                         lang)
    if rule == "exact_duplicates":
        return i18n.text("identical to an earlier line in every column (first copy kept)", lang)
    if rule == "adjustments":
        return i18n.text("order id starts with {prefixes} (accounting adjustments, e.g. bad "
                         "debt)", lang, prefixes=list(rules.adjustment_prefixes))
    if rule == "non_product_codes":
        return i18n.text("product code is postage, a fee, a manual line, a discount, a sample "
                         "or a gift voucher", lang)
    if rule == "non_positive_price":
        return i18n.text("unit price below zero (e.g. bad-debt adjustment lines)", lang)
    if rule == "extreme_outliers":
        return _outlier_description(rules, lang)
    if rule == "returns":
        return i18n.text("cancellations and negative lines, kept as negative amounts netted "
                         "against the customer's purchases (is_return)", lang)
    raise KeyError(rule)


def display_log(result: CleaningResult, lang: str = "en") -> pd.DataFrame:
    """Return the cleaning log with its descriptions in the report's language.

    ``cleaning_log.csv`` keeps the English descriptions; the rule ids and actions stay
    as they are (they are what the alerts and the reconciliation read).

    Parameters
    ----------
    result : CleaningResult
        A cleaning.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        ``result.log`` itself in English, else a copy with ``description`` translated.
    """
    if lang == "en":
        return result.log
    rules = result.rules or CleaningRules()
    english = result.log.set_index("rule")["description"].to_dict()
    unit_price = str(english.get("free_lines", "")).startswith("unit price")
    shown = {rule: _free_description(None, lang, unit_price=unit_price)
             if rule == "free_lines" else _description(rule, rules, result.as_of, lang)
             for rule in english}
    return result.log.assign(description=result.log["rule"].map(shown))


def _outliers(df: pd.DataFrame, rules: CleaningRules) -> pd.Series:
    """Extreme lines and the lines that exactly cancel them.

    A line cancels an extreme line when it has the same customer and product (when
    present) and the opposite quantity.
    """
    extreme = pd.Series(False, index=df.index)
    if rules.outlier_quantity is not None and "quantity" in df:
        extreme |= (df["quantity"].abs() > rules.outlier_quantity).fillna(False)
    if rules.outlier_amount is not None:
        extreme |= (df["amount"].abs() > rules.outlier_amount).fillna(False)
    if not extreme.any() or "quantity" not in df:
        return extreme
    keys = [c for c in ("customer_id", "product_id") if c in df]
    table = df[keys].assign(_q=df["quantity"].to_numpy(), _pos=np.arange(len(df)))
    opposite = table.loc[extreme.to_numpy(), keys].assign(
        _q=-df.loc[extreme.to_numpy(), "quantity"].to_numpy()
    )
    candidates = table[table["_q"].isin(opposite["_q"]).to_numpy() & ~extreme.to_numpy()]
    partners = candidates.merge(opposite.drop_duplicates(), on=[*keys, "_q"])
    flags = extreme.to_numpy().copy()
    flags[partners["_pos"].to_numpy()] = True
    return pd.Series(flags, index=df.index)


def _duplicated_lines(df: pd.DataFrame) -> pd.Series:
    """Mark lines identical in every column to an earlier line (first copy kept).

    Same result as ``df.duplicated()``, about four times faster on millions of lines:
    rows are hashed first and compared in full only where hashes collide.
    """
    hashes = pd.util.hash_pandas_object(df, index=False)
    candidates = hashes.duplicated(keep=False).to_numpy()
    duplicated = pd.Series(False, index=df.index)
    if candidates.any():
        duplicated[candidates] = df[candidates].duplicated(keep="first").to_numpy()
    return duplicated


def _removal_rules(
    df: pd.DataFrame, rules: CleaningRules, as_of: pd.Timestamp | None
) -> list[tuple[str, str, str, pd.Series | None]]:
    """(rule, description, status, mask) for every removal rule, in order.

    ``status`` is ``REMOVED`` when the rule runs (then ``mask`` is set), ``FLAGGED``
    for ``free_lines`` when it keeps and flags (``mask`` set, nothing removed),
    otherwise the reason it does not run.
    """

    def rule(on: bool, needs: tuple[str, ...], mask_fn) -> tuple[str, pd.Series | None]:
        if any(col not in df for col in needs):
            return ABSENT, None
        if not on:
            return OFF, None
        return REMOVED, mask_fn()

    specs = [
        (
            "invalid_values",
            _description("invalid_values", rules, as_of),
            *rule(
                rules.drop_invalid,
                (),
                lambda: df["order_date"].isna() | df["amount"].isna(),
            ),
        ),
        (
            "future_dates",
            _description("future_dates", rules, as_of),
            *(
                (NO_AS_OF, None)
                if as_of is None and rules.drop_future
                # The whole analysis day counts, as in lifetimes' observation_period_end.
                else rule(rules.drop_future, (),
                          lambda: df["order_date"] >= day_end(as_of))
            ),
        ),
        (
            "missing_customer",
            _description("missing_customer", rules, as_of),
            *rule(
                rules.drop_missing_customer,
                (),
                lambda: _is_blank(df["customer_id"]),
            ),
        ),
        (
            "exact_duplicates",
            _description("exact_duplicates", rules, as_of),
            *rule(rules.drop_exact_duplicates, (), lambda: _duplicated_lines(df)),
        ),
        (
            "adjustments",
            _description("adjustments", rules, as_of),
            *rule(
                bool(rules.adjustment_prefixes),
                ("order_id",),
                lambda: _starts_with(df["order_id"], rules.adjustment_prefixes),
            ),
        ),
        (
            "non_product_codes",
            _description("non_product_codes", rules, as_of),
            *rule(
                bool(rules.non_product_codes or rules.non_product_pattern),
                ("product_id",),
                lambda: _non_product(df, rules),
            ),
        ),
        (
            "non_positive_price",
            _description("non_positive_price", rules, as_of),
            *rule(
                rules.drop_non_positive_price,
                ("unit_price",),
                lambda: _negative_price(df),
            ),
        ),
        (
            "free_lines",
            _free_description(df),
            REMOVED if rules.drop_free_lines else FLAGGED,
            _free(df, rules),
        ),
    ]
    if rules.outlier_rule == "drop":
        specs.append(
            (
                "extreme_outliers",
                _outlier_description(rules),
                *_outlier_status(df, rules, lambda: _outliers(df, rules)),
            )
        )
    return specs


def _outlier_description(rules: CleaningRules, lang: str = "en") -> str:
    quantity = (None if rules.outlier_quantity is None
                else f"|quantity| > {rules.outlier_quantity:,g}")
    amount = None if rules.outlier_amount is None else f"|amount| > {rules.outlier_amount:,g}"
    if quantity and amount:
        tests = i18n.text("{quantity} or {amount}", lang, quantity=quantity, amount=amount)
    else:
        tests = quantity or amount or i18n.text("no threshold set", lang)
    return i18n.text("{tests}, and the lines cancelling them", lang, tests=tests)


def _outlier_status(df: pd.DataFrame, rules: CleaningRules, mask_fn) -> tuple[str, object]:
    if rules.outlier_rule == "none":
        return OFF, None
    usable = (rules.outlier_quantity is not None and "quantity" in df) or (
        rules.outlier_amount is not None
    )
    if not usable:
        return (ABSENT, None) if rules.outlier_quantity is not None else (OFF, None)
    return (REMOVED if rules.outlier_rule == "drop" else FLAGGED), mask_fn()


def _log_row(step, rule, description, action, mask, amount) -> dict:
    rows = int(mask.sum()) if mask is not None else 0
    revenue = _revenue(amount[mask]) if mask is not None else 0.0
    return {
        "step": step,
        "rule": rule,
        "description": description,
        "action": action,
        "rows": rows,
        "revenue": revenue,
        "in_reconciliation": action == REMOVED,
    }


def clean_transactions(
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp | None = None,
    rules: CleaningRules | None = None,
) -> CleaningResult:
    """Clean a canonical transaction table by :class:`CleaningRules`.

    Rules run in the order given in this module's docstring; each removed line is
    claimed by the first rule that matches it. Returns are kept as negative lines
    (netted against the customer's purchases) and flagged; free lines are kept and
    flagged unless ``rules.drop_free_lines``. The input is not changed.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per order line with the canonical columns of
        :data:`seglab.schema.TRANSACTION_COLUMNS`: ``customer_id`` and ``order_date``
        (datetime64) required; ``amount`` required unless ``quantity`` and
        ``unit_price`` are given (then ``amount = quantity * unit_price``). Rules on
        ``order_id``, ``product_id``, ``unit_price`` and ``quantity`` are skipped when
        the column is absent.
    as_of : pandas.Timestamp or None, default None
        Lines dated strictly after this are removed (``future_dates``); None skips
        the rule. Pass the end of a day to keep that whole day.
    rules : CleaningRules or None, default None
        The rules; None uses the defaults.

    Returns
    -------
    CleaningResult
        The kept lines (input columns plus ``is_return``, ``is_outlier`` and
        ``is_free``), the log, the lines without customer id, all removed lines and
        the input totals.

    Raises
    ------
    InputError
        If a required column is missing or has the wrong type.

    Examples
    --------
    >>> result = clean_transactions(tx, as_of=pd.Timestamp("2011-12-10"))
    >>> result.log[["rule", "action", "rows", "revenue"]]
    >>> result.reconciles
    True
    """
    rules = CleaningRules() if rules is None else rules
    _validate(transactions)
    if as_of is not None:
        as_of = _check_as_of(as_of, transactions["order_date"])
    df, stripped = _prepare(transactions, rules)
    amount = df["amount"]

    log = [
        _log_row(
            0,
            "text_whitespace",
            _description("text_whitespace", rules, as_of),
            FIXED if rules.strip_text else OFF,
            stripped,
            amount,
        )
    ]
    kept = pd.Series(True, index=df.index)
    removed_by = pd.Series(pd.NA, index=df.index, dtype="string")
    flags: dict[int, pd.Series] = {}
    for step, (rule, description, action, mask) in enumerate(
        _removal_rules(df, rules, as_of), start=1
    ):
        claimed = None if mask is None else mask.fillna(False).astype(bool) & kept
        if action == FLAGGED:
            # Counted once every removal has run: a later rule may still remove a line.
            flags[len(log)] = claimed
        elif claimed is not None:
            kept &= ~claimed
            removed_by = removed_by.mask(claimed, rule)
        log.append(_log_row(step, rule, description, action, claimed, amount))
    for row, mask in flags.items():
        flagged = mask & kept
        log[row] = _log_row(log[row]["step"], log[row]["rule"], log[row]["description"],
                            FLAGGED, flagged, amount)

    out = df[kept]
    is_free = _free(out, rules)
    is_return = _is_return(out, rules)
    is_outlier = pd.Series(False, index=out.index)
    if rules.outlier_rule == "flag":
        action, mask = _outlier_status(out, rules, lambda: _outliers(out, rules))
        log.append(
            _log_row(
                len(log),
                "extreme_outliers",
                _outlier_description(rules),
                action,
                mask,
                out["amount"],
            )
        )
        if mask is not None:
            is_outlier = mask
    elif rules.outlier_rule == "none":
        log.append(
            _log_row(
                len(log),
                "extreme_outliers",
                _outlier_description(rules),
                OFF,
                None,
                amount,
            )
        )
    log.append(
        _log_row(
            len(log),
            "returns",
            _description("returns", rules, as_of),
            NETTED,
            is_return,
            out["amount"],
        )
    )
    removed = df[~kept].assign(removed_by=removed_by[~kept])
    result = CleaningResult(
        transactions=out.assign(is_return=is_return, is_outlier=is_outlier,
                                is_free=is_free),
        log=pd.DataFrame(log),
        missing_customer=df[removed_by.eq("missing_customer").fillna(False)],
        removed=removed,
        rows_in=len(df),
        revenue_in=_revenue(amount),
        as_of=as_of,
        rules=rules,
    )
    logger.info(
        "cleaning kept %d of %d lines (%.2f of %.2f revenue)",
        result.rows_kept,
        result.rows_in,
        result.revenue_kept,
        result.revenue_in,
    )
    return result


def reconcile(
    log: pd.DataFrame,
    *,
    rows_in: int,
    revenue_in: float,
    rows_kept: int,
    revenue_kept: float,
) -> pd.DataFrame:
    """Check that lines and revenue in equal lines kept plus lines removed.

    Parameters
    ----------
    log : pandas.DataFrame
        The cleaning log (:attr:`CleaningResult.log`); its rows with
        ``in_reconciliation`` True are the removals.
    rows_in, rows_kept : int
        Lines in the input and kept.
    revenue_in, revenue_kept : float
        Sum of ``amount`` in the input and over the kept lines.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``rows``, ``revenue``: the input, one row per removal rule
        (``removed: <rule>``), the kept lines and ``difference`` (input minus removed
        minus kept), which is 0 rows and under half a cent when the log reconciles.
    """
    removals = log[log["in_reconciliation"]]
    rows = [{"item": "input", "rows": rows_in, "revenue": revenue_in}]
    rows += [
        {"item": f"removed: {r.rule}", "rows": int(r.rows), "revenue": float(r.revenue)}
        for r in removals.itertuples()
    ]
    rows.append({"item": "kept", "rows": rows_kept, "revenue": revenue_kept})
    rows.append(
        {
            "item": "difference",
            "rows": rows_in - int(removals["rows"].sum()) - rows_kept,
            "revenue": revenue_in - math.fsum([*removals["revenue"], revenue_kept]),
        }
    )
    return pd.DataFrame(rows)


def _reconciles(table: pd.DataFrame) -> bool:
    diff = table.iloc[-1]
    return bool(diff["rows"] == 0 and abs(diff["revenue"]) < 0.005)


def cleaning_metrics(result: CleaningResult) -> dict:
    """Summarise a cleaning for ``metrics.json["cleaning"]``.

    Parameters
    ----------
    result : CleaningResult
        What :func:`clean_transactions` returned.

    Returns
    -------
    dict
        JSON-ready: ``rows_in``, ``rows_kept``, ``rows_removed``, ``revenue_in``,
        ``revenue_kept``, ``revenue_removed`` (rounded to the cent), ``as_of``
        (ISO text or None), ``rules`` (rule name -> ``action``, ``rows``,
        ``revenue``) and ``reconciles`` (bool, judged on unrounded sums).
    """
    table = result.reconciliation()
    removed = result.log[result.log["in_reconciliation"]]
    return {
        "rows_in": int(result.rows_in),
        "rows_kept": int(result.rows_kept),
        "rows_removed": int(removed["rows"].sum()),
        "revenue_in": round(result.revenue_in, 2),
        "revenue_kept": round(result.revenue_kept, 2),
        "revenue_removed": round(math.fsum(removed["revenue"]), 2),
        "as_of": None if result.as_of is None else result.as_of.isoformat(),
        "rules": {
            r.rule: {
                "action": r.action,
                "rows": int(r.rows),
                "revenue": round(r.revenue, 2),
            }
            for r in result.log.itertuples()
        },
        "reconciles": _reconciles(table),
    }
