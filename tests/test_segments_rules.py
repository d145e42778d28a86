"""Churn-supervised rule segments (gym_churn.segments.rules): which columns a rule may use, the
tree, its leaves as rules in the contract's words, and how much a segmentation tells about
churn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.spec import parse_contract
from gym_churn.segments.profiles import wilson
from gym_churn.segments.rules import fit_rule_tree, nmi_with_churn, rule_columns, rule_table

RULES_CONTRACT = parse_contract(
    {
        "target": {"column": "churn", "positive": [1], "negative": [0]},
        "features": {
            "plan": {"kind": "categorical", "values": ["basic", "plus", "premium"],
                     "role": "lever", "label": "plan"},
            "team": {"kind": "integer", "min": 0, "role": "attribute", "label": "team size",
                     "unit": "people", "unit_one": "person"},
            "promo": {"kind": "binary", "values": [0, 1], "role": "lever",
                      "label": "joined on promo"},
            "visits": {"kind": "numeric", "min": 0, "role": "behaviour", "label": "visits"},
        },
    },
    source="rules.yaml",
)  # fmt: skip
RULE_TABLE_COLUMNS = [
    "id", "leaf", "rule", "members", "churned", "share", "share_of_churners",
    "held_out_members", "held_out_churned", "churn_rate", "low", "high",
]  # fmt: skip


def _members(churn_rule, n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "premium"], n),
            "team": rng.integers(0, 6, n),
            "promo": rng.integers(0, 2, n),
            # what members do afterwards: it would explain churn perfectly, and is left out
            "visits": rng.uniform(0, 4, n),
        }
    )
    frame["churn"] = churn_rule(frame).astype(int)
    frame["visits"] += 5 * (1 - frame["churn"])
    return frame


def _rules(members: pd.DataFrame, max_leaves: int = 6, min_leaf_share: float = 0.02):
    tree = fit_rule_tree(
        members,
        RULES_CONTRACT,
        rule_columns(RULES_CONTRACT, []),
        max_leaves=max_leaves,
        min_leaf_share=min_leaf_share,
        seed=0,
    )
    return tree, rule_table(tree, members, RULES_CONTRACT)


# ---------------------------------------------------------------- columns


def test_rule_columns_leave_out_behaviour_and_flagged(gym_contract) -> None:
    columns = rule_columns(gym_contract, ["Age"])

    assert columns == [
        c for c in gym_contract.with_role("lever", "attribute", "tenure") if c != "Age"
    ]
    assert not set(columns) & set(gym_contract.with_role("behaviour"))
    assert "Lifetime" in columns  # tenure is known when a member is judged
    assert rule_columns(RULES_CONTRACT, []) == ["plan", "team", "promo"]


# ---------------------------------------------------------------- rules in words


def test_a_category_and_a_number_read_as_rules() -> None:
    members = _members(lambda f: (f["plan"] == "basic") & (f["team"] <= 1))

    _, table = _rules(members)

    assert list(table.columns) == RULE_TABLE_COLUMNS
    top = table.iloc[0]
    assert top["rule"] == "team size <= 1 person, plan basic"
    assert top["churn_rate"] == 1.0
    assert top["churned"] == members["churn"].sum()
    assert (table["churn_rate"].iloc[1:] == 0).all()
    text = " | ".join(table["rule"])
    assert "visits" not in text
    assert ".5" not in text  # whole numbers, not the tree's cut points
    assert "team size >= 2 people" in text or "plan not basic" in text


def test_a_flag_reads_as_its_label_or_not() -> None:
    members = _members(lambda f: (f["promo"] == 0) & (f["team"] >= 2))

    _, table = _rules(members)

    assert table.loc[0, "rule"] == "team size >= 2 people, not joined on promo"
    assert table.loc[0, "churn_rate"] == 1.0
    assert any(rule.endswith(", joined on promo") or rule == "joined on promo"
               for rule in table["rule"])  # fmt: skip


def test_an_integer_range_reads_as_from_to() -> None:
    members = _members(lambda f: f["team"].between(2, 3))

    _, table = _rules(members)

    assert table.loc[0, "rule"] == "team size 2 to 3 people"
    assert set(table["rule"]) == {
        "team size 2 to 3 people",
        "team size <= 1 person",  # unit_one after exactly 1
        "team size >= 4 people",
    }


def test_a_single_integer_value_reads_as_that_value() -> None:
    members = _members(lambda f: f["team"] == 2)

    _, table = _rules(members)

    assert table.loc[0, "rule"] == "team size 2 people"


def test_no_split_reads_as_everyone() -> None:
    members = _members(lambda f: f["team"] >= 0)  # everyone churned: nothing to split

    _, table = _rules(members)

    assert table["rule"].tolist() == ["everyone"]
    assert table.loc[0, "members"] == len(members)


def test_number_coded_category_levels_read_as_declared() -> None:
    # a category coded 1/2/3, read back from a CSV with a gap: the cells are 1.0, 2.0, NaN
    contract = parse_contract(
        {
            "target": {"column": "churn", "positive": [1], "negative": [0]},
            "features": {
                "region": {"kind": "categorical", "values": [1, 2, 3], "missing": "keep",
                           "label": "region"},
                "team": {"kind": "integer", "min": 0, "label": "team size"},
            },
        },
        source="coded.yaml",
    )  # fmt: skip
    rng = np.random.default_rng(0)
    region = rng.choice([1.0, 2.0, 3.0], 300)
    region[::10] = np.nan
    members = pd.DataFrame({"region": region, "team": rng.integers(0, 6, 300)})
    members["churn"] = ((members["region"] == 1) & (members["team"] <= 1)).astype(int)

    tree = fit_rule_tree(
        members, contract, ["region", "team"], max_leaves=6, min_leaf_share=0.02, seed=0
    )
    text = " | ".join(rule_table(tree, members, contract)["rule"])

    assert "region 1" in text
    assert "1.0" not in text  # the level is '1', as declared


# ---------------------------------------------------------------- the table


@pytest.fixture(scope="module")
def noisy() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Churn from plan, team size and the promo flag, with noise."""
    rng = np.random.default_rng(5)
    members = _members(
        lambda f: (
            rng.uniform(size=len(f))
            < 0.1 + 0.5 * (f["plan"] == "basic") + 0.3 * (f["team"] <= 2) - 0.05 * f["promo"]
        ),
        n=600,
        seed=5,
    )
    return members, _rules(members)[1]


def test_leaves_partition_the_members(noisy) -> None:
    members, table = noisy

    assert table["members"].sum() == len(members)
    assert table["churned"].sum() == members["churn"].sum()
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["share_of_churners"].sum() == pytest.approx(1.0)
    assert table["leaf"].is_unique


def test_rules_are_sorted_riskiest_first_with_ids(noisy) -> None:
    _, table = noisy

    assert 2 <= len(table) <= 6
    assert table["churn_rate"].is_monotonic_decreasing
    assert table["id"].tolist() == list(range(1, len(table) + 1))


def test_each_rate_has_its_wilson_ci(noisy) -> None:
    _, table = noisy

    for row in table.itertuples():
        assert row.churn_rate == pytest.approx(row.held_out_churned / row.held_out_members)
        assert (row.low, row.high) == pytest.approx(
            wilson(row.held_out_churned, row.held_out_members)
        )
        assert row.low <= row.churn_rate <= row.high


def test_the_smallest_leaf_holds_the_minimum_share(noisy) -> None:
    members, _ = noisy

    _, table = _rules(members, max_leaves=8, min_leaf_share=0.15)

    assert table["members"].min() >= 0.15 * len(members)
    assert len(table) <= 6  # no more than 1 / 0.15 leaves fit


def test_the_table_on_other_members_uses_the_trained_rules(noisy) -> None:
    members, table = noisy
    tree, _ = _rules(members)
    other = _members(lambda f: f["plan"] == "basic", n=200, seed=9)

    on_other = rule_table(tree, other, RULES_CONTRACT)

    assert set(on_other["rule"]) == set(table["rule"])
    assert on_other["members"].sum() == 200
    assert set(np.unique(tree.leaves(other))) <= set(on_other["leaf"])


# ---------------------------------------------------------------- information about churn


def test_nmi_is_zero_for_labels_independent_of_churn() -> None:
    churn = np.tile([0, 0, 1, 1], 50)
    labels = np.tile([0, 1, 0, 1], 50)  # exactly independent of churn

    assert nmi_with_churn(labels, churn) == pytest.approx(0.0, abs=1e-12)
    random = np.random.default_rng(0).integers(0, 4, 2000)
    churn_big = np.random.default_rng(1).integers(0, 2, 2000)
    assert nmi_with_churn(random, churn_big) < 0.01


def test_nmi_is_one_for_churn_itself_under_any_names() -> None:
    churn = np.array([0, 1, 1, 0, 1, 0, 0, 0])

    assert nmi_with_churn(churn, churn) == pytest.approx(1.0)
    assert nmi_with_churn(np.where(churn == 1, 7, 3), churn) == pytest.approx(1.0)
    assert 0 < nmi_with_churn(np.array([0, 1, 1, 0, 1, 0, 0, 1]), churn) < 1


# ---------------------------------------------------------------- rates on members not seen


def test_rates_come_from_the_held_out_members_and_counts_from_all(noisy) -> None:
    members, _ = noisy
    train, test = members.iloc[:400], members.iloc[400:]
    tree = fit_rule_tree(train, RULES_CONTRACT, rule_columns(RULES_CONTRACT, []),
                         max_leaves=6, min_leaf_share=0.02, seed=0)  # fmt: skip

    table = rule_table(tree, members, RULES_CONTRACT, held_out=test)

    assert table["members"].sum() == len(members)
    assert table["held_out_members"].sum() == len(test)
    assert table["held_out_churned"].sum() == test["churn"].sum()
    leaves = tree.leaves(test)
    for row in table.itertuples():
        inside = leaves == row.leaf
        assert row.held_out_members == inside.sum()
        assert row.churn_rate == pytest.approx(test["churn"].to_numpy()[inside].mean())
    # the rate on the members that grew the tree is another number
    on_train = rule_table(tree, members, RULES_CONTRACT, held_out=train)
    assert not np.allclose(on_train["churn_rate"], table["churn_rate"])


def test_a_short_menu_of_numbers_reads_as_the_values_that_occur() -> None:
    # contracts come as 1, 6 or 12 months: a cut at 3.5 means "1 month", not "<= 3 months"
    contract = parse_contract(
        {
            "target": {"column": "churn", "positive": [1], "negative": [0]},
            "features": {
                "months": {"kind": "integer", "values": [1, 6, 12], "role": "lever",
                           "label": "contract length", "unit": "months", "unit_one": "month"},
            },
        },
        source="menu.yaml",
    )  # fmt: skip
    rng = np.random.default_rng(1)
    members = pd.DataFrame({"months": rng.choice([1, 6, 12], 300)})
    members["churn"] = (members["months"] == 1).astype(int)
    tree = fit_rule_tree(members, contract, ["months"], max_leaves=3, min_leaf_share=0.02, seed=0)

    rules = set(rule_table(tree, members, contract)["rule"])

    assert rules == {"contract length 1 month", "contract length 6 or 12 months"}
