"""Engineered features from the data contract and model inputs (gym_churn.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import GymChurnError
from gym_churn.features import add_features, model_inputs
from gym_churn.io import read_table, write_table
from tests.conftest import GYM_CONTRACT, OTHER_CONTRACT, make_members, make_other


@pytest.fixture
def tiny() -> pd.DataFrame:
    """Three gym members whose engineered values are easy to compute by hand."""
    frame = make_members(3)
    frame["Contract_period"] = [12, 1, 6]
    frame["Month_to_end_contract"] = [3.0, 1.0, 6.0]
    frame["Avg_class_frequency_total"] = [2.0, 0.75, 2.5]
    frame["Avg_class_frequency_current_month"] = [1.0, 0.0, 2.5]
    return frame


EXPECTED = {
    # Avg_class_frequency_current_month - Avg_class_frequency_total
    "freq_change": [-1.0, -0.75, 0.0],
    # Contract_period - Month_to_end_contract
    "contract_months_used": [9.0, 0.0, 0.0],
}


def test_engineered_columns_are_appended_in_contract_order(tiny):
    out = add_features(tiny, GYM_CONTRACT)

    assert list(out.columns) == [*tiny.columns, *GYM_CONTRACT.engineered]
    pd.testing.assert_frame_equal(out[tiny.columns], tiny)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hand_computed_values(tiny, name):
    out = add_features(tiny, GYM_CONTRACT)

    assert out[name].tolist() == pytest.approx(EXPECTED[name])
    assert out[name].dtype == np.float64


def test_input_is_not_mutated(tiny):
    before = tiny.copy(deep=True)

    out = add_features(tiny, GYM_CONTRACT)
    out.iloc[0, 0] = -1  # the result must not share data with the input

    pd.testing.assert_frame_equal(tiny, before)


def test_features_keep_the_index(tiny):
    tiny.index = [10, 20, 30]

    out = add_features(tiny, GYM_CONTRACT)

    assert out.index.tolist() == [10, 20, 30]
    assert out.loc[20, "freq_change"] == pytest.approx(-0.75)


def test_other_contract_expression(other_contract):
    members = check_export(make_other(), other_contract, source="o.csv").members

    out = add_features(members, other_contract)

    expected = members["fee"] / (members["tenure_months"] + 1)
    np.testing.assert_allclose(out["fee_per_month"], expected)


def test_gaps_propagate(other_contract):
    members = check_export(make_other(), other_contract, source="o.csv").members
    assert members["fee"].isna().any()

    out = add_features(members, other_contract)

    assert out["fee_per_month"].isna().tolist() == members["fee"].isna().tolist()


def test_contract_without_engineered_features_gives_a_copy():
    contract = parse_contract({**OTHER_CONTRACT, "engineered": {}})
    members = check_export(make_other(), contract, source="o.csv").members

    out = add_features(members, contract)

    pd.testing.assert_frame_equal(out, members)
    out.iloc[0, 1] = "changed"
    assert members.iloc[0, 1] != "changed"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("calls > 3", [0.0, 1.0, 1.0]),  # a comparison gives a 0/1 number
        ("`calls` ** 2", [1.0, 16.0, 25.0]),
        ("(senior == 1) & (calls >= 4)", [0.0, 1.0, 0.0]),
        ("plan == 'basic'", [1.0, 0.0, 0.0]),  # a category compared as text
    ],
)
def test_expression_forms(expr, expected):
    contract = parse_contract({**OTHER_CONTRACT, "engineered": {"e": {"expr": expr}}})
    members = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "plan": ["basic", "plus", "premium"],
            "region": ["r01"] * 3,
            "senior": [0, 1, 0],
            "fee": [10.0, 20.0, 30.0],
            "tenure_months": [1, 2, 3],
            "calls": [1, 4, 5],
        }
    )

    assert add_features(members, contract)["e"].tolist() == expected


def test_unknown_name_in_an_expression_is_a_clear_error():
    def parse_and_add() -> None:
        contract = parse_contract(
            {**OTHER_CONTRACT, "engineered": {"e": {"expr": "calls + callz"}}}
        )
        members = check_export(make_other(), contract, source="o.csv").members
        add_features(members, contract)

    with pytest.raises(GymChurnError, match="callz"):
        parse_and_add()


# ---------------------------------------------------------------- model inputs


def test_model_inputs_are_the_model_features_in_order(other_contract):
    members = add_features(
        check_export(make_other(), other_contract, source="o.csv").members, other_contract
    )

    X = model_inputs(members, other_contract)

    assert list(X.columns) == other_contract.model_features
    assert "customer_id" not in X.columns
    assert "left" not in X.columns
    pd.testing.assert_frame_equal(X, members[other_contract.model_features])


def _numbered() -> tuple:
    contract = parse_contract(
        {
            "target": {"column": "y", "positive": [1], "negative": [0]},
            "features": {
                "store": {"kind": "categorical", "values": [3, 7, 12]},
                "visits": {"kind": "integer"},
            },
        }
    )
    members = pd.DataFrame({"store": [3, 7, 12, 3], "visits": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    return contract, members


def test_numeric_looking_categories_become_text_again(tmp_path):
    contract, members = _numbered()
    checked = check_export(members, contract, source="s.csv").members
    assert checked["store"].tolist() == ["3", "7", "12", "3"]

    # the processed CSV read back: the levels come back as numbers
    path = tmp_path / "members.csv"
    write_table(checked, path)
    back = read_table(path)
    assert pd.api.types.is_integer_dtype(back["store"])

    X = model_inputs(back, contract)

    assert X["store"].tolist() == ["3", "7", "12", "3"]
    assert all(isinstance(v, str) for v in X["store"])
    assert X["visits"].tolist() == [1, 2, 3, 4]  # numbers stay numbers


def test_text_categories_are_left_as_they_are(other_contract):
    members = add_features(
        check_export(make_other(), other_contract, source="o.csv").members, other_contract
    )

    X = model_inputs(members, other_contract)

    assert X["plan"].tolist() == members["plan"].tolist()


def test_category_gaps_stay_gaps_when_turned_into_text():
    contract, _ = _numbered()
    members = pd.DataFrame({"store": [3.0, np.nan, 12.0], "visits": [1, 2, 3]})

    X = model_inputs(members, contract)

    assert X["store"].isna().tolist() == [False, True, False]


def test_float_levels_read_back_with_a_gap_become_the_declared_text():
    contract, _ = _numbered()
    members = pd.DataFrame({"store": [3.0, np.nan, 12.0], "visits": [1, 2, 3]})

    assert model_inputs(members, contract)["store"].tolist()[::2] == ["3", "12"]
