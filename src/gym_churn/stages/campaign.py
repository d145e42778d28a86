"""campaign: whom to contact this month, how many, and the hold-out that will measure it.

Reads  --scored     the per-member table (out-of-fold probabilities)
       --members    every preprocessed member (for the listed members' reasons and lever)
       --to-score   members whose outcome is not known yet (preprocess). When there are
                    any, the campaign ranks only them, as the trained model scores them:
                    the members still here (of the latest snapshot, with a snapshot column)
       --contract   the data contract (the member key)
       --bundle     the model bundle (reasons and levers)
Writes --curve      plots/campaign/profit.csv: expected profit of contacting the riskiest
                    0..100% (central success rate, both ends of its range, random targeting)
       --list       reports/campaign.csv: the members to contact, riskiest first: key (and
                    snapshot, with a snapshot column), probability, expected value,
                    reasons, lever, and group (contact or holdout, a seeded random share
                    held back to measure the offer)
       --figure     the profit curve as a figure
       --metrics    metrics/campaign.json: best contact share and its expected profit, the
                    share the budget pays for, list and hold-out sizes
Params base.seed, campaign.*
"""

from __future__ import annotations

import logging

from gym_churn import plots
from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import (
    load_contract,
    load_params,
    read_table,
    save_figure,
    write_json,
    write_plot_data,
    write_table,
)
from gym_churn.models.predict import inputs, probability
from gym_churn.scoring.campaign import Economics, campaign_list, current_members, plan
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.scorer import describe

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "scored", "members", "to_score", "contract", "bundle", "curve", "list", "figure",
        "metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    cfg = params.campaign
    contract = load_contract(args.contract)
    key = contract.key
    eco = Economics.of(cfg)
    scorer = load_scorer(args.bundle)
    to_score = current_members(read_table(args.to_score), contract)
    features = model_proba = None
    if len(to_score):
        # members whose outcome is not known yet: the trained model's own probabilities
        members = to_score
        features = inputs(members, contract)
        proba = model_proba = probability(scorer.model, scorer.model_view(features))
        log.info("ranking the %d member(s) whose outcome is not known yet", len(members))
    else:  # every member labelled: their out-of-fold probabilities, as before
        members = read_table(args.members)
        proba = read_table(args.scored)["churn_probability"].to_numpy()
    chosen = plan(proba, eco, cfg.budget)
    best, affordable, contacts = chosen.best, chosen.affordable, chosen.contacts
    # the listed members' reasons and lever, from the one scorer, on the same probabilities
    described = describe(scorer, members, proba, explain=chosen.listed,
                         model_proba=model_proba, features=features)  # fmt: skip
    table = campaign_list(described, key, contacts, eco, cfg.holdout_share, params.base.seed)
    if contract.snapshot and len(to_score):
        table.insert(1, contract.snapshot, to_score[contract.snapshot].iloc[0])
    held = int((table["group"] == "holdout").sum())
    metrics = {
        "best_contact_share": float(best["contact_share"]),
        "best_expected_profit": float(best["profit"]),
        "budget_contact_share": affordable / len(members),
        "listed": contacts,
        "held_out": held,
    }
    write_plot_data(chosen.curve, args.curve)
    write_table(table, args.list)
    save_figure(
        plots.profit_figure(chosen.curve, best, affordable / len(members), eco), args.figure
    )
    write_json(metrics, args.metrics)
    log.info(
        "best share %.0f%% (expected profit %.0f); the budget pays for %d members; %d listed, "
        "%d held out -> %s",
        100 * metrics["best_contact_share"], metrics["best_expected_profit"], affordable,
        contacts, held, args.list,
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
