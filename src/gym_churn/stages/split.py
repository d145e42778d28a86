"""split: train/test split of the preprocessed (labelled) members.

Stratified at random; out of time when the contract names a snapshot column and the
members hold two labelled snapshots or more: test = the latest, train = every earlier one.

Reads  --input          preprocessed members
       --contract       the data contract (the target and snapshot columns)
Writes --train, --test  the two splits, all columns kept
Params base.seed, split.test_size (the stratified split only)
"""

from __future__ import annotations

import logging

from gym_churn.cli import exit_with, parser, stage_main
from gym_churn.io import load_contract, load_params, read_table, write_table
from gym_churn.splitting import split_members

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "input", "contract", "train", "test").parse_args(argv)
    params = load_params(args.params)
    contract = load_contract(args.contract)
    members = read_table(args.input)
    train, test = split_members(
        members, contract, params.split.test_size, params.base.seed, source=args.input
    )
    write_table(train, args.train)
    write_table(test, args.test)
    log.info("train %d rows, test %d rows", len(train), len(test))


if __name__ == "__main__":
    exit_with(main())
