"""score: every member's out-of-fold churn probability, the per-member table.

The model spec train kept is cross-validated over all members, so no member is scored by a
model that saw its own label.

Reads  --members        every preprocessed member
       --contract       the data contract (the member key)
       --summary        train summary: the model spec and the decision threshold
       --assignments    k-means segment per member
       --segment-names  segment id -> name (profile)
Writes --scored         data/scored/members_scored.csv: member key, churn_probability,
                        risk_decile (10 = riskiest tenth), at_risk, segment, segment_name,
                        then the member's columns
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
from gym_churn.segments.profiles import risk_deciles

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "contract", "summary", "assignments", "segment_names", "scored",
        "metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    key, seed = contract.key, params.base.seed
    members, summary = read_table(args.members), read_json(args.summary)
    model = model_from_summary(summary, contract, seed)
    _, cv = member_oof_scores(members, model, contract, params.train.cv_folds, seed)
    oof = cv.oof_proba
    segment = read_table(args.assignments).set_index(key)["segment"].loc[members[key]]
    names = {int(k): v for k, v in read_json(args.segment_names).items()}
    scored = members[[key]].assign(
        churn_probability=oof,
        risk_decile=risk_deciles(oof),
        at_risk=(oof >= summary["threshold"]).astype(int),
        segment=segment.to_numpy(),
        segment_name=[names[s] for s in segment],
    )
    scored = scored.join(members.drop(columns=[key]))
    y = members[contract.target.column]
    result = {
        "scored_members_roc_auc": float(roc_auc_score(y, oof)),
        "at_risk_share": float(scored["at_risk"].mean()),
    }
    write_table(scored, args.scored)
    write_json(result, args.metrics)
    log.info(
        "%d members scored out of fold (ROC-AUC %.4f), %.1f%% at risk -> %s",
        len(scored), result["scored_members_roc_auc"], 100 * result["at_risk_share"], args.scored,
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
