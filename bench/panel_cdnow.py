"""Monthly snapshots ("a panel") of the public CDNOW transactions, a real multi-month export for
testing monthly snapshots (issue 24): one row per customer per month end, features as of that
month end only, and whether the customer churned in the months that follow.

    python bench/panel_cdnow.py --transactions PATH/CDNOW_master.txt --out FILE.csv
        [--first YYYY-MM] [--last YYYY-MM] [--observed-through YYYY-MM]
        [--horizon K] [--active-months A] [--customers N] [--seed S]

The input is CDNOW_master.txt as the `lifetimes` package ships it (lifetimes/datasets/): one
line per transaction, whitespace-separated, `customer_id date number_of_cds dollar_value`,
dates as YYYYMMDD. data/examples/README.md says where it comes from and the exact command.

Definitions (months are calendar months; a snapshot M is the last day of month M):

- **purchase**: a day on which a customer bought; the file's lines of one customer and one date
  are one purchase (an order may be split over several lines).
- **active at M**: the customer's first purchase is in month M or before, and they bought at
  least once in the `active_months` months ending with M (M-A+1 .. M). Only active customers
  have a row for M: a customer who has not bought for A months has lapsed and is no longer a
  member to keep; they get rows again from the month they buy again.
- **churned at M**: "Yes" if the customer makes no purchase in the `horizon` months after M
  (M+1 .. M+K), "No" if they make at least one. With the defaults (K = A = 3) this is "the
  customer will have lapsed by M+3". Blank when month M+K is after `observed_through` (the last
  fully observed month): their outcome is not known yet; these are the members to score.

Features of a row for M use only purchases dated in month M or before (no later information):

customer_id (text, as in the file), snapshot (M as YYYY-MM), cohort (the month of the first
purchase as text, e.g. "Feb 1997"), tenure_months (months from the first purchase's month to
M; 0 in the month of the first purchase), purchases_1m / spend_1m (month M), purchases_3m /
spend_3m (months M-2 .. M), purchases_total / spend_total / cds_total (to date),
avg_basket (spend_total / purchases_total), months_since_last_purchase (0 if they bought in
M), spend_tier ("low"/"mid"/"high": spend_total below 50, below 150, or more dollars; fixed
thresholds, so that no other row or later month decides a row's tier), bought_last_month
(Yes/No: a purchase in month M, the month that ends at the snapshot), repeat_buyer (Yes/No:
more than one purchase to date), churned (Yes/No/blank).

`--customers N` keeps a seeded random sample of N customers (numpy's default_rng) with all of
their rows, so that every kept customer's whole history stays in the panel. Every function but
load_transactions and main is pure: frames in, new frames out. Only the standard library,
numpy and pandas are used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("panel_cdnow")

HORIZON = 3
ACTIVE_MONTHS = 3
SEED = 0
RECENT_MONTHS = 3  # the window of purchases_3m / spend_3m, M-2 .. M
# spend_total thresholds in dollars: low below the first, mid below the second, high above
TIER_BOUNDS = (50.0, 150.0)
TIER_NAMES = ("low", "mid", "high")
YES, NO = "Yes", "No"
TRANSACTION_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
PANEL_COLUMNS = (
    "customer_id", "snapshot", "cohort", "tenure_months", "purchases_1m", "spend_1m",
    "purchases_3m", "spend_3m", "purchases_total", "spend_total", "cds_total", "avg_basket",
    "months_since_last_purchase", "spend_tier", "bought_last_month", "repeat_buyer", "churned",
)  # fmt: skip
# Fixed column types, so that a month without active customers concatenates like any other;
# a blank target is a missing value of the text column.
INTEGERS = ("tenure_months", "purchases_1m", "purchases_3m", "purchases_total", "cds_total",
            "months_since_last_purchase")  # fmt: skip
FLOATS = ("spend_1m", "spend_3m", "spend_total", "avg_basket")
DTYPES = {
    column: "int64" if column in INTEGERS else "float64" if column in FLOATS else "str"
    for column in PANEL_COLUMNS
}


def load_transactions(path: Path) -> pd.DataFrame:
    """Read CDNOW_master.txt (with or without its header line).

    Output: customer_id (text, leading zeros kept), date (datetime64), number_of_cds (int),
    dollar_value (float), one row per line of the file.
    """
    with path.open() as handle:
        has_header = "customer_id" in handle.readline()
    frame = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1 if has_header else 0,
        names=list(TRANSACTION_COLUMNS),
        dtype={"customer_id": str, "date": str, "number_of_cds": "int64", "dollar_value": float},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    dates = frame["date"]
    log.info("%s: %d transactions of %d customers, %s to %s", path, len(frame),
             frame["customer_id"].nunique(), dates.min().date(), dates.max().date())  # fmt: skip
    return frame


def _month_index(month: pd.Period) -> int:
    """Months since January of year 0: consecutive months are consecutive integers."""
    return month.year * 12 + month.month - 1


def _period(index: int) -> pd.Period:
    return pd.Period(year=index // 12, month=index % 12 + 1, freq="M")


def monthly_activity(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per customer and calendar month with a purchase: purchases (distinct days), spend, cds.

    Input: the frame of load_transactions. Output: customer_id, month (int, see _month_index),
    purchases, spend, cds; months without a purchase have no row.
    """
    dates = transactions["date"].dt
    frame = transactions.assign(month=dates.year * 12 + dates.month - 1)
    grouped = frame.groupby(["customer_id", "month"], sort=True)
    return pd.DataFrame(
        {
            "purchases": grouped["date"].nunique(),
            "spend": grouped["dollar_value"].sum(),
            "cds": grouped["number_of_cds"].sum(),
        }
    ).reset_index()


def sample_customers(transactions: pd.DataFrame, customers: int, seed: int) -> pd.DataFrame:
    """All transactions of `customers` customers drawn at random without replacement (seeded).

    Asking for as many customers as there are, or more, returns a copy of the whole frame.
    """
    ids = np.sort(transactions["customer_id"].unique())
    if customers >= len(ids):
        return transactions.copy()
    kept = np.random.default_rng(seed).choice(ids, size=customers, replace=False)
    return transactions[transactions["customer_id"].isin(kept)].reset_index(drop=True)


def _yes_no(flags: pd.Series) -> pd.Series:
    return flags.map({True: YES, False: NO})


def _tier(spend: pd.Series) -> pd.Series:
    codes = np.searchsorted(np.asarray(TIER_BOUNDS), spend.to_numpy(), side="right")
    return pd.Series(np.asarray(TIER_NAMES, dtype=object)[codes], index=spend.index)


def snapshot(
    activity: pd.DataFrame, month: int, observed_through: int, horizon: int, active_months: int
) -> pd.DataFrame:
    """The rows of one month end: active customers, their features as of `month`, the target.

    Input: monthly_activity's frame and month indexes (see _month_index). Output: PANEL_COLUMNS,
    one row per customer active at `month`, ordered by customer_id; churned is None (blank)
    when month + horizon > observed_through.
    """
    history = activity[activity["month"] <= month]
    per_customer = history.groupby("customer_id", sort=True)
    first = per_customer["month"].min()
    last = per_customer["month"].max()
    active = last.index[last > month - active_months]
    recent = history[history["month"] > month - RECENT_MONTHS].groupby("customer_id")
    this_month = history[history["month"] == month].set_index("customer_id")
    purchases_total = per_customer["purchases"].sum()
    spend_total = per_customer["spend"].sum()
    rows = pd.DataFrame(index=pd.Index(active, name="customer_id"))
    rows["snapshot"] = str(_period(month))
    rows["cohort"] = first.loc[active].map(lambda m: _period(m).strftime("%b %Y"))
    rows["tenure_months"] = month - first.loc[active]
    rows["purchases_1m"] = this_month["purchases"].reindex(active, fill_value=0)
    rows["spend_1m"] = this_month["spend"].reindex(active, fill_value=0.0).round(2)
    rows["purchases_3m"] = recent["purchases"].sum().reindex(active, fill_value=0)
    rows["spend_3m"] = recent["spend"].sum().reindex(active, fill_value=0.0).round(2)
    rows["purchases_total"] = purchases_total.loc[active]
    rows["spend_total"] = spend_total.loc[active].round(2)
    rows["cds_total"] = per_customer["cds"].sum().loc[active]
    rows["avg_basket"] = (spend_total.loc[active] / purchases_total.loc[active]).round(2)
    rows["months_since_last_purchase"] = month - last.loc[active]
    rows["spend_tier"] = _tier(rows["spend_total"])
    rows["bought_last_month"] = _yes_no(rows["purchases_1m"] > 0)
    rows["repeat_buyer"] = _yes_no(rows["purchases_total"] > 1)
    if month + horizon > observed_through:
        rows["churned"] = None
    else:
        ahead = activity[(activity["month"] > month) & (activity["month"] <= month + horizon)]
        bought_ahead = pd.Series(rows.index.isin(ahead["customer_id"].unique()), index=rows.index)
        rows["churned"] = _yes_no(~bought_ahead)
    return rows.reset_index()[list(PANEL_COLUMNS)].astype(DTYPES)


def build_panel(
    transactions: pd.DataFrame,
    first: pd.Period,
    last: pd.Period,
    observed_through: pd.Period,
    horizon: int = HORIZON,
    active_months: int = ACTIVE_MONTHS,
) -> pd.DataFrame:
    """Monthly snapshots from `first` to `last` (inclusive), ordered by snapshot, customer_id.

    Input: load_transactions's frame; months as pandas monthly Periods; `observed_through` is
    the last month whose purchases are all in `transactions`. Output: PANEL_COLUMNS (see the
    module docstring); one row per (customer_id, snapshot).
    """
    if horizon < 1 or active_months < 1:
        raise ValueError(f"horizon and active_months must be >= 1, not {horizon}, {active_months}")
    if first > last:
        raise ValueError(f"first snapshot {first} is after the last {last}")
    activity = monthly_activity(transactions)
    end = _month_index(observed_through)
    frames = [
        snapshot(activity, month, end, horizon, active_months)
        for month in range(_month_index(first), _month_index(last) + 1)
    ]
    return pd.concat(frames, ignore_index=True)


def summary(panel: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot: rows, churners, churn rate among labelled rows, blank targets."""
    churned = panel["churned"]
    frame = pd.DataFrame(
        {
            "snapshot": panel["snapshot"],
            "labelled": churned.notna(),
            "churned": churned.eq(YES),
            "blank": churned.isna(),
        }
    )
    table = frame.groupby("snapshot").agg(
        rows=("labelled", "size"),
        churned=("churned", "sum"),
        labelled=("labelled", "sum"),
        blank=("blank", "sum"),
    )
    table["churn_rate"] = (table["churned"] / table["labelled"].where(table["labelled"] > 0)).round(
        4
    )
    return table.reset_index()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--transactions", type=Path, required=True,
                        help="CDNOW_master.txt (in the lifetimes package's datasets/)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="the panel CSV to write")
    parser.add_argument("--first", type=pd.Period,
                        help="first snapshot YYYY-MM (default: last first purchase)")  # fmt: skip
    parser.add_argument("--last", type=pd.Period,
                        help="last snapshot YYYY-MM (default: --observed-through)")  # fmt: skip
    parser.add_argument("--observed-through", type=pd.Period,
                        help="last fully observed month (default: last purchase)")  # fmt: skip
    parser.add_argument("--horizon", type=int, default=HORIZON, help="K (default: %(default)s)")
    parser.add_argument("--active-months", type=int, default=ACTIVE_MONTHS,
                        help="A (default: %(default)s)")  # fmt: skip
    parser.add_argument("--customers", type=int, help="keep a seeded sample of this many")
    parser.add_argument("--seed", type=int, default=SEED, help="default: %(default)s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    transactions = load_transactions(args.transactions)
    if args.customers is not None:
        transactions = sample_customers(transactions, args.customers, args.seed)
    months = transactions["date"].dt.to_period("M")
    observed_through = args.observed_through or months.max()
    first = args.first or months.groupby(transactions["customer_id"]).min().max()
    last = args.last or observed_through
    panel = build_panel(transactions, first, last, observed_through, args.horizon,
                        args.active_months)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    panel.to_csv(args.out, index=False)
    log.info("%s: %d rows of %d customers, %d snapshots %s to %s", args.out, len(panel),
             panel["customer_id"].nunique(), panel["snapshot"].nunique(), first, last)  # fmt: skip
    log.info("per snapshot:\n%s", summary(panel).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
