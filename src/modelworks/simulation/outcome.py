"""What a replay measured, per policy: realised loss week by week, promotions (false ones
before the shift), and how soon a better champion took over after it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from modelworks.simulation.params import SimulationParams


def scores_table(scored: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (policy, week, model, scored row): the champion's and the challengers'
    scores side by side, with each row's realised loss."""
    parts = [
        pd.DataFrame(
            {
                "policy": part["policy"],
                "week": part["week"],
                "role": part["role"],
                "version": part["version"],
                "run_id": part["run_id"],
                "row": part["row"],
                "score": part["score"],
                "loss": part["loss"],
            }
        )
        for part in scored
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def add_realised(timeline: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``realised_loss``: each policy-week's mean loss of its champion on the week's rows."""
    champion = scores[scores["role"] == "champion"]
    weekly = champion.groupby(["policy", "week"])["loss"].mean().rename("realised_loss")
    return timeline.merge(weekly.reset_index(), on=["policy", "week"], how="left")


def summarise(
    timeline: pd.DataFrame,
    scores: pd.DataFrame,
    simulation: SimulationParams,
    *,
    loss: str | None,
    model_names: dict[str, str],
    loss_of_run: Callable[[str], np.ndarray],
) -> dict[str, Any]:
    """Per policy: retrains, promotions, false promotions, weeks from the shift to the first
    better champion and the mean realised loss; the shift and the policy compared against."""
    policies = {
        name: _policy_outcome(timeline[timeline["policy"] == name], scores, simulation, loss_of_run)
        | {"model_name": model_names[name]}
        for name in simulation.policies
    }
    current = timeline[timeline["policy"] == simulation.current_policy]
    return {
        "loss": loss,
        "weeks": simulation.weeks,
        "shift_week": simulation.shift_week if simulation.shifted else None,
        "current_policy": simulation.current_policy,
        "policies": policies,
        "drift_critical_weeks": _weeks_with(current, "drift_verdict", "critical"),
    }


def _policy_outcome(
    timeline: pd.DataFrame,
    scores: pd.DataFrame,
    simulation: SimulationParams,
    loss_of_run: Callable[[str], np.ndarray],
) -> dict[str, Any]:
    timeline = timeline.sort_values("week")
    champions = timeline["champion_version"].astype(str).tolist()
    weeks = timeline["week"].astype(int).tolist()
    promotions = [
        w
        for w, before, now in zip(weeks[1:], champions[:-1], champions[1:], strict=True)
        if before != now
    ]
    shift = simulation.shift_week if simulation.shifted else None
    last_quiet = (shift if shift is not None else simulation.weeks) - 1
    better = _first_better(timeline, scores, promotions, shift, loss_of_run)
    return {
        "retrain_weeks": [int(w) for w in timeline.loc[timeline["retrain"].astype(bool), "week"]],
        "promotion_weeks": promotions,
        "live_promotion_weeks": _weeks_with(timeline, "live_promoted"),
        "false_promotions": sum(1 for w in promotions if 1 <= w <= last_quiet),
        "first_better_champion_week": better,
        "weeks_to_better_champion": None if better is None or shift is None else better - shift,
        "mean_realised_loss": _mean(timeline["realised_loss"]),
        "mean_realised_loss_after_shift": _mean(
            timeline.loc[timeline["week"] >= (shift or 0), "realised_loss"]
        ),
        "champions": champions,
    }


def _first_better(
    timeline: pd.DataFrame,
    scores: pd.DataFrame,
    promotions: list[int],
    shift: int | None,
    loss_of_run: Callable[[str], np.ndarray],
) -> int | None:
    """The first promotion (from the shift on) whose champion, over the weeks it served, had a
    lower realised loss than the champion it replaced on the same rows."""
    by_week = timeline.set_index("week")["champion_version"].astype(str)
    mine = scores[(scores["policy"] == timeline["policy"].iloc[0]) & (scores["role"] == "champion")]
    run_of = dict(zip(mine["version"].astype(str), mine["run_id"], strict=False))
    if not promotions:
        return None
    ends = [*promotions[1:], int(timeline["week"].max()) + 1]
    for week, end in zip(promotions, ends, strict=True):
        if shift is not None and week < shift:
            continue
        rows = mine.loc[(mine["week"] >= week) & (mine["week"] < end), "row"].to_numpy()
        new, old = loss_of_run(run_of[by_week[week]]), loss_of_run(run_of[by_week[week - 1]])
        if len(rows) and float(new[rows].mean()) < float(old[rows].mean()):
            return week
    return None


def _weeks_with(timeline: pd.DataFrame, column: str, value: str | None = None) -> list[int]:
    """The weeks where ``column`` holds ``value`` (any value when None)."""
    if column not in timeline:
        return []
    held = timeline[column].notna() if value is None else timeline[column] == value
    return [int(w) for w in timeline.loc[held, "week"]]


def _mean(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(np.mean(values)) if len(values) else None
