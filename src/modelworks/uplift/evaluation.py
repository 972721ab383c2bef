"""The promotion gate's evaluator for uplift models: uplift metrics on resampled holdout rows.

The gate compares a challenger and the champion on the challenger's holdout rows with a paired
bootstrap: each round resamples rows, and both models' metric (the Qini coefficient, say) is
computed on the same resample. An uplift metric needs each row's treatment and outcome: the
outcome column is the evidence's ``label``, and the holdout stored as evidence carries the
treatment flag in ``TREATMENT_COLUMN`` (``evidence_rows`` puts it there).

The uplift task family (``modelworks.tasks.uplift``) builds it for the gate from a version's
stored evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from modelworks.registry.evaluation import SubsetMetric
from modelworks.uplift.learners import TREATMENT_FEATURE
from modelworks.uplift.metrics import qini_coefficient, uplift_at_k
from modelworks.uplift.serving import UPLIFT, predict_served

TREATMENT_COLUMN = TREATMENT_FEATURE
"""Where the stored holdout keeps the treatment flag (0/1)."""

METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]] = {
    "qini_coefficient": qini_coefficient,
    "qini_area": lambda y, t, s: qini_coefficient(y, t, s, normalize=False),
    "uplift_at_10": lambda y, t, s: uplift_at_k(y, t, s, 0.1),
    "uplift_at_30": lambda y, t, s: uplift_at_k(y, t, s, 0.3),
    "uplift_at_50": lambda y, t, s: uplift_at_k(y, t, s, 0.5),
}
"""The metrics a candidate is selected and gated by, each computed from outcome, treatment and
score; higher is better for every one."""


def evidence_rows(holdout: pd.DataFrame, *, treatment: str) -> pd.DataFrame:
    """The holdout as the gate stores it: every column, the treatment flag also under
    ``TREATMENT_COLUMN``."""
    if treatment == TREATMENT_COLUMN:
        return holdout
    if TREATMENT_COLUMN in holdout.columns:
        raise ValueError(
            f"the holdout has a column {TREATMENT_COLUMN!r} that is not its treatment "
            f"({treatment!r}); rename it, the gate stores the treatment flag there"
        )
    return holdout.assign(**{TREATMENT_COLUMN: holdout[treatment]})


class UpliftEvaluator:
    """Predicted uplift against the randomised treatment and the observed outcome."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        return predict_served(model, frame)[UPLIFT].to_numpy()

    def metric(self, name: str, frame: pd.DataFrame, predictions: np.ndarray) -> SubsetMetric:
        if name not in METRICS:
            raise ValueError(f"no uplift metric {name!r} for the gate; known: {sorted(METRICS)}")
        missing = [c for c in (self.outcome, TREATMENT_COLUMN) if c not in frame.columns]
        if missing:
            raise ValueError(f"the stored holdout lacks the columns {missing} uplift needs")
        compute = METRICS[name]
        outcome = frame[self.outcome].to_numpy(dtype=float)
        treatment = frame[TREATMENT_COLUMN].to_numpy(dtype=np.int64)
        scores = np.asarray(predictions, dtype=float)

        def on_rows(rows: np.ndarray) -> float:
            return compute(outcome[rows], treatment[rows], scores[rows])

        return on_rows

    def n_units(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def higher_is_better(self, name: str) -> bool:
        return True
