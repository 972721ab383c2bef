"""The production targeting policy: its random holdouts, and uplift measured on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from modelworks.uplift import (
    HOLDOUT_CONTROL,
    HOLDOUT_TREATED,
    TARGETED,
    TargetingPolicy,
    assign_treatments,
    holdout_uplift_by_decile,
    holdout_uplift_summary,
)

N = 40_000
POLICY = TargetingPolicy(cost=50.0, seed=7)


def batch(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"episode_id": np.arange(1, n + 1), "value_uplift": rng.gamma(1.0, 50.0, n)}
    )


@pytest.fixture(scope="module")
def assigned() -> pd.DataFrame:
    return assign_treatments(batch(), score="value_uplift", key="episode_id", policy=POLICY)


def _within_binomial(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p))


def test_holdouts_keep_their_five_percent_each(assigned):
    counts = assigned["group"].value_counts()
    assert _within_binomial(counts[HOLDOUT_TREATED], N, 0.05)
    assert _within_binomial(counts[HOLDOUT_CONTROL], N, 0.05)
    assert counts.sum() == N
    # and in every decile of the score too: the draw ignores the score
    per_decile = assigned.groupby("decile")["group"].apply(lambda g: (g == HOLDOUT_TREATED).mean())
    assert per_decile.between(0.05 - 0.02, 0.05 + 0.02).all()


def test_holdout_treated_is_treated_even_at_the_lowest_scores(assigned):
    low = assigned["value_uplift"] < POLICY.cost
    treated_holdout = assigned["group"] == HOLDOUT_TREATED
    assert (low & treated_holdout).sum() > 100
    assert (assigned.loc[treated_holdout, "treat"] == 1).all()
    assert (assigned.loc[assigned["group"] == HOLDOUT_CONTROL, "treat"] == 0).all()
    bottom = assigned[assigned["decile"] == 10]
    assert (bottom.loc[bottom["group"] == HOLDOUT_TREATED, "treat"] == 1).all()


def test_the_rest_are_treated_while_the_score_exceeds_the_cost(assigned):
    targeted = assigned[assigned["group"] == TARGETED]
    assert (targeted["treat"] == (targeted["value_uplift"] > POLICY.cost)).all()


def test_rows_come_ranked_with_deciles(assigned):
    assert assigned["rank"].tolist() == list(range(1, N + 1))
    assert assigned["value_uplift"].is_monotonic_decreasing
    assert assigned["decile"].is_monotonic_increasing
    assert assigned["decile"].value_counts().eq(N // 10).all()
    assert list(assigned.columns) == [
        "episode_id",
        "value_uplift",
        "rank",
        "decile",
        "group",
        "treat",
    ]


def test_groups_follow_the_key_and_seed_not_the_row_order(assigned):
    shuffled = batch().sample(frac=1.0, random_state=1)
    again = assign_treatments(shuffled, score="value_uplift", key="episode_id", policy=POLICY)
    pd.testing.assert_frame_equal(again, assigned)
    other_seed = assign_treatments(
        batch(),
        score="value_uplift",
        key="episode_id",
        policy=POLICY.model_copy(update={"seed": 8}),
    )
    assert (other_seed["group"] != assigned["group"]).mean() > 0.05


def test_realised_uplift_per_decile_comes_from_the_holdouts_only(assigned):
    # True uplift grows with the score; the targeted rows' outcomes are made up to mislead:
    # a measurement that used them would not find it.
    rng = np.random.default_rng(2)
    true_uplift = np.where(assigned["decile"] <= 3, 0.30, 0.05)
    outcome = rng.random(N) < 0.2 + assigned["treat"] * true_uplift
    outcome = np.where(assigned["group"] == TARGETED, 1 - assigned["treat"], outcome)
    with_outcome = assigned.assign(repaid=outcome.astype(int))
    table = holdout_uplift_by_decile(with_outcome, outcome="repaid", score="value_uplift")
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["rows"].sum() == (assigned["group"] != TARGETED).sum()
    top, rest = table[table["decile"] <= 3], table[table["decile"] > 3]
    assert top["uplift"].mean() == pytest.approx(0.30, abs=0.06)
    assert rest["uplift"].mean() == pytest.approx(0.05, abs=0.04)

    summary = holdout_uplift_summary(with_outcome, outcome="repaid", score="value_uplift")
    assert summary["n_holdout_treated"] + summary["n_holdout_control"] == table["rows"].sum()
    assert summary["uplift_at_30"] == pytest.approx(0.30, abs=0.06)
    assert summary["qini_coefficient"] > 0


def test_measuring_before_outcomes_arrive_says_so(assigned):
    pending = assigned.assign(repaid=np.nan)
    with pytest.raises(ValueError, match="no 'repaid' yet"):
        holdout_uplift_by_decile(pending, outcome="repaid", score="value_uplift")


def test_policy_and_frame_errors_name_the_problem():
    with pytest.raises(ValidationError, match="must be below 1"):
        TargetingPolicy(cost=1.0, holdout_treated=0.5, holdout_control=0.5)
    with pytest.raises(ValidationError, match="holdout_contrl"):
        TargetingPolicy.model_validate({"cost": 1.0, "holdout_contrl": 0.1})
    frame = batch(10)
    with pytest.raises(ValueError, match=r"lacks columns \['uplift'\]"):
        assign_treatments(frame, score="uplift", key="episode_id", policy=POLICY)
    with pytest.raises(ValueError, match="NaN"):
        assign_treatments(
            frame.assign(value_uplift=np.nan), score="value_uplift", key="episode_id", policy=POLICY
        )
    with pytest.raises(ValueError, match="already has the columns"):
        assign_treatments(
            frame.assign(treat=1), score="value_uplift", key="episode_id", policy=POLICY
        )
