"""The fitted models scoring runs, as plain arrays: gradient boosting's trees with the input
encoding in front of them, logistic regression's coefficients with its imputing, scaling and
encoding in front of them, and the segment assigner's centroids. Pure.

They are read from the fitted scikit-learn pipelines this package builds (the boosting and
the logistic-regression pipelines of models.estimators, uncalibrated; the assigner of
segments.clustering) and compute the same numbers: the same inputs, encoded the same way,
through the same trees summed in the same order (models.trees); the same imputed, scaled
inputs times the same coefficients, in the matrix product scikit-learn makes (LinearModel);
the same imputed, scaled distances to the same centroids (tested against scikit-learn). train and
cluster write them as they fit the models, and the score stage puts both into
models/runtime.npz (numpy arrays and one JSON text, no pickle), so no later stage loads a
skops file for them and gym-churn-score never imports scikit-learn (about 2 s of a run's
start-up on a 2-core machine). A model of another family (a random forest), a calibrated
model, or a layout this module does not know, has no runtime form and is scored through
scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
    """A fitted binary gradient-boosting pipeline: numbers passed through, categories encoded
    (ordinal codes, one-hot or target encoded: each a value per level, looked up), and its
    trees."""

    trees: TreeSet
    columns: list[str]  # the model input behind each column the input step puts out
    categories: dict[str, list[Any]]  # the category columns among them, and their levels
    # per output column made from a category: its value for each level as the trees read
    # it (after the estimator's own encoding), then the value of a gap or an unseen level
    tables: dict[int, np.ndarray]

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """X as the trees read it: the pipeline's input step, then the estimator's own
        encoding (category columns first, as their codes among the training levels)."""
        # column-major: each column is written, and each split reads one, in one sweep
        out = np.empty((len(X), len(self.columns)), order="F")
        position = np.argsort(self.trees.order)  # where the trees read input column j
        # -1 for a gap or an unseen level: the tables' last entry (one lookup per category,
        # however many one-hot columns it has)
        codes = {c: pd.Index(lv).get_indexer(X[c]) for c, lv in self.categories.items()}
        for j, column in enumerate(self.columns):
            table = self.tables.get(j)
            if table is None:
                out[:, position[j]] = X[column].to_numpy(dtype=float, na_value=np.nan)
            else:
                out[:, position[j]] = table[codes[column]]
        return out

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return raw_predict(self.trees, self.encode(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """As scikit-learn's: (members, 2), churn second."""
        p = sigmoid(self.log_odds(X))
        return np.column_stack([1 - p, p])


@dataclass(frozen=True)
class LinearModel:
    """A fitted binary logistic-regression pipeline: numbers imputed (a gap takes the
    training median; a 0/1 missing indicator where training had gaps) and scaled, categories
    encoded (one-hot or target encoded, then scaled where the pipeline scales them: each a
    value per level, looked up), then the coefficients."""

    columns: list[str]  # the model input behind each column the input step puts out
    categories: dict[str, list[Any]]  # the category columns among them, and their levels
    # per output column made from a category: its value for each level (after any scaling),
    # then the value of a gap or an unseen level
    tables: dict[int, np.ndarray]
    indicators: list[int]  # the output columns that are a number's missing indicator
    # per output column made from a number (unused for category columns): the median a gap
    # takes (unused for an indicator), and the mean and scale it is standardised by (0 and 1
    # where the pipeline does not scale)
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    coef: np.ndarray  # (1, output columns), as scikit-learn's coef_
    intercept: np.ndarray  # (1,)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """X as the pipeline's input step puts it out (model[:-1].transform(X): the same
        values bit for bit, from the same operations on each), row-major."""
        out = np.empty((len(X), len(self.columns)))
        codes = {c: pd.Index(lv).get_indexer(X[c]) for c, lv in self.categories.items()}
        indicators = set(self.indicators)
        for j, column in enumerate(self.columns):
            table = self.tables.get(j)
            if table is not None:
                out[:, j] = table[codes[column]]  # -1, a gap or an unseen level: the last
                continue
            x = X[column].to_numpy(dtype=float, na_value=np.nan)
            gap = np.isnan(x)
            x = gap.astype(float) if j in indicators else np.where(gap, self.medians[j], x)
            out[:, j] = (x - self.means[j]) / self.scales[j]
        return out

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """The decision function, as scikit-learn's: the same matrix product of the same
        values. Bit for bit where scikit-learn's encoded inputs are row-major too (its
        columns stacked, as with the pipelines of models.estimators on the exports tested);
        where they come out column-major the product sums in another order, and the two
        differ in the last bit or two."""
        return (self.encode(X) @ self.coef.T + self.intercept).reshape(-1)

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


def _probe(step: Any, levels: dict[str, list[Any]]) -> np.ndarray:
    """A fitted per-column encoder's output for each level of each column and, last, for a
    gap: one row per level (columns with fewer levels padded with gaps), then a row of gaps."""
    rows = max(len(lv) for lv in levels.values()) + 1
    frame = pd.DataFrame(
        {c: pd.Series(lv + [np.nan] * (rows - len(lv)), dtype=object) for c, lv in levels.items()}
    )
    return np.asarray(step.transform(frame), dtype=float)


def _encoded_columns(
    step: Any, cols: list[str]
) -> tuple[list[str], list[np.ndarray], dict[str, list[Any]]] | None:
    """One-hot or binary target encoding, fitted, where a gap and an unseen level are encoded
    alike (one-hot: all zeros; target: the overall rate), alone or then standardised (a
    pipeline of the encoder and StandardScalers: each value scaled alike, whatever its row):
    the input column behind each output, each output's table (its value per level, then a
    gap's) and the columns' levels. None for anything else."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

    encoder = step
    if isinstance(step, Pipeline):
        encoder, *after = (s for _, s in step.steps)
        if not all(isinstance(s, StandardScaler) for s in after):
            return None
    if isinstance(encoder, OneHotEncoder):
        plain = (
            encoder.drop is None and encoder.max_categories is None
            and encoder.min_frequency is None
        )  # fmt: skip
        if not (plain and encoder.handle_unknown == "ignore" and not encoder.sparse_output):
            return None
        widths = [len(lv) for lv in encoder.categories_]
    elif isinstance(encoder, TargetEncoder) and encoder.target_type_ == "binary":
        widths = [1] * len(cols)
    else:
        return None
    levels = _levels(encoder, cols)
    if any(_is_nan(v) or v is None for lv in levels.values() for v in lv):
        return None  # a gap learnt as a level of its own: not encoded like an unseen level
    encoded = _probe(step, levels)
    owners = [c for c, width in zip(cols, widths, strict=True) for _ in range(width)]
    tables = []
    for j, column in enumerate(owners):
        rows = np.r_[np.arange(len(levels[column])), len(encoded) - 1]
        tables.append(encoded[rows, j])
    return owners, tables, levels


def _input_columns(
    prepare: Any,
) -> tuple[list[str], dict[str, list[Any]], dict[int, np.ndarray]] | None:
    """A fitted input step of columns passed through and encoded categories (ordinal codes
    with an unseen level or a gap as missing, one-hot or target encoded): its output
    columns, the categories' levels and, per output made from a category, its table."""
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    parts = _parts(prepare)
    if parts is None:
        return None
    columns: list[str] = []
    levels: dict[str, list[Any]] = {}
    tables: dict[int, np.ndarray] = {}
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
        if passthrough:
            columns += cols
            continue
        if ordinal:
            found = _levels(step, cols)
            for column in cols:
                tables[len(columns)] = np.r_[np.arange(len(found[column])), np.nan]
                columns.append(column)
        else:
            encoded = _encoded_columns(step, cols)
            if encoded is None:
                return None
            owners, found_tables, found = encoded
            for column, table in zip(owners, found_tables, strict=True):
                tables[len(columns)] = table
                columns.append(column)
        levels.update(found)
    return columns, levels, tables


def _boosting_class() -> type:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier


def _logistic_class() -> type:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression


def _binary_pipeline(model: Any, estimator_class: Callable[[], type]) -> tuple[Any, Any] | None:
    """A fitted two-step pipeline's input step and estimator when the estimator is a binary
    classifier of `estimator_class()`, else None. The class is imported only for a pipeline:
    scoring a runtime form never imports scikit-learn."""
    steps = _steps(model)
    if steps is None:
        return None
    (_, prepare), (_, estimator) = steps
    if not isinstance(estimator, estimator_class()) or len(estimator.classes_) != 2:
        return None
    return prepare, estimator


def boosted_trees(model: Any) -> BoostedTrees | None:
    """The runtime form of a fitted binary gradient-boosting pipeline (an input step of
    columns passed through and encoded categories, then the estimator), the model itself if
    it is one already, or None for anything else."""
    if isinstance(model, BoostedTrees):
        return model
    pair = _binary_pipeline(model, _boosting_class)
    if pair is None:
        return None
    prepare, estimator = pair
    found = _input_columns(prepare)
    if found is None:
        return None
    columns, levels, tables = found
    trees = read_trees(estimator)
    inner = {}
    for j, table in tables.items():
        # the estimator encodes native category codes again: ask it what each value becomes
        probe = np.zeros((len(table), len(columns)))
        probe[:, j] = table
        encoded = np.asarray(estimator._preprocess_X(probe, reset=False), dtype=float)
        inner[j] = encoded[:, int(np.flatnonzero(trees.order == j)[0])]
    return BoostedTrees(trees, columns, levels, inner)


def _number_columns(step: Any) -> tuple[np.ndarray, list[int], np.ndarray, np.ndarray] | None:
    """A fitted imputer of gaps (median, or any statistic), with or without missing
    indicators, alone or then standardised: the value each input's gaps take, the inputs
    with an indicator (put out after the numbers, in this order, as SimpleImputer does), and
    each output's mean and scale (0 and 1 where unscaled). None for anything else."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    impute, *after = (s for _, s in step.steps) if isinstance(step, Pipeline) else (step,)
    if not isinstance(impute, SimpleImputer) or not _is_nan(impute.missing_values):
        return None
    if len(after) > 1 or not all(isinstance(s, StandardScaler) for s in after):
        return None
    medians = np.asarray(impute.statistics_, dtype=float)
    if np.isnan(medians).any():
        return None  # a column of gaps only, left out (keep_empty_features=False)
    indicator = impute.indicator_
    if indicator is not None and indicator.sparse is True:
        return None
    flagged = [] if indicator is None else [int(i) for i in indicator.features_]
    width = len(medians) + len(flagged)
    means, scales = np.zeros(width), np.ones(width)
    if after and after[0].with_mean:
        means = np.asarray(after[0].mean_, dtype=float)
    if after and after[0].with_std:
        scales = np.asarray(after[0].scale_, dtype=float)
    return medians, flagged, means, scales


def linear_model(model: Any) -> LinearModel | None:
    """The runtime form of a fitted binary logistic-regression pipeline (an input step of
    imputed, optionally scaled numbers and encoded categories, then the estimator), the
    model itself if it is one already, or None for anything else (a calibrated model too)."""
    if isinstance(model, LinearModel):
        return model
    pair = _binary_pipeline(model, _logistic_class)
    if pair is None:
        return None
    prepare, estimator = pair
    parts = _parts(prepare)
    if parts is None:
        return None
    columns: list[str] = []
    levels: dict[str, list[Any]] = {}
    tables: dict[int, np.ndarray] = {}
    indicators: list[int] = []
    medians, means, scales = [], [], []
    for step, cols in parts.values():
        if not cols or step == "drop":
            continue  # puts out nothing
        numbers = _number_columns(step)
        if numbers is not None:
            part_medians, flagged, part_means, part_scales = numbers
            start = len(columns) + len(cols)  # the indicators follow the numbers
            indicators += range(start, start + len(flagged))
            columns += cols + [cols[i] for i in flagged]
            medians.append(np.r_[part_medians, np.full(len(flagged), np.nan)])
            means.append(part_means)
            scales.append(part_scales)
            continue
        encoded = _encoded_columns(step, cols)
        if encoded is None:
            return None
        owners, found_tables, found = encoded
        for column, table in zip(owners, found_tables, strict=True):
            tables[len(columns)] = table
            columns.append(column)
        levels.update(found)
        blank = np.full(len(owners), np.nan)
        medians.append(blank)
        means.append(blank)
        scales.append(blank)
    coef = np.ascontiguousarray(estimator.coef_, dtype=float)
    if coef.shape != (1, len(columns)):
        return None
    return LinearModel(
        columns=columns,
        categories=levels,
        tables=tables,
        indicators=indicators,
        medians=np.concatenate(medians) if medians else np.zeros(0),
        means=np.concatenate(means) if means else np.zeros(0),
        scales=np.concatenate(scales) if scales else np.zeros(0),
        coef=coef,
        intercept=np.asarray(estimator.intercept_, dtype=float),
    )


def runtime_model(model: Any) -> BoostedTrees | LinearModel | None:
    """The runtime form of a fitted churn model (boosted_trees, linear_model), or None."""
    return boosted_trees(model) or linear_model(model)


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


LINEAR_ARRAYS = ("medians", "means", "scales", "coef", "intercept")


def to_arrays(
    model: BoostedTrees | LinearModel | None, assigner: Centroids | None
) -> dict[str, np.ndarray]:
    """Arrays (and one JSON text) that from_arrays turns back into the same objects. A
    linear model's meta says `"kind": "linear"`; boosted trees' has no kind (as written
    before linear models had a runtime form)."""
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if isinstance(model, LinearModel):
        meta["model"] = {"kind": "linear", "columns": model.columns,
                         "categories": model.categories, "indicators": model.indicators,
                         "tables": sorted(model.tables)}  # fmt: skip
        for name in LINEAR_ARRAYS:
            arrays[f"model_{name}"] = np.asarray(getattr(model, name), dtype=float)
        for j in sorted(model.tables):
            arrays[f"model_table_{j}"] = model.tables[j]
    elif model is not None:
        t = model.trees
        meta["model"] = {"columns": model.columns, "categories": model.categories,
                         "trees": len(t.nodes), "baseline": t.baseline,
                         "tables": sorted(model.tables)}  # fmt: skip
        arrays["model_order"] = np.asarray(t.order)
        for i, (nodes, bits) in enumerate(zip(t.nodes, t.bitsets, strict=True)):
            arrays[f"model_nodes_{i}"] = nodes
            arrays[f"model_bitsets_{i}"] = np.asarray(bits)
        for j in sorted(model.tables):
            arrays[f"model_table_{j}"] = model.tables[j]
    if assigner is not None:
        meta["assigner"] = {"numbers": assigner.numbers, "categories": assigner.categories}
        for name in ("medians", "means", "scales", "centroids", "labels"):
            arrays[f"assigner_{name}"] = np.asarray(getattr(assigner, name))
    arrays["meta"] = np.asarray(json.dumps(meta))
    return arrays


def from_arrays(arrays: Any) -> tuple[BoostedTrees | LinearModel | None, Centroids | None]:
    """The runtime models to_arrays wrote (either may be None: scored through sklearn)."""
    meta = json.loads(str(arrays["meta"]))
    model: BoostedTrees | LinearModel | None = None
    assigner = None
    if meta.get("model", {}).get("kind") == "linear":
        m = meta["model"]
        model = LinearModel(
            columns=m["columns"],
            categories=m["categories"],
            tables={j: arrays[f"model_table_{j}"] for j in m["tables"]},
            indicators=m["indicators"],
            **{name: arrays[f"model_{name}"] for name in LINEAR_ARRAYS},
        )
    elif "model" in meta:
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
        if "tables" in m:
            tables = {j: arrays[f"model_table_{j}"] for j in m["tables"]}
        else:  # written before one-hot and target encoding: native codes, gaps last
            tables = {m["columns"].index(c): np.r_[arrays[f"model_inner_{i}"], np.nan]
                      for i, c in enumerate(m["categories"])}  # fmt: skip
        model = BoostedTrees(trees, m["columns"], m["categories"], tables)
    if "assigner" in meta:
        a = meta["assigner"]
        assigner = Centroids(
            numbers=a["numbers"],
            categories=a["categories"],
            **{k: arrays[f"assigner_{k}"] for k in ("medians", "means", "scales", "centroids",
                                                     "labels")},
        )  # fmt: skip
    return model, assigner
