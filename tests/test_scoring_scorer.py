"""Scoring members with what the pipeline trained: probabilities, deciles against the training
base, the at-risk flag, segments, and reasons that agree with the model by construction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import ROW_KEY
from gym_churn.io import read_json
from gym_churn.scoring.cli import load_scorer
from gym_churn.scoring.scorer import MIN_DROP, Scorer, _proba, risk_decile, score, top_reasons
from tests.conftest import GYM_CONTRACT, TARGET
from tests.test_stages import SEGMENT_NAMES, small_params, train_models

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data/raw/gym_churn.csv"
ROWS = 1500  # of the bundled export: enough signal for a model with clear reasons
REASONS = ["reason_1", "reason_2", "reason_3"]
DROPS = [f"{r}_risk_drop" for r in REASONS]


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
    assert scorer.typical == summary["typical_values"]
    assert scorer.segment_names == SEGMENT_NAMES


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


def test_every_reason_lowers_the_risk_by_its_drop(
    scorer: Scorer, members: pd.DataFrame, scored: pd.DataFrame
) -> None:
    flagged = scored[scored["at_risk"] == 1].head(60)
    assert len(flagged) == 60
    assert (flagged["reason_1"] != "").all()
    checked = 0
    for i, row in flagged.iterrows():
        member = members.loc[[i]]
        assert member[ROW_KEY].item() == row[ROW_KEY]
        for reason, drop in zip(REASONS, DROPS, strict=True):
            feature = row[reason]
            if not feature:
                assert np.isnan(row[drop])
                continue
            undone = member.assign(**{feature: scorer.typical[feature]})
            lowered = _proba(scorer, undone)[0]
            assert row["churn_probability"] - lowered == pytest.approx(row[drop], abs=1e-9)
            assert row[drop] > MIN_DROP, (row[ROW_KEY], feature)
            checked += 1
    assert checked > 100


def test_reasons_are_ordered_by_effect(scored: pd.DataFrame) -> None:
    drops = scored.loc[scored["at_risk"] == 1, DROPS].dropna()
    assert len(drops) > 50
    assert (drops["reason_1_risk_drop"] >= drops["reason_2_risk_drop"]).all()
    assert (drops["reason_2_risk_drop"] >= drops["reason_3_risk_drop"]).all()


def test_unflagged_members_have_no_reasons(scored: pd.DataFrame) -> None:
    calm = scored[scored["at_risk"] == 0]
    assert (calm[REASONS] == "").all(axis=None)
    assert calm[DROPS].isna().all(axis=None)


def test_member_at_typical_values_has_no_reason(scorer: Scorer, members: pd.DataFrame) -> None:
    typical = members.iloc[[0]].assign(**scorer.typical)
    reasons = top_reasons(scorer, typical, _proba(scorer, typical), 3)
    assert (reasons[REASONS] == "").all(axis=None)


# ---------------------------------------------------------------- the MIN_DROP cut-off


class _Nudged:
    """A model whose risk rises 0.2 with Lifetime above 5 and by a rounding-sized 1e-12 with
    Age above 30: only the first is a reason."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 0.5 + 0.2 * (X["Lifetime"] > 5) + 1e-12 * (X["Age"] > 30)
        return np.column_stack([1 - p, p])


class _OneSegment:
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X), dtype=int)


def _nudged_scorer(typical: dict[str, Any]) -> Scorer:
    return Scorer(
        model=_Nudged(), threshold=0.6, decile_edges=np.linspace(0.1, 0.9, 9), typical=typical,
        assigner=_OneSegment(), segment_names={0: "all"}, contract=GYM_CONTRACT,
    )  # fmt: skip


def test_a_drop_below_min_drop_is_no_reason(members: pd.DataFrame) -> None:
    typical = members.iloc[0].drop(ROW_KEY).to_dict() | {"Lifetime": 1, "Age": 25}
    risky = members.iloc[:3].assign(Lifetime=12, Age=50)
    out = score(_nudged_scorer(typical), risky)
    assert out["at_risk"].tolist() == [1, 1, 1]
    assert out["reason_1"].tolist() == ["Lifetime"] * 3
    assert out["reason_1_risk_drop"].to_numpy() == pytest.approx(0.2)
    assert (out["reason_2"] == "").all()  # Age lowers the risk by 1e-12 only
    assert out["reason_2_risk_drop"].isna().all()
