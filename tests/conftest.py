"""Shared fixtures: small seeded transaction logs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seglab.study import SCRATCH_VARIABLE

# Notebooks run on their own (nbval) study in a scratch folder: a fresh one per test
# process, so no run depends on what an earlier one left, and two pytest-xdist workers
# never share one. Kernels started later inherit the variable.
os.environ[SCRATCH_VARIABLE] = tempfile.mkdtemp(prefix="seglab-scratch-")

#: Test files whose tests pytest-xdist may spread over workers one by one; every other
#: file runs whole on one worker (its module fixtures are built once; a notebook's
#: cells run in order in one kernel).
SPREAD_FILES = ("test_data_shapes.py",)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests by file for ``pytest -n 2 --dist loadgroup`` (see :data:`SPREAD_FILES`)."""
    for item in items:
        if item.path.name not in SPREAD_FILES:
            item.add_marker(pytest.mark.xdist_group(item.path.name))

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


def dirty_log(transactions: pd.DataFrame, as_of: pd.Timestamp, *, extreme_amount: float,
              seed: int = 0) -> pd.DataFrame:
    """``transactions`` plus lines only the row-filter cleaning rules remove.

    Exact copies of lines (some with padded text, copies once stripped), lines without
    customer id (missing or blank), non-product codes (listed, padded lower-case, a gift
    voucher), prices of zero and below, adjustments, no date, no amount, lines after
    ``as_of``, padded text on kept lines, and a line of amount ``extreme_amount`` with
    the line cancelling it (same customer and product, opposite quantity, small amount).
    """
    rng = np.random.default_rng(seed)
    tx = transactions.reset_index(drop=True).copy()

    def pick(n: int) -> pd.DataFrame:
        return tx.iloc[rng.choice(len(tx), n, replace=False)].copy()

    kept_padding = rng.choice(len(tx), 20, replace=False)
    tx.loc[kept_padding, "channel"] = " " + tx.loc[kept_padding, "channel"] + "  "
    padded = pick(20)
    padded["category"] = "  " + padded["category"] + " "
    parts = [tx, pick(40), padded, pick(10).assign(customer_id=pd.NA),
             pick(5).assign(customer_id="  "), pick(5).assign(unit_price=0.0),
             pick(4).assign(unit_price=-1.0, amount=-3.0), pick(3).assign(order_id="A563185"),
             pick(3).assign(order_date=pd.NaT), pick(3).assign(amount=np.nan),
             pick(5).assign(order_date=as_of + pd.Timedelta(days=3))]
    parts += [pick(3).assign(product_id=code)
              for code in ("POST", " post ", "gift_0001_20", "BANK CHARGES")]
    whale = tx.iloc[[0]].assign(quantity=400.0, unit_price=extreme_amount / 400,
                                amount=extreme_amount)
    cancel = whale.assign(quantity=-400.0, unit_price=0.5, amount=-200.0,
                          order_date=whale["order_date"] + pd.Timedelta(hours=2))
    parts += [whale, cancel, cancel.assign(product_id="P-OTHER")]  # the last one is kept
    out = pd.concat(parts, ignore_index=True)
    for column in transactions.columns:
        if pd.api.types.is_string_dtype(transactions[column].dtype):
            out[column] = out[column].astype("string")
    return out


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run: every stage's files, and a manifest saying it finished.

    Built with the stage functions (a few cheap methods) rather than ``seglab run``;
    the manifest is what ``seglab run`` writes last. Its costs differ from the
    defaults (``return_cost`` 20), so tests can see which costs a stage charged.
    """
    from seglab import study
    from seglab.runfolder import RunFolder, write_json

    folder = tmp_path_factory.mktemp("reports") / "finished"
    study.stage_inputs(folder, n_customers=300, seed=1, campaigns="synthetic",
                       costs={"return_cost": 20.0})
    study.clean_stage(folder)
    study.feature_stage(folder)
    study.cluster_stage(folder, methods="kmeans,gmm", k_max=4, n_resamples=1)
    study.profit_stage(folder)
    study.dynamics_stage(folder, steps=2)
    study.products_stage(folder)
    study.campaigns_stage(folder)
    write_json(RunFolder(folder).manifest, {"run_id": "finished", "status": "succeeded",
                                            "finished_at": "2024-06-01T00:00:00+00:00"})
    return folder


def checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    import hashlib

    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}
