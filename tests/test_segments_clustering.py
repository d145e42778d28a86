"""Segmentation (gym_churn.segments.clustering): the contract's segment encoder, churn-ordered
ids, inertia, stability tells stable from unstable, the k-scan, the assigner for new members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.validation import check_is_fitted

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.features import add_features, model_inputs
from gym_churn.segments import clustering as cl
from tests.conftest import make_members, make_other

PLANS = ["basic", "plus", "premium"]
REGIONS = [f"r{i:02d}" for i in range(12)]


def _blob_contract():
    return parse_contract(
        {
            "target": {"column": "Churn", "positive": [1], "negative": [0]},
            "features": {c: {"kind": "numeric"} for c in ("a", "b", "c")},
        },
        source="blobs.yaml",
    )


def _members(n: int = 300, seed: int = 0) -> pd.DataFrame:
    X, y = make_blobs(
        n, centers=3, n_features=3, cluster_std=0.7, center_box=(-20, 20), random_state=seed
    )
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["Churn"] = (y == 2).astype(int)
    return frame


def _other_inputs(n: int = 60, seed: int = 0, contract=None) -> pd.DataFrame:
    members = check_export(make_other(n, seed), contract, source="other.csv").members
    return model_inputs(add_features(members, contract), contract)


# ---------------------------------------------------------------- pure pieces


def test_order_by_churn_puts_lowest_churn_first() -> None:
    labels = np.array([7, 7, 3, 3, 3, 9, 9])
    churn = np.array([1, 1, 0, 0, 1, 0, 0])
    ordered = cl.order_by_churn(labels, churn)
    # label 9: 0% -> 0, label 3: 33% -> 1, label 7: 100% -> 2
    assert ordered.tolist() == [2, 2, 1, 1, 1, 0, 0]


def test_order_by_churn_breaks_ties_by_size() -> None:
    labels = np.array([5, 5, 5, 8, 8])
    churn = np.array([0, 0, 0, 0, 0])
    assert cl.order_by_churn(labels, churn).tolist() == [0, 0, 0, 1, 1]


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
    blobs, _ = make_blobs(300, centers=4, cluster_std=0.5, center_box=(-20, 20), random_state=1)
    # Isotropic noise has no cluster structure: every 4-way split is as good as another.
    noise = np.random.default_rng(1).normal(size=(300, 6))
    cfg = cl.ClusterConfig(algorithm, 4, 3, seed=5)
    stable = cl.stability_scores(
        blobs, cl.fit_labels(blobs, cfg), cfg, resamples=4, fraction=0.8
    ).mean()
    unstable = cl.stability_scores(
        noise, cl.fit_labels(noise, cfg), cfg, resamples=4, fraction=0.8
    ).mean()
    assert stable > 0.95
    assert unstable < 0.6


def test_segment_summary_shares_sum_to_one() -> None:
    summary = cl.segment_summary(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 0, 0, 1]))
    assert [s["size"] for s in summary] == [2, 1, 3]
    assert sum(s["share"] for s in summary) == pytest.approx(1.0)
    assert summary[0]["churn_rate"] == pytest.approx(0.5)


# ---------------------------------------------------------------- the contract's encoder


def test_segment_encoder_standardises_numbers_and_one_hot_encodes_categories(other_contract):
    inputs = _other_inputs(contract=other_contract)
    assert inputs["fee"].isna().any()

    encoder = cl.segment_encoder(other_contract)
    X = encoder.fit_transform(inputs)

    # segment columns: every raw feature (engineered ones are not, unless declared)
    numbers = ["senior", "fee", "tenure_months", "calls"]
    names = list(encoder.get_feature_names_out())
    assert names == [*numbers, *(f"plan_{p}" for p in PLANS), *(f"region_{r}" for r in REGIONS)]
    assert X.shape == (len(inputs), 4 + 3 + 12)
    # numbers (gaps filled with the median): mean 0, std 1
    np.testing.assert_allclose(X[:, :4].mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(X[:, :4].std(axis=0), 1, atol=1e-9)
    # categories: exactly one 1 per member in each category's block
    assert set(np.unique(X[:, 4:])) <= {0.0, 1.0}
    assert (X[:, 4:7].sum(axis=1) == 1).all()
    assert (X[:, 7:].sum(axis=1) == 1).all()


def test_segment_encoder_keeps_declared_levels_and_skips_non_segment_columns(gym_contract):
    encoder = cl.segment_encoder(gym_contract)
    members = add_features(
        check_export(make_members(), gym_contract, source="gym.csv").members, gym_contract
    )

    names = list(encoder.fit(model_inputs(members, gym_contract)).get_feature_names_out())

    assert names == gym_contract.segment_columns
    assert "gender" not in names  # segment: false in the contract
    assert "Phone" not in names


# members of a segment are identical: the assigner's nearest-centroid fit warns, harmlessly
@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_categorical_column_alone_separates_members(other_contract):
    # every other column is the same for everyone: only the plan tells members apart
    n = 60
    plan = np.array(PLANS * (n // 3))
    inputs = _other_inputs(n, contract=other_contract).assign(
        plan=plan, region="r00", senior=0, fee=50.0, tenure_months=12, calls=3
    )
    churn = (plan == "basic").astype(int) + (plan == "plus") * (np.arange(n) % 2)

    seg = cl.segment(
        inputs, cl.segment_encoder(other_contract), churn, cl.ClusterConfig("kmeans", 3, 3, 0),
        resamples=2, fraction=0.8, silhouette_rows=n,
    )  # fmt: skip

    assert adjusted_rand_score(plan, seg.labels) == 1.0
    # churn-ordered ids: premium (no churn) 0, plus (half) 1, basic (all) 2
    assert seg.labels[plan == "premium"].tolist() == [0] * 20
    assert seg.labels[plan == "plus"].tolist() == [1] * 20
    assert seg.labels[plan == "basic"].tolist() == [2] * 20
    np.testing.assert_array_equal(seg.assigner.predict(inputs), seg.labels)


def test_assigner_places_new_members_even_with_an_unseen_level(other_contract):
    inputs = _other_inputs(90, contract=other_contract)
    churn = (inputs["plan"] == "basic").to_numpy().astype(int)
    seg = cl.segment(
        inputs, cl.segment_encoder(other_contract), churn, cl.ClusterConfig("kmeans", 3, 3, 0),
        resamples=2, fraction=0.8, silhouette_rows=90,
    )  # fmt: skip
    new = _other_inputs(10, seed=9, contract=other_contract)
    new = new.assign(plan=["enterprise"] * 5 + list(new["plan"][5:]), region="r99")

    assigned = seg.assigner.predict(new)

    assert len(assigned) == 10
    assert set(assigned) <= {0, 1, 2}
    # the k-means assignment is reproduced on the members it was fitted on
    np.testing.assert_array_equal(seg.assigner.predict(inputs), seg.labels)


# ---------------------------------------------------------------- segment, k-scan, dendrogram


def test_segment_orders_ids_and_assigner_reproduces_labels() -> None:
    members = _members()
    churn = members["Churn"].to_numpy()
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig("kmeans", 3, 5, seed=0)

    seg = cl.segment(members, encoder, churn, cfg, resamples=3, fraction=0.8, silhouette_rows=200)

    rates = [c["churn_rate"] for c in cl.segment_summary(seg.labels, churn)]
    assert rates == sorted(rates)
    assert np.array_equal(seg.assigner.predict(members[["a", "b", "c"]]), seg.labels)
    assert seg.stability_ari > 0.9
    assert -1 <= seg.silhouette <= 1
    with pytest.raises(NotFittedError):
        check_is_fitted(encoder)  # a clone is fitted, the encoder passed in stays as it was


def test_agglomerative_segments_are_reproducible_and_input_untouched() -> None:
    members = _members()
    before = members.copy()
    cfg = cl.ClusterConfig("agglomerative", 3, 1, seed=0)
    kwargs = {"resamples": 2, "fraction": 0.5, "silhouette_rows": 100}
    encoder = cl.segment_encoder(_blob_contract())

    first = cl.segment(members, encoder, members["Churn"].to_numpy(), cfg, **kwargs)
    again = cl.segment(members, encoder, members["Churn"].to_numpy(), cfg, **kwargs)

    pd.testing.assert_frame_equal(members, before)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.stability_ari == again.stability_ari


def test_k_scan_rows_and_inertia_decreases() -> None:
    scan = cl.k_scan(
        _members(), cl.segment_encoder(_blob_contract()), cl.ClusterConfig("kmeans", 3, 3, 0),
        [2, 3, 4, 5], resamples=2, fraction=0.8, silhouette_rows=300,
    )  # fmt: skip
    assert list(scan.columns) == [
        "k",
        "silhouette",
        "inertia",
        "stability_ari",
        "stability_ari_low",
        "stability_ari_high",
    ]
    assert scan["k"].tolist() == [2, 3, 4, 5]
    assert scan["inertia"].is_monotonic_decreasing
    # three true blobs: k = 3 separates best
    assert scan.loc[scan["silhouette"].idxmax(), "k"] == 3


def test_k_scan_runs_on_at_most_scan_rows_members() -> None:
    kwargs = {"resamples": 1, "fraction": 0.8, "silhouette_rows": 300}
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig("kmeans", 3, 1, 0)

    full = cl.k_scan(_members(), encoder, cfg, [2, 3], **kwargs)
    sampled = cl.k_scan(_members(), encoder, cfg, [2, 3], scan_rows=60, **kwargs)

    # inertia is a sum over members: a fifth of them give a fraction of it
    assert (sampled["inertia"] < 0.5 * full["inertia"]).all()


def test_dendrogram_linkage_uses_seeded_sample() -> None:
    members = _members(300)
    encoder = cl.segment_encoder(_blob_contract())
    link_a, rows = cl.dendrogram_linkage(members, encoder, 50, seed=3)
    link_b, _ = cl.dendrogram_linkage(members, encoder, 50, seed=3)
    link_c, _ = cl.dendrogram_linkage(members, encoder, 50, seed=4)
    assert rows == 50
    assert link_a.shape == (49, 4)
    assert np.array_equal(link_a, link_b)
    assert not np.array_equal(link_a, link_c)


@pytest.mark.parametrize(
    ("labels", "max_rows"),
    [
        ("blobs", 300),  # every row
        ("blobs", 120),  # a seeded sample, as scikit-learn draws it
        ("singletons", 300),  # members alone in their cluster score 0
        ("uneven", 300),
    ],
)
def test_silhouette_is_scikit_learns(labels: str, max_rows: int) -> None:
    from sklearn.metrics import silhouette_score

    X = _members()[["a", "b", "c"]].to_numpy()
    given = {
        "blobs": cl.fit_labels(X, cl.ClusterConfig("kmeans", 3, 2, 0)),
        "singletons": np.r_[0, 1, np.full(len(X) - 2, 2)],
        "uneven": np.arange(len(X)) % 7 // 3,
    }[labels]

    ours = cl.sampled_silhouette(X, given, max_rows, seed=5)

    theirs = silhouette_score(X, given, sample_size=min(max_rows, len(X)), random_state=5)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-14)


def test_silhouette_of_one_cluster_is_nan() -> None:
    X = _members(50)[["a", "b", "c"]].to_numpy()

    assert np.isnan(cl.sampled_silhouette(X, np.zeros(50, dtype=int), 50, seed=0))


@pytest.mark.parametrize(("algorithm", "scan_rows"), [("kmeans", None), ("agglomerative", 500)])
def test_k_scan_reusing_the_chosen_segmentation_gives_the_same_table(
    algorithm: str, scan_rows: int | None
) -> None:
    members = _members()
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig(algorithm, 3, 2, 0)
    sampling = {"resamples": 2, "fraction": 0.8, "silhouette_rows": 200, "scan_rows": scan_rows}
    chosen = cl.segment(members, encoder, members["Churn"].to_numpy(), cfg, **sampling)

    reused = cl.k_scan(members, encoder, cfg, [2, 3, 4], **sampling, chosen=chosen)

    computed = cl.k_scan(members, encoder, cfg, [2, 3, 4], **sampling)
    pd.testing.assert_frame_equal(reused, computed, rtol=1e-12)


def test_k_scan_on_a_sample_does_not_reuse_the_chosen_segmentation() -> None:
    members = _members()
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig("kmeans", 3, 2, 0)
    sampling = {"resamples": 2, "fraction": 0.8, "silhouette_rows": 200, "scan_rows": 100}
    chosen = cl.segment(members, encoder, members["Churn"].to_numpy(), cfg, **sampling)
    fake = cl.Segmentation(
        chosen.assigner, chosen.labels, silhouette=-1.0, stability_ari=-1.0,
        stability_scores=np.array([-1.0, -1.0]),
        silhouette_sample=(np.array([0]), np.zeros((1, 1))),  # not the scan sample's
    )  # fmt: skip

    scan = cl.k_scan(members, encoder, cfg, [3], **sampling, chosen=fake)

    # the chosen fit saw every member, the scan a sample: the scan fits its own
    assert scan.loc[0, "silhouette"] != -1.0
    assert scan.loc[0, "stability_ari"] != -1.0


@pytest.mark.parametrize("scan_resamples", [1, 3])
def test_k_scan_gives_each_stabilitys_interval_from_its_own_refits(scan_resamples: int) -> None:
    # the chosen k keeps its `resamples` refits; every other k gets `scan_resamples`, and the
    # interval of the mean says how rough that guide is (none from a single refit)
    members = _members()
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig("kmeans", 3, 2, 0)
    sampling = {"resamples": 4, "fraction": 0.8, "silhouette_rows": 200, "scan_rows": None}
    chosen = cl.segment(members, encoder, members["Churn"].to_numpy(), cfg, **sampling)
    scan = cl.k_scan(
        members, encoder, cfg, [2, 3], **sampling, chosen=chosen, scan_resamples=scan_resamples
    ).set_index("k")
    assert len(chosen.stability_scores) == 4
    assert scan.loc[3, "stability_ari"] == chosen.stability_ari
    assert (
        scan.loc[3, "stability_ari_low"]
        <= chosen.stability_ari
        <= scan.loc[3, "stability_ari_high"]
    )
    other = scan.loc[2]
    if scan_resamples == 1:
        assert np.isnan(other["stability_ari_low"])
        assert np.isnan(other["stability_ari_high"])
    else:
        assert other["stability_ari_low"] <= other["stability_ari"] <= other["stability_ari_high"]
    direct = cl.stability_scores(
        encoder.fit_transform(members), cl.fit_labels(encoder.fit_transform(members),
        cl.ClusterConfig("kmeans", 2, 2, 0)), cl.ClusterConfig("kmeans", 2, 2, 0),
        resamples=scan_resamples, fraction=0.8,
    )  # fmt: skip
    assert other["stability_ari"] == pytest.approx(direct.mean())


def test_a_large_base_is_segmented_on_a_sample_then_assigned_to_the_nearest_centre() -> None:
    members = _members()
    encoder = cl.segment_encoder(_blob_contract())
    cfg = cl.ClusterConfig("kmeans", 3, 2, 0)
    sampling = {"resamples": 2, "fraction": 0.8, "silhouette_rows": 200, "scan_rows": None}
    churn = members["Churn"].to_numpy()
    whole = cl.segment(members, encoder, churn, cfg, **sampling)
    same = cl.segment(members, encoder, churn, cfg, **sampling, fit_rows=len(members))
    np.testing.assert_array_equal(whole.labels, same.labels)  # at or under the cap: unchanged

    sampled = cl.segment(members, encoder, churn, cfg, **sampling, fit_rows=len(members) // 2)
    # every member has the segment of its nearest centre, and ids stay ordered by churn
    np.testing.assert_array_equal(sampled.labels, sampled.assigner.predict(members))
    rates = [churn[sampled.labels == s].mean() for s in range(3)]
    assert rates == sorted(rates)
    # well-separated blobs: the sample finds the same segments
    assert cl.adjusted_rand_score(whole.labels, sampled.labels) > 0.95
