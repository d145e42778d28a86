"""oof_scores: an out-of-fold churn probability for every member of the export.

Cross-validated with the train stage's model spec over all members, so no member is scored
by a model that saw its own label. The profile stage turns this into the per-member table.

Reads  --input    preprocessed members
Writes --output   member_row -> churn_probability
Params base.seed, base.target, train (model family, hyperparameters, folds, calibration)
"""

from __future__ import annotations

import logging
import sys

from gym_churn.cli import parser, stage_main
from gym_churn.io import load_params, read_table, write_table
from gym_churn.modeling import member_oof_scores

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "input", "output").parse_args(argv)
    params = load_params(args.params)
    scores, cv = member_oof_scores(
        read_table(args.input), params.train, params.base.target, params.base.seed
    )
    write_table(scores, args.output)
    log.info("%d members scored out of fold; CV ROC-AUC %.4f", len(scores), cv.roc_auc_mean)


if __name__ == "__main__":
    sys.exit(main())
