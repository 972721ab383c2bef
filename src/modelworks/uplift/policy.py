"""Targeting in production: whom to treat, with random holdouts that keep measuring uplift.

Once a model decides who is treated, treated and control rows stop being comparable and the
model's uplift can no longer be checked. So the policy keeps two random holdouts, drawn
independently of the score: a share treated regardless (``holdout_treated``) and a share never
treated (``holdout_control``). Compared with each other they estimate the realised uplift per
decile of the prediction, batch after batch.

Each row's holdout draw is a hash of its key and the seed: the same row gets the same group
whatever the batch's order or a re-run, and different keys get independent draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from modelworks.params import StrictModel
from modelworks.uplift.metrics import (
    arm_means_by_group,
    decile_of,
    qini_coefficient,
    uplift_at_k,
)

HOLDOUT_TREATED = "holdout_treated"
HOLDOUT_CONTROL = "holdout_control"
TARGETED = "targeted"
"""Rows whose treatment the score decides: treated when the score exceeds the cost."""
ASSIGNMENT_COLUMNS = ("rank", "decile", "group", "treat")


class TargetingPolicy(StrictModel):
    """Treat while the predicted value uplift exceeds the cost, around two random holdouts."""

    cost: float = Field(ge=0.0)  # of one treatment, in the units of the score
    holdout_treated: float = Field(default=0.05, ge=0.0, lt=1.0)  # treated regardless of score
    holdout_control: float = Field(default=0.05, ge=0.0, lt=1.0)  # never treated
    seed: int = 0

    @model_validator(mode="after")
    def _holdouts_leave_rows_to_target(self) -> TargetingPolicy:
        if self.holdout_treated + self.holdout_control >= 1.0:
            raise ValueError(
                f"holdout_treated ({self.holdout_treated}) + holdout_control "
                f"({self.holdout_control}) must be below 1: no row would be left to target"
            )
        return self


def holdout_draw(keys: pd.Series, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per key, fixed by the key and the seed."""
    salt = f"{seed % 10**16:016d}"  # pandas wants a 16-character hash key
    hashed = pd.util.hash_pandas_object(keys.astype(str), index=False, hash_key=salt)
    # The top 53 bits as a float: exact, and never rounds up to 1.0.
    return (hashed.to_numpy(dtype=np.uint64) >> np.uint64(11)) / float(2**53)


def assign_treatments(
    frame: pd.DataFrame, *, score: str, key: str, policy: TargetingPolicy
) -> pd.DataFrame:
    """``frame`` ranked by ``score`` with ``rank``, ``decile``, ``group`` and ``treat`` added.

    ``rank`` 1 is the highest score and ``decile`` 1 its top tenth, over the whole batch;
    ``group`` is ``holdout_treated``, ``holdout_control`` or ``targeted``; ``treat`` is 1 for
    the first group, 0 for the second and ``score > cost`` for the rest.
    """
    missing = [c for c in (score, key) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; columns: {list(frame.columns)}")
    clash = [c for c in ASSIGNMENT_COLUMNS if c in frame.columns]
    if clash:
        raise ValueError(f"frame already has the columns {clash} that assign_treatments adds")
    scores = frame[score].to_numpy(dtype=float)
    if not np.isfinite(scores).all():
        raise ValueError(f"score column {score!r} has NaN or infinite values")
    if frame[key].isna().any():
        raise ValueError(f"key column {key!r} has missing values; every row needs a key")

    draw = holdout_draw(frame[key], policy.seed)
    always = draw < policy.holdout_treated
    never = ~always & (draw < policy.holdout_treated + policy.holdout_control)
    out = frame.copy()
    out["decile"] = decile_of(scores)
    out["group"] = np.select([always, never], [HOLDOUT_TREATED, HOLDOUT_CONTROL], TARGETED)
    out["treat"] = np.where(always, 1, np.where(never, 0, scores > policy.cost)).astype(np.int64)
    out = out.iloc[np.argsort(-scores, kind="stable")]
    out.insert(len(frame.columns), "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    return out.reset_index(drop=True)


def _holdout_rows(assignments: pd.DataFrame, outcome: str) -> pd.DataFrame:
    needed = [outcome, "group", "decile"]
    missing = [c for c in needed if c not in assignments.columns]
    if missing:
        raise ValueError(
            f"assignments lack columns {missing}: pass assign_treatments' output with the outcome"
        )
    held = assignments[assignments["group"].isin([HOLDOUT_TREATED, HOLDOUT_CONTROL])]
    if held[outcome].isna().any():
        raise ValueError(
            f"{int(held[outcome].isna().sum())} holdout rows have no {outcome!r} yet; "
            "measure once their outcomes have arrived"
        )
    return held


def holdout_uplift_by_decile(
    assignments: pd.DataFrame, *, outcome: str, score: str
) -> pd.DataFrame:
    """Realised uplift per predicted decile: holdout treated minus holdout control.

    Only the two random holdouts count (within them treatment is independent of the score).
    Columns as ``uplift_by_decile``; a decile without rows of both holdouts has NaN uplift.
    """
    held = _holdout_rows(assignments, outcome)
    table = arm_means_by_group(
        held["decile"].to_numpy(),
        held[outcome].to_numpy(dtype=float),
        (held["group"] == HOLDOUT_TREATED).to_numpy().astype(np.int64),
        held[score].to_numpy(dtype=float),
    )
    return table.rename_axis("decile").reset_index()


def holdout_uplift_summary(
    assignments: pd.DataFrame, *, outcome: str, score: str
) -> dict[str, Any]:
    """Realised uplift on the holdouts, overall and for the top 30 %, and its Qini coefficient."""
    held = _holdout_rows(assignments, outcome)
    treated = (held["group"] == HOLDOUT_TREATED).to_numpy().astype(np.int64)
    y, s = held[outcome].to_numpy(dtype=float), held[score].to_numpy(dtype=float)
    summary: dict[str, Any] = {
        "n_holdout_treated": int(treated.sum()),
        "n_holdout_control": int(len(treated) - treated.sum()),
    }
    if summary["n_holdout_treated"] == 0 or summary["n_holdout_control"] == 0:
        raise ValueError(
            f"need rows in both holdouts to measure uplift; got {summary['n_holdout_treated']} "
            f"treated and {summary['n_holdout_control']} control"
        )
    summary["uplift"] = float(y[treated == 1].mean() - y[treated == 0].mean())
    summary["uplift_at_30"] = uplift_at_k(y, treated, s, 0.3)
    summary["qini_coefficient"] = qini_coefficient(y, treated, s)
    return summary
