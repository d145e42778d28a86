"""train: cross-validate, choose the decision threshold out-of-fold, fit and save the model.

Reads  --train     the training split
Writes --model     the fitted sklearn pipeline, as a skops file
       --summary   JSON: CV ROC-AUC per fold, threshold and the objective it maximised
Params base.seed, base.target, train.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_params, read_table, save_model, write_json
from gym_churn.modeling import fit_with_cv

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "train", "model", "summary").parse_args(argv)
    params = load_params(args.params)
    model, summary = fit_with_cv(
        read_table(args.train), params.train, params.base.target, params.base.seed
    )
    save_model(model, args.model)
    write_json(summary, args.summary)
    log.info(
        "%s: CV ROC-AUC %.4f ± %.4f, threshold %.4f (max %s out-of-fold)",
        summary["model"],
        summary["cv_roc_auc_mean"],
        summary["cv_roc_auc_std"],
        summary["threshold"],
        summary["threshold_objective"],
    )


if __name__ == "__main__":
    exit_with(main())
