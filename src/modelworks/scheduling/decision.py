"""Whether to retrain: a pure function of the latest monitoring summary and the champion.

Each trigger the policy enables is evaluated and reported, fired or not, so the decision
log says why a model was (or was not) retrained:

* ``drift``: the batch's worst verdict (features and scores) reached ``policy.drift``;
* ``estimated_drop``: the label-free estimate of the metric fell below the champion's
  reference performance by more than ``max_estimated_drop`` (and more than two standard
  errors of the estimate, so a small batch does not cry wolf);
* ``realised_drop``: the same with realised performance, once labels arrived;
* ``age``: the champion's training data is older than ``max_age_days`` (the schedule's
  periodic refresh).

``min_days_between`` holds a new retrain back for a while after the last one, whatever fires.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from modelworks.params import StrictModel

_SEVERITY = {"ok": 0, "warn": 1, "critical": 2}


class RetrainPolicy(StrictModel):
    """When a use case retrains; ``None`` switches a trigger off."""

    drift: Literal["warn", "critical"] | None = "critical"
    metric: str = "roc_auc"
    max_estimated_drop: float | None = Field(default=0.03, ge=0)
    max_realised_drop: float | None = Field(default=0.03, ge=0)
    max_age_days: float | None = Field(default=90, gt=0)
    min_days_between: float = Field(default=0, ge=0)


def decide_retrain(
    summary: dict[str, Any],
    *,
    champion: dict[str, Any] | None,
    as_of: datetime,
    policy: RetrainPolicy,
    last_retrain_at: datetime | None = None,
    higher_is_better: bool = True,
    extra_triggers: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """``{"retrain": bool, "reasons": [...], "triggers": [...], ...}`` for one batch.

    ``champion`` holds ``version`` and ``data_through`` (the last event time of its training
    data); without a champion the answer is always to train. ``as_of`` is the batch's time,
    which is the data's clock, not the wall clock, so replays decide as they would have.
    ``higher_is_better`` is the direction of ``policy.metric``: a drop of a loss (RMSE, log
    loss) is a rise. ``extra_triggers`` are a task family's own, already evaluated (an
    uplift's realised Qini), held to the same cooldown.
    """
    if champion is None:
        return _decision(True, ["no champion yet"], [], as_of, champion)
    triggers = []
    if policy.drift is not None:
        verdict = summary.get("verdict", "ok")
        triggers.append(
            _trigger(
                "drift",
                _SEVERITY[verdict] >= _SEVERITY[policy.drift],
                verdict,
                f">= {policy.drift}",
            )
        )
    reference = (summary.get("reference_performance") or {}).get(policy.metric)
    estimated = summary.get("estimated_performance") or {}
    sign, worse, towards = (1.0, "<", "minus") if higher_is_better else (-1.0, ">", "plus")
    if policy.max_estimated_drop is not None and reference is not None and estimated:
        value = estimated.get(policy.metric)
        noise = 2 * (estimated.get(f"{policy.metric}_se") or 0.0)
        limit = reference - sign * max(policy.max_estimated_drop, noise)
        triggers.append(
            _trigger(
                "estimated_drop",
                value is not None and sign * value < sign * limit,
                value,
                f"{worse} {limit:.4f} (reference {reference:.4f} {towards} "
                f"max({policy.max_estimated_drop}, 2 se))",
            )
        )
    realised = summary.get("realised_performance") or {}
    if policy.max_realised_drop is not None and reference is not None and realised:
        value = realised.get(policy.metric)
        limit = reference - sign * policy.max_realised_drop
        triggers.append(
            _trigger(
                "realised_drop",
                value is not None and sign * value < sign * limit,
                value,
                f"{worse} {limit:.4f}",
            )
        )
    if policy.max_age_days is not None and champion.get("data_through"):
        age = (as_of - _timestamp(champion["data_through"])).total_seconds() / 86400
        triggers.append(
            _trigger(
                "age", age > policy.max_age_days, round(age, 2), f"> {policy.max_age_days} days"
            )
        )
    triggers.extend(extra_triggers)
    fired = [t["trigger"] for t in triggers if t["fired"]]
    if fired and last_retrain_at is not None and policy.min_days_between > 0:
        since = (as_of - last_retrain_at).total_seconds() / 86400
        if since < policy.min_days_between:
            reason = f"{', '.join(fired)} fired, but the last retrain was {since:.1f} days ago"
            return _decision(False, [reason], triggers, as_of, champion)
    reasons = [f"{t['trigger']}: {t['value']} {t['threshold']}" for t in triggers if t["fired"]]
    return _decision(bool(fired), reasons or ["no trigger fired"], triggers, as_of, champion)


def driven_by_drift(decision: dict[str, Any] | None) -> bool:
    """Whether the drift trigger fired in a retrain ``decision``."""
    triggers = (decision or {}).get("triggers") or []
    return any(t["trigger"] == "drift" and t["fired"] for t in triggers)


def _trigger(name: str, fired: bool, value: Any, threshold: str) -> dict[str, Any]:
    return {"trigger": name, "fired": bool(fired), "value": value, "threshold": threshold}


def _decision(
    retrain: bool,
    reasons: list[str],
    triggers: list[dict[str, Any]],
    as_of: datetime,
    champion: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "retrain": retrain,
        "reasons": reasons,
        "triggers": triggers,
        "as_of": as_of.isoformat(),
        "champion_version": None if champion is None else champion.get("version"),
    }


def _timestamp(value: Any) -> datetime:
    import pandas as pd

    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()
