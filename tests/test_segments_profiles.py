"""Who churns, segment profiles, generated portraits and declared findings
(gym_churn.segments.profiles), on fixtures with known answers, for the gym contract and for
another business's contract (text categories, no words, no findings)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.features import add_features
from gym_churn.segments import profiles as prof
from tests.conftest import OTHER_CONTRACT, make_members, make_other

Z = 1.959963984540054  # the 97.5% normal quantile
PLANS = ["basic", "plus", "premium"]
REGIONS = [f"r{i:02d}" for i in range(12)]
# words only the gym contract (or the gym template this project came from) would use
GYM_WORDS = ("partner", "visit", "gym", "club", "contract", "class", "lifetime", "friend")


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    centre = (k + Z**2 / 2) / (n + Z**2)
    half = Z * math.sqrt(n) / (n + Z**2) * math.sqrt(k / n * (1 - k / n) + Z**2 / (4 * n))
    return centre - half, centre + half


def _processed(raw: pd.DataFrame, contract) -> pd.DataFrame:
    return add_features(check_export(raw, contract, source="export.csv").members, contract)


@pytest.fixture
def gym_members(gym_contract) -> pd.DataFrame:
    """200 gym members; segment 1 (the first 50) = newcomers on monthly contracts, who all
    churn, and nobody else does. The segment id is in `_seg`."""
    frame = make_members(200, seed=0)
    seg = np.zeros(len(frame), dtype=int)
    seg[:50] = 1
    frame.loc[:49, ["Contract_period", "Month_to_end_contract", "Lifetime"]] = [1, 1, 0]
    frame["Churn"] = seg
    return add_features(frame, gym_contract).assign(_seg=seg)


@pytest.fixture
def other_members(other_contract) -> pd.DataFrame:
    """90 members of the other export; segment 1 (the first 30) are in region r03 and call 9
    times; nobody else is in r03. The segment id is in `_seg`."""
    frame = _processed(make_other(90, seed=1), other_contract)
    seg = np.zeros(len(frame), dtype=int)
    seg[:30] = 1
    rest = frame.loc[30:, "region"].replace("r03", "r04")
    frame["region"] = ["r03"] * 30 + rest.tolist()
    frame.loc[:29, "calls"] = 9
    return frame.assign(_seg=seg)


# ---------------------------------------------------------------- intervals


@pytest.mark.parametrize(("k", "n"), [(3, 10), (1, 4), (40, 50), (7, 7)])
def test_wilson_matches_the_formula_and_contains_the_rate(k: int, n: int) -> None:
    low, high = prof.wilson(k, n)

    assert (low, high) == pytest.approx(_wilson_by_hand(k, n))
    assert low <= k / n <= high


@pytest.mark.parametrize(
    ("k", "n"),
    [(0, 1), (0, 9), (1, 1), (3, 10), (17, 4000), (3999, 4000), (123, 1_000_000), (250, 251)],
)
def test_wilson_is_scipys_bit_for_bit(k: int, n: int) -> None:
    # the hand-written interval saves the stages scipy.stats's import; it must not move a digit
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")

    assert prof.wilson(k, n) == (float(ci.low), float(ci.high))
    assert float(stats.norm.ppf(0.975)) == prof.Z95


def test_wilson_of_nothing_is_nan() -> None:
    assert all(math.isnan(v) for v in prof.wilson(0, 0))


def test_rate_ratio_hand_example() -> None:
    # 20 of 50 vs 10 of 50: ratio 2; Katz: se = sqrt(1/20 - 1/50 + 1/10 - 1/50) = sqrt(0.11)
    ratio, low, high = prof.rate_ratio(20, 50, 10, 50)

    se = math.sqrt(0.11)
    assert ratio == pytest.approx(2.0)
    assert low == pytest.approx(2.0 * math.exp(-Z * se))
    assert high == pytest.approx(2.0 * math.exp(Z * se))
    assert low < ratio < high


@pytest.mark.parametrize("counts", [(0, 10, 3, 10), (3, 10, 0, 10), (1, 0, 1, 5)])
def test_rate_ratio_undefined_is_nan(counts) -> None:
    assert all(math.isnan(v) for v in prof.rate_ratio(*counts))


# ---------------------------------------------------------------- who churns


def test_integer_menu_levels_give_shares_and_churn_with_cis(gym_contract, gym_members) -> None:
    levels = prof.churn_by_level(gym_members, "Contract_period", "Churn")

    counts = gym_members["Contract_period"].value_counts()
    assert [lv["level"] for lv in levels] == [1, 6, 12]
    assert [lv["n"] for lv in levels] == [counts[1], counts[6], counts[12]]
    assert sum(lv["share"] for lv in levels) == pytest.approx(1.0)
    assert levels[0]["share"] == pytest.approx(counts[1] / len(gym_members))
    assert levels[1]["churn_rate"] == levels[2]["churn_rate"] == 0.0  # only monthly churn
    for lv in levels:
        assert lv["low"] <= lv["churn_rate"] <= lv["high"]
        assert (lv["low"], lv["high"]) == pytest.approx(_wilson_by_hand(lv["churned"], lv["n"]))


def test_category_levels_give_shares_and_churn(other_contract, other_members) -> None:
    assert prof.level_view(other_contract, "plan")
    levels = prof.churn_by_level(other_members, "plan", "left")
    assert [lv["level"] for lv in levels] == sorted(other_members["plan"].unique())
    for lv in levels:
        rows = other_members["plan"] == lv["level"]
        assert lv["n"] == rows.sum()
        assert lv["share"] == pytest.approx(rows.mean())
        assert lv["churn_rate"] == pytest.approx(other_members.loc[rows, "left"].mean())
        assert lv["low"] <= lv["churn_rate"] <= lv["high"]


def test_a_gap_in_a_category_is_its_own_level() -> None:
    members = pd.DataFrame({"plan": ["basic", None, "plus", None], "left": [1, 0, 0, 0]})

    levels = prof.churn_by_level(members, "plan", "left")

    assert [(lv["level"], lv["n"], lv["share"]) for lv in levels] == [
        ("basic", 1, 0.25), ("missing", 2, 0.5), ("plus", 1, 0.25),
    ]  # fmt: skip


# ---------------------------------------------------------------- profiles


def test_profile_matrix_has_a_share_column_per_category_level(other_contract) -> None:
    members = _processed(make_other(6, seed=2), other_contract)
    members.loc[0, "region"] = None

    matrix = prof.profile_matrix(members, other_contract)

    assert list(matrix.columns) == [
        *(f"plan: {p}" for p in PLANS), *(f"region: {r}" for r in REGIONS),
        "senior", "fee", "tenure_months", "calls", "fee_per_month",
    ]  # fmt: skip
    for plan in PLANS:
        np.testing.assert_array_equal(matrix[f"plan: {plan}"], members["plan"].eq(plan))
    region = matrix[[f"region: {r}" for r in REGIONS]]
    assert region.iloc[0].sum() == 0  # a gap is no level
    assert (region.iloc[1:].sum(axis=1) == 1).all()
    assert matrix["fee"].isna().sum() == members["fee"].isna().sum()
    assert prof.parent_column("region: r03", other_contract) == ("region", "r03")
    assert prof.parent_column("fee_per_month", other_contract) == ("fee_per_month", None)
    # the figures name them in the contract's words (a column without words: its name)
    assert prof.column_label("senior", other_contract) == "seniors"
    assert prof.column_label("plan: premium", other_contract) == "plan: premium"
    assert prof.column_label("fee", other_contract) == "fee"


def test_segment_profiles(gym_contract, gym_members) -> None:
    labels = gym_members.pop("_seg").to_numpy()
    matrix = prof.profile_matrix(gym_members, gym_contract)

    profiles = prof.segment_profiles(matrix, labels, gym_members["Churn"])

    assert profiles["segment"].tolist() == [0, 1]
    assert profiles["size"].tolist() == [150, 50]
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["churn_rate"].tolist() == [0.0, 1.0]
    assert profiles["churn_low"].tolist() == pytest.approx([0.0, _wilson_by_hand(50, 50)[0]])
    assert profiles["churn_high"].tolist() == pytest.approx([_wilson_by_hand(0, 150)[1], 1.0])
    assert profiles.loc[1, "Lifetime"] == 0
    assert profiles.loc[1, "Contract_period"] == 1
    assert set(matrix.columns) <= set(profiles.columns)


def test_standardised_differences_zero_for_whole_base(gym_contract, gym_members) -> None:
    gym_members.pop("_seg")
    matrix = prof.profile_matrix(gym_members, gym_contract)
    one = prof.segment_profiles(matrix, np.zeros(len(matrix), dtype=int), gym_members["Churn"])

    z = prof.standardised_differences(one, matrix, ["Age", "Partner"])

    assert z.loc[0].tolist() == pytest.approx([0.0, 0.0])


def test_gym_portraits_are_generated_from_distinctive_traits_in_contract_words(
    gym_contract, gym_members
) -> None:
    labels = gym_members.pop("_seg").to_numpy()
    matrix = prof.profile_matrix(gym_members, gym_contract)
    profiles = prof.segment_profiles(matrix, labels, gym_members["Churn"])

    result = prof.portraits(profiles, matrix, gym_contract, n_traits=3)

    churner = result[1]
    top = [t["feature"] for t in churner["traits"]]
    assert len(top) == 3
    expected = {"Contract_period", "Month_to_end_contract", "Lifetime", "contract_months_used"}
    assert set(top[:2]) <= expected
    assert all(t["standardised_difference"] < 0 for t in churner["traits"][:2])
    # the two strongest traits name the segment, in the contract's words
    assert churner["name"] == "Newcomers, monthly contracts"
    low_words = {gym_contract.words(c).low.lower() for c in top[:2]}
    assert all(word in churner["name"].lower() for word in low_words)
    assert "contract length 1.0 months" in churner["portrait"]  # label and unit
    assert "100.0% churned" in churner["portrait"]  # the target's label
    assert "50 members" in churner["portrait"]
    assert len({p["name"] for p in result}) == len(result)
    assert (churner["size"], churner["churn_rate"]) == (50, 1.0)


def test_portraits_fall_back_to_column_names(other_contract, other_members) -> None:
    labels = other_members.pop("_seg").to_numpy()
    matrix = prof.profile_matrix(other_members, other_contract)
    profiles = prof.segment_profiles(matrix, labels, other_members["left"])

    result = prof.portraits(profiles, matrix, other_contract, n_traits=2)

    odd = result[1]
    # no words for region or calls in the contract: their names, with the level for a category
    assert odd["name"] == "Mostly region r03, high calls"
    assert "100% region r03 (base 33%)" in odd["portrait"]
    assert "calls 9.0 (base" in odd["portrait"]
    for portrait in result:
        text = f"{portrait['name']} {portrait['portrait']}".lower()
        assert not any(word in text for word in GYM_WORDS), text


def test_trait_words_and_phrases_for_a_category_level(other_contract) -> None:
    assert prof.trait_word("plan: basic", other_contract, high=True) == "mostly plan basic"
    assert prof.trait_word("plan: basic", other_contract, high=False) == "few plan basic"
    assert prof.trait_word("senior", other_contract, high=True) == "high seniors"
    assert prof.trait_phrase("senior", other_contract, 0.5, 0.25) == "50% seniors (base 25%)"
    assert prof.trait_phrase("fee", other_contract, 12.345, 10.0) == "fee 12.3 (base 10.0)"


# ---------------------------------------------------------------- declared findings


def test_gym_findings_are_computed_with_cis(gym_contract, gym_members) -> None:
    members = gym_members.drop(columns="_seg").assign(Partner=np.arange(200) % 3 == 0)
    members["Partner"] = members["Partner"].astype(int)

    found = prof.findings(members, gym_contract, resamples=50, seed=0)

    assert [f["claim"] for f in found] == [f.claim for f in gym_contract.findings]
    by_measure: dict[str, list] = {}
    for f in found:
        by_measure.setdefault(f["measure"], []).append(f)
        assert f["low"] <= f["value"] <= f["high"], f
    assert set(by_measure) == {"share", "churn_ratio", "relative_change", "median"}
    partner_share, age_band = by_measure["share"]
    assert partner_share["value"] == pytest.approx(members["Partner"].mean())
    assert partner_share["n"] == 200
    assert (partner_share["low"], partner_share["high"]) == pytest.approx(
        _wilson_by_hand(int(members["Partner"].sum()), 200)
    )
    assert age_band["value"] == pytest.approx(members["Age"].between(27, 31).mean())
    partner_ratio = by_measure["churn_ratio"][0]
    has = members["Partner"] == 1
    churn = members["Churn"]
    expected = prof.rate_ratio(
        int(churn[~has].sum()), int((~has).sum()), int(churn[has].sum()), int(has.sum())
    )
    assert (partner_ratio["value"], partner_ratio["low"], partner_ratio["high"]) == (
        pytest.approx(expected)
    )
    drop = by_measure["relative_change"][0]
    churners = members[churn == 1]
    assert drop["n"] == len(churners)  # among: positive
    assert drop["value"] == pytest.approx(
        churners["Avg_class_frequency_current_month"].mean()
        / churners["Avg_class_frequency_total"].mean()
        - 1
    )
    median = by_measure["median"][0]
    assert median["value"] == members["Age"].median()
    assert median["low"] < median["high"]


def test_findings_are_seeded(gym_contract, gym_members) -> None:
    members = gym_members.drop(columns="_seg")
    first = prof.findings(members, gym_contract, resamples=30, seed=1)
    again = prof.findings(members, gym_contract, resamples=30, seed=1)
    other = prof.findings(members, gym_contract, resamples=30, seed=2)
    assert first == again
    assert [f["value"] for f in first] == [f["value"] for f in other]
    assert first != other  # the bootstrap CIs depend on the seed


def test_no_findings_when_the_contract_declares_none(other_contract, other_members) -> None:
    assert other_contract.findings == []
    assert prof.findings(other_members, other_contract, resamples=100, seed=0) == []


def test_findings_declared_for_another_export(other_members) -> None:
    contract = parse_contract(
        {
            **OTHER_CONTRACT,
            "findings": [
                {"claim": "basic share", "measure": "share", "where": "plan == 'basic'"},
                {"claim": "seniors", "measure": "churn_ratio", "where": "senior == 1"},
                {"claim": "median fee", "measure": "median", "column": "fee"},
            ],
        },
        source="other.yaml",
    )
    members = other_members.drop(columns="_seg")

    share, ratio, median = prof.findings(members, contract, resamples=100, seed=0)

    assert share["value"] == pytest.approx((members["plan"] == "basic").mean())
    assert ratio["n"] == len(members)
    assert ratio["low"] <= ratio["value"] <= ratio["high"]
    # the median leaves the gaps out, and says how many members it is over
    assert median["n"] == members["fee"].notna().sum() < len(members)
    assert median["value"] == pytest.approx(members["fee"].median())


def test_profile_matrix_knows_numeric_levels_read_back_with_a_gap() -> None:
    contract = parse_contract(
        {
            "target": {"column": "Churn", "positive": [1], "negative": [0]},
            "features": {
                "store": {"kind": "categorical", "values": [1, 2], "missing": "keep"},
            },
        },
        source="stores.yaml",
    )
    # processed members as read back from CSV: the gap makes pandas read store as float
    members = pd.DataFrame({"store": [1.0, 2.0, np.nan, 1.0], "Churn": [0, 1, 0, 1]})

    matrix = prof.profile_matrix(members, contract)

    assert matrix["store: 1"].tolist() == [1.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("cells", [10**9, 50 * 7, 1])  # one block; blocks of 7; one at a time
def test_bootstrap_interval_is_the_one_resample_at_a_time_interval(monkeypatch, cells) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(1, 2, 50), "b": rng.uniform(1, 3, 50)})
    # the reference: one resample at a time, as pandas computes the statistic
    draws_rng = np.random.default_rng(3)
    draws = [
        (lambda d: d["b"].mean() / d["a"].mean() - 1)(frame.iloc[draws_rng.integers(0, 50, 50)])
        for _ in range(101)
    ]
    monkeypatch.setattr(prof, "BOOTSTRAP_CELLS", cells)

    low, high = prof._bootstrap_ci(
        frame.to_numpy(), lambda a, b: b.mean(axis=-1) / a.mean(axis=-1) - 1, 101, seed=3
    )

    assert (low, high) == tuple(np.nanpercentile(draws, [2.5, 97.5]))


@pytest.mark.parametrize("seed", [0, 1])
def test_above_the_bootstrap_cap_the_large_sample_intervals_match_the_bootstrap(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the order-statistic interval of a median and the delta-method interval of a relative
    # change are what the bootstrap converges to: on 20,000 rows they agree closely
    rng = np.random.default_rng(seed)
    n = 20_000
    a = rng.gamma(2.0, 1.0, n)
    b = a * rng.normal(0.9, 0.2, n)
    frame = pd.DataFrame({"a": a, "b": b, "Churn": rng.integers(0, 2, n)})
    contract = parse_contract(
        {
            "target": {"column": "Churn", "positive": [1], "negative": [0]},
            "features": {"a": {"kind": "numeric"}, "b": {"kind": "numeric"}},
            "findings": [
                {"claim": "median a", "measure": "median", "column": "a"},
                {"claim": "a to b", "measure": "relative_change", "from": "a", "to": "b"},
            ],
        },
        source="cap.yaml",
    )
    booted = prof.findings(frame, contract, resamples=400, seed=seed)
    with monkeypatch.context() as patch:
        patch.setattr(prof, "_bootstrap_ci", lambda *a, **k: pytest.fail("bootstrapped"))
        formula = prof.findings(frame, contract, resamples=400, seed=seed, bootstrap_max_rows=n - 1)
    for b_, f_ in zip(booted, formula, strict=True):
        assert f_["value"] == b_["value"]
        assert f_["low"] <= f_["value"] <= f_["high"]
        width = b_["high"] - b_["low"]
        assert f_["low"] == pytest.approx(b_["low"], abs=0.2 * width)
        assert f_["high"] == pytest.approx(b_["high"], abs=0.2 * width)
    # at or under the cap: the bootstrap, as before
    assert prof.findings(frame, contract, resamples=400, seed=seed, bootstrap_max_rows=n) == booted
