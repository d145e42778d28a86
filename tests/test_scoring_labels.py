"""The scored table keeps two-valued text columns in their own labels (issue 26)."""

from __future__ import annotations

import pandas as pd

from gym_churn.contract.spec import parse_contract
from gym_churn.scoring.labels import binary_labels, with_labels

CONTRACT = parse_contract({
    "target": {"column": "left", "positive": ["Yes"], "negative": ["No"]},
    "id": "employee_id",
    "features": {
        "gender": {"kind": "binary", "values": ["Female", "Male"]},
        "overtime": {"kind": "binary", "values": ["No", "Yes"]},
        "remote": {"kind": "binary", "values": [0, 1]},
        "senior": {"kind": "binary", "values": [False, True]},
        "age": {"kind": "integer", "min": 18},
    },
})  # fmt: skip


def test_only_text_and_true_false_flags_have_labels() -> None:
    assert binary_labels(CONTRACT) == {
        "gender": ("Female", "Male"), "overtime": ("No", "Yes"), "senior": (False, True),
    }  # fmt: skip


def test_flags_and_target_read_as_declared() -> None:
    scored = pd.DataFrame({
        "employee_id": ["E1", "E2", "E3"], "churn_probability": [0.1, 0.5, 0.9],
        "gender": [0.0, 1.0, float("nan")], "overtime": [1, 0, 1], "remote": [0, 1, 1],
        "age": [30, 40, 50], "left": [0, 1, 0], "senior": [1, 0, 1],
    })  # fmt: skip
    out = with_labels(scored, CONTRACT)
    assert out["gender"].tolist()[:2] == ["Female", "Male"]
    assert pd.isna(out["gender"].iloc[2])  # a gap stays a gap
    assert out["overtime"].tolist() == ["Yes", "No", "Yes"]
    assert out["left"].tolist() == ["No", "Yes", "No"]
    assert out["remote"].tolist() == [0, 1, 1]  # declared 0/1: unchanged
    assert out["senior"].tolist() == [True, False, True]  # declared true/false
    assert out["age"].tolist() == [30, 40, 50]
    assert scored["gender"].iloc[0] == 0.0  # the input is not changed


def test_a_true_false_target_reads_true_false() -> None:
    contract = CONTRACT.model_copy(update={"target": CONTRACT.target.model_copy(
        update={"positive": [True], "negative": [False]})})  # fmt: skip
    out = with_labels(pd.DataFrame({"left": [1, 0]}), contract)
    assert out["left"].tolist() == [True, False]
