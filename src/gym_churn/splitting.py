"""Stratified train/test split of the members. Pure functions.

pandas samples the same share of every target class (`groupby(...).sample`), which keeps the
split stage free of scikit-learn: importing it costs 0.5 s, about all of the stage's time on
the bundled export.
"""

from __future__ import annotations

import pandas as pd

from gym_churn.errors import DataValidationError


def stratified_split(
    members: pd.DataFrame, target: str, test_size: float, seed: int, *, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`test_size` of each class of `target` (rounded per class) held out at random, seeded.

    Both parts keep the members' order and every column. A class too small to have members on
    both sides is refused, naming `source` (the file): a model cannot learn or be tested on it.
    """
    test = members.groupby(target, group_keys=False).sample(frac=test_size, random_state=seed)
    train = members.drop(index=test.index)
    counts = pd.DataFrame(
        {
            "train": train[target].value_counts(),
            "test": test[target].value_counts(),
        }
    ).fillna(0)
    empty = counts[(counts == 0).any(axis=1)]
    if not empty.empty:
        sizes = ", ".join(
            f"{cls!r}: {int(row.train)} train, {int(row.test)} test"
            for cls, row in empty.iterrows()
        )
        raise DataValidationError(
            f"{source}: {target}: test_size {test_size} leaves a class without members on one side "
            f"({sizes}); each class needs members in both splits"
        )
    return train, test.sort_index()
