"""The fitted models scoring runs, as plain arrays: gradient boosting's trees with the input
encoding in front of them, and the segment assigner's centroids. Pure.

Both are read from the fitted scikit-learn pipelines this package builds (the boosting
pipeline of models.estimators, the assigner of segments.clustering) and compute the same
numbers: the same inputs, encoded the same way, through the same trees summed in the same
order (models.trees); the same imputed, scaled distances to the same centroids (tested
against scikit-learn). The bundle stage writes them to models/runtime.npz (numpy arrays and
one JSON text, no pickle), so gym-churn-score never imports scikit-learn: about 2 s of a
run's start-up on a 2-core machine. A model of another family, or a layout this module does
not know, has no runtime form and is scored through scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.models.trees import TreeSet, raw_predict, read_trees


def sigmoid(z: np.ndarray | float) -> Any:
    """Log-odds to probability: 1 / (1 + e^-z), SciPy's expit without importing SciPy (0.3 s
    of scoring's start). numpy's exp picks its kernel by CPU (AVX-512 or not), so the last
    bit or two may differ from expit's and from another machine's (up to 2 units in the last
    place measured); what is written is rounded well above that (scoring.scorer.DIGITS)."""
    with np.errstate(over="ignore"):  # e^-z overflows to inf for z < -709: the answer is 0
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _codes(column: pd.Series, levels: list[Any]) -> np.ndarray:
    """Position of each value among `levels`; a gap or a value not among them is NaN."""
    codes = pd.Index(levels).get_indexer(column).astype(float)
    codes[codes < 0] = np.nan
    return codes


@dataclass(frozen=True)
class BoostedTrees:
    """A fitted binary gradient-boosting pipeline: numbers passed through, categories as
    ordinal codes, the estimator's own second encoding of them, and its trees."""

    trees: TreeSet
    columns: list[str]  # the model input behind each column the input step puts out
    categories: dict[str, list[Any]]  # the category columns among them, and their levels
    inner: dict[str, np.ndarray]  # per category column: the estimator's code of each level

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """X as the trees read it: the pipeline's input step, then the estimator's own
        encoding (category columns first, as their codes among the training levels)."""
        # column-major: each column is written, and each split reads one, in one sweep
        out = np.empty((len(X), len(self.columns)), order="F")
        position = np.argsort(self.trees.order)  # where the trees read input column j
        for j, column in enumerate(self.columns):
            target = out[:, position[j]]
            if column not in self.categories:
                target[:] = X[column].to_numpy(dtype=float, na_value=np.nan)
                continue
            codes = _codes(X[column], self.categories[column])
            known = ~np.isnan(codes)
            target[:] = np.nan
            target[known] = self.inner[column][codes[known].astype(np.int64)]
        return out

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return raw_predict(self.trees, self.encode(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """As scikit-learn's: (members, 2), churn second."""
        p = sigmoid(self.log_odds(X))
        return np.column_stack([1 - p, p])


@dataclass(frozen=True)
class Centroids:
    """A fitted segment assigner: numbers imputed (median) and scaled, categories one-hot
    (an unseen level all zeros), then the nearest centroid's segment."""

    numbers: list[str]
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    categories: dict[str, list[Any]]
    centroids: np.ndarray  # (segments, encoded columns)
    labels: np.ndarray  # the segment of each centroid

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        # column by column, column-major: each step one sweep over one column
        width = len(self.numbers) + sum(len(levels) for levels in self.categories.values())
        out = np.empty((len(X), width), order="F")
        for j, column in enumerate(self.numbers):
            x = X[column].to_numpy(dtype=float, na_value=np.nan)
            x = np.where(np.isnan(x), self.medians[j], x)
            out[:, j] = (x - self.means[j]) / self.scales[j]
        j = len(self.numbers)
        for column, levels in self.categories.items():
            codes = _codes(X[column], levels)
            for level in range(len(levels)):
                out[:, j] = codes == level
                j += 1
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        Z = self.encode(X)
        # squared distances summed column by column: no (members, columns) temporaries
        distance = np.zeros((len(Z), len(self.centroids)), order="F")
        for k, centroid in enumerate(self.centroids):
            for j, c in enumerate(centroid):
                step = Z[:, j] - c
                step *= step
                distance[:, k] += step
        return self.labels[distance.argmin(axis=1)]


def _steps(pipeline: Any) -> list[tuple[str, Any]] | None:
    steps = getattr(pipeline, "steps", None)
    return steps if isinstance(steps, list) and len(steps) == 2 else None


def _parts(transformer: Any) -> dict[str, tuple[Any, list[str]]] | None:
    parts = getattr(transformer, "transformers_", None)
    if parts is None:
        return None
    out = {name: (step, list(cols)) for name, step, cols in parts}
    remainder = out.pop("remainder", ("drop", []))
    return out if remainder[0] == "drop" or not remainder[1] else None


def _levels(encoder: Any, columns: list[str]) -> dict[str, list[Any]]:
    found = getattr(encoder, "categories_", [])
    return {c: np.asarray(lv).tolist() for c, lv in zip(columns, found, strict=True)}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _input_columns(prepare: Any) -> tuple[list[str], dict[str, list[Any]]] | None:
    """A fitted input step of columns passed through and ordinal-encoded categories (an
    unseen level or a gap as missing): its output columns and the categories' levels."""
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    parts = _parts(prepare)
    if parts is None:
        return None
    columns, levels = [], {}
    for step, cols in parts.values():
        passthrough = step == "passthrough" or (
            isinstance(step, FunctionTransformer) and step.func is None
        )
        # an unseen level as missing (where scikit-learn would refuse it, too)
        ordinal = (
            isinstance(step, OrdinalEncoder)
            and _is_nan(step.encoded_missing_value)
            and (step.handle_unknown == "error" or _is_nan(step.unknown_value))
        )
        if not (passthrough or ordinal):
            return None
        columns += cols
        if ordinal:
            levels.update(_levels(step, cols))
    return columns, levels


def boosted_trees(model: Any) -> BoostedTrees | None:
    """The runtime form of a fitted binary gradient-boosting pipeline (an input step of
    columns passed through and ordinal-encoded categories, then the estimator), the model
    itself if it is one already, or None for anything else."""
    if isinstance(model, BoostedTrees):
        return model
    steps = _steps(model)
    if steps is None:
        return None
    from sklearn.ensemble import HistGradientBoostingClassifier  # only for fitted pipelines

    (_, prepare), (_, estimator) = steps
    if not isinstance(estimator, HistGradientBoostingClassifier) or len(estimator.classes_) != 2:
        return None
    found = _input_columns(prepare)
    if found is None:
        return None
    columns, levels = found
    trees = read_trees(estimator)
    inner = {}
    for column, known in levels.items():
        # the estimator encodes the category codes again: ask it what each becomes
        j = columns.index(column)
        probe = np.zeros((len(known), len(columns)))
        probe[:, j] = np.arange(len(known))
        encoded = np.asarray(estimator._preprocess_X(probe, reset=False), dtype=float)
        inner[column] = encoded[:, int(np.flatnonzero(trees.order == j)[0])]
    return BoostedTrees(trees, columns, levels, inner)


def centroids(assigner: Any) -> Centroids | None:
    """The runtime form of a fitted segment assigner (segments.clustering), or None."""
    if isinstance(assigner, Centroids):
        return assigner
    steps = _steps(assigner)
    if steps is None:
        return None
    from sklearn.neighbors import NearestCentroid  # only for fitted pipelines

    (_, encode), (_, nearest) = steps
    parts = _parts(encode)
    if not isinstance(nearest, NearestCentroid) or parts is None or "numbers" not in parts:
        return None
    if not set(parts) <= {"numbers", "categories"} or nearest.metric != "euclidean":
        return None
    if not np.isclose(nearest.class_prior_, 1 / len(nearest.classes_)).all():
        return None  # scikit-learn weighs centroids by prior then
    numeric, numbers = parts["numbers"]
    impute, scale = numeric.named_steps["impute"], numeric.named_steps["scale"]
    encoder, cats = parts.get("categories", (None, []))
    levels = _levels(encoder, cats)
    return Centroids(
        numbers=list(numbers),
        medians=np.asarray(impute.statistics_, dtype=float),
        means=np.asarray(scale.mean_, dtype=float),
        scales=np.asarray(scale.scale_, dtype=float),
        categories=levels,
        centroids=np.asarray(nearest.centroids_, dtype=float),
        labels=np.asarray(nearest.classes_),
    )


# ---------------------------------------------------------------- as arrays (runtime.npz)


def to_arrays(model: BoostedTrees | None, assigner: Centroids | None) -> dict[str, np.ndarray]:
    """Arrays (and one JSON text) that from_arrays turns back into the same objects."""
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if model is not None:
        t = model.trees
        meta["model"] = {"columns": model.columns, "categories": model.categories,
                         "trees": len(t.nodes), "baseline": t.baseline}  # fmt: skip
        arrays["model_order"] = np.asarray(t.order)
        for i, (nodes, bits) in enumerate(zip(t.nodes, t.bitsets, strict=True)):
            arrays[f"model_nodes_{i}"] = nodes
            arrays[f"model_bitsets_{i}"] = np.asarray(bits)
        for j, column in enumerate(model.categories):
            arrays[f"model_inner_{j}"] = model.inner[column]
    if assigner is not None:
        meta["assigner"] = {"numbers": assigner.numbers, "categories": assigner.categories}
        for name in ("medians", "means", "scales", "centroids", "labels"):
            arrays[f"assigner_{name}"] = np.asarray(getattr(assigner, name))
    arrays["meta"] = np.asarray(json.dumps(meta))
    return arrays


def from_arrays(arrays: Any) -> tuple[BoostedTrees | None, Centroids | None]:
    """The runtime models to_arrays wrote (either may be None: scored through sklearn)."""
    meta = json.loads(str(arrays["meta"]))
    model = assigner = None
    if "model" in meta:
        m = meta["model"]
        n = m["trees"]
        nodes = [arrays[f"model_nodes_{i}"] for i in range(n)]
        columns = [
            tuple(sorted({int(f) for f in t[~t["is_leaf"].astype(bool)]["feature_idx"]}))
            for t in nodes
        ]
        trees = TreeSet(
            nodes=nodes,
            columns=columns,
            bitsets=[arrays[f"model_bitsets_{i}"] for i in range(n)],
            baseline=float(m["baseline"]),
            order=arrays["model_order"],
        )
        inner = {c: arrays[f"model_inner_{j}"] for j, c in enumerate(m["categories"])}
        model = BoostedTrees(trees, m["columns"], m["categories"], inner)
    if "assigner" in meta:
        a = meta["assigner"]
        assigner = Centroids(
            numbers=a["numbers"],
            categories=a["categories"],
            **{k: arrays[f"assigner_{k}"] for k in ("medians", "means", "scales", "centroids",
                                                     "labels")},
        )  # fmt: skip
    return model, assigner
