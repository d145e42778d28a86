"""Test-set metrics and plot data (gym_churn.evaluation.metrics). Grouped model reliance
(gym_churn.evaluation.importance) is tested in test_evaluation_importance.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gym_churn.evaluation.metrics import (
    calibration_points,
    classification_metrics,
    confusion_rows,
    cumulative_gain,
    expected_calibration_error,
    pr_points,
    roc_points,
    top_share_lift,
)

# ---------------------------------------------------------------- expected calibration error


def test_ece_hand_example_two_bins():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.3, 0.6, 0.8, 1.0])
    # bin [0, 0.5]:   p 0.1, 0.3      -> mean 0.2, churn rate 1/2 -> |0.2 - 0.5| * 2 = 0.6
    # bin (0.5, 1]:   p 0.6, 0.8, 1.0 -> mean 0.8, churn rate 2/3 -> |0.8 - 2/3| * 3 = 0.4
    expected = (0.6 + 0.4) / 5

    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


def test_ece_hand_example_four_points():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.2, 0.4, 0.7, 0.9])
    # bin [0, 0.5]: mean 0.3 vs 0 -> 0.3 * 2; bin (0.5, 1]: mean 0.8 vs 1 -> 0.2 * 2
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx((0.6 + 0.4) / 4)


def test_ece_is_zero_when_perfectly_calibrated():
    # a quarter of the 0.25-scored and three quarters of the 0.75-scored members churn
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25] * 4 + [0.75] * 4)

    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.0, abs=1e-12)


def test_ece_puts_probability_one_in_the_last_bin():
    # same bin (0.9, 1]: mean p 0.975 vs rate 0.5 -> 0.475;
    # had p = 1.0 got a bin of its own it would be (0.05 + 1.0) / 2 = 0.525
    y = np.array([1, 0])
    p = np.array([0.95, 1.0])

    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.475)


def test_ece_bins_are_right_closed():
    # p = 0.5 belongs to [0, 0.5] with p = 0.0, not to (0.5, 1] with p = 1.0
    y = np.array([0, 1, 1])
    p = np.array([0.0, 0.5, 1.0])
    # bin [0, 0.5]: mean 0.25 vs 0.5 -> 0.25 * 2; bin (0.5, 1]: 1.0 vs 1 -> 0
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.5 / 3)


@pytest.mark.parametrize("n_bins", [1, 2, 5, 10])
def test_ece_of_constant_score_is_its_gap_to_the_churn_rate(n_bins):
    y = np.array([1, 0, 0, 0, 0])
    p = np.full(5, 0.6)

    assert expected_calibration_error(y, p, n_bins) == pytest.approx(0.6 - 0.2)


# ---------------------------------------------------------------- lift


def test_top_decile_lift_hand_example():
    # 20 members, 5 churners (rate 0.25); the top decile is the 2 highest scores
    y = np.zeros(20, dtype=int)
    y[[1, 5, 8, 12, 19]] = 1
    p = np.linspace(0.05, 0.9, 20)
    p = p[::-1]  # row 0 scores highest; the top two are rows 0 and 1 (one churner)

    # churn rate in the top 2 = 1/2; lift = 0.5 / 0.25
    assert top_share_lift(y, p, 0.1) == pytest.approx(2.0)


def test_perfect_ranking_lift_is_one_over_the_churn_rate():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(6), np.zeros(34)].astype(int)
    rng.shuffle(y)
    p = y + rng.uniform(0, 0.5, size=40)  # every churner above every non-churner

    assert top_share_lift(y, p, 0.1) == pytest.approx(1 / (6 / 40))


def test_lift_rounds_the_top_group_up():
    # 15 members: ceil(0.1 * 15) = 2 members in the top group, the 2nd one a churner
    y = np.array([0, 1] + [0] * 12 + [1])
    p = np.linspace(1.0, 0.0, 15)

    assert top_share_lift(y, p, 0.1) == pytest.approx((1 / 2) / (2 / 15))


def test_lift_breaks_ties_by_row_order():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    p = np.full(10, 0.5)  # all tied: the top decile is row 0

    assert top_share_lift(y, p, 0.1) == pytest.approx(1.0 / 0.2)


@pytest.mark.parametrize("share", [0.2, 0.5, 1.0])
def test_lift_with_other_shares(share):
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.linspace(1.0, 0.1, 10)
    top = math.ceil(share * 10)

    assert top_share_lift(y, p, share) == pytest.approx(y[:top].mean() / y.mean())


# ---------------------------------------------------------------- scalar metrics

METRIC_KEYS = {
    "roc_auc",
    "pr_auc",
    "f1",
    "precision",
    "recall",
    "accuracy",
    "brier",
    "log_loss",
    "ece",
    "top_decile_lift",
    "top_decile_lift_max",
    "flagged_share",
}


def test_classification_metrics_keys_and_hand_values():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1, 0.0])
    # threshold 0.5 flags rows 0, 1, 2: tp 2, fp 1, fn 1, tn 6

    scores = classification_metrics(y, p, threshold=0.5, calibration_bins=5)

    assert set(scores) == METRIC_KEYS
    assert all(isinstance(v, float) for v in scores.values())
    assert scores["flagged_share"] == pytest.approx(0.3)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert scores["top_decile_lift"] == pytest.approx(1 / 0.3)
    assert scores["top_decile_lift_max"] == pytest.approx(1 / 0.3)  # the top row churned
    # bins of width 0.2: [0, .2] 5 rows |0.12 - 0.2|, (.2, .4] 2 rows |0.35 - 0|,
    # (.6, .8] 2 rows |0.75 - 0.5|, (.8, 1] 1 row |0.9 - 1|
    assert scores["ece"] == pytest.approx((5 * 0.08 + 2 * 0.35 + 2 * 0.25 + 0.1) / 10)
    # churner/non-churner pairs ranked right: 7 + 6 + 3.5 (a tie counts half) of 21
    assert scores["roc_auc"] == pytest.approx(16.5 / 21)


def test_threshold_is_inclusive():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.6, 0.6, 0.3, 0.1])

    scores = classification_metrics(y, p, threshold=0.6, calibration_bins=2)

    assert scores["flagged_share"] == pytest.approx(0.5)


def test_log_loss_stays_finite_for_certain_wrong_scores():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.0, 1.0, 1.0, 0.0])

    scores = classification_metrics(y, p, threshold=0.5, calibration_bins=2)

    assert np.isfinite(scores["log_loss"])
    assert scores["log_loss"] > 10


def test_metrics_when_nobody_is_flagged():
    y = np.array([1, 0, 0, 0])
    p = np.array([0.4, 0.3, 0.2, 0.1])

    scores = classification_metrics(y, p, threshold=0.9, calibration_bins=2)

    assert scores["flagged_share"] == 0.0
    assert scores["precision"] == 0.0
    assert scores["recall"] == 0.0
    assert scores["f1"] == 0.0


# ---------------------------------------------------------------- curve data


@pytest.mark.parametrize("points", [10, 100])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cumulative_gain_is_monotone_and_ends_at_one(points, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=37)
    y[0] = 1
    p = rng.uniform(size=37)

    gain = cumulative_gain(y, p, points=points)

    assert len(gain) == points
    assert list(gain.columns) == ["contacted_share", "churners_caught_share", "lift"]
    assert gain["contacted_share"].iloc[-1] == pytest.approx(1.0)
    assert gain["churners_caught_share"].iloc[-1] == pytest.approx(1.0)
    assert gain["lift"].iloc[-1] == pytest.approx(1.0)
    assert gain["contacted_share"].is_monotonic_increasing
    assert gain["churners_caught_share"].is_monotonic_increasing
    assert gain["churners_caught_share"].between(0, 1).all()


def test_cumulative_gain_hand_example():
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.9, 0.5, 0.3])  # ranked: 1 (churner), 2, 3 (churner), 0

    gain = cumulative_gain(y, p, points=4)

    assert gain["contacted_share"].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert gain["churners_caught_share"].tolist() == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert gain["lift"].tolist() == pytest.approx([2.0, 1.0, 4 / 3, 1.0])


def test_cumulative_gain_contacts_exactly_the_share():
    y = np.zeros(10, dtype=int)
    y[7] = 1  # the 8th-ranked member is the only churner
    p = np.linspace(1.0, 0.1, 10)

    gain = cumulative_gain(y, p, points=100)

    assert gain["contacted_share"].iloc[69] == pytest.approx(0.7)  # 7 of 10 members
    assert gain["churners_caught_share"].iloc[69] == 0.0


def test_roc_and_pr_points():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])

    roc = roc_points(y, p)
    pr = pr_points(y, p)

    assert list(roc.columns) == ["fpr", "tpr"]
    assert (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert list(pr.columns) == ["recall", "precision"]
    assert pr["recall"].is_monotonic_increasing  # plotted left to right
    assert pr["recall"].iloc[-1] == 1.0


def test_confusion_rows_labels_every_member():
    rows = confusion_rows(np.array([1, 0, 1, 0]), np.array([0.8, 0.7, 0.2, 0.1]), 0.5)

    assert rows.to_dict("list") == {
        "actual": ["churned", "retained", "churned", "retained"],
        "predicted": ["churned", "churned", "retained", "retained"],
    }


def test_calibration_points_columns_and_values():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])

    points = calibration_points(y, p, n_bins=2)

    assert list(points.columns) == ["mean_predicted", "observed_churn_rate", "members"]
    assert points["mean_predicted"].tolist() == pytest.approx([0.2, 0.8])
    assert points["observed_churn_rate"].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert points["members"].tolist() == [3, 3]


def test_calibration_points_count_members_in_the_bins_they_are_averaged_in():
    # bins [0, 0.5] and (0.5, 1]: p = 0.5 is averaged in the first bin, and counted there
    y = np.array([0, 1, 1])
    p = np.array([0.0, 0.5, 1.0])

    points = calibration_points(y, p, n_bins=2)

    assert points["mean_predicted"].tolist() == pytest.approx([0.25, 1.0])
    assert points["members"].tolist() == [2, 1]


def test_calibration_points_with_a_probability_on_a_bin_edge():
    # the only member of the lower bin sits on its upper edge: two non-empty bins, two rows
    points = calibration_points(np.array([0, 1]), np.array([0.5, 0.9]), n_bins=2)

    assert points["mean_predicted"].tolist() == pytest.approx([0.5, 0.9])
    assert points["members"].tolist() == [1, 1]


@pytest.mark.parametrize("seed", [0, 1])
def test_calibration_points_members_add_up(seed):
    rng = np.random.default_rng(seed)
    p = np.r_[rng.uniform(size=50), np.arange(11) / 10]  # every bin edge included
    y = rng.integers(0, 2, size=len(p))

    points = calibration_points(y, p, n_bins=10)

    assert points["members"].sum() == len(p)
    assert (points["members"] > 0).all()


@pytest.mark.parametrize(("churners", "ceiling"), [(1, 10.0), (2, 10.0), (4, 5.0), (10, 2.0)])
def test_the_lift_ceiling_is_all_of_the_top_decile_churned(churners, ceiling):
    # 20 members, top decile 2: with one churner at most half of it can churn
    y = np.zeros(20, dtype=int)
    y[:churners] = 1
    noise = np.linspace(0.9, 0.1, 20)[::-1]  # a score that ranks the churners last

    scores = classification_metrics(y, noise, threshold=0.5, calibration_bins=5)

    assert scores["top_decile_lift_max"] == pytest.approx(ceiling)
    assert scores["top_decile_lift"] < scores["top_decile_lift_max"]
