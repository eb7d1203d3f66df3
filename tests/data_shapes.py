"""Transaction logs of the shapes users bring, cut from the synthetic generator.

Each shape is a function of a synthetic study's transactions that returns the file a user
would hand to ``seglab run``: the table, how to write it, and the options to read it.
``tests/test_data_shapes.py`` runs the whole study on each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglab import synth


@dataclass(frozen=True)
class Shape:
    """A log shape: how to cut it from the synthetic log and how ``seglab run`` reads it."""

    name: str
    cut: Callable[[pd.DataFrame], pd.DataFrame]
    options: dict = field(default_factory=dict)
    csv: dict = field(default_factory=dict)
    #: Words the run's reports must show (the notes the shape calls for).
    notes: tuple[str, ...] = ()


def _columns(*names: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda t: t[list(names)]


def _drop(*names: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda t: t.drop(columns=list(names))


def _last_days(days: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def cut(t: pd.DataFrame) -> pd.DataFrame:
        start = t["order_date"].max().normalize() - pd.Timedelta(days=days - 1)
        return t[t["order_date"] >= start]
    return cut


def _one_channel_no_costs(t: pd.DataFrame) -> pd.DataFrame:
    return t.drop(columns=["store", "cost", "discount"]).assign(channel="online")


def _mostly_one_time(t: pd.DataFrame) -> pd.DataFrame:
    """Keep only the first order of 90% of customers."""
    ids = t["customer_id"].drop_duplicates().sort_values()
    repeaters = set(ids.iloc[::10])
    first = t.groupby("customer_id")["order_id"].transform("min")
    return t[t["customer_id"].isin(repeaters) | (t["order_id"] == first)]


def _sixty_times_three(t: pd.DataFrame) -> pd.DataFrame:
    """60 customers with exactly three orders each (their first three)."""
    orders = t[["customer_id", "order_id", "order_date"]].drop_duplicates("order_id")
    orders = orders.sort_values(["customer_id", "order_date", "order_id"])
    counts = orders.groupby("customer_id").size()
    chosen = counts[counts >= 3].index.sort_values()[:60]
    kept = orders[orders["customer_id"].isin(chosen)].groupby("customer_id").head(3)
    return t[t["order_id"].isin(kept["order_id"])]


def _leading_zeros(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(customer_id=t["customer_id"].str.slice(1).str.zfill(8))


def _dates_only_no_amount(t: pd.DataFrame) -> pd.DataFrame:
    return t.drop(columns=["amount"]).assign(order_date=t["order_date"].dt.strftime("%Y-%m-%d"))


#: Text a scraped catalogue may hold: it must show as text and run nothing.
MARKUP = ('<script>document.title="pwned"</script>'
          '<img src=x onerror="document.body.dataset.pwned=1">')


def _markup(t: pd.DataFrame) -> pd.DataFrame:
    """Every other product name is markup, and the category Home is bold."""
    return t.assign(product_name=t["product_name"].where(t.index % 2 == 1, MARKUP),
                    category=t["category"].where(t["category"] != "Home", "<b>Home</b>"))


def _european(t: pd.DataFrame) -> pd.DataFrame:
    """A European export: decimal commas, day-first dates, zero-padded numeric ids."""
    out = _leading_zeros(t)[["customer_id", "order_date", "order_id", "product_id",
                             "quantity", "unit_price", "amount"]].copy()
    out["order_date"] = out["order_date"].dt.strftime("%d/%m/%Y %H:%M")
    out["quantity"] = out["quantity"].astype(int)
    for column in ("unit_price", "amount"):
        out[column] = out[column].map(lambda v: f"{v:.2f}".replace(".", ","))
    return out


SHAPES: tuple[Shape, ...] = (
    Shape("required_only", _columns("customer_id", "order_date", "amount"),
          notes=("order id", "what each segment buys")),
    Shape("no_order_id_last_year", lambda t: _last_days(365)(t).drop(columns="order_id"),
          notes=("order id",)),
    Shape("no_products", _drop("product_id", "product_name", "category"),
          notes=("what each segment buys", "which categories each segment buys")),
    Shape("one_channel_no_store_cost_discount", _one_channel_no_costs),
    Shape("last_90_days", _last_days(90), notes=("days",)),
    Shape("mostly_one_time", _mostly_one_time),
    Shape("sixty_customers_three_orders", _sixty_times_three),
    Shape("dates_without_times_no_amount", _dates_only_no_amount),
    Shape("european_csv_zero_padded_ids", _european, options={"decimal": ",", "dayfirst": True},
          csv={"sep": ";"}),
    Shape("markup_in_text_masked", _markup, options={"mask_pii": True}),
)


def base_log(n_customers: int = 300, seed: int = 3) -> pd.DataFrame:
    """The synthetic log the shapes are cut from."""
    return synth.make_study(n_customers, seed=seed).transactions


def write_shape(shape: Shape, folder: Path, base: pd.DataFrame | None = None) -> Path:
    """Write ``shape`` cut from ``base`` as a CSV file in ``folder`` and return its path."""
    table = shape.cut(base_log() if base is None else base)
    path = folder / f"{shape.name}.csv"
    table.to_csv(path, index=False, **shape.csv)
    return path


