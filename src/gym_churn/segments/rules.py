"""Segments supervised by churn: a shallow decision tree on levers, attributes and tenure, read
as rules a marketer can use. Pure functions.

The tree leaves out behaviour (what members do after joining, which a retention team sees
only once it happens) and any column the audit flagged as looking like the label. It is fit
on the training split; each rule's churn rate, and how much the rules tell about churn, are
measured on the test split (members the tree did not see): rates on the members that grew a
leaf are biased towards the split that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import normalized_mutual_info_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from gym_churn.contract.spec import Contract
from gym_churn.features import model_inputs
from gym_churn.segments.profiles import wilson

ONE_HOT_SEP = "="


def rule_columns(contract: Contract, flagged: list[str]) -> list[str]:
    """Levers, attributes and tenure, without the flagged columns."""
    return [c for c in contract.with_role("lever", "attribute", "tenure") if c not in flagged]


@dataclass(frozen=True)
class RuleTree:
    pipeline: Pipeline
    names: list[str]  # encoded column names the tree splits on
    contract: Contract

    def inputs(self, members: pd.DataFrame) -> pd.DataFrame:
        """The tree's columns, category levels as the text they are declared with (a level
        coded 1 and read back from CSV with a gap is 1.0 in the file)."""
        columns = list(self.pipeline[0].feature_names_in_)
        return model_inputs(members, self.contract)[columns]

    def leaves(self, members: pd.DataFrame) -> np.ndarray:
        X = self.pipeline[:-1].transform(self.inputs(members))
        return self.pipeline[-1].apply(X)


def fit_rule_tree(
    train: pd.DataFrame,
    contract: Contract,
    columns: list[str],
    *,
    max_leaves: int,
    min_leaf_share: float,
    seed: int,
) -> RuleTree:
    """A tree of at most `max_leaves` leaves, each holding at least `min_leaf_share` of the
    training members."""
    cats = [c for c in columns if contract.kind(c) == "categorical"]
    numbers = [c for c in columns if c not in cats]
    parts: list[tuple[str, Any, list[str]]] = [
        ("numbers", SimpleImputer(strategy="median"), numbers)
    ]
    if cats:
        levels = [contract.features[c].levels for c in cats]
        onehot = OneHotEncoder(
            categories=levels,
            handle_unknown="ignore",
            sparse_output=False,
            feature_name_combiner=lambda f, v: f"{f}{ONE_HOT_SEP}{v}",
        )
        parts.append(("categories", onehot, cats))
    encode = ColumnTransformer(parts, verbose_feature_names_out=False)
    tree = DecisionTreeClassifier(
        max_leaf_nodes=max_leaves,
        min_samples_leaf=max(1, int(np.ceil(min_leaf_share * len(train)))),
        random_state=seed,
    )
    pipeline = Pipeline([("encode", encode), ("tree", tree)])
    pipeline.fit(model_inputs(train, contract)[columns], train[contract.target.column])
    return RuleTree(pipeline, list(encode.get_feature_names_out()), contract)


def _bounds(rule: RuleTree) -> dict[int, dict[str, list[float]]]:
    """Leaf id -> encoded column -> [lower (exclusive), upper (inclusive)] on its path."""
    tree = rule.pipeline[-1].tree_
    out: dict[int, dict[str, list[float]]] = {}

    def walk(node: int, bounds: dict[str, list[float]]) -> None:
        if tree.children_left[node] == -1:
            out[node] = bounds
            return
        name, cut = rule.names[tree.feature[node]], float(tree.threshold[node])
        low, high = bounds.get(name, [-np.inf, np.inf])
        walk(tree.children_left[node], {**bounds, name: [low, min(high, cut)]})
        walk(tree.children_right[node], {**bounds, name: [max(low, cut), high]})

    walk(0, {})
    return out


def _menu(values: list[float], unit: Any) -> str:
    """Declared values inside a rule's bounds: '1 month', '6 or 12 months'."""
    text = [f"{v:g}" for v in values]
    joined = text[0] if len(text) == 1 else f"{', '.join(text[:-1])} or {text[-1]}"
    after = unit(values[-1]) if len(values) == 1 else unit(2.0)
    return f"{joined}{f' {after}' if after else ''}"


def _condition(name: str, low: float, high: float, contract: Contract) -> str:
    if ONE_HOT_SEP in name and name not in contract.features:
        col, level = name.split(ONE_HOT_SEP, 1)
        label = contract.words(col).label
        return f"{label} {level}" if low >= 0.5 else f"{label} not {level}"
    words = contract.words(name)
    if contract.kind(name) == "binary":
        return str(words.label) if low >= 0.5 else f"not {words.label}"
    whole = contract.kind(name) == "integer"
    declared = contract.features[name].allowed
    if whole and declared:
        # a short menu (contracts of 1, 6 or 12 months): name the values that occur within
        # the bounds, not the tree's cut ("<= 3 months" means "1 month")
        inside = sorted(float(v) for v in declared if low < float(v) <= high)
        if inside:
            return f"{words.label} {_menu(inside, words.unit_for)}"

    def show(v: float, above: bool) -> str:
        if whole:  # x > 1.5 is x >= 2; x <= 1.5 is x <= 1
            return f">= {int(np.floor(v)) + 1}" if above else f"<= {int(np.floor(v))}"
        return f"> {v:.3g}" if above else f"<= {v:.3g}"

    def unit(number: str) -> str:  # "1 month", "2 months"
        after = words.unit_for(float(number))
        return f" {after}" if after else ""

    if np.isfinite(low) and np.isfinite(high):
        lo, hi = (show(low, True).split()[1], show(high, False).split()[1]) if whole else (
            f"{low:.3g}", f"{high:.3g}")  # fmt: skip
        if lo == hi:
            return f"{words.label} {lo}{unit(lo)}"
        return f"{words.label} {lo} to {hi}{unit(hi)}"
    bound = show(low, True) if np.isfinite(low) else show(high, False)
    return f"{words.label} {bound}{unit(bound.split()[1])}"


def rule_table(
    rule: RuleTree,
    members: pd.DataFrame,
    contract: Contract,
    held_out: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per leaf, riskiest first: id (1 = riskiest), rule in words; who is in it among
    `members` (members, churned, share of all members and of all churners); and its churn
    rate with a Wilson 95% CI on `held_out` (held_out_members, held_out_churned, churn_rate,
    low, high), members the tree was not fit on. Without `held_out` the rate is on `members`."""
    target = contract.target.column
    leaves = rule.leaves(members)
    y = members[target].to_numpy()
    rated = members if held_out is None else held_out
    rated_leaves = leaves if held_out is None else rule.leaves(held_out)
    rated_y = rated[target].to_numpy()
    bounds = _bounds(rule)
    rows = []
    for leaf, conditions in bounds.items():
        inside, rated_inside = leaves == leaf, rated_leaves == leaf
        n, churned = int(inside.sum()), int(y[inside].sum())
        m, m_churned = int(rated_inside.sum()), int(rated_y[rated_inside].sum())
        low, high = wilson(m_churned, m)
        text = ", ".join(
            _condition(name, lo, hi, contract)
            for name, (lo, hi) in sorted(conditions.items(), key=lambda kv: rule.names.index(kv[0]))
        )
        rows.append(
            {"leaf": leaf, "rule": text or "everyone", "members": n, "churned": churned,
             "share": n / len(y), "share_of_churners": churned / max(int(y.sum()), 1),
             "held_out_members": m, "held_out_churned": m_churned,
             "churn_rate": m_churned / m if m else np.nan, "low": low, "high": high}
        )  # fmt: skip
    table = pd.DataFrame(rows).sort_values("churn_rate", ascending=False, ignore_index=True)
    table.insert(0, "id", range(1, len(table) + 1))
    return table


def nmi_with_churn(labels: np.ndarray, churn: np.ndarray) -> float:
    """Normalised mutual information between a segmentation and churn (0 = none, 1 = all)."""
    return float(normalized_mutual_info_score(churn, labels))
