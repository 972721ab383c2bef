"""Uplift metrics: how well a score ranks rows by the effect of a treatment on their outcome.

Every function takes the observed ``outcome`` (0/1, or a value such as revenue), the randomised
``treatment`` (1 = treated, 0 = control) and a ``score`` (predicted uplift: higher means treat
first). Treatment must have been assigned at random, independently of the score; only then is
"treated minus control" within a group of rows an unbiased estimate of the treatment's effect
there.

Qini (Radcliffe 2007). Rank rows by score, highest first. After the top ``k`` rows,

    Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)

where ``Y_t``/``Y_c`` sum the outcome of the treated/control rows among them and ``N_t``/``N_c``
count those rows (the control term is 0 while no control row has been reached): the incremental
outcome among the treated top rows, with the control rows as their counterfactual. The curve is
evaluated where the score changes, so tied rows enter together and their order does not matter.
The random ranking is the straight line from (0, 0) to (1, Q(N)). The **Qini coefficient** is the
area between the model's curve and that line, x = fraction targeted, divided by the same area of
the perfect ranking (treated rows with the largest outcomes first, control rows with the largest
outcomes last): 1 is perfect, 0 is random, negative is worse than random. Without that
normalisation (``normalize=False``) the area is reported with Q(k) divided by the number of rows,
i.e. in outcome units per row (extra repayments per row of the population, say).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DEFAULT_FRACTIONS = (0.1, 0.3, 0.5)
N_DECILES = 10


def check_uplift_inputs(
    outcome: Any, treatment: Any, score: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome and score as floats, treatment as 0/1 ints, or a ValueError saying what is wrong."""
    y = np.asarray(outcome, dtype=float)
    t = np.asarray(treatment)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or t.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"outcome, treatment and score must be 1-D; got shapes {y.shape}, {t.shape}, {s.shape}"
        )
    if not len(y) == len(t) == len(s):
        raise ValueError(
            f"outcome, treatment and score differ in length: {len(y)}, {len(t)}, {len(s)}"
        )
    if not np.isin(t, [0, 1]).all():
        found = sorted({str(v) for v in np.unique(t[~np.isin(t, [0, 1])])})[:5]
        raise ValueError(f"treatment must be 0 (control) or 1 (treated); found {found}")
    t = t.astype(np.int64)
    n_treated = int(t.sum())
    if n_treated in (0, len(t)):
        raise ValueError(
            f"uplift needs treated and control rows; got {n_treated} treated "
            f"and {len(t) - n_treated} control"
        )
    for name, values in (("outcome", y), ("score", s)):
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"{name} has {bad} NaN or infinite values")
    return y, t, s


def _cumulative(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    """Running counts and outcome sums per arm down the ranking, at the end of each tie group.

    Each array starts with the empty top (k = 0).
    """
    order = np.argsort(-s, kind="stable")
    y, t, s = y[order], t[order], s[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])

    def running(values: np.ndarray) -> np.ndarray:
        return np.r_[0.0, np.cumsum(values)[ends]]

    return {
        "targeted": np.r_[0, ends + 1],
        "n_treated": running(t),
        "n_control": running(1 - t),
        "y_treated": running(y * t),
        "y_control": running(y * (1 - t)),
    }


def _qini_values(c: dict[str, np.ndarray]) -> np.ndarray:
    ratio = np.divide(
        c["n_treated"], c["n_control"], out=np.zeros_like(c["n_treated"]), where=c["n_control"] > 0
    )
    return c["y_treated"] - c["y_control"] * ratio


def qini_curve(outcome: Any, treatment: Any, score: Any) -> pd.DataFrame:
    """Points of the Qini curve: ``targeted`` rows, their ``fraction``, ``qini`` and ``random``.

    One row per distinct score plus the origin; ``random`` is the random ranking's line.
    """
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    c = _cumulative(y, t, s)
    qini = _qini_values(c)
    fraction = c["targeted"] / len(y)
    return pd.DataFrame(
        {
            "targeted": c["targeted"].astype(np.int64),
            "fraction": fraction,
            "qini": qini,
            "random": fraction * qini[-1],
        }
    )


def perfect_uplift_score(outcome: Any, treatment: Any) -> np.ndarray:
    """The ranking no model can beat on these rows: treated by outcome first, control's last."""
    y = np.asarray(outcome, dtype=float)
    return np.where(np.asarray(treatment) == 1, y, -y)


def _area_above_random(curve: pd.DataFrame) -> float:
    fraction = curve["fraction"].to_numpy()
    gain = (curve["qini"] - curve["random"]).to_numpy()
    return float(np.trapezoid(gain, fraction))


def qini_coefficient(outcome: Any, treatment: Any, score: Any, *, normalize: bool = True) -> float:
    """Area between the Qini curve and the random line; over the perfect ranking's by default.

    See the module docstring for both normalisations.
    """
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    area = _area_above_random(qini_curve(y, t, s))
    if not normalize:
        return area / len(y)
    perfect = _area_above_random(qini_curve(y, t, perfect_uplift_score(y, t)))
    if perfect <= 0:
        raise ValueError(
            "the Qini coefficient is undefined here: even a perfect ranking does no better than "
            "random (are all outcomes equal?); use normalize=False"
        )
    return area / perfect


def _top_rows(s: np.ndarray, fraction: float) -> np.ndarray:
    """Positions of the ``ceil(fraction * n)`` highest scores; ties broken by row order."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = int(np.ceil(fraction * len(s) - 1e-9))
    return np.argsort(-s, kind="stable")[:k]


def uplift_at_k(outcome: Any, treatment: Any, score: Any, fraction: float) -> float:
    """Treated minus control mean outcome among the top ``fraction`` of rows by score."""
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    top = _top_rows(s, fraction)
    treated = t[top] == 1
    if treated.all() or not treated.any():
        raise ValueError(
            f"the top {fraction:.0%} of rows ({len(top)}) hold only "
            f"{'treated' if treated.all() else 'control'} rows; uplift there is undefined"
        )
    return float(y[top][treated].mean() - y[top][~treated].mean())


def uplift_at(
    outcome: Any, treatment: Any, score: Any, fractions: tuple[float, ...] = DEFAULT_FRACTIONS
) -> dict[str, float]:
    """``uplift_at_<percent>`` for each fraction, e.g. ``uplift_at_10``, ``uplift_at_30``."""
    return {
        f"uplift_at_{round(f * 100):d}": uplift_at_k(outcome, treatment, score, f)
        for f in fractions
    }


def average_treatment_effect(outcome: Any, treatment: Any) -> float:
    """Treated minus control mean outcome over all rows."""
    y, t, _ = check_uplift_inputs(outcome, treatment, np.zeros(len(np.asarray(outcome))))
    return float(y[t == 1].mean() - y[t == 0].mean())


def uplift_metrics(outcome: Any, treatment: Any, score: Any) -> dict[str, float]:
    """The scalar uplift metrics of one evaluation, ready to log: Qini and uplift at 10/30/50 %.

    ``qini_coefficient`` (normalised by the perfect ranking), ``qini_area`` (unnormalised, per
    row), ``uplift_at_10``/``30``/``50`` and ``ate`` (uplift when treating everybody).
    """
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    return {
        "qini_coefficient": qini_coefficient(y, t, s),
        "qini_area": qini_coefficient(y, t, s, normalize=False),
        **uplift_at(y, t, s),
        "ate": average_treatment_effect(y, t),
    }


def decile_of(score: Any) -> np.ndarray:
    """Decile 1 (highest scores) to 10 of each row: equal counts, ties broken by row order."""
    s = np.asarray(score, dtype=float)
    position = np.empty(len(s), dtype=np.int64)
    position[np.argsort(-s, kind="stable")] = np.arange(len(s))
    return position * N_DECILES // max(len(s), 1) + 1


def arm_means_by_group(
    group: np.ndarray, outcome: np.ndarray, treatment: np.ndarray, score: np.ndarray
) -> pd.DataFrame:
    """Per group: rows, rows per arm, mean outcome per arm, their difference and the mean score."""
    frame = pd.DataFrame(
        {
            "group": group,
            "treated": treatment == 1,
            "y_treated": np.where(treatment == 1, outcome, 0.0),
            "y_control": np.where(treatment == 0, outcome, 0.0),
            "score": score,
        }
    )
    sums = frame.groupby("group", sort=True).agg(
        rows=("score", "size"),
        n_treated=("treated", "sum"),
        y_treated=("y_treated", "sum"),
        y_control=("y_control", "sum"),
        predicted=("score", "mean"),
    )
    n_control = sums["rows"] - sums["n_treated"]
    # An arm without rows in a group has no mean: NaN, not 0, so nobody reads it as "no effect".
    treated_mean = sums["y_treated"] / sums["n_treated"].where(sums["n_treated"] > 0)
    control_mean = sums["y_control"] / n_control.where(n_control > 0)
    return pd.DataFrame(
        {
            "rows": sums["rows"].astype(np.int64),
            "n_treated": sums["n_treated"].astype(np.int64),
            "n_control": n_control.astype(np.int64),
            "outcome_treated": treated_mean,
            "outcome_control": control_mean,
            "uplift": treated_mean - control_mean,
            "predicted": sums["predicted"],
        }
    )


def uplift_by_decile(outcome: Any, treatment: Any, score: Any) -> pd.DataFrame:
    """Actual treated-minus-control outcome per decile of the score (decile 1 = highest).

    Columns: ``decile``, ``rows``, ``n_treated``, ``n_control``, ``outcome_treated`` and
    ``outcome_control`` (mean outcome per arm; NaN when an arm has no row there), ``uplift``
    (their difference) and ``predicted`` (mean score).
    """
    y, t, s = check_uplift_inputs(outcome, treatment, score)
    table = arm_means_by_group(decile_of(s), y, t, s)
    return table.rename_axis("decile").reset_index()


def revenue_uplift_by_decile(value: Any, treatment: Any, score: Any) -> pd.DataFrame:
    """Actual treated-minus-control value per row, per decile of the predicted value uplift.

    ``value`` is what each row realised (e.g. the amount repaid; for a 0/1 outcome worth a known
    amount, outcome x amount). Columns as ``uplift_by_decile`` with ``value_treated``,
    ``value_control`` and ``value_uplift`` (per row), plus ``incremental_value``: what treating
    the whole decile added, ``value_uplift * rows``.
    """
    table = uplift_by_decile(value, treatment, score).rename(
        columns={
            "outcome_treated": "value_treated",
            "outcome_control": "value_control",
            "uplift": "value_uplift",
        }
    )
    table["incremental_value"] = table["value_uplift"] * table["rows"]
    return table


def regression_adjusted(value: Any, treatment: Any, covariate: Any) -> np.ndarray:
    """``value`` less its linear prediction from a ``covariate`` fixed before treatment (CUPED).

    ``value - theta * (covariate - mean(covariate))``, with the slope ``theta`` pooled within
    arms so the treatment's own effect does not enter it. Randomisation makes the covariate
    independent of treatment, so treated-minus-control means of the result, over all rows or
    any group chosen before treatment (a decile of a score), estimate the same difference of
    ``value`` without bias, and with less noise the more the covariate explains: an amount
    repaid is mostly the amount owed, and a few large balances otherwise swamp the comparison.
    """
    y = np.asarray(value, dtype=float)
    x = np.asarray(covariate, dtype=float)
    _, t, _ = check_uplift_inputs(y, treatment, x)
    x_centred = np.where(t == 1, x - x[t == 1].mean(), x - x[t == 0].mean())
    y_centred = np.where(t == 1, y - y[t == 1].mean(), y - y[t == 0].mean())
    spread = float(x_centred @ x_centred)
    theta = float(x_centred @ y_centred) / spread if spread > 0 else 0.0
    return y - theta * (x - x.mean())


def profitable_fraction(predicted_value_uplift: Any, cost: float) -> float:
    """Share of rows worth treating: the top of the ranking while the predicted gain exceeds cost.

    Ranked by the predicted value uplift itself, the rows above the cost are exactly a top of
    the ranking, so this is the share of scores above ``cost``.
    """
    scores = np.asarray(predicted_value_uplift, dtype=float)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(
            f"predicted_value_uplift must be a non-empty 1-D array, got shape {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError("predicted_value_uplift has NaN or infinite values")
    return float((scores > cost).mean())


def incremental_profit_curve(value: Any, treatment: Any, score: Any, cost: float) -> pd.DataFrame:
    """Realised profit of treating the top rows, at every depth of the ranking.

    For the top ``k`` rows: ``incremental_value = k * (mean value treated - mean value control)``
    among them (NaN until both arms appear), ``treatment_cost = k * cost`` and ``profit``, their
    difference; ``predicted_value`` sums the scores of those rows, what the model promised.
    """
    y, t, s = check_uplift_inputs(value, treatment, score)
    c = _cumulative(y, t, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        uplift = c["y_treated"] / c["n_treated"] - c["y_control"] / c["n_control"]
    both = (c["n_treated"] > 0) & (c["n_control"] > 0)
    targeted = c["targeted"]
    incremental = np.where(both, uplift * targeted, np.nan)
    incremental[0] = 0.0
    predicted = np.r_[0.0, np.cumsum(np.sort(s)[::-1])][targeted]
    return pd.DataFrame(
        {
            "targeted": targeted.astype(np.int64),
            "fraction": targeted / len(y),
            "predicted_value": predicted,
            "incremental_value": incremental,
            "treatment_cost": targeted * float(cost),
            "profit": incremental - targeted * float(cost),
        }
    )


def profit_metrics(value: Any, treatment: Any, score: Any, cost: float) -> dict[str, float]:
    """The profitable fraction to treat and what treating it, or the best depth, realised.

    ``profitable_fraction`` (score above cost), ``realised_profit`` at that depth, and the depth
    with the best realised profit on these rows (``best_fraction``, ``best_profit``; hindsight,
    for comparison). Profits are totals over the rows evaluated.
    """
    curve = incremental_profit_curve(value, treatment, score, cost)
    fraction = profitable_fraction(score, cost)
    at = curve.loc[curve["fraction"] >= fraction - 1e-12].iloc[0]
    best = curve.loc[curve["profit"].fillna(-np.inf).idxmax()]
    return {
        "profitable_fraction": fraction,
        "realised_profit": float(at["profit"]),
        "best_fraction": float(best["fraction"]),
        "best_profit": float(best["profit"]),
    }
