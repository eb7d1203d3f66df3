"""The stages of a study and the files they leave in the run folder.

Each notebook calls one stage; the stage reads what the stage before it wrote into the
run folder, writes its own results there and returns them for display. A stage whose
input is missing runs the stages before it with default parameters, so any notebook
also runs on its own (in JupyterLab or under nbval) on the embedded synthetic data.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from seglab import cluster, features, persona, profit, segments, synth
from seglab import io as seglab_io
from seglab.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

INPUT_DIR = "inputs"

#: Fewest customers a study segments; fewer cannot fill the clustering's k range.
MIN_CUSTOMERS = 30


def run_folder(run_dir: str | Path | None) -> Path:
    """Return the run folder, creating it; empty means a scratch folder for trying out.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder given by ``seglab run``, or empty for a notebook opened on its own.

    Returns
    -------
    pathlib.Path
        An existing folder.
    """
    path = Path(run_dir) if run_dir else Path(tempfile.gettempdir()) / "seglab-scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def read_json(path: Path) -> dict:
    """Read a JSON file, or return an empty dict when it does not exist."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, replacing the file atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_json_ready(data), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def record_metrics(run_dir: Path, section: str, values: dict) -> dict:
    """Add or replace one section of the run's ``metrics.json`` and return the whole file.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder.
    section : str
        Top-level key, e.g. ``"cleaning"``.
    values : dict
        JSON-ready figures (numpy numbers and timestamps are converted).

    Returns
    -------
    dict
        All metrics recorded so far.
    """
    path = run_dir / "metrics.json"
    metrics = read_json(path)
    metrics[section] = _json_ready(values)
    write_json(path, metrics)
    return metrics


# --- Stage 0: inputs --------------------------------------------------------------------


@dataclass(frozen=True)
class StudyInputs:
    """Canonical inputs of a study, as staged in the run folder."""

    transactions: pd.DataFrame
    customers: pd.DataFrame | None
    truth: pd.DataFrame | None
    as_of: pd.Timestamp
    source: str


def stage_inputs(
    run_dir: str | Path | None,
    *,
    data: str | Path | None = None,
    customers: str | Path | None = None,
    columns: str | None = None,
    customer_columns: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    as_of: str | None = None,
    seed: int = 0,
    n_customers: int = 2000,
    bad_dates: str = "fail",
) -> StudyInputs:
    """Read and validate the inputs (or make the synthetic data) into the run folder.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    data : str or Path, optional
        Transaction file; none means the embedded synthetic data.
    customers : str or Path, optional
        Customer attribute file.
    columns, customer_columns : str, optional
        Column mappings (see :func:`seglab.schema.parse_column_mapping`).
    encoding : str, optional
        Text encoding of CSV inputs.
    sheet : str or int, optional
        Excel sheet.
    as_of : str, optional
        Analysis date; default the day after the last transaction.
    seed : int
        Seed of the synthetic data.
    n_customers : int
        Size of the synthetic data.
    bad_dates : {"fail", "drop"}
        Whether a few unparseable dates fail the run or are dropped with a warning.

    Returns
    -------
    StudyInputs
        The staged tables.

    Raises
    ------
    InputError
        If a file cannot be read or does not fit the schema.
    """
    folder = run_folder(run_dir) / INPUT_DIR
    folder.mkdir(exist_ok=True)
    truth = None
    if data is None:
        study = synth.make_study(n_customers, seed=seed)
        transactions, attributes, truth = study.transactions, study.customers, study.truth
        source = f"synthetic (n_customers={n_customers}, seed={seed})"
    else:
        transactions = seglab_io.load_transactions(
            data, columns=columns, encoding=encoding, sheet=sheet, bad_dates=bad_dates
        )
        attributes = (
            seglab_io.load_customers(customers, columns=customer_columns, encoding=encoding)
            if customers else None
        )
        source = str(data)
        customers_found = transactions["customer_id"].nunique()
        if customers_found < MIN_CUSTOMERS:
            raise InputError(
                f"{Path(data).name}: column customer_id has {customers_found} distinct "
                f"customers; a segmentation needs at least {MIN_CUSTOMERS} (more data, or "
                "check which column is mapped to customer_id)."
            )
    as_of_ts = pd.Timestamp(as_of) if as_of else features.default_as_of(transactions)
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    if attributes is not None:
        attributes.to_parquet(folder / "customers.parquet", index=False)
    if truth is not None:
        truth.to_csv(folder / "truth.csv", index=False)
    write_json(folder.parent / "study.json",
               {"as_of": as_of_ts, "source": source, "synthetic": data is None, "seed": seed})
    return StudyInputs(transactions, attributes, truth, as_of_ts, source)


def load_inputs(run_dir: str | Path | None) -> StudyInputs:
    """Read the staged inputs; stage the synthetic default first if there are none.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.

    Returns
    -------
    StudyInputs
        The staged tables.
    """
    folder = run_folder(run_dir)
    meta = read_json(folder / "study.json")
    if not meta:
        logger.info("no inputs in %s: using the embedded synthetic data", folder)
        return stage_inputs(folder)
    inputs = folder / INPUT_DIR
    optional = {
        name: inputs / file for name, file in
        (("customers", "customers.parquet"), ("truth", "truth.csv"))
    }
    return StudyInputs(
        transactions=pd.read_parquet(inputs / "transactions.parquet"),
        customers=pd.read_parquet(optional["customers"]) if optional["customers"].exists()
        else None,
        truth=pd.read_csv(optional["truth"], dtype={"customer_id": "string"})
        if optional["truth"].exists() else None,
        as_of=pd.Timestamp(meta["as_of"]),
        source=meta["source"],
    )


# --- Stage 1: cleaning -------------------------------------------------------------------


def clean_stage(run_dir: str | Path | None, **rules: Any) -> Any:
    """Clean the staged transactions, write them and the cleaning log.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    **rules
        Overrides of :class:`seglab.clean.CleaningRules` fields.

    Returns
    -------
    seglab.clean.CleaningResult
        Kept transactions and the log.
    """
    from seglab import clean

    folder = run_folder(run_dir)
    inputs = load_inputs(folder)
    known = {f.name for f in fields(clean.CleaningRules)}
    unknown = sorted(set(rules) - known)
    if unknown:
        raise ConfigError(f"unknown cleaning rule(s) {unknown}; known: {sorted(known)}.")
    result = clean.clean_transactions(
        inputs.transactions, as_of=inputs.as_of, rules=clean.CleaningRules(**rules)
    )
    result.transactions.to_parquet(folder / "transactions.parquet", index=False)
    result.log.to_csv(folder / "cleaning_log.csv", index=False)
    record_metrics(folder, "cleaning", clean.cleaning_metrics(result))
    return result


def clean_transactions(run_dir: str | Path | None) -> pd.DataFrame:
    """Return the run's clean transactions, cleaning with default rules if needed."""
    folder = run_folder(run_dir)
    path = folder / "transactions.parquet"
    if not path.exists():
        clean_stage(folder)
    return pd.read_parquet(path)


# --- Stage 2: features and rule segments -------------------------------------------------


def write_customers(run_dir: Path, table: pd.DataFrame) -> None:
    """Write the customer table: Parquet for the next stage, CSV as the CRM export."""
    table.to_parquet(run_dir / "customers.parquet", index=False)
    table.to_csv(run_dir / "customers.csv", index=False, date_format="%Y-%m-%d")


def feature_stage(
    run_dir: str | Path | None, *, time_unit: str = "D", **rules: Any
) -> pd.DataFrame:
    """Build customer features and rule segments; write ``customers.csv``.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    time_unit : {"D", "W", "M"}
        Period of the lifetimes RFM columns.
    **rules
        Overrides of :class:`seglab.segments.SegmentRules` fields.

    Returns
    -------
    pandas.DataFrame
        One row per customer.
    """
    folder = run_folder(run_dir)
    inputs = load_inputs(folder)
    transactions = clean_transactions(folder)
    table = features.customer_features(
        transactions, as_of=inputs.as_of, time_unit=time_unit, customers=inputs.customers
    )
    table = segments.rule_segments(
        table, transactions, as_of=inputs.as_of, rules=segments.SegmentRules(**rules)
    )
    write_customers(folder, table)
    record_metrics(folder, "features", {
        "customers": len(table),
        "time_unit": time_unit,
        "revenue": float(table["revenue"].sum()),
        "repeat_customer_share": float((table["frequency"] > 0).mean()),
        "rfm_segments": table["rfm_segment"].value_counts().to_dict(),
    })
    return table


def customer_table(run_dir: str | Path | None, *, needs: str = "rfm_segment") -> pd.DataFrame:
    """Return the customer table, running the missing stages first.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    needs : str
        A column the caller needs: ``"rfm_segment"`` (features), ``"cluster"``.

    Returns
    -------
    pandas.DataFrame
        One row per customer.
    """
    folder = run_folder(run_dir)
    path = folder / "customers.parquet"
    if not path.exists():
        feature_stage(folder)
    table = pd.read_parquet(path)
    if needs == "cluster" and "cluster" not in table:
        cluster_stage(folder)
        table = pd.read_parquet(path)
    return table


# --- Stage 3: clustering ------------------------------------------------------------------


@dataclass
class ClusterStage:
    """What the clustering stage produced, for display."""

    comparison: pd.DataFrame
    k_scores: dict[str, pd.DataFrame]
    chosen: str
    labels: dict[str, np.ndarray]
    matrix: np.ndarray
    customers: pd.DataFrame
    profile: pd.DataFrame
    truth: pd.Series | None = field(default=None)


def cluster_stage(
    run_dir: str | Path | None,
    *,
    feature_set: str = "behaviour",
    methods: str = "kmeans,gmm,hdbscan",
    k_min: int = 2,
    k_max: int = 10,
    method: str = "auto",
    seed: int = 0,
    silhouette_sample: int = 5000,
) -> ClusterStage:
    """Compare clustering methods on the customer table and keep the chosen labels.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    feature_set : str
        A key of :data:`seglab.cluster.FEATURE_SETS`.
    methods : str
        Comma-separated methods to compare.
    k_min, k_max : int
        Range of k for methods that need one.
    method : str
        Method whose labels become the ``cluster`` column, or ``"auto"``.
    seed : int
        Seed for every random step.
    silhouette_sample : int
        Customers the silhouette is computed on.

    Returns
    -------
    ClusterStage
        Comparison table, k scores and labels per method.
    """
    folder = run_folder(run_dir)
    table = customer_table(folder)
    inputs = load_inputs(folder)
    if len(table) < 3 * k_max:
        raise ConfigError(
            f"{len(table)} customers are too few to segment with k_max={k_max}; "
            f"need at least {3 * k_max}."
        )
    transform = cluster.make_transform(table, feature_set).fit(table)
    X = transform.transform(table)
    truth = None
    if inputs.truth is not None:
        truth = table[["customer_id"]].merge(inputs.truth, on="customer_id", how="left")[
            "segment"
        ]
    comparison, results, k_scores = cluster.compare_methods(
        X,
        table["revenue"].to_numpy(),
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        k_range=range(k_min, k_max + 1),
        random_state=seed,
        sample_size=silhouette_sample,
        truth=None if truth is None else truth.to_numpy(),
    )
    chosen = cluster.pick_method(comparison, method)
    comparison.insert(1, "chosen", comparison["method"] == chosen)
    labels = {name: result.labels for name, result in results.items()}
    table = table.drop(columns=["cluster", "cluster_method"], errors="ignore")
    table["cluster"] = labels[chosen]
    table["cluster_method"] = chosen
    write_customers(folder, table)
    comparison.to_csv(folder / "clustering_comparison.csv", index=False)
    joblib.dump({"transform": transform, "model": results[chosen].model},
                folder / "cluster_model.joblib")
    row = comparison.set_index("method").loc[chosen]
    record_metrics(folder, "clustering", {
        "chosen_method": chosen,
        "k": int(row["k"]),
        "silhouette": row["silhouette"],
        "ari_truth": row.get("ari_truth"),
        "methods": comparison.drop(columns="chosen").to_dict("records"),
    })
    used = cluster.feature_columns(table, feature_set)
    profile = cluster.cluster_profile(table, table["cluster"].to_numpy(),
                                      used["log"] + used["plain"])
    return ClusterStage(comparison, k_scores, chosen, labels, X, table, profile, truth)


# --- Stage 4: profit and personas ---------------------------------------------------------


@dataclass
class ProfitStage:
    """What the profit stage produced, for display."""

    customers: pd.DataFrame
    segment_pnl: pd.DataFrame
    cards: pd.DataFrame
    whale: pd.DataFrame
    ledger: dict[str, float]


def profit_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    costs: profit.CostTable | None = None,
) -> ProfitStage:
    """Compute customer P&L, segment P&L, persona cards; write ``segments.csv``.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to report on (``cluster`` or a rule segment column).
    costs : seglab.profit.CostTable, optional
        Cost assumptions; the synthetic data brings its own store rents.

    Returns
    -------
    ProfitStage
        Tables for the report.
    """
    folder = run_folder(run_dir)
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    transactions = clean_transactions(folder)
    if costs is None:
        synthetic = read_json(folder / "study.json").get("synthetic", False)
        costs = synth.COST_TABLE if synthetic else profit.CostTable()
    pnl = profit.customer_pnl(transactions, costs)
    money = pnl.drop(columns="revenue")
    table = table.drop(columns=[c for c in money if c in table]).join(
        money, on="customer_id"
    )
    table["segment"] = table[segment_col].astype(str)
    cards = persona.persona_cards(table, "segment")
    table["persona"] = table["segment"].map(cards["persona"])
    write_customers(folder, table)
    seg = profit.segment_pnl(table, "segment")
    export = cards.join(seg[["gross_margin", "cost_to_serve", "unprofitable_share"]])
    export.reset_index().to_csv(folder / "segments.csv", index=False)
    ledger = {
        "revenue": float(transactions["amount"].sum()),
        "profit": float(pnl["profit"].sum()),
    }
    record_metrics(folder, "profit", {
        "segment_col": segment_col,
        "revenue": ledger["revenue"],
        "profit": ledger["profit"],
        "unprofitable_customer_share": float((table["profit"] < 0).mean()),
        "segments": cards[["persona", "customers", "revenue", "profit"]]
        .reset_index().to_dict("records"),
    })
    return ProfitStage(table, seg, cards, profit.whale_curve(table["profit"]), ledger)
