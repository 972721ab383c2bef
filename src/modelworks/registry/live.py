"""Live evidence: whether a shadow challenger beats the champion on the same labelled rows.

Both models score every batch; once a row's label arrives, each model's loss on it is known
and their difference ``d = loss(champion) - loss(challenger)`` (positive: the challenger was
better) joins the evidence, in the order the labels arrived. The task scales its losses into
[0, 1] (``Task.live_losses``), so every ``d`` lies in [-1, 1].

The decision rule is a sequential test by betting (Waudby-Smith and Ramdas, "Estimating means
of bounded random variables by betting", JRSS-B 2024). The null hypothesis is that the
challenger's advantage is at most ``min_delta``: ``E[d_t | d_1..d_{t-1}] <= min_delta`` for
every row. A bettor starts with wealth 1 and stakes a fraction ``lambda_t`` of it on each row,
chosen from the rows before it only (aGRAPA: the running mean over the running second moment,
capped at 0.9 of what keeps wealth positive):

    K_t = prod_{i <= t} (1 + lambda_i (d_i - min_delta))

Under the null, ``K`` is a non-negative supermartingale, so by Ville's inequality the chance
that it *ever* reaches ``1 / alpha`` is at most ``alpha``: the test may be looked at after
every batch, for as long as the challenger is in shadow, and a challenger no better than the
champion is promoted with probability at most ``alpha``. With up to ``m`` challengers in
shadow at once, each is held to ``m / alpha`` (Bonferroni), so the chance that any of them is
promoted falsely stays at most ``alpha``. No distribution is assumed beyond the bounded loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from modelworks.params import StrictModel


class LiveTest(StrictModel):
    """When a shadow challenger's realised advantage counts as evidence enough to promote."""

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Largest chance of promoting a challenger that is no better than the champion."""
    min_delta: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Advantage in the task's scaled loss the challenger must beat, not only zero."""
    min_rows: int = Field(default=200, ge=1)
    """Labelled rows both models scored before any decision (the test is valid without it;
    it keeps a promotion from resting on a handful of rows)."""
    loss_scale: float | None = Field(default=None, gt=0.0)
    """Regression only: the error that counts as a full miss (squared errors are divided by
    its square and capped at 1)."""


@dataclass(frozen=True)
class LiveEvidence:
    """The sequential test of one challenger against the champion on their shared rows."""

    challenger_version: str
    champion_version: str
    n_rows: int
    mean_advantage: float | None
    """Mean of ``loss(champion) - loss(challenger)`` over the rows (positive: challenger
    better)."""
    champion_loss: float | None
    challenger_loss: float | None
    e_value: float
    """The largest wealth the bettor reached: evidence against "no better than champion"."""
    threshold: float
    passed: bool
    alpha: float
    min_delta: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if not self.n_rows:
            return "no labelled rows scored by both models yet"
        return (
            f"loss {self.champion_loss:.5f} (champion v{self.champion_version}) against "
            f"{self.challenger_loss:.5f} on {self.n_rows} labelled rows; e-value "
            f"{self.e_value:.3g} (promote at {self.threshold:.3g})"
        )


_CAP = 0.9
"""The largest stake, as a fraction of what would risk all the wealth on one row. Loss
differences are mostly far inside [-1, 1], so the best stake is usually above any cap and the
cap sets how fast evidence grows; 0.9 keeps at least a tenth of the wealth after the worst row.
"""


def betting_wealth(differences: np.ndarray, *, min_delta: float = 0.0) -> np.ndarray:
    """The bettor's wealth after each row (see the module docstring); ``differences`` in
    [-1, 1], in the order the rows' labels arrived."""
    x = np.asarray(differences, dtype=float) - min_delta
    if not len(x):
        return np.ones(0)
    bound = 1.0 + min_delta  # |x| <= bound, so 1 + lambda * x >= 1/10 with the cap below
    n = np.arange(len(x), dtype=float)
    # Running moments of the rows *before* each one (a prior of mean 0, variance 1/4 on one
    # pseudo-row), so every stake is predictable.
    before = np.concatenate([[0.0], np.cumsum(x)[:-1]])
    before_sq = np.concatenate([[0.0], np.cumsum(x * x)[:-1]])
    mean = before / (n + 1)
    second = (0.25 + before_sq) / (n + 1)
    stake = np.clip(mean / np.maximum(second, 1e-12), 0.0, _CAP / bound)
    return np.exp(np.cumsum(np.log1p(stake * x)))


def judge_live(
    champion_losses: np.ndarray,
    challenger_losses: np.ndarray,
    test: LiveTest,
    *,
    champion_version: str,
    challenger_version: str,
    n_challengers: int = 1,
) -> LiveEvidence:
    """The test on both models' losses on the same rows, in label-arrival order."""
    champion = np.asarray(champion_losses, dtype=float)
    challenger = np.asarray(challenger_losses, dtype=float)
    if champion.shape != challenger.shape:
        raise ValueError(
            f"champion and challenger losses differ in shape: {champion.shape} against "
            f"{challenger.shape}; they must be on the same rows"
        )
    outside = ~((champion >= 0) & (champion <= 1) & (challenger >= 0) & (challenger <= 1))
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{int(outside.sum())} losses are outside [0, 1] (NaN included), e.g. row {first}: "
            f"champion {champion[first]!r}, challenger {challenger[first]!r}"
        )
    threshold = max(n_challengers, 1) / test.alpha
    wealth = betting_wealth(champion - challenger, min_delta=test.min_delta)
    peak = float(wealth.max()) if len(wealth) else 1.0
    # Wealth counts only from min_rows on: the first crossing there or later decides.
    reached = len(wealth) >= test.min_rows and bool(
        (wealth[test.min_rows - 1 :] >= threshold).any()
    )
    n = len(champion)
    return LiveEvidence(
        challenger_version=challenger_version,
        champion_version=champion_version,
        n_rows=n,
        mean_advantage=float(np.mean(champion - challenger)) if n else None,
        champion_loss=float(champion.mean()) if n else None,
        challenger_loss=float(challenger.mean()) if n else None,
        e_value=peak,
        threshold=threshold,
        passed=reached,
        alpha=test.alpha,
        min_delta=test.min_delta,
    )


def live_order(times: pd.Series, known: pd.Series | None, *, after: pd.Timestamp) -> np.ndarray:
    """Positions of the rows neither model can have learnt from, in the order their labels
    arrived: labelled after ``after`` (the later of the two models' training times), or, where
    no label time is kept, that happened after it. Rows without a label time are left out."""
    arrival = times if known is None else known
    positions = np.flatnonzero((arrival > after).to_numpy())
    order = np.lexsort((positions, times.to_numpy()[positions], arrival.to_numpy()[positions]))
    return positions[order]
