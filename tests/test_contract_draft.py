"""Drafting a data contract from an export (gym_churn.contract.draft.draft_contract)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from gym_churn.contract.checks import check_export
from gym_churn.contract.draft import draft_contract, draft_feature
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import ContractError
from tests.conftest import make_members, make_other, make_panel

N = 12


def _frame(**columns: Any) -> pd.DataFrame:
    """N rows: the given columns and a Yes/No target `y`."""
    return pd.DataFrame({**columns, "y": ["Yes", "No"] * (N // 2)})


def _spec(values: Any) -> dict[str, Any]:
    draft = draft_contract(_frame(col=values), target="y")
    assert "col" in draft.contract["features"], draft.contract["ignore"]
    return draft.contract["features"]["col"]


def _left_out(values: Any) -> str:
    draft = draft_contract(_frame(col=values, x=[0, 1] * (N // 2)), target="y")
    assert "col" not in draft.contract["features"]
    why = draft.contract["ignore"]["col"]
    assert f"col: {why}" in draft.notes
    return why


def _parses_and_checks(raw: pd.DataFrame, **kwargs: Any) -> None:
    """The draft, through YAML as init writes it, parses and the export passes its checks."""
    draft = draft_contract(raw, **kwargs)
    text = yaml.safe_dump(draft.contract, sort_keys=False, allow_unicode=True)
    contract = parse_contract(yaml.safe_load(text), source="drafted")
    checked = check_export(raw, contract, source="export.csv")
    assert len(checked.members) == len(raw)
    assert checked.members[contract.target.column].isin([0, 1]).all()


# ---------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([True, False] * 6, {"kind": "binary", "values": [False, True]}, id="bool"),
        pytest.param([0, 1] * 6, {"kind": "binary", "values": [0, 1]}, id="0/1"),
        pytest.param([0.0, 1.0] * 6, {"kind": "binary", "values": [0, 1]}, id="0.0/1.0"),
        pytest.param([3, 5, 7, 2] * 3, {"kind": "integer", "min": 0}, id="whole-numbers"),
        pytest.param([3.0, 5.0, 7.0, 2.0] * 3, {"kind": "integer", "min": 0},
                     id="whole-numbers-as-floats"),
        pytest.param([-3, 5, 7, 2] * 3, {"kind": "integer"}, id="negative-no-min"),
        pytest.param([1, 6, 12] * 4, {"kind": "integer", "values": [1, 6, 12]}, id="menu-1/6/12"),
        pytest.param([1, 2, 3] * 4, {"kind": "integer", "min": 0}, id="consecutive-not-a-menu"),
        pytest.param([1, 2, 3, 4] * 3, {"kind": "integer", "min": 0}, id="four-values"),
        pytest.param([0.5, 2.25, 3.0, 7.5] * 3, {"kind": "numeric", "min": 0}, id="floats"),
        pytest.param([-0.5, 2.25, 3.0, 7.5] * 3, {"kind": "numeric"}, id="negative-floats"),
        pytest.param(["basic", "plus", "premium"] * 4,
                     {"kind": "categorical", "values": ["basic", "plus", "premium"]},
                     id="text-categories"),
        pytest.param([" b", "a ", "c"] * 4, {"kind": "categorical", "values": ["a", "b", "c"]},
                     id="text-categories-trimmed"),
        pytest.param(["M", "F"] * 6, {"kind": "binary", "values": ["F", "M"]}, id="2-level-text"),
        pytest.param(["yes", "no"] * 6, {"kind": "binary", "values": ["no", "yes"]},
                     id="yes/no-present-last"),
        pytest.param(["Y", "N"] * 6, {"kind": "binary", "values": ["N", "Y"]}, id="Y/N"),
    ],
)  # fmt: skip
def test_kind_is_inferred(values, expected):
    spec = _spec(values)

    assert {k: v for k, v in spec.items() if k in ("kind", "values", "min")} == expected
    assert spec["missing"] == "error"
    assert spec["role"] == "attribute"
    assert "max" not in spec  # the file's maximum is no rule


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        pytest.param([1.5, np.nan, 2.5, 4.0] * 3, "numeric", id="floats"),
        pytest.param([1.0, np.nan, 2.0, 4.0] * 3, "integer", id="whole-numbers"),
        pytest.param([0.0, np.nan, 1.0, 1.0] * 3, "binary", id="0/1"),
        pytest.param(["a", None, "b", "c"] * 3, "categorical", id="text"),
        pytest.param(["a", " ", "b", "c"] * 3, "categorical", id="blank-text"),
    ],
)
def test_gaps_are_kept_as_missing_with_a_note(values, kind):
    draft = draft_contract(_frame(col=values), target="y")

    spec = draft.contract["features"]["col"]
    assert spec["kind"] == kind
    assert spec["missing"] == "keep"
    assert spec["note"] == "3 blank cell(s) (25.0%): kept as missing"
    assert f"col: {spec['note']}" in draft.notes


@pytest.mark.parametrize(
    ("values", "why"),
    [
        pytest.param(pd.date_range("2024-01-01", periods=N).strftime("%Y-%m-%d"), "a date",
                     id="iso-dates"),
        pytest.param(pd.date_range("2024-01-01", periods=N).strftime("%d/%m/%Y"), "a date",
                     id="day-month-year"),
        pytest.param([f"called about invoice {i}" for i in range(N)], "free text",
                     id="free-text"),
        pytest.param([7] * N, "constant", id="constant-number"),
        pytest.param(["x"] * N, "constant", id="constant-text"),
        pytest.param([np.nan] * (N - 1) + [3.0], "constant", id="one-value-and-gaps"),
        pytest.param(list(range(1000, 1000 + N)), "like an ID", id="unique-integers"),
    ],
)  # fmt: skip
def test_unusable_columns_are_ignored_with_a_note(values, why):
    assert why in _left_out(values)


def test_a_text_id_gets_the_id_note():
    assert "like an ID" in _left_out([f"C{i:04d}" for i in range(N)])


def test_a_reserved_name_is_ignored():
    draft = draft_contract(_frame(segment=[1, 2, 3] * 4, x=[0, 1] * 6), target="y")

    assert "segment" not in draft.contract["features"]
    assert "reserved" in draft.contract["ignore"]["segment"]
    parse_contract(draft.contract)


def test_an_id_column_is_the_key_and_not_a_feature():
    raw = make_other()

    draft = draft_contract(raw, target="left", id_column="customer_id")

    assert draft.contract["id"] == "customer_id"
    assert "customer_id" not in draft.contract["features"]
    assert "customer_id" not in draft.contract["ignore"]


@pytest.mark.parametrize("missing", ["target", "id"])
def test_unknown_target_or_id_column_is_refused(missing):
    kwargs = {"target": "left", "id_column": "customer_id"}
    kwargs[{"target": "target", "id": "id_column"}[missing]] = "nope"

    with pytest.raises(ContractError, match="column\\(s\\) nope not in the export"):
        draft_contract(make_other(), **kwargs)


def test_a_column_of_mostly_repeated_values_is_refused_as_an_id():
    raw = make_other()  # 60 rows
    raw["customer_id"] = [f"C{i % 29}" for i in range(len(raw))]  # 29 distinct: under half

    with pytest.raises(ContractError, match="--id 'customer_id': values repeat"):
        draft_contract(raw, target="left", id_column="customer_id")


def test_a_few_repeated_ids_are_a_note_not_a_refusal():
    raw = make_other()
    raw.loc[5, "customer_id"] = raw.loc[4, "customer_id"]

    draft = draft_contract(raw, target="left", id_column="customer_id")

    assert draft.contract["id"] == "customer_id"
    assert draft.contract["duplicates"] == "error"  # the check after drafting reports them
    assert "customer_id: 1 repeated ID(s); see `duplicates` below" in draft.notes


def test_no_usable_column_is_refused():
    with pytest.raises(ContractError, match="no usable feature column"):
        draft_contract(_frame(const=[1] * N), target="y")


def test_draft_feature_alone():
    spec, note = draft_feature("plan", pd.Series(["a", "b", "c", None] * 3))

    assert spec == {"kind": "categorical", "values": ["a", "b", "c"], "missing": "keep",
                    "role": "attribute"}  # fmt: skip
    assert note == "3 blank cell(s) (25.0%): kept as missing"


# ---------------------------------------------------------------- the target


@pytest.mark.parametrize(
    ("labels", "positive", "expected"),
    [
        pytest.param(["Yes", "No"], None, ("Yes", "No"), id="guessed-yes"),
        pytest.param(["no", "yes"], None, ("yes", "no"), id="guessed-lowercase-yes"),
        pytest.param([True, False], None, (True, False), id="guessed-true"),
        pytest.param(["False", "True"], None, ("True", "False"), id="guessed-true-text"),
        pytest.param([0, 1], None, (1, 0), id="guessed-1"),
        pytest.param(["stayed", "churned"], None, ("churned", "stayed"), id="guessed-churned"),
        pytest.param(["A", "B"], "B", ("B", "A"), id="given"),
        pytest.param(["active", "gone"], "GONE", ("gone", "active"), id="given-any-case"),
        pytest.param([1, 0], "0", (0, 1), id="given-against-the-guess"),
        pytest.param([1.0, 0.0], "1", (1, 0), id="given-float-labels"),
    ],
)
def test_positive_label(labels, positive, expected):
    raw = pd.DataFrame({"x": [3, 5, 7, 2] * 3, "z": [1, 6, 12] * 4, "y": labels * (N // 2)})

    draft = draft_contract(raw, target="y", positive=positive)

    target = draft.contract["target"]
    assert (target["positive"], target["negative"]) == ([expected[0]], [expected[1]])
    _parses_and_checks(raw, target="y", positive=positive)


@pytest.mark.parametrize(
    ("labels", "positive", "match"),
    [
        pytest.param(["A", "B"], None, "cannot tell which value of 'y' means churned",
                     id="no-guess"),
        pytest.param(["yes", "churned"], None, "pass --positive VALUE", id="two-guesses"),
        pytest.param(["Yes", "No"], "Maybe", "--positive 'Maybe' is not a value of 'y'",
                     id="not-a-value"),
        pytest.param(["Yes", "No", "Maybe"], None, "exactly two values, found 3", id="three"),
        pytest.param(["Yes"], "Yes", "exactly two values, found 1", id="one"),
    ],
)  # fmt: skip
def test_ambiguous_or_wrong_positive_is_refused(labels, positive, match):
    raw = pd.DataFrame({"x": range(N), "y": (labels * N)[:N]})

    with pytest.raises(ContractError, match=match):
        draft_contract(raw, target="y", positive=positive)


# ---------------------------------------------------------------- whole exports


def test_other_export_draft():
    draft = draft_contract(make_other(), target="left", id_column="customer_id", name="other")

    contract = draft.contract
    assert contract["name"] == "other"
    assert contract["target"] == {"column": "left", "positive": ["Yes"], "negative": ["No"]}
    features = contract["features"]
    assert list(features) == ["plan", "region", "senior", "fee", "tenure_months", "calls"]
    assert features["plan"]["values"] == ["basic", "plus", "premium"]
    assert features["senior"]["values"] == ["N", "Y"]
    assert (features["fee"]["kind"], features["fee"]["missing"]) == ("numeric", "keep")
    assert features["calls"] == {"kind": "integer", "min": 0, "missing": "error",
                                 "role": "attribute"}  # fmt: skip
    assert list(contract["ignore"]) == ["signup_date"]


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        pytest.param(make_other, {"target": "left", "id_column": "customer_id"}, id="other-id"),
        pytest.param(make_other, {"target": "left"}, id="other-no-id"),
        pytest.param(make_members, {"target": "Churn"}, id="gym"),
        pytest.param(lambda: make_other(200, seed=3), {"target": "left", "positive": "yes"},
                     id="other-200"),
    ],
)  # fmt: skip
def test_drafted_contract_parses_and_the_export_passes(make, kwargs):
    _parses_and_checks(make(), **kwargs)


def test_gym_draft_finds_the_menu_and_the_flags():
    features = draft_contract(make_members(), target="Churn").contract["features"]

    assert features["Contract_period"]["values"] == [1, 6, 12]
    assert features["gender"] == {"kind": "binary", "values": [0, 1], "missing": "error",
                                  "role": "attribute"}  # fmt: skip
    assert features["Avg_additional_charges_total"]["kind"] == "numeric"
    assert features["Age"]["kind"] == "integer"


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["Basic", "basic", "Plus", "plus"] * 3, id="categorical"),
        pytest.param(["Yes", "yes", "No", "no"] * 3, id="flag"),
    ],
)
def test_case_variants_give_a_contract_that_parses(values):
    _parses_and_checks(_frame(col=values, x=list(range(N // 2)) * 2), target="y")


@pytest.mark.parametrize(("levels", "segment"), [(12, True), (13, False), (50, False)])
def test_many_level_categories_stay_out_of_the_kmeans_segments(levels: int, segment: bool) -> None:
    values = [f"L{i:02d}" for i in range(levels)] * 4
    raw = pd.DataFrame({"place": values, "y": [i % 2 for i in range(len(values))]})
    spec = draft_contract(raw, target="y", positive="1").contract["features"]["place"]
    assert spec["kind"] == "categorical"
    assert spec.get("segment", True) is segment
    if not segment:
        assert f"{levels} levels: left out of the k-means segments" in spec["note"]


# ------------------------------------------------------------------ snapshots (issue 24)


def test_a_panel_drafts_a_snapshot_key_and_scores_unknown_outcomes():
    panel = make_panel(members=20, months=3)

    draft = draft_contract(
        panel, target="left", positive="Yes", id_column="customer_id", snapshot="month"
    )

    contract = parse_contract(draft.contract)
    assert (contract.id, contract.snapshot) == ("customer_id", "month")
    assert "month" not in contract.features
    assert "month" not in contract.ignore
    assert contract.target.unknown == "score"
    assert any("20 blank target(s)" in note for note in draft.notes)
    assert check_export(panel, contract, source="panel.csv").counts["rows_read"] == 60


def test_a_repeating_id_without_a_snapshot_is_refused_and_the_error_names_snapshot():
    with pytest.raises(ContractError, match=r"does not identify members.*--snapshot"):
        draft_contract(make_panel(months=3), target="left", id_column="customer_id")


@pytest.mark.parametrize("snapshot", ["left", "customer_id"])
def test_a_snapshot_that_is_the_target_or_id_is_refused(snapshot):
    with pytest.raises(ContractError, match="--snapshot"):
        draft_contract(
            make_panel(months=2), target="left", id_column="customer_id", snapshot=snapshot
        )


def test_an_export_without_blank_targets_drafts_no_unknown_key():
    draft = draft_contract(make_other(), target="left", id_column="customer_id")
    assert "unknown" not in draft.contract["target"]
    assert "snapshot" not in draft.contract


# --- the population's words and readable labels (issue 26) --------------------------------


@pytest.mark.parametrize(
    ("stem", "words"),
    [
        ("hr_attrition_2026", ("employee", "employees", "company")),
        ("Employees", ("employee", "employees", "company")),
        ("loans_q3", ("customer", "customers", "bank")),
        ("gym_churn", ("member", "members", "club")),
        ("members_2026_11", ("member", "members", "organisation")),
        ("export", ("customer", "customers", "company")),
        ("churn", ("customer", "customers", "company")),
    ],
)
def test_population_words_are_drafted_from_the_file_name(stem, words) -> None:
    from gym_churn.contract.draft import population_words

    assert tuple(population_words(stem).values()) == words


def test_a_draft_never_falls_back_to_gym_words() -> None:
    contract = draft_contract(make_members(), target="Churn", name="export").contract
    assert contract["population"] == {"one": "customer", "many": "customers", "actor": "company"}
    parse_contract(contract)  # the key is part of the contract's schema


@pytest.mark.parametrize(
    ("name", "label"),
    [("Avg_additional_charges_total", "avg additional charges total"),
     ("SeniorCitizen", "senior citizen"), ("data_gb", "data gb"), ("ID", "ID")],
)  # fmt: skip
def test_column_names_are_drafted_as_words(name, label) -> None:
    from gym_churn.contract.draft import readable

    assert readable(name) == label


def test_a_name_that_is_not_words_gets_a_label() -> None:
    frame = pd.DataFrame({"Near_Location": [0, 1, 1, 0], "age": [20, 30, 40, 50]})
    near, _ = draft_feature("Near_Location", frame["Near_Location"])
    age, _ = draft_feature("age", frame["age"])
    assert near["label"] == "near location"
    assert "label" not in age  # already words: the name is its label
