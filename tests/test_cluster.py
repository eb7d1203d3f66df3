from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from seglab import cluster
from seglab.errors import ConfigError
from seglab.features import customer_features


@pytest.fixture
def blobs():
    X, truth = make_blobs(n_samples=600, centers=4, cluster_std=0.6, random_state=3)
    return X, truth


def test_choose_k_finds_planted_blobs(blobs):
    X, _ = blobs
    for method in ("kmeans", "gmm"):
        scores = cluster.choose_k(X, method, range(2, 8), random_state=0)
        assert cluster.pick_k(scores, method) == 4, method


def test_compare_methods_table(blobs):
    X, truth = blobs
    value = X[:, 0]
    comparison, _, k_scores = cluster.compare_methods(
        X, value, k_range=range(2, 7), random_state=0, truth=truth)
    assert list(comparison["method"]) == list(cluster.METHODS)
    for column in ("k", "silhouette", "calinski_harabasz", "davies_bouldin", "noise_share",
                   "smallest_cluster_share", "seconds", "ari_truth", "ami_truth"):
        assert column in comparison, column
    kmeans = comparison.set_index("method").loc["kmeans"]
    assert kmeans["ari_truth"] > 0.95
    assert k_scores["kmeans"]["chosen"].sum() == 1


def test_same_seed_same_labels(blobs):
    X, _ = blobs
    a = cluster.fit_method(X, "gmm", 4, X[:, 0], random_state=7).labels
    b = cluster.fit_method(X, "gmm", 4, X[:, 0], random_state=7).labels
    np.testing.assert_array_equal(a, b)


def test_labels_ordered_by_value():
    labels = np.array([2, 2, 0, 0, 1, 1, -1])
    value = np.array([1.0, 1.0, 5.0, 5.0, 9.0, 9.0, 100.0])
    assert cluster.order_by_value(labels, value).tolist() == [2, 2, 1, 1, 0, 0, -1]


def test_hdbscan_predicts_new_points(blobs):
    X, _ = blobs
    model = cluster.make_method("hdbscan").fit(X)
    assert len(set(model.labels_) - {-1}) >= 3
    predicted = model.predict(X[:20])
    assert np.mean(predicted == model.labels_[:20]) > 0.8


def test_pick_method_auto_avoids_noisy_methods():
    comparison = pd.DataFrame({"method": ["kmeans", "hdbscan"], "silhouette": [0.3, 0.6],
                               "noise_share": [0.0, 0.5]})
    assert cluster.pick_method(comparison) == "kmeans"
    assert cluster.pick_method(comparison, "hdbscan") == "hdbscan"
    with pytest.raises(ConfigError, match="method='ward'"):
        cluster.pick_method(comparison, "ward")


def test_transform_logs_and_scales(transactions):
    table = customer_features(transactions)
    transform = cluster.make_transform(table, "behaviour").fit(table)
    X = transform.transform(table)
    assert X.shape[0] == len(table)
    assert np.allclose(X.mean(axis=0), 0, atol=1e-9)
    assert not np.isnan(X).any()
    with pytest.raises(ConfigError, match="feature_set='nope'"):
        cluster.make_transform(table, "nope")
