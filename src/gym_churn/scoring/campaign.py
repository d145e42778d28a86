"""Expected-value targeting: whom to contact, how many, and a hold-out to measure it. Pure.

Contacting a member costs the offer; if the member would have churned, the offer keeps them
with the success rate, and a kept member is worth the member value. So contacting member i
is expected to return  p_i * success_rate * member_value - offer_cost,  and contacting the
riskiest x% returns the sum of that over them. The curve is computed for x = 0, 1, ..., 100%
at the central success rate and at both ends of its range (the sensitivity band), next to
contacting x% at random.

The success rate is an assumption until measured: the campaign list holds back a random
share of its members (seeded), and next month's churn in the contacted part against the
held-out part measures what the offer did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.segments.profiles import wilson
from gym_churn.splitting import snapshots

log = logging.getLogger(__name__)

GRID = 101  # contact shares 0%, 1%, ..., 100%


@dataclass(frozen=True)
class Economics:
    offer_cost: float
    member_value: float
    success_rate: float
    success_rate_low: float
    success_rate_high: float

    @classmethod
    def of(cls, cfg: Any) -> Economics:
        """From the `campaign` params section."""
        return cls(
            cfg.offer_cost, cfg.member_value, cfg.success_rate, cfg.success_rate_low,
            cfg.success_rate_high,
        )  # fmt: skip


def profit_curve(proba: np.ndarray, eco: Economics) -> pd.DataFrame:
    """Expected profit of contacting the riskiest share of members, for shares 0..1 by 1%:
    at the central success rate, at both ends of its range, and for a random share."""
    p = np.sort(np.asarray(proba, dtype=float))[::-1]
    n = len(p)
    cum = np.concatenate([[0.0], np.cumsum(p)])
    share = np.linspace(0.0, 1.0, GRID)
    k = np.rint(share * n).astype(int)

    def profit(rate: float, caught: np.ndarray) -> np.ndarray:
        return caught * rate * eco.member_value - k * eco.offer_cost

    random_caught = k * (p.mean() if n else 0.0)
    return pd.DataFrame(
        {
            "contact_share": share,
            "contacted": k,
            "expected_churners": cum[k],
            "profit": profit(eco.success_rate, cum[k]),
            "profit_low": profit(eco.success_rate_low, cum[k]),
            "profit_high": profit(eco.success_rate_high, cum[k]),
            "random": profit(eco.success_rate, random_caught),
        }
    )


def optimal_row(curve: pd.DataFrame, column: str = "profit") -> pd.Series:
    """The curve's best share (the first, if several tie)."""
    return curve.iloc[int(np.argmax(curve[column].to_numpy()))]


def budget_contacts(budget: float, offer_cost: float, members: int) -> int:
    """How many members a budget pays offers for."""
    if offer_cost <= 0:
        return members
    return int(min(members, np.floor(budget / offer_cost + 1e-9)))


@dataclass(frozen=True)
class Plan:
    curve: pd.DataFrame  # profit_curve
    best: pd.Series  # its best row
    affordable: int  # members the budget pays offers for
    contacts: int  # members listed: the best share, capped by the budget
    listed: np.ndarray  # bool per member: among the `contacts` riskiest


def plan(proba: np.ndarray, eco: Economics, budget: float) -> Plan:
    """How many of these members to contact and which: the profit-optimal share of the
    riskiest, as many as the budget pays for at most."""
    proba = np.asarray(proba, dtype=float)
    curve = profit_curve(proba, eco)
    best = optimal_row(curve)
    affordable = budget_contacts(budget, eco.offer_cost, len(proba))
    contacts = int(min(best["contacted"], affordable))
    listed = np.zeros(len(proba), dtype=bool)
    listed[np.argsort(-proba, kind="stable")[:contacts]] = True
    return Plan(curve, best, affordable, contacts, listed)


def current_members(to_score: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The members a campaign ranks among those whose outcome is not known yet: all of them,
    or, with a snapshot column, those of the latest snapshot (a member still here now; an
    earlier month's unknown outcome is no one to contact today). Order kept."""
    if contract.snapshot is None or to_score.empty:
        return to_score
    latest = snapshots(to_score[contract.snapshot])[-1]
    current = to_score[to_score[contract.snapshot] == latest].reset_index(drop=True)
    if len(current) < len(to_score):
        log.info(
            "%d member row(s) of earlier snapshots without an outcome are not listed; "
            "the campaign ranks the %d of %r",
            len(to_score) - len(current), len(current), latest,
        )  # fmt: skip
    return current


def campaign_list(
    scored: pd.DataFrame,
    key: str,
    contacts: int,
    eco: Economics,
    holdout_share: float,
    seed: int,
) -> pd.DataFrame:
    """The `contacts` riskiest members, riskiest first, with each one's expected value, and
    a seeded random hold-out of round(holdout_share * contacts) of them (group = holdout:
    not contacted, kept to measure the offer's effect)."""
    order = np.argsort(-scored["churn_probability"].to_numpy(), kind="stable")[:contacts]
    chosen = scored.iloc[order].reset_index(drop=True)
    p = chosen["churn_probability"].to_numpy()
    held = np.zeros(len(chosen), dtype=bool)
    n_held = round(holdout_share * len(chosen))
    if n_held:
        held[np.random.default_rng(seed).choice(len(chosen), n_held, replace=False)] = True
    out = chosen[[key, "churn_probability"]].assign(
        expected_value=p * eco.success_rate * eco.member_value - eco.offer_cost,
        group=np.where(held, "holdout", "contact"),
    )
    extra = [c for c in chosen.columns if c.startswith(("reason_", "lever"))]
    return out.join(chosen[extra])


def campaign_outcome(
    listed: pd.DataFrame, outcomes: pd.DataFrame, key: str, target: str
) -> dict[str, float]:
    """The campaign's reading a month later: the listed members matched to their outcome
    (0/1 `target`) by key, churn among contacted and held-out ones and the difference with
    its CI (`uplift`). Listed members missing from the outcomes are counted, not guessed."""
    merged = listed[[key, "group"]].merge(outcomes[[key, target]], on=key, how="left")
    found = merged[merged[target].notna()]
    contact = found[found["group"] == "contact"][target]
    held = found[found["group"] == "holdout"][target]
    if contact.empty or held.empty:
        raise ValueError(
            f"need outcomes for both groups: {len(contact)} contacted and {len(held)} held-out "
            "members found"
        )
    result = uplift(int(contact.sum()), len(contact), int(held.sum()), len(held))
    return {
        **result,
        "contacted": len(contact),
        "held_out": len(held),
        "missing": int(merged[target].isna().sum()),
    }


def uplift(
    contacted_churned: int, contacted: int, held_churned: int, held: int
) -> dict[str, float]:
    """Next month's reading of the hold-out: churn among the held-out minus churn among the
    contacted (percentage points kept by the offer), with a 95% Newcombe (Wilson score) CI."""

    if contacted <= 0 or held <= 0:
        raise ValueError(f"need members in both groups: {contacted} contacted, {held} held out")

    p1, (l1, u1) = held_churned / held, wilson(held_churned, held)
    p2, (l2, u2) = contacted_churned / contacted, wilson(contacted_churned, contacted)
    diff = p1 - p2
    low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {
        "held_out_churn": p1,
        "contacted_churn": p2,
        "kept_points": 100 * diff,
        "kept_points_low": 100 * low,
        "kept_points_high": 100 * high,
    }
