"""How the reasons compare with Shapley values computed another way, on the bundled test
split's at-risk members (the committed model bundle, models/).

    python bench/reasons_agreement.py [--background 50] [--members 0]

Two references, both exact:
- shap's TreeExplainer (tree path dependent, the game the reasons solve), per column, summed
  into the contract's groups like the reasons: checks the implementation on real data;
- interventional Shapley values over the groups, by enumerating every coalition against a
  seeded sample of training members (a different game: a group outside the coalition takes a
  training member's values). This says how much the ranking depends on the game chosen.

For each: top-1 agreement (the same first reason), the same top-3 set, and the largest
difference in percentage points. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]


def _agreement(ours: np.ndarray, theirs: np.ndarray) -> dict:
    top = np.argsort(-np.abs(ours), axis=1, kind="stable")
    ref = np.argsort(-np.abs(theirs), axis=1, kind="stable")
    return {
        "top1_agreement": float(np.mean(top[:, 0] == ref[:, 0])),
        "top3_same_set": float(
            np.mean([set(a[:3]) == set(b[:3]) for a, b in zip(top, ref, strict=True)])
        ),
        "max_abs_difference_points": float(np.max(np.abs(ours - theirs))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--background", type=int, default=50)
    parser.add_argument("--members", type=int, default=0, help="at most this many (0: all)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    import shap

    from gym_churn.io import read_table
    from gym_churn.models.predict import inputs, predict
    from gym_churn.scoring.load import load_scorer
    from gym_churn.scoring.shapley import (
        _exact_points,
        columns_of_outputs,
        contributions,
        group_matrix,
        to_points,
    )

    scorer = load_scorer(str(PROJECT / "models"))
    contract, model = scorer.contract, scorer.model
    test = read_table(PROJECT / "data/split/test.csv")
    train = read_table(PROJECT / "data/split/train.csv")
    proba = predict(model, contract, test)
    risky = test[proba >= scorer.threshold]
    if args.members:
        risky = risky.head(args.members)
    X = inputs(risky, contract)
    ours = contributions(model, contract, X, inputs(scorer.background, contract))

    # shap, per encoded column, grouped the same way
    encoded = np.asarray(model[:-1].transform(X), dtype=float)
    explainer = shap.TreeExplainer(model[-1], feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(encoded, check_additivity=False)
    keys, membership = group_matrix(list(X.columns), contract)
    owners = columns_of_outputs(model[:-1], list(X.columns))
    to_groups = np.stack([membership[list(X.columns).index(c)] for c in owners])
    base = float(np.ravel(explainer.expected_value)[0])
    shap_points = to_points(values @ to_groups, base)

    # interventional, every coalition of groups against training members
    background = inputs(train.sample(args.background, random_state=args.seed), contract)
    exact, _ = _exact_points(model, X, background, keys, membership)

    result = {
        "at_risk_test_members": len(risky),
        "groups": len(keys),
        "method": ours.method,
        "vs_shap_tree_explainer": _agreement(ours.points, shap_points),
        "vs_interventional_enumeration": {
            **_agreement(ours.points, exact),
            "background_members": args.background,
        },
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
