"""Does a new export look like the training base? PSI per column, new levels, chunked counts
(gym_churn.scoring.drift)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import Contract, parse_contract
from gym_churn.scoring.drift import (
    FLOOR,
    add_counts,
    counts,
    drift_table,
    psi,
    reference,
)
from tests.conftest import GYM_CONTRACT, TARGET

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.2
BINS = 10
# The acceptance test shifts last month's visits.
SHIFTED = "Avg_class_frequency_current_month"


@pytest.fixture(scope="module")
def gym_members() -> pd.DataFrame:
    """The bundled export's 4,000 members, typed by its contract."""
    raw = pd.read_csv(ROOT / "data" / "raw" / "gym_churn.csv")
    return check_export(raw, GYM_CONTRACT, source="gym_churn.csv").members


@pytest.fixture(scope="module")
def gym_ref(gym_members: pd.DataFrame) -> dict[str, Any]:
    """The reference of the first 2,000 members (the 'training base')."""
    return reference(gym_members.iloc[:2000], GYM_CONTRACT, BINS)


@pytest.fixture(scope="module")
def gym_later(gym_members: pd.DataFrame) -> pd.DataFrame:
    """The other 2,000 members (the 'new export')."""
    return gym_members.iloc[2000:].reset_index(drop=True)


# A tiny contract with a category, a flag and a number with gaps kept.
TINY: dict[str, Any] = {
    "target": {"column": "y", "positive": [1], "negative": [0]},
    "duplicates": "keep",
    "features": {
        "colour": {"kind": "categorical", "values": ["red", "green", "blue"], "missing": "keep"},
        "flag": {"kind": "binary"},
        "amount": {"kind": "numeric", "min": 0, "missing": "keep"},
    },
}


@pytest.fixture(scope="module")
def tiny() -> Contract:
    return parse_contract(TINY, source="tiny.yaml")


def _tiny_export(n: int, seed: int, colours: list[str] | None = None) -> pd.DataFrame:
    """`n` rows of the tiny export as a file would hold them (no target)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "colour": colours if colours is not None else rng.choice(["red", "green", "blue"], n),
            "flag": rng.integers(0, 2, n),
            "amount": rng.uniform(0, 100, n).round(2),
        }
    )


def _typed(raw: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The export typed as scoring types it: unknown levels become gaps."""
    return check_export(
        raw, contract, source="export.csv", labelled=False, lenient_levels=True, duplicates="keep"
    ).members


@pytest.fixture(scope="module")
def tiny_ref(tiny: Contract) -> dict[str, Any]:
    base = _tiny_export(300, seed=0)
    base[TINY["target"]["column"]] = np.arange(300) % 2
    return reference(check_export(base, tiny, source="base.csv").members, tiny, BINS)


def _row(table: pd.DataFrame, feature: str) -> pd.Series:
    return table.set_index("feature").loc[feature]


def _assert_same_counts(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for col in want:
        np.testing.assert_array_equal(got[col]["bins"], want[col]["bins"], err_msg=col)
        assert got[col]["new"] == want[col]["new"], col
        assert got[col]["missing"] == want[col]["missing"], col


# ---------------------------------------------------------------- psi


@pytest.mark.parametrize(
    "shares",
    [[0.5, 0.5], [0.1, 0.2, 0.3, 0.4], [1.0, 0.0], [0.25, 0.0, 0.75, 0.0], [0.0, 0.0, 1.0]],
)
def test_psi_of_identical_shares_is_zero(shares):
    assert psi(np.array(shares), np.array(shares)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ([0.5, 0.5], [0.6, 0.4]),
        ([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]),
        ([0.2, 0.3, 0.5], [0.2, 0.31, 0.49]),
        ([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]),  # a bin the base never filled
        ([0.0, 1.0], [1.0, 0.0]),  # every member in the other bin
    ],
)
def test_psi_is_positive_finite_and_symmetric(expected, actual):
    forward = psi(np.array(expected), np.array(actual))
    backward = psi(np.array(actual), np.array(expected))

    assert np.isfinite(forward)
    assert forward > 0
    # (a - e) * ln(a / e) is unchanged by swapping a and e, floors included
    assert forward == pytest.approx(backward)


def test_psi_floors_an_empty_bin_by_hand():
    # Bins 1 and 2 are equal and add nothing; bin 3: (0.2 - FLOOR) * ln(0.2 / FLOOR).
    value = psi(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.5, 0.2]))

    assert value == pytest.approx((0.2 - FLOOR) * np.log(0.2 / FLOOR))


def test_psi_grows_with_the_shift():
    base = np.array([0.25, 0.25, 0.25, 0.25])
    small = psi(base, np.array([0.3, 0.2, 0.25, 0.25]))
    large = psi(base, np.array([0.5, 0.0, 0.25, 0.25]))

    assert 0 < small < large


# ---------------------------------------------------------------- reference


def test_reference_of_a_number_uses_decile_bins():
    members = pd.DataFrame({"amount": np.arange(1.0, 1001.0), "colour": "red", "flag": 0})
    contract = parse_contract(TINY, source="tiny.yaml")
    ref = reference(members, contract, BINS)

    assert len(ref["amount"]["cuts"]) == BINS - 1
    np.testing.assert_allclose(ref["amount"]["shares"], [0.1] * BINS)
    assert ref["amount"]["missing"] == 0.0
    assert ref["colour"] == {"levels": ["red"], "shares": [1.0], "missing": 0.0}
    assert ref["flag"] == {"levels": ["0"], "shares": [1.0], "missing": 0.0}


def test_reference_of_levels_keeps_gaps_apart(tiny):
    members = pd.DataFrame(
        {
            "colour": ["red", "red", np.nan, "blue"],
            "flag": [1.0, np.nan, 0.0, 1.0],  # a flag with a gap is typed as floats
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )

    ref = reference(members, tiny, BINS)

    assert ref["colour"] == {"levels": ["red", "blue"], "shares": [0.5, 0.25], "missing": 0.25}
    assert ref["flag"] == {"levels": ["1", "0"], "shares": [0.5, 0.25], "missing": 0.25}


def test_reference_shares_and_missing_add_to_one(gym_ref, tiny_ref):
    for ref in (gym_ref, tiny_ref):
        for col, spec in ref.items():
            assert sum(spec["shares"]) + spec["missing"] == pytest.approx(1.0), col


# ---------------------------------------------------------------- the bundled export


def test_two_halves_of_the_bundled_export_do_not_drift(gym_ref, gym_later):
    table = drift_table(gym_ref, counts(gym_ref, gym_later), GYM_CONTRACT, THRESHOLD)

    assert list(table["feature"]) == GYM_CONTRACT.raw_features
    assert TARGET not in set(table["feature"])
    assert (table["psi"] < THRESHOLD).all(), table[["feature", "psi"]]
    assert not table["drifted"].any()
    assert (table["members"] == len(gym_later)).all()
    assert (table["new_levels"] == "").all()


def test_halved_last_month_visits_drift_that_feature_and_no_other(gym_ref, gym_later):
    # The issue's acceptance test: "Scoring a shifted export, with every member's last-month
    # visits halved, warns about that feature and no other."
    shifted = gym_later.assign(**{SHIFTED: gym_later[SHIFTED] / 2})
    before = drift_table(gym_ref, counts(gym_ref, gym_later), GYM_CONTRACT, THRESHOLD)
    table = drift_table(gym_ref, counts(gym_ref, shifted), GYM_CONTRACT, THRESHOLD)

    assert list(table.loc[table["drifted"], "feature"]) == [SHIFTED]
    assert _row(table, SHIFTED)["psi"] > THRESHOLD
    assert _row(table, SHIFTED)["label"] == GYM_CONTRACT.words(SHIFTED).label
    others = table["feature"] != SHIFTED
    # the other columns' numbers are untouched by the shift
    np.testing.assert_allclose(table.loc[others, "psi"], before.loc[others, "psi"])


@pytest.mark.parametrize("threshold", [0.0, 1e-9])
def test_a_zero_threshold_flags_any_difference(gym_ref, gym_later, threshold):
    table = drift_table(gym_ref, counts(gym_ref, gym_later), GYM_CONTRACT, threshold)

    assert table["drifted"].to_numpy().tolist() == (table["psi"] > threshold).tolist()
    assert table["drifted"].any()


# ---------------------------------------------------------------- counts add up


@pytest.mark.parametrize("cuts", [[1000], [1, 2], [700, 1500], [0, 999, 1000, 1999]])
def test_counts_of_chunks_add_up_to_the_counts_of_the_whole(gym_ref, gym_later, cuts):
    edges = [0, *cuts, len(gym_later)]
    total = None
    for start, stop in pairwise(edges):
        total = add_counts(total, counts(gym_ref, gym_later.iloc[start:stop]))
    whole = counts(gym_ref, gym_later)

    _assert_same_counts(total, whole)
    pd.testing.assert_frame_equal(
        drift_table(gym_ref, total, GYM_CONTRACT, THRESHOLD),
        drift_table(gym_ref, whole, GYM_CONTRACT, THRESHOLD),
    )


def test_new_levels_add_up_across_chunks(tiny, tiny_ref):
    first = _tiny_export(4, seed=1, colours=["gold", "red", "", "teal"])
    second = _tiny_export(4, seed=2, colours=["gold", "gold", "blue", ""])
    first.loc[0, "amount"] = second.loc[[1, 2], "amount"] = np.nan
    both = pd.concat([first, second], ignore_index=True)

    total = add_counts(
        counts(tiny_ref, _typed(first, tiny), raw=first),
        counts(tiny_ref, _typed(second, tiny), raw=second),
    )
    whole = counts(tiny_ref, _typed(both, tiny), raw=both)

    _assert_same_counts(total, whole)
    assert total["colour"]["new"] == {"gold": 3, "teal": 1}
    assert total["colour"]["missing"] == 2  # the blank cells
    assert total["amount"]["missing"] == 3
    assert int(total["amount"]["bins"].sum()) == len(both) - 3


def test_add_counts_to_nothing_is_the_chunk(gym_ref, gym_later):
    chunk = counts(gym_ref, gym_later.iloc[:10])

    _assert_same_counts(add_counts(None, chunk), chunk)


# ---------------------------------------------------------------- new categorical levels


def test_a_level_the_base_never_held_is_listed_and_drifts(tiny, tiny_ref):
    # Typed members straight from the counting side: the level is in the frame itself.
    members = _tiny_export(50, seed=3)
    members.loc[7, "colour"] = "purple"

    table = drift_table(tiny_ref, counts(tiny_ref, members), tiny, THRESHOLD)

    colour = _row(table, "colour")
    assert colour["new_levels"] == "purple"
    assert colour["drifted"]
    # one member in 50 barely moves the PSI: the new level alone flags the column
    assert colour["psi"] < THRESHOLD
    assert not _row(table, "flag")["drifted"]
    assert _row(table, "flag")["new_levels"] == ""


def test_a_level_scored_as_a_gap_is_still_seen_in_the_raw_export(tiny, tiny_ref):
    raw = _tiny_export(50, seed=4)
    raw.loc[[3, 9], "colour"] = ["purple", "gold"]
    members = _typed(raw, tiny)
    assert members.loc[[3, 9], "colour"].isna().all()  # scoring made them gaps

    seen = drift_table(tiny_ref, counts(tiny_ref, members, raw=raw), tiny, THRESHOLD)
    blind = drift_table(tiny_ref, counts(tiny_ref, members), tiny, THRESHOLD)

    assert _row(seen, "colour")["new_levels"] == "gold, purple"
    assert _row(seen, "colour")["drifted"]
    assert _row(seen, "colour")["members"] == len(raw)
    # without the raw export the two rows are only gaps
    assert _row(blind, "colour")["new_levels"] == ""


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_cell_in_the_raw_export_is_a_gap_not_a_level(tiny, tiny_ref, blank):
    raw = _tiny_export(20, seed=5)
    raw.loc[0, "colour"] = blank

    counted = counts(tiny_ref, _typed(raw, tiny), raw=raw)

    assert counted["colour"]["new"] == {}
    assert counted["colour"]["missing"] == 1
    assert int(counted["colour"]["bins"].sum()) == len(raw) - 1


def test_known_levels_with_padding_in_the_raw_export_are_not_new(tiny, tiny_ref):
    raw = _tiny_export(20, seed=6)
    raw.loc[0, "colour"] = "  red "

    counted = counts(tiny_ref, _typed(raw, tiny), raw=raw)

    assert counted["colour"]["new"] == {}
    assert counted["colour"]["missing"] == 0


# ---------------------------------------------------------------- missing values


@pytest.mark.parametrize("column", ["Age", SHIFTED, "Contract_period"])
def test_half_the_values_missing_drifts_a_gapless_number(gym_ref, gym_later, column):
    gappy = gym_later.astype({column: float})
    gappy.loc[gappy.index % 2 == 0, column] = np.nan

    table = drift_table(gym_ref, counts(gym_ref, gappy), GYM_CONTRACT, THRESHOLD)

    assert gym_ref[column]["missing"] == 0.0
    assert list(table.loc[table["drifted"], "feature"]) == [column]
    assert _row(table, column)["members"] == len(gym_later)  # gaps are counted members
    assert counts(gym_ref, gappy)[column]["missing"] == len(gym_later) // 2


def test_half_the_values_missing_drifts_a_gapless_category(tiny, tiny_ref):
    assert tiny_ref["colour"]["missing"] == 0.0
    raw = _tiny_export(200, seed=7)
    raw.loc[raw.index % 2 == 0, "colour"] = ""

    table = drift_table(tiny_ref, counts(tiny_ref, _typed(raw, tiny), raw=raw), tiny, THRESHOLD)

    assert _row(table, "colour")["drifted"]
    assert _row(table, "colour")["psi"] > THRESHOLD
    assert _row(table, "colour")["new_levels"] == ""
    assert not _row(table, "amount")["drifted"]


def test_gaps_held_as_often_as_in_the_base_do_not_drift(tiny):
    base = _tiny_export(400, seed=8)
    base.loc[base.index % 4 == 0, "amount"] = np.nan
    later = _tiny_export(400, seed=9)
    later.loc[later.index % 4 == 1, "amount"] = np.nan

    ref = reference(_typed(base, tiny), tiny, BINS)
    table = drift_table(ref, counts(ref, _typed(later, tiny)), tiny, THRESHOLD)

    assert ref["amount"]["missing"] == pytest.approx(0.25)
    assert not _row(table, "amount")["drifted"]


# ---------------------------------------------------------------- rows the check drops


def test_rows_dropped_for_a_gap_are_not_counted_in_any_column():
    spec = {**TINY, "features": {**TINY["features"]}}
    spec["features"]["amount"] = {"kind": "numeric", "min": 0, "missing": "drop"}
    contract = parse_contract(spec, source="tiny-drop.yaml")
    base = _tiny_export(100, seed=10)
    base["y"] = np.arange(100) % 2
    ref = reference(check_export(base, contract, source="base.csv").members, contract, BINS)
    raw = _tiny_export(20, seed=11)
    raw.loc[0, "amount"] = np.nan  # dropped by the contract, so never scored
    raw.loc[0, "colour"] = "gold"
    checked = check_export(
        raw, contract, source="export.csv", labelled=False, lenient_levels=True, duplicates="keep"
    )
    members = checked.members
    assert len(members) == len(raw) - 1
    assert checked.rows.tolist() == list(range(1, len(raw)))  # the rows kept, as scoring reads

    kept = raw.loc[checked.rows]
    table = drift_table(ref, counts(ref, members, raw=kept), contract, THRESHOLD)

    assert (table["members"] == len(members)).all(), table[["feature", "members"]]
    assert _row(table, "colour")["new_levels"] == ""
