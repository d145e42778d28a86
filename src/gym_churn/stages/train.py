"""train: choose the model by CV, the decision threshold out-of-fold, fit and save the model.

Reads  --train     the training split
       --contract  the data contract (features, their kinds and categories)
Writes --model     the fitted sklearn pipeline, as a skops file
       --summary   JSON: every candidate's CV ROC-AUC, the model kept, the threshold and the
                   objective it maximised, and the decile edges for scoring
Params base.seed, train.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.spec import contract_to_dict
from gym_churn.io import load_contract, load_params, read_table, save_model, write_json
from gym_churn.models.selection import fit_with_cv

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "train", "contract", "model", "summary").parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    model, summary = fit_with_cv(read_table(args.train), params.train, contract, params.base.seed)
    # The contract travels with the model, so scoring a new export needs no checkout.
    summary["contract"] = contract_to_dict(contract)
    save_model(model, args.model)
    write_json(summary, args.summary)
    log.info(
        "%s (train.model: %s): CV ROC-AUC %.4f ± %.4f, threshold %.4f (max %s out-of-fold)",
        summary["model"],
        summary["model_setting"],
        summary["cv_roc_auc_mean"],
        summary["cv_roc_auc_std"],
        summary["threshold"],
        summary["threshold_objective"],
    )


if __name__ == "__main__":
    exit_with(main())
