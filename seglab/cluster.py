"""Cluster customers with several methods on the same features and compare them honestly.

How the pieces fit:

* :class:`seglab.feature_transform.FeatureTransform` (fitted once, by notebook 02) turns the
  customer table into the clustering matrix. Every method sees the same matrix.
* Five methods share one small interface (``fit`` → ``labels_``, ``membership_``,
  ``predict`` for new customers, ``get_params``): :class:`KMeansClusterer`,
  :class:`GaussianMixtureClusterer`, :class:`WardClusterer`, :class:`HDBSCANClusterer`
  and :class:`UMAPHDBSCANClusterer`; :func:`make_method` builds one by name.
* :func:`scan_k` scores every k of a range (inertia, BIC, silhouette,
  Calinski-Harabasz, Davies-Bouldin, stability) and :func:`pick_k` applies the
  documented rule of :class:`SelectionRules`.
* :func:`compare_methods` fits every method (on a sample when the data are large,
  then assigns everyone with ``predict`` in chunks), scores it, adds the rule
  segments as baselines, and :func:`pick_method` chooses one. On a large customer
  table the study compares on a random sample (:func:`sample_rows`) and only the
  chosen :class:`SegmentModel` assigns every customer, chunk by chunk.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from seglab import i18n
from seglab.errors import ConfigError, InputError
from seglab.feature_transform import FeatureTransform, feature_label

logger = logging.getLogger(__name__)

# --- Numba (UMAP) ------------------------------------------------------------------------


def _numba_cache() -> None:
    """Point numba's cache at a folder we control so UMAP compiles once per machine.

    Sets ``NUMBA_CACHE_DIR`` (unless already set) before numba is imported. umap-learn
    compiles its kernels without numba's cache (``fast_knn_indices``, ``smooth_knn_dist``,
    ``compute_membership_strengths``, the layout epoch, ...); :func:`_import_umap`
    switches them to caching, which saves about 10 s of compilation in every new process
    (every notebook 03 kernel). The machine code is the same, so are the embeddings.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seglab" / "numba"
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))


def _import_umap() -> Any:
    import warnings

    _numba_cache()
    with warnings.catch_warnings():  # tqdm's notebook bar wants ipywidgets; not needed
        warnings.filterwarnings("ignore", message=".*IProgress not found.*")
        import umap
        import umap.umap_

    from numba.core.dispatcher import Dispatcher

    for module in (umap.umap_, umap.utils, umap.layouts, umap.distances, umap.spectral):
        for name, kernel in vars(module).items():
            if not (isinstance(kernel, Dispatcher)
                    and type(kernel._cache).__name__ == "NullCache"):
                continue
            try:
                kernel.enable_caching()
            except (RuntimeError, OSError) as error:  # no writable cache folder
                logger.debug("numba cannot cache %s: %s", name, error)
    return umap


# --- Methods -----------------------------------------------------------------------------


def _chunks(n: int, chunk_size: int) -> list[slice]:
    return [slice(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


class Clusterer(ClusterMixin, BaseEstimator):
    """Common interface: ``fit(X)`` sets ``labels_`` and ``membership_``; ``predict``.

    ``labels_`` are the clusters of the customers fitted on (-1 = noise),
    ``membership_`` how firmly each belongs (1 for hard methods), ``predict`` assigns
    new customers (in chunks of ``chunk_size`` rows) and ``get_params`` lists the
    parameters.
    """

    chunk_size: int = 100_000

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Assign customers to the fitted clusters.

        Parameters
        ----------
        X : numpy.ndarray
            Transformed features of the customers, any number of rows.

        Returns
        -------
        numpy.ndarray
            Cluster per customer (int, -1 = noise for density methods).
        """
        check_is_fitted(self, "labels_")
        X = np.asarray(X, dtype=float)
        if len(X) == 0:
            return np.empty(0, dtype=int)
        parts = [self._predict_chunk(X[s]) for s in _chunks(len(X), self.chunk_size)]
        return np.concatenate(parts).astype(int)

    @property
    def n_clusters_(self) -> int:
        """Number of clusters found (noise excluded)."""
        check_is_fitted(self, "labels_")
        return len(np.unique(self.labels_[self.labels_ >= 0]))


def _check_k(n_clusters: int | None, n: int, name: str) -> int:
    if n_clusters is None or int(n_clusters) < 2:
        raise ConfigError(f"{name} needs n_clusters >= 2; got n_clusters={n_clusters}.")
    if n < int(n_clusters):
        raise InputError(f"n_samples={n} should be >= n_clusters={n_clusters}.")
    return int(n_clusters)


class KMeansClusterer(Clusterer):
    """k-means (scikit-learn, k-means++ with ``n_init`` restarts).

    Parameters
    ----------
    n_clusters : int
        Number of clusters.
    n_init : int
        Restarts; the best inertia is kept.
    random_state : int
        Seed.
    """

    def __init__(self, n_clusters: int = 5, n_init: int = 10, random_state: int = 0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> KMeansClusterer:
        """Fit on ``X``; sets ``labels_``, ``membership_``, ``inertia_``, ``model_``."""
        k = _check_k(self.n_clusters, len(X), "kmeans")
        self.model_ = KMeans(n_clusters=k, n_init=self.n_init,
                             random_state=self.random_state).fit(X)
        self.labels_ = self.model_.labels_.astype(int)
        self.membership_ = np.ones(len(X))
        self.inertia_ = float(self.model_.inertia_)
        return self

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)


class GaussianMixtureClusterer(Clusterer):
    """Gaussian mixture (full covariances), labels = most probable component.

    Parameters
    ----------
    n_clusters : int
        Number of components.
    covariance_type : str
        As in :class:`sklearn.mixture.GaussianMixture`.
    reg_covar : float
        Variance floor added to each covariance. The features are standardised, so
        0.1 means a tenth of a feature's spread; it stops components collapsing onto
        the share columns (which sum to one) and gave the most faithful mixtures on
        the synthetic data.
    n_init : int
        Restarts; the best likelihood is kept. With one, the mixture chosen on the
        Online Retail log changed with the seed (4 or 5 components); three made it
        repeat.
    random_state : int
        Seed.
    """

    def __init__(self, n_clusters: int = 5, covariance_type: str = "full",
                 reg_covar: float = 0.1, n_init: int = 3, random_state: int = 0):
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> GaussianMixtureClusterer:
        """Fit on ``X``; sets ``labels_``, ``membership_`` (top probability), ``bic_``."""
        k = _check_k(self.n_clusters, len(X), "gmm")
        self.model_ = GaussianMixture(
            n_components=k, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            n_init=self.n_init, random_state=self.random_state,
        ).fit(X)
        proba = self.model_.predict_proba(X)
        self.labels_ = proba.argmax(axis=1).astype(int)
        self.membership_ = proba.max(axis=1)
        self.bic_ = float(self.model_.bic(X))
        return self

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)


class WardClusterer(Clusterer):
    """Agglomerative clustering with Ward linkage; new customers go to the nearest centroid.

    Ward needs memory quadratic in the customers, so above ``max_samples`` the tree
    is built on a random sample and the others are assigned to the nearest centroid.

    Parameters
    ----------
    n_clusters : int
        Where to cut the tree.
    max_samples : int
        Largest number of customers the tree is built on.
    random_state : int
        Seed of the sample.
    """

    def __init__(self, n_clusters: int = 5, max_samples: int = 5000, random_state: int = 0):
        self.n_clusters = n_clusters
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None, *, tree: np.ndarray | None = None,
            tree_rows: np.ndarray | None = None) -> WardClusterer:
        """Fit on ``X``; sets ``labels_``, ``membership_``, ``centers_``, ``inertia_``.

        ``tree``/``tree_rows`` (from :meth:`build_tree`) let a k scan cut one tree at
        every k instead of rebuilding it.
        """
        k = _check_k(self.n_clusters, len(X), "ward")
        if tree is None:
            tree_rows, tree = self.build_tree(X)
        cut = fcluster(tree, t=k, criterion="maxclust") - 1
        fitted = X[tree_rows]
        self.centers_ = np.vstack([fitted[cut == c].mean(axis=0) for c in range(cut.max() + 1)])
        labels = self._predict_chunk(X)
        labels[tree_rows] = cut
        self.labels_ = labels.astype(int)
        self.membership_ = np.ones(len(X))
        self.inertia_ = float(((X - self.centers_[self.labels_]) ** 2).sum())
        return self

    def build_tree(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows the tree is built on and the Ward linkage matrix."""
        rows = sample_rows(len(X), self.max_samples, self.random_state)
        return rows, linkage(X[rows], method="ward")

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        distances = -2.0 * X @ self.centers_.T + (self.centers_**2).sum(axis=1)
        return distances.argmin(axis=1)


class HDBSCANClusterer(Clusterer):
    """HDBSCAN: clusters of any shape, noise (-1), membership strength, approximate_predict.

    Parameters
    ----------
    min_cluster_size : int or None
        Smallest cluster; default 2% of the customers fitted on (at least 15).
    min_samples : int
        Density smoothing (small values leave less noise).
    cluster_selection_method : {"eom", "leaf"}
        HDBSCAN's cluster selection.
    """

    def __init__(self, min_cluster_size: int | None = None, min_samples: int = 5,
                 cluster_selection_method: str = "eom"):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method

    def fit(self, X: np.ndarray, y: None = None) -> HDBSCANClusterer:
        """Fit on ``X``; sets ``labels_``, ``membership_`` (HDBSCAN's probabilities)."""
        import hdbscan

        size = self.min_cluster_size or max(15, int(0.02 * len(X)))
        self.model_ = hdbscan.HDBSCAN(
            min_cluster_size=size, min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method, prediction_data=True,
        ).fit(X)
        self.labels_ = self.model_.labels_.astype(int)
        self.membership_ = self.model_.probabilities_
        return self

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        import hdbscan

        if self.n_clusters_ == 0:
            return np.full(len(X), -1)
        labels, _ = hdbscan.approximate_predict(self.model_, X)
        return labels


class UMAPHDBSCANClusterer(Clusterer):
    """UMAP to a few dimensions, then HDBSCAN; new customers by a vote of their neighbours.

    UMAP is given scikit-learn's exact nearest neighbours (faster than umap-learn's own
    path on small data, and deterministic); new customers take the most common label
    among their ``n_vote`` nearest fitted customers in feature space (noise included).

    Parameters
    ----------
    n_neighbors : int
        UMAP neighbourhood.
    n_components : int
        Dimensions of the embedding HDBSCAN clusters.
    min_dist : float
        UMAP ``min_dist`` (0 packs clusters tightly, as advised for clustering).
    n_epochs : int or None
        UMAP optimisation epochs (None: umap-learn's default, 500 below 10,000
        customers); 200 is enough for clustering and fits 2-3 times faster.
    min_cluster_size : int or None
        HDBSCAN's smallest cluster; default 6% of the customers (at least 15).
    min_samples : int
        HDBSCAN density smoothing.
    cluster_selection_method : {"eom", "leaf"}
        HDBSCAN's cluster selection. The defaults (``eom``, 6%, 30) found clean blobs
        exactly and gave the most stable clusters on the synthetic study; ``leaf``
        splits more finely (closer to the planted segments there, but it broke clean
        blobs apart and was less stable).
    n_vote : int
        Neighbours voting on a new customer's cluster.
    random_state : int
        Seed (UMAP then runs single-threaded, so results repeat exactly).
    """

    def __init__(self, n_neighbors: int = 30, n_components: int = 5, min_dist: float = 0.0,
                 n_epochs: int | None = 200, min_cluster_size: int | None = None,
                 min_samples: int = 30, cluster_selection_method: str = "eom",
                 n_vote: int = 15, random_state: int = 0):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.n_vote = n_vote
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> UMAPHDBSCANClusterer:
        """Fit on ``X``; sets ``embedding_``, ``labels_``, ``membership_``."""
        import warnings

        import hdbscan

        umap = _import_umap()
        n_neighbors = min(self.n_neighbors, len(X) - 1)
        if n_neighbors < 2 or len(X) <= self.n_components + 1:
            raise InputError(f"n_samples={len(X)} is too few for UMAP; need at least "
                             f"{max(3, self.n_components + 2)}.")
        distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(knn_search_index|n_jobs value).*")
            self.embedding_ = umap.UMAP(
                n_neighbors=n_neighbors, n_components=self.n_components,
                min_dist=self.min_dist, n_epochs=self.n_epochs,
                random_state=self.random_state, n_jobs=1,
                precomputed_knn=(indices, distances, None),
            ).fit_transform(X)
        size = self.min_cluster_size or max(15, int(0.06 * len(X)))
        self.model_ = hdbscan.HDBSCAN(
            min_cluster_size=size, min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
        ).fit(self.embedding_)
        self.labels_ = self.model_.labels_.astype(int)
        self.membership_ = self.model_.probabilities_
        self.voter_ = KNeighborsClassifier(n_neighbors=min(self.n_vote, len(X))).fit(
            X, self.labels_)
        return self

    def _predict_chunk(self, X: np.ndarray) -> np.ndarray:
        return self.voter_.predict(X)


#: Methods by name; those in :data:`K_METHODS` need a number of clusters.
METHOD_CLASSES: dict[str, type[Clusterer]] = {
    "kmeans": KMeansClusterer,
    "gmm": GaussianMixtureClusterer,
    "ward": WardClusterer,
    "hdbscan": HDBSCANClusterer,
    "umap_hdbscan": UMAPHDBSCANClusterer,
}
METHODS: tuple[str, ...] = tuple(METHOD_CLASSES)
K_METHODS: tuple[str, ...] = ("kmeans", "gmm", "ward")
DENSITY_METHODS: tuple[str, ...] = ("hdbscan", "umap_hdbscan")

#: Rule segments of the customer table compared as baselines.
RULE_BASELINES: tuple[str, ...] = ("rfm_segment", "value_tier", "lifecycle_stage")


def make_method(name: str, k: int | None = None, *, random_state: int = 0,
                **params: Any) -> Clusterer:
    """Return an unfitted clusterer by name.

    Parameters
    ----------
    name : {"kmeans", "gmm", "ward", "hdbscan", "umap_hdbscan"}
        Method.
    k : int, optional
        Number of clusters, for the methods in :data:`K_METHODS`.
    random_state : int
        Seed (HDBSCAN is deterministic and takes none).
    **params
        Other parameters of the method's class.

    Returns
    -------
    Clusterer
        With ``fit``, ``labels_``, ``membership_``, ``predict``, ``get_params``.

    Raises
    ------
    ConfigError
        If the name is unknown or a method that needs k gets none.
    """
    if name not in METHOD_CLASSES:
        raise ConfigError(f"method={name!r} is unknown; use one of {list(METHODS)}.")
    cls = METHOD_CLASSES[name]
    if name in K_METHODS:
        if k is None:
            raise ConfigError(f"method={name!r} needs a number of clusters k.")
        params["n_clusters"] = int(k)
    if "random_state" in cls().get_params():
        params["random_state"] = random_state
    return cls(**params)


def compile_kernels() -> None:
    """Compile the numba kernels UMAP needs into numba's cache, once per machine.

    ``make install`` runs this, as pip compiles Python files when it installs them: the
    first UMAP fit in a new cache compiles about 50 kernels (about 25 s); every later
    process, such as a notebook 03 kernel, loads them from the cache (0.4 s). Fitting
    UMAP + HDBSCAN once on a small random matrix compiles everything the study uses.
    """
    make_method("umap_hdbscan").fit(np.random.default_rng(0).normal(size=(200, 4)))


# --- Scores ------------------------------------------------------------------------------


def sample_rows(n: int, size: int, random_state: int) -> np.ndarray:
    """Return the positions of a seeded random sample of ``size`` of ``n`` rows, sorted.

    Parameters
    ----------
    n : int
        Rows to draw from.
    size : int
        Rows wanted; ``n <= size`` gives every row (``numpy.arange(n)``).
    random_state : int
        Seed.

    Returns
    -------
    numpy.ndarray
        Increasing row positions, without repeats.
    """
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size, replace=False))


def internal_scores(
    X: np.ndarray, labels: np.ndarray, *, sample_size: int = 5000, random_state: int = 0
) -> dict[str, float]:
    """Silhouette (on a sample), Calinski-Harabasz and Davies-Bouldin, noise excluded.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    labels : numpy.ndarray
        Cluster labels; -1 is noise.
    sample_size : int
        Customers the silhouette is computed on (it costs time quadratic in them).
    random_state : int
        Seed for the sample.

    Returns
    -------
    dict
        ``silhouette``, ``calinski_harabasz``, ``davies_bouldin`` (NaN when fewer
        than two clusters), ``silhouette_sample`` (customers it used).
    """
    labels = np.asarray(labels)
    clustered = labels >= 0
    Xc, lc = X[clustered], labels[clustered]
    nan = {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan,
           "silhouette_sample": 0}
    if len(np.unique(lc)) < 2:
        return nan
    idx = sample_rows(len(lc), sample_size, random_state)
    silhouette = (silhouette_score(Xc[idx], lc[idx])
                  if len(np.unique(lc[idx])) > 1 else np.nan)
    return {
        "silhouette": float(silhouette),
        "calinski_harabasz": float(calinski_harabasz_score(Xc, lc)),
        "davies_bouldin": float(davies_bouldin_score(Xc, lc)),
        "silhouette_sample": len(idx),
    }


def dbcv(X: np.ndarray, labels: np.ndarray, *, sample_size: int = 2000,
         random_state: int = 0) -> float:
    """Density-based cluster validity (DBCV, Moulavi et al. 2014) on a sample.

    Uses :func:`hdbscan.validity.validity_index`; noise counts against the score.
    It needs all pairwise distances within clusters, hence the sample.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    labels : numpy.ndarray
        Cluster labels; -1 is noise.
    sample_size : int
        Customers it is computed on.
    random_state : int
        Seed for the sample.

    Returns
    -------
    float
        Between -1 and 1 (higher: denser, better separated); NaN with fewer than two
        clusters.
    """
    import warnings

    from hdbscan.validity import validity_index

    idx = sample_rows(len(labels), sample_size, random_state)
    sample = np.asarray(labels)[idx]
    clusters, counts = np.unique(sample[sample >= 0], return_counts=True)
    if len(clusters) < 2 or counts.min() < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = validity_index(X[idx].astype(np.float64), sample)
    return float(value) if np.isfinite(value) else float("nan")


def _inertia(X: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for c in np.unique(labels[labels >= 0]):
        members = X[labels == c]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def _smallest_share(labels: np.ndarray) -> float:
    clustered = labels[labels >= 0]
    if len(clustered) == 0:
        return 0.0
    return float(np.bincount(clustered).min() / len(labels)) if clustered.size else 0.0


def stability(
    X: np.ndarray,
    labels: np.ndarray,
    factory: Callable[[int], Clusterer],
    *,
    n_resamples: int = 3,
    fraction: float = 0.8,
    random_state: int = 0,
) -> float:
    """Mean ARI between a clustering and refits on random subsamples.

    Each refit sees a random ``fraction`` of the customers (drawn without
    replacement: duplicates from a bootstrap would fake density for HDBSCAN) and
    its own seed; it then assigns every customer with ``predict``, and the
    assignment is compared with ``labels`` by the adjusted Rand index (noise is a
    label like any other).

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features the clustering was fitted on.
    labels : numpy.ndarray
        The clustering to check.
    factory : callable
        ``factory(seed)`` returns an unfitted clusterer configured like the original.
    n_resamples : int
        Number of refits.
    fraction : float
        Share of customers in each subsample.
    random_state : int
        Seed of the subsamples and refits.

    Returns
    -------
    float
        1 = the same clusters every time; near 0 = no better than chance. NaN when
        ``n_resamples`` is 0.
    """
    if n_resamples <= 0:
        return float("nan")
    size = max(2, round(fraction * len(X)))
    scores = []
    for b in range(n_resamples):
        seed = int(np.random.default_rng([random_state, 7, b]).integers(2**31 - 1))
        rows = sample_rows(len(X), size, seed)
        refit = factory(seed).fit(X[rows])
        scores.append(adjusted_rand_score(labels, refit.predict(X)))
    return float(np.mean(scores))


# --- Choosing k --------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectionRules:
    """Thresholds of the documented rules that pick k and the method.

    **k** (:func:`pick_k`): a k is *admissible* when its stability is at least
    ``min_stability`` and its smallest cluster holds at least ``min_cluster_share``
    of the customers. Among admissible k, take the **largest** whose silhouette is
    within ``silhouette_tolerance`` of the best admissible silhouette: the finest
    segmentation that still replicates on new samples and is almost as well separated
    as the best. (Silhouette alone prefers the coarsest split — on the synthetic data
    it picks 4 of the 7 planted segments, and on unlogged RFM it rewards cutting off
    a few big spenders.) If no k is admissible, the most stable k is taken.

    **method** (:func:`pick_method`), the same idea one level up: a method is
    admissible when it leaves at most ``max_noise`` of customers unassigned, its
    stability is at least ``min_stability`` and its smallest cluster holds at least
    ``min_cluster_share``. Among admissible methods whose silhouette is within
    ``silhouette_tolerance`` of the best admissible one, take the one with the **most
    segments**; ties go to the highest ``silhouette x stability x (1 - noise_share)``.
    Comparing raw silhouettes across methods would favour whichever method found the
    coarsest split (a 4-cluster UMAP-HDBSCAN over 6-cluster k-means on the synthetic
    data, recovering the planted segments worse). If no method is admissible, the
    highest ``silhouette x stability x (1 - noise_share)`` wins.

    Parameters
    ----------
    min_stability : float
        Stability (mean ARI over refits) a k or method needs.
    min_cluster_share : float
        Smallest cluster's share of customers a k needs.
    silhouette_tolerance : float
        How far (absolute) below the best admissible silhouette a larger k may be.
    max_noise : float
        Largest share of unassigned customers for a method to be chosen.
    """

    min_stability: float = 0.8
    min_cluster_share: float = 0.02
    silhouette_tolerance: float = 0.05
    max_noise: float = 0.2


def elbow(k: Sequence[int], values: Sequence[float]) -> int:
    """Return the elbow of a decreasing curve: the k farthest below the chord.

    Both axes are scaled to 0-1 and the point farthest from the straight line
    joining the first and last points is the elbow ("kneedle").

    Parameters
    ----------
    k : sequence of int
        Candidate k, increasing.
    values : sequence of float
        Inertia (or BIC) per k.

    Returns
    -------
    int
        The elbow k (the first k when there are fewer than three).
    """
    k = np.asarray(k, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(k) < 3 or np.ptp(v) == 0:
        return int(k[0])
    x = (k - k[0]) / np.ptp(k)
    y = (v - v.min()) / np.ptp(v)
    chord = y[0] + (y[-1] - y[0]) * x
    return int(k[np.argmax(chord - y)])


@dataclass
class KScan:
    """Scores of every k for one method, and the fits behind them."""

    method: str
    scores: pd.DataFrame
    models: dict[int, Clusterer] = field(default_factory=dict)
    seconds: float = 0.0


def scan_k(
    X: np.ndarray,
    method: str,
    k_range: Sequence[int] = range(2, 11),
    *,
    random_state: int = 0,
    sample_size: int = 5000,
    n_resamples: int = 3,
    params: Mapping[str, Any] | None = None,
) -> KScan:
    """Fit a method that needs k at every k of a range and score each fit.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features (the customers to fit on).
    method : {"kmeans", "gmm", "ward"}
        Method.
    k_range : sequence of int
        Candidate numbers of clusters (each at least 2).
    random_state : int
        Seed.
    sample_size : int
        Customers the silhouette is computed on.
    n_resamples : int
        Refits per k for the stability (0 skips it).
    params : mapping, optional
        Extra parameters of the method.

    Returns
    -------
    KScan
        ``scores``: one row per k with ``k``, ``inertia`` (within-cluster sum of
        squares), ``bic`` (mixtures), ``silhouette``, ``calinski_harabasz``,
        ``davies_bouldin``, ``stability``, ``smallest_cluster_share``, ``elbow``
        (True at the inertia elbow); ``models``: the fit per k.

    Raises
    ------
    ConfigError
        If the method takes no k or the range is unusable.
    """
    if method not in K_METHODS:
        raise ConfigError(f"method={method!r} takes no k; k is scanned for {list(K_METHODS)}.")
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ConfigError(f"k_range={list(k_range)} must hold numbers of clusters >= 2.")
    if len(X) < 3 * ks[-1]:
        raise InputError(f"{len(X)} customers are too few to try k={ks[-1]}; "
                         f"need at least {3 * ks[-1]}.")
    params = dict(params or {})
    started = time.perf_counter()
    trees: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def fit(k: int, seed: int, rows: np.ndarray | None = None) -> Clusterer:
        model = make_method(method, k, random_state=seed, **params)
        data = X if rows is None else X[rows]
        if method == "ward":
            key = -1 if rows is None else seed
            if key not in trees:
                trees[key] = model.build_tree(data)
            tree_rows, tree = trees[key]
            return model.fit(data, tree=tree, tree_rows=tree_rows)
        return model.fit(data)

    rows, models = [], {}
    size = max(2, round(0.8 * len(X)))
    seeds = [int(np.random.default_rng([random_state, 7, b]).integers(2**31 - 1))
             for b in range(n_resamples)]
    for k in ks:
        fit_started = time.perf_counter()
        model = fit(k, random_state)
        fit_seconds = time.perf_counter() - fit_started
        models[k] = model
        labels = model.labels_
        refits = [
            adjusted_rand_score(labels, fit(k, seed, sample_rows(len(X), size, seed)).predict(X))
            for seed in seeds
        ]
        row = {
            "k": k,
            "inertia": _inertia(X, labels),
            **internal_scores(X, labels, sample_size=sample_size, random_state=random_state),
            "stability": float(np.mean(refits)) if refits else np.nan,
            "smallest_cluster_share": _smallest_share(labels),
            "fit_seconds": fit_seconds,
        }
        if method == "gmm":
            row["bic"] = model.bic_
        rows.append(row)
    scores = pd.DataFrame(rows)
    scores["elbow"] = scores["k"] == elbow(scores["k"], scores["inertia"])
    return KScan(method, scores, models, time.perf_counter() - started)


def pick_k(scores: pd.DataFrame, rules: SelectionRules | None = None) -> int:
    """Pick k by the rule documented in :class:`SelectionRules`.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``KScan.scores`` (columns ``k``, ``silhouette``, ``stability``,
        ``smallest_cluster_share``).
    rules : SelectionRules, optional
        Thresholds.

    Returns
    -------
    int
        The chosen number of clusters.
    """
    rules = rules or SelectionRules()
    stab = scores["stability"].fillna(1.0)  # no refits: judge on the rest
    admissible = scores[
        (stab >= rules.min_stability)
        & (scores["smallest_cluster_share"] >= rules.min_cluster_share)
        & scores["silhouette"].notna()
    ]
    if admissible.empty:
        return int(scores.loc[stab.idxmax(), "k"])
    best = admissible["silhouette"].max()
    near = admissible[admissible["silhouette"] >= best - rules.silhouette_tolerance]
    return int(near["k"].max())


# --- Comparing methods -------------------------------------------------------------------


def value_order(labels: np.ndarray, value: np.ndarray) -> dict[int, int]:
    """Map raw cluster labels to value order: 0 = highest mean value; noise stays -1.

    Parameters
    ----------
    labels : numpy.ndarray
        Raw cluster labels.
    value : numpy.ndarray
        Value per customer (e.g. revenue).

    Returns
    -------
    dict
        Raw label → ordered label. Ties keep the lower raw label first.
    """
    frame = pd.DataFrame({"label": np.asarray(labels), "value": np.asarray(value, dtype=float)})
    means = frame[frame["label"] >= 0].groupby("label")["value"].mean()
    order = means.sort_values(ascending=False, kind="stable").index
    mapping = {int(old): new for new, old in enumerate(order)}
    mapping[-1] = -1
    return mapping


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
    mapping = value_order(labels, value)
    return pd.Series(np.asarray(labels)).map(mapping).to_numpy(dtype=int)


@dataclass
class SegmentModel:
    """A fitted transform and clusterer that assign any customer table to value-ordered clusters.

    Attributes
    ----------
    method : str
        Method name.
    transform : FeatureTransform
        Fitted transform.
    model : Clusterer
        Fitted clusterer.
    order : dict
        Raw label → value-ordered label.
    """

    method: str
    transform: FeatureTransform
    model: Clusterer
    order: dict[int, int]

    def predict(self, customers: pd.DataFrame, *, chunk_size: int = 100_000) -> np.ndarray:
        """Assign customers (a customer table) to the clusters, in chunks.

        Parameters
        ----------
        customers : pandas.DataFrame
            Customer table with the columns the transform needs.
        chunk_size : int
            Rows transformed and assigned at a time.

        Returns
        -------
        numpy.ndarray
            Value-ordered cluster per customer (-1 = noise).
        """
        parts = [
            self.model.predict(self.transform.transform(customers.iloc[s]))
            for s in _chunks(len(customers), chunk_size)
        ]
        raw = np.concatenate(parts) if parts else np.empty(0, dtype=int)
        return pd.Series(raw).map(self.order).fillna(-1).to_numpy(dtype=int)


@dataclass
class MethodResult:
    """One fitted method: its labels on every customer and how it scored."""

    method: str
    k: int | None
    model: Clusterer | None
    labels: np.ndarray
    scores: dict[str, Any] = field(default_factory=dict)
    order: dict[int, int] = field(default_factory=dict)


@dataclass
class Comparison:
    """Everything :func:`compare_methods` produced."""

    table: pd.DataFrame
    results: dict[str, MethodResult]
    k_scans: dict[str, KScan]
    agreement: pd.DataFrame
    fit_rows: np.ndarray

    @property
    def k_scores(self) -> dict[str, pd.DataFrame]:
        """Method → its k scan table (with the ``chosen`` column)."""
        return {name: scan.scores for name, scan in self.k_scans.items()}


def _truth_scores(truth: np.ndarray | None, labels: np.ndarray) -> dict[str, float]:
    if truth is None:
        return {}
    known = pd.notna(truth)
    return {
        "ari_truth": float(adjusted_rand_score(truth[known], labels[known])),
        "ami_truth": float(adjusted_mutual_info_score(truth[known], labels[known])),
    }


def _score_labels(X: np.ndarray, labels: np.ndarray, *, sample_size: int,
                  random_state: int, truth: np.ndarray | None) -> dict[str, Any]:
    found = len(np.unique(labels[labels >= 0]))
    return {
        "k": found,
        **internal_scores(X, labels, sample_size=sample_size, random_state=random_state),
        "noise_share": float(np.mean(labels < 0)),
        "smallest_cluster_share": _smallest_share(labels),
        **_truth_scores(truth, labels),
    }


def _describe_params(model: Clusterer) -> str:
    shown = {k: v for k, v in model.get_params().items() if k != "random_state"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def compare_methods(
    X: np.ndarray,
    value: np.ndarray,
    *,
    methods: Sequence[str] = METHODS,
    k_range: Sequence[int] = range(2, 11),
    random_state: int = 0,
    sample_size: int = 5000,
    n_resamples: int = 3,
    fit_sample: int = 20_000,
    truth: np.ndarray | None = None,
    baselines: Mapping[str, np.ndarray] | None = None,
    rules: SelectionRules | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    dbcv_sample: int = 2000,
    threads: int | None = 1,
) -> Comparison:
    """Choose k where needed, fit every method, score it, and add the rule baselines.

    When there are more than ``fit_sample`` customers every method is fitted (and k
    scanned, and stability measured) on a random sample of that size; everyone is then
    assigned with the method's ``predict`` in chunks. Scores are computed on all
    customers (the silhouette on ``sample_size`` of them).

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features, one row per customer.
    value : numpy.ndarray
        Value per customer, for ordering clusters (0 = highest mean value).
    methods : sequence of str
        Methods to compare (names in :data:`METHODS`).
    k_range : sequence of int
        Candidate k for the methods that need one.
    random_state : int
        Seed of every random step.
    sample_size : int
        Customers the silhouette is computed on.
    n_resamples : int
        Refits on 80% subsamples for the stability.
    fit_sample : int
        Most customers any method is fitted on.
    truth : numpy.ndarray, optional
        Planted segment per customer, when known: adds ``ari_truth``, ``ami_truth``.
    baselines : mapping, optional
        Name → rule segment per customer, scored alongside (no stability: rules are
        not refitted).
    rules : SelectionRules, optional
        Thresholds for picking k.
    params : mapping, optional
        Method name → extra parameters of its class.
    dbcv_sample : int
        Customers DBCV is computed on (density methods).
    threads : int or None
        BLAS/OpenMP threads for the fits (None: the library defaults). One thread is
        the fastest for the many small fits here (k-means on 2,000 customers ran 20x
        slower with two busy-waiting threads on a shared 2-core machine) and keeps
        results independent of the machine's core count.

    Returns
    -------
    Comparison
        ``table`` (one row per method, then one per baseline), fitted ``results``,
        ``k_scans``, pairwise ``agreement`` (ARI) and the rows fitted on.

    Raises
    ------
    ConfigError
        If a method name is unknown or no method is given.
    """
    with threadpool_limits(threads):
        return _compare_methods(
            X, value, methods=methods, k_range=k_range, random_state=random_state,
            sample_size=sample_size, n_resamples=n_resamples, fit_sample=fit_sample,
            truth=truth, baselines=baselines, rules=rules, params=params,
            dbcv_sample=dbcv_sample,
        )


def _compare_methods(
    X: np.ndarray,
    value: np.ndarray,
    *,
    methods: Sequence[str],
    k_range: Sequence[int],
    random_state: int,
    sample_size: int,
    n_resamples: int,
    fit_sample: int,
    truth: np.ndarray | None,
    baselines: Mapping[str, np.ndarray] | None,
    rules: SelectionRules | None,
    params: Mapping[str, Mapping[str, Any]] | None,
    dbcv_sample: int,
) -> Comparison:
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ConfigError("methods is empty; give at least one of " f"{list(METHODS)}.")
    unknown = [m for m in methods if m not in METHOD_CLASSES]
    if unknown:
        raise ConfigError(f"method(s) {unknown} are unknown; use {list(METHODS)}.")
    if fit_sample < 100:
        raise ConfigError(f"fit_sample={fit_sample} is too small; use at least 100.")
    rules = rules or SelectionRules()
    params = params or {}
    X = np.asarray(X, dtype=float)
    truth = None if truth is None else np.asarray(truth, dtype=object)
    fit_rows = sample_rows(len(X), fit_sample, random_state)
    Xfit = X[fit_rows]
    results: dict[str, MethodResult] = {}
    scans: dict[str, KScan] = {}
    for method in methods:
        extra = dict(params.get(method, {}))
        if method in K_METHODS:
            scan = scan_k(Xfit, method, k_range, random_state=random_state,
                          sample_size=sample_size, n_resamples=n_resamples, params=extra)
            k = pick_k(scan.scores, rules)
            scan.scores["chosen"] = scan.scores["k"] == k
            scans[method] = scan
            # The scan's fit at the chosen k is the final model (same seed, same data).
            model = scan.models[k]
            chosen = scan.scores.loc[scan.scores["chosen"]]
            fit_seconds = float(chosen["fit_seconds"].iat[0])
            stab = float(chosen["stability"].iat[0])
        else:
            started = time.perf_counter()
            model = make_method(method, random_state=random_state, **extra).fit(Xfit)
            fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        raw = model.labels_.copy()
        if len(fit_rows) < len(X):
            raw = model.predict(X)
            raw[fit_rows] = model.labels_
        seconds = fit_seconds + time.perf_counter() - started
        if method not in K_METHODS:
            stab = stability(
                Xfit, model.labels_,
                lambda seed, m=method, e=extra: make_method(m, random_state=seed, **e),
                n_resamples=n_resamples, random_state=random_state,
            )
        order = value_order(raw, value)
        labels = pd.Series(raw).map(order).to_numpy(dtype=int)
        scores = {
            "method": method,
            "kind": "clustering",
            **_score_labels(X, labels, sample_size=sample_size, random_state=random_state,
                            truth=truth),
            "dbcv": (dbcv(X, labels, sample_size=dbcv_sample, random_state=random_state)
                     if method in DENSITY_METHODS else np.nan),
            "stability": stab,
            "seconds": round(seconds, 3),
            "fit_customers": len(fit_rows),
            "params": _describe_params(model),
        }
        results[method] = MethodResult(method, scores["k"], model, labels, scores, order)
        logger.info("fitted %s: k=%s silhouette=%.3f stability=%.3f", method, scores["k"],
                    scores["silhouette"], stab)
    for name, segments in (baselines or {}).items():
        codes = pd.Series(pd.Categorical(np.asarray(segments, dtype=object)).codes)
        raw = codes.to_numpy(dtype=int)
        order = value_order(raw, value)
        labels = pd.Series(raw).map(order).to_numpy(dtype=int)
        scores = {
            "method": f"rule: {name}",
            "kind": "rule baseline",
            **_score_labels(X, labels, sample_size=sample_size, random_state=random_state,
                            truth=truth),
            "dbcv": np.nan,
            "stability": np.nan,
            "seconds": np.nan,
            "fit_customers": np.nan,
            "params": "",
        }
        results[scores["method"]] = MethodResult(scores["method"], scores["k"], None, labels,
                                                 scores, order)
    columns = ["method", "kind", "k", "silhouette", "silhouette_sample", "calinski_harabasz",
               "davies_bouldin", "dbcv", "noise_share", "smallest_cluster_share", "stability",
               "seconds", "fit_customers", "ari_truth", "ami_truth", "params"]
    table = pd.DataFrame([r.scores for r in results.values()])
    table = table[[c for c in columns if c in table]]
    return Comparison(table, results, scans, agreement({n: r.labels for n, r in results.items()}),
                      fit_rows)


def display_comparison(comparison: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Return the comparison table with its method kinds and rule names in ``lang``.

    ``clustering_comparison.csv`` keeps the English values (``rule: rfm_segment``,
    ``rule baseline``); this copy is for the report.

    Parameters
    ----------
    comparison : pandas.DataFrame
        From :func:`compare_methods`.
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    pandas.DataFrame
        A copy; the same values in English.
    """
    out = comparison.copy()
    if lang == "en" or out.empty:
        return out
    if "method" in out:
        out["method"] = out["method"].map(
            lambda m: i18n.text("rule: {name}", lang, name=i18n.column_label(m[6:], lang))
            if isinstance(m, str) and m.startswith("rule: ") else m)
    if "kind" in out:
        kinds = {"clustering": i18n.text("clustering", lang),
                 "rule baseline": i18n.text("rule baseline", lang)}
        out["kind"] = out["kind"].map(lambda k: kinds.get(k, k))
    return out

def agreement(labels: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Pairwise adjusted Rand index between labellings of the same customers.

    Parameters
    ----------
    labels : mapping
        Name → labels (noise -1 counts as a label).

    Returns
    -------
    pandas.DataFrame
        Square, symmetric, 1 on the diagonal.
    """
    names = list(labels)
    values = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            values[i, j] = values[j, i] = adjusted_rand_score(labels[a], labels[names[j]])
    return pd.DataFrame(values, index=names, columns=names)


def method_score(comparison: pd.DataFrame) -> pd.Series:
    """Return the ``auto`` score of each row: silhouette x stability x (1 - noise share)."""
    return (comparison["silhouette"].fillna(0) * comparison["stability"].fillna(0)
            * (1 - comparison["noise_share"]))


def pick_method(comparison: pd.DataFrame, method: str = "auto",
                rules: SelectionRules | None = None) -> str:
    """Return the method to use: ``method`` itself, or the best one for ``"auto"``.

    ``"auto"`` follows the method rule of :class:`SelectionRules` (stable, little
    noise, no tiny cluster; then the most segments among those nearly as well
    separated as the best); rule baselines are never chosen.

    Parameters
    ----------
    comparison : pandas.DataFrame
        ``Comparison.table``.
    method : str
        A method name or ``"auto"``.
    rules : SelectionRules, optional
        Thresholds.

    Returns
    -------
    str
        The chosen method.

    Raises
    ------
    ConfigError
        If ``method`` was not compared.
    """
    rules = rules or SelectionRules()
    candidates = comparison
    if "kind" in comparison:
        candidates = comparison[comparison["kind"] == "clustering"]
    if method != "auto":
        if method not in set(candidates["method"]):
            raise ConfigError(
                f"method={method!r} was not compared; choose one of "
                f"{list(candidates['method'])} or 'auto'."
            )
        return method
    frame = candidates.assign(
        stability=candidates["stability"].fillna(1.0) if "stability" in candidates else 1.0,
        smallest_cluster_share=candidates["smallest_cluster_share"]
        if "smallest_cluster_share" in candidates else 1.0,
    )
    frame = frame.assign(score=method_score(frame))
    admissible = frame[(frame["noise_share"] <= rules.max_noise)
                       & (frame["stability"] >= rules.min_stability)
                       & (frame["smallest_cluster_share"] >= rules.min_cluster_share)
                       & frame["silhouette"].notna()]
    if admissible.empty:
        return str(frame.loc[frame["score"].idxmax(), "method"])
    near = admissible[admissible["silhouette"]
                      >= admissible["silhouette"].max() - rules.silhouette_tolerance]
    best = near.sort_values(["k", "score"], ascending=False, kind="stable")
    return str(best["method"].iat[0])


# --- Understanding the clusters ----------------------------------------------------------


def cluster_profile(features: pd.DataFrame, labels: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Standardised mean of each feature per cluster (z-scores), for a heatmap.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table, or the transform's :meth:`FeatureTransform.standardised` frame.
    labels : numpy.ndarray
        Cluster per customer.
    columns : list of str
        Features to profile.

    Returns
    -------
    pandas.DataFrame
        One row per cluster, one column per feature (readable names).
    """
    values = features[columns].astype(float)
    z = (values - values.mean()) / values.std(ddof=0).replace(0, 1)
    profile = z.groupby(np.asarray(labels)).mean().rename_axis("cluster")
    return profile.rename(columns=feature_label)


#: Columns of :func:`cluster_summary`: (output name, customer column, aggregation).
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("median_revenue", "revenue", "median"),
    ("median_orders", "orders", "median"),
    ("median_order_value", "avg_order_value", "median"),
    ("median_days_since_last_order", "days_since_last_order", "median"),
    ("median_tenure_days", "tenure_days", "median"),
    ("mean_discount_share", "discount_share", "mean"),
    ("mean_return_share", "return_share", "mean"),
)


def cluster_summary(customers: pd.DataFrame, labels: np.ndarray, *,
                    value_col: str = "revenue") -> pd.DataFrame:
    """Size, revenue share and typical values per cluster, in the data's own units.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer table.
    labels : numpy.ndarray
        Cluster per customer (-1 = noise).
    value_col : str
        Column summed for the value share.

    Returns
    -------
    pandas.DataFrame
        One row per cluster: ``customers``, ``customer_share``, ``revenue_share`` and
        the medians/means of :data:`SUMMARY_COLUMNS` present in the table.
    """
    frame = customers.assign(_cluster=np.asarray(labels))
    groups = frame.groupby("_cluster")
    out = pd.DataFrame({"customers": groups.size()})
    out["customer_share"] = out["customers"] / len(frame)
    if value_col in frame:
        out["revenue_share"] = groups[value_col].sum() / frame[value_col].sum()
    for name, column, how in SUMMARY_COLUMNS:
        if column in frame:
            out[name] = groups[column].agg(how)
    return out.rename_axis("cluster")


def parse_names(value: str | Sequence[str], *, what: str = "") -> list[str]:
    """Split a comma-separated list of names (as notebook parameters give them).

    Parameters
    ----------
    value : str or sequence of str
        ``"kmeans, gmm"`` or ``["kmeans", "gmm"]``.
    what : str
        Name of the parameter; when given, an empty list is an error.

    Returns
    -------
    list of str
        Names, stripped, empty ones dropped, order kept.

    Raises
    ------
    ConfigError
        If ``what`` is given and no name is left.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names if str(n).strip()]
    if what and not names:
        raise ConfigError(f"{what}={value!r} is empty; give at least one name.")
    return names


def map_coordinates(X: np.ndarray, *, sample_size: int = 3000, method: str = "pca",
                    random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Project a sample of customers to two dimensions for cluster maps.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    sample_size : int
        Customers drawn (a random sample when there are more).
    method : {"pca", "umap"}
        Principal components (fast, axes mean something) or UMAP (groups show more
        clearly, distances between groups mean little).
    random_state : int
        Seed of the sample and the projection.

    Returns
    -------
    rows : numpy.ndarray
        Rows of ``X`` drawn.
    xy : numpy.ndarray
        Their coordinates, shape ``(len(rows), 2)``.

    Raises
    ------
    ConfigError
        If ``method`` is unknown.
    """
    rows = sample_rows(len(X), sample_size, random_state)
    if method == "pca":
        from sklearn.decomposition import PCA

        return rows, PCA(n_components=2, random_state=random_state).fit_transform(X[rows])
    if method == "umap":
        import warnings

        umap = _import_umap()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*")
            xy = umap.UMAP(n_components=2, random_state=random_state, n_jobs=1,
                           n_epochs=200).fit_transform(X[rows])
        return rows, xy
    raise ConfigError(f"map method={method!r} is unknown; use 'pca' or 'umap'.")


def peak_memory_mb() -> float | None:
    """Return the process's peak resident memory in MB (None where the OS cannot tell).

    On Linux this is ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` is inherited
    across ``fork`` and ``exec``, so a notebook kernel started by a process holding
    gigabytes would report that process's peak as its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**10, 1)
    try:
        import resource
    except ImportError:  # Windows
        return None
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
