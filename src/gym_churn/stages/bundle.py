"""bundle: complete the model bundle with what scoring needs besides the model.

Reads  --train     the training split
       --contract  the data contract
Writes --scoring   models/scoring.json: the background members reasons are explained
                   against, each lever's options, the training base's distributions for the
                   drift check, and the scoring settings (reasons, minimum, drift threshold)
Params base.seed, scoring.*
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_table, write_json
from gym_churn.scoring.bundle import scoring_bundle

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "train", "contract", "scoring").parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    bundle = scoring_bundle(read_table(args.train), contract, params.scoring, params.base.seed)
    write_json(bundle, args.scoring)
    log.info(
        "%d background members, %d levers, %d columns for the drift check -> %s",
        len(bundle["background"]), len(bundle["lever_options"]), len(bundle["reference"]),
        args.scoring,
    )  # fmt: skip


if __name__ == "__main__":
    exit_with(main())
