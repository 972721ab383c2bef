"""Monitoring an uplift model in production: realised uplift on the random holdouts, and whether
to retrain.

A targeting policy (``policy.assign_treatments``) keeps two random holdouts whose treatment
ignores the score; once their outcomes arrive, treated minus control within them is the
realised uplift, per decile of the prediction and overall. ``decide_uplift_retrain`` adds one
trigger to ``scheduling.decision.decide_retrain``'s drift and age triggers: the realised Qini
coefficient fell below the champion's holdout Qini by more than the policy allows *and* more
than two bootstrap standard errors, so a small batch does not cry wolf. The cooldown after the
last retrain holds back every trigger, this one included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from modelworks.scheduling.decision import RetrainPolicy, decide_retrain
from modelworks.uplift.metrics import qini_coefficient, regression_adjusted, uplift_at_k
from modelworks.uplift.policy import HOLDOUT_CONTROL, HOLDOUT_TREATED, holdout_uplift_by_decile

QINI_TRIGGER = "realised_qini_drop"
_SE_RESAMPLES = 200


class UpliftRetrainPolicy(RetrainPolicy):
    """When an uplift use case retrains; ``None`` switches a trigger off.

    ``decide_retrain``'s policy with the realised-Qini trigger added; its label-free and
    realised performance triggers are off, since uplift has no calibrated score to estimate
    from and no per-row label in a scored batch.
    """

    metric: str = "qini_coefficient"
    max_estimated_drop: float | None = Field(default=None, ge=0)
    max_realised_drop: float | None = Field(default=None, ge=0)
    max_qini_drop: float | None = Field(default=0.05, ge=0)
    """Realised holdout Qini below the champion's training-holdout Qini by more than this."""
    min_holdout_rows: int = Field(default=200, ge=20)
    """Fewer rows in the two holdouts together leave the Qini trigger unevaluated."""


def holdouts_with_outcomes(
    assignments: pd.DataFrame, outcomes: pd.DataFrame, *, key: str, columns: list[str]
) -> pd.DataFrame:
    """The two holdouts of ``assignments`` with their ``columns`` from ``outcomes`` (by ``key``).

    Every holdout row must have its outcome: measuring on the rows that happen to have
    arrived would bias the comparison.
    """
    missing = [c for c in [key, *columns] if c not in outcomes.columns]
    if missing:
        raise ValueError(f"outcomes lack columns {missing}; they have {list(outcomes.columns)}")
    held = assignments[assignments["group"].isin([HOLDOUT_TREATED, HOLDOUT_CONTROL])]
    clash = [c for c in columns if c in held.columns]
    if clash:
        raise ValueError(f"the assignments already hold the outcome columns {clash}")
    joined = held.merge(outcomes[[key, *columns]], on=key, how="left", validate="one_to_one")
    unknown = joined[columns].isna().any(axis=1)
    if unknown.any():
        sample = joined.loc[unknown, key].head(5).tolist()
        raise ValueError(
            f"{int(unknown.sum())} holdout rows have no outcome yet, e.g. {key} {sample}; "
            "measure once every holdout outcome has arrived"
        )
    return joined


def _qini_with_se(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[float, float | None]:
    """The Qini coefficient and its bootstrap standard error (None when it is undefined)."""
    value = qini_coefficient(y, t, s)
    rng = np.random.default_rng(0)
    resampled = []
    for _ in range(_SE_RESAMPLES):
        rows = rng.integers(0, len(y), len(y))
        if t[rows].min() == t[rows].max():
            continue
        try:
            resampled.append(qini_coefficient(y[rows], t[rows], s[rows]))
        except ValueError:  # a resample where even the perfect ranking gains nothing
            continue
    return value, float(np.std(resampled, ddof=1)) if len(resampled) > 1 else None


def measure_holdouts(
    held: pd.DataFrame,
    *,
    outcome: str,
    score: str,
    value: str,
    value_score: str,
    value_at_stake: str,
) -> dict[str, Any]:
    """Realised uplift on the holdout rows: counts, overall, top 30 %, Qini, per decile.

    ``outcome`` by ``score`` (repayment by predicted uplift) and ``value`` by ``value_score``
    (amount repaid by predicted revenue uplift, regression-adjusted on ``value_at_stake``), per
    decile of the targeting score the rows were assigned with. Metrics that the rows cannot
    support (an arm missing from the top 30 %) are None, with the reason under ``undefined``.
    """
    treated = (held["group"] == HOLDOUT_TREATED).to_numpy().astype(np.int64)
    y = held[outcome].to_numpy(dtype=float)
    s = held[score].to_numpy(dtype=float)
    n_treated, n_control = int(treated.sum()), int(len(treated) - treated.sum())
    report: dict[str, Any] = {
        "n_holdout_treated": n_treated,
        "n_holdout_control": n_control,
        "uplift": None,
        "uplift_at_30": None,
        "qini_coefficient": None,
        "qini_coefficient_se": None,
        "undefined": {},
    }
    if n_treated and n_control:
        report["uplift"] = float(y[treated == 1].mean() - y[treated == 0].mean())
        try:
            report["uplift_at_30"] = uplift_at_k(y, treated, s, 0.3)
        except ValueError as exc:
            report["undefined"]["uplift_at_30"] = str(exc)
        try:
            report["qini_coefficient"], report["qini_coefficient_se"] = _qini_with_se(y, treated, s)
        except ValueError as exc:
            report["undefined"]["qini_coefficient"] = str(exc)
    else:
        report["undefined"]["uplift"] = "a holdout has no rows"
    report["deciles"] = table_records(holdout_uplift_by_decile(held, outcome=outcome, score=score))
    values = held[value].to_numpy(dtype=float)
    if n_treated and n_control:
        values = regression_adjusted(values, treated, held[value_at_stake])
    report["value_deciles"] = table_records(
        holdout_uplift_by_decile(held.assign(**{value: values}), outcome=value, score=value_score)
    )
    return report


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready rows, NaN (an arm without rows) as None."""
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in table.astype(object).to_dict("records")
    ]


def decide_uplift_retrain(
    summary: dict[str, Any],
    *,
    champion: dict[str, Any],
    as_of: datetime,
    policy: RetrainPolicy,
    last_retrain_at: datetime | None = None,
) -> dict[str, Any]:
    """``decide_retrain``'s decision (drift, age) with the realised-Qini trigger added when
    ``policy`` has one (an ``UpliftRetrainPolicy``), all held back within the cooldown of
    ``policy.min_days_between`` after ``last_retrain_at``.

    ``summary`` is a monitoring summary with ``holdout_uplift`` (``measure_holdouts``);
    ``champion`` holds ``version``, ``data_through`` and ``qini_coefficient``, its Qini on its
    own training holdout.
    """
    return decide_retrain(
        summary,
        champion=champion,
        as_of=as_of,
        policy=policy,
        last_retrain_at=last_retrain_at,
        extra_triggers=qini_triggers(summary, champion.get("qini_coefficient"), policy),
    )


def qini_triggers(
    summary: dict[str, Any], reference: float | None, policy: RetrainPolicy
) -> list[dict[str, Any]]:
    """The realised-Qini trigger of an ``UpliftRetrainPolicy`` (none for another policy)."""
    max_drop = getattr(policy, "max_qini_drop", None)
    if max_drop is None:
        return []
    holdout = summary.get("holdout_uplift") or {}
    min_rows = getattr(policy, "min_holdout_rows", 0)
    return [_qini_trigger(holdout, reference, max_drop=max_drop, min_rows=min_rows)]


def _qini_trigger(
    holdout: dict[str, Any], reference: float | None, *, max_drop: float, min_rows: int
) -> dict[str, Any]:
    rows = int(holdout.get("n_holdout_treated", 0)) + int(holdout.get("n_holdout_control", 0))
    realised, se = holdout.get("qini_coefficient"), holdout.get("qini_coefficient_se")
    if reference is None:
        threshold = "not evaluated: the champion has no recorded holdout Qini"
    elif rows < min_rows:
        threshold = f"not evaluated: needs {min_rows} holdout rows, has {rows}"
    elif realised is None:
        threshold = f"not evaluated: {holdout.get('undefined', {}).get('qini_coefficient')}"
    else:
        limit = float(reference) - max(max_drop, 2 * (se or 0.0))
        return {
            "trigger": QINI_TRIGGER,
            "fired": bool(realised < limit),
            "value": round(float(realised), 4),
            "threshold": f"< {limit:.4f} (champion {float(reference):.4f} minus "
            f"max({max_drop}, 2 se))",
        }
    return {"trigger": QINI_TRIGGER, "fired": False, "value": realised, "threshold": threshold}
