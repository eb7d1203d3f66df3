"""Cluster customers with several methods on the same features and compare them honestly."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from seglab.errors import ConfigError

logger = logging.getLogger(__name__)

#: Feature sets for clustering. Amounts, counts and durations are log1p-transformed;
#: shares are used as they are. Channel shares join "behaviour" when present.
FEATURE_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "rfm": {
        "log": ("days_since_last_order", "orders", "revenue"),
        "plain": (),
    },
    "behaviour": {
        "log": ("days_since_last_order", "orders", "avg_order_value", "tenure_days"),
        "plain": ("return_share", "discount_share"),
    },
}

METHODS: tuple[str, ...] = ("kmeans", "gmm", "hdbscan")


def _numba_cache() -> None:
    """Point numba's cache at a folder we control so UMAP/HDBSCAN compile once."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seglab" / "numba"
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))


def feature_columns(features: pd.DataFrame, feature_set: str = "behaviour") -> dict[str, list]:
    """Return the log-scaled and plain columns of ``feature_set`` present in ``features``.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table.
    feature_set : str
        A key of :data:`FEATURE_SETS`.

    Returns
    -------
    dict
        ``{"log": [...], "plain": [...]}``.
    """
    if feature_set not in FEATURE_SETS:
        raise ConfigError(
            f"feature_set={feature_set!r} is unknown; use one of {sorted(FEATURE_SETS)}."
        )
    spec = FEATURE_SETS[feature_set]
    plain = [c for c in spec["plain"] if c in features]
    if feature_set == "behaviour":
        plain += [c for c in features if c.startswith("channel_share_")]
    return {"log": [c for c in spec["log"] if c in features], "plain": plain}


def _log1p_clipped(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))


def make_transform(features: pd.DataFrame, feature_set: str = "behaviour") -> Pipeline:
    """Build the (unfitted) transform from customer table to clustering matrix.

    log1p on amounts, counts and durations (clipped at 0), then standard scaling.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table (only its columns are read).
    feature_set : str
        A key of :data:`FEATURE_SETS`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fit it on the customer table; ``transform`` gives the matrix.
    """
    columns = feature_columns(features, feature_set)
    log1p = FunctionTransformer(_log1p_clipped, feature_names_out="one-to-one")
    parts = [("log", log1p, columns["log"])]
    if columns["plain"]:
        parts.append(("plain", "passthrough", columns["plain"]))
    return make_pipeline(ColumnTransformer(parts), StandardScaler())


class HDBSCANClusterer(ClusterMixin, BaseEstimator):
    """HDBSCAN with prediction for new customers (``approximate_predict``).

    Parameters
    ----------
    min_cluster_size : int or None
        Smallest cluster; default 1% of customers (at least 15).
    min_samples : int or None
        Density smoothing; default HDBSCAN's.
    """

    def __init__(self, min_cluster_size: int | None = None, min_samples: int | None = None):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples

    def fit(self, X: np.ndarray, y: None = None) -> HDBSCANClusterer:  # noqa: D102
        _numba_cache()
        import hdbscan

        size = self.min_cluster_size or max(15, len(X) // 100)
        self.model_ = hdbscan.HDBSCAN(
            min_cluster_size=size, min_samples=self.min_samples, prediction_data=True
        ).fit(X)
        self.labels_ = self.model_.labels_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: D102
        import hdbscan

        labels, _ = hdbscan.approximate_predict(self.model_, X)
        return labels


def make_method(name: str, k: int | None = None, *, random_state: int = 0) -> BaseEstimator:
    """Return an unfitted clusterer by name.

    Parameters
    ----------
    name : {"kmeans", "gmm", "hdbscan"}
        Method.
    k : int, optional
        Number of clusters, for methods that need one.
    random_state : int
        Seed.

    Returns
    -------
    sklearn estimator
        With ``fit`` and ``predict``.
    """
    if name == "kmeans":
        return KMeans(n_clusters=k, n_init=10, random_state=random_state)
    if name == "gmm":
        return GaussianMixture(n_components=k, n_init=2, random_state=random_state)
    if name == "hdbscan":
        return HDBSCANClusterer()
    raise ConfigError(f"method={name!r} is unknown; use one of {list(METHODS)}.")


def _labels(model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    return model.labels_ if hasattr(model, "labels_") else model.predict(X)


def _sample(n: int, size: int, random_state: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size, replace=False))


def internal_scores(
    X: np.ndarray, labels: np.ndarray, *, sample_size: int = 5000, random_state: int = 0
) -> dict[str, float]:
    """Silhouette (sampled), Calinski-Harabasz and Davies-Bouldin, noise excluded.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    labels : numpy.ndarray
        Cluster labels; -1 is noise.
    sample_size : int
        Customers the silhouette is computed on.
    random_state : int
        Seed for the sample.

    Returns
    -------
    dict
        ``silhouette``, ``calinski_harabasz``, ``davies_bouldin`` (NaN when fewer
        than two clusters).
    """
    clustered = labels >= 0
    Xc, lc = X[clustered], labels[clustered]
    if len(np.unique(lc)) < 2:
        return {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    idx = _sample(len(lc), sample_size, random_state)
    return {
        "silhouette": float(silhouette_score(Xc[idx], lc[idx])),
        "calinski_harabasz": float(calinski_harabasz_score(Xc, lc)),
        "davies_bouldin": float(davies_bouldin_score(Xc, lc)),
    }


def choose_k(
    X: np.ndarray,
    method: str,
    k_range: range = range(2, 11),
    *,
    random_state: int = 0,
    sample_size: int = 5000,
) -> pd.DataFrame:
    """Score each k for a method that needs one.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    method : {"kmeans", "gmm"}
        Method.
    k_range : range
        Candidate numbers of clusters.
    random_state : int
        Seed.
    sample_size : int
        Customers the silhouette is computed on.

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k``, ``inertia`` (KMeans) or ``bic`` (mixtures),
        ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``.
    """
    rows = []
    for k in k_range:
        model = make_method(method, k, random_state=random_state).fit(X)
        labels = _labels(model, X)
        row = {"k": k, **internal_scores(X, labels, sample_size=sample_size,
                                         random_state=random_state)}
        if method == "kmeans":
            row["inertia"] = float(model.inertia_)
        if method == "gmm":
            row["bic"] = float(model.bic(X))
        rows.append(row)
    return pd.DataFrame(rows)


def pick_k(scores: pd.DataFrame, method: str) -> int:
    """Pick k: the lowest BIC for mixtures, the best silhouette otherwise.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`choose_k`.
    method : str
        The method scored.

    Returns
    -------
    int
        Chosen number of clusters.
    """
    column, best = ("bic", "idxmin") if method == "gmm" else ("silhouette", "idxmax")
    return int(scores.loc[getattr(scores[column], best)(), "k"])


def order_by_value(labels: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Relabel clusters so 0 has the highest mean value, 1 the next; noise stays -1.

    Parameters
    ----------
    labels : numpy.ndarray
        Raw cluster labels.
    value : numpy.ndarray
        Value per customer (e.g. revenue).

    Returns
    -------
    numpy.ndarray
        Labels in value order, stable across runs and methods.
    """
    frame = pd.DataFrame({"label": labels, "value": value})
    means = frame[frame["label"] >= 0].groupby("label")["value"].mean()
    order = means.sort_values(ascending=False, kind="stable").index
    mapping = {old: new for new, old in enumerate(order)}
    mapping[-1] = -1
    return frame["label"].map(mapping).to_numpy()


@dataclass
class MethodResult:
    """One fitted method: its labels on every customer and how it scored."""

    method: str
    k: int | None
    model: BaseEstimator
    labels: np.ndarray
    scores: dict[str, float] = field(default_factory=dict)


def fit_method(
    X: np.ndarray,
    method: str,
    k: int | None,
    value: np.ndarray,
    *,
    random_state: int = 0,
    sample_size: int = 5000,
    truth: np.ndarray | None = None,
) -> MethodResult:
    """Fit one method, order its clusters by value and score it.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    method : str
        Method name.
    k : int or None
        Number of clusters (ignored by density methods).
    value : numpy.ndarray
        Value per customer for ordering the clusters.
    random_state : int
        Seed.
    sample_size : int
        Customers the silhouette is computed on.
    truth : numpy.ndarray, optional
        Planted labels; adds ``ari_truth`` and ``ami_truth``.

    Returns
    -------
    MethodResult
        The fitted model, labels and a row of scores.
    """
    started = time.perf_counter()
    model = make_method(method, k, random_state=random_state).fit(X)
    labels = order_by_value(_labels(model, X), value)
    seconds = time.perf_counter() - started
    found = len(np.unique(labels[labels >= 0]))
    sizes = pd.Series(labels[labels >= 0]).value_counts(normalize=True)
    scores = {
        "method": method,
        "k": found,
        **internal_scores(X, labels, sample_size=sample_size, random_state=random_state),
        "noise_share": float(np.mean(labels < 0)),
        "smallest_cluster_share": float(sizes.min() * np.mean(labels >= 0)) if found else 0.0,
        "silhouette_sample": int(min(sample_size, int(np.sum(labels >= 0)))),
        "seconds": round(seconds, 3),
    }
    if truth is not None:
        scores["ari_truth"] = float(adjusted_rand_score(truth, labels))
        scores["ami_truth"] = float(adjusted_mutual_info_score(truth, labels))
    return MethodResult(method, found, model, labels, scores)


def compare_methods(
    X: np.ndarray,
    value: np.ndarray,
    *,
    methods: tuple[str, ...] = METHODS,
    k_range: range = range(2, 11),
    random_state: int = 0,
    sample_size: int = 5000,
    truth: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, MethodResult], dict[str, pd.DataFrame]]:
    """Choose k where needed, fit every method and tabulate their scores.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    value : numpy.ndarray
        Value per customer, for ordering clusters.
    methods : tuple of str
        Methods to compare.
    k_range : range
        Candidate k for methods that need one.
    random_state : int
        Seed.
    sample_size : int
        Customers the silhouette is computed on.
    truth : numpy.ndarray, optional
        Planted labels, when known.

    Returns
    -------
    comparison : pandas.DataFrame
        One row per method.
    results : dict
        Method name to :class:`MethodResult`.
    k_scores : dict
        Method name to its :func:`choose_k` table (methods that need k).
    """
    results: dict[str, MethodResult] = {}
    k_scores: dict[str, pd.DataFrame] = {}
    for method in methods:
        k = None
        if method in ("kmeans", "gmm"):
            k_scores[method] = choose_k(
                X, method, k_range, random_state=random_state, sample_size=sample_size
            )
            k = pick_k(k_scores[method], method)
            k_scores[method]["chosen"] = k_scores[method]["k"] == k
        results[method] = fit_method(
            X, method, k, value, random_state=random_state,
            sample_size=sample_size, truth=truth,
        )
        logger.info("fitted %s: %s", method, results[method].scores)
    comparison = pd.DataFrame([r.scores for r in results.values()])
    return comparison, results, k_scores


def pick_method(comparison: pd.DataFrame, method: str = "auto") -> str:
    """Return the method to use: ``method`` itself, or the best one for ``"auto"``.

    ``"auto"`` takes the best silhouette among methods that leave at most 20% of
    customers unassigned.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of :func:`compare_methods`.
    method : str
        A method name or ``"auto"``.

    Returns
    -------
    str
        The chosen method.
    """
    if method != "auto":
        if method not in set(comparison["method"]):
            raise ConfigError(
                f"method={method!r} was not compared; choose one of "
                f"{list(comparison['method'])} or 'auto'."
            )
        return method
    usable = comparison[(comparison["noise_share"] <= 0.2) & comparison["silhouette"].notna()]
    pool = usable if not usable.empty else comparison
    return str(pool.loc[pool["silhouette"].idxmax(), "method"])


def cluster_profile(features: pd.DataFrame, labels: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Standardised mean of each feature per cluster (z-scores), for a heatmap.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table.
    labels : numpy.ndarray
        Cluster per customer.
    columns : list of str
        Features to profile.

    Returns
    -------
    pandas.DataFrame
        One row per cluster, one column per feature.
    """
    values = features[columns].astype(float)
    z = (values - values.mean()) / values.std(ddof=0).replace(0, 1)
    return z.groupby(labels).mean().rename_axis("cluster")
