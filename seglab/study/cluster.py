"""Stage 3 (notebook 03): clustering methods compared with the rule segments."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seglab import (
    cluster,
    feature_transform,
    i18n,
)
from seglab.errors import ConfigError
from seglab.runfolder import (
    StudyMeta,
    open_for_writing,
    read_study,
)
from seglab.study.common import StageOutput, customer_table, write_output


@dataclass
class ClusterStage:
    """What the clustering stage produced, for display.

    Methods are compared on the customers at ``compared_rows`` of ``customers`` (every
    customer, or a random sample of a large table). ``labels`` maps every compared
    method (and rule baseline, as ``"rule: <column>"``) to its value-ordered labels of
    those customers, ``matrix`` holds their features and ``profile`` describes them;
    ``map_xy`` are 2-D coordinates of the compared customers in ``map_rows`` for the
    cluster maps. ``customers`` is every customer, with the chosen method's ``cluster``;
    ``summary`` and ``truth`` cover every customer too.
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
    compared_rows: np.ndarray | None = field(default=None)
    lang: str = "en"
    output: StageOutput = field(default_factory=StageOutput, repr=False)

    @property
    def method_labels(self) -> dict[str, np.ndarray]:
        """Labels of the clustering methods only (no rule baselines)."""
        methods = self.comparison.loc[self.comparison["kind"] == "clustering", "method"]
        return {name: self.labels[name] for name in methods}

    @property
    def sampling_note(self) -> str:
        """One sentence saying the methods were compared on a sample; empty if not."""
        if self.compared_rows is None or len(self.compared_rows) == len(self.customers):
            return ""
        return i18n.text(
            "Methods compared on a random sample of {compared:,} of {customers:,} customers; "
            "every customer was then assigned by the chosen method ({chosen}).", self.lang,
            compared=len(self.compared_rows), customers=len(self.customers),
            chosen=self.chosen)


def cluster_stage(
    run_dir: str | Path | None,
    *,
    methods: str = ",".join(cluster.METHODS),
    k_min: int = 2,
    k_max: int = 8,
    method: str = "auto",
    seed: int = 0,
    silhouette_sample: int = 5000,
    n_resamples: int = 3,
    fit_sample: int = 20_000,
    compare_sample: int = 200_000,
    min_stability: float = cluster.SelectionRules.min_stability,
    baselines: str = ",".join(cluster.RULE_BASELINES),
    map_sample: int = 3000,
) -> ClusterStage:
    """Compare clustering methods and the rule segments; keep the chosen labels.

    Every method sees the matrix of the run's one transform, fitted by
    :func:`feature_stage` (``feature_transform.joblib``). Above ``compare_sample``
    customers, everything compared (every method's fit, k scan, scores, stability, the
    rule baselines, agreement, profile and map) uses a seeded random sample of that many
    customers; then only the chosen method assigns every customer, transforming and
    predicting in chunks
    (:meth:`seglab.cluster.SegmentModel.predict`), so memory stays bounded.

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
        Most customers a method is fitted on; above it, the rest of the compared
        customers are assigned with ``predict``.
    compare_sample : int
        Most customers the methods are compared on (at least 100); above it, a random
        sample is compared and the chosen method assigns everyone.
    min_stability : float
        Stability a k or a method needs (:class:`seglab.cluster.SelectionRules`).
    baselines : str
        Comma-separated rule segment columns compared alongside (absent ones skipped).
    map_sample : int
        Customers drawn on the cluster maps.

    Returns
    -------
    ClusterStage
        Comparison table, k scores, labels per method (of the compared customers),
        profile, summary and map coordinates.

    Raises
    ------
    ConfigError
        For an unknown method, a bad k range or sample size.
    """
    started = time.perf_counter()
    if not 2 <= k_min <= k_max:
        raise ConfigError(f"k_min={k_min}, k_max={k_max}: need 2 <= k_min <= k_max.")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples={n_resamples} should be >= 1 (stability needs refits).")
    if compare_sample < 100:
        raise ConfigError(f"compare_sample={compare_sample} is too small; use at least 100.")
    run = open_for_writing(run_dir)
    table = customer_table(run.path)
    transform = feature_transform.load_transform(run.feature_transform)
    # Only the settings and the planted truth: load_inputs would also read every transaction.
    planted = (pd.read_csv(run.truth, dtype={"customer_id": "string"})
               if run.truth.exists() else None)
    result = compute_clusters(
        table, transform, planted, read_study(run), methods=methods, k_min=k_min,
        k_max=k_max, method=method, seed=seed, silhouette_sample=silhouette_sample,
        n_resamples=n_resamples, fit_sample=fit_sample, compare_sample=compare_sample,
        min_stability=min_stability, baselines=baselines, map_sample=map_sample,
        started=started)
    write_output(run, result.output)
    return result


def compute_clusters(table: pd.DataFrame, transform: feature_transform.FeatureTransform,
                     planted: pd.DataFrame | None, meta: StudyMeta, *, methods: str,
                     k_min: int, k_max: int, method: str, seed: int, silhouette_sample: int,
                     n_resamples: int, fit_sample: int, compare_sample: int,
                     min_stability: float, baselines: str, map_sample: int,
                     started: float | None = None) -> ClusterStage:
    """Compare the clustering methods on the customer table and assign every customer.

    The parameters are :func:`cluster_stage`'s (checked there); ``table`` is the customer
    table, ``transform`` the run's fitted transform, ``planted`` the planted truth
    (``customer_id``, ``segment``) or None, ``meta`` gives the language, and ``started``
    (:func:`time.perf_counter`, default now) is when the stage began, for the
    ``seconds`` metric. Nothing is written.

    Raises
    ------
    ConfigError
        If the table has too few customers for ``k_max``, or a method is unknown or
        was not compared.
    """
    started = time.perf_counter() if started is None else started
    if len(table) < 3 * k_max:
        raise ConfigError(
            f"{len(table)} customers are too few to segment with k_max={k_max}; "
            f"need at least {3 * k_max}."
        )
    compared_rows = cluster.sample_rows(len(table), compare_sample, seed)
    sampled = len(compared_rows) < len(table)
    compared = table.iloc[compared_rows] if sampled else table
    X = transform.transform(compared)
    truth = None
    if planted is not None:
        truth = table[["customer_id"]].merge(planted, on="customer_id", how="left")["segment"]
    rules = cluster.SelectionRules(min_stability=min_stability)
    compare_started = time.perf_counter()
    result = cluster.compare_methods(
        X,
        compared["revenue"].to_numpy(dtype=float),
        methods=cluster.parse_names(methods, what="methods"),
        k_range=range(k_min, k_max + 1),
        random_state=seed,
        sample_size=silhouette_sample,
        n_resamples=n_resamples,
        fit_sample=fit_sample,
        truth=None if truth is None else truth.to_numpy()[compared_rows],
        baselines={c: compared[c].to_numpy() for c in cluster.parse_names(baselines)
                   if c in table},
        rules=rules,
    )
    compare_seconds = time.perf_counter() - compare_started
    comparison = result.table
    chosen = cluster.pick_method(comparison, method, rules)
    comparison.insert(1, "chosen", comparison["method"] == chosen)
    labels = {name: r.labels for name, r in result.results.items()}
    best = result.results[chosen]
    model = cluster.SegmentModel(chosen, transform, best.model, best.order)
    assign_started = time.perf_counter()
    assigned = model.predict(table) if sampled else labels[chosen]
    assign_seconds = time.perf_counter() - assign_started
    table = table.drop(columns=["cluster", "cluster_method"], errors="ignore")
    table["cluster"] = assigned
    table["cluster_method"] = chosen
    metrics = _clustering_metrics(
        comparison, chosen, transform.feature_set, truth, assigned,
        compared_customers=len(compared_rows), compare_seconds=compare_seconds,
        assign_seconds=assign_seconds, started=started)
    standardised = transform.standardised(compared)
    profile = cluster.cluster_profile(standardised, assigned[compared_rows],
                                      list(standardised.columns))
    map_rows, map_xy = cluster.map_coordinates(X, sample_size=map_sample, random_state=seed)
    output = StageOutput(
        customers=table, files=_files(comparison, result.k_scores, result.agreement, model),
        metrics={"clustering": metrics})
    return ClusterStage(
        comparison, result.k_scores, chosen, labels, X, table, profile, truth,
        agreement=result.agreement, summary=cluster.cluster_summary(table, assigned),
        map_xy=map_xy, map_rows=map_rows, rules=rules, compared_rows=compared_rows,
        lang=meta.lang, output=output,
    )


def _clustering_metrics(comparison: pd.DataFrame, chosen: str, feature_set: str,
                        truth: pd.Series | None, assigned: np.ndarray, *,
                        compared_customers: int, compare_seconds: float,
                        assign_seconds: float, started: float) -> dict[str, Any]:
    """Return the ``clustering`` metrics: the chosen method's scores, sizes and timings."""
    from sklearn.metrics import adjusted_rand_score

    row = comparison.set_index("method").loc[chosen]
    ari_all = None
    if truth is not None:
        known = truth.notna().to_numpy()
        ari_all = adjusted_rand_score(pd.factorize(truth[known])[0], assigned[known])
    return {
        "chosen_method": chosen,
        "feature_set": feature_set,
        "k": int(row["k"]),
        "silhouette": row["silhouette"],
        "stability": row["stability"],
        "noise_share": row["noise_share"],
        "ari_truth": row.get("ari_truth"),
        "ari_truth_all_customers": ari_all,
        "customers": len(assigned),
        "compared_customers": compared_customers,
        "fit_customers": int(row["fit_customers"]),
        "compare_seconds": round(compare_seconds, 2),
        "assign_seconds": round(assign_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_memory_mb": cluster.peak_memory_mb(),
        "methods": comparison.drop(columns="chosen").to_dict("records"),
    }


def _files(comparison: pd.DataFrame, k_scores: dict[str, pd.DataFrame],
           agreement: pd.DataFrame, model: cluster.SegmentModel) -> dict[str, Any]:
    """Return the stage's files, keyed by :class:`seglab.runfolder.RunFolder` property."""
    files: dict[str, Any] = {"clustering_comparison": comparison}
    if k_scores:
        k_table = pd.concat([s.assign(method=m) for m, s in k_scores.items()])
        k_table.insert(0, "method", k_table.pop("method"))
        files["k_selection"] = k_table
    files["cluster_agreement"] = agreement.rename_axis("method").reset_index()
    files["cluster_model"] = model
    return files
