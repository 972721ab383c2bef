"""The replay's timeline: every policy's realised loss, one policy's champion and shadow
challengers week by week with its promotions, and the drift that started it all."""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelworks.training.figures import agg_figure


def timeline_figure(timeline: pd.DataFrame, summary: dict[str, Any], *, featured: str) -> Any:
    """Three panels by week: realised loss per policy; the champion (line) and challengers
    (hollow markers) of ``featured``, with promotions by the gate and on live evidence; the
    largest feature PSI against the current policy's champion. The shift is marked on all."""
    figure = agg_figure((11, 10), layout="constrained")
    loss, models, drift = figure.subplots(3, 1, sharex=True, height_ratios=[3, 3, 2])
    for name, rows in timeline.groupby("policy", sort=False):
        style = {"linewidth": 2.5} if name == featured else {"linewidth": 1, "alpha": 0.8}
        loss.plot(rows["week"], rows["realised_loss"], marker=".", label=name, **style)
    loss.set_ylabel(f"realised {summary.get('loss') or 'loss'} of the champion")
    loss.legend(loc="best", fontsize=8, title="policy")

    mine = timeline[timeline["policy"] == featured].sort_values("week")
    champion = mine["champion_version"].astype(int)
    models.step(mine["week"], champion, where="post", color="black", label="champion")
    for week, listed in zip(mine["week"], mine["challengers"], strict=True):
        versions = [int(v) for v in str(listed).split(",") if v and v != "nan"]
        models.scatter([week] * len(versions), versions, facecolors="none", edgecolors="tab:blue")
    models.scatter([], [], facecolors="none", edgecolors="tab:blue", label="shadow challenger")
    outcome = summary["policies"][featured]
    live = set(outcome["live_promotion_weeks"])
    for week in outcome["promotion_weeks"]:
        version = int(mine.loc[mine["week"] == week, "champion_version"].iloc[0])
        marker, colour = ("*", "tab:green") if week in live else ("^", "tab:orange")
        models.scatter([week], [version], marker=marker, s=160, color=colour, zorder=3)
    models.scatter([], [], marker="*", s=160, color="tab:green", label="promoted on live evidence")
    models.scatter([], [], marker="^", s=120, color="tab:orange", label="promoted by the gate")
    models.set_ylabel(f"model version ({featured})")
    models.legend(loc="upper left", fontsize=8)

    current = timeline[timeline["policy"] == summary["current_policy"]].sort_values("week")
    psi = pd.to_numeric(current.get("max_psi", pd.Series(0.0, index=current.index)))
    drift.bar(current["week"], psi.fillna(0.0), color="grey")
    drift.set_ylabel("largest feature PSI")
    drift.set_xlabel("week (realised figures are drawn at the week scored; labels arrive later)")
    shift = summary.get("shift_week")
    for axis in (loss, models, drift):
        if shift is not None:
            axis.axvline(shift - 0.5, color="red", linestyle="--")
    loss.plot([], [], color="red", linestyle="--", label="population shift")
    loss.legend(loc="best", fontsize=8)
    loss.set_title(f"Replay: {len(summary['policies'])} policies on the same weeks")
    return figure
