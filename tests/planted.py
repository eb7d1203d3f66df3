"""A small synthetic study's customer table, shared by the persona tests."""

from __future__ import annotations

import pandas as pd

from seglab import features, profit, segments, synth
from seglab.analysis_date import default_as_of


def planted_table(n_customers: int, seed: int) -> pd.DataFrame:
    """Customer table with P&L, lifecycle stage and the planted segment (``planted``)."""
    study = synth.make_study(n_customers, seed=seed)
    tx = study.transactions
    as_of = default_as_of(tx)
    table = features.customer_features(tx, as_of=as_of, customers=study.customers)
    table["lifecycle_stage"] = segments.lifecycle_stage(table)
    truth = study.truth.set_index("customer_id")["segment"]
    pnl = profit.customer_pnl(tx, synth.COST_TABLE, segments=truth, as_of=as_of)
    table = table.join(pnl.drop(columns="revenue"), on="customer_id")
    table["planted"] = table["customer_id"].map(truth)
    return table
