"""Data contract of a member export (gym_churn.schema.validate_members)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from gym_churn.errors import DataValidationError
from gym_churn.io import read_table, write_table
from gym_churn.schema import (
    FEATURES,
    ID_COLUMN,
    INTEGER_COLUMNS,
    MAX_ROWS_SHOWN,
    validate_members,
)

SOURCE = "exports/members.csv"


def _failure_line(message: str, column: str, rule: str) -> str:
    """The one line of the error message about `column` and `rule`."""
    hits = [line for line in message.splitlines() if f"column {column!r}" in line and rule in line]
    assert hits, f"no line names column {column!r} and rule {rule!r} in:\n{message}"
    return hits[0]


def _reported_lines(line: str) -> list[int]:
    match = re.search(r"first lines ([\d, ]+)", line)
    assert match, f"no line numbers in {line!r}"
    return [int(n) for n in match.group(1).split(",")]


def _set(column: str, rows: list[int], value: object) -> Callable[[pd.DataFrame], None]:
    def mutate(frame: pd.DataFrame) -> None:
        if isinstance(value, str):
            frame[column] = frame[column].astype(object)
        elif isinstance(value, float) and column in INTEGER_COLUMNS:
            frame[column] = frame[column].astype(float)
        frame.loc[rows, column] = value

    return mutate


def _month_beyond_contract(frame: pd.DataFrame) -> None:
    frame.loc[[4, 9], "Contract_period"] = 1
    frame.loc[[4, 9], "Month_to_end_contract"] = 6.0


# (id, mutation, column, rule, 0-based bad rows)
ROW_RULE_CASES = [
    ("text_in_numeric", _set("Age", [3], "thirty"), "Age", "coerce_dtype", [3]),
    ("nan", _set("Lifetime", [0, 7], np.nan), "Lifetime", "not_nullable", [0, 7]),
    ("nan_in_target", _set("Churn", [5], np.nan), "Churn", "not_nullable", [5]),
    ("binary_flag_2", _set("gender", [2, 11], 2), "gender", "isin([0, 1])", [2, 11]),
    ("churn_2", _set("Churn", [6], 2), "Churn", "isin([0, 1])", [6]),
    ("contract_period", _set("Contract_period", [1], 3), "Contract_period", "isin", [1]),
    ("age_too_high", _set("Age", [10], 120), "Age", "in_range(14, 100)", [10]),
    ("age_too_low", _set("Age", [0], 5), "Age", "in_range(14, 100)", [0]),
    (
        "negative_spend",
        _set("Avg_additional_charges_total", [8], -1.5),
        "Avg_additional_charges_total",
        "greater_than_or_equal_to(0)",
        [8],
    ),
    ("fractional_integer", _set("Age", [12], 30.5), "Age", "whole_number", [12]),
    (
        "month_beyond_contract",
        _month_beyond_contract,
        "Month_to_end_contract",
        "Month_to_end_contract <= Contract_period",
        [4, 9],
    ),
]


def test_valid_members_pass_and_are_typed(valid_members, schema_kwargs):
    out = validate_members(valid_members, **schema_kwargs)

    assert list(out.columns) == [ID_COLUMN, *FEATURES, "Churn"]
    assert len(out) == len(valid_members)
    for col in [*INTEGER_COLUMNS, "Churn"]:
        assert out[col].dtype == np.int64, col
    for col in set(FEATURES) - set(INTEGER_COLUMNS):
        assert out[col].dtype == np.float64, col
    pd.testing.assert_frame_equal(out.drop(columns=[ID_COLUMN]), valid_members, check_dtype=False)


def test_member_row_is_the_1_based_position_in_the_export(valid_members, schema_kwargs):
    out = validate_members(valid_members, **schema_kwargs)

    assert out[ID_COLUMN].tolist() == list(range(1, len(valid_members) + 1))
    assert out.index.tolist() == list(range(len(valid_members)))


def test_column_order_does_not_matter(valid_members, schema_kwargs):
    shuffled = valid_members[list(reversed(valid_members.columns))]

    out = validate_members(shuffled, **schema_kwargs)

    assert list(out.columns) == [ID_COLUMN, *FEATURES, "Churn"]
    pd.testing.assert_frame_equal(out, validate_members(valid_members, **schema_kwargs))


def test_whole_float_in_integer_column_is_accepted(valid_members, schema_kwargs):
    valid_members["Age"] = valid_members["Age"].astype(float)
    valid_members.loc[3, "Age"] = 30.0
    valid_members["Churn"] = valid_members["Churn"].astype(float)

    out = validate_members(valid_members, **schema_kwargs)

    assert out["Age"].dtype == np.int64
    assert out.loc[3, "Age"] == 30
    assert out["Churn"].dtype == np.int64


def test_fractional_float_in_integer_column_is_refused(valid_members, schema_kwargs):
    valid_members["Age"] = valid_members["Age"].astype(float)
    valid_members.loc[3, "Age"] = 5.5

    with pytest.raises(DataValidationError, match="whole_number"):
        validate_members(valid_members, **schema_kwargs)


def test_extra_columns_are_dropped_with_a_warning(valid_members, schema_kwargs, caplog):
    valid_members["member_id"] = range(len(valid_members))
    valid_members.insert(0, "notes", "x")

    with caplog.at_level(logging.WARNING, logger="gym_churn.schema"):
        out = validate_members(valid_members, **schema_kwargs)

    assert "member_id" not in out.columns
    assert "notes" not in out.columns
    assert list(out.columns) == [ID_COLUMN, *FEATURES, "Churn"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert SOURCE in text
    assert "notes" in text
    assert "member_id" in text
    assert "2 extra column" in text


def test_no_warning_without_extra_columns(valid_members, schema_kwargs, caplog):
    with caplog.at_level(logging.WARNING, logger="gym_churn.schema"):
        validate_members(valid_members, **schema_kwargs)

    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_input_frame_is_not_mutated(valid_members, schema_kwargs):
    valid_members["member_id"] = range(len(valid_members))
    valid_members["Age"] = valid_members["Age"].astype(float)
    shuffled = valid_members[list(reversed(valid_members.columns))]
    before = shuffled.copy(deep=True)

    out = validate_members(shuffled, **schema_kwargs)
    out.loc[0, "Age"] = 99  # the result must not be a view on the input either

    pd.testing.assert_frame_equal(shuffled, before)


def test_input_frame_is_not_mutated_when_validation_fails(valid_members, schema_kwargs):
    valid_members.loc[[1, 2], "gender"] = 2
    before = valid_members.copy(deep=True)

    with pytest.raises(DataValidationError):
        validate_members(valid_members, **schema_kwargs)

    pd.testing.assert_frame_equal(valid_members, before)


@pytest.mark.parametrize(
    ("mutate", "column", "rule", "rows"),
    [pytest.param(*case[1:], id=case[0]) for case in ROW_RULE_CASES],
)
def test_broken_rule_names_file_column_rule_and_lines(
    valid_members, schema_kwargs, mutate, column, rule, rows
):
    mutate(valid_members)

    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members, **schema_kwargs)

    message = str(info.value)
    assert message.startswith(SOURCE)
    line = _failure_line(message, column, rule)
    # line in the file = 0-based row + 1 for 1-based lines + 1 for the header
    assert _reported_lines(line) == [r + 2 for r in rows]
    assert f"fails in {len(rows)} row(s)" in line


def test_month_beyond_contract_blames_only_the_month_column(valid_members, schema_kwargs):
    _month_beyond_contract(valid_members)

    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members, **schema_kwargs)

    failures = str(info.value).splitlines()[1:]
    assert len(failures) == 1
    assert "column 'Month_to_end_contract'" in failures[0]


def test_every_broken_rule_is_reported_at_once(valid_members, schema_kwargs):
    valid_members.loc[2, "Phone"] = 3
    valid_members.loc[5, "Age"] = 101

    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members, **schema_kwargs)

    message = str(info.value)
    assert _reported_lines(_failure_line(message, "Phone", "isin([0, 1])")) == [4]
    assert _reported_lines(_failure_line(message, "Age", "in_range(14, 100)")) == [7]


def test_many_bad_rows_show_only_the_first_line_numbers(valid_members, schema_kwargs):
    bad = [1, 3, 5, 7, 9, 11, 13]
    valid_members.loc[bad, "Near_Location"] = 5

    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members, **schema_kwargs)

    line = _failure_line(str(info.value), "Near_Location", "isin([0, 1])")
    assert f"fails in {len(bad)} row(s)" in line
    assert _reported_lines(line) == [r + 2 for r in bad[:MAX_ROWS_SHOWN]]
    assert "..." in line


def test_line_numbers_point_at_the_lines_of_the_csv_file(valid_members, schema_kwargs, tmp_path):
    valid_members.loc[17, "Age"] = 7
    path = tmp_path / "members.csv"
    write_table(valid_members, path)

    with pytest.raises(DataValidationError) as info:
        validate_members(read_table(path), **{**schema_kwargs, "source": str(path)})

    message = str(info.value)
    assert message.startswith(str(path))
    (number,) = _reported_lines(_failure_line(message, "Age", "in_range"))
    file_lines = path.read_text().splitlines()
    header = file_lines[0].split(",")
    assert file_lines[number - 1].split(",")[header.index("Age")] == "7"


def test_member_row_plus_one_is_the_line_in_the_csv_file(valid_members, schema_kwargs, tmp_path):
    valid_members.loc[17, "Age"] = 77
    path = tmp_path / "members.csv"
    write_table(valid_members, path)

    out = validate_members(read_table(path), **schema_kwargs)

    (member_row,) = out.loc[out["Age"] == 77, ID_COLUMN]
    line = path.read_text().splitlines()[member_row]  # 0-based list index = line - 1
    header = path.read_text().splitlines()[0].split(",")
    assert line.split(",")[header.index("Age")] == "77"


@pytest.mark.parametrize("column", ["Age", "Month_to_end_contract", "Churn"])
def test_missing_column_is_named(valid_members, schema_kwargs, column):
    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members.drop(columns=[column]), **schema_kwargs)

    message = str(info.value)
    assert message.startswith(SOURCE)
    assert re.search(rf"missing required column\(s\) {column}\b", message)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda f: f.iloc[0:0], id="header_only"),
        pytest.param(lambda f: pd.DataFrame(), id="no_columns"),
    ],
)
def test_empty_frame_is_refused(valid_members, schema_kwargs, frame):
    with pytest.raises(DataValidationError) as info:
        validate_members(frame(valid_members), **schema_kwargs)

    message = str(info.value)
    assert message.startswith(SOURCE)
    assert "no data rows" in message


@pytest.mark.parametrize("only", [0, 1])
def test_single_class_target_is_refused(valid_members, schema_kwargs, only):
    valid_members["Churn"] = only

    with pytest.raises(DataValidationError) as info:
        validate_members(valid_members, **schema_kwargs)

    message = str(info.value)
    assert message.startswith(SOURCE)
    assert "'Churn'" in message
    assert "two_classes" in message
    assert f"Churn={only}" in message
    assert f"{len(valid_members)} rows" in message


def test_scoring_mode_needs_no_target(valid_members, schema_kwargs):
    unlabelled = valid_members.drop(columns=["Churn"])

    out = validate_members(unlabelled, **{**schema_kwargs, "target": None})

    assert list(out.columns) == [ID_COLUMN, *FEATURES]
    assert len(out) == len(valid_members)


def test_scoring_mode_drops_a_label_column_with_a_warning(valid_members, schema_kwargs, caplog):
    valid_members["Churn"] = 0  # a single class is fine when nothing is trained

    with caplog.at_level(logging.WARNING, logger="gym_churn.schema"):
        out = validate_members(valid_members, **{**schema_kwargs, "target": None})

    assert "Churn" not in out.columns
    assert any("Churn" in r.getMessage() for r in caplog.records)


def test_scoring_mode_still_checks_features(valid_members, schema_kwargs):
    unlabelled = valid_members.drop(columns=["Churn"])
    unlabelled.loc[2, "Partner"] = -1

    with pytest.raises(DataValidationError, match="'Partner'"):
        validate_members(unlabelled, **{**schema_kwargs, "target": None})


def test_contract_periods_come_from_the_arguments(valid_members, schema_kwargs):
    valid_members.loc[0, "Contract_period"] = 3
    valid_members.loc[0, "Month_to_end_contract"] = 2.0

    out = validate_members(valid_members, **{**schema_kwargs, "contract_periods": [1, 3, 6, 12]})

    assert out.loc[0, "Contract_period"] == 3


@pytest.mark.parametrize(("age", "ok"), [(14, True), (100, True), (13, False), (101, False)])
def test_age_bounds_are_inclusive(valid_members, schema_kwargs, age, ok):
    valid_members.loc[0, "Age"] = age

    if ok:
        assert validate_members(valid_members, **schema_kwargs).loc[0, "Age"] == age
    else:
        with pytest.raises(DataValidationError, match="in_range"):
            validate_members(valid_members, **schema_kwargs)
