"""Declared schema of params.yaml (gym_churn.params.parse_params)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gym_churn.errors import ParamsError
from gym_churn.params import AUTO, MODEL_FAMILIES, Params, parse_params

PARAMS_PATH = Path(__file__).parents[1] / "params.yaml"
# In dvc.yaml's order: shared values, then one section per stage that has knobs.
SECTIONS = [
    "base", "split", "train", "evaluate", "audit", "drivers", "cluster", "profile", "scoring",
    "campaign", "backtest",
]  # fmt: skip


@pytest.fixture
def raw() -> dict[str, Any]:
    """The real params.yaml as a plain mapping; a fresh deep copy per test."""
    return yaml.safe_load(PARAMS_PATH.read_text(encoding="utf-8"))


def _section(raw: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    *parents, key = dotted.split(".")
    node = raw
    for part in parents:
        node = node[part]
    return node, key


def _replace(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node, key = _section(out, dotted)
    node[key] = value
    return out


def _rename(raw: dict[str, Any], dotted: str, new_key: str) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node, key = _section(out, dotted)
    node[new_key] = node.pop(key)
    return out


def _error(raw: Any) -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(raw, source="my/params.yaml")
    message = str(info.value)
    assert message.startswith("my/params.yaml")
    return message


def test_real_params_yaml_parses(raw):
    params = parse_params(raw)

    assert isinstance(params, Params)
    assert params.base.seed == raw["base"]["seed"]
    assert params.train.model == raw["train"]["model"]
    assert params.train.model in (AUTO, *MODEL_FAMILIES)
    assert len(params.train.auto) == len(raw["train"]["auto"])
    assert params.split.test_size == raw["split"]["test_size"]
    assert params.profile.bootstrap == raw["profile"]["bootstrap"]
    assert params.profile.rule_leaves == raw["profile"]["rule_leaves"]
    assert params.profile.rule_min_share == raw["profile"]["rule_min_share"]
    assert params.audit.min_pure_share == raw["audit"]["min_pure_share"]
    assert params.drivers.model_dump() == raw["drivers"]


def test_sections(raw):
    assert list(Params.model_fields) == SECTIONS
    assert set(raw) == set(Params.model_fields)


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_hyperparameters_follow_the_chosen_family(raw, family):
    params = parse_params(_replace(raw, "train.model", family))

    assert params.train.hyperparameters() == raw["train"][family]
    assert params.train.candidates() == [(family, raw["train"][family])]


def test_auto_candidates_are_families_with_overrides(raw):
    raw["train"]["auto"] = [
        {"model": "hist_gradient_boosting"},
        {"model": "hist_gradient_boosting", "max_iter": 200, "learning_rate": 0.1},
        {"model": "logreg", "C": 0.1},
        {"model": "random_forest", "max_depth": 4, "max_features": None},
    ]
    train = parse_params(_replace(raw, "train.model", AUTO)).train

    candidates = train.candidates()

    hgb, logreg, forest = (raw["train"][f] for f in ("hist_gradient_boosting", "logreg",
                                                     "random_forest"))  # fmt: skip
    assert candidates == [
        ("hist_gradient_boosting", hgb),
        ("hist_gradient_boosting", {**hgb, "max_iter": 200, "learning_rate": 0.1}),
        ("logreg", {**logreg, "C": 0.1}),
        ("random_forest", {**forest, "max_depth": 4, "max_features": None}),
    ]
    assert train.candidate(2) == candidates[2]
    # a candidate's overrides never leak into the family's own section
    assert train.hyperparameters("logreg") == logreg


def test_real_auto_candidates(raw):
    train = parse_params(_replace(raw, "train.model", AUTO)).train

    candidates = train.candidates()

    assert [family for family, _ in candidates] == [c["model"] for c in raw["train"]["auto"]]
    for (family, hyper), declared in zip(candidates, raw["train"]["auto"], strict=True):
        assert set(hyper) == set(raw["train"][family])
        overrides = {k: v for k, v in declared.items() if k != "model"}
        assert hyper == {**raw["train"][family], **overrides}


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        pytest.param({"model": "logreg", "Cc": 1.0}, "auto candidate 1 (logreg): Cc: unknown key",
                     id="unknown-hyperparameter"),
        pytest.param({"model": "logreg", "C": -1}, "auto candidate 1 (logreg): C: Input should "
                     "be greater than 0", id="bad-value"),
        pytest.param({"model": "random_forest", "max_features": "all"},
                     "auto candidate 1 (random_forest): max_features", id="bad-literal"),
        pytest.param({"model": "hist_gradient_boosting", "max_iter": 0},
                     "auto candidate 1 (hist_gradient_boosting): max_iter", id="zero-iterations"),
        pytest.param({"model": "logreg", "n_estimators": 10},
                     "auto candidate 1 (logreg): n_estimators: unknown key",
                     id="other-family-hyperparameter"),
        pytest.param({"model": "xgboost"}, "train.auto.1.model: got 'xgboost'",
                     id="unknown-family"),
        pytest.param({"C": 1.0}, "train.auto.1.model: required key is missing", id="no-family"),
    ],
)  # fmt: skip
def test_bad_auto_candidate_is_named(raw, candidate, expected):
    raw["train"]["auto"] = [{"model": "logreg"}, candidate]

    assert expected in _error(raw)


def test_bad_candidate_fails_even_when_a_family_is_chosen(raw):
    raw["train"]["auto"] = [{"model": "logreg", "Cc": 1.0}]

    assert "auto candidate 0 (logreg): Cc" in _error(_replace(raw, "train.model", "logreg"))


def test_auto_needs_a_candidate(raw):
    assert "train.auto" in _error(_replace(raw, "train.auto", []))


def test_params_are_frozen(raw):
    params = parse_params(raw)

    with pytest.raises(ValidationError):
        params.base.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("dotted", "typo"),
    [
        ("base.seed", "sede"),
        ("train.model", "modle"),
        ("train.threshold.offer_cost", "ofer_cost"),
        ("train.hist_gradient_boosting.learning_rate", "learningrate"),
        ("evaluate.calibration_bins", "calibration_bin"),
        ("cluster.k_max", "kmax"),
        ("profile.bootstrap", "bootstrp"),
        ("profile.rule_leaves", "rule_leafs"),
        ("profile.rule_min_share", "rule_min_size"),
        ("audit.min_pure_share", "min_pure_shares"),
        ("drivers.min_overlap", "min_overlp"),
        ("drivers.max_rows", "max_row"),
        ("drivers.early_months", "early_month"),
    ],
)
def test_misspelled_key_is_named(raw, dotted, typo):
    message = _error(_rename(raw, dotted, typo))

    parent = dotted.rsplit(".", 1)[0]
    assert f"{parent}.{typo}: unknown key" in message
    assert f"{dotted}: required key is missing" in message


@pytest.mark.parametrize("section", ["trian", "preprocess", "features"])
def test_unknown_top_level_section_lists_the_sections(raw, section):
    message = _error({**raw, section: {}})

    line = next(line for line in message.splitlines() if line.strip().startswith(f"{section}:"))
    assert "unknown section" in line
    assert f"the sections are {', '.join(SECTIONS)}" in line


@pytest.mark.parametrize(
    ("dotted", "value"),
    [("base.target", "Churn"), ("cluster.columns", ["Age"]), ("profile.common_age_band", [27, 31])],
)
def test_keys_now_in_the_contract_are_refused(raw, dotted, value):
    assert f"{dotted}: unknown key" in _error(_replace(raw, dotted, value))


@pytest.mark.parametrize("section", SECTIONS)
def test_missing_section_is_named(raw, section):
    del raw[section]

    assert f"{section}: required key is missing" in _error(raw)


@pytest.mark.parametrize(
    ("dotted", "allowed"),
    [
        ("train.model", (AUTO, *MODEL_FAMILIES)),
        ("train.calibration", ("none", "sigmoid", "isotonic")),
        ("train.threshold.objective", ("f1", "profit")),
        ("cluster.algorithm", ("kmeans", "agglomerative")),
    ],
)
def test_unknown_literal_names_key_value_and_allowed_values(raw, dotted, allowed):
    message = _error(_replace(raw, dotted, "xgboost"))

    line = next(line for line in message.splitlines() if dotted in line)
    assert "'xgboost'" in line
    for value in allowed:
        assert repr(value) in line


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.2])
def test_test_size_must_be_strictly_between_0_and_1(raw, test_size):
    message = _error(_replace(raw, "split.test_size", test_size))

    assert "split.test_size" in message


@pytest.mark.parametrize("test_size", [0.01, 0.5, 0.99])
def test_test_size_inside_0_1_is_accepted(raw, test_size):
    assert parse_params(_replace(raw, "split.test_size", test_size)).split.test_size == test_size


@pytest.mark.parametrize("seed", [-1, 1.5, "forty-two"])
def test_bad_seed_is_named(raw, seed):
    assert "base.seed" in _error(_replace(raw, "base.seed", seed))


def test_k_min_above_k_max_is_refused(raw):
    message = _error(_replace(_replace(raw, "cluster.k_min", 8), "cluster.k_max", 4))

    assert "cluster" in message
    assert "k_min (8)" in message
    assert "k_max (4)" in message


def test_k_min_equal_to_k_max_is_accepted(raw):
    ok = _replace(_replace(raw, "cluster.k_min", 4), "cluster.k_max", 4)

    assert parse_params(ok).cluster.k_min == 4


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("train.cv_folds", 1),
        ("train.calibration_folds", 1),
        ("train.threshold.offer_success_rate", 1.5),
        ("train.threshold.offer_cost", -1.0),
        ("train.random_forest.max_features", "all"),
        ("train.hist_gradient_boosting.max_leaf_nodes", 1),
        ("evaluate.calibration_bins", 1),
        ("cluster.stability_fraction", 1.0),
        ("profile.bootstrap", 99),
        ("profile.portrait_traits", 0),
        ("profile.rule_leaves", 1),
        ("profile.rule_min_share", 0),
        ("profile.rule_min_share", 0.5),  # two leaves could not both hold half the members
        ("audit.min_pure_share", 0),
        ("audit.min_pure_share", 1),
        ("audit.min_pure_share", -0.1),
        ("drivers.C", 0),
        ("drivers.min_overlap", 0),
        ("drivers.min_overlap", 1.1),
        ("drivers.min_propensity", 0.5),
        ("drivers.alpha", 0),
        ("drivers.alpha", 0.5),
        ("drivers.max_rows", 99),
        ("drivers.early_months", 0),
        ("drivers.early_months", 1.5),
    ],
)
def test_other_out_of_range_values_are_named(raw, dotted, value):
    message = _error(_replace(raw, dotted, value))

    assert any(line.strip().startswith(dotted) for line in message.splitlines()), message


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("profile.rule_leaves", 2),
        ("profile.rule_min_share", 0.49),
        ("profile.rule_min_share", 0.001),
        ("audit.min_pure_share", 0.001),
        ("audit.min_pure_share", 0.99),
        ("drivers.min_overlap", 1.0),
        ("drivers.alpha", 0.01),
        ("drivers.max_rows", 100),
        ("drivers.early_months", 1),
    ],
)
def test_edge_values_of_the_analysis_sections_are_accepted(raw, dotted, value):
    params = parse_params(_replace(raw, dotted, value))

    section, key = dotted.split(".")
    assert getattr(getattr(params, section), key) == value


@pytest.mark.parametrize("not_a_mapping", [None, [], "base: 1", 3])
def test_non_mapping_is_refused(not_a_mapping):
    message = _error(not_a_mapping)

    assert "expected a mapping" in message
