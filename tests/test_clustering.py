"""Segmentation: churn-ordered ids, inertia, stability tells stable from unstable, k-scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from gym_churn import clustering as cl


def test_order_by_churn_puts_lowest_churn_first() -> None:
    labels = np.array([7, 7, 3, 3, 3, 9, 9])
    churn = np.array([1, 1, 0, 0, 1, 0, 0])
    ordered = cl.order_by_churn(labels, churn)
    # label 9: 0% -> 0, label 3: 33% -> 1, label 7: 100% -> 2
    assert ordered.tolist() == [2, 2, 1, 1, 1, 0, 0]


def test_order_by_churn_is_invariant_to_label_permutation() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    churn = (rng.random(200) < (labels + 1) / 6).astype(int)
    permuted = np.array([3, 0, 2, 1])[labels]
    assert np.array_equal(cl.order_by_churn(labels, churn), cl.order_by_churn(permuted, churn))


def test_inertia_hand_computed() -> None:
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    # cluster 0 mean (1, 0): 1 + 1; cluster 1 single point: 0
    assert cl.inertia(X, np.array([0, 0, 1])) == pytest.approx(2.0)


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative"])
def test_stability_tells_stable_from_unstable(algorithm: str) -> None:
    blobs, _ = make_blobs(400, centers=4, cluster_std=0.5, center_box=(-20, 20), random_state=1)
    # Isotropic noise has no cluster structure: every 4-way split is as good as another.
    noise = np.random.default_rng(1).normal(size=(400, 6))
    cfg = cl.ClusterConfig(algorithm, 4, 3, seed=5)
    stable = cl.stability(blobs, cl.fit_labels(blobs, cfg), cfg, resamples=5, fraction=0.8)
    unstable = cl.stability(noise, cl.fit_labels(noise, cfg), cfg, resamples=5, fraction=0.8)
    assert stable > 0.95
    assert unstable < 0.6


def _members(n: int = 300, seed: int = 0) -> pd.DataFrame:
    X, y = make_blobs(
        n, centers=3, n_features=3, cluster_std=0.7, center_box=(-20, 20), random_state=seed
    )
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["Churn"] = (y == 2).astype(int)
    return frame


def test_segment_orders_ids_and_assigner_reproduces_labels() -> None:
    members = _members()
    churn = members["Churn"].to_numpy()
    cfg = cl.ClusterConfig("kmeans", 3, 5, seed=0)
    seg = cl.segment(
        members, ["a", "b", "c"], churn, cfg, resamples=3, fraction=0.8, silhouette_rows=200
    )
    rates = [c["churn_rate"] for c in cl.segment_summary(seg.labels, churn)]
    assert rates == sorted(rates)
    assert np.array_equal(seg.assigner.predict(members[["a", "b", "c"]]), seg.labels)
    assert seg.stability_ari > 0.9
    assert -1 <= seg.silhouette <= 1


def test_segment_does_not_mutate_input() -> None:
    members = _members()
    before = members.copy()
    cfg = cl.ClusterConfig("agglomerative", 3, 1, seed=0)
    cl.segment(
        members, ["a", "b"], members["Churn"].to_numpy(), cfg,
        resamples=2, fraction=0.5, silhouette_rows=100,
    )  # fmt: skip
    pd.testing.assert_frame_equal(members, before)


def test_k_scan_rows_and_inertia_decreases() -> None:
    scan = cl.k_scan(
        _members(), ["a", "b", "c"], cl.ClusterConfig("kmeans", 3, 3, seed=0), [2, 3, 4, 5],
        resamples=2, fraction=0.8, silhouette_rows=300,
    )  # fmt: skip
    assert scan["k"].tolist() == [2, 3, 4, 5]
    assert scan["inertia"].is_monotonic_decreasing
    # three true blobs: k = 3 separates best
    assert scan.loc[scan["silhouette"].idxmax(), "k"] == 3


def test_segment_summary_shares_sum_to_one() -> None:
    summary = cl.segment_summary(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 0, 0, 1]))
    assert [s["size"] for s in summary] == [2, 1, 3]
    assert sum(s["share"] for s in summary) == pytest.approx(1.0)
    assert summary[0]["churn_rate"] == pytest.approx(0.5)


def test_dendrogram_linkage_uses_seeded_sample() -> None:
    members = _members(300)
    link_a, rows = cl.dendrogram_linkage(members, ["a", "b"], 50, seed=3)
    link_b, _ = cl.dendrogram_linkage(members, ["a", "b"], 50, seed=3)
    assert rows == 50
    assert link_a.shape == (49, 4)
    assert np.array_equal(link_a, link_b)
