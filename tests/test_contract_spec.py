"""The data contract file: parsing, its errors and the questions it answers
(gym_churn.contract.spec)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gym_churn.contract.spec import (
    RESERVED,
    ROW_KEY,
    Contract,
    contract_to_dict,
    label_key,
    parse_contract,
)
from gym_churn.errors import ContractError
from tests.conftest import GYM_CONTRACT_PATH, OTHER_CONTRACT, PANEL_CONTRACT

SOURCE = "contracts/other.yaml"


@pytest.fixture
def raw() -> dict[str, Any]:
    """The other export's contract as plain data; a fresh deep copy per test."""
    return copy.deepcopy(OTHER_CONTRACT)


def _error(raw: Any) -> str:
    with pytest.raises(ContractError) as info:
        parse_contract(raw, source=SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}:")
    return message


def _small(**features: dict[str, Any]) -> dict[str, Any]:
    return {"target": {"column": "y", "positive": [1], "negative": [0]}, "features": features}


# ---------------------------------------------------------------- the bundled contracts


def test_gym_contract_file_parses(gym_contract):
    raw = yaml.safe_load(GYM_CONTRACT_PATH.read_text(encoding="utf-8"))

    assert gym_contract.raw_features == list(raw["features"])
    assert gym_contract.target.column == raw["target"]["column"]
    assert gym_contract.id is None
    assert gym_contract.key == ROW_KEY
    assert gym_contract.tenure == "Lifetime"
    assert gym_contract.categorical == []
    assert gym_contract.model_features == [*raw["features"], *raw["engineered"]]
    assert [r.name for r in gym_contract.relations] == [r["name"] for r in raw["relations"]]
    assert "months_left_within_contract" in [r.name for r in gym_contract.relations]
    assert len(gym_contract.findings) == len(raw["findings"])


def test_other_contract_parses(other_contract):
    assert other_contract.key == "customer_id"
    assert other_contract.tenure == "tenure_months"
    assert other_contract.categorical == ["plan", "region"]
    assert other_contract.of_kind("integer", "numeric") == ["fee", "tenure_months", "calls"]
    assert other_contract.features["senior"].allowed == ["N", "Y"]  # YAML key `values`
    assert other_contract.features["region"].levels[:2] == ["r00", "r01"]
    assert other_contract.with_role("behaviour") == ["fee", "calls"]
    assert other_contract.with_role("lever", "tenure") == ["plan", "tenure_months"]
    assert other_contract.segment_columns == other_contract.raw_features
    assert other_contract.model_features[-1] == "fee_per_month"


def test_contract_round_trips_through_plain_data(gym_contract, other_contract):
    for contract in (gym_contract, other_contract):
        data = contract_to_dict(contract)
        assert parse_contract(yaml.safe_load(yaml.safe_dump(data, allow_unicode=True))) == contract


def test_contract_is_frozen(other_contract):
    with pytest.raises(ValidationError):
        other_contract.id = "other"  # type: ignore[misc]


def test_defaults():
    contract = parse_contract(_small(x={"kind": "integer"}))

    assert contract.duplicates == "error"
    assert contract.target.label == "churned"
    spec = contract.features["x"]
    assert (spec.role, spec.missing, spec.segment, spec.allowed) == ("attribute", "error", True,
                                                                     None)  # fmt: skip


# ---------------------------------------------------------------- errors name the key


def _set(path: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[key] = value

    return change


def _drop(path: str) -> Any:
    def change(raw: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        del node[key]

    return change


def _both(*changes: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        for one in changes:
            one(raw)

    return change


ERRORS = [
    ("unknown_top_key", _set("featurez", {}), "featurez: unknown key (misspelled?)"),
    ("unknown_feature_key", _set("features.plan.kindd", "x"),
     "features.plan.kindd: unknown key (misspelled?)"),
    ("unknown_target_key", _set("target.positives", ["Yes"]),
     "target.positives: unknown key (misspelled?)"),
    ("missing_target", _drop("target"), "target: required key is missing"),
    ("missing_kind", _drop("features.calls.kind"), "features.calls.kind: required key is missing"),
    ("bad_kind", _set("features.calls.kind", "count"), "features.calls.kind: Input should be"),
    ("bad_role", _set("features.calls.role", "driver"), "features.calls.role: Input should be"),
    ("bad_missing", _set("features.fee.missing", "fill"),
     "features.fee.missing: Input should be"),
    ("no_features", _set("features", {}), "features: Dictionary should have at least 1 item"),
    ("no_positive", _set("target.positive", []), "target.positive: List should have at least 1"),
    ("binary_three_values", _set("features.senior.values", ["N", "Y", "?"]),
     "features.senior: a binary feature lists exactly two values"),
    ("categorical_without_values", _drop("features.plan.values"),
     "features.plan: a categorical feature lists its allowed values"),
    ("categorical_with_min", _set("features.plan.min", 0),
     "features.plan: a categorical feature takes values, not min/max"),
    ("min_above_max", _set("features.fee.max", -1), "features.fee: min (0.0) exceeds max (-1.0)"),
    ("repeated_values", _set("features.senior.values", ["y", "Y"]),
     "features.senior: values repeat"),
    ("label_both_ways", _set("target.negative", ["yes"]),
     "target: labels both positive and negative: ['yes']"),
    ("engineered_without_column", _set("engineered.fee_per_month.expr", "2 * 3"),
     "engineered 'fee_per_month': '2 * 3' uses no contract column"),
    ("engineered_unknown_column", _set("engineered.fee_per_month.expr", "fees / 2"),
     "engineered 'fee_per_month': unknown column(s) ['fees'] in 'fees / 2'"),
    ("relation_unknown_column", _set("relations", [{"rule": "calls <= callz"}]),
     "relation 'calls <= callz': unknown column(s) ['callz']"),
    ("finding_unknown_column",
     _set("findings", [{"claim": "c", "measure": "share", "where": "plann == 'basic'"}]),
     "finding 'c': unknown column 'plann'"),
    ("engineered_bad_key", _set("engineered.fee_per_month.exprr", "fee"),
     "engineered.fee_per_month.exprr: unknown key"),
    ("target_is_a_feature", _set("features.left", {"kind": "binary"}),
     "'left' is the target or ID column and cannot be a feature"),
    ("id_is_a_feature", _set("features.customer_id", {"kind": "integer"}),
     "'customer_id' is the target or ID column and cannot be a feature"),
    ("target_is_engineered", _set("engineered.left", {"expr": "calls > 3"}),
     "'left' is the target or ID column"),
    ("reserved_feature", _set("features.segment", {"kind": "integer"}),
     "column name(s) ['segment'] are reserved for pipeline outputs"),
    ("reserved_engineered", _set("engineered.churn_probability", {"expr": "calls / 10"}),
     "column name(s) ['churn_probability'] are reserved"),
    ("reserved_id", _set("id", ROW_KEY), "column name(s) ['member_row'] are reserved"),
    ("feature_and_engineered", _set("engineered.calls", {"expr": "calls * 2"}),
     "['calls'] declared both as a feature and as engineered"),
    ("two_tenure_columns", _set("features.calls.role", "tenure"),
     "only one feature can have role tenure, got ['tenure_months', 'calls']"),
    ("ignored_and_used", _set("ignore.fee", "no"), "'fee' is both ignored and used"),
    ("relation_without_column", _set("relations.0.rule", "1 <= 2"),
     "relation '1 <= 2' uses no contract column"),
    ("relation_blames_unknown", _set("relations.0.blame", "callz"),
     "blame 'callz' is not a feature"),
    ("finding_unknown_column", _set("findings", [{"claim": "c", "measure": "median",
                                                  "column": "fees"}]),
     "finding 'c': unknown column 'fees'"),
    ("finding_without_argument", _set("findings", [{"claim": "c", "measure": "relative_change",
                                                    "from": "fee"}]),
     "findings.0: measure relative_change needs to"),
    ("bad_duplicates", _set("duplicates", "merge"), "duplicates: Input should be"),
    ("two_errors", _both(_set("features.plan.kindd", 1), _set("features.fee.unitt", "x")),
     "features.fee.unitt: unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"), [pytest.param(*case[1:], id=case[0]) for case in ERRORS]
)
def test_error_names_the_key(raw, change, expected):
    change(raw)

    message = _error(raw)

    assert message.splitlines()[0] == f"{SOURCE}: invalid data contract"
    assert expected in message


def test_every_bad_key_is_listed(raw):
    raw["features"]["plan"]["kindd"] = 1
    raw["features"]["fee"]["unitt"] = "x"

    lines = _error(raw).splitlines()[1:]

    assert lines == [
        "  features.plan.kindd: unknown key (misspelled?)",
        "  features.fee.unitt: unknown key (misspelled?)",
    ]


@pytest.mark.parametrize("not_a_mapping", [None, [], "target: y", 3])
def test_non_mapping_is_refused(not_a_mapping):
    assert "expected a mapping" in _error(not_a_mapping)


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_every_reserved_name_is_refused(name):
    assert "reserved for pipeline outputs" in _error(_small(**{name: {"kind": "integer"}}))


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ({"kind": "numeric", "min": 1, "max": 1}, True),
        ({"kind": "numeric", "min": 2, "max": 1}, False),
        ({"kind": "binary"}, True),
        ({"kind": "binary", "values": ["a"]}, False),
        ({"kind": "binary", "values": [0, 1], "max": 1}, False),
        ({"kind": "integer", "values": [1, 6, 12]}, True),
        ({"kind": "integer", "values": [1, 1.0]}, False),
        ({"kind": "categorical", "values": []}, False),
    ],
)
def test_feature_rules_fit_the_kind(spec, ok):
    if ok:
        assert parse_contract(_small(x=spec)).features["x"].kind == spec["kind"]
    else:
        assert "features.x:" in _error(_small(x=spec))


# ---------------------------------------------------------------- questions


def test_gym_groups_join_the_columns_an_engineered_feature_is_made_from(gym_contract):
    groups = gym_contract.groups

    assert groups["Avg_class_frequency_total"] == [
        "Avg_class_frequency_total",
        "Avg_class_frequency_current_month",
        "freq_change",
    ]
    assert groups["Contract_period"] == [
        "Contract_period",
        "Month_to_end_contract",
        "contract_months_used",
    ]
    joined = {"Avg_class_frequency_current_month", "Month_to_end_contract"}
    assert list(groups) == [c for c in gym_contract.raw_features if c not in joined]
    singles = [c for c in groups if c not in ("Avg_class_frequency_total", "Contract_period")]
    assert all(groups[c] == [c] for c in singles)
    assert sorted(c for g in groups.values() for c in g) == sorted(gym_contract.model_features)


def test_groups_are_a_union_over_chained_engineered_features():
    contract = parse_contract(
        {
            **_small(a={"kind": "numeric"}, b={"kind": "numeric"}, c={"kind": "numeric"},
                     d={"kind": "numeric"}),
            "engineered": {"bc": {"expr": "b + c"}, "ac": {"expr": "a * c"}},
        }
    )  # fmt: skip

    assert contract.groups == {"a": ["a", "b", "c", "bc", "ac"], "d": ["d"]}
    assert contract.sources("ac") == ["a", "c"]


def test_other_groups(other_contract):
    assert other_contract.groups == {
        "plan": ["plan"],
        "region": ["region"],
        "senior": ["senior"],
        "fee": ["fee", "tenure_months", "fee_per_month"],
        "calls": ["calls"],
    }


@pytest.mark.parametrize(
    ("column", "label", "unit", "high", "low"),
    [
        ("calls", "calls", "", "high calls", "low calls"),
        ("plan", "plan", "", "high plan", "low plan"),
        ("fee_per_month", "fee_per_month", "", "high fee_per_month", "low fee_per_month"),
        ("senior", "seniors", "", "high seniors", "low seniors"),
    ],
)
def test_words_fall_back_to_the_name(other_contract, column, label, unit, high, low):
    words = other_contract.words(column)

    assert (words.label, words.unit, words.high, words.low) == (label, unit, high, low)


def test_declared_words_are_kept(gym_contract):
    words = gym_contract.words("Avg_class_frequency_current_month")

    assert words.label == "weekly visits last month"
    assert words.unit == "a week"
    assert words.high == "active last month"
    assert gym_contract.words("freq_change").low == "visiting less than usual"


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("freq_change", "behaviour"),  # first source: Avg_class_frequency_current_month
        ("contract_months_used", "lever"),  # first source: Contract_period
        ("Lifetime", "tenure"),
        ("Partner", "lever"),
    ],
)
def test_role_of_gym_columns(gym_contract, column, role):
    assert gym_contract.role(column) == role


def test_role_of_an_engineered_feature_is_its_first_source_or_its_own(raw):
    assert parse_contract(raw).role("fee_per_month") == "behaviour"  # fee

    raw["engineered"]["fee_per_month"]["expr"] = "(tenure_months + 1) / fee"
    assert parse_contract(raw).role("fee_per_month") == "tenure"

    raw["engineered"]["fee_per_month"]["role"] = "lever"
    assert parse_contract(raw).role("fee_per_month") == "lever"


def test_kind_of_raw_and_engineered_columns(other_contract):
    assert other_contract.kind("plan") == "categorical"
    assert other_contract.kind("senior") == "binary"
    assert other_contract.kind("fee_per_month") == "numeric"


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        ("fee / (tenure_months + 1)", ["fee", "tenure_months"]),
        ("fee_per_month * 2", []),  # a longer name is not its prefix
        ("`fee` + calls", ["fee", "calls"]),
        ("calls + fee", ["calls", "fee"]),  # in the order they appear
        ("xcalls + feex", []),
    ],
)
def test_names_in_an_expression(expr, found):
    assert Contract.names_in(expr, ["fee", "tenure_months", "calls"]) == found


def test_segment_columns_follow_the_flags(gym_contract):
    assert "gender" not in gym_contract.segment_columns
    assert "Phone" not in gym_contract.segment_columns
    assert "Age" in gym_contract.segment_columns
    assert not set(gym_contract.engineered) & set(gym_contract.segment_columns)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("Yes", "yes"),
        (" YES ", "yes"),
        (1, "1"),
        (1.0, "1"),
        (0.5, "0.5"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_label_key(value, key):
    assert label_key(value) == key


# ------------------------------------------------------------------ snapshots (issue 24)


def test_a_panel_contract_keys_rows_by_member_and_snapshot():
    contract = parse_contract(PANEL_CONTRACT)
    assert contract.snapshot == "month"
    assert contract.keys == ["customer_id", "month"]
    assert contract.target.unknown == "score"
    assert parse_contract(OTHER_CONTRACT).keys == ["customer_id"]
    assert parse_contract(OTHER_CONTRACT).target.unknown == "error"


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        pytest.param("plan", "'plan' is the snapshot column and cannot be a feature", id="feature"),
        pytest.param("customer_id", "must differ", id="the-id"),
        pytest.param("left", "must differ", id="the-target"),
        pytest.param("segment", "reserved", id="reserved"),
    ],
)
def test_a_snapshot_column_that_is_used_otherwise_is_refused(snapshot, message):
    with pytest.raises(ContractError, match=message):
        parse_contract({**OTHER_CONTRACT, "snapshot": snapshot})


def test_target_unknown_takes_error_or_score_only():
    raw = {**OTHER_CONTRACT, "target": {**OTHER_CONTRACT["target"], "unknown": "drop"}}
    with pytest.raises(ContractError, match=r"target\.unknown"):
        parse_contract(raw)
