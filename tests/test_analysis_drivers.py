"""What goes with churn (gym_churn.analysis.drivers): one contrast per feature shared by both
columns, the marginal ratio with its Katz CI, adjustment sets (no behaviour, no flagged
column, no column tied to the feature), the overlap rule, the adjusted (standardised) ratio
with its delta-method CI, Holm over the levers, the drivers table and the written precision."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from gym_churn.analysis import drivers as drivers_module
from gym_churn.analysis.drivers import (
    COLUMNS,
    ESTIMATED,
    FLAGGED,
    ONE_SIDED,
    UNCONVERGED,
    Contrast,
    adjusted,
    adjustment_set,
    contrast,
    drivers_table,
    holm,
    judge_levers,
    marginal,
    separated_from,
    sides,
    significant,
    tied_columns,
)
from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.features import add_features
from tests.conftest import make_members, make_other

DRIVER_COLUMNS = [
    "feature", "marginal_ratio", "marginal_low", "marginal_high", "adjusted_ratio",
    "adjusted_low", "adjusted_high",
]  # fmt: skip
SETTINGS = {"C": 100.0, "min_overlap": 0.9, "min_propensity": 0.01, "max_rows": 100_000, "seed": 0}

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


def _adjusted(members: pd.DataFrame, contract=CONFOUNDED, flagged=(), **settings) -> pd.DataFrame:
    contrasts = {c: contrast(members, contract, c) for c in contract.raw_features}
    return adjusted(
        members, contract, contrasts, flagged=flagged, **{**SETTINGS, **settings}
    ).set_index("feature")


# ---------------------------------------------------------------- what a ratio compares


def test_a_flag_compares_without_with_with(gym_contract) -> None:
    members = make_members(40)

    assert contrast(members, gym_contract, "Partner") == Contrast(0, 1, "without vs with")


def test_a_short_menu_of_numbers_compares_its_first_and_last_value(gym_contract) -> None:
    members = make_members(40)

    c = contrast(members, gym_contract, "Contract_period")

    assert (c.low, c.high, c.text, c.exact) == (1.0, 12.0, "1 vs 12", True)


def test_a_number_compares_its_quartiles_and_says_what_each_side_holds(gym_contract) -> None:
    members = make_members(40).assign(Age=np.arange(40) + 20)

    c = contrast(members, gym_contract, "Age")

    q1, q3 = np.percentile(np.arange(40) + 20, [25, 75])
    assert (c.low, c.high, c.exact) == (pytest.approx(q1), pytest.approx(q3), False)
    low, high = sides(members, "Age", c)
    assert c.text == (
        f"<= {q1:.3g} ({low.mean():.0%} of members) vs >= {q3:.3g} ({high.mean():.0%}), "
        "lower vs upper quartile"
    )


@pytest.mark.parametrize(
    ("values", "low", "high", "text_start"),
    [
        # 55% hold 1: the lower quartile is 1 and says so
        ([1] * 55 + [6] * 25 + [12] * 20, 1, 6, "<= 1 (55% of members) vs >= 6 (45%)"),
        # both quartiles are 1: at or below 1 vs at or above the next value held
        ([1] * 80 + [3] * 10 + [7] * 10, 1, 3, "<= 1 (80% of members) vs >= 3 (20%)"),
        # both quartiles are the top value: the value below it vs it
        ([1] * 10 + [5] * 90, 1, 5, "<= 1 (10% of members) vs >= 5 (90%)"),
    ],
)
def test_with_ties_a_quartile_side_says_how_many_it_holds(
    gym_contract, values, low, high, text_start
) -> None:
    members = make_members(100).assign(Lifetime=values)

    c = contrast(members, gym_contract, "Lifetime")

    assert (c.low, c.high) == (low, high)
    assert c.text.startswith(text_start)
    on_low, on_high = sides(members, "Lifetime", c)
    assert not (on_low & on_high).any()


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


def test_nothing_is_adjusted_for_behaviour(gym_contract, other_contract) -> None:
    for contract in (gym_contract, other_contract):
        behaviour = set(contract.with_role("behaviour"))
        assert behaviour
        for col in contract.raw_features:
            assert not behaviour & set(adjustment_set(contract, col)), col


def test_columns_tied_to_the_feature_are_not_adjusted_for(gym_contract) -> None:
    # months left = contract length - months used: adjusting contract length for it holds
    # fixed a consequence of the contract length
    tied = tied_columns(gym_contract, "Contract_period")
    assert list(tied) == ["Month_to_end_contract"]
    assert tied["Month_to_end_contract"] == "contract_months_used"
    assert list(tied_columns(gym_contract, "Month_to_end_contract")) == ["Contract_period"]
    assert tied_columns(gym_contract, "Partner") == {}

    assert "Month_to_end_contract" not in adjustment_set(gym_contract, "Contract_period")
    assert "Contract_period" not in adjustment_set(gym_contract, "Month_to_end_contract")
    assert {"Contract_period", "Month_to_end_contract"} <= set(
        adjustment_set(gym_contract, "Partner")
    )


def test_the_rest_is_adjusted_for_levers_attributes_and_tenure(gym_contract) -> None:
    fixed = gym_contract.with_role("lever", "attribute", "tenure")

    for col in ("Partner", "Lifetime", "Avg_additional_charges_total"):
        assert adjustment_set(gym_contract, col) == [c for c in fixed if c != col], col


def test_flagged_columns_adjust_nothing(gym_contract) -> None:
    flagged = ["Lifetime", "Age"]  # any columns the audit names

    for col in gym_contract.raw_features:
        assert not set(flagged) & set(adjustment_set(gym_contract, col, flagged)), col


# ---------------------------------------------------------------- overlap


def _determined(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """`offer` is fully determined by `local` (every local has it, no one else does)."""
    rng = np.random.default_rng(seed)
    local = rng.integers(0, 2, n)
    churn = (rng.uniform(size=n) < np.where(local == 1, 0.1, 0.4)).astype(int)
    return pd.DataFrame(
        {"offer": local, "local": local, "visits": rng.uniform(0, 4, n), "churn": churn}
    )


def test_a_lever_determined_by_an_adjuster_is_not_estimated() -> None:
    members = _determined()

    table = _adjusted(members)

    offer = table.loc["offer"]
    assert offer["status"] == "not estimated: cannot be separated from local"
    assert offer["separated_from"] == "local"
    assert offer[["adjusted_ratio", "adjusted_low", "adjusted_high"]].isna().all()
    # and the other way round
    assert table.loc["local", "separated_from"] == "offer"


@pytest.mark.parametrize(
    ("mixed", "min_overlap", "apart"),
    [
        (0, 0.9, "local"),  # no member of either side shares a stratum with the other
        (1, 0.9, "local"),  # 1 of 200 (0.5%) is below min_propensity: no support
        (40, 0.9, None),  # 40 of 200: each stratum is 20% the other side
        (1, 0.4, "local"),  # ... the threshold on each side's supported share
    ],
)
def test_overlap_is_each_sides_share_in_strata_that_support_both(mixed, min_overlap, apart) -> None:
    # 200 members per side, local = the side, but for `mixed` members of each side
    high = np.repeat([False, True], 200)
    local = high.astype(int)
    local[:mixed] = 1
    local[200 : 200 + mixed] = 0
    frame = pd.DataFrame({"local": local})

    assert separated_from(frame, high, CONFOUNDED, ["local"], min_overlap, 0.01) == apart


def test_a_many_valued_number_is_checked_by_deciles() -> None:
    rng = np.random.default_rng(1)
    visits = rng.uniform(0, 4, 400)
    frame = pd.DataFrame({"visits": visits})
    above = visits > np.median(visits)
    at_random = rng.uniform(size=400) < 0.5

    # the high side is exactly the members above the median: their deciles never meet
    assert separated_from(frame, above, CONFOUNDED, ["visits"], 0.9, 0.01) == "visits"
    # at random: every decile holds both sides
    assert separated_from(frame, at_random, CONFOUNDED, ["visits"], 0.9, 0.01) is None


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
    assert offer["p_value"] > 0.05
    assert table.loc["local", "adjusted_low"] > 1  # the attribute keeps its own association


def test_a_real_association_survives_adjustment(real_effect) -> None:
    _, table = real_effect
    offer = table.loc["offer"]

    # standardised over all members: churn if nobody had the offer / if everybody had it:
    # (0.5 + 0.1) / 2 / ((0.25 + 0.05) / 2) = 2
    assert offer["adjusted_ratio"] == pytest.approx(2.0, rel=0.02)
    assert offer["adjusted_low"] > 1
    assert offer["p_value"] < 0.001


def test_adjusted_names_each_adjustment_set(confounded) -> None:
    _, table = confounded

    assert table["adjusted_for"].to_dict() == {
        "offer": "local",  # never the behaviour
        "local": "offer",
        "visits": "offer + local",
    }
    assert (table["status"] == ESTIMATED).all()


ALONE = parse_contract(
    {
        "target": {"column": "churn", "positive": [1], "negative": [0]},
        "features": {"age": {"kind": "integer", "min": 0, "role": "attribute"}},
    },
    source="alone.yaml",
)


def test_with_nothing_to_adjust_for_both_columns_agree(real_effect) -> None:
    # one contrast, shared: the only difference between the columns is the adjustment, so
    # with no adjuster the standardised ratio is the marginal one, and the delta-method CI
    # is Katz's (up to the weak ridge penalty)
    rng = np.random.default_rng(3)
    age = rng.integers(18, 70, 3000)
    members = pd.DataFrame({"age": age, "churn": (rng.uniform(size=3000) < 0.6 - age / 150)})
    members["churn"] = members["churn"].astype(int)

    table = _adjusted(members, ALONE, C=1e6)
    crude = marginal(members, "age", contrast(members, ALONE, "age"), "churn")

    age_row = table.loc["age"]
    assert age_row["adjusted_for"] == ""
    for end in ("ratio", "low", "high"):
        assert age_row[f"adjusted_{end}"] == pytest.approx(crude[f"marginal_{end}"], rel=1e-4)


def test_every_member_is_used_when_they_fit_so_the_seed_is_irrelevant() -> None:
    members = _confounded(offer_effect=0.5, per_stratum=200)

    first = _adjusted(members, seed=3)
    other = _adjusted(members, seed=4)

    pd.testing.assert_frame_equal(first, other)


def test_a_sample_is_seeded_and_its_interval_ends_are_stable_across_seeds() -> None:
    # 40,000 members, a 36,000 sample: the interval ends move with the sample, by under 2%
    members = _confounded(offer_effect=0.5, per_stratum=20_000)
    runs = [_adjusted(members, max_rows=36_000, seed=s).loc["offer"] for s in (1, 2, 3)]

    pd.testing.assert_series_equal(runs[0], _adjusted(members, max_rows=36_000, seed=1).loc[
        "offer"])  # fmt: skip
    assert runs[0]["adjusted_low"] != runs[1]["adjusted_low"]  # the sample is used
    for end in ("adjusted_low", "adjusted_high"):
        values = np.array([r[end] for r in runs], dtype=float)
        assert values.max() / values.min() - 1 < 0.02, (end, values)


def test_a_flagged_column_is_not_estimated_and_adjusts_nothing(confounded) -> None:
    members, _ = confounded

    table = _adjusted(members, flagged=["local"])

    assert table.loc["local", "status"] == FLAGGED
    assert np.isnan(table.loc["local", "adjusted_ratio"])
    assert table.loc["offer", "adjusted_for"] == ""
    assert "local" not in table.loc["visits", "adjusted_for"]


class _Unfinished(LogisticRegression):
    """A fit that stops short of its tolerance."""

    def fit(self, X, y):
        warnings.warn("stopped early", ConvergenceWarning, stacklevel=2)
        return super().fit(X, y)


def test_an_unconverged_fit_gives_no_number(confounded, monkeypatch) -> None:
    members, _ = confounded
    monkeypatch.setattr(drivers_module, "LogisticRegression", _Unfinished)

    table = _adjusted(members)

    assert (table["status"] == UNCONVERGED).all()
    assert table["adjusted_ratio"].isna().all()


# ---------------------------------------------------------------- levers as a family


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),  # 3 x 0.01; 2 x 0.03; max(0.06, 1 x 0.04)
        ([0.5], [0.5]),
        ([0.2, 0.3, 0.9, 0.01], [0.6, 0.6, 0.9, 0.04]),
        ([0.6, 0.7], [1.0, 1.0]),  # capped at 1
    ],
)
def test_holm_by_hand(p, expected) -> None:
    assert holm(np.array(p)) == pytest.approx(expected)


def _judged(rows: list[tuple[str, float, float]], alpha: float = 0.05) -> pd.DataFrame:
    """(feature, ratio, se) rows of the confounded contract, judged."""
    from scipy import stats

    table = pd.DataFrame(rows, columns=["feature", "adjusted_ratio", "se"])
    table["p_value"] = 2 * stats.norm.sf(np.abs(np.log(table["adjusted_ratio"])) / table["se"])
    return judge_levers(table, LEVERS, alpha).set_index("feature")


LEVERS = parse_contract(
    {
        "target": {"column": "churn", "positive": [1], "negative": [0]},
        "features": {
            name: {"kind": "binary", "values": [0, 1], "role": role}
            for name, role in (
                ("a", "lever"),
                ("b", "lever"),
                ("c", "lever"),
                ("d", "lever"),
                ("e", "attribute"),
            )
        },
    },
    source="levers.yaml",
)


def test_only_levers_surviving_holm_have_evidence() -> None:
    # z = log(ratio) / se: a 4.0 (p 6e-5), b 2.2 (p 0.028: under 0.05, not under 0.05/3),
    # c no association, d not estimated, e an attribute
    table = _judged([("a", np.exp(0.4), 0.1), ("b", np.exp(0.22), 0.1), ("c", 1.0, 0.1),
                     ("d", np.nan, np.nan), ("e", np.exp(0.5), 0.1)])  # fmt: skip

    assert table["lever_evidence"].to_dict() == {
        "a": True, "b": False, "c": False, "d": False, "e": False
    }  # fmt: skip
    assert table.loc["a", "p_holm"] == pytest.approx(3 * table.loc["a", "p_value"])
    assert table.loc[["d", "e"], ["p_holm", "familywise_low"]].isna().all().all()


def test_family_wise_intervals_are_bonferronis() -> None:
    table = _judged([("a", 2.0, 0.1), ("b", 1.5, 0.2)], alpha=0.05)

    # two levers tested: 97.5% intervals, z = 2.2414
    a = table.loc["a"]
    assert a["familywise_low"] == pytest.approx(2.0 * np.exp(-2.241403 * 0.1), rel=1e-6)
    assert a["familywise_high"] == pytest.approx(2.0 * np.exp(2.241403 * 0.1), rel=1e-6)


# ---------------------------------------------------------------- the drivers table


@pytest.fixture(scope="module")
def other_table(other_contract) -> pd.DataFrame:
    checked = check_export(make_other(150, seed=2), other_contract, source="o.csv").members
    members = add_features(checked, other_contract)
    return drivers_table(members, other_contract, flagged=["calls"], alpha=0.05, **SETTINGS)


def test_drivers_table_leads_with_the_ratio_columns(other_contract, other_table) -> None:
    assert list(other_table.columns) == COLUMNS
    assert list(other_table.columns[: len(DRIVER_COLUMNS)]) == DRIVER_COLUMNS
    assert other_table["feature"].tolist() == other_contract.raw_features


def test_drivers_table_on_another_contract(other_contract, other_table) -> None:
    rows = other_table.set_index("feature")

    assert rows.loc["plan", "compared"].endswith("(riskiest vs safest)")
    assert rows.loc["plan", "role"] == "lever"
    assert rows.loc["senior", "label"] == "seniors"
    assert rows.loc["senior", "compared"] == "without vs with"
    # fee has gaps: compared on the known values, imputed as an adjuster
    assert rows.loc["fee", "n_low"] + rows.loc["fee", "n_high"] < 150
    estimated = rows[rows["status"] == ESTIMATED]
    assert {"plan", "senior", "fee"} <= set(estimated.index)
    assert np.isfinite(estimated[DRIVER_COLUMNS[1:7]].to_numpy(dtype=float)).all()
    # 9 vs 11 members of two regions spread over ten tenure deciles: too thin to adjust
    assert rows.loc["region", "status"] == "not estimated: cannot be separated from tenure_months"
    apart = rows[rows["separated_from"] != ""]
    for col, row in apart.iterrows():
        assert row["separated_from"] in row["adjusted_for"].split(" + "), col
        assert np.isnan(row["adjusted_ratio"]), col
    # the flagged behaviour: no ratio in either column, adjusts nothing
    assert rows.loc["calls", "status"] == FLAGGED
    assert rows.loc["calls", DRIVER_COLUMNS[1:7]].isna().all()
    assert not rows["adjusted_for"].str.contains("calls").any()
    # fee and tenure_months make fee_per_month: tied, not adjusted for one another
    assert "fee" not in rows.loc["tenure_months", "adjusted_for"].split(" + ")
    assert rows.loc["tenure_months", ["not_adjusted_for", "tied_by"]].tolist() == [
        "fee", "fee_per_month"
    ]  # fmt: skip
    # the only lever is the whole family
    assert rows.loc["plan", "p_holm"] == pytest.approx(rows.loc["plan", "p_value"])
    assert rows["p_holm"].notna().sum() == 1


def test_each_feature_names_its_reliance_group(other_contract, other_table) -> None:
    rows = other_table.set_index("feature")

    # fee, tenure_months and fee_per_month are one group: model reliance credits them together
    assert rows.loc["tenure_months", "reliance_group"] == "fee + tenure_months + fee_per_month"
    assert rows.loc["fee", "reliance_group"] == rows.loc["tenure_months", "reliance_group"]
    assert rows.loc["calls", "reliance_group"] == " + ".join(other_contract.groups["calls"])
    # the table depends on no model: nothing of a model's reliance is in it
    assert "reliance" not in rows.columns


# ---------------------------------------------------------------- written precision


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (4.129290751279127, 4.129),
        (4.1292907512791315, 4.129),  # another BLAS kernel's last bits: the same figure
        (17.663955, 17.66),
        (0.0033961784, 0.003396),
        (7.771518e-19, 7.772e-19),
        (1.000224, 1.0),
        (np.nan, np.nan),
        (np.inf, np.inf),
    ],
)
def test_figures_are_written_to_four_significant_digits(value, written) -> None:
    table = pd.DataFrame({"x": [value], "kept": [value]})

    out = significant(table, 4, ["x"])

    np.testing.assert_equal(out["x"].iloc[0], written)
    np.testing.assert_equal(out["kept"].iloc[0], value)  # only the columns named


def test_a_constant_column_is_not_compared_with_itself() -> None:
    # every member has the same visits: both quartile sides hold everyone
    members = _confounded(1.0).assign(visits=2.0)

    table = _adjusted(members)

    assert table.loc["visits", "status"] == ONE_SIDED
    assert table.loc["visits", ["adjusted_ratio", "adjusted_low", "adjusted_high"]].isna().all()
    assert table.loc["offer", "status"] == ESTIMATED


def test_an_all_blank_category_is_not_estimated_and_does_not_crash() -> None:
    contract = parse_contract(
        {
            "target": {"column": "churn", "positive": [1], "negative": [0]},
            "features": {
                "offer": {"kind": "binary", "values": [0, 1], "role": "lever"},
                "plan": {"kind": "categorical", "values": ["a", "b"], "missing": "keep",
                         "role": "attribute"},
            },
        },
        source="blank.yaml",
    )  # fmt: skip
    members = _confounded(1.0)[["offer", "churn"]].assign(plan=np.nan)

    table = _adjusted(members, contract)

    assert table.loc["plan", "status"] == ONE_SIDED
    assert contrast(members, contract, "plan").text == "no level to compare"
