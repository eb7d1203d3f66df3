from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from seglab import cluster, study
from seglab.errors import ConfigError, InputError
from seglab.feature_transform import FeatureTransform, load_transform
from seglab.features import customer_features
from seglab.runfolder import read_json


@pytest.fixture(scope="module")
def blobs():
    X, truth = make_blobs(n_samples=600, centers=4, cluster_std=0.6, random_state=3)
    return X, truth


@pytest.fixture(scope="module")
def small_blobs():
    X, truth = make_blobs(n_samples=300, centers=3, n_features=4, cluster_std=0.7,
                          random_state=5)
    return X, truth


@pytest.fixture(scope="module")
def table(request):
    from conftest import random_transactions

    return customer_features(random_transactions(n_customers=80, seed=2))


# --- UMAP's compiled kernels ----------------------------------------------------------------


def umap_kernels() -> dict:
    """umap-learn's numba kernels by name (the modules listed here, not by seglab)."""
    from numba.core.dispatcher import Dispatcher

    umap = cluster._import_umap()
    modules = (umap.umap_, umap.utils, umap.layouts, umap.distances, umap.spectral)
    return {f"{m.__name__}.{name}": kernel for m in modules
            for name, kernel in vars(m).items() if isinstance(kernel, Dispatcher)}


def test_every_umap_kernel_is_cached_across_processes():
    """umap-learn compiles its kernels anew in every process (about 10 s) unless cached."""
    kernels = umap_kernels()
    assert {"umap.utils.fast_knn_indices", "umap.umap_.smooth_knn_dist"} <= set(kernels)
    uncached = [name for name, kernel in kernels.items()
                if type(kernel._cache).__name__ == "NullCache"]
    assert uncached == []


def test_compiled_kernels_are_those_a_fit_needs(small_blobs):
    """``make install`` compiles UMAP's kernels once: a fit after it compiles nothing."""
    cluster.compile_kernels()
    kernels = umap_kernels()
    compiled = {name: list(kernel.signatures) for name, kernel in kernels.items()}
    assert sum(map(len, compiled.values())) >= 5  # the layout epoch, smooth_knn_dist, ...
    cluster.make_method("umap_hdbscan", random_state=3).fit(small_blobs[0])
    assert {name: list(kernel.signatures) for name, kernel in kernels.items()} == compiled


# --- methods ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cluster.METHODS)
def test_same_seed_same_labels_and_predict_matches_fit(small_blobs, name):
    X, truth = small_blobs
    k = 3 if name in cluster.K_METHODS else None
    a = cluster.make_method(name, k, random_state=7).fit(X)
    b = cluster.make_method(name, k, random_state=7).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.get_params() == b.get_params()
    assert adjusted_rand_score(truth, a.labels_) > 0.9
    assert a.membership_.shape == (len(X),)
    assert ((a.membership_ >= 0) & (a.membership_ <= 1)).all()
    predicted = a.predict(X)
    assert np.mean(predicted == a.labels_) > 0.9
    a.chunk_size = 7  # assignment in chunks gives the same answer
    np.testing.assert_array_equal(a.predict(X), predicted)


def test_hdbscan_reports_noise_and_membership():
    X, _ = make_blobs(n_samples=400, centers=3, cluster_std=0.5, random_state=1)
    rng = np.random.default_rng(0)
    X = np.vstack([X, rng.uniform(X.min(), X.max(), size=(40, 2))])
    model = cluster.make_method("hdbscan").fit(X)
    assert model.n_clusters_ == 3
    assert (model.labels_ == -1).any()
    assert model.membership_[model.labels_ == -1].max() == 0
    assert 0.3 < cluster.dbcv(X, model.labels_) <= 1


def test_ward_on_a_sample_assigns_everyone_to_the_nearest_centre(blobs):
    X, truth = blobs
    model = cluster.WardClusterer(4, max_samples=200, random_state=0).fit(X)
    assert model.centers_.shape == (4, 2)
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    nearest = ((X[:, None, :] - model.centers_[None]) ** 2).sum(axis=2).argmin(axis=1)
    np.testing.assert_array_equal(model.predict(X), nearest)


def test_make_method_errors():
    with pytest.raises(ConfigError, match="method='dbscan' is unknown"):
        cluster.make_method("dbscan")
    with pytest.raises(ConfigError, match="method='kmeans' needs a number of clusters"):
        cluster.make_method("kmeans")
    with pytest.raises(InputError, match="n_samples=3 should be >= n_clusters=4"):
        cluster.make_method("kmeans", 4).fit(np.zeros((3, 2)))


# --- k and method choice -----------------------------------------------------------------


def test_scan_k_finds_planted_blobs(blobs):
    X, _ = blobs
    for method in cluster.K_METHODS:
        scan = cluster.scan_k(X, method, range(2, 7), random_state=0, n_resamples=2)
        assert cluster.pick_k(scan.scores) == 4, method
        assert set(scan.models) == {2, 3, 4, 5, 6}
        assert scan.scores["elbow"].sum() == 1
    assert "bic" in scan.scores or method != "gmm"
    with pytest.raises(ConfigError, match="method='hdbscan' takes no k"):
        cluster.scan_k(X, "hdbscan")
    with pytest.raises(InputError, match="too few to try k=300"):
        cluster.scan_k(X, "kmeans", range(2, 301))


def test_pick_k_rule():
    scores = pd.DataFrame({
        "k": [2, 3, 4, 5, 6, 7],
        "silhouette": [0.40, 0.30, 0.42, 0.39, 0.38, 0.45],
        "stability": [0.99, 0.60, 0.95, 0.90, 0.85, 0.95],
        "smallest_cluster_share": [0.4, 0.3, 0.2, 0.1, 0.05, 0.01],
    })
    # 3 is unstable and 7 has a 1% cluster; of the rest, 6 is the largest k within
    # 0.05 of the best silhouette (0.42)
    assert cluster.pick_k(scores) == 6
    assert cluster.pick_k(scores, cluster.SelectionRules(silhouette_tolerance=0.01)) == 4
    assert cluster.pick_k(scores, cluster.SelectionRules(min_stability=0.92)) == 4
    unstable = scores.assign(stability=[0.5, 0.6, 0.55, 0.7, 0.4, 0.3])
    assert cluster.pick_k(unstable) == 5  # nothing admissible: the most stable k


def test_elbow():
    assert cluster.elbow([1, 2, 3, 4, 5, 6], [100, 40, 20, 15, 12, 10]) == 3
    assert cluster.elbow([2, 3], [5, 4]) == 2


def test_labels_ordered_by_value():
    labels = np.array([2, 2, 0, 0, 1, 1, -1])
    value = np.array([1.0, 1.0, 5.0, 5.0, 9.0, 9.0, 100.0])
    assert cluster.order_by_value(labels, value).tolist() == [2, 2, 1, 1, 0, 0, -1]
    assert cluster.value_order(labels, value) == {1: 0, 0: 1, 2: 2, -1: -1}


def test_pick_method_rule():
    comparison = pd.DataFrame({
        "method": ["kmeans", "gmm", "ward", "umap_hdbscan", "hdbscan", "rule: rfm_segment"],
        "kind": ["clustering"] * 5 + ["rule baseline"],
        "k": [6, 6, 7, 4, 8, 11],
        "silhouette": [0.25, 0.27, 0.26, 0.30, 0.50, 0.90],
        "stability": [0.95, 0.96, 0.70, 0.97, 0.95, np.nan],
        "noise_share": [0.0, 0.0, 0.0, 0.0, 0.5, 0.0],
        "smallest_cluster_share": [0.05, 0.05, 0.05, 0.10, 0.02, 0.01],
    })
    # ward is unstable, hdbscan leaves half out, the rule is never chosen; of the rest,
    # all are within 0.05 of the best silhouette (0.30): most segments wins (6), and the
    # tie between kmeans and gmm goes to silhouette x stability
    assert cluster.pick_method(comparison) == "gmm"
    strict = cluster.SelectionRules(silhouette_tolerance=0.01)
    assert cluster.pick_method(comparison, rules=strict) == "umap_hdbscan"
    loose = cluster.SelectionRules(min_stability=0.6)
    assert cluster.pick_method(comparison, rules=loose) == "ward"
    nothing = cluster.SelectionRules(min_stability=0.99)  # best silhouette x stability
    assert cluster.pick_method(comparison, rules=nothing) == "umap_hdbscan"
    assert cluster.pick_method(comparison, "hdbscan") == "hdbscan"
    with pytest.raises(ConfigError, match="method='spectral' was not compared"):
        cluster.pick_method(comparison, "spectral")
    with pytest.raises(ConfigError, match="method='rule: rfm_segment' was not compared"):
        cluster.pick_method(comparison, "rule: rfm_segment")


# --- comparison ---------------------------------------------------------------------------


COLUMNS = ("method", "kind", "k", "silhouette", "silhouette_sample", "calinski_harabasz",
           "davies_bouldin", "dbcv", "noise_share", "smallest_cluster_share", "stability",
           "seconds", "fit_customers", "ari_truth", "ami_truth")


def test_compare_methods_table(blobs):
    X, truth = blobs
    rule = np.where(X[:, 0] > np.median(X[:, 0]), "high", "low")
    result = cluster.compare_methods(
        X, X[:, 0], methods=("kmeans", "gmm", "ward", "hdbscan"), k_range=range(2, 7),
        random_state=0, n_resamples=2, truth=truth, baselines={"half": rule})
    table = result.table
    assert tuple(table.columns[: len(COLUMNS)]) == COLUMNS
    assert list(table["method"]) == ["kmeans", "gmm", "ward", "hdbscan", "rule: half"]
    by = table.set_index("method")
    assert (by.loc[["kmeans", "gmm", "ward", "hdbscan"], "ari_truth"] > 0.95).all()
    assert by.loc["rule: half", "k"] == 2 and np.isnan(by.loc["rule: half", "stability"])
    assert np.isnan(by.loc["kmeans", "dbcv"]) and by.loc["hdbscan", "dbcv"] > 0.5
    assert by.loc["kmeans", "stability"] == pytest.approx(1.0)
    assert set(result.k_scores) == {"kmeans", "gmm", "ward"}
    assert result.k_scores["kmeans"]["chosen"].sum() == 1
    agreement = result.agreement
    assert list(agreement.index) == list(table["method"])
    np.testing.assert_allclose(agreement.to_numpy(), agreement.to_numpy().T)
    assert agreement.loc["kmeans", "gmm"] == pytest.approx(1.0)
    # cluster 0 has the highest mean value
    labels = result.results["kmeans"].labels
    means = pd.Series(X[:, 0]).groupby(labels).mean()
    assert means.idxmax() == 0 and means.is_monotonic_decreasing


def test_compare_methods_fits_on_a_sample_and_assigns_everyone(blobs):
    X, truth = blobs
    result = cluster.compare_methods(X, X[:, 0], methods=("kmeans", "hdbscan"),
                                     k_range=range(3, 6), fit_sample=200, n_resamples=1,
                                     sample_size=150, truth=truth)
    by = result.table.set_index("method")
    assert (by["fit_customers"] == 200).all()
    assert (by["silhouette_sample"] <= 150).all()
    assert len(result.fit_rows) == 200
    model = result.results["kmeans"]
    assert len(model.labels) == len(X)
    assert by.loc["kmeans", "ari_truth"] > 0.95


def test_compare_methods_errors(blobs):
    X, _ = blobs
    with pytest.raises(ConfigError, match=r"method\(s\) \['kmedoids'\] are unknown"):
        cluster.compare_methods(X, X[:, 0], methods=("kmeans", "kmedoids"))
    with pytest.raises(ConfigError, match="methods is empty"):
        cluster.compare_methods(X, X[:, 0], methods=())
    with pytest.raises(ConfigError, match="k_range=\\[1, 2\\] must hold"):
        cluster.compare_methods(X, X[:, 0], methods=("kmeans",), k_range=[1, 2])


def test_profile_and_summary(table):
    labels = np.where(table["orders"] > table["orders"].median(), 0, 1)
    transform = FeatureTransform("behaviour").fit(table)
    z = transform.standardised(table)
    profile = cluster.cluster_profile(z, labels, list(z.columns))
    assert list(profile.index) == [0, 1]
    assert "orders" in profile and profile.loc[0, "orders"] > 0 > profile.loc[1, "orders"]
    summary = cluster.cluster_summary(table, labels)
    assert summary["customers"].sum() == len(table)
    assert summary["revenue_share"].sum() == pytest.approx(1.0)


# --- the stage ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster-run")
    study.stage_inputs(folder, n_customers=400, seed=3)
    study.feature_stage(folder)
    return folder


FAST = {"methods": "kmeans,gmm,ward,hdbscan", "k_max": 6, "n_resamples": 2}


def test_cluster_stage_writes_files_and_reproduces(staged):
    first = study.cluster_stage(staged, **FAST)
    customers = pd.read_csv(staged / "customers.csv", dtype={"customer_id": str})
    comparison = pd.read_csv(staged / "clustering_comparison.csv")
    assert set(COLUMNS) <= set(comparison.columns)
    assert comparison["chosen"].sum() == 1
    assert {"rule: rfm_segment", "rule: value_tier", "rule: lifecycle_stage"} <= set(
        comparison["method"])
    assert comparison["ari_truth"].notna().all()
    assert customers["cluster"].tolist() == first.labels[first.chosen].tolist()
    assert (customers["cluster_method"] == first.chosen).all()
    k_table = pd.read_csv(staged / "k_selection.csv")
    assert set(k_table["method"]) == {"kmeans", "gmm", "ward"}
    assert (staged / "cluster_agreement.csv").is_file()
    model = joblib.load(staged / "cluster_model.joblib")
    assert isinstance(model, cluster.SegmentModel)
    np.testing.assert_array_equal(model.predict(first.customers, chunk_size=57),
                                  first.customers["cluster"].to_numpy())
    means = first.customers[first.customers["cluster"] >= 0].groupby("cluster")[
        "revenue"].mean()
    assert means.is_monotonic_decreasing
    assert first.map_xy.shape == (len(first.map_rows), 2)
    assert set(first.method_labels) == {"kmeans", "gmm", "ward", "hdbscan"}

    second = study.cluster_stage(staged, **FAST)
    for name, labels in first.labels.items():
        np.testing.assert_array_equal(labels, second.labels[name])
    pd.testing.assert_frame_equal(first.comparison.drop(columns="seconds"),
                                  second.comparison.drop(columns="seconds"))


def test_cluster_stage_errors(staged):
    with pytest.raises(ConfigError, match="k_min=5, k_max=3"):
        study.cluster_stage(staged, k_min=5, k_max=3)
    with pytest.raises(ConfigError, match=r"method\(s\) \['spectral'\] are unknown"):
        study.cluster_stage(staged, methods="kmeans,spectral")
    with pytest.raises(ConfigError, match="method='hdbscan' was not compared"):
        study.cluster_stage(staged, methods="kmeans", k_max=4, n_resamples=1,
                            method="hdbscan")
    with pytest.raises(ConfigError, match="n_resamples=0"):
        study.cluster_stage(staged, n_resamples=0)


@pytest.fixture(scope="module")
def staged_1500(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster-sample-run")
    study.stage_inputs(folder, n_customers=1500, seed=4)
    study.feature_stage(folder)
    return folder


SAMPLED = {"methods": "kmeans,gmm", "k_max": 5, "n_resamples": 1, "fit_sample": 200,
           "compare_sample": 300}


def test_cluster_stage_compares_a_sample_then_assigns_everyone(staged_1500):
    result = study.cluster_stage(staged_1500, seed=1, **SAMPLED)
    customers = pd.read_csv(staged_1500 / "customers.csv", dtype={"customer_id": str})
    assert len(customers) == len(result.customers) == 1500
    rows = result.compared_rows
    assert len(rows) == 300 and len(np.unique(rows)) == 300 and rows.max() < 1500
    methods = result.comparison[result.comparison["kind"] == "clustering"]
    assert (methods["fit_customers"] == 200).all()
    assert all(len(labels) == 300 for labels in result.labels.values())
    assert result.matrix.shape[0] == 300 and result.map_rows.max() < 300
    # the matrix comes from the run's one transform, fitted on every customer by stage 02
    saved = load_transform(staged_1500 / "feature_transform.joblib")
    np.testing.assert_array_equal(result.matrix, saved.transform(result.customers.iloc[rows]))
    # every customer is assigned by the chosen method's saved model
    model = joblib.load(staged_1500 / "cluster_model.joblib")
    assert model.method == result.chosen
    assigned = model.predict(result.customers, chunk_size=111)
    np.testing.assert_array_equal(customers["cluster"].to_numpy(), assigned)
    assert (customers["cluster_method"] == result.chosen).all()
    assert set(np.unique(assigned)) <= set(model.order.values())
    assert result.summary["customers"].sum() == 1500
    assert result.sampling_note.startswith("Methods compared on a random sample of 300 of 1,500")
    metrics = read_json(staged_1500 / "metrics.json")["clustering"]
    assert (metrics["customers"], metrics["compared_customers"]) == (1500, 300)
    assert metrics["assign_seconds"] >= 0 and metrics["peak_memory_mb"] > 0
    truth = pd.read_csv(staged_1500 / "inputs" / "truth.csv", dtype={"customer_id": str})
    planted = customers.merge(truth, on="customer_id")["segment"]
    assert metrics["ari_truth_all_customers"] == pytest.approx(
        adjusted_rand_score(planted, customers["cluster"]), abs=1e-6)
    sample_ari = methods.set_index("method").loc[result.chosen, "ari_truth"]
    assert metrics["ari_truth"] == pytest.approx(sample_ari, abs=1e-6)

    again = study.cluster_stage(staged_1500, seed=1, **SAMPLED)
    np.testing.assert_array_equal(again.compared_rows, rows)
    np.testing.assert_array_equal(again.customers["cluster"], result.customers["cluster"])
    pd.testing.assert_frame_equal(again.comparison.drop(columns="seconds"),
                                  result.comparison.drop(columns="seconds"))
    other = study.cluster_stage(staged_1500, seed=2, **SAMPLED)
    assert not np.array_equal(other.compared_rows, rows)


def test_cluster_stage_below_compare_sample_is_unsampled(staged):
    everyone = len(study.customer_table(staged))
    light = {"methods": "kmeans,hdbscan", "k_max": 5, "n_resamples": 1}
    at = study.cluster_stage(staged, compare_sample=everyone, **light)
    above = study.cluster_stage(staged, compare_sample=10 * everyone, **light)
    np.testing.assert_array_equal(at.compared_rows, np.arange(everyone))
    assert at.sampling_note == ""
    for name, labels in above.labels.items():
        assert len(labels) == everyone
        np.testing.assert_array_equal(at.labels[name], labels)
    np.testing.assert_array_equal(at.customers["cluster"], at.labels[at.chosen])
    np.testing.assert_array_equal(at.matrix, above.matrix)
    pd.testing.assert_frame_equal(at.comparison.drop(columns="seconds"),
                                  above.comparison.drop(columns="seconds"))
    pd.testing.assert_frame_equal(at.profile, above.profile)
    with pytest.raises(ConfigError, match="compare_sample=50 is too small"):
        study.cluster_stage(staged, compare_sample=50, **light)
