"""preprocess: check the raw export against the data contract, type it, add engineered features.

Reads  --raw        the member export (CSV or parquet; never written to)
       --contract   the data contract (target, columns, rules, engineered features)
Writes --output     checked, typed members: the member key, the features, the engineered
                    features, the target as 0/1
       --to-score   the members whose outcome is not known yet (a blank target, with
                    `target.unknown: score` in the contract), typed as --output is but
                    without the target: kept out of learning, listed by the campaign. Only a
                    header when there are none
       --metrics    reports/preprocess.json: rows read, dropped (by reason) and written
                    (and rows_to_score with `target.unknown: score`)
Params none: every rule of the data is in the contract
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.contract.checks import check_export
from gym_churn.features import add_features
from gym_churn.io import load_contract, read_table, write_json, write_table
from gym_churn.splitting import split_unknown

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "raw", "contract", "output", "to_score", "metrics", with_params=False)
    args = args.parse_args(argv)
    contract = load_contract(args.contract)
    checked = check_export(read_table(args.raw), contract, source=args.raw)
    processed, to_score = split_unknown(add_features(checked.members, contract), contract)
    counts = {**checked.counts, "rows_written": len(processed)}
    if contract.target.unknown == "score":
        counts["rows_to_score"] = len(to_score)
        log.info("%d member(s) whose outcome is not known yet -> %s", len(to_score), args.to_score)
    write_table(processed, args.output)
    write_table(to_score, args.to_score)
    write_json(counts, args.metrics)
    log.info("%d members, %d columns -> %s", len(processed), processed.shape[1], args.output)


if __name__ == "__main__":
    exit_with(main())
