"""Train/test split of the members: stratified, or out of time when the export holds
several labelled snapshots; and the members whose outcome is not known yet set apart.
Pure functions.

pandas samples the same share of every target class (`groupby(...).sample`), which keeps the
split stage free of scikit-learn: importing it costs 0.5 s, about all of the stage's time on
the bundled export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
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


def split_unknown(members: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(labelled rows, rows to score): a blank target (`target.unknown: score`) marks a member
    whose outcome is not known yet. The labelled rows get a 0/1 integer target; the rows to
    score lose the target column. Both keep every other column and the members' order."""
    target = contract.target.column
    unknown = members[target].isna().to_numpy()
    if not unknown.any():  # the export as it was: nothing changes
        return members, members.iloc[:0].drop(columns=[target])
    labelled = members[~unknown].astype({target: "int64"}).reset_index(drop=True)
    return labelled, members[unknown].drop(columns=[target]).reset_index(drop=True)


def snapshots(values: pd.Series) -> list:
    """The distinct snapshots, earliest first (as their values sort: months written
    YYYY-MM, or numbers such as 202403)."""
    return sorted(pd.unique(values.dropna()))


def out_of_time_split(
    members: pd.DataFrame, snapshot: str, target: str, *, source: str, gap: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test = every row of the latest snapshot, train = every row of the snapshots before
    it but the last `gap` (outcomes not known yet at the latest: target.horizon - 1); the
    rows between are in neither. Order kept.

    Needs 2 + gap snapshots or more; each side must hold both classes, or the error names
    `source`, the column and the snapshot."""
    months = snapshots(members[snapshot])
    if len(months) < 2 + gap:
        raise DataValidationError(
            f"{source}: column {snapshot!r}: an out-of-time split needs {2 + gap} labelled "
            f"snapshots or more (target.horizon {gap + 1}), found {len(months)}"
        )
    latest = members[snapshot] == months[-1]
    train, test = members[members[snapshot] < months[-1 - gap]], members[latest]
    for name, part in (("train", train), ("test", test)):
        if part[target].nunique() < 2:
            raise DataValidationError(
                f"{source}: column {target!r}: rule two_classes fails in the {name} split "
                f"(snapshot{'s before' if name == 'train' else ''} "
                f"{months[-1 - gap] if name == 'train' else months[-1]!r}, "
                f"{len(part)} rows): a model cannot be trained or tested on one class"
            )
    return train, test


def split_members(
    members: pd.DataFrame, contract: Contract, test_size: float, seed: int, *, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out of time when the contract names a snapshot column and the members hold enough
    labelled snapshots (2 + target.horizon - 1: test = the latest, out_of_time_split); else
    stratified (`test_size`, `seed`)."""
    target = contract.target.column
    snapshot, gap = contract.snapshot, contract.target.horizon - 1
    if snapshot is not None and members[snapshot].nunique() >= 2 + gap:
        return out_of_time_split(members, snapshot, target, source=source, gap=gap)
    return stratified_split(members, target, test_size, seed, source=source)


def sample_rows(n: int, max_rows: int | None, seed: int) -> np.ndarray:
    """Positions of the rows a bounded step works on: all `n`, or a seeded sample of
    `max_rows` of them without replacement, in order."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
