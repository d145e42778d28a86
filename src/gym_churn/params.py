"""Declared schema of params.yaml.

Every section forbids unknown keys, so a misspelled key fails at stage start with a message
naming it, instead of being silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gym_churn.errors import ParamsError

ModelFamily = Literal["logreg", "random_forest", "hist_gradient_boosting"]
MODEL_FAMILIES: tuple[str, ...] = ModelFamily.__args__


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Base(_Section):
    seed: Annotated[int, Field(ge=0)]
    target: str


class Features(_Section):
    freq_change: bool
    contract_months_used: bool
    freq_ratio: bool


class Preprocess(_Section):
    contract_periods: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=1)]
    age_min: Annotated[int, Field(ge=0)]
    age_max: Annotated[int, Field(gt=0)]
    max_visits_per_week: Annotated[float, Field(gt=0)]
    max_lifetime_months: Annotated[int, Field(gt=0)]
    missing: Literal["error", "drop"]
    duplicates: Literal["error", "drop", "keep"]
    features: Features

    @model_validator(mode="after")
    def _age_range(self) -> Preprocess:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) must not exceed age_max ({self.age_max})")
        return self


class Split(_Section):
    test_size: Annotated[float, Field(gt=0, lt=1)]


class Threshold(_Section):
    objective: Literal["f1", "profit"]
    offer_cost: Annotated[float, Field(ge=0)]
    offer_success_rate: Annotated[float, Field(ge=0, le=1)]
    member_value: Annotated[float, Field(ge=0)]


class LogReg(_Section):
    C: Annotated[float, Field(gt=0)]
    max_iter: Annotated[int, Field(gt=0)]


class RandomForest(_Section):
    n_estimators: Annotated[int, Field(gt=0)]
    max_depth: Annotated[int, Field(gt=0)] | None
    min_samples_leaf: Annotated[int, Field(gt=0)]
    max_features: Literal["sqrt", "log2"] | Annotated[float, Field(gt=0, le=1)] | None


class HistGradientBoosting(_Section):
    learning_rate: Annotated[float, Field(gt=0)]
    max_iter: Annotated[int, Field(gt=0)]
    max_leaf_nodes: Annotated[int, Field(ge=2)]
    min_samples_leaf: Annotated[int, Field(gt=0)]
    l2_regularization: Annotated[float, Field(ge=0)]


class Train(_Section):
    model: ModelFamily
    cv_folds: Annotated[int, Field(ge=2)]
    calibration: Literal["none", "sigmoid", "isotonic"]
    calibration_folds: Annotated[int, Field(ge=2)]
    threshold: Threshold
    logreg: LogReg
    random_forest: RandomForest
    hist_gradient_boosting: HistGradientBoosting

    def hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters of the chosen model family."""
        return getattr(self, self.model).model_dump()


class Evaluate(_Section):
    calibration_bins: Annotated[int, Field(ge=2)]
    permutation_repeats: Annotated[int, Field(ge=1)]
    permutation_max_rows: Annotated[int, Field(ge=10)]


class Cluster(_Section):
    algorithm: Literal["kmeans", "agglomerative"]
    k: Annotated[int, Field(ge=2)]
    n_init: Annotated[int, Field(ge=1)]
    columns: Annotated[list[str], Field(min_length=1)]
    k_min: Annotated[int, Field(ge=2)]
    k_max: Annotated[int, Field(ge=2)]
    stability_resamples: Annotated[int, Field(ge=1)]
    stability_fraction: Annotated[float, Field(gt=0, lt=1)]
    silhouette_max_rows: Annotated[int, Field(ge=10)]
    scan_max_rows: Annotated[int, Field(ge=10)]
    dendrogram_rows: Annotated[int, Field(ge=10)]

    @model_validator(mode="after")
    def _k_range(self) -> Cluster:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("columns must not repeat")
        return self


class Profile(_Section):
    portrait_traits: Annotated[int, Field(ge=1)]
    common_age_band: Annotated[list[int], Field(min_length=2, max_length=2)]


class Params(_Section):
    base: Base
    preprocess: Preprocess
    split: Split
    train: Train
    evaluate: Evaluate
    cluster: Cluster
    profile: Profile


def _format_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"]
            if err["type"] == "literal_error":
                msg = f"got {err['input']!r}; {msg[0].lower()}{msg[1:]}"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a params mapping; raise ParamsError naming each bad key and what is allowed."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(_format_error(exc, source)) from None
