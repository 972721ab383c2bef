"""Realised uplift on a call list's random holdouts, and the uplift retrain decision."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from modelworks.scheduling.decision import RetrainPolicy
from modelworks.uplift import HOLDOUT_CONTROL, HOLDOUT_TREATED, TargetingPolicy, assign_treatments
from modelworks.uplift.monitoring import (
    QINI_TRIGGER,
    UpliftRetrainPolicy,
    decide_uplift_retrain,
    holdouts_with_outcomes,
    measure_holdouts,
)

N = 6_000
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def assigned() -> pd.DataFrame:
    """A scored batch whose true uplift follows the score: 0 in the bottom half, 0.3 on top."""
    rng = np.random.default_rng(0)
    score = rng.random(N)
    frame = pd.DataFrame(
        {
            "episode_id": np.arange(N),
            "uplift": score,
            "owed": rng.lognormal(7.0, 0.8, N),
        }
    )
    frame["revenue_uplift"] = frame["uplift"] * frame["owed"]
    return assign_treatments(
        frame, score="uplift", key="episode_id", policy=TargetingPolicy(cost=0.5, seed=3)
    )


def outcomes_of(assigned: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    effect = np.where(assigned["uplift"] > 0.5, 0.3, 0.0)
    repaid = rng.random(len(assigned)) < 0.3 + effect * assigned["treat"]
    return pd.DataFrame(
        {
            "episode_id": assigned["episode_id"],
            "repaid": repaid.astype(int),
            "amount": np.where(repaid, assigned["owed"], 0.0),
        }
    )


def measure(assigned: pd.DataFrame, outcomes: pd.DataFrame) -> dict:
    held = holdouts_with_outcomes(
        assigned, outcomes, key="episode_id", columns=["repaid", "amount"]
    )
    return measure_holdouts(
        held,
        outcome="repaid",
        score="uplift",
        value="amount",
        value_score="revenue_uplift",
        value_at_stake="owed",
    )


def test_holdouts_measure_the_uplift_per_decile(assigned):
    report = measure(assigned, outcomes_of(assigned))
    groups = assigned["group"].value_counts()
    assert report["n_holdout_treated"] == groups[HOLDOUT_TREATED]
    assert report["n_holdout_control"] == groups[HOLDOUT_CONTROL]
    deciles = pd.DataFrame(report["deciles"])
    assert list(deciles["decile"]) == list(range(1, 11))
    assert deciles["rows"].sum() == report["n_holdout_treated"] + report["n_holdout_control"]
    # the top half gains 0.3, the bottom half nothing (within sampling noise of ~30 rows per arm)
    assert deciles.loc[deciles["decile"] <= 4, "uplift"].mean() > 0.15
    assert abs(deciles.loc[deciles["decile"] >= 7, "uplift"].mean()) < 0.12
    assert report["uplift"] == pytest.approx(0.15, abs=0.06)
    assert report["qini_coefficient"] > 0 and report["qini_coefficient_se"] > 0
    assert len(report["value_deciles"]) == 10 and not report["undefined"]


def test_every_holdout_outcome_must_have_arrived(assigned):
    outcomes = outcomes_of(assigned)
    held = assigned.loc[assigned["group"] == HOLDOUT_CONTROL, "episode_id"]
    late = outcomes[outcomes["episode_id"] != held.iloc[0]]
    with pytest.raises(ValueError, match="1 holdout rows have no outcome yet"):
        holdouts_with_outcomes(assigned, late, key="episode_id", columns=["repaid"])
    with pytest.raises(ValueError, match=r"outcomes lack columns \['paid'\]"):
        holdouts_with_outcomes(assigned, outcomes, key="episode_id", columns=["paid"])


def test_a_tiny_batch_reports_what_it_cannot_measure(assigned):
    tiny = assigned.head(40)  # the highest scores only: a handful of holdout rows
    report = measure(tiny, outcomes_of(assigned))
    assert report["n_holdout_treated"] + report["n_holdout_control"] < 10
    assert len(report["deciles"]) <= 10
    assert all(value is None or np.isfinite(value) for value in report["deciles"][0].values())


def _summary(realised: float | None, se: float, rows: int, verdict: str = "ok") -> dict:
    return {
        "verdict": verdict,
        "holdout_uplift": {
            "n_holdout_treated": rows // 2,
            "n_holdout_control": rows - rows // 2,
            "qini_coefficient": realised,
            "qini_coefficient_se": se,
            "undefined": {},
        },
    }


CHAMPION = {"version": "3", "data_through": "2025-05-20T00:00:00+00:00", "qini_coefficient": 0.2}
POLICY = UpliftRetrainPolicy(max_qini_drop=0.05, min_holdout_rows=200)


def _qini_trigger(decision: dict) -> dict:
    return next(t for t in decision["triggers"] if t["trigger"] == QINI_TRIGGER)


def test_a_clear_drop_of_the_realised_qini_retrains():
    decision = decide_uplift_retrain(
        _summary(0.05, se=0.02, rows=400), champion=CHAMPION, as_of=AS_OF, policy=POLICY
    )
    assert decision["retrain"] is True
    assert _qini_trigger(decision)["fired"]
    assert decision["reasons"] == [f"{QINI_TRIGGER}: 0.05 < 0.1500 (champion 0.2000 minus "
                                   "max(0.05, 2 se))"]  # fmt: skip
    assert {t["trigger"] for t in decision["triggers"]} == {"drift", "age", QINI_TRIGGER}


def test_a_drop_within_noise_or_on_too_few_rows_does_not():
    noisy = decide_uplift_retrain(
        _summary(0.05, se=0.1, rows=400), champion=CHAMPION, as_of=AS_OF, policy=POLICY
    )
    assert noisy["retrain"] is False and not _qini_trigger(noisy)["fired"]
    few = decide_uplift_retrain(
        _summary(0.0, se=0.01, rows=60), champion=CHAMPION, as_of=AS_OF, policy=POLICY
    )
    assert few["retrain"] is False
    assert "needs 200 holdout rows, has 60" in _qini_trigger(few)["threshold"]
    assert few["reasons"] == ["no trigger fired"]


def test_drift_and_age_still_decide():
    drifted = decide_uplift_retrain(
        _summary(0.2, se=0.01, rows=400, verdict="critical"),
        champion=CHAMPION,
        as_of=AS_OF,
        policy=POLICY,
    )
    assert drifted["retrain"] is True and drifted["reasons"][0].startswith("drift")
    old = decide_uplift_retrain(
        _summary(0.2, se=0.01, rows=400),
        champion=CHAMPION,
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
        policy=POLICY,
    )
    assert old["retrain"] is True and old["reasons"][0].startswith("age")


@pytest.mark.parametrize(
    ("last_retrain", "held_back"), [(datetime(2025, 5, 29, tzinfo=UTC), True), (None, False)]
)
def test_the_cooldown_holds_every_trigger_back_the_realised_qini_included(last_retrain, held_back):
    decision = decide_uplift_retrain(
        _summary(0.05, se=0.02, rows=400),
        champion=CHAMPION,
        as_of=AS_OF,
        policy=POLICY.model_copy(update={"min_days_between": 7.0}),
        last_retrain_at=last_retrain,
    )
    assert _qini_trigger(decision)["fired"] and decision["retrain"] is not held_back
    if held_back:
        assert decision["reasons"] == [
            f"{QINI_TRIGGER} fired, but the last retrain was 3.0 days ago"
        ]


def test_a_plain_retrain_policy_decides_as_every_family_does():
    decision = decide_uplift_retrain(
        _summary(0.05, se=0.02, rows=400, verdict="critical"),
        champion=CHAMPION,
        as_of=AS_OF,
        policy=RetrainPolicy(metric="qini_coefficient", max_estimated_drop=None),
    )
    assert decision["retrain"] is True
    assert QINI_TRIGGER not in {t["trigger"] for t in decision["triggers"]}
    assert isinstance(POLICY, RetrainPolicy) and POLICY.max_realised_drop is None
