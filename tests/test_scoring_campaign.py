"""Expected-value targeting: the profit curve, the budget, the campaign list with its
hold-out, and the uplift read from it (gym_churn.scoring.campaign)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.scoring.campaign import (
    GRID,
    Economics,
    budget_contacts,
    campaign_list,
    current_members,
    optimal_row,
    profit_curve,
    uplift,
)

ECO = Economics(
    offer_cost=10.0,
    member_value=100.0,
    success_rate=0.3,
    success_rate_low=0.2,
    success_rate_high=0.4,
)
FOUR = np.array([0.2, 0.9, 0.1, 0.5])  # unsorted on purpose: the curve sorts riskiest first


def _proba(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).beta(2, 5, size=n)


def _at(curve: pd.DataFrame, share: float) -> pd.Series:
    return curve.loc[np.isclose(curve["contact_share"], share)].iloc[0]


def _scored(n: int, seed: int = 0) -> pd.DataFrame:
    """Scored members as describe() leaves them: key, probability, reasons and lever."""
    proba = _proba(n, seed)
    return pd.DataFrame(
        {
            "member_row": np.arange(1, n + 1),
            "churn_probability": proba,
            "at_risk": proba > 0.5,
            "reason_1": [f"why {i}" for i in range(n)],
            "reason_2": [f"also {i}" for i in range(n)],
            "lever": [f"lever {i}" for i in range(n)],
            "lever_gain": np.linspace(0, 1, n),
            "segment": np.arange(n) % 3,
        }
    )


# ---------------------------------------------------------------- profit curve


@pytest.mark.parametrize("n", [0, 1, 4, 7, 250])
def test_curve_has_a_row_per_percent(n):
    curve = profit_curve(_proba(n), ECO)

    assert len(curve) == GRID == 101
    np.testing.assert_allclose(curve["contact_share"], np.arange(101) / 100)
    assert curve["contacted"].iloc[0] == 0
    assert curve["contacted"].iloc[-1] == n
    assert (np.diff(curve["contacted"]) >= 0).all()
    first = curve.iloc[0]
    assert first["profit"] == first["profit_low"] == first["profit_high"] == first["random"] == 0


def test_curve_by_hand_on_four_members():
    curve = profit_curve(FOUR, ECO)

    # riskiest first: 0.9, 0.5, 0.2, 0.1; profit = caught * 0.3 * 100 - contacted * 10
    for share, contacted, caught, profit in [
        (0.25, 1, 0.9, 17.0),
        (0.50, 2, 1.4, 22.0),
        (0.75, 3, 1.6, 18.0),
        (1.00, 4, 1.7, 11.0),
    ]:
        row = _at(curve, share)
        assert row["contacted"] == contacted
        assert row["expected_churners"] == pytest.approx(caught)
        assert row["profit"] == pytest.approx(profit)
        assert row["profit_low"] == pytest.approx(caught * 20 - contacted * 10)
        assert row["profit_high"] == pytest.approx(caught * 40 - contacted * 10)
        # at random each contact catches the mean probability, 0.425
        assert row["random"] == pytest.approx(contacted * (0.425 * 30 - 10))
    # the whole list costs the same whichever order it is contacted in
    assert _at(curve, 1.0)["random"] == pytest.approx(_at(curve, 1.0)["profit"])


@pytest.mark.parametrize(("share", "contacted"), [(0.12, 0), (0.13, 1), (0.37, 1), (0.38, 2)])
def test_curve_rounds_the_share_to_whole_members(share, contacted):
    assert _at(profit_curve(FOUR, ECO), share)["contacted"] == contacted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_targeting_is_linear_in_the_members_contacted(seed):
    proba = _proba(137, seed)
    curve = profit_curve(proba, ECO)
    per_contact = proba.mean() * ECO.success_rate * ECO.member_value - ECO.offer_cost

    np.testing.assert_allclose(curve["random"], curve["contacted"] * per_contact, atol=1e-9)


@pytest.mark.parametrize(
    "eco",
    [
        ECO,
        Economics(0.0, 100.0, 0.3, 0.3, 0.3),  # a band of one rate
        Economics(50.0, 80.0, 0.5, 0.0, 1.0),  # the widest band
        Economics(0.0, 0.0, 0.5, 0.1, 0.9),  # a member worth nothing
    ],
)
def test_band_holds_the_central_curve_at_every_share(eco):
    curve = profit_curve(_proba(300, seed=4), eco)

    assert (curve["profit_low"] <= curve["profit"] + 1e-9).all()
    assert (curve["profit"] <= curve["profit_high"] + 1e-9).all()


def test_riskiest_first_beats_random_at_every_share():
    curve = profit_curve(_proba(300, seed=5), ECO)

    assert (curve["profit"] >= curve["random"] - 1e-9).all()
    assert (curve["expected_churners"].diff().dropna() >= 0).all()


# ---------------------------------------------------------------- the best share


@pytest.mark.parametrize("column", ["profit", "profit_low", "profit_high", "random"])
def test_optimal_row_is_the_curves_argmax(column):
    curve = profit_curve(_proba(500, seed=6), ECO)

    best = optimal_row(curve, column)

    assert best[column] == curve[column].max()
    assert best.name == curve[column].idxmax()


def test_optimal_row_on_four_members_is_half():
    best = optimal_row(profit_curve(FOUR, ECO))

    # 17, 22, 18, 11 at one, two, three and four contacts: two is best
    assert best["contacted"] == 2
    assert best["profit"] == pytest.approx(22.0)
    assert best["contact_share"] == pytest.approx(0.38)  # the first share that rounds to two


@pytest.mark.parametrize("proba", [[0.1, 0.3, 0.5], [0.9, 0.99], [0.05] * 20])
def test_nothing_is_profitable_at_a_low_success_rate(proba):
    # each contact returns p * 0.1 * 100 - 10 = 10p - 10 < 0 for every p < 1
    eco = Economics(10.0, 100.0, 0.1, 0.05, 0.15)

    best = optimal_row(profit_curve(np.array(proba), eco))

    assert best["contact_share"] == 0
    assert best["contacted"] == 0
    assert best["profit"] == 0


def test_optimal_row_takes_the_first_of_tied_shares():
    # every contact returns exactly 1.0 * 0.5 * 20 - 10 = 0: the whole curve ties at 0
    curve = profit_curve(np.ones(10), Economics(10.0, 20.0, 0.5, 0.5, 0.5))

    assert (curve["profit"] == 0).all()
    assert optimal_row(curve)["contact_share"] == 0


# ---------------------------------------------------------------- the budget


@pytest.mark.parametrize(
    ("budget", "cost", "members", "contacts"),
    [
        (100, 10, 50, 10),
        (105, 10, 50, 10),  # a part offer buys nobody
        (99.99, 10, 50, 9),
        (0, 10, 50, 0),
        (1000, 10, 50, 50),  # capped at the members there are
        (500, 10, 50, 50),
        (0.3, 0.1, 50, 3),  # 0.3 / 0.1 is 2.9999999999999996 in floats
        (0.7, 0.1, 50, 7),
        (100, 0, 50, 50),  # free offers: everyone
        (0, 0, 50, 50),
        (100, 10, 0, 0),
    ],
)
def test_budget_contacts(budget, cost, members, contacts):
    got = budget_contacts(budget, cost, members)

    assert got == contacts
    assert isinstance(got, int)


# ---------------------------------------------------------------- the campaign list


@pytest.mark.parametrize("contacts", [0, 1, 17, 60, 100])
def test_campaign_list_is_the_riskiest_first(contacts):
    scored = _scored(100)

    table = campaign_list(scored, "member_row", contacts, ECO, contacts // 5, seed=1)

    assert len(table) == contacts
    riskiest = scored.sort_values("churn_probability", ascending=False).head(contacts)
    assert table["member_row"].tolist() == riskiest["member_row"].tolist()
    assert table["churn_probability"].is_monotonic_decreasing
    assert table.index.tolist() == list(range(contacts))


def test_campaign_list_keeps_ties_in_file_order():
    scored = _scored(6).assign(churn_probability=[0.5, 0.9, 0.5, 0.9, 0.1, 0.5])

    table = campaign_list(scored, "member_row", 5, ECO, 0, seed=0)

    assert table["member_row"].tolist() == [2, 4, 1, 3, 6]


def test_campaign_list_keeps_ties_in_file_order_in_a_long_list():
    # a long list with few distinct probabilities: an unstable sort would shuffle the ties
    n = 300
    scored = _scored(n).assign(churn_probability=np.random.default_rng(2).choice([0.2, 0.7], n))

    table = campaign_list(scored, "member_row", n, ECO, 0, seed=0)

    for _, group in table.groupby("churn_probability"):
        assert group["member_row"].is_monotonic_increasing


def test_campaign_list_beyond_the_members_lists_everyone():
    table = campaign_list(_scored(30), "member_row", 1000, ECO, 3, seed=0)

    assert len(table) == 30
    assert (table["group"] == "holdout").sum() == 3


@pytest.mark.parametrize(
    ("contacts", "held", "expected"),
    [(100, 10, 10), (100, 0, 0), (37, 9, 9), (5, 2, 2), (3, 0, 0), (1, 1, 1), (4, 9, 4)],
)
def test_holdout_holds_the_given_number_at_most_the_list(contacts, held, expected):
    table = campaign_list(_scored(200), "member_row", contacts, ECO, held, seed=3)

    assert (table["group"] == "holdout").sum() == expected
    assert set(table["group"]) <= {"holdout", "contact"}
    assert (table["group"] == "contact").sum() == contacts - expected


def test_holdout_is_seeded():
    scored = _scored(500)

    def held(seed: int) -> set[int]:
        table = campaign_list(scored, "member_row", 400, ECO, 80, seed=seed)
        return set(table.loc[table["group"] == "holdout", "member_row"])

    assert held(7) == held(7)
    # 80 of 400 chosen twice at random: the same set by chance is out of the question
    assert held(7) != held(8)
    assert len(held(7)) == 80


def test_holdout_is_spread_over_the_list_not_its_head_or_tail():
    table = campaign_list(_scored(1000), "member_row", 1000, ECO, 200, seed=11)

    positions = np.flatnonzero(table["group"] == "holdout")
    assert positions.min() < 100
    assert positions.max() > 900


def test_expected_value_per_member():
    scored = _scored(50)

    table = campaign_list(scored, "member_row", 20, ECO, 2, seed=0)

    np.testing.assert_allclose(
        table["expected_value"], table["churn_probability"] * 0.3 * 100.0 - 10.0
    )
    assert table["expected_value"].is_monotonic_decreasing


def test_reasons_and_lever_are_carried_through():
    scored = _scored(40)

    table = campaign_list(scored, "member_row", 15, ECO, 3, seed=0)

    assert list(table.columns) == [
        "member_row",
        "churn_probability",
        "expected_value",
        "group",
        "reason_1",
        "reason_2",
        "lever",
        "lever_gain",
    ]
    # each member keeps its own reasons and lever
    by_key = scored.set_index("member_row")
    for col in ["reason_1", "reason_2", "lever", "lever_gain"]:
        assert table[col].tolist() == by_key.loc[table["member_row"], col].tolist(), col


def test_a_text_key_and_no_reasons():
    scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "churn_probability": [0.2, 0.8, 0.5]})

    table = campaign_list(scored, "customer_id", 2, ECO, 0, seed=0)

    assert table["customer_id"].tolist() == ["b", "c"]
    assert list(table.columns) == ["customer_id", "churn_probability", "expected_value", "group"]
    assert (table["group"] == "contact").all()


# ---------------------------------------------------------------- uplift


def test_uplift_point_estimate():
    # 30 of 100 held out churned, 20 of 100 contacted: the offer kept 10 points
    got = uplift(contacted_churned=20, contacted=100, held_churned=30, held=100)

    assert got["held_out_churn"] == pytest.approx(0.3)
    assert got["contacted_churn"] == pytest.approx(0.2)
    assert got["kept_points"] == pytest.approx(10.0)
    assert got["kept_points_low"] < 10.0 < got["kept_points_high"]


def test_uplift_matches_newcombes_published_interval():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80 = 0.2000,
    # score interval (method 10) 0.0524 to 0.3339.
    got = uplift(contacted_churned=48, contacted=80, held_churned=56, held=70)

    assert got["kept_points"] == pytest.approx(20.0)
    assert got["kept_points_low"] == pytest.approx(5.24, abs=0.005)
    assert got["kept_points_high"] == pytest.approx(33.39, abs=0.005)


@pytest.mark.parametrize(
    ("contacted_churned", "held_churned"), [(20, 30), (30, 20), (25, 25), (0, 10), (10, 0)]
)
def test_uplift_interval_holds_the_estimate_and_narrows_with_members(
    contacted_churned, held_churned
):
    widths = []
    for scale in (1, 4, 16):
        got = uplift(contacted_churned * scale, 100 * scale, held_churned * scale, 100 * scale)
        assert got["kept_points"] == pytest.approx(held_churned - contacted_churned)
        assert got["kept_points_low"] <= got["kept_points"] <= got["kept_points_high"]
        assert got["kept_points_low"] >= -100
        assert got["kept_points_high"] <= 100
        widths.append(got["kept_points_high"] - got["kept_points_low"])

    assert widths[0] > widths[1] > widths[2] > 0
    # roughly 1 / sqrt(n): four times the members, half the width
    assert widths[1] / widths[0] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(("k", "n"), [(0, 40), (40, 40)])
def test_uplift_at_the_edges_stays_finite(k, n):
    got = uplift(k, n, k, n)

    assert got["kept_points"] == 0
    assert all(np.isfinite(v) for v in got.values())
    assert got["kept_points_low"] < 0 < got["kept_points_high"]


@pytest.mark.parametrize(("contacted", "held"), [(0, 10), (10, 0)])
def test_uplift_needs_members_in_both_groups(contacted: int, held: int) -> None:
    with pytest.raises(ValueError, match="both groups"):
        uplift(0, contacted, 0, held)


# ------------------------------------------------------------------ snapshots (issue 24)


@pytest.mark.parametrize(
    ("months", "snapshot", "expected"),
    [
        pytest.param(["2024-05", "2024-06", "2024-06", "2024-05"], "month", [1, 2],
                     id="the-latest-month-only"),
        pytest.param(["2024-05", "2024-06", "2024-06", "2024-05"], None, [0, 1, 2, 3],
                     id="no-snapshot-every-one"),
        pytest.param(["2024-06"] * 4, "month", [0, 1, 2, 3], id="one-month"),
    ],
)  # fmt: skip
def test_the_campaign_ranks_the_members_still_here(months, snapshot, expected):
    from gym_churn.contract.spec import parse_contract
    from tests.conftest import PANEL_CONTRACT

    contract = parse_contract({**PANEL_CONTRACT, "snapshot": snapshot})
    to_score = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "month": months})

    current = current_members(to_score, contract)

    pd.testing.assert_frame_equal(current, to_score.iloc[expected].reset_index(drop=True))
