"""The one scorer: probabilities, deciles against the training base, the at-risk flag,
segments, Shapley reasons in percentage points and the suggested lever."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import ROW_KEY, parse_contract
from gym_churn.io import read_json
from gym_churn.models.predict import inputs, predict
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.reasons import lever_options, suggested_lever, value_text
from gym_churn.scoring.scorer import DIGITS, Scorer, describe, risk_decile, score
from gym_churn.scoring.shapley import contributions
from tests.conftest import GYM_CONTRACT, TARGET
from tests.test_stages import SEGMENT_NAMES, small_params, train_models

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"
ROWS = 1500  # of the bundled export: enough signal for a model with clear reasons
REASONS = ["reason_1", "reason_2", "reason_3"]
POINTS = [f"{r}_points" for r in REASONS]


@pytest.fixture(autouse=True, scope="module")
def _one_native_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread, as the stages run (cli.native_threads). The conftest limit
    is set before scikit-learn loads its OpenMP runtime, so it misses it when this file runs
    alone; tree predictions on a few rows then wait on idle threads (0.3 s instead of 0.04 s
    per call on a busy machine)."""
    import sklearn  # noqa: F401  loads the OpenMP runtime, so the limit reaches it
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    export = pd.read_csv(RAW, nrows=ROWS)
    params = small_params("hist_gradient_boosting")
    return train_models(tmp_path_factory.mktemp("gym"), "gym", export, params)


@pytest.fixture(scope="module")
def scorer(models: Path) -> Scorer:
    return load_scorer(str(models))


@pytest.fixture(scope="module")
def members(scorer: Scorer) -> pd.DataFrame:
    """The bundled members as scoring checks an export: typed, keyed, no target."""
    export = pd.read_csv(RAW, nrows=ROWS).drop(columns=[TARGET])
    return check_export(export, scorer.contract, source="bundled", labelled=False).members


@pytest.fixture(scope="module")
def scored(scorer: Scorer, members: pd.DataFrame) -> pd.DataFrame:
    return score(scorer, members)


def test_the_scorer_is_what_train_and_cluster_wrote(scorer: Scorer, models: Path) -> None:
    summary = read_json(models / "train_summary.json")
    assert scorer.contract == GYM_CONTRACT  # from the summary, not from a contract file
    assert scorer.threshold == summary["threshold"]
    assert scorer.decile_edges.tolist() == summary["risk_decile_edges"]
    assert scorer.segment_names == SEGMENT_NAMES
    settings = read_json(models / "scoring.json")
    assert len(scorer.background) == len(settings["background"]) > 0
    assert scorer.min_points == settings["min_reason_points"]
    # levers no offer can change for someone already there (changeable: false) are never suggested
    changeable = [c for c in GYM_CONTRACT.with_role("lever") if GYM_CONTRACT.features[c].changeable]
    assert set(scorer.lever_options) == set(changeable)


def test_score_columns_keys_and_segments(scorer: Scorer, members, scored) -> None:
    assert scorer.contract.key == ROW_KEY
    assert list(scored.columns[:6]) == [
        ROW_KEY, "churn_probability", "risk_decile", "at_risk", "segment", "segment_name",
    ]  # fmt: skip
    assert scored[ROW_KEY].tolist() == list(range(1, ROWS + 1))
    assert scored["churn_probability"].between(0, 1).all()
    assert set(scored["segment"]) == set(SEGMENT_NAMES)
    assert (scored["segment"].map(SEGMENT_NAMES) == scored["segment_name"].astype(str)).all()


def test_at_risk_is_the_trained_threshold(scorer: Scorer, scored: pd.DataFrame) -> None:
    expected = (scored["churn_probability"] >= scorer.threshold).astype(int)
    assert scored["at_risk"].tolist() == expected.tolist()
    assert 0 < scored["at_risk"].mean() < 1


def test_deciles_are_against_the_training_base_not_the_batch(
    scorer: Scorer, members: pd.DataFrame, scored: pd.DataFrame
) -> None:
    expected = risk_decile(scored["churn_probability"].to_numpy(), scorer.decile_edges)
    assert scored["risk_decile"].tolist() == expected.tolist()
    assert set(scored["risk_decile"]) == set(range(1, 11))
    # The calmest 50 members scored on their own keep their deciles: no re-ranking per batch.
    calm = scored.nsmallest(50, "churn_probability").index
    alone = score(scorer, members.loc[calm])
    assert alone["risk_decile"].tolist() == scored.loc[calm, "risk_decile"].tolist()
    assert alone["risk_decile"].max() < 10


@pytest.mark.parametrize(
    ("proba", "expected"), [(0.0, 1), (0.05, 1), (0.1, 2), (0.55, 6), (0.95, 10), (1.0, 10)]
)
def test_risk_decile_against_edges(proba: float, expected: int) -> None:
    edges = np.linspace(0.1, 0.9, 9)
    assert risk_decile(np.array([proba]), edges)[0] == expected


def test_score_is_describe_on_the_models_own_probabilities(
    scorer: Scorer, members: pd.DataFrame, scored: pd.DataFrame
) -> None:
    # one code path: the per-member table calls describe with out-of-fold probabilities,
    # gym-churn-score calls score; the same probabilities give the same everything
    proba = predict(scorer.model, scorer.contract, members)
    pd.testing.assert_frame_equal(describe(scorer, members, proba), scored)


def test_the_same_probabilities_give_the_same_columns_whichever_path(
    scorer: Scorer, members: pd.DataFrame
) -> None:
    # out-of-fold-like probabilities (not the model's): deciles, at_risk, reasons and lever
    # follow the given probabilities, identically on a second call and on a subset
    rng = np.random.default_rng(0)
    proba = rng.uniform(0, 1, len(members))
    first = describe(scorer, members, proba)
    again = describe(scorer, members.iloc[::-1], proba[::-1]).iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    shown = np.round(proba, DIGITS)  # the table's probabilities, and what its flags follow
    assert first["churn_probability"].tolist() == shown.tolist()
    assert first["at_risk"].tolist() == (shown >= scorer.threshold).astype(int).tolist()
    assert first["risk_decile"].tolist() == risk_decile(shown, scorer.decile_edges).tolist()


def test_last_bit_noise_in_the_probabilities_does_not_reach_the_table(
    scorer: Scorer, members: pd.DataFrame
) -> None:
    # another CPU computes the same probabilities up to a unit or two in the last place
    # (numpy's exp): the table, reasons' and lever's points included, must be the same
    rng = np.random.default_rng(1)
    proba = rng.uniform(0, 1, len(members))
    noisy = proba + rng.choice([-2, -1, 1, 2], len(proba)) * np.spacing(proba)
    assert (noisy != proba).all()
    pd.testing.assert_frame_equal(
        describe(scorer, members, noisy), describe(scorer, members, proba)
    )


@pytest.mark.parametrize(
    ("below", "at_risk"),
    [(0.0, 1), (4e-7, 1), (6e-7, 0), (1e-5, 0)],  # 4e-7 below shows as the threshold itself
)
def test_at_risk_follows_the_probability_as_shown(
    scorer: Scorer, members: pd.DataFrame, below: float, at_risk: int
) -> None:
    half = replace(scorer, threshold=0.5)
    row = describe(half, members.head(1), np.array([0.5 - below])).iloc[0]
    assert row["churn_probability"] == round(0.5 - below, DIGITS)
    assert row["at_risk"] == at_risk


def test_reasons_are_the_largest_contributions_above_the_minimum(scored: pd.DataFrame) -> None:
    flagged = scored[scored["at_risk"] == 1]
    assert len(flagged) > 50
    points = flagged[POINTS].abs()
    shown = points.notna()
    assert (points[shown] >= 1.0).all(axis=None)  # the bundle's min_reason_points
    assert shown["reason_1_points"].all()
    assert (points["reason_1_points"] >= points["reason_2_points"].fillna(0)).all()
    assert (points["reason_2_points"].fillna(0) >= points["reason_3_points"].fillna(0)).all()
    for reason, pts in zip(REASONS, POINTS, strict=True):
        text = flagged.loc[flagged[pts].notna(), reason]
        way = np.where(flagged.loc[flagged[pts].notna(), pts] > 0, "raises", "lowers")
        assert all(t.endswith(f"{w} risk") for t, w in zip(text, way, strict=True))


def test_reasons_use_the_contracts_words_and_values(scored: pd.DataFrame) -> None:
    first = scored.loc[scored["at_risk"] == 1, "reason_1"]
    labels = [GYM_CONTRACT.words(c).label for c in GYM_CONTRACT.raw_features]
    assert all(any(t.startswith(label) for label in labels) for t in first)
    assert not first.str.contains("Avg_class|Lifetime|Contract_period").any()


def test_each_reason_names_the_members_own_values(
    scorer: Scorer, members: pd.DataFrame, scored: pd.DataFrame
) -> None:
    """Reason text is written once per distinct combination of values and direction, then
    handed out: each member still reads its own values, its own direction, in group order."""
    contract = scorer.contract
    label_of = {contract.words(c).label: c for c in contract.raw_features}
    flagged = scored[scored["at_risk"] == 1]
    checked = 0
    for i, row in flagged.iterrows():
        for reason, pts in zip(REASONS, POINTS, strict=True):
            if np.isnan(row[pts]):
                continue
            body, way = row[reason].rsplit(": ", 1)
            assert way == ("raises risk" if row[pts] > 0 else "lowers risk")
            parts = body.split("; ")
            # the longest label a part starts with: one label may begin another
            columns = [
                label_of[max((x for x in label_of if p.startswith(x + " ")), key=len)]
                for p in parts
            ]
            group = [c for g in contract.groups.values() if columns[0] in g for c in g]
            assert columns == [c for c in group if c in contract.features]
            for part, col in zip(parts, columns, strict=True):
                own = value_text(members.loc[[i], col], contract, col)[0]
                assert part.startswith(f"{contract.words(col).label} {own} (")
            checked += 1
    assert checked > 100


def test_unflagged_members_have_no_reasons_or_lever(scored: pd.DataFrame) -> None:
    calm = scored[scored["at_risk"] == 0]
    assert (calm[[*REASONS, "lever"]] == "").all(axis=None)
    assert calm[[*POINTS, "lever_points"]].isna().all(axis=None)


def test_contributions_add_up_to_the_members_distance_from_the_base(
    scorer: Scorer, members: pd.DataFrame
) -> None:
    some = members.head(200)
    c = contributions(
        scorer.model, scorer.contract, inputs(some, scorer.contract),
        inputs(scorer.background, scorer.contract),
    )  # fmt: skip
    assert c.method == "tree"
    proba = predict(scorer.model, scorer.contract, some)
    assert c.points.sum(axis=1) == pytest.approx(100 * (proba - c.base), abs=1e-6)
    assert np.abs(c.points).max() <= 100


def test_the_suggested_lever_is_a_lever_and_lowers_the_risk_by_its_points(
    scorer: Scorer, members: pd.DataFrame, scored: pd.DataFrame
) -> None:
    labels = {GYM_CONTRACT.words(c).label: c for c in GYM_CONTRACT.with_role("lever")}
    flagged = scored[(scored["at_risk"] == 1) & (scored["lever"] != "")].head(40)
    assert len(flagged) == 40
    for i, row in flagged.iterrows():
        label, change = row["lever"].split(": ", 1)
        assert label in labels  # never an attribute, behaviour or tenure
        column = labels[label]
        member = members.loc[[i]]
        best = min(
            predict(scorer.model, scorer.contract, member.assign(**{column: v}))[0]
            for v in scorer.lever_options[column]
        )
        own = predict(scorer.model, scorer.contract, member)[0]
        assert row["churn_probability"] == round(own, DIGITS)  # as the table reports it
        # the drop from the model's own probability, rounded to DIGITS decimals
        # (half a unit of the rounding, and the last bits of two ways of predicting)
        assert row["lever_points"] == pytest.approx(100 * (own - best), abs=10**-DIGITS)
        assert row["lever_points"] > 0
        assert "->" in change


# ---------------------------------------------------------------- flags with text labels

FLAG_CONTRACT = {
    "target": {"column": "left", "positive": ["Yes"], "negative": ["No"]},
    "features": {
        "senior": {"kind": "binary", "values": ["N", "Y"], "label": "seniors"},
        "coached": {"kind": "binary", "values": ["no", "yes"], "role": "lever", "label": "coach"},
        "flag": {"kind": "binary", "role": "lever", "label": "flag"},  # no labels: 0/1
        "visits": {"kind": "numeric", "min": 0},
    },
}


@pytest.fixture(scope="module")
def flag_members() -> tuple[pd.DataFrame, Any]:
    """Members as check_export types them from an export whose flags are words."""
    contract = parse_contract(FLAG_CONTRACT, source="flags.yaml")
    export = pd.DataFrame(
        {
            "senior": ["Y", "N", "y "],
            "coached": ["no", "yes", "NO"],
            "flag": [1, 0, 0],
            "visits": [1.0, 2.0, 3.0],
        }
    )
    return check_export(export, contract, source="flags", labelled=False).members, contract


def test_a_flag_reads_as_its_declared_labels_or_yes_no(flag_members) -> None:
    members, contract = flag_members
    # declared with text values: those labels, as written in the contract (issue 26)
    assert list(value_text(members["senior"], contract, "senior")) == ["Y", "N", "Y"]
    assert list(value_text(members["coached"], contract, "coached")) == ["no", "yes", "no"]
    assert list(value_text(members["flag"], contract, "flag")) == ["yes", "no", "no"]
    assert value_text(pd.Series([np.nan]), contract, "senior")[0] == "missing"


def test_a_flag_lever_is_set_as_checked_members_hold_it(flag_members) -> None:
    members, contract = flag_members
    options = lever_options(members, contract)
    assert options == {"coached": [0, 1], "flag": [0, 1]}

    def predict(m: pd.DataFrame) -> np.ndarray:  # coaching lowers the risk, the flag raises it
        return 0.5 - 0.2 * m["coached"].to_numpy(dtype=float) + 0.1 * m["flag"].to_numpy(float)

    lever = suggested_lever(predict, members, contract, options)
    assert list(lever["lever"]) == ["coach: no -> yes", "", "coach: no -> yes"]
    assert lever["lever_points"][[0, 2]] == pytest.approx([20.0, 20.0])
    assert np.isnan(lever["lever_points"][1])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2 a week"),  # whole: no decimal point
        (-3.0, "-3 a week"),
        (0.12345, "0.123 a week"),  # three significant digits
        (1234.5, "1,230 a week"),  # thousands separators (issue 26)
        (0.000123456, "0.000123 a week"),
        (1e16, "10000000000000000 a week"),  # too large for an int: never "1e+16"
        (np.nan, "missing"),
        (np.inf, "missing"),
    ],
)
def test_numbers_read_to_three_significant_digits_with_their_unit(value, text) -> None:
    contract = parse_contract(
        {**FLAG_CONTRACT, "features": {"visits": {"kind": "numeric", "unit": "a week"}}},
        source="units.yaml",
    )
    assert value_text(pd.Series([value, 1.0]), contract, "visits")[0] == text


def test_an_integer_levers_options_are_whole_numbers() -> None:
    contract = parse_contract(
        {
            **FLAG_CONTRACT,
            "features": {
                "sessions": {"kind": "integer", "min": 0, "role": "lever"},
                "spend": {"kind": "numeric", "min": 0, "role": "lever"},
            },
        },
        source="levers.yaml",
    )
    base = pd.DataFrame({"sessions": [1, 2, 3, 4], "spend": [1.0, 2.0, 3.0, 4.0]})
    options = lever_options(base, contract)
    # quartiles 1.75, 2.5, 3.25: an integer column is set to whole numbers only
    assert options["sessions"] == [2.0, 3.0]  # np.round: 2.5 rounds to even
    assert options["spend"] == [1.75, 2.5, 3.25]


def test_the_unit_after_exactly_one_is_the_contracts_unit_one() -> None:
    contract = parse_contract(
        {
            **FLAG_CONTRACT,
            "features": {
                "term": {"kind": "integer", "values": [1, 6], "role": "lever",
                         "unit": "months", "unit_one": "month", "label": "contract"},
                "visits": {"kind": "numeric", "unit": "a week"},  # no unit_one: unit
            },
        },
        source="units.yaml",
    )  # fmt: skip
    terms = value_text(pd.Series([1, 6, 1.5]), contract, "term")
    assert list(terms) == ["1 month", "6 months", "1.5 months"]
    assert value_text(pd.Series([1.0]), contract, "visits")[0] == "1 a week"
    members = pd.DataFrame({"term": [1, 6], "visits": [1.0, 2.0]})
    lever = suggested_lever(
        lambda m: 0.5 - 0.01 * m["term"].to_numpy(dtype=float), members, contract,
        lever_options(members, contract),
    )  # fmt: skip
    assert lever["lever"][0] == "contract: 1 month -> 6 months"


def test_reasons_compare_with_every_training_member_not_the_background(
    scorer: Scorer, models: Path
) -> None:
    # issue 26: a flag's "yes (17% of members alike)" is the share among all training
    # members, as the report quotes it, not among the background sample's few hundred
    settings = read_json(models / "scoring.json")
    train = pd.read_csv(models.parent / "data/split/train.csv")
    assert scorer.base_words == settings["base"]
    flag = next(c for c in GYM_CONTRACT.raw_features if GYM_CONTRACT.kind(c) == "binary")
    share = train[flag].astype(int).mean()
    assert settings["base"][flag]["1"] == pytest.approx(share, abs=1e-6)
    background = pd.DataFrame(settings["background"])[flag].astype(int).mean()
    assert background != pytest.approx(share, abs=1e-6)  # the sample differs: not it
    without = replace(scorer, base=None)
    assert without.base_words[flag]["1"] == pytest.approx(background)
