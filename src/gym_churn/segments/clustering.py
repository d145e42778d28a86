"""Member segmentation: fitting, churn-ordered labels, the k-scan and stability. Pure functions.

Members are placed in a space where every column weighs alike: numbers and flags
standardised (a gap filled with the median), each category one-hot encoded (two members in
different categories are as far apart as two members about 1.4 standard deviations apart
on a number, the typical distance between two members on a standardised column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin, clone
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from gym_churn.contract.spec import Contract
from gym_churn.splitting import sample_rows


def segment_encoder(contract: Contract) -> TransformerMixin:
    """Unfitted encoder of the contract's segment columns (see the module docstring)."""
    columns = contract.segment_columns
    cats = [c for c in columns if contract.kind(c) == "categorical"]
    numbers = [c for c in columns if c not in cats]
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    parts: list[tuple[str, object, list[str]]] = [("numbers", numeric, numbers)]
    if cats:
        levels = [contract.features[c].levels for c in cats]
        onehot = OneHotEncoder(categories=levels, handle_unknown="ignore", sparse_output=False)
        parts.append(("categories", onehot, cats))
    return ColumnTransformer(parts, verbose_feature_names_out=False)


@dataclass(frozen=True)
class ClusterConfig:
    algorithm: str  # "kmeans" | "agglomerative"
    k: int
    n_init: int
    seed: int


def fit_labels(X: np.ndarray, cfg: ClusterConfig) -> np.ndarray:
    """Raw cluster labels of standardised rows `X` (label values are arbitrary)."""
    if cfg.algorithm == "kmeans":
        model = KMeans(n_clusters=cfg.k, n_init=cfg.n_init, random_state=cfg.seed)
        return model.fit_predict(X)
    return AgglomerativeClustering(n_clusters=cfg.k, linkage="ward").fit_predict(X)


def order_by_churn(labels: np.ndarray, churn: np.ndarray) -> np.ndarray:
    """Relabel clusters so id 0 has the lowest churn rate; ties broken by size, then old id.

    Labels then mean the same thing across runs and experiments.
    """
    frame = pd.DataFrame({"label": labels, "churn": churn})
    stats = frame.groupby("label")["churn"].agg(["mean", "size"]).reset_index()
    stats = stats.sort_values(["mean", "size", "label"], ascending=[True, False, True])
    mapping = {old: new for new, old in enumerate(stats["label"])}
    return np.array([mapping[label] for label in labels], dtype=int)


def inertia(X: np.ndarray, labels: np.ndarray) -> float:
    """Within-cluster sum of squared distances to the cluster means (any algorithm)."""
    total = 0.0
    for label in np.unique(labels):
        members = X[labels == label]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def silhouette_rows(n: int, max_rows: int, seed: int) -> np.ndarray:
    """The rows a silhouette of `n` rows runs on: the seeded sample of at most `max_rows`
    that scikit-learn's silhouette_score(sample_size=..., random_state=seed) draws."""
    return np.random.RandomState(seed).permutation(n)[: min(max_rows, n)]


def sample_distances(X: np.ndarray, max_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The silhouette sample's rows of `X` (silhouette_rows) and their Euclidean distances
    (a rows x rows matrix): computed once, they serve the silhouette of every labelling."""
    rows = silhouette_rows(len(X), max_rows, seed)
    return rows, euclidean_distances(X[rows])


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of `labels` given the rows' pairwise `distances` (NaN with fewer than
    two clusters); a member alone in its cluster scores 0, as in scikit-learn.

    Equals scikit-learn's silhouette_score (tested) but sums each member's distances per
    cluster with one matrix product: its per-row loop cost a scan of ten k a third of the
    stage, and the distances are shared by every k."""
    _, codes, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    if len(sizes) < 2:
        return float("nan")
    n = len(labels)
    totals = distances @ np.eye(len(sizes))[codes]  # member x cluster: summed distances
    own = sizes[codes]
    intra = totals[np.arange(n), codes] / np.maximum(own - 1, 1)
    means = totals / sizes
    means[np.arange(n), codes] = np.inf
    inter = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (inter - intra) / np.maximum(intra, inter)
    return float(np.mean(np.nan_to_num(np.where(own > 1, scores, 0.0))))


def sampled_silhouette(X: np.ndarray, labels: np.ndarray, max_rows: int, seed: int) -> float:
    """Silhouette on a seeded sample (silhouette_rows): it is quadratic in rows."""
    rows, distances = sample_distances(X, max_rows, seed)
    return silhouette(distances, labels[rows])


def mean_interval(scores: np.ndarray) -> tuple[float, float]:
    """A 95% t interval of the mean of `scores`, within the ARI's range (NaN with fewer than
    two): with a handful of refits the t quantile, not 1.96, keeps it honest."""
    from scipy.stats import t  # scikit-learn has loaded scipy.stats already

    if len(scores) < 2:
        return float("nan"), float("nan")
    half = t.ppf(0.975, len(scores) - 1) * float(np.std(scores, ddof=1)) / np.sqrt(len(scores))
    mean = float(np.mean(scores))
    return max(mean - half, -1.0), min(mean + half, 1.0)


def stability_scores(
    X: np.ndarray,
    reference: np.ndarray,
    cfg: ClusterConfig,
    *,
    resamples: int,
    fraction: float,
) -> np.ndarray:
    """Mean adjusted Rand index between `reference` labels and refits on subsamples.

    Each refit draws `fraction` of the rows without replacement and uses another seed; its
    labels are compared with the reference on the rows it saw. Close to 1: the portraits
    do not depend on the seed or on which members happened to be in the export.
    """
    rng = np.random.default_rng(cfg.seed)
    size = max(cfg.k + 1, round(fraction * len(X)))
    scores = []
    for i in range(resamples):
        rows = np.sort(rng.choice(len(X), size=size, replace=False))
        refit = ClusterConfig(cfg.algorithm, cfg.k, cfg.n_init, cfg.seed + 1 + i)
        scores.append(adjusted_rand_score(reference[rows], fit_labels(X[rows], refit)))
    return np.asarray(scores, dtype=float)


@dataclass(frozen=True)
class Segmentation:
    assigner: Pipeline  # scaler + nearest centroid: assigns new members to segments
    labels: np.ndarray  # churn-ordered segment id per member
    silhouette: float
    stability_ari: float
    stability_scores: np.ndarray  # each refit's ARI: the spread behind stability_ari
    # the silhouette's sample of every member (its rows and their distances), which the
    # k-scan reuses when it runs on every member: an n x n matrix is not computed twice
    silhouette_sample: tuple[np.ndarray, np.ndarray]


def segment(
    members: pd.DataFrame,
    encoder: TransformerMixin,
    churn: np.ndarray,
    cfg: ClusterConfig,
    *,
    resamples: int,
    fraction: float,
    silhouette_rows: int,
    scan_rows: int | None = None,
    fit_rows: int | None = None,
) -> Segmentation:
    """Cluster `members` after encoding them (`encoder`), with churn-ordered ids.

    The returned assigner (encode, then nearest segment centroid) reproduces the k-means
    assignment and gives agglomerative segments a way to place new members. Above
    `fit_rows` members the segments are found on a seeded sample of that many and every
    member joins its nearest segment centre.
    """
    scaler = clone(encoder).fit(members)
    X = scaler.transform(members)
    if fit_rows is not None and len(X) > fit_rows:
        # a large base: the segments are found on a seeded sample, then every member joins
        # the nearest segment centre (the k-means assignment step)
        fitted = sample_rows(len(X), fit_rows, cfg.seed)
        sample_labels = order_by_churn(fit_labels(X[fitted], cfg), churn[fitted])
        centroid = NearestCentroid().fit(X[fitted], sample_labels)
        labels = centroid.predict(X)
        raw = labels
    else:
        raw = fit_labels(X, cfg)
        labels = order_by_churn(raw, churn)
        centroid = NearestCentroid().fit(X, labels)
    rows = sample_rows(len(X), scan_rows, cfg.seed)
    assigner = Pipeline([("encode", scaler), ("centroid", centroid)])
    scores = stability_scores(X[rows], raw[rows], cfg, resamples=resamples, fraction=fraction)
    sample, distances = sample_distances(X, silhouette_rows, cfg.seed)
    return Segmentation(
        assigner=assigner,
        labels=labels,
        silhouette=silhouette(distances, labels[sample]),
        stability_ari=float(np.mean(scores)),
        stability_scores=scores,
        silhouette_sample=(sample, distances),
    )


def k_scan(
    members: pd.DataFrame,
    encoder: TransformerMixin,
    cfg: ClusterConfig,
    ks: list[int],
    *,
    resamples: int,
    fraction: float,
    silhouette_rows: int,
    scan_rows: int | None = None,
    chosen: Segmentation | None = None,
    scan_resamples: int | None = None,
) -> pd.DataFrame:
    """Silhouette, inertia and stability (with a 95% interval of its mean over the refits)
    for each k, to argue for (or against) the chosen k.

    Runs on a seeded sample of at most `scan_rows` members: it refits k_max - k_min + 1
    times `resamples + 1` models, which would dominate the run on a large base. `chosen`
    (segment's result at cfg.k with the same sampling) is reused at k = cfg.k when the
    sample is every member: its fit, silhouette and stability are the ones the scan would
    compute (same rows, seed and settings), so they are not computed twice. Every other k's
    stability comes from `scan_resamples` refits (default: `resamples`): a rougher guide
    than the chosen k's, for a fraction of the work."""
    X = clone(encoder).fit_transform(members)
    every_member = scan_rows is None or len(X) <= scan_rows
    X = X[sample_rows(len(X), scan_rows, cfg.seed)]
    if chosen is not None and every_member:
        sample, distances = chosen.silhouette_sample  # the same rows, seed and matrix
    else:
        sample, distances = sample_distances(X, silhouette_rows, cfg.seed)
    rows = []
    for k in ks:
        if chosen is not None and every_member and k == cfg.k:
            low, high = mean_interval(chosen.stability_scores)
            rows.append({"k": k, "silhouette": chosen.silhouette,
                         "inertia": inertia(X, chosen.labels),
                         "stability_ari": chosen.stability_ari,
                         "stability_ari_low": low, "stability_ari_high": high})  # fmt: skip
            continue
        at_k = ClusterConfig(cfg.algorithm, k, cfg.n_init, cfg.seed)
        labels = fit_labels(X, at_k)
        scores = stability_scores(
            X, labels, at_k, resamples=scan_resamples or resamples, fraction=fraction
        )
        low, high = mean_interval(scores)
        rows.append(
            {
                "k": k,
                "silhouette": silhouette(distances, labels[sample]),
                "inertia": inertia(X, labels),
                "stability_ari": float(np.mean(scores)),
                "stability_ari_low": low,
                "stability_ari_high": high,
            }
        )
    return pd.DataFrame(rows, columns=["k", "silhouette", "inertia", "stability_ari",
                                       "stability_ari_low", "stability_ari_high"])  # fmt: skip


def segment_summary(labels: np.ndarray, churn: np.ndarray) -> list[dict[str, float | int]]:
    """Size, share and churn rate of each segment id, in id order."""
    frame = pd.DataFrame({"segment": labels, "churn": churn})
    stats = frame.groupby("segment")["churn"].agg(["size", "mean"])
    return [
        {
            "id": int(seg),
            "size": int(row["size"]),
            "share": float(row["size"] / len(frame)),
            "churn_rate": float(row["mean"]),
        }
        for seg, row in stats.iterrows()
    ]


def dendrogram_linkage(
    members: pd.DataFrame, encoder: TransformerMixin, rows: int, seed: int
) -> tuple[np.ndarray, int]:
    """Ward linkage of a seeded sample (linkage is quadratic in rows) and the sample size."""
    from scipy.cluster.hierarchy import linkage

    sample = members.sample(min(rows, len(members)), random_state=seed)
    X = clone(encoder).fit_transform(sample)
    return linkage(X, method="ward"), len(sample)
