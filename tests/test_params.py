"""Declared schema of params.yaml (gym_churn.params.parse_params)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gym_churn.errors import ParamsError
from gym_churn.params import MODEL_FAMILIES, Params, parse_params

PARAMS_PATH = Path(__file__).parents[1] / "params.yaml"


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
    assert params.base.target == raw["base"]["target"]
    assert params.train.model == raw["train"]["model"]
    assert params.train.model in MODEL_FAMILIES
    assert list(params.preprocess.contract_periods) == raw["preprocess"]["contract_periods"]
    assert params.split.test_size == raw["split"]["test_size"]


def test_hyperparameters_follow_the_chosen_family(raw):
    for family in MODEL_FAMILIES:
        params = parse_params(_replace(raw, "train.model", family))
        assert params.train.hyperparameters() == raw["train"][family]


def test_params_are_frozen(raw):
    params = parse_params(raw)

    with pytest.raises(ValidationError):
        params.base.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("dotted", "typo"),
    [
        ("base.seed", "sede"),
        ("preprocess.age_max", "agemax"),
        ("preprocess.features.freq_change", "freq_chnage"),
        ("train.model", "modle"),
        ("train.threshold.offer_cost", "ofer_cost"),
        ("train.hist_gradient_boosting.learning_rate", "learningrate"),
        ("evaluate.calibration_bins", "calibration_bin"),
    ],
)
def test_misspelled_key_is_named(raw, dotted, typo):
    message = _error(_rename(raw, dotted, typo))

    parent = dotted.rsplit(".", 1)[0]
    assert f"{parent}.{typo}: unknown key" in message
    assert f"{dotted}: required key is missing" in message


def test_unknown_top_level_section_is_named(raw):
    message = _error({**raw, "trian": {}})

    assert "trian: unknown key" in message


def test_missing_section_is_named(raw):
    del raw["evaluate"]

    assert "evaluate: required key is missing" in _error(raw)


@pytest.mark.parametrize(
    ("dotted", "allowed"),
    [
        ("train.model", MODEL_FAMILIES),
        ("train.calibration", ("none", "sigmoid", "isotonic")),
        ("train.threshold.objective", ("f1", "profit")),
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


def test_age_min_above_age_max_is_refused(raw):
    bad = _replace(_replace(raw, "preprocess.age_min", 60), "preprocess.age_max", 40)

    message = _error(bad)

    assert "preprocess" in message
    assert "age_min (60)" in message
    assert "age_max (40)" in message


def test_age_min_equal_to_age_max_is_accepted(raw):
    ok = _replace(_replace(raw, "preprocess.age_min", 40), "preprocess.age_max", 40)

    assert parse_params(ok).preprocess.age_min == 40


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("preprocess.contract_periods", []),
        ("preprocess.contract_periods", [0, 6]),
        ("train.cv_folds", 1),
        ("train.threshold.offer_success_rate", 1.5),
        ("train.threshold.offer_cost", -1.0),
        ("train.random_forest.max_features", "all"),
        ("evaluate.calibration_bins", 1),
    ],
)
def test_other_out_of_range_values_are_named(raw, dotted, value):
    assert dotted.split(".")[-1] in _error(_replace(raw, dotted, value))


@pytest.mark.parametrize("not_a_mapping", [None, [], "base: 1", 3])
def test_non_mapping_is_refused(not_a_mapping):
    message = _error(not_a_mapping)

    assert "expected a mapping" in message
