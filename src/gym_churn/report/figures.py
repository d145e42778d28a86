"""The marketer's charts, in the contract's words: titles that state the takeaway, words on
every axis, colours that mean risk (plots.py draws them; this module picks data and words)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from gym_churn import plots
from gym_churn.report import content
from gym_churn.scoring.campaign import Economics


def marketer_charts(r: content.ReportInputs, draw: Any = plots) -> dict[str, Callable[[], Any]]:
    """Figure key (as the template names it) -> a function that draws that matplotlib Figure;
    `draw` is the module that draws them (gym_churn.plots). Drawing is left to the caller,
    which knows the charts' names first and can draw them in two processes."""
    w, c = content.words(r), r.contract
    out: dict[str, Callable[[], Any]] = {}
    camp = content.campaign(r)
    if len(r.curve):
        best_n = float(r.campaign["best_contact_share"]) * float(r.curve["contacted"].iloc[-1])
        if camp["empty"]:
            title = f"No offer returns more than it costs at {camp['rates']['rate']}"
        else:
            title = (f"Contacting the riskiest {camp['sent']} is expected to return "
                     f"{camp['returns']['rate']} after costs")  # fmt: skip
        out["campaign_return"] = partial(
            draw.campaign_return_figure,
            r.curve,
            {"many": w["many"], "currency": w["currency"], **camp["rates"]},
            {"sent": camp["sent_n"], "best": round(best_n)},
            title,
        )
    early = content.early(r)
    if c.tenure and len(r.tenure):
        shown = r.tenure[r.tenure["cumulative_share_of_churners"].shift(fill_value=0) < 0.99]
        tw = c.words(c.tenure)
        unit = f" ({tw.unit})" if tw.unit else ""
        average = float(r.drivers_metrics["churn_rate"])
        title = (f"Most who leave go in their first {early['months']} {early['unit']}"
                 if early else f"Share who left by {tw.label}")  # fmt: skip
        out["tenure_risk"] = partial(
            draw.tenure_risk_figure, shown, f"{tw.label}{unit}", title, average
        )
    shown_assoc, _ = content.associations(r)
    if shown_assoc:
        rows = pd.DataFrame(
            {
                "text": [f"{a['riskier']}\nvs {a['safer']}" for a in shown_assoc],
                "ratio": [a["ratio"] for a in shown_assoc],
            }
        )
        top = shown_assoc[0]
        title = f"{top['riskier'][:1].upper()}{top['riskier'][1:]} leave {top['times']} as often"
        out["associations"] = partial(
            draw.ratio_bars_figure,
            rows,
            f"times as often the first group leaves (1 = as often; {w['many']})",
            _short(title),
        )
    groups = content.rule_groups(r)
    shown_groups = [g for g in groups if g["held_out_n"]]
    if shown_groups:
        rows = pd.DataFrame({
            "text": [_wrap(g["text"]) for g in shown_groups],
            "rate": [g["rate_n"] for g in shown_groups],
            "low": [g["low_n"] for g in shown_groups],
            "high": [g["high_n"] for g in shown_groups],
        })  # fmt: skip
        top = max(shown_groups, key=lambda g: g["rate_n"])
        out["groups"] = partial(
            draw.group_rates_figure,
            rows,
            float(r.drivers_metrics["churn_rate"]),
            f"share of {w['many']} who left (95% CI, {w['many']} the split never saw)",
            f"{top['rate']} of one group left: {_short(top['text'], 50)}",
        )
    return out


def profit_figure(r: content.ReportInputs, draw: Any = plots) -> Any:
    """The campaign's expected profit by share contacted, for the appendix, in the terms the
    campaign stage used: its success rate and band (assumed or measured), best share and
    budget share (reports/campaign.json), the offer's cost and a member's value (params)."""
    d = r.campaign_details
    eco = Economics(
        offer_cost=float(r.economics["offer_cost"]),
        member_value=float(r.economics["member_value"]),
        success_rate=float(d["success_rate"]),
        success_rate_low=float(d["success_rate_low"]),
        success_rate_high=float(d["success_rate_high"]),
    )
    best = {"contact_share": float(d["best_contact_share"])}
    return draw.profit_figure(r.curve, best, float(d["budget_contact_share"]), eco)


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _wrap(text: str, width: int = 48) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
