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
AUTO = "auto"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Base(_Section):
    seed: Annotated[int, Field(ge=0)]


class Split(_Section):
    test_size: Annotated[float, Field(gt=0, lt=1)]


class Threshold(_Section):
    objective: Literal["f1", "profit"]
    offer_cost: Annotated[float, Field(ge=0)]
    offer_success_rate: Annotated[float, Field(ge=0, le=1)]
    member_value: Annotated[float, Field(ge=0)]


# How a family's model reads category columns (gym_churn.models.estimators): `native` splits
# on them as categories (gradient boosting only), `onehot` one 0/1 column per level, `target`
# the level's cross-fitted churn rate.
Encoding = Literal["native", "onehot", "target"]
LinearEncoding = Literal["onehot", "target"]


class LogReg(_Section):
    C: Annotated[float, Field(gt=0)]
    max_iter: Annotated[int, Field(gt=0)]
    encoding: LinearEncoding


class RandomForest(_Section):
    n_estimators: Annotated[int, Field(gt=0)]
    max_depth: Annotated[int, Field(gt=0)] | None
    min_samples_leaf: Annotated[int, Field(gt=0)]
    max_features: Literal["sqrt", "log2"] | Annotated[float, Field(gt=0, le=1)] | None
    encoding: LinearEncoding


class HistGradientBoosting(_Section):
    learning_rate: Annotated[float, Field(gt=0)]
    max_iter: Annotated[int, Field(gt=0)]
    max_leaf_nodes: Annotated[int, Field(ge=2)]
    min_samples_leaf: Annotated[int, Field(gt=0)]
    l2_regularization: Annotated[float, Field(ge=0)]
    encoding: Encoding


FAMILY_SECTIONS: dict[str, type[_Section]] = {
    "logreg": LogReg,
    "random_forest": RandomForest,
    "hist_gradient_boosting": HistGradientBoosting,
}


class Candidate(BaseModel):
    """One setting the auto choice tries: a family and hyperparameters over its defaults."""

    model_config = ConfigDict(extra="allow", frozen=True)
    model: ModelFamily


class Train(_Section):
    model: Literal["auto", "logreg", "random_forest", "hist_gradient_boosting"]
    cv_folds: Annotated[int, Field(ge=2)]
    max_fit_rows: Annotated[int, Field(ge=100)]
    calibration: Literal["none", "sigmoid", "isotonic"]
    calibration_folds: Annotated[int, Field(ge=2)]
    threshold: Threshold
    auto: Annotated[list[Candidate], Field(min_length=1)]
    logreg: LogReg
    random_forest: RandomForest
    hist_gradient_boosting: HistGradientBoosting

    @model_validator(mode="after")
    def _candidates_are_valid_settings(self) -> Train:
        for i, _ in enumerate(self.auto):
            self.candidate(i)  # raises on an unknown or out-of-range hyperparameter
        return self

    def hyperparameters(self, family: str | None = None) -> dict[str, Any]:
        """Hyperparameters of a model family as params.yaml sets them (default: `model`)."""
        return getattr(self, family or self.model).model_dump()

    def candidate(self, index: int) -> tuple[str, dict[str, Any]]:
        """Family and full hyperparameters of auto candidate `index`."""
        cand = self.auto[index]
        overrides = dict(cand.model_extra or {})
        merged = {**self.hyperparameters(cand.model), **overrides}
        try:
            FAMILY_SECTIONS[cand.model].model_validate(merged)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: "
                + ("unknown key (misspelled?)" if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors()
            )
            raise ValueError(f"auto candidate {index} ({cand.model}): {detail}") from None
        return cand.model, merged

    def candidates(self) -> list[tuple[str, dict[str, Any]]]:
        """The settings to compare: every auto candidate, or just the family asked for."""
        if self.model == AUTO:
            return [self.candidate(i) for i in range(len(self.auto))]
        return [(self.model, self.hyperparameters())]


class Evaluate(_Section):
    calibration_bins: Annotated[int, Field(ge=2)]
    permutation_repeats: Annotated[int, Field(ge=1)]
    permutation_max_rows: Annotated[int, Field(ge=10)]


class Audit(_Section):
    # a feature is flagged when the ranges of its values where every member has the rarer
    # label hold at least this share of members
    min_pure_share: Annotated[float, Field(gt=0, lt=1)]


class Drivers(_Section):
    max_rows: Annotated[int, Field(ge=100)]  # adjusted ratios on every member up to this many
    C: Annotated[float, Field(gt=0)]  # outcome model's inverse ridge strength (larger: weaker)
    min_overlap: Annotated[float, Field(gt=0, le=1)]  # else "cannot be separated from"
    min_propensity: Annotated[float, Field(gt=0, lt=0.5)]  # a stratum's least share per side
    alpha: Annotated[float, Field(gt=0, lt=0.5)]  # family-wise error over the levers (Holm)
    early_months: Annotated[int, Field(ge=1)]  # "early tenure": below this many months


class Cluster(_Section):
    algorithm: Literal["kmeans", "agglomerative"]
    k: Annotated[int, Field(ge=2)]
    n_init: Annotated[int, Field(ge=1)]
    k_min: Annotated[int, Field(ge=2)]
    k_max: Annotated[int, Field(ge=2)]
    stability_resamples: Annotated[int, Field(ge=1)]
    scan_resamples: Annotated[int, Field(ge=1)]
    stability_fraction: Annotated[float, Field(gt=0, lt=1)]
    silhouette_max_rows: Annotated[int, Field(ge=10)]
    scan_max_rows: Annotated[int, Field(ge=10)]
    fit_max_rows: Annotated[int, Field(ge=10)]
    dendrogram_rows: Annotated[int, Field(ge=10)]

    @model_validator(mode="after")
    def _k_range(self) -> Cluster:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class Profile(_Section):
    portrait_traits: Annotated[int, Field(ge=1)]
    bootstrap: Annotated[int, Field(ge=100)]  # resamples for the CIs that need one
    bootstrap_max_rows: Annotated[int, Field(ge=100)]
    rule_leaves: Annotated[int, Field(ge=2)]  # leaves of the churn-supervised rule tree
    rule_min_share: Annotated[float, Field(gt=0, lt=0.5)]  # smallest leaf, share of members


class Scoring(_Section):
    reasons: Annotated[int, Field(ge=1, le=10)]  # reasons shown per explained member
    min_reason_points: Annotated[float, Field(ge=0)]  # smaller contributions are not shown
    background_rows: Annotated[int, Field(ge=10, le=5000)]  # training members the base uses
    drift_bins: Annotated[int, Field(ge=2, le=50)]  # quantile bins of numbers for PSI
    drift_psi: Annotated[float, Field(gt=0)]  # PSI above this: the column drifted


class Campaign(_Section):
    offer_cost: Annotated[float, Field(ge=0)]  # cost of one retention offer
    member_value: Annotated[float, Field(gt=0)]  # value of a member who stays
    success_rate: Annotated[float, Field(ge=0, le=1)]  # share of contacted churners kept
    success_rate_low: Annotated[float, Field(ge=0, le=1)]  # the sensitivity band's ends
    success_rate_high: Annotated[float, Field(ge=0, le=1)]
    budget: Annotated[float, Field(ge=0)]  # money for offers this month
    # the hold-out: the fewest members that detect this effect (percentage points of churn)
    # with this power, in a two-sided test at the 5% level (the 95% CI that reads it)
    min_effect_points: Annotated[float, Field(gt=0, le=100)]
    power: Annotated[float, Field(gt=0, lt=1)]
    holdout_max_share: Annotated[float, Field(ge=0, le=0.5)]  # of the list at most
    # the report's money words: "100 EUR", "worth 100 EUR over the next 12 months"
    currency: Annotated[str, Field(min_length=1)] = "EUR"
    value_period: Annotated[str, Field(min_length=1)] = "over the next 12 months"

    @model_validator(mode="after")
    def _band_holds_rate(self) -> Campaign:
        if not self.success_rate_low <= self.success_rate <= self.success_rate_high:
            raise ValueError(
                f"success_rate_low ({self.success_rate_low}) <= success_rate "
                f"({self.success_rate}) <= success_rate_high ({self.success_rate_high}) "
                "must hold"
            )
        return self


class Backtest(_Section):
    # the last this-many labelled snapshots are each scored by a model fitted on the earlier
    months: Annotated[int, Field(ge=1)]
    calibration_bins: Annotated[int, Field(ge=2)]  # each month's ECE


class Params(_Section):
    base: Base
    split: Split
    train: Train
    evaluate: Evaluate
    audit: Audit
    drivers: Drivers
    cluster: Cluster
    profile: Profile
    scoring: Scoring
    campaign: Campaign
    backtest: Backtest  # panels only (a snapshot column in the contract)


def _format_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
            sections = ", ".join(Params.model_fields)
            msg = f"unknown section (misspelled?); the sections are {sections}"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
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
