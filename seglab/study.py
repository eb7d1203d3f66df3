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

from seglab import cluster, clv, features, persona, profit, segments, synth
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
    mask_pii: bool = False,
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
    mask_pii : bool
        Whether reports must show customer ids as pseudonyms (recorded in study.json).

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
               {"as_of": as_of_ts, "source": source, "synthetic": data is None, "seed": seed,
                "mask_pii": mask_pii})
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


@dataclass
class FeatureStage:
    """What the feature stage produced, for display."""

    customers: pd.DataFrame
    transform: features.CustomerTransform
    rules: segments.SegmentRules
    options: features.FeatureOptions


def feature_stage(
    run_dir: str | Path | None,
    *,
    time_unit: str = features.FeatureOptions.time_unit,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
    transform_set: str = "behaviour",
    transform_scaling: str = "standard",
    transform_winsorize: float = 0.0,
    segment_rules: dict[str, Any] | None = None,
    **rules: Any,
) -> FeatureStage:
    """Build customer features and rule segments; write ``customers.csv`` and the transform.

    The customer table is aggregated in DuckDB straight from the run's clean
    ``transactions.parquet`` (:func:`seglab.engine.customer_aggregates`): the same
    code path as ``seglab features`` for nightly scoring, so both give the same table;
    memory stays flat however long the log; and the tests hold it equal to the pandas
    reference (:func:`seglab.features.customer_features`) to 1e-9. On small data both
    take well under a second.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    time_unit, window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    transform_set, transform_scaling, transform_winsorize
        Feature set, scaling and winsorising of the transform for clustering
        (:class:`seglab.features.CustomerTransform`), fitted here and saved as
        ``feature_transform.joblib`` for later notebooks and new data.
    segment_rules : dict, optional
        Overrides of :class:`seglab.segments.SegmentRules` fields.
    **rules
        More overrides, by keyword.

    Returns
    -------
    FeatureStage
        The customer table, the fitted transform, the rules and options used.
    """
    from seglab import engine

    folder = run_folder(run_dir)
    inputs = load_inputs(folder)
    rule_set = segments.segment_rules(**{**(segment_rules or {}), **rules})
    options = features.FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)
    if not (folder / "transactions.parquet").exists():
        clean_stage(folder)
    # One DuckDB thread: parallel float sums add in varying order, and a study must give
    # byte-identical numbers on every run (nightly `seglab features` uses all cores).
    table = engine.customer_aggregates(
        folder / "transactions.parquet", as_of=inputs.as_of, customers=inputs.customers,
        time_unit=options.time_unit, window_days=options.window_days,
        category_top_n=options.category_top_n, channel_top_n=options.channel_top_n,
        threads=1,
    )
    table = segments.rule_segments(table, rules=rule_set)
    transform = features.fit_transform_for(
        table, feature_set=transform_set, scaling=transform_scaling,
        winsorize=transform_winsorize,
    )
    write_customers(folder, table)
    features.save_transform(transform, folder / "feature_transform.joblib")
    record_metrics(folder, "features", {
        "customers": len(table),
        "time_unit": time_unit,
        "engine": "duckdb",
        "revenue": float(table["revenue"].sum()),
        "repeat_customer_share": float((table["frequency"] > 0).mean()),
        "transform_set": transform_set,
        "transform_columns": len(transform.get_feature_names_out()),
        "rfm_segments": table["rfm_segment"].value_counts().to_dict(),
        "segments": {
            column: table[column].value_counts().to_dict()
            for column in segments.SEGMENT_COLUMNS if column != "rfm_segment"
        },
    })
    return FeatureStage(table, transform, rule_set, options)


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
    """What the clustering stage produced, for display.

    ``labels`` maps every compared method (and rule baseline, as ``"rule: <column>"``)
    to its value-ordered labels; ``map_xy`` are 2-D coordinates of the customers in
    ``map_rows`` for the cluster maps.
    """

    comparison: pd.DataFrame
    k_scores: dict[str, pd.DataFrame]
    chosen: str
    labels: dict[str, np.ndarray]
    matrix: np.ndarray
    customers: pd.DataFrame
    profile: pd.DataFrame
    truth: pd.Series | None = field(default=None)
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    map_xy: np.ndarray | None = field(default=None)
    map_rows: np.ndarray | None = field(default=None)
    rules: cluster.SelectionRules = field(default_factory=cluster.SelectionRules)
    feature_names: list[str] = field(default_factory=list)

    @property
    def method_labels(self) -> dict[str, np.ndarray]:
        """Labels of the clustering methods only (no rule baselines)."""
        methods = self.comparison.loc[self.comparison["kind"] == "clustering", "method"]
        return {name: self.labels[name] for name in methods}


def cluster_stage(
    run_dir: str | Path | None,
    *,
    feature_set: str = cluster.DEFAULT_FEATURE_SET,
    methods: str = ",".join(cluster.METHODS),
    k_min: int = 2,
    k_max: int = 8,
    method: str = "auto",
    seed: int = 0,
    silhouette_sample: int = 5000,
    n_resamples: int = 3,
    fit_sample: int = 20_000,
    min_stability: float = cluster.SelectionRules.min_stability,
    baselines: str = ",".join(cluster.RULE_BASELINES),
    map_sample: int = 3000,
) -> ClusterStage:
    """Compare clustering methods and the rule segments; keep the chosen labels.

    Writes to the run folder: the ``cluster`` and ``cluster_method`` columns of
    ``customers.csv`` (cluster 0 = highest mean revenue, -1 = noise),
    ``clustering_comparison.csv`` (one row per method, then per rule baseline, with
    ``chosen``), ``k_selection.csv`` (every k tried), ``cluster_agreement.csv``
    (pairwise ARI), ``cluster_model.joblib`` (a :class:`seglab.cluster.SegmentModel`
    that assigns any customer table) and the ``clustering`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    feature_set : str
        A key of :data:`seglab.cluster.FEATURE_SETS`.
    methods : str
        Comma-separated methods to compare (:data:`seglab.cluster.METHODS`).
    k_min, k_max : int
        Range of k for the methods that need one.
    method : str
        Method whose labels become the ``cluster`` column, or ``"auto"``
        (:func:`seglab.cluster.pick_method`).
    seed : int
        Seed for every random step.
    silhouette_sample : int
        Customers the silhouette is computed on.
    n_resamples : int
        Refits on 80% subsamples behind each stability figure.
    fit_sample : int
        Most customers a method is fitted on; above it, the rest are assigned with
        ``predict``.
    min_stability : float
        Stability a k or a method needs (:class:`seglab.cluster.SelectionRules`).
    baselines : str
        Comma-separated rule segment columns compared alongside (absent ones skipped).
    map_sample : int
        Customers drawn on the cluster maps.

    Returns
    -------
    ClusterStage
        Comparison table, k scores, labels per method, profiles and map coordinates.

    Raises
    ------
    ConfigError
        For an unknown feature set or method, or a bad k range.
    """
    import time

    started = time.perf_counter()
    folder = run_folder(run_dir)
    table = customer_table(folder)
    inputs = load_inputs(folder)
    if not 2 <= k_min <= k_max:
        raise ConfigError(f"k_min={k_min}, k_max={k_max}: need 2 <= k_min <= k_max.")
    if len(table) < 3 * k_max:
        raise ConfigError(
            f"{len(table)} customers are too few to segment with k_max={k_max}; "
            f"need at least {3 * k_max}."
        )
    if n_resamples < 1:
        raise ConfigError(f"n_resamples={n_resamples} should be >= 1 (stability needs refits).")
    transform = cluster.FeatureTransform(feature_set).fit(table)
    X = transform.transform(table)
    truth = None
    if inputs.truth is not None:
        truth = table[["customer_id"]].merge(inputs.truth, on="customer_id", how="left")[
            "segment"
        ]
    rules = cluster.SelectionRules(min_stability=min_stability)
    value = table["revenue"].to_numpy(dtype=float)
    result = cluster.compare_methods(
        X,
        value,
        methods=cluster.parse_names(methods, what="methods"),
        k_range=range(k_min, k_max + 1),
        random_state=seed,
        sample_size=silhouette_sample,
        n_resamples=n_resamples,
        fit_sample=fit_sample,
        truth=None if truth is None else truth.to_numpy(),
        baselines={c: table[c].to_numpy() for c in cluster.parse_names(baselines)
                   if c in table},
        rules=rules,
    )
    comparison = result.table
    chosen = cluster.pick_method(comparison, method, rules)
    comparison.insert(1, "chosen", comparison["method"] == chosen)
    labels = {name: r.labels for name, r in result.results.items()}
    table = table.drop(columns=["cluster", "cluster_method"], errors="ignore")
    table["cluster"] = labels[chosen]
    table["cluster_method"] = chosen
    write_customers(folder, table)
    comparison.to_csv(folder / "clustering_comparison.csv", index=False)
    if result.k_scores:
        k_table = pd.concat([s.assign(method=m) for m, s in result.k_scores.items()])
        k_table.insert(0, "method", k_table.pop("method"))
        k_table.to_csv(folder / "k_selection.csv", index=False)
    result.agreement.rename_axis("method").to_csv(folder / "cluster_agreement.csv")
    best = result.results[chosen]
    joblib.dump(cluster.SegmentModel(chosen, transform, best.model, best.order),
                folder / "cluster_model.joblib")
    row = comparison.set_index("method").loc[chosen]
    record_metrics(folder, "clustering", {
        "chosen_method": chosen,
        "feature_set": feature_set,
        "k": int(row["k"]),
        "silhouette": row["silhouette"],
        "stability": row["stability"],
        "noise_share": row["noise_share"],
        "ari_truth": row.get("ari_truth"),
        "fit_customers": int(row["fit_customers"]),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_memory_mb": cluster.peak_memory_mb(),
        "methods": comparison.drop(columns="chosen").to_dict("records"),
    })
    standardised = transform.standardised(table)
    profile = cluster.cluster_profile(standardised, table["cluster"].to_numpy(),
                                      list(standardised.columns))
    summary = cluster.cluster_summary(table, table["cluster"].to_numpy())
    map_rows, map_xy = cluster.map_coordinates(X, sample_size=map_sample, random_state=seed)
    return ClusterStage(
        comparison, result.k_scores, chosen, labels, X, table, profile, truth,
        agreement=result.agreement, summary=summary, map_xy=map_xy, map_rows=map_rows,
        rules=rules, feature_names=[cluster.feature_label(c) for c in transform.columns_],
    )


# --- Stage 4: profit and personas ---------------------------------------------------------


@dataclass
class ProfitStage:
    """What the profit stage produced, for display."""

    customers: pd.DataFrame
    segment_pnl: pd.DataFrame
    cards: pd.DataFrame
    whale: pd.DataFrame
    ledger: dict[str, float]
    sub_segment_pnl: pd.DataFrame = field(default_factory=pd.DataFrame)
    reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)
    whale_summary: dict[str, Any] = field(default_factory=dict)
    loss_makers: pd.DataFrame = field(default_factory=pd.DataFrame)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    clv_parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    rules: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: pd.Series | None = None


def profit_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    costs: profit.CostTable | dict | str | None = None,
    sub_segment_by: str = "auto",
    horizon_days: int = 365,
    discount_rate: float = 0.10,
    holdout_days: int = 180,
    strategy_rules: list | None = None,
) -> ProfitStage:
    """P&L at four levels, whale curve, CLV and persona cards; write ``segments.csv``.

    Adds ``gross_margin``, ``cost_to_serve``, ``profit`` (with the other P&L lines),
    ``p_alive``, ``expected_orders_90d``, ``clv``, ``persona`` and ``strategy`` to
    ``customers.csv``; writes one row per segment to ``segments.csv``; records the
    ``profit``, ``bgnbd`` (r, alpha, a, b in the run's time unit) and ``clv`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to report on (``cluster`` or a rule segment column).
    costs : CostTable, dict, str or None
        Cost assumptions: a table, or overrides of the default table (a dict of
        :class:`seglab.profit.CostTable` fields or a YAML file, see
        :func:`seglab.profit.cost_table`). The default table is
        :data:`seglab.synth.COST_TABLE` on the synthetic data (its store rents and
        category margins), else :class:`seglab.profit.CostTable`.
    sub_segment_by : str
        Splits segments into sub-segments by each customer's main ``channel``,
        ``region`` or ``country``; ``auto`` takes the first the data has.
    horizon_days : int
        CLV horizon in days.
    discount_rate : float
        Annual discount rate of CLV.
    holdout_days : int
        Days at the end kept out of a second BG/NBD fit to check its forecast.
    strategy_rules : list, optional
        A replacement for :data:`seglab.persona.STRATEGY_RULES` (dicts with
        ``strategy``, ``when``, ``action``, ``kpi``).

    Returns
    -------
    ProfitStage
        Tables for the report.

    Raises
    ------
    ConfigError
        For an unknown segment column, cost item, sub-segment column or a bad rule.
    """
    folder = run_folder(run_dir)
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    inputs = load_inputs(folder)
    transactions = clean_transactions(folder)
    transactions = transactions[
        transactions["order_date"] < inputs.as_of + pd.Timedelta(days=1)
    ]
    if not isinstance(costs, profit.CostTable):
        synthetic = read_json(folder / "study.json").get("synthetic", False)
        base = synth.COST_TABLE if synthetic else profit.CostTable()
        costs = profit.cost_table(costs, base=base)

    # P&L per customer: replace any P&L columns a previous run of this stage left.
    table["segment"] = table[segment_col].astype(str)
    labels = table.set_index("customer_id")["segment"]
    contacts = (table.set_index("customer_id")["service_contacts"]
                if "service_contacts" in table else None)
    options = {"segments": labels, "as_of": inputs.as_of, "service_contacts": contacts}
    pnl = profit.customer_pnl(transactions, costs, **options)
    added = ["p_alive", "expected_orders_90d", "clv", "persona", "strategy"]
    stale = [c for c in (*pnl.columns, *added) if c in table and c != "revenue"]
    table = table.drop(columns=stale).join(pnl.drop(columns="revenue"), on="customer_id")
    dimension = profit.sub_segment_column(transactions, sub_segment_by)
    sub_col = None
    if dimension is not None:
        sub_col = f"main_{dimension}"
        table = table.drop(columns=[sub_col], errors="ignore").join(
            profit.main_value(transactions, dimension).rename(sub_col), on="customer_id")

    seg = profit.segment_pnl(table, "segment")
    sub = profit.sub_segment_pnl(table, "segment", sub_col) if sub_col else None
    totals = profit.ledger(transactions, costs, **options)
    check = profit.reconciliation(table, seg, totals, sub_segments=sub)

    # CLV: BG/NBD and Gamma-Gamma on the run's RFM columns, valued at the contribution
    # margin of the customer's segment.
    time_unit = read_json(folder / "metrics.json").get("features", {}).get("time_unit", "D")
    margin = table["segment"].map(seg["profit_margin"]).fillna(0.0).to_numpy()
    predicted, bgnbd, spend = clv.customer_clv(
        table[["frequency", "recency", "T", "monetary_value"]], margin=margin,
        horizon_days=horizon_days, discount_rate=discount_rate, time_unit=time_unit,
        forecast_days=90,
    )
    table["p_alive"] = predicted["p_alive"]
    table["expected_orders_90d"] = predicted["expected_orders"]
    table["clv"] = predicted["clv"]
    split = clv.calibration_holdout(transactions, as_of=inputs.as_of,
                                    holdout_days=holdout_days, time_unit=time_unit)
    calibrated = clv.BetaGeoModel().fit(split["frequency"], split["recency"], split["T"])
    holdout = clv.holdout_check(split, calibrated)

    strategy_rules = strategy_rules or None  # an empty list means the default table
    cards = persona.persona_cards(table, "segment", rules=strategy_rules)
    table["persona"] = table["segment"].map(cards["persona"])
    table["strategy"] = table["segment"].map(cards["strategy"])
    write_customers(folder, table)
    seg.insert(0, "persona", seg.index.map(cards["persona"]).fillna(""))
    if sub is not None:
        sub = sub[["segment", sub_col, "customers", "revenue", "gross_margin", "cost_to_serve",
                   "profit", "profit_margin", "profit_per_customer", "unprofitable_share"]]

    first = ["persona", "customers", "revenue", "profit", "clv", "strategy", "action", "kpi"]
    extra = seg[[c for c in ("cost_of_goods", *profit.COST_TO_SERVE_PARTS) if c in seg]]
    export = cards[first + [c for c in cards if c not in first]].join(extra)
    export.rename_axis("segment").reset_index().to_csv(folder / "segments.csv", index=False)

    whale = profit.whale_summary(table["profit"])
    truth = None
    if inputs.truth is not None:
        truth = table[["customer_id"]].merge(inputs.truth, on="customer_id", how="left")[
            "segment"].rename("planted segment").set_axis(table.index)
    losers = profit.high_revenue_loss_makers(
        table.assign(**{"planted segment": truth}) if truth is not None else table, "segment",
        describe="planted segment" if truth is not None else None)
    shown = ["high_revenue", "losing", "losing_share", "losing_by_cost_to_serve",
             "largest_cost", "planted segment of losers", "revenue", "gross_margin",
             "cost_to_serve", "profit"]
    record_metrics(folder, "profit", {
        "segment_col": segment_col,
        **{name: totals[name] for name in ("revenue", "gross_margin", "cost_to_serve",
                                           "profit")},
        "unprofitable_customer_share": float((table["profit"] < 0).mean()),
        "reconciles": bool(check["agrees"].all()),
        "whale_peak_customer_share": whale["peak_customer_share"],
        "whale_peak_profit_share": whale["peak_profit_share"],
        "high_revenue_losing": int(losers.loc["All", "losing"]),
        "sub_segment_by": dimension,
        "costs": {item.name: getattr(costs, item.name) for item in fields(costs)},
        "segments": export[["persona", "customers", "revenue", "profit", "clv", "strategy"]]
        .rename_axis("segment").reset_index().to_dict("records"),
    })
    record_metrics(folder, "bgnbd", bgnbd.params_)
    predicted_total = float((holdout["predicted"] * holdout["customers"]).sum())
    actual_total = float((holdout["actual"] * holdout["customers"]).sum())
    repeat = table["frequency"] > 0
    record_metrics(folder, "clv", {
        "time_unit": time_unit,
        "horizon_days": horizon_days,
        "discount_rate": discount_rate,
        "customers": bgnbd.n_customers_,
        "bgnbd_fit_seconds": bgnbd.fit_seconds_,
        "bgnbd_log_likelihood": bgnbd.log_likelihood_,
        "gamma_gamma": spend.params_,
        "gamma_gamma_customers": spend.n_customers_,
        "gamma_gamma_fit_seconds": spend.fit_seconds_,
        "frequency_spend_correlation": float(
            table.loc[repeat, ["frequency", "monetary_value"]].corr().iloc[0, 1]),
        "clv_total": float(table["clv"].sum()),
        "holdout": {"days": holdout_days, "bgnbd": calibrated.params_,
                    "predicted_purchases": predicted_total, "actual_purchases": actual_total},
    })
    return ProfitStage(
        customers=table, segment_pnl=seg, cards=cards,
        whale=profit.whale_curve(table["profit"]), ledger=totals, sub_segment_pnl=sub
        if sub is not None else pd.DataFrame(), reconciliation=check, whale_summary=whale,
        loss_makers=losers[[c for c in shown if c in losers]],
        costs=profit.cost_table_frame(costs),
        clv_parameters=clv.parameter_table(bgnbd, spend, time_unit=time_unit),
        holdout=holdout, rules=persona.rules_frame(strategy_rules), truth=truth,
    )


# --- Stage 5: segments over time ----------------------------------------------------------


@dataclass
class DynamicsStage:
    """What the segments-over-time stage produced, for display."""

    dates: pd.DataFrame
    segment_col: str
    sizes: pd.DataFrame
    migration: pd.DataFrame
    checks: pd.DataFrame
    check_summary: pd.DataFrame
    matrix: pd.DataFrame
    thresholds: pd.DataFrame
    tier_flows: pd.DataFrame
    tier_revenue: pd.DataFrame
    at_risk: pd.DataFrame
    cohorts: pd.DataFrame
    churn: Any
    churn_summary: pd.DataFrame
    monitoring: pd.DataFrame
    monitoring_order: list
    planted: pd.DataFrame
    planted_known: bool = False
    masked: bool = False
    snapshots: Any = None


def _planted_movement(folder: Path, inputs: StudyInputs) -> pd.DataFrame | None:
    """Regenerate the synthetic study's planted movement from ``study.json`` (or None)."""
    import re

    meta = read_json(folder / "study.json")
    found = re.search(r"n_customers=(\d+)", str(meta.get("source", "")))
    if not meta.get("synthetic") or inputs.truth is None or not found:
        return None
    study = synth.make_study(int(found.group(1)), seed=int(meta.get("seed", 0)))
    same = study.truth["customer_id"].astype(str).tolist() == inputs.truth[
        "customer_id"].astype(str).tolist()
    return study.movement if same else None


def _masked_ids(folder: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Pseudonymise identifiers for display when ``study.json`` asks for ``mask_pii``."""
    from seglab import privacy

    flag = read_json(folder / "study.json").get("mask_pii")
    if not flag:
        return table, False
    columns = tuple(flag) if isinstance(flag, list | tuple) else ("customer_id",)
    return privacy.mask_table(table, privacy.salt_for(folder.parent), columns), True


def dynamics_stage(
    run_dir: str | Path | None,
    *,
    cadence: str = "quarterly",
    steps: int = 4,
    segment_col: str = "rfm_segment",
    window_days: int = 365,
    horizon_days: int = 90,
    cohort_months: int = 12,
    seed: int = 0,
) -> DynamicsStage:
    """Segments over time: snapshots, migration, cohorts, churn risk and a monitor.

    Recomputes features and segments at ``steps + 1`` dates ending at the analysis
    date, each from the data up to it (see :mod:`seglab.dynamics` for how segments
    stay comparable), and writes ``segment_migration.csv`` (customers and next-period
    revenue per step, from segment and to segment) and ``segment_monitoring.csv``. A
    churn model (:func:`seglab.dynamics.fit_churn_model`) trained on dates whose
    outcomes end by a holdout ``horizon_days`` before the analysis date, and checked on
    it, adds ``churn_risk`` (and the ``newly_at_risk`` flag) to ``customers.csv``;
    records the ``churn`` and ``dynamics`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    cadence : {"monthly", "quarterly"}
        Months between snapshots.
    steps : int
        Steps between snapshots (``steps + 1`` dates).
    segment_col : str
        Segmentation followed in ``segment_migration.csv`` and the monitor: one of
        :data:`seglab.dynamics.SEGMENTATIONS`.
    window_days : int
        Trailing window of the RFM frequency and money scores and the value tiers
        (0 = all history, as notebook 02).
    horizon_days : int
        Churn means no purchase in this many days.
    cohort_months : int
        Acquisition months shown in the cohort triangle.
    seed : int
        Seed of the churn model.

    Returns
    -------
    DynamicsStage
        Tables and the churn model for the report.

    Raises
    ------
    ConfigError
        For an unknown cadence or segmentation, or data too short for the snapshots or
        two churn horizons.
    """
    from seglab import dynamics

    if segment_col not in dynamics.SEGMENTATIONS:
        raise ConfigError(f"segment_col={segment_col!r} cannot be followed over time; use one "
                          f"of {list(dynamics.SEGMENTATIONS)}.")
    folder = run_folder(run_dir)
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(folder)
    as_of = features.analysis_day(inputs.as_of)
    transactions = clean_transactions(folder)
    transactions = transactions[transactions["order_date"] < as_of + pd.Timedelta(days=1)]
    first_day = transactions["order_date"].min().normalize()
    dates = dynamics.snapshot_dates(as_of, cadence=cadence, steps=steps, first_day=first_day)
    churn_dates = dynamics.churn_dates(as_of, horizon_days=horizon_days)
    churn_dates["train"] = [d for d in churn_dates["train"] if d > first_day]
    if not churn_dates["train"]:
        raise ConfigError(
            f"horizon_days={horizon_days} needs more than {2 * horizon_days} days of history "
            f"before {as_of.date()} (train, then a later holdout); the data starts on "
            f"{first_day.date()}. Use a shorter horizon_days.")

    model_path = folder / "cluster_model.joblib"
    assign = None
    if model_path.exists() and "cluster" in table:
        try:
            assign = dynamics.cluster_assigner(joblib.load(model_path), table)
            assign(table.head(5))
        except (AttributeError, KeyError, TypeError, ValueError, InputError) as exc:
            if segment_col == "cluster":
                raise
            assign = None
            logger.warning("clusters are not followed over time: %s cannot assign the "
                           "customer table (%s); rerun the clustering notebook", model_path,
                           exc)
    if segment_col == "cluster" and assign is None:
        raise ConfigError(f"segment_col='cluster' needs {model_path.name} in the run folder; "
                          "run the clustering notebook (03) first.")
    snaps = dynamics.take_snapshots(transactions, dates, window_days=window_days,
                                    cluster_labels=assign)
    book = dynamics.ledger(transactions)
    flows = dynamics.migration(snaps, book, segment_col=segment_col)
    flows.to_csv(folder / "segment_migration.csv", index=False)
    checks = dynamics.check_migration(flows, snaps, segment_col=segment_col)

    needed = sorted({d for group in churn_dates.values() for d in group})
    tables = dynamics.features_at(transactions, needed, cache=snaps.features)
    churn = dynamics.fit_churn_model(
        book, tables, train_dates=churn_dates["train"], test_date=churn_dates["test"][0],
        horizon_days=horizon_days, as_of=as_of, random_state=seed)
    risk = churn.predict(snaps.features[as_of])
    at_risk = dynamics.newly_at_risk(snaps, risk=risk)

    table = table.drop(columns=["churn_risk", "newly_at_risk"], errors="ignore")
    table["churn_risk"] = table["customer_id"].map(risk).to_numpy()
    table["newly_at_risk"] = table["customer_id"].isin(at_risk["customer_id"]).to_numpy()
    write_customers(folder, table)

    incomplete = {d: churn.predict(snaps.features[d]) for d in dates
                  if d + pd.Timedelta(days=horizon_days) > as_of}
    synthetic = read_json(folder / "study.json").get("synthetic", False)
    costs = synth.COST_TABLE if synthetic else profit.CostTable()
    monitor = dynamics.monitoring(snaps, transactions, segment_col=segment_col, costs=costs,
                                  horizon_days=horizon_days, predicted_risk=incomplete,
                                  as_of=as_of)
    monitor.to_csv(folder / "segment_monitoring.csv", index=False, date_format="%Y-%m-%d")

    planted = None
    movement = _planted_movement(folder, inputs)
    if movement is not None:
        planted = dynamics.planted_comparison(
            snaps, {d: synth.planted_stage(movement, d) for d in dates})

    history = pd.DataFrame({
        "date": [d.date().isoformat() for d in dates],
        "days of data up to it": [(d - first_day).days + 1 for d in dates],
        "customers": [int((snaps.table["date"] == d).sum()) for d in dates],
    })
    tier_revenue = dynamics.transition_matrix(flows if segment_col == "value_tier" else
                                              dynamics.migration(snaps, book,
                                                                 segment_col="value_tier"),
                                              steps=1, value="revenue", normalize=False,
                                              segment_col="value_tier")
    shown_at_risk, masked = _masked_ids(folder, at_risk)
    s = churn.scores
    record_metrics(folder, "churn", {
        "auc": s["auc"],
        "horizon_days": horizon_days,
        "baseline_auc": s["baseline_auc"],
        "baseline": "1 - P(alive), BG/NBD fitted at the holdout date",
        "expected_purchases_auc": s["expected_auc"],
        "recency_auc": s["recency_auc"],
        "top_decile_precision": s["top_decile_precision"],
        "baseline_top_decile_precision": s["baseline_top_decile_precision"],
        "base_rate": s["base_rate"],
        "model": "logistic regression",
        "train_dates": [d.date().isoformat() for d in churn.train_dates],
        "test_date": churn.test_date.date().isoformat(),
        "holdout_customers": s["test_customers"],
        "drivers": churn.drivers["feature"].head(5).tolist(),
    })
    record_metrics(folder, "dynamics", {
        "cadence": cadence,
        "dates": [d.date().isoformat() for d in dates],
        "segment_col": segment_col,
        "window_days": window_days,
        "migration_adds_up": bool(checks["agrees"].all()),
        "clusters_followed": assign is not None,
        "cluster_agreement_latest": None if assign is None else float(
            (snaps.at(as_of)["cluster"].reindex(table["customer_id"]).to_numpy()
             == table["cluster"].to_numpy()).mean()),
        "newly_at_risk": len(at_risk),
        "planted_agreement": None if planted is None else planted["agreement"].iloc[-1],
    })
    order = dynamics.segment_order(monitor["segment"].unique(), segment_col)
    return DynamicsStage(
        dates=history, segment_col=segment_col,
        sizes=dynamics.segment_sizes(snaps, segment_col), migration=flows, checks=checks,
        check_summary=dynamics.check_summary(checks),
        matrix=dynamics.transition_matrix(flows, segment_col=segment_col),
        thresholds=snaps.thresholds.frame(), tier_flows=dynamics.tier_value_flows(snaps),
        tier_revenue=tier_revenue, at_risk=shown_at_risk,
        cohorts=dynamics.cohorts(book, as_of=as_of, months=cohort_months), churn=churn,
        churn_summary=churn.summary(), monitoring=monitor, monitoring_order=order,
        planted=planted if planted is not None else pd.DataFrame(
            {"note": ["Not available: this data has no planted movement."]}),
        planted_known=planted is not None, masked=masked, snapshots=snaps,
    )
