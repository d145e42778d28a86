"""campaign: whom to contact, how many, the hold-out that will measure it, and what the last
campaign did.

Reads  --test       the test split: with no member whose outcome is unknown, the campaign is
                    a replay on these members, scored by the trained model (which never saw
                    them): whom it would have listed at the start of their month, and how
                    many of the listed and of the unlisted then churned
       --members    every preprocessed member: the outcomes a past campaign is read against
       --to-score   members whose outcome is not known yet (preprocess). When there are
                    any, the campaign ranks only them, as the trained model scores them:
                    the members still here (of the latest snapshot, with a snapshot column)
       --campaigns  the folder of past campaign lists (<month>.csv, as this stage wrote
                    them: key, snapshot with a panel, group). The latest by name is read
                    against --members: churn among its contacted and held-out members, the
                    difference with its 95% CI, and the success rate it implies. When that
                    CI excludes 0, the measured rate and its CI replace campaign.success_rate
                    and its band for this list
       --contract   the data contract (the member key, the snapshot, the target)
       --bundle     the model bundle (probabilities, reasons and levers)
Writes --curve      plots/campaign/profit.csv: expected profit of contacting the riskiest
                    0..100% (central success rate, both ends of its range, random targeting)
       --list       reports/campaign.csv, riskiest first: key (and snapshot), probability,
                    expected value, group (contact or holdout: a seeded random hold-out sized
                    by the power calculation), reasons and lever. A replay's rows start with
                    mode = replay (members whose outcome is known: never to contact) and
                    hold each member's outcome after the key
       --metrics    metrics/campaign.json, the headline: best contact share and its expected
                    profit, the share the budget pays for, list and hold-out sizes, the
                    hold-out's power, the success rate used and its source (0 assumed, 1
                    measured); a replay's churn among listed and unlisted; the measured
                    effect and success rate, when a past list was read
       --details    reports/campaign.json, the rest: mode (current or replay), the band
                    used, how the hold-out was sized, a replay's counts with 95% CIs, the
                    measured effect's CIs and counts and the list it read
Params base.seed, campaign.*
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.spec import Contract
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.models.predict import inputs, probability
from gym_churn.scoring.campaign import (
    Economics,
    campaign_list,
    campaign_outcome,
    check_campaign_list,
    current_members,
    holdout_size,
    next_economics,
    plan,
    replay_outcome,
)
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.scorer import DIGITS, describe

log = logging.getLogger(__name__)

LIST_SUFFIXES = (".csv", ".parquet")
# metrics/campaign.json: a few headline numbers (columns of `dvc exp show`); the rest of
# what the stage measured goes to --details
HEADLINE = (
    "best_contact_share", "best_expected_profit", "budget_contact_share", "listed", "held_out",
    "holdout_power", "success_rate_source", "success_rate", "replay_listed_churn_rate",
    "replay_unlisted_churn_rate", "measured_kept_points", "measured_success_rate",
)  # fmt: skip


def latest_campaign(folder: str | Path) -> Path | None:
    """The latest past campaign list in `folder` (by name: <YYYY-MM>.csv sorts by month), or
    None when it holds none (a missing folder holds none)."""
    root = Path(folder)
    found = sorted(p for p in root.glob("*") if p.is_file() and p.suffix in LIST_SUFFIXES)
    return found[-1] if found else None


def past_effect(folder: str | Path, members: Any, contract: Contract) -> dict[str, float] | None:
    """The measured effect of the latest past campaign in `folder` (campaign_outcome), or None
    when there is none or its members have no outcome yet in this export."""
    path = latest_campaign(folder)
    if path is None:
        return None
    listed = read_table(path)
    check_campaign_list(listed, contract, str(path))
    keys = [k for k in contract.keys if k in listed.columns]
    labelled = members[members[contract.target.column].notna()]
    try:
        effect = campaign_outcome(listed, labelled, keys, contract.target.column)
    except ValueError as exc:
        log.warning("%s: not measured yet (%s): the assumed success rate is used", path, exc)
        return None
    log.info(
        "%s: %d held-out members %.1f%% %s, %d contacted %.1f%%: %.1f points kept "
        "(95%% CI %.1f to %.1f)%s",
        path, effect["held_out"], 100 * effect["held_out_churn"], contract.target.label,
        effect["contacted"], 100 * effect["contacted_churn"], effect["kept_points"],
        effect["kept_points_low"], effect["kept_points_high"],
        f"; {effect['missing']} listed members have no outcome" if effect["missing"] else "",
    )  # fmt: skip
    return effect


MEASURED = ("kept_points", "kept_points_low", "kept_points_high", "contacted", "held_out")
MEASURED_RATE = ("success_rate", "success_rate_low", "success_rate_high")


def _measured_metrics(effect: dict[str, float] | None) -> dict[str, float]:
    """The measured effect's figures for metrics/campaign.json (none without one; no rate
    when none is implied)."""
    if effect is None:
        return {}
    names = [*MEASURED, *(MEASURED_RATE if np.isfinite(effect["success_rate"]) else ())]
    return {f"measured_{name}": effect[name] for name in names}


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "test", "members", "to_score", "campaigns", "contract", "bundle", "curve",
        "list", "metrics", "details",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    cfg = params.campaign
    contract = load_contract(args.contract)
    key, target = contract.key, contract.target.column
    effect = past_effect(args.campaigns, read_table(args.members), contract)
    eco, measured = next_economics(Economics.of(cfg), effect)
    log.info(
        "success rate %.0f%% (band %.0f%% to %.0f%%), %s", 100 * eco.success_rate,
        100 * eco.success_rate_low, 100 * eco.success_rate_high,
        "measured by the last campaign" if measured else "assumed (campaign.success_rate)",
    )  # fmt: skip
    scorer = load_scorer(args.bundle)
    members = current_members(read_table(args.to_score), contract)
    replay = members.empty
    if replay:
        # every member's outcome is known: replay the list on the members the model never saw
        members = read_table(args.test)
        log.info(
            "no member's outcome is unknown: replaying the list on the %d test members",
            len(members),
        )
    else:
        log.info("ranking the %d member(s) whose outcome is not known yet", len(members))
    features = inputs(members, contract)
    # as the list reports them, so the listed are the list's riskiest, ties in file order
    model_proba = probability(scorer.model, scorer.model_view(features))
    proba = np.round(model_proba, DIGITS)
    chosen = plan(proba, eco, cfg.budget)
    best, affordable, contacts = chosen.best, chosen.affordable, chosen.contacts
    listed_churn = float(proba[chosen.listed].mean()) if contacts else 0.0
    held_out, power = holdout_size(
        contacts, listed_churn, cfg.min_effect_points, cfg.power, cfg.holdout_max_share
    )
    # the listed members' reasons and lever, from the one scorer, on the same probabilities
    described = describe(scorer, members, proba, explain=chosen.listed,
                         model_proba=model_proba, features=features)  # fmt: skip
    carry = [c for c in (contract.snapshot, target if replay else None) if c]
    described = described.assign(**{c: members[c].to_numpy() for c in carry})
    table = campaign_list(described, key, contacts, eco, held_out, params.base.seed, carry)
    if replay:  # said on every row: never a list to send
        table.insert(0, "mode", "replay")
    details: dict[str, Any] = {
        "mode": "replay" if replay else "current",
        "members": len(members),
        "best_contact_share": float(best["contact_share"]),
        "best_expected_profit": float(best["profit"]),
        "budget_contact_share": affordable / len(members),
        "listed": contacts,
        "held_out": int((table["group"] == "holdout").sum()),
        "holdout_power": power,
        "holdout_power_target": cfg.power,
        "holdout_max_share": cfg.holdout_max_share,
        "min_effect_points": cfg.min_effect_points,
        "listed_expected_churn": listed_churn,
        "success_rate_source": int(measured),
        "success_rate": eco.success_rate,
        "success_rate_low": eco.success_rate_low,
        "success_rate_high": eco.success_rate_high,
        **_measured_metrics(effect),
    }
    if effect is not None:
        details["measured_list"] = str(latest_campaign(args.campaigns))
    if replay:
        details |= replay_outcome(chosen.listed, members[target].to_numpy())
    metrics = {k: details[k] for k in HEADLINE if k in details}
    write_plot_data(chosen.curve, args.curve)
    write_table(table, args.list)
    write_json(metrics, args.metrics)
    write_json(details, args.details)
    log.info(
        "best share %.0f%% (expected profit %.0f); the budget pays for %d members; %d %s, "
        "%d held out (power %.0f%% to detect %g points) -> %s",
        100 * metrics["best_contact_share"], metrics["best_expected_profit"], affordable,
        contacts, "listed in the replay" if replay else "listed", metrics["held_out"],
        100 * power, cfg.min_effect_points, args.list,
    )  # fmt: skip
    if replay:
        log.info(
            "replay: %d of %d listed then %s, %d of %d unlisted",
            details["replay_listed_churned"], details["replay_listed"], contract.target.label,
            details["replay_unlisted_churned"], details["replay_unlisted"],
        )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
