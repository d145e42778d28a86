"""preprocess: validate the raw export and add the engineered features.

Reads  --raw        the member export (CSV or parquet; never written to)
Writes --output     validated, typed members with engineered columns
Params base.target, preprocess.*
"""

from __future__ import annotations

import logging
import sys

from gym_churn.cli import parser, stage_main
from gym_churn.features import add_features
from gym_churn.io import load_params, read_table, write_table
from gym_churn.schema import validate_members

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "raw", "output").parse_args(argv)
    params = load_params(args.params)
    cfg = params.preprocess
    members = validate_members(
        read_table(args.raw),
        target=params.base.target,
        contract_periods=cfg.contract_periods,
        age_min=cfg.age_min,
        age_max=cfg.age_max,
        source=args.raw,
    )
    processed = add_features(members, cfg.features)
    write_table(processed, args.output)
    log.info("%d members, %d columns -> %s", len(processed), processed.shape[1], args.output)


if __name__ == "__main__":
    sys.exit(main())
