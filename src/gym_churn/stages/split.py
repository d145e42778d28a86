"""split: stratified train/test split of the preprocessed members.

Reads  --input          preprocessed members
       --contract       the data contract (which column is the target)
Writes --train, --test  the two splits, all columns kept
Params base.seed, split.test_size
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_table, write_table
from gym_churn.splitting import stratified_split

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "input", "contract", "train", "test").parse_args(argv)
    params = load_params(args.params)
    target = load_contract(args.contract).target.column
    members = read_table(args.input)
    train, test = stratified_split(
        members, target, params.split.test_size, params.base.seed, source=args.input
    )
    write_table(train, args.train)
    write_table(test, args.test)
    log.info("train %d rows, test %d rows", len(train), len(test))


if __name__ == "__main__":
    exit_with(main())
