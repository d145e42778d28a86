"""Engineered features (gym_churn.features)."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from gym_churn.features import add_features
from gym_churn.params import Features

ALL_NAMES = ("freq_change", "contract_months_used", "freq_ratio")
ALL_SWITCHES = [
    pytest.param(
        Features(**dict(zip(ALL_NAMES, flags, strict=True))),
        id="-".join(name for name, on in zip(ALL_NAMES, flags, strict=True) if on) or "none",
    )
    for flags in itertools.product([False, True], repeat=3)
]


@pytest.fixture
def tiny() -> pd.DataFrame:
    """Three members whose engineered values are easy to compute by hand."""
    return pd.DataFrame(
        {
            "Contract_period": [12, 1, 6],
            "Month_to_end_contract": [3.0, 1.0, 6.0],
            "Avg_class_frequency_total": [2.0, 0.75, 2.5],
            "Avg_class_frequency_current_month": [1.0, 0.0, 2.5],
            "Churn": [0, 1, 0],
        }
    )


EXPECTED = {
    # current - lifetime
    "freq_change": [-1.0, -0.75, 0.0],
    # Contract_period - Month_to_end_contract
    "contract_months_used": [9.0, 0.0, 0.0],
    # (current + 0.25) / (lifetime + 0.25)
    "freq_ratio": [1.25 / 2.25, 0.25 / 1.0, 1.0],
}


@pytest.mark.parametrize("switches", ALL_SWITCHES)
def test_only_switched_on_columns_are_added(tiny, switches):
    out = add_features(tiny, switches)

    on = [name for name in ALL_NAMES if getattr(switches, name)]
    assert list(out.columns) == [*tiny.columns, *on]
    pd.testing.assert_frame_equal(out[tiny.columns], tiny)


@pytest.mark.parametrize("switches", ALL_SWITCHES)
def test_input_is_not_mutated(tiny, switches):
    before = tiny.copy(deep=True)

    out = add_features(tiny, switches)
    out.iloc[0, 0] = -1  # the result must not share data with the input

    pd.testing.assert_frame_equal(tiny, before)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_hand_computed_values(tiny, name):
    switches = Features(**{n: n == name for n in ALL_NAMES})

    out = add_features(tiny, switches)

    assert out[name].tolist() == pytest.approx(EXPECTED[name])


def test_all_features_together_give_the_same_values(tiny):
    out = add_features(tiny, Features(**dict.fromkeys(ALL_NAMES, True)))

    for name in ALL_NAMES:
        assert out[name].tolist() == pytest.approx(EXPECTED[name]), name


def test_ratio_is_finite_for_members_without_visits():
    frame = pd.DataFrame(
        {
            "Contract_period": [1],
            "Month_to_end_contract": [1.0],
            "Avg_class_frequency_total": [0.0],
            "Avg_class_frequency_current_month": [0.5],
        }
    )

    out = add_features(
        frame, Features(freq_change=False, contract_months_used=False, freq_ratio=True)
    )

    assert out.loc[0, "freq_ratio"] == pytest.approx((0.5 + 0.25) / (0.0 + 0.25))


def test_features_keep_the_index(tiny):
    tiny.index = [10, 20, 30]

    out = add_features(tiny, Features(**dict.fromkeys(ALL_NAMES, True)))

    assert out.index.tolist() == [10, 20, 30]
    assert out.loc[20, "freq_change"] == pytest.approx(-0.75)
