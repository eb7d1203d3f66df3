"""Shared fixtures: small seeded transaction logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_RETAIL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
    / "online_retail_2010_2011.csv.gz"
)


def random_transactions(n_customers: int = 60, seed: int = 0) -> pd.DataFrame:
    """A small canonical log: several lines per order, some returns, three channels."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        n_orders = int(rng.integers(1, 8))
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        for o in range(n_orders):
            when = start + pd.Timedelta(days=int(rng.integers(0, 400)),
                                        hours=int(rng.integers(8, 20)))
            channel = ["store", "online", "app"][int(rng.integers(0, 3))]
            for line in range(int(rng.integers(1, 4))):
                quantity = float(rng.integers(1, 4))
                price = float(np.round(rng.lognormal(3, 0.6), 2))
                returned = rng.random() < 0.05
                rows.append({
                    "customer_id": f"{c:05d}",
                    "order_id": f"{'R' if returned else 'O'}{c:05d}-{o}",
                    "order_date": when,
                    "product_id": f"P{int(rng.integers(0, 30))}",
                    "category": ["Home", "Beauty", "Books"][line % 3],
                    "channel": channel,
                    "store": "Mall" if channel == "store" else pd.NA,
                    "quantity": -quantity if returned else quantity,
                    "unit_price": price,
                    "amount": (-quantity if returned else quantity) * price,
                    "discount": 0.0 if rng.random() < 0.7 else round(price * 0.1, 2),
                })
    tx = pd.DataFrame(rows).sort_values(["order_date", "order_id"], ignore_index=True)
    for column in ("customer_id", "order_id", "product_id", "category", "channel", "store"):
        tx[column] = tx[column].astype("string")
    return tx


@pytest.fixture
def transactions() -> pd.DataFrame:
    return random_transactions()
