"""What goes with churn (gym_churn.analysis.drivers): what each ratio compares, the marginal
ratio with its Katz CI, adjustment sets by role, the adjusted (standardised) ratio with its
bootstrap CI, the drivers table and when the evidence holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.analysis.drivers import (
    Contrast,
    adjusted,
    adjustment_set,
    contrast,
    drivers_table,
    evidence_holds,
    marginal,
)
from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.features import add_features
from tests.conftest import make_members, make_other

DRIVER_COLUMNS = [
    "feature", "marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio",
    "adjusted_low", "adjusted_high", "reliance",
]  # fmt: skip

# A lever, an attribute that drives churn and makes the lever likelier, and a behaviour.
CONFOUNDED = parse_contract(
    {
        "target": {"column": "churn", "positive": [1], "negative": [0]},
        "features": {
            "offer": {"kind": "binary", "values": [0, 1], "role": "lever"},
            "local": {"kind": "binary", "values": [0, 1], "role": "attribute"},
            "visits": {"kind": "numeric", "min": 0, "role": "behaviour"},
        },
    },
    source="confounded.yaml",
)


def _confounded(offer_effect: float, per_stratum: int = 400, seed: int = 0) -> pd.DataFrame:
    """Exact strata: 80% of locals and 20% of the others have the offer; churn is 10% among
    locals and 50% among the others, times `offer_effect` for members with the offer. With
    an effect of 1 the offer's whole marginal association comes from `local`."""
    rows = []
    for local, offer_share, rate in ((0, 0.2, 0.5), (1, 0.8, 0.1)):
        for offer in (0, 1):
            n = round(per_stratum * (offer_share if offer else 1 - offer_share))
            churned = round(n * rate * (offer_effect if offer else 1.0))
            rows += [(offer, local, int(i < churned)) for i in range(n)]
    frame = pd.DataFrame(rows, columns=["offer", "local", "churn"])
    frame["visits"] = np.random.default_rng(seed).uniform(0, 4, len(frame))
    return frame.sample(frac=1, random_state=seed, ignore_index=True)


def _adjusted(members: pd.DataFrame, *, seed: int = 0, resamples: int = 12, max_rows: int = 5000):
    contrasts = {c: contrast(members, CONFOUNDED, c) for c in CONFOUNDED.raw_features}
    return adjusted(
        members, CONFOUNDED, contrasts, resamples=resamples, max_rows=max_rows, seed=seed
    ).set_index("feature")


# ---------------------------------------------------------------- what a ratio compares


def test_a_flag_compares_without_with_with(gym_contract) -> None:
    members = make_members(40)

    assert contrast(members, gym_contract, "Partner") == Contrast(0, 1, "without vs with")


def test_a_short_menu_of_numbers_compares_its_first_and_last_value(gym_contract) -> None:
    members = make_members(40)

    c = contrast(members, gym_contract, "Contract_period")

    assert (c.low, c.high, c.text, c.exact) == (1.0, 12.0, "1 vs 12", True)


def test_a_number_compares_its_quartiles(gym_contract) -> None:
    members = make_members(40).assign(Age=np.arange(40) + 20)

    c = contrast(members, gym_contract, "Age")

    q1, q3 = np.percentile(np.arange(40) + 20, [25, 75])
    assert (c.low, c.high, c.exact) == (pytest.approx(q1), pytest.approx(q3), False)
    assert c.text == f"lower quartile (<= {q1:.3g}) vs upper (>= {q3:.3g})"


def _plans(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """plan level -> (members, churned)."""
    rows = [(p, int(i < k)) for p, (n, k) in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["plan", "left"])


def test_a_category_compares_its_riskiest_and_safest_big_levels(other_contract) -> None:
    # premium churns most but holds 3% of members: left out
    members = _plans({"basic": (60, 30), "plus": (37, 5), "premium": (3, 3)})

    c = contrast(members, other_contract, "plan")

    assert (c.low, c.high) == ("basic", "plus")
    assert c.text == "'basic' vs 'plus' (riskiest vs safest)"


def test_a_category_with_one_big_level_uses_them_all(other_contract) -> None:
    members = _plans({"basic": (96, 30), "plus": (2, 0), "premium": (2, 2)})

    c = contrast(members, other_contract, "plan")

    assert (c.low, c.high) == ("premium", "plus")


# ---------------------------------------------------------------- marginal ratio


def test_marginal_ratio_and_katz_ci_by_hand() -> None:
    # without: 6 of 10 churned; with: 4 of 20 -> (6/10) / (4/20) = 3
    # se = sqrt(1/6 - 1/10 + 1/4 - 1/20); CI = 3 * exp(-+1.96 se)
    members = pd.DataFrame(
        {"flag": [0] * 10 + [1] * 20, "y": [1] * 6 + [0] * 4 + [1] * 4 + [0] * 16}
    )

    out = marginal(members, "flag", Contrast(0, 1, "without vs with"), "y")

    assert out["marginal_ratio"] == pytest.approx(3.0)
    assert out["marginal_low"] == pytest.approx(1.0903418, rel=1e-6)
    assert out["marginal_high"] == pytest.approx(8.2542923, rel=1e-6)
    assert (out["n_low"], out["n_high"]) == (10, 20)


def test_marginal_with_quartiles_compares_at_or_below_and_at_or_above() -> None:
    members = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8], "y": [1, 1, 0, 0, 1, 0, 0, 0]})

    out = marginal(members, "x", Contrast(2.0, 7.0, "", exact=False), "y")

    # x <= 2: 2 of 2 churned; x >= 7: 0 of 2 -> undefined
    assert (out["n_low"], out["n_high"]) == (2, 2)
    assert np.isnan(out["marginal_ratio"])

    out = marginal(members, "x", Contrast(3.0, 5.0, "", exact=False), "y")

    # x <= 3: 2 of 3; x >= 5: 1 of 4
    assert out["marginal_ratio"] == pytest.approx((2 / 3) / (1 / 4))
    assert out["marginal_low"] < out["marginal_ratio"] < out["marginal_high"]


def test_marginal_compares_category_levels_as_text() -> None:
    members = pd.DataFrame({"plan": ["a", "a", "b", "b", "b", "c"], "y": [1, 0, 1, 0, 0, 1]})

    out = marginal(members, "plan", Contrast("a", "b", ""), "y")

    assert out["marginal_ratio"] == pytest.approx((1 / 2) / (1 / 3))
    assert (out["n_low"], out["n_high"]) == (2, 3)


# ---------------------------------------------------------------- adjustment sets


def test_non_behaviour_is_never_adjusted_for_behaviour(gym_contract) -> None:
    behaviour = set(gym_contract.with_role("behaviour"))
    fixed = gym_contract.with_role("lever", "attribute", "tenure")
    assert behaviour
    assert {"Partner", "Lifetime"} <= set(fixed)

    for col in fixed:
        assert adjustment_set(gym_contract, col) == [c for c in fixed if c != col], col


def test_behaviour_is_adjusted_for_everything_else(gym_contract, other_contract) -> None:
    for contract in (gym_contract, other_contract):
        for col in contract.with_role("behaviour"):
            expected = [c for c in contract.raw_features if c != col]
            assert adjustment_set(contract, col) == expected, col


# ---------------------------------------------------------------- adjusted ratios


@pytest.fixture(scope="module")
def confounded() -> tuple[pd.DataFrame, pd.DataFrame]:
    members = _confounded(offer_effect=1.0)
    return members, _adjusted(members)


@pytest.fixture(scope="module")
def real_effect() -> tuple[pd.DataFrame, pd.DataFrame]:
    members = _confounded(offer_effect=0.5)
    return members, _adjusted(members)


def test_an_association_explained_by_an_attribute_vanishes_once_adjusted(confounded) -> None:
    members, table = confounded
    c = contrast(members, CONFOUNDED, "offer")

    assert marginal(members, "offer", c, "churn")["marginal_ratio"] > 1.5
    offer = table.loc["offer"]
    assert offer["adjusted_low"] < 1 < offer["adjusted_high"]
    assert offer["adjusted_ratio"] == pytest.approx(1.0, abs=0.05)
    assert not evidence_holds(offer)
    assert table.loc["local", "adjusted_low"] > 1  # the attribute keeps its own association


def test_a_real_association_survives_adjustment(real_effect) -> None:
    _, table = real_effect
    offer = table.loc["offer"]

    # churn without the offer / with it, everyone else alike: 0.3 / 0.15
    assert offer["adjusted_ratio"] == pytest.approx(2.0, rel=0.1)
    assert offer["adjusted_low"] > 1
    assert evidence_holds(offer)


def test_every_point_estimate_lies_in_its_ci(confounded, real_effect) -> None:
    for _, table in (confounded, real_effect):
        assert (table["adjusted_low"] <= table["adjusted_ratio"]).all()
        assert (table["adjusted_ratio"] <= table["adjusted_high"]).all()


def test_adjusted_names_each_adjustment_set(confounded) -> None:
    _, table = confounded

    assert table["adjusted_for"].to_dict() == {
        "offer": "local",  # never the behaviour
        "local": "offer",
        "visits": "offer + local",
    }


def test_adjusted_is_seeded() -> None:
    members = _confounded(offer_effect=0.5, per_stratum=200)

    first = _adjusted(members, seed=3, resamples=4, max_rows=300)
    again = _adjusted(members, seed=3, resamples=4, max_rows=300)
    other = _adjusted(members, seed=4, resamples=4, max_rows=300)

    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["adjusted_low"], other["adjusted_low"])


# ---------------------------------------------------------------- the drivers table


@pytest.fixture(scope="module")
def other_table(other_contract) -> pd.DataFrame:
    checked = check_export(make_other(150, seed=2), other_contract, source="o.csv").members
    members = add_features(checked, other_contract)
    groups = list(other_contract.groups)
    reliance = pd.DataFrame(
        {"group": groups, "importance": [0.01 * (i + 1) for i in range(len(groups))]}
    )
    return drivers_table(members, other_contract, reliance, resamples=4, max_rows=5000, seed=0)


def test_drivers_table_leads_with_the_ratio_columns(other_contract, other_table) -> None:
    assert list(other_table.columns[: len(DRIVER_COLUMNS)]) == DRIVER_COLUMNS
    assert other_table["feature"].tolist() == other_contract.raw_features
    assert {"label", "role", "compared", "n_low", "n_high", "adjusted_for"} <= set(
        other_table.columns
    )


def test_drivers_table_on_another_contract(other_contract, other_table) -> None:
    rows = other_table.set_index("feature")

    assert rows.loc["plan", "compared"].endswith("(riskiest vs safest)")
    assert rows.loc["plan", "role"] == "lever"
    assert rows.loc["senior", "label"] == "seniors"
    assert rows.loc["senior", "compared"] == "without vs with"
    # fee has gaps: compared on the known values, imputed in the outcome model
    assert rows.loc["fee", "n_low"] + rows.loc["fee", "n_high"] < 150
    numbers = other_table[DRIVER_COLUMNS[1:7]]
    assert np.isfinite(numbers.to_numpy(dtype=float)).all()
    assert "behaviour" not in " ".join(
        other_contract.role(c) for c in rows.loc["plan", "adjusted_for"].split(" + ")
    )


def test_reliance_is_the_features_groups(other_contract, other_table) -> None:
    rows = other_table.set_index("feature")
    order = list(other_contract.groups)

    # fee, tenure_months and fee_per_month are one group, keyed by fee
    assert rows.loc["tenure_months", "reliance"] == rows.loc["fee", "reliance"]
    assert rows.loc["fee", "reliance"] == pytest.approx(0.01 * (order.index("fee") + 1))
    assert rows.loc["tenure_months", "reliance_group"] == "fee + tenure_months + fee_per_month"
    assert rows.loc["calls", "reliance"] == pytest.approx(0.01 * (order.index("calls") + 1))


# ---------------------------------------------------------------- evidence


@pytest.mark.parametrize(
    ("low", "high", "holds"),
    [
        (1.1, 2.0, True),
        (0.4, 0.9, True),
        (0.9, 1.1, False),
        (1.0, 1.5, False),  # touching 1 is not excluding it
        (np.nan, np.nan, False),
        (1.2, np.nan, False),
    ],
)
def test_evidence_holds_when_the_adjusted_ci_excludes_one(low, high, holds) -> None:
    assert evidence_holds({"adjusted_low": low, "adjusted_high": high}) is holds
    assert evidence_holds(pd.Series({"adjusted_low": low, "adjusted_high": high})) is holds
