"""Shared, small, in-memory fixtures for the unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gym_churn.contract.spec import Contract, parse_contract
from gym_churn.io import load_contract, load_params
from gym_churn.params import Params

PARAMS_PATH = Path(__file__).parents[1] / "params.yaml"
# The bundled export's data contract: tests that use the gym column names take them from it.
GYM_CONTRACT_PATH = Path(__file__).parents[1] / "data" / "contracts" / "gym_churn.yaml"
GYM_CONTRACT = load_contract(GYM_CONTRACT_PATH)
FEATURES = GYM_CONTRACT.raw_features
TARGET = GYM_CONTRACT.target.column
N_MEMBERS = 40


def make_members(n: int = N_MEMBERS, seed: int = 0) -> pd.DataFrame:
    """`n` members that satisfy the data contract of params.yaml, churners every 4th row."""
    rng = np.random.default_rng(seed)
    contract = rng.choice([1, 6, 12], size=n)
    lifetime_freq = rng.uniform(0.0, 4.0, size=n)
    frame = pd.DataFrame(
        {
            "gender": rng.integers(0, 2, size=n),
            "Near_Location": rng.integers(0, 2, size=n),
            "Partner": rng.integers(0, 2, size=n),
            "Promo_friends": rng.integers(0, 2, size=n),
            "Phone": rng.integers(0, 2, size=n),
            "Contract_period": contract,
            "Group_visits": rng.integers(0, 2, size=n),
            "Age": rng.integers(18, 60, size=n),
            "Avg_additional_charges_total": rng.uniform(0.0, 400.0, size=n),
            # whole months left, at least 1 and never more than the contract
            "Month_to_end_contract": np.floor(rng.uniform(0, 1, size=n) * contract) + 1.0,
            "Lifetime": rng.integers(0, 24, size=n),
            "Avg_class_frequency_total": lifetime_freq,
            "Avg_class_frequency_current_month": np.clip(
                lifetime_freq + rng.normal(0.0, 0.5, size=n), 0.0, None
            ),
            TARGET: (np.arange(n) % 4 == 0).astype(int),
        }
    )
    assert list(frame.columns) == [*FEATURES, TARGET]
    return frame


@pytest.fixture(scope="session")
def params() -> Params:
    """The project's real params.yaml, parsed and validated."""
    return load_params(PARAMS_PATH)


@pytest.fixture
def valid_members() -> pd.DataFrame:
    """A fresh copy per test: 40 valid members with the 13 features and the target."""
    return make_members()


@pytest.fixture(scope="session")
def gym_contract() -> Contract:
    """The bundled export's data contract (data/contracts/gym_churn.yaml)."""
    return GYM_CONTRACT


# Another business's contract, in memory: text categories, Yes/No labels, an ID, gaps kept,
# an engineered feature, a relation. Tests of generic behaviour use it with make_other().
OTHER_CONTRACT: dict[str, Any] = {
    "name": "other export",
    "target": {"column": "left", "positive": ["Yes"], "negative": ["No"]},
    "id": "customer_id",
    "features": {
        "plan": {"kind": "categorical", "values": ["basic", "plus", "premium"], "role": "lever",
                 "label": "plan"},
        "region": {"kind": "categorical", "values": [f"r{i:02d}" for i in range(12)]},
        "senior": {"kind": "binary", "values": ["N", "Y"], "label": "seniors"},
        "fee": {"kind": "numeric", "min": 0, "missing": "keep", "role": "behaviour"},
        "tenure_months": {"kind": "integer", "min": 0, "role": "tenure"},
        "calls": {"kind": "integer", "min": 0, "role": "behaviour"},
    },
    "engineered": {"fee_per_month": {"expr": "fee / (tenure_months + 1)"}},
    "relations": [{"rule": "calls <= 100", "name": "calls_plausible"}],
    "ignore": {"signup_date": "a date"},
}  # fmt: skip


@pytest.fixture(scope="session")
def other_contract() -> Contract:
    return parse_contract(OTHER_CONTRACT, source="other.yaml")


def make_other(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """`n` rows of the other export, as a file would hold them (text labels, gaps, a date);
    the target depends on plan, calls and fee so a model has something to learn."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium"], size=n)
    calls = rng.integers(0, 10, size=n)
    fee = rng.uniform(10, 90, size=n).round(2)
    score = (plan == "basic") * 1.5 + calls * 0.3 - fee / 60 + rng.normal(0, 0.5, size=n)
    left = np.where(score > np.median(score), "Yes", "No")
    fee_with_gaps = np.where(np.arange(n) % 10 == 3, np.nan, fee)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "signup_date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "plan": plan,
            "region": rng.choice([f"r{i:02d}" for i in range(12)], size=n),
            "senior": rng.choice(["N", "Y"], size=n),
            "fee": fee_with_gaps,
            "tenure_months": rng.integers(0, 48, size=n),
            "calls": calls,
            "left": left,
        }
    )


@pytest.fixture(autouse=True, scope="session")
def _single_threaded():
    """Tiny fits are dominated by thread start-up: OpenMP/BLAS pools of 1 keep them fast and
    steady on a loaded CI machine."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


# The other export as a monthly panel (issue 24): one row per member per month, `month` the
# snapshot; the latest month's outcome not known yet (blank target, `unknown: score`).
PANEL_CONTRACT: dict[str, Any] = {
    **OTHER_CONTRACT,
    "target": {**OTHER_CONTRACT["target"], "unknown": "score"},
    "snapshot": "month",
}


def make_panel(members: int = 30, months: int = 4, seed: int = 0) -> pd.DataFrame:
    """`members` of the other export seen in each of `months` months (2024-01, ...), a
    member's fee and calls drifting a little from month to month; the target blank in the
    last month. Rows are ordered by month, then member."""
    base = make_other(members, seed)
    rng = np.random.default_rng(seed + 1)
    frames = []
    for m in range(months):
        month = base.assign(month=f"2024-{m + 1:02d}", calls=base["calls"] + m)
        month["left"] = np.where(rng.random(members) < 0.2, month["left"][::-1], month["left"])
        if m == months - 1:
            month["left"] = np.nan
        frames.append(month)
    return pd.concat(frames, ignore_index=True)
