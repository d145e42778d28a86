"""score: every member's out-of-fold churn probability, the per-member table.

The model spec train kept is cross-validated over all members, so no member is scored by a
model that saw its own label. The probabilities then go through the same scorer as
`gym-churn-score` (scoring.scorer.describe): the same deciles, at-risk rule, segments,
reasons and suggested lever.

Reads  --members        every preprocessed member
       --contract       the data contract (the member key)
       --bundle         the model bundle (models/): the model, train summary, scoring.json,
                        segment model and names
       --summary        the bundle's train summary: the model spec to cross-validate
Writes --scored         data/scored/members_scored.csv: member key, churn_probability,
                        risk_decile (against the training base), at_risk, segment,
                        segment_name, reasons and lever (at-risk members), then the member's
                        columns
       --metrics        metrics/score.json: the table's ROC-AUC against actual churn, and
                        the share of members at risk
Params base.seed, train.cv_folds
"""

from __future__ import annotations

import logging

from sklearn.metrics import roc_auc_score

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_json, read_table, write_json, write_table
from gym_churn.models.selection import member_oof_scores, model_from_summary
from gym_churn.scoring.labels import with_labels
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.scorer import describe

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "contract", "bundle", "summary", "scored", "metrics"
    ).parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    key, seed = contract.key, params.base.seed
    members = read_table(args.members)
    scorer = load_scorer(args.bundle)
    summary = read_json(args.summary)
    model = model_from_summary(summary, contract, seed)
    _, cv = member_oof_scores(members, model, contract, params.train.cv_folds, seed)
    scored = describe(scorer, members, cv.oof_proba)
    scored = scored.join(members.drop(columns=[key]))
    y = members[contract.target.column]
    result = {
        "scored_members_roc_auc": float(roc_auc_score(y, cv.oof_proba)),
        "at_risk_share": float(scored["at_risk"].mean()),
    }
    # two-valued text columns keep their labels (Female/Male, No/Yes) in the table people read
    write_table(with_labels(scored, contract), args.scored)
    write_json(result, args.metrics)
    log.info(
        "%d members scored out of fold (ROC-AUC %.4f), %.1f%% at risk -> %s",
        len(scored), result["scored_members_roc_auc"], 100 * result["at_risk_share"], args.scored,
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
