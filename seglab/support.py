"""What a transaction log can answer, decided once when its inputs are staged.

A log may lack order ids, products, costs or a long enough history. Rather than fail
deep inside a notebook, the study records when it stages the inputs what the log holds
(:class:`DataSupport`, stored in ``study.json``); each section of the report then asks
it whether it can run, runs a stated fallback, or shows one line saying what is missing.
Which sections ran, adapted or were skipped, and why, is recorded in ``metrics.json``
(section ``sections``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from seglab import i18n
from seglab.analysis_date import day_end, parse_as_of

#: Optional canonical transaction columns whose presence decides what a study can show.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "order_id", "product_id", "product_name", "category", "channel", "store", "region",
    "country", "quantity", "unit_price", "discount", "cost",
)

#: Columns, any one of which the data profile's "what sells, where" needs.
SELLING_DIMENSIONS: tuple[str, ...] = ("product_id", "category", "channel", "region", "country")

#: Columns, any one of which splits segments into sub-segments (``profit.sub_segment_column``).
SUB_SEGMENT_DIMENSIONS: tuple[str, ...] = ("channel", "region", "country")

#: Fewest customers with a repeat purchase BG/NBD and Gamma-Gamma are fitted on.
MIN_REPEAT_CUSTOMERS = 10

#: Shortest window, in days, a span-tied parameter is shrunk to before its section is
#: skipped instead (a fortnight: less says nothing about purchase rhythms).
MIN_WINDOW_DAYS = 14

#: Separator of a derived order id: customer id and day (see :func:`derive_order_ids`).
DERIVED_ORDER_PREFIX = "day:"


@dataclass(frozen=True)
class DataSupport:
    """What the staged log holds: its optional columns, size and span.

    Attributes
    ----------
    columns : tuple of str
        Optional canonical columns present with at least one value.
    derived : tuple of str
        Columns seglab derived because the log lacks them (``order_id``: one order per
        customer per day, as lifetimes counts purchases).
    lines, customers, repeat_customers : int
        Lines up to the analysis date, distinct customers, and customers who bought on
        more than one day.
    span_days : int
        Days from the first line's day to the analysis date (the day before it counts).
    orders : int
        Distinct orders (derived ones included).
    customer_file : bool
        Whether a customer attribute file was given.
    """

    columns: tuple[str, ...]
    derived: tuple[str, ...]
    lines: int
    customers: int
    repeat_customers: int
    span_days: int
    orders: int
    customer_file: bool = False

    @classmethod
    def of(cls, transactions: pd.DataFrame, *, as_of: pd.Timestamp,
           derived: tuple[str, ...] = (), customer_file: bool = False) -> DataSupport:
        """Describe ``transactions`` as staged (all lines, before cleaning).

        Parameters
        ----------
        transactions : pandas.DataFrame
            Canonical transactions.
        as_of : pandas.Timestamp
            Analysis date; lines after its day do not count.
        derived : tuple of str
            Columns seglab derived at staging.
        customer_file : bool
            Whether a customer attribute file was given.
        """
        day = parse_as_of(as_of, option="as_of")
        tx = transactions[transactions["order_date"] < day_end(day)]
        known = tx[tx["customer_id"].notna()]
        days = known["order_date"].dt.normalize()
        purchase_days = pd.DataFrame({"c": known["customer_id"], "d": days}).drop_duplicates()
        first = tx["order_date"].min()
        return cls(
            columns=tuple(c for c in OPTIONAL_COLUMNS
                          if c in tx and c not in derived and tx[c].notna().any()),
            derived=tuple(derived),
            lines=len(tx),
            customers=int(known["customer_id"].nunique()),
            repeat_customers=int((purchase_days.groupby("c").size() > 1).sum()),
            span_days=0 if pd.isna(first) else int((day - first.normalize()).days),
            orders=int(tx["order_id"].nunique()) if "order_id" in tx else len(purchase_days),
            customer_file=customer_file,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the record as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSupport:
        """Rebuild the record written by :meth:`to_json`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def has(self, *columns: str) -> bool:
        """Whether the log holds every one of ``columns`` (derived ones count)."""
        return all(c in self.columns or c in self.derived for c in columns)

    def has_any(self, *columns: str) -> bool:
        """Whether the log holds at least one of ``columns`` (derived ones count)."""
        return any(self.has(c) for c in columns)

    @property
    def lines_per_order(self) -> float:
        """Average lines per order."""
        return self.lines / self.orders if self.orders else 0.0

    @property
    def fits_purchase_model(self) -> bool:
        """Whether enough customers bought twice for BG/NBD and Gamma-Gamma."""
        return self.repeat_customers >= MIN_REPEAT_CUSTOMERS

    def order_note(self, *, lang: str = "en") -> str:
        """Say how orders are counted when the log has no order ids ("" when it has).

        Parameters
        ----------
        lang : {"en", "zh"}
            The report's language.
        """
        if "order_id" not in self.derived:
            return ""
        return i18n.text("This log has no order ids: seglab counts one order per customer "
                         "per day, as lifetimes counts purchases.", lang)

    def missing_note(self, columns: tuple[str, ...], what: str, *, lang: str = "en") -> str:
        """Say that ``what`` is not shown because the log has none of ``columns``.

        Parameters
        ----------
        columns : tuple of str
            Canonical columns any one of which the section needs.
        what : str
            The section, as the reader knows it (in the report's language).
        lang : {"en", "zh"}
            The report's language.

        Returns
        -------
        str
            A one-line note, or "" when the log has one of ``columns``.
        """
        if self.has_any(*columns):
            return ""
        names = (i18n.text("{names} or {last}", lang, names=", ".join(columns[:-1]),
                           last=columns[-1]) if len(columns) > 1 else columns[0])
        return i18n.text("Skipped: {what} needs a column {names}, and this log has none.", lang,
                         what=what, names=names)

    def fit_days(self, days: int, *, share: float) -> int:
        """Shrink a window of ``days`` to at most ``share`` of the log's span.

        Parameters
        ----------
        days : int
            The window asked for.
        share : float
            Largest share of the span the window may take (e.g. 1/2 for a holdout
            that needs a calibration period at least as long before it).

        Returns
        -------
        int
            ``days``, or the largest whole number of days that fits; 0 when fewer than
            :data:`MIN_WINDOW_DAYS` fit (the section should be skipped).
        """
        fitted = min(int(days), int(self.span_days * share))
        return fitted if fitted >= MIN_WINDOW_DAYS else 0

    def describe(self, *, lang: str = "en") -> pd.DataFrame:
        """Tabulate what the log holds, for the report.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language of the rows' labels (column names stay).
        """
        missing = [c for c in OPTIONAL_COLUMNS if c not in self.columns]
        return pd.DataFrame({"what": [
            i18n.text("days of history", lang), i18n.text("customers", lang),
            i18n.text("customers who bought on two or more days", lang),
            i18n.text("lines", lang), i18n.text("orders", lang),
            i18n.text("lines per order", lang), i18n.text("optional columns present", lang),
            i18n.text("optional columns absent", lang), i18n.text("derived by seglab", lang),
            i18n.text("customer attribute file", lang),
        ], "value": [
            f"{self.span_days:,}", f"{self.customers:,}", f"{self.repeat_customers:,}",
            f"{self.lines:,}", f"{self.orders:,}", f"{self.lines_per_order:.2f}",
            ", ".join(self.columns) or i18n.text("none", lang),
            ", ".join(missing) or i18n.text("none", lang),
            ", ".join(self.derived) or i18n.text("nothing", lang),
            i18n.text("yes", lang) if self.customer_file else i18n.text("no", lang),
        ]})


def derive_order_ids(transactions: pd.DataFrame) -> pd.Series:
    """One order per customer per day, as lifetimes counts purchases.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions without ``order_id``.

    Returns
    -------
    pandas.Series
        String order ids ``day:<YYYY-MM-DD>:<customer_id>`` (missing where the
        customer id is); the prefix keeps them clear of the cleaning rules' order-id
        prefixes (``C`` cancellations, ``A`` adjustments).
    """
    day = transactions["order_date"].dt.strftime("%Y-%m-%d").astype("string")
    ids = DERIVED_ORDER_PREFIX + day + ":" + transactions["customer_id"].astype("string")
    return ids.rename("order_id")


def section_notes(notes: dict[str, str]) -> dict[str, dict[str, str]]:
    """Metrics entries of report sections: ``ran``, or ``adapted``/``skipped`` and why.

    Parameters
    ----------
    notes : dict
        Section name → the one-line note the report showed; a note starting with
        ``"Skipped"`` (:func:`is_skipped`, in any report language) marks a skipped
        section, any other non-empty note an adapted one, an empty note a section that
        ran as designed.
    """
    return {
        name: {"status": "ran"} if not note else
        {"status": "skipped" if is_skipped(note) else "adapted", "note": note}
        for name, note in notes.items()
    }


#: How a skipped section's note starts, per report language (the zh catalog's
#: translations of "Skipped: ..." notes start with it).
SKIPPED_PREFIXES: dict[str, str] = {"en": "Skipped", "zh": "已跳过"}


def is_skipped(note: str) -> bool:
    """Whether a section note (in any report language) says the section was skipped."""
    return note.startswith(tuple(SKIPPED_PREFIXES.values()))
