"""Checking an export against its data contract (gym_churn.contract.checks.check_export)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract import checks
from gym_churn.contract.checks import (
    MAX_ROWS_SHOWN,
    check_export,
    member_fingerprints,
    refuse_repeats,
    remember_members,
    repeated_members,
    warm_up,
)
from gym_churn.contract.spec import ROW_KEY, Contract, Population, parse_contract
from gym_churn.errors import DataValidationError, GymChurnError
from gym_churn.io import read_table, write_table
from tests.conftest import (
    FEATURES,
    GYM_CONTRACT,
    OTHER_CONTRACT,
    PANEL_CONTRACT,
    TARGET,
    make_members,
    make_other,
    make_panel,
)

SOURCE = "exports/members.csv"
WHOLE = GYM_CONTRACT.of_kind("binary", "integer")
LOGGER = "gym_churn.contract.checks"
LINE = re.compile(r"^  column '(?P<column>[^']+)': rule (?P<rule>.+?) fails in (?P<count>\d+) row")


def _check(frame: pd.DataFrame, contract: Contract = GYM_CONTRACT, **kwargs: Any):
    return check_export(frame, contract, source=SOURCE, **kwargs)


def _error(frame: pd.DataFrame, contract: Contract = GYM_CONTRACT, **kwargs: Any) -> str:
    with pytest.raises(DataValidationError) as info:
        _check(frame, contract, **kwargs)
    message = str(info.value)
    assert message.startswith(SOURCE)
    return message


def _rules(message: str) -> list[tuple[str, str]]:
    """(column, rule) of every failure line of a message, in order."""
    found = [LINE.match(line) for line in message.splitlines()[1:]]
    assert all(found), message
    return [(m["column"], m["rule"]) for m in found]


def _failure_line(message: str, column: str, rule: str) -> str:
    """The one line of the error message about `column` and `rule`."""
    hits = [
        line for line in message.splitlines() if f"column {column!r}: rule {rule} fails" in line
    ]
    assert len(hits) == 1, f"want one line for column {column!r}, rule {rule!r} in:\n{message}"
    return hits[0]


def _reported_lines(line: str) -> list[int]:
    match = re.search(r"first lines ([\d, ]+)", line)
    assert match, f"no line numbers in {line!r}"
    return [int(n) for n in match.group(1).split(",")]


def _contract(features: dict[str, Any], **extra: Any) -> Contract:
    """A small contract with target `y` (1 = churned) around the given features."""
    raw = {"target": {"column": "y", "positive": [1], "negative": [0]}, "features": features}
    return parse_contract({**raw, **extra}, source="test contract")


def _set(column: str, rows: list[int], value: object) -> Callable[[pd.DataFrame], None]:
    def mutate(frame: pd.DataFrame) -> None:
        if isinstance(value, str) or value is None:
            frame[column] = frame[column].astype(object)
        elif isinstance(value, float):
            frame[column] = frame[column].astype(float)
        frame.loc[rows, column] = value

    return mutate


def _month_beyond_contract(frame: pd.DataFrame) -> None:
    frame.loc[[4, 9], "Contract_period"] = 1
    frame.loc[[4, 9], "Month_to_end_contract"] = 6.0


# (id, mutation, column, rule, 0-based bad rows)
ROW_RULE_CASES = [
    ("text_in_numeric", _set("Age", [3], "thirty"), "Age", "number", [3]),
    ("text_in_float", _set("Avg_additional_charges_total", [2], "lots"),
     "Avg_additional_charges_total", "number", [2]),
    ("nan", _set("Lifetime", [0, 7], np.nan), "Lifetime", "not_missing", [0, 7]),
    ("blank_text", _set("Lifetime", [6], "  "), "Lifetime", "not_missing", [6]),
    ("nan_in_target", _set(TARGET, [5], np.nan), TARGET, "not_missing", [5]),
    ("binary_flag_2", _set("gender", [2, 11], 2), "gender", "one_of[0, 1]", [2, 11]),
    ("binary_flag_text", _set("Phone", [1], "yes"), "Phone", "one_of[0, 1]", [1]),
    ("churn_2", _set(TARGET, [6], 2), TARGET, "one_of[1, 0]", [6]),
    ("contract_period", _set("Contract_period", [1], 13), "Contract_period",
     "isin([1.0, 6.0, 12.0])", [1]),
    ("age_too_high", _set("Age", [10], 120), "Age", "less_than_or_equal_to(100.0)", [10]),
    ("age_too_low", _set("Age", [0], 5), "Age", "greater_than_or_equal_to(14.0)", [0]),
    ("negative_spend", _set("Avg_additional_charges_total", [8], -1.5),
     "Avg_additional_charges_total", "greater_than_or_equal_to(0.0)", [8]),
    ("absurd_visits", _set("Avg_class_frequency_total", [3], 90.0),
     "Avg_class_frequency_total", "less_than_or_equal_to(21.0)", [3]),
    ("infinite_spend", _set("Avg_additional_charges_total", [4], np.inf),
     "Avg_additional_charges_total", "finite", [4]),
    ("fractional_integer", _set("Age", [12], 30.5), "Age", "whole_number", [12]),
    ("month_beyond_contract", _month_beyond_contract, "Month_to_end_contract",
     "months_left_within_contract", [4, 9]),
]  # fmt: skip


# ---------------------------------------------------------------- a valid export


def test_valid_members_pass_and_are_typed(valid_members, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        checked = _check(valid_members)

    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    out = checked.members
    assert list(out.columns) == [ROW_KEY, *FEATURES, TARGET]
    assert len(out) == len(valid_members)
    for col in [ROW_KEY, *WHOLE, TARGET]:
        assert out[col].dtype == np.int64, col
    for col in set(FEATURES) - set(WHOLE):
        assert out[col].dtype == np.float64, col
    pd.testing.assert_frame_equal(out.drop(columns=[ROW_KEY]), valid_members, check_dtype=False)
    assert checked.counts == {
        "rows_read": len(valid_members),
        "rows_dropped_missing": 0,
        "rows_dropped_duplicates": 0,
    }


def test_member_row_is_the_1_based_position_in_the_export(valid_members):
    out = _check(valid_members).members

    assert out[ROW_KEY].tolist() == list(range(1, len(valid_members) + 1))
    assert out.index.tolist() == list(range(len(valid_members)))


def test_member_row_follows_the_index_of_a_later_chunk(valid_members):
    # iter_table_chunks keeps counting rows across chunks: row numbers stay file positions.
    valid_members.index = pd.RangeIndex(100, 100 + len(valid_members))
    assert _check(valid_members).members[ROW_KEY].iloc[0] == 101

    valid_members.loc[103, "Age"] = 7
    line = _failure_line(_error(valid_members), "Age", "greater_than_or_equal_to(14.0)")
    assert _reported_lines(line) == [105]


def test_column_order_does_not_matter(valid_members):
    shuffled = valid_members[list(reversed(valid_members.columns))]

    out = _check(shuffled).members

    assert list(out.columns) == [ROW_KEY, *FEATURES, TARGET]
    pd.testing.assert_frame_equal(out, _check(valid_members).members)


def test_whole_float_in_integer_column_is_accepted(valid_members):
    valid_members["Age"] = valid_members["Age"].astype(float)
    valid_members.loc[3, "Age"] = 30.0
    valid_members[TARGET] = valid_members[TARGET].astype(float)

    out = _check(valid_members).members

    assert out["Age"].dtype == np.int64
    assert out.loc[3, "Age"] == 30
    assert out[TARGET].dtype == np.int64


def test_numbers_written_as_text_are_accepted(valid_members):
    text = valid_members.astype({"Age": str, "Avg_additional_charges_total": str})

    out = _check(text).members

    assert out["Age"].tolist() == valid_members["Age"].tolist()
    np.testing.assert_allclose(
        out["Avg_additional_charges_total"], valid_members["Avg_additional_charges_total"]
    )


def test_extra_columns_are_dropped_with_a_warning(valid_members, caplog):
    valid_members["member_id"] = range(len(valid_members))
    valid_members.insert(0, "notes", "x")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = _check(valid_members).members

    assert list(out.columns) == [ROW_KEY, *FEATURES, TARGET]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert SOURCE in text
    assert "2 column(s) not in the data contract" in text
    assert "notes" in text
    assert "member_id" in text


def test_ignored_columns_are_dropped_quietly(other_contract, caplog):
    frame = make_other()
    assert "signup_date" in other_contract.ignore

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = _check(frame, other_contract).members

    assert "signup_date" not in out.columns
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_input_frame_is_not_mutated(valid_members):
    valid_members["member_id"] = range(len(valid_members))
    valid_members["Age"] = valid_members["Age"].astype(float)
    shuffled = valid_members[list(reversed(valid_members.columns))]
    before = shuffled.copy(deep=True)

    out = _check(shuffled).members
    out.loc[0, "Age"] = 99  # the result must not be a view on the input either

    pd.testing.assert_frame_equal(shuffled, before)


def test_input_frame_is_not_mutated_when_the_check_fails(valid_members):
    valid_members.loc[[1, 2], "gender"] = 2
    before = valid_members.copy(deep=True)

    _error(valid_members)

    pd.testing.assert_frame_equal(valid_members, before)


# ---------------------------------------------------------------- broken rules


@pytest.mark.parametrize(
    ("mutate", "column", "rule", "rows"),
    [pytest.param(*case[1:], id=case[0]) for case in ROW_RULE_CASES],
)
def test_broken_rule_names_file_column_rule_and_lines(valid_members, mutate, column, rule, rows):
    mutate(valid_members)

    message = _error(valid_members)

    assert message.splitlines()[0] == f"{SOURCE}: data contract violated"
    assert _rules(message) == [(column, rule)]
    line = _failure_line(message, column, rule)
    # line in the file = 0-based row + 1 for 1-based lines + 1 for the header
    assert _reported_lines(line) == [r + 2 for r in rows]
    assert f"fails in {len(rows)} row(s)" in line


def test_the_line_shows_the_bad_values(valid_members):
    valid_members["Age"] = valid_members["Age"].astype(object)
    valid_members.loc[[3, 8], "Age"] = ["thirty", "old"]

    line = _failure_line(_error(valid_members), "Age", "number")

    assert "; values 'thirty', 'old';" in line


def test_many_bad_rows_show_only_the_first_line_numbers(valid_members):
    bad = [1, 3, 5, 7, 9, 11, 13]
    valid_members.loc[bad, "Near_Location"] = 5

    line = _failure_line(_error(valid_members), "Near_Location", "one_of[0, 1]")

    assert f"fails in {len(bad)} row(s)" in line
    assert _reported_lines(line) == [r + 2 for r in bad[:MAX_ROWS_SHOWN]]
    assert "..." in line


def _text_age_bad_spend_bad_label(frame: pd.DataFrame) -> None:
    _set("Age", [3], "thirty")(frame)
    _set("Avg_additional_charges_total", [5], -2.0)(frame)
    _set(TARGET, [7], "maybe")(frame)


def _every_kind_of_break(frame: pd.DataFrame) -> None:
    _text_age_bad_spend_bad_label(frame)
    _set("gender", [1], 3)(frame)
    _set("Lifetime", [2], None)(frame)
    _set("Contract_period", [6], 13)(frame)
    _month_beyond_contract(frame)
    _set("Avg_class_frequency_total", [10, 11], 30.0)(frame)


def _same_cell_two_rules(frame: pd.DataFrame) -> None:
    _set("Age", [2], 5.5)(frame)  # below the minimum and not a whole number


def _same_rule_many_rows(frame: pd.DataFrame) -> None:
    _set("Age", [1, 2], "x")(frame)
    frame.loc[[3, 4], "Age"] = ["y", None]
    frame.loc[[5, 6], "Age"] = [200, 300]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _text_age_bad_spend_bad_label,
            {("Age", "number"), ("Avg_additional_charges_total", "greater_than_or_equal_to(0.0)"),
             (TARGET, "one_of[1, 0]")},
            id="text-range-label",
        ),
        pytest.param(
            _every_kind_of_break,
            {("Age", "number"), ("Avg_additional_charges_total", "greater_than_or_equal_to(0.0)"),
             (TARGET, "one_of[1, 0]"), ("gender", "one_of[0, 1]"), ("Lifetime", "not_missing"),
             ("Contract_period", "isin([1.0, 6.0, 12.0])"),
             ("Month_to_end_contract", "months_left_within_contract"),
             ("Avg_class_frequency_total", "less_than_or_equal_to(21.0)")},
            id="eight-rules",
        ),
        pytest.param(
            _same_cell_two_rules,
            {("Age", "greater_than_or_equal_to(14.0)"), ("Age", "whole_number")},
            id="one-cell-two-rules",
        ),
        pytest.param(
            _same_rule_many_rows,
            {("Age", "number"), ("Age", "not_missing"), ("Age", "less_than_or_equal_to(100.0)")},
            id="one-column-three-rules",
        ),
    ],
)  # fmt: skip
def test_every_broken_rule_is_reported_once_in_one_run(valid_members, mutate, expected):
    mutate(valid_members)

    message = _error(valid_members)

    found = _rules(message)
    assert set(found) == expected
    assert Counter(found).most_common(1)[0][1] == 1, message
    lines = message.splitlines()
    assert len(lines) == len(set(lines))


def test_failures_of_the_other_export_are_reported_together(other_contract):
    frame = make_other().astype({"calls": object, "left": object})
    frame.loc[4, "calls"] = "many"
    frame.loc[6, "fee"] = -1.0
    frame.loc[8, "left"] = "Maybe"
    frame.loc[9, "plan"] = "gold"
    frame.loc[10, "senior"] = "maybe"

    message = _error(frame, other_contract)

    # ID first (none broken here), then the features in contract order, the target last
    assert _rules(message) == [
        ("plan", "one_of['basic', 'plus', 'premium']"),
        ("senior", "one_of['N', 'Y']"),
        ("fee", "greater_than_or_equal_to(0.0)"),
        ("calls", "number"),
        ("left", "one_of['Yes', 'No']"),
    ]
    assert _reported_lines(_failure_line(message, "calls", "number")) == [6]
    assert _reported_lines(_failure_line(message, "left", "one_of['Yes', 'No']")) == [10]


def test_a_cell_that_does_not_parse_is_not_judged_by_value_rules(valid_members):
    # A word in Contract_period makes it a gap for the relation: one line, about the word.
    _set("Contract_period", [4], "yearly")(valid_members)
    valid_members.loc[4, "Month_to_end_contract"] = 9.0

    assert _rules(_error(valid_members)) == [("Contract_period", "number")]


@pytest.mark.parametrize(("age", "ok"), [(14, True), (100, True), (13, False), (101, False)])
def test_bounds_come_from_the_contract_and_are_inclusive(valid_members, age, ok):
    valid_members.loc[0, "Age"] = age

    if ok:
        assert _check(valid_members).members.loc[0, "Age"] == age
    else:
        message = _error(valid_members)
        assert _rules(message)[0][0] == "Age"


# ---------------------------------------------------------------- relations


@pytest.mark.parametrize(
    ("relation", "column", "rule"),
    [
        pytest.param({"rule": "a <= b"}, "a", "a <= b", id="unnamed-first-column"),
        pytest.param({"rule": "a <= b", "name": "a_within_b"}, "a", "a_within_b", id="named"),
        pytest.param({"rule": "a <= b", "name": "b_covers_a", "blame": "b"}, "b", "b_covers_a",
                     id="blamed-second-column"),
        pytest.param({"rule": "`b` >= a", "name": "backticks"}, "b", "backticks",
                     id="backticked-first-column"),
    ],
)  # fmt: skip
def test_relation_is_named_and_blamed_on_one_column(relation, column, rule):
    contract = _contract(
        {"a": {"kind": "integer"}, "b": {"kind": "integer"}, "c": {"kind": "numeric"}},
        relations=[relation],
    )
    frame = pd.DataFrame({"a": [1, 5, 3, 9], "b": [2, 3, 4, 7], "c": [0.5] * 4, "y": [0, 1, 0, 1]})

    message = _error(frame, contract)

    assert _rules(message) == [(column, rule)]
    line = _failure_line(message, column, rule)
    assert _reported_lines(line) == [3, 5]
    assert "fails in 2 row(s)" in line


def test_relation_skips_rows_with_a_gap():
    contract = _contract(
        {"a": {"kind": "integer", "missing": "keep"}, "b": {"kind": "integer"}},
        relations=[{"rule": "a <= b", "name": "a_within_b"}],
    )
    frame = pd.DataFrame({"a": [1.0, np.nan, 9.0], "b": [2, 3, 4], "y": [0, 1, 1]})

    message = _error(frame, contract)

    assert _reported_lines(_failure_line(message, "a", "a_within_b")) == [4]


def test_a_relation_that_cannot_be_evaluated_does_not_pass_silently():
    frame = pd.DataFrame({"a": [1, 9], "b": [2, 3], "y": [0, 1]})

    def parse_and_check() -> None:
        contract = _contract(
            {"a": {"kind": "integer"}, "b": {"kind": "integer"}},
            relations=[{"rule": "a <= bb", "name": "typo"}],
        )
        _check(frame, contract)

    with pytest.raises(GymChurnError, match="bb"):
        parse_and_check()


def test_month_beyond_contract_blames_only_the_month_column(valid_members):
    _month_beyond_contract(valid_members)

    failures = _error(valid_members).splitlines()[1:]

    assert len(failures) == 1
    assert "column 'Month_to_end_contract'" in failures[0]


# ---------------------------------------------------------------- labels and flags


@pytest.mark.parametrize(
    ("positive", "negative", "cells"),
    [
        pytest.param(["Yes"], ["No"], ["Yes", "No", "Yes", "No"], id="Yes/No"),
        pytest.param(["Yes"], ["No"], ["yes", "no", " YES ", "No "], id="yes/no-any-case"),
        pytest.param([True], [False], [True, False, True, False], id="bool-dtype"),
        pytest.param([True], [False], ["True", "False", "TRUE", "false"], id="True/False-text"),
        pytest.param([1], [0], [1, 0, 1, 0], id="1/0"),
        pytest.param([1], [0], [1.0, 0.0, 1.0, 0.0], id="1.0/0.0"),
        pytest.param([1], [0], ["1", "0", "1", "0"], id="1/0-text"),
        pytest.param(["churned", "cancelled"], ["active"],
                     ["churned", "active", "Cancelled", "active"], id="two-positive-labels"),
    ],
)  # fmt: skip
def test_target_labels_map_to_0_and_1(positive, negative, cells):
    contract = parse_contract(
        {
            "target": {"column": "y", "positive": positive, "negative": negative},
            "features": {"x": {"kind": "integer"}},
        }
    )
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": cells})

    out = _check(frame, contract).members

    assert out["y"].tolist() == [1, 0, 1, 0]
    assert out["y"].dtype == np.int64


def test_bool_target_matches_numeric_labels():
    contract = _contract({"x": {"kind": "integer"}})
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [True, False, True, False]})

    assert _check(frame, contract).members["y"].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("share", [0.5, 0.75, 0.9])
def test_the_target_may_be_the_majority_class(share):
    n = 20
    positives = int(share * n)
    contract = _contract({"x": {"kind": "integer"}})
    frame = pd.DataFrame({"x": range(n), "y": [1] * positives + [0] * (n - positives)})

    out = _check(frame, contract).members

    assert out["y"].mean() == pytest.approx(share)


@pytest.mark.parametrize("only", [0, 1])
def test_single_class_target_is_refused(valid_members, only):
    valid_members[TARGET] = only

    message = _error(valid_members)

    assert f"column {TARGET!r}: rule two_classes fails" in message
    assert f"{len(valid_members)} rows" in message


@pytest.mark.parametrize(
    ("values", "cells", "expected"),
    [
        pytest.param(["N", "Y"], ["N", "Y", "y", " n "], [0, 1, 1, 0], id="N/Y-any-case"),
        pytest.param(["no", "yes"], ["Yes", "no", "YES", "No"], [1, 0, 1, 0], id="no/yes"),
        pytest.param(["F", "M"], ["M", "F", "m", "f"], [1, 0, 1, 0], id="F/M"),
        pytest.param([False, True], ["True", "False", "true", "FALSE"], [1, 0, 1, 0],
                     id="True/False-text"),
        pytest.param([False, True], [True, False, True, False], [1, 0, 1, 0], id="bool-dtype"),
        pytest.param(None, [1, 0, 1, 0], [1, 0, 1, 0], id="default-0/1"),
        pytest.param(None, ["1", "0", "1", "0"], [1, 0, 1, 0], id="default-0/1-text"),
    ],
)  # fmt: skip
def test_binary_flags_map_to_0_and_1(values, cells, expected):
    spec = {"kind": "binary"} | ({"values": values} if values is not None else {})
    contract = _contract({"flag": spec, "x": {"kind": "integer"}})
    frame = pd.DataFrame({"flag": cells, "x": [1, 2, 3, 4], "y": [0, 1, 0, 1]})

    out = _check(frame, contract).members

    assert out["flag"].tolist() == expected
    assert out["flag"].dtype == np.int64


def test_binary_flag_outside_its_values_is_refused():
    contract = _contract({"flag": {"kind": "binary", "values": ["N", "Y"]}})
    frame = pd.DataFrame({"flag": ["N", "Yes", "Y", "1"], "y": [0, 1, 0, 1]})

    line = _failure_line(_error(frame, contract), "flag", "one_of['N', 'Y']")

    assert _reported_lines(line) == [3, 5]


# ---------------------------------------------------------------- categories


def test_categories_are_text_and_trimmed(other_contract):
    frame = make_other()
    frame.loc[0, "plan"] = "  plus "

    out = _check(frame, other_contract).members

    assert out.loc[0, "plan"] == "plus"
    assert set(out["plan"]) <= set(other_contract.features["plan"].levels)


def test_unknown_level_is_refused_when_labelled(other_contract):
    frame = make_other()
    frame.loc[[2, 5], "plan"] = ["gold", "Basic"]  # levels compare as written

    line = _failure_line(
        _error(frame, other_contract), "plan", "one_of['basic', 'plus', 'premium']"
    )

    assert _reported_lines(line) == [4, 7]
    assert "'gold', 'Basic'" in line


@pytest.mark.parametrize("labelled", [True, False])
def test_unknown_level_is_missing_with_a_warning_when_lenient(other_contract, caplog, labelled):
    frame = make_other()
    frame.loc[[2, 5], "plan"] = "gold"
    if not labelled:
        frame = frame.drop(columns=["left"])

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = _check(frame, other_contract, labelled=labelled, lenient_levels=True).members

    assert len(out) == len(frame)
    assert out["plan"].isna().tolist() == [i in (2, 5) for i in range(len(frame))]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "'plan'" in warning
    assert "2 row(s)" in warning
    assert "'gold'" in warning
    assert "missing" in warning


def test_lenient_levels_still_refuse_other_broken_rules(other_contract):
    frame = make_other()
    frame.loc[2, "plan"] = "gold"
    frame.loc[3, "calls"] = -1

    message = _error(frame, other_contract, lenient_levels=True)

    assert _rules(message) == [("calls", "greater_than_or_equal_to(0.0)")]


def test_numeric_levels_with_a_gap_are_accepted():
    contract = _contract(
        {"region": {"kind": "categorical", "values": [1, 2, 3], "missing": "keep"}}
    )
    frame = pd.DataFrame({"region": [1, 2, np.nan, 3], "y": [0, 1, 0, 1]})

    out = _check(frame, contract).members

    assert out["region"].tolist()[:2] == ["1", "2"]
    assert out["region"].isna().tolist() == [False, False, True, False]


def test_numeric_levels_without_a_gap_become_text():
    contract = _contract({"region": {"kind": "categorical", "values": [1, 2, 3]}})
    frame = pd.DataFrame({"region": [1, 2, 2, 3], "y": [0, 1, 0, 1]})

    assert _check(frame, contract).members["region"].tolist() == ["1", "2", "2", "3"]


# ---------------------------------------------------------------- missing values


def _with_gaps(kind: str, missing: str) -> tuple[Contract, pd.DataFrame]:
    spec: dict[str, Any] = {"kind": kind, "missing": missing}
    cells: list[Any] = [1, None, 3, 4, None, 6]
    if kind == "categorical":
        spec["values"] = ["a", "b"]
        cells = ["a", None, "b", "a", "  ", "b"]
    elif kind == "binary":
        cells = [0, None, 1, 1, None, 0]
    contract = _contract({"col": spec, "x": {"kind": "integer"}})
    frame = pd.DataFrame({"col": cells, "x": range(6), "y": [0, 1, 0, 1, 0, 1]})
    return contract, frame


KINDS = ["binary", "integer", "numeric", "categorical"]


@pytest.mark.parametrize("kind", KINDS)
def test_missing_error_names_the_gaps(kind):
    contract, frame = _with_gaps(kind, "error")

    line = _failure_line(_error(frame, contract), "col", "not_missing")

    assert _reported_lines(line) == [3, 6]


@pytest.mark.parametrize("kind", KINDS)
def test_missing_drop_drops_and_counts_the_rows(kind, caplog):
    contract, frame = _with_gaps(kind, "drop")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        checked = _check(frame, contract)

    assert checked.members[contract.key].tolist() == [1, 3, 4, 6]
    assert checked.members["col"].notna().all()
    assert checked.counts["rows_dropped_missing"] == 2
    assert checked.counts["rows_read"] == 6
    assert "dropped 2 row(s)" in caplog.text
    assert "first lines 3, 6" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_missing_keep_keeps_the_gaps(kind):
    contract, frame = _with_gaps(kind, "keep")

    checked = _check(frame, contract)

    assert checked.members["col"].isna().tolist() == [False, True, False, False, True, False]
    assert checked.counts["rows_dropped_missing"] == 0
    if kind != "categorical":
        assert checked.members["col"].dtype == np.float64  # a gap cannot be an int64


def test_missing_policy_is_per_column():
    contract = _contract(
        {
            "kept": {"kind": "numeric", "missing": "keep"},
            "dropped": {"kind": "numeric", "missing": "drop"},
            "required": {"kind": "numeric"},
        }
    )
    frame = pd.DataFrame(
        {
            "kept": [1.0, np.nan, 3.0, 4.0],
            "dropped": [1.0, 2.0, np.nan, 4.0],
            "required": [1.0, 2.0, 3.0, 4.0],
            "y": [0, 1, 0, 1],
        }
    )

    checked = _check(frame, contract)
    assert checked.members[contract.key].tolist() == [1, 2, 4]
    assert checked.members["kept"].isna().sum() == 1

    frame.loc[0, "required"] = np.nan
    assert _rules(_error(frame, contract)) == [("required", "not_missing")]


# ---------------------------------------------------------------- IDs and duplicates


def test_id_column_is_carried_through_as_the_key(other_contract):
    frame = make_other()

    out = _check(frame, other_contract).members

    assert other_contract.key == "customer_id"
    assert list(out.columns) == ["customer_id", *other_contract.raw_features, "left"]
    assert out["customer_id"].tolist() == frame["customer_id"].tolist()
    assert ROW_KEY not in out.columns


def test_repeated_ids_are_refused_naming_the_lines(other_contract):
    frame = make_other()
    frame.loc[[7, 12], "customer_id"] = frame.loc[3, "customer_id"]

    message = _error(frame, other_contract)

    line = _failure_line(message, "customer_id", "no_duplicate_members")
    assert "fails in 2 row(s)" in line
    assert _reported_lines(line) == [9, 14]
    assert "set `duplicates: drop`" in line


def test_blank_id_is_refused(other_contract):
    frame = make_other()
    frame.loc[4, "customer_id"] = None

    line = _failure_line(_error(frame, other_contract), "customer_id", "not_missing")

    assert _reported_lines(line) == [6]


@pytest.mark.parametrize(
    ("policy", "kept"), [("drop", [0, 1, 2, 3, 4]), ("keep", [0, 1, 2, 3, 4, 5, 6])]
)
def test_repeated_ids_policy(other_contract, policy, kept):
    frame = make_other(5)
    frame = pd.concat([frame, frame.iloc[[1, 3]]], ignore_index=True)

    checked = _check(frame, other_contract, duplicates=policy)

    assert checked.members["customer_id"].tolist() == frame["customer_id"].iloc[kept].tolist()
    assert checked.counts["rows_dropped_duplicates"] == 7 - len(kept)


def test_without_an_id_duplicates_are_rows_equal_in_every_column(valid_members):
    repeated = pd.concat([valid_members, valid_members.iloc[[3, 9]]], ignore_index=True)
    n = len(valid_members)

    message = _error(repeated)
    assert "every column: rule no_duplicate_members fails in 2 row(s)" in message
    assert f"first lines {n + 2}, {n + 3};" in message
    assert "set `duplicates: drop`" in message

    # same data but another label: a different member, not a repeat
    repeated.loc[n, TARGET] = 1 - repeated.loc[n, TARGET]
    repeated = repeated.iloc[: n + 1]
    assert len(_check(repeated).members) == n + 1

    once_more = repeated.iloc[[*range(n), 3]].reset_index(drop=True)
    dropped = _check(once_more, duplicates="drop")
    assert dropped.counts["rows_dropped_duplicates"] == 1
    assert dropped.members[ROW_KEY].tolist() == list(range(1, n + 1))


# ---------------------------------------------------------------- lines in the file


def test_line_numbers_point_at_the_lines_of_the_csv_file(valid_members, tmp_path):
    valid_members.loc[17, "Age"] = 7
    path = tmp_path / "members.csv"
    write_table(valid_members, path)

    with pytest.raises(DataValidationError) as info:
        check_export(read_table(path), GYM_CONTRACT, source=str(path))

    message = str(info.value)
    assert message.startswith(str(path))
    (number,) = _reported_lines(_failure_line(message, "Age", "greater_than_or_equal_to(14.0)"))
    file_lines = path.read_text().splitlines()
    header = file_lines[0].split(",")
    assert file_lines[number - 1].split(",")[header.index("Age")] == "7"


@pytest.mark.parametrize("row", [0, 39])
def test_member_row_is_the_file_line_minus_one(valid_members, tmp_path, row):
    valid_members.loc[row, "Age"] = 77
    path = tmp_path / "members.csv"
    write_table(valid_members, path)

    out = check_export(read_table(path), GYM_CONTRACT, source=str(path)).members

    (member_row,) = out.loc[out["Age"] == 77, ROW_KEY]
    file_lines = path.read_text().splitlines()
    line = file_lines[member_row]  # list index = line number - 1 = member_row
    assert line.split(",")[file_lines[0].split(",").index("Age")] == "77"


# ---------------------------------------------------------------- required columns, scoring


@pytest.mark.parametrize("column", ["Age", "Month_to_end_contract", TARGET])
def test_missing_column_is_named(valid_members, column):
    message = _error(valid_members.drop(columns=[column]))

    assert re.search(rf"missing required column\(s\) {column}\b", message)


def test_missing_id_column_is_named(other_contract):
    message = _error(make_other().drop(columns=["customer_id"]), other_contract)

    assert "missing required column(s) customer_id" in message


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda f: f.iloc[0:0], id="header_only"),
        pytest.param(lambda f: pd.DataFrame(), id="no_columns"),
    ],
)
def test_empty_frame_is_refused(valid_members, frame):
    assert "no data rows" in _error(frame(valid_members))


def test_scoring_mode_needs_no_target(valid_members):
    unlabelled = valid_members.drop(columns=[TARGET])

    out = _check(unlabelled, labelled=False).members

    assert list(out.columns) == [ROW_KEY, *FEATURES]
    assert len(out) == len(valid_members)


def test_scoring_mode_leaves_a_label_column_out(valid_members):
    valid_members[TARGET] = 0  # a single class is fine when nothing is trained

    out = _check(valid_members, labelled=False).members

    assert TARGET not in out.columns


def test_scoring_mode_still_checks_features(valid_members):
    unlabelled = valid_members.drop(columns=[TARGET])
    unlabelled.loc[2, "Partner"] = -1

    assert _rules(_error(unlabelled, labelled=False)) == [("Partner", "one_of[0, 1]")]


def test_the_other_contract_is_typed(other_contract):
    frame = make_other()

    out = _check(frame, other_contract).members

    assert out["senior"].tolist() == (frame["senior"] == "Y").astype(int).tolist()
    assert out["left"].tolist() == (frame["left"] == "Yes").astype(int).tolist()
    assert out["fee"].isna().sum() == frame["fee"].isna().sum() > 0
    assert out["plan"].tolist() == frame["plan"].tolist()
    assert OTHER_CONTRACT["id"] == "customer_id"


@pytest.mark.parametrize("which", ["gym", "other"])
def test_warming_the_rules_up_checks_nothing_and_changes_nothing(which, other_contract):
    # scoring runs the rules once on no rows before forking its workers (pandera's set-up)
    contract = GYM_CONTRACT if which == "gym" else other_contract
    export = make_members(40) if which == "gym" else make_other(40)
    before = check_export(export, contract, source="x")
    warm_up(contract)
    after = check_export(export, contract, source="x")
    pd.testing.assert_frame_equal(before.members, after.members)
    bad = export.copy()
    column = "Age" if which == "gym" else "calls"
    bad.loc[3, column] = -1  # still refused after the warm-up
    with pytest.raises(DataValidationError, match=column):
        check_export(bad, contract, source="x")


# ---------------------------------------------------------------- the key that accepts it

KEYED = _contract(
    {
        "n": {"kind": "integer", "min": 0, "max": 10},
        "x": {"kind": "numeric", "missing": "error"},
        "flag": {"kind": "binary", "values": ["no", "yes"]},
        "plan": {"kind": "categorical", "values": ["a", "b"]},
        "menu": {"kind": "integer", "values": [1, 6]},
    },
    relations=[{"rule": "n <= menu", "name": "n_within_menu"}],
)


def _keyed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1, 2, 3, 4, 5, 0],
            "x": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
            "flag": ["no", "yes", "no", "yes", "no", "yes"],
            "plan": ["a", "b", "a", "b", "a", "b"],
            "menu": [6, 6, 6, 6, 6, 1],
            "y": [0, 1, 0, 1, 0, 1],
        }
    )


@pytest.mark.parametrize(
    ("column", "value", "rule", "key"),
    [
        ("n", -1, "greater_than_or_equal_to(0.0)", "lower features.n.min"),
        ("n", 11, "less_than_or_equal_to(10.0)", "raise features.n.max"),
        ("n", 2.5, "whole_number", "features.n.kind: numeric"),
        ("x", None, "not_missing", "features.x.missing: keep"),
        ("x", "many", "number", "features.x.kind: categorical"),
        ("flag", "maybe", "one_of['no', 'yes']", "features.flag.values"),
        ("plan", "c", "one_of['a', 'b']", "add it to features.plan.values"),
        ("menu", 3, "isin([1.0, 6.0])", "add them to features.menu.values"),
        ("y", 7, "one_of[1, 0]", "target.positive or target.negative"),
        ("y", None, "not_missing", "set target.unknown: score"),
    ],
)
def test_each_broken_rule_names_the_contract_key_that_would_accept_it(column, value, rule, key):
    frame = _keyed_frame()
    _set(column, [2], value)(frame)

    line = _failure_line(_error(frame, KEYED), column, rule)

    assert key in line
    assert _reported_lines(line) == [4]


def test_a_broken_relation_names_enforce_false():
    frame = _keyed_frame()
    frame.loc[5, "n"] = 4

    line = _failure_line(_error(frame, KEYED), "n", "n_within_menu")

    assert "set `enforce: false` on n_within_menu" in line


def test_repeats_are_reported_with_every_other_broken_rule_in_one_run(other_contract):
    frame = make_other()
    frame.loc[7, "customer_id"] = frame.loc[3, "customer_id"]
    frame.loc[2, "customer_id"] = None

    message = _error(frame, other_contract)

    assert _rules(message) == [
        ("customer_id", "no_duplicate_members"),
        ("customer_id", "not_missing"),
    ]


# ---------------------------------------------------------------- repeats across chunks


@pytest.mark.parametrize("with_id", [True, False], ids=["by-id", "every-column"])
def test_a_member_repeated_in_a_later_chunk_is_found(other_contract, with_id):
    contract = other_contract if with_id else other_contract.model_copy(update={"id": None})
    frame = make_other(12)
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)  # row 12 repeats row 2
    first, second = frame.iloc[:8], frame.iloc[8:]

    one = _check(first, contract, labelled=False)
    two = _check(second, contract, labelled=False)
    seen = remember_members((), one.fingerprints)
    repeated = repeated_members(two.fingerprints, seen)

    assert repeated.tolist() == [False, False, False, False, True]
    assert repeated_members(one.fingerprints, seen).all()  # seen: every member of chunk one
    assert not repeated_members(two.fingerprints).any()  # alone, chunk two has no repeat
    with pytest.raises(DataValidationError) as info:
        refuse_repeats(contract, two.rows[repeated], two.members[contract.key][repeated], SOURCE)
    assert "no_duplicate_members fails in 1 row(s); first lines 14" in str(info.value)


def test_keep_skips_the_fingerprints(other_contract):
    assert _check(make_other(), other_contract, duplicates="keep").fingerprints is None


def test_fingerprints_follow_the_id_when_there_is_one(other_contract):
    members = _check(make_other(6), other_contract, duplicates="keep").members
    members.loc[4, "customer_id"] = members.loc[1, "customer_id"]  # other data, same ID
    no_id = other_contract.model_copy(update={"id": None})
    by_row = members.rename(columns={"customer_id": no_id.key})

    by_id = member_fingerprints(members, other_contract)
    by_data = member_fingerprints(by_row, no_id)

    assert by_id[4] == by_id[1]
    assert by_data[4] != by_data[1]
    assert repeated_members(by_id).tolist() == [False] * 4 + [True, False]
    assert not repeated_members(by_data).any()


def test_remembered_members_are_found_however_many_chunks_came_before():
    chunks = [np.arange(start, start + 7, dtype=np.uint64) * 7919 for start in range(0, 700, 7)]
    seen: tuple[np.ndarray, ...] = ()
    for chunk in chunks:
        assert not repeated_members(chunk, seen).any()
        seen = remember_members(seen, chunk)

    assert len(seen) <= 12  # merged into a few sorted runs, not one per chunk
    assert all((np.diff(run.keys.astype(np.int64)) > 0).all() for run in seen)
    assert repeated_members(np.concatenate(chunks), seen).all()
    assert not repeated_members(np.array([1, 7920], dtype=np.uint64), seen).any()


def test_a_large_run_of_remembered_members_is_found_through_its_presence_table():
    rng = np.random.default_rng(0)
    earlier = rng.integers(0, 2**64, 2**20 + 5, dtype=np.uint64)
    seen = remember_members((), earlier)
    new = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    asked = np.concatenate([new, earlier[::997]])

    repeated = repeated_members(asked, seen)

    assert len(seen) == 1
    assert repeated.tolist() == np.isin(asked, earlier).tolist()
    assert repeated[len(new) :].all()


@pytest.mark.parametrize("block", [1, 3, 4, 1 << 20])
def test_the_presence_table_is_built_in_blocks_as_it_would_be_at_once(monkeypatch, block):
    # keys on few slots: many share a byte of the table, across the blocks' edges too
    rng = np.random.default_rng(1)
    keys = np.sort(rng.integers(0, 2**10, 997, dtype=np.uint64) << np.uint64(54))
    monkeypatch.setattr(checks, "RUN_BLOCK", block)

    run = remember_members((), keys)[0]

    slots = (keys >> np.uint64(64 - run.bits)).astype(np.intp)
    expected = np.zeros(2 ** (run.bits - 3), dtype=np.uint8)
    np.bitwise_or.at(expected, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))
    assert run.table.tolist() == expected.tolist()
    assert repeated_members(keys[::5], (run,)).all()


# ------------------------------------------------------------------ snapshots (issue 24)

PANEL = parse_contract(PANEL_CONTRACT)


def test_a_member_repeats_once_per_snapshot_and_unknown_outcomes_stay_blank():
    panel = make_panel(members=10, months=3)

    checked = check_export(panel, PANEL, source=SOURCE)

    members = checked.members
    assert list(members.columns[:2]) == ["customer_id", "month"]
    assert len(members) == 30
    assert checked.counts["rows_dropped_duplicates"] == 0
    # the last month's outcome is not known yet: NaN, every other label 0/1
    unknown = members["left"].isna()
    assert (members.loc[unknown, "month"] == "2024-03").all()
    assert unknown.sum() == 10
    assert set(members.loc[~unknown, "left"]) == {0.0, 1.0}


def test_a_member_twice_in_one_snapshot_is_a_repeat():
    panel = make_panel(members=10, months=3)
    repeated = pd.concat([panel, panel.iloc[[4]]], ignore_index=True)

    line = _failure_line(_error(repeated, PANEL), "customer_id", "no_duplicate_members")

    assert "1 row(s)" in line
    assert f"first lines {len(repeated) + 1}" in line


def test_without_a_snapshot_the_panel_ids_repeat():
    contract = parse_contract({**PANEL_CONTRACT, "snapshot": None})
    panel = make_panel(members=10, months=3).drop(columns="month")

    line = _failure_line(_error(panel, contract), "customer_id", "no_duplicate_members")

    assert "20 row(s)" in line


@pytest.mark.parametrize(
    ("rows", "column", "rule"),
    [
        pytest.param([3], "month", "not_missing", id="blank-snapshot"),
        pytest.param([], "month", None, id="no-snapshot-column"),
    ],
)
def test_the_snapshot_column_is_required_and_filled(rows, column, rule):
    panel = make_panel(members=10, months=3)
    if rows:
        panel.loc[rows, column] = np.nan
        assert _failure_line(_error(panel, PANEL), column, rule)
    else:
        message = _error(panel.drop(columns=column), PANEL)
        assert f"missing required column(s) {column}" in message


def test_blank_targets_are_refused_unless_the_contract_says_score():
    panel = make_panel(members=10, months=3)
    contract = parse_contract({**PANEL_CONTRACT, "target": OTHER_CONTRACT["target"]})

    line = _failure_line(_error(panel, contract), "left", "not_missing")

    assert "10 row(s)" in line
    assert "target.unknown: score" in line


@pytest.mark.parametrize(("one", "key"), [("member", "member_row"), ("customer", "customer_row"),
                                          ("loan holder", "loan_holder_row")])  # fmt: skip
def test_without_an_id_the_row_key_is_named_after_the_population(valid_members, one, key):
    # the data's own words in every output: no "member" on a customer export
    contract = GYM_CONTRACT.model_copy(update={"population": Population(one=one, many=one + "s")})
    assert contract.key == key
    out = _check(valid_members, contract).members
    assert out.columns[0] == key
    assert out[key].tolist() == list(range(1, len(valid_members) + 1))
