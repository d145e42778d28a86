"""score: complete the model bundle, then every member's out-of-fold churn probability.

The bundle (models/) gets what scoring needs besides the models: the background members
reasons are explained against, each lever's options, the training base's distributions for
the drift check (every column of the export, the excluded ones included), the scoring
settings, and the two models as arrays (models.runtime), which gym-churn-score loads so it
never imports scikit-learn. Gradient boosting and logistic regression (uncalibrated) have a
runtime form; a random forest or a calibrated model has none and is scored from its skops
file.

Then every member's out-of-fold probability (train cross-validated the spec of the model
that lists members over all members, so no member is scored by a model that saw its own
label) goes through the same scorer as `gym-churn-score` (scoring.scorer.describe): the same
deciles, at-risk rule, segments, reasons and suggested lever. Like gym-churn-score, this
stage does not import scikit-learn for a model with a runtime form.

Reads  --members        every preprocessed member
       --train          the training split (the background and the drift reference)
       --contract       the data contract (the member key)
       --model-arrays   the runtime form of the model that lists members (train)
       --segment-arrays the runtime form of the segment assigner (cluster)
       --bundle         the model bundle folder (models/), with train's summary and the
                        segment names
       --member-scores  every member's out-of-fold churn probability (train)
Writes --scoring        models/scoring.json
       --runtime        models/runtime.npz
       --scored         data/scored/members_scored.csv: member key, churn_probability,
                        risk_decile (against the training base), at_risk, segment,
                        segment_name, reasons and lever (at-risk members), then the member's
                        columns
       --metrics        metrics/score.json: the table's ROC-AUC against actual churn, and
                        the share of members at risk
Params base.seed, scoring.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.errors import DataValidationError
from gym_churn.evaluation.ranking import rank_roc_auc
from gym_churn.io import (
    load_contract,
    load_params,
    read_arrays,
    read_table,
    write_arrays,
    write_json,
    write_table,
)
from gym_churn.models.runtime import from_arrays, to_arrays
from gym_churn.scoring.bundle import scoring_bundle
from gym_churn.scoring.labels import with_labels
from gym_churn.scoring.load import load_scorer
from gym_churn.scoring.scorer import describe

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "members", "train", "contract", "model_arrays", "segment_arrays", "bundle",
        "member_scores", "scoring", "runtime", "scored", "metrics",
    ).parse_args(argv)  # fmt: skip
    params = load_params(args.params)
    contract = load_contract(args.contract)
    key, seed = contract.key, params.base.seed
    members = read_table(args.members)
    oof = read_table(args.member_scores)
    if not oof[key].equals(members[key]):  # checked before anything is written
        raise DataValidationError(
            f"{args.member_scores}: its members are not those of {args.members} in the same "
            "order; run train again (dvc repro)"
        )
    proba = oof["churn_probability"].to_numpy()
    bundle = scoring_bundle(read_table(args.train), contract, params.scoring, seed)
    # the runtime forms train and cluster wrote: no skops file is loaded here
    model, _ = from_arrays(read_arrays(args.model_arrays))
    _, assigner = from_arrays(read_arrays(args.segment_arrays))
    write_json(bundle, args.scoring)
    write_arrays(to_arrays(model, assigner), args.runtime)
    for what, runtime in (("churn model", model), ("segment assigner", assigner)):
        if runtime is None:
            log.info("the %s has no runtime form: gym-churn-score loads its skops file", what)
    log.info(
        "%d background members, %d levers, %d columns for the drift check -> %s",
        len(bundle["background"]), len(bundle["lever_options"]), len(bundle["reference"]),
        args.scoring,
    )  # fmt: skip

    scorer = load_scorer(args.bundle)
    scored = describe(scorer, members, proba)
    scored = scored.join(members.drop(columns=[key]))
    y = members[contract.target.column]
    result = {
        "scored_members_roc_auc": rank_roc_auc(y, proba),
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
