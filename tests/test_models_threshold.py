"""The decision threshold (gym_churn.models.threshold): confusion counts and objectives on
hand examples, ties, and the choice of cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.models.threshold import (
    ThresholdChoice,
    choose_threshold,
    confusion_at_thresholds,
    threshold_objective,
)
from gym_churn.params import Threshold

# Hand example used by several tests. Sorted by score (high first):
#   score 0.9 0.8 0.8 0.4 0.4 0.1
#   label  1   0   1   1   0   0      3 churners, 3 retained
# The rows are given shuffled so that the functions must sort them themselves.
HAND_Y = np.array([0, 1, 1, 0, 0, 1])
HAND_P = np.array([0.4, 0.9, 0.8, 0.1, 0.8, 0.4])
HAND_COUNTS = pd.DataFrame(
    {
        "threshold": [0.9, 0.8, 0.4, 0.1],
        "tp": [1, 2, 3, 3],
        "fp": [0, 1, 2, 3],
        "fn": [2, 1, 0, 0],
        "tn": [3, 2, 1, 0],
    }
)
# F1 = 2tp / (2tp + fp + fn) at each threshold
HAND_F1 = [2 / 4, 4 / 6, 6 / 8, 6 / 9]


def _threshold(**update: float | str) -> Threshold:
    base = {"objective": "f1", "offer_cost": 10.0, "offer_success_rate": 0.3, "member_value": 100.0}
    return Threshold(**{**base, **update})


def test_confusion_at_thresholds_hand_example_with_ties():
    counts = confusion_at_thresholds(HAND_Y, HAND_P)

    pd.testing.assert_frame_equal(counts, HAND_COUNTS, check_dtype=False)


def test_confusion_rows_always_add_up():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    p = np.round(rng.uniform(size=50), 1)  # many ties

    counts = confusion_at_thresholds(y, p)

    assert (counts[["tp", "fp", "fn", "tn"]].sum(axis=1) == 50).all()
    assert counts["threshold"].is_monotonic_decreasing
    assert counts["threshold"].is_unique
    assert len(counts) == len(np.unique(p))
    for row in counts.itertuples():
        flagged = p >= row.threshold
        assert row.tp == int((flagged & (y == 1)).sum())
        assert row.fp == int((flagged & (y == 0)).sum())


def test_f1_objective_hand_values():
    values = threshold_objective(HAND_COUNTS, _threshold(objective="f1"))

    assert values.tolist() == pytest.approx(HAND_F1)


def test_f1_objective_is_zero_without_positives():
    counts = confusion_at_thresholds(np.zeros(3), np.array([0.9, 0.5, 0.1]))

    values = threshold_objective(counts, _threshold(objective="f1"))

    assert values.tolist() == [0.0, 0.0, 0.0]


def test_profit_objective_hand_values():
    # a saved churner is worth 0.5 * 100 = 50, every flagged member costs 10
    cfg = _threshold(objective="profit", offer_cost=10.0, offer_success_rate=0.5)

    values = threshold_objective(HAND_COUNTS, cfg)

    assert values.tolist() == pytest.approx([40.0, 70.0, 100.0, 90.0])


def test_choose_threshold_f1_hand_example():
    choice = choose_threshold(HAND_Y, HAND_P, _threshold(objective="f1"))

    # best F1 = 6/8 at 0.4: flag both members tied at 0.4, catching every churner
    assert choice == ThresholdChoice(threshold=0.4, objective="f1", value=pytest.approx(0.75))


@pytest.mark.parametrize(
    ("offer_cost", "threshold", "value"),
    [
        # a saved churner is worth 0.5 * 100 = 50; every flagged member costs offer_cost
        # profit at 0.9 / 0.8 / 0.4 / 0.1 = 1*50 - 1c / 2*50 - 3c / 3*50 - 5c / 3*50 - 6c
        (10.0, 0.4, 100.0),  # 40 / 70 / 100 / 90
        (30.0, 0.9, 20.0),  # 20 / 10 / 0 / -30
        (0.0, 0.4, 150.0),  # 50 / 100 / 150 / 150: tie goes to the higher cut-off
    ],
)
def test_choose_threshold_profit_hand_example(offer_cost, threshold, value):
    cfg = _threshold(
        objective="profit", offer_cost=offer_cost, offer_success_rate=0.5, member_value=100.0
    )

    choice = choose_threshold(HAND_Y, HAND_P, cfg)

    assert choice.threshold == threshold
    assert choice.value == pytest.approx(value)
    assert choice.objective == "profit"


def test_profit_ties_go_to_the_higher_threshold():
    # churner worth 0.5 * 40 = 20, offer 10: profit 10 at 0.9, 0 at 0.8, 10 at 0.7
    cfg = _threshold(objective="profit", offer_cost=10.0, offer_success_rate=0.5, member_value=40.0)

    choice = choose_threshold(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7]), cfg)

    assert choice.threshold == 0.9
    assert choice.value == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("y", "p", "flagged"),
    [
        (np.array([1, 0, 1, 0, 1]), np.array([0.95, 0.6, 0.5, 0.3, 0.2]), 1),
        (np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.9, 0.6, 0.3, 0.2]), 2),  # tie at the top
    ],
)
def test_very_high_offer_cost_flags_only_the_top(y, p, flagged):
    cfg = _threshold(objective="profit", offer_cost=1e6, offer_success_rate=0.3, member_value=100.0)

    choice = choose_threshold(y, p, cfg)

    # no cut-off makes a profit; the least bad one flags as few members as possible
    assert choice.threshold == p.max()
    assert int((p >= choice.threshold).sum()) == flagged
    assert choice.value == pytest.approx(flagged * (0.3 * 100.0 - 1e6))
