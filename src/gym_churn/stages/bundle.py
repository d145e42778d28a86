"""bundle: complete the model bundle with what scoring needs besides the model.

Reads  --train     the training split
       --contract  the data contract
       --model     the trained churn model (skops)
       --segments  the segment assigner (skops)
Writes --scoring   models/scoring.json: the background members reasons are explained
                   against, each lever's options, the training base's distributions for the
                   drift check, and the scoring settings (reasons, minimum, drift threshold)
       --runtime   models/runtime.npz: the two models as arrays (models.runtime), what
                   gym-churn-score loads so it never imports scikit-learn; a model with no
                   runtime form is left out and scored from its skops file
Params base.seed, scoring.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import (
    load_contract,
    load_model,
    load_params,
    read_table,
    write_arrays,
    write_json,
)
from gym_churn.models.runtime import boosted_trees, centroids, to_arrays
from gym_churn.scoring.bundle import scoring_bundle

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(
        __doc__, "train", "contract", "model", "segments", "scoring", "runtime"
    ).parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    bundle = scoring_bundle(read_table(args.train), contract, params.scoring, params.base.seed)
    model, assigner = boosted_trees(load_model(args.model)), centroids(load_model(args.segments))
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


if __name__ == "__main__":
    exit_with(main())
