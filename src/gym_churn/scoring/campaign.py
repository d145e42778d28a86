"""Expected-value targeting: whom to contact, how many, and a hold-out to measure it. Pure.

Contacting a member costs the offer; if the member would have churned, the offer keeps them
with the success rate, and a kept member is worth the member value. So contacting member i
is expected to return  p_i * success_rate * member_value - offer_cost,  and contacting the
riskiest x% returns the sum of that over them. The curve is computed for x = 0, 1, ..., 100%
at the central success rate and at both ends of its range (the sensitivity band), next to
contacting x% at random.

The success rate is an assumption until measured: the campaign list holds back a random
part of its members (seeded), sized to detect the smallest effect worth detecting with the
stated power (`holdout_size`), and next month's churn in the contacted part against the
held-out part measures what the offer did (`campaign_outcome`, `uplift`). Once that 95% CI
excludes 0, the measured rate and its CI replace the assumed band (`next_economics`).

With no member whose outcome is unknown, the list is a replay (`replay_outcome`): whom the
pipeline would have listed among members whose outcome is known, and how many of the listed
and of the unlisted then churned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.errors import ContractError
from gym_churn.segments.profiles import Z95, rate_ratio, wilson
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
    held_out: int,
    seed: int,
    carry: Sequence[str] = (),
) -> pd.DataFrame:
    """The `contacts` riskiest members, riskiest first, with each one's expected value, and
    a seeded random hold-out of `held_out` of them (group = holdout: not contacted, kept to
    measure the offer's effect; `holdout_size` says how many). `carry` columns of `scored`
    follow the key (a snapshot, a replay's outcome)."""
    order = np.argsort(-scored["churn_probability"].to_numpy(), kind="stable")[:contacts]
    chosen = scored.iloc[order].reset_index(drop=True)
    p = chosen["churn_probability"].to_numpy()
    held = np.zeros(len(chosen), dtype=bool)
    n_held = min(int(held_out), len(chosen))
    if n_held > 0:
        held[np.random.default_rng(seed).choice(len(chosen), n_held, replace=False)] = True
    out = chosen[[key, *carry, "churn_probability"]].assign(
        expected_value=p * eco.success_rate * eco.member_value - eco.offer_cost,
        group=np.where(held, "holdout", "contact"),
    )
    extra = [c for c in chosen.columns if c.startswith(("reason_", "lever"))]
    return out.join(chosen[extra])


# ---------------------------------------------------------------- the hold-out's size

_Z_TWO_SIDED = Z95  # the test the hold-out is sized for reads the 95% CI uplift() gives


def holdout_power(
    held: np.ndarray | int, listed: int, churn: float, effect_points: float
) -> np.ndarray:
    """Power of a two-sided two-proportion z-test at the 5% level (pooled standard error under
    no effect, Fleiss's normal approximation) to detect an offer that lowers churn by
    `effect_points` percentage points, when `held` of `listed` members are held out and the
    held-out members are expected to churn at `churn` (the listed members' mean probability).
    The contacted then churn at churn - effect (at least 0). One value per `held`; 0 where a
    group would be empty or no effect is possible (churn 0)."""
    h = np.atleast_1d(np.asarray(held, dtype=float))
    c = listed - h
    p1 = float(np.clip(churn, 0.0, 1.0))
    p2 = max(p1 - effect_points / 100.0, 0.0)
    d = p1 - p2
    out = np.zeros(len(h))
    ok = (h >= 1) & (c >= 1)
    if d <= 0 or not ok.any():
        return out
    h, c = h[ok], c[ok]
    pooled = (h * p1 + c * p2) / listed
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / h + 1 / c))
    se1 = np.sqrt(p1 * (1 - p1) / h + p2 * (1 - p2) / c)
    phi = NormalDist().cdf
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.where(se1 > 0, (d - _Z_TWO_SIDED * se0) / se1, np.inf)
        lower = np.where(se1 > 0, (-d - _Z_TWO_SIDED * se0) / se1, -np.inf)
    # se1 = 0 (both churn rates 0 or 1): the difference is seen exactly; it is detected when
    # it clears the test's threshold
    upper = np.where(se1 > 0, upper, np.where(d > _Z_TWO_SIDED * se0, np.inf, -np.inf))
    out[ok] = [phi(u) + phi(v) for u, v in zip(upper, lower, strict=True)]
    return np.clip(out, 0.0, 1.0)


def holdout_size(
    listed: int, churn: float, effect_points: float, power: float, max_share: float
) -> tuple[int, float]:
    """How many of `listed` members to hold out, and the power that gives: the fewest that
    detect `effect_points` with at least `power` (holdout_power), at most
    floor(max_share * listed) and never the whole list. When no size within that cap reaches
    the power, the cap's most powerful size (ties: the largest), with the power it has."""
    cap = min(int(np.floor(max_share * listed + 1e-9)), listed - 1)
    if cap < 1:
        return 0, 0.0
    sizes = np.arange(1, cap + 1)
    powers = holdout_power(sizes, listed, churn, effect_points)
    enough = np.flatnonzero(powers >= power)
    i = int(enough[0]) if len(enough) else len(powers) - 1 - int(np.argmax(powers[::-1]))
    return int(sizes[i]), float(powers[i])


def check_campaign_list(listed: pd.DataFrame, contract: Contract, source: str) -> None:
    """Refuse what is not a sent campaign list (the key and `group` columns, as
    reports/campaign.csv has them; not a replay, whose members were never contacted), and warn
    that without an ID column members are matched by row number."""
    if contract.key not in listed.columns or "group" not in listed.columns:
        raise ContractError(
            f"{source}: not a campaign list (needs {contract.key!r} and 'group', as "
            "reports/campaign.csv has them)"
        )
    if "mode" in listed.columns and (listed["mode"] == "replay").any():
        raise ContractError(f"{source}: a replay (mode replay): no one on it was contacted")
    if not contract.id:
        log.warning(
            "%s: the contract declares no ID column, so its members are matched by row number: "
            "the outcomes must list the same members in the same order as the export the list "
            "was made from",
            source,
        )


def campaign_outcome(
    listed: pd.DataFrame, outcomes: pd.DataFrame, key: str | Sequence[str], target: str
) -> dict[str, float]:
    """The campaign's reading a month later: the listed members matched to their outcome
    (0/1 `target`) by key (a column, or several: the member key and the snapshot), churn
    among contacted and held-out ones, the difference with its CI (`uplift`) and the
    success rate it implies (`implied_success_rate`; NaN when no held-out member churned).
    Listed members missing from the outcomes are counted, not guessed."""
    keys = [key] if isinstance(key, str) else list(key)
    merged = listed[[*keys, "group"]].merge(outcomes[[*keys, target]], on=keys, how="left")
    found = merged[merged[target].notna()]
    contact = found[found["group"] == "contact"][target]
    held = found[found["group"] == "holdout"][target]
    if contact.empty or held.empty:
        raise ValueError(
            f"need outcomes for both groups: {len(contact)} contacted and {len(held)} held-out "
            "members found"
        )
    counts = (int(contact.sum()), len(contact), int(held.sum()), len(held))
    rate, low, high = implied_success_rate(*counts)
    return {
        **uplift(*counts),
        "success_rate": rate,
        "success_rate_low": low,
        "success_rate_high": high,
        "contacted": len(contact),
        "contacted_churned": counts[0],
        "held_out": len(held),
        "held_out_churned": counts[2],
        "missing": int(merged[target].isna().sum()),
    }


def implied_success_rate(
    contacted_churned: int, contacted: int, held_churned: int, held: int
) -> tuple[float, float, float]:
    """The share of would-be churners the offer kept: kept points / held-out churn, i.e.
    1 - (contacted churn / held-out churn), with a 95% CI from the rate ratio's (Katz, log
    scale; when no contacted member churned, 0.5 added to each cell, the interval widened
    to hold the estimate). NaN when no held-out member churned (nothing to keep)."""
    if held <= 0 or contacted <= 0 or held_churned <= 0:
        return float("nan"), float("nan"), float("nan")
    rate = 1.0 - (contacted_churned / contacted) / (held_churned / held)
    if contacted_churned == 0:  # the log ratio is undefined
        counts = (contacted_churned + 0.5, contacted + 1, held_churned + 0.5, held + 1)
    else:
        counts = (contacted_churned, contacted, held_churned, held)
    _, ratio_low, ratio_high = rate_ratio(*counts)
    return rate, min(rate, 1.0 - ratio_high), max(rate, 1.0 - ratio_low)


def effect_shown(effect: dict[str, float]) -> bool:
    """Whether a measured effect's 95% CI excludes 0 (either side)."""
    return bool(effect["kept_points_low"] > 0 or effect["kept_points_high"] < 0)


def next_economics(eco: Economics, effect: dict[str, float] | None) -> tuple[Economics, bool]:
    """The economics the next list uses: the measured success rate and its 95% CI as the
    sensitivity band when the measured effect's CI excludes 0 (and a rate is implied: some
    held-out member churned); the assumed ones otherwise. Also says which (True: measured).
    A harmful offer (the CI below 0) gives a negative rate: no contact then pays."""
    if effect is None or not effect_shown(effect) or not np.isfinite(effect["success_rate"]):
        return eco, False
    measured = replace(
        eco,
        success_rate=float(effect["success_rate"]),
        success_rate_low=float(effect["success_rate_low"]),
        success_rate_high=float(effect["success_rate_high"]),
    )
    return measured, True


def replay_outcome(listed: np.ndarray, churned: np.ndarray) -> dict[str, float]:
    """A replay's reading: how many of the listed and of the unlisted members then churned,
    each rate with its 95% Wilson CI (left out for a group with no member)."""
    listed = np.asarray(listed, dtype=bool)
    churned = np.asarray(churned, dtype=float)
    out: dict[str, float] = {}
    for name, mask in (("listed", listed), ("unlisted", ~listed)):
        n, k = int(mask.sum()), int(churned[mask].sum())
        out[f"replay_{name}"] = n
        out[f"replay_{name}_churned"] = k
        if n:
            low, high = wilson(k, n)
            out[f"replay_{name}_churn_rate"] = k / n
            out[f"replay_{name}_churn_low"] = low
            out[f"replay_{name}_churn_high"] = high
    return out


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
