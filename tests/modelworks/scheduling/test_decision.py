"""The retrain decision: each trigger on its own, the noise guard, age and the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelworks.scheduling.decision import RetrainPolicy, decide_retrain

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
CHAMPION = {"version": "3", "data_through": "2026-05-01T00:00:00+00:00"}


def summary(verdict: str = "ok", estimated: float | None = 0.80, se: float = 0.005, **extra):
    return {
        "verdict": verdict,
        "reference_performance": {"roc_auc": 0.80},
        "estimated_performance": {"roc_auc": estimated, "roc_auc_se": se} if estimated else None,
        **extra,
    }


def fired(decision) -> set[str]:
    return {t["trigger"] for t in decision["triggers"] if t["fired"]}


def test_a_quiet_batch_does_not_retrain_and_says_so() -> None:
    decision = decide_retrain(summary(), champion=CHAMPION, as_of=AS_OF, policy=RetrainPolicy())
    assert decision["retrain"] is False
    assert decision["reasons"] == ["no trigger fired"]
    assert {t["trigger"] for t in decision["triggers"]} == {"drift", "estimated_drop", "age"}
    assert decision["champion_version"] == "3"


def test_critical_drift_retrains_and_a_warning_does_not() -> None:
    policy = RetrainPolicy()
    assert decide_retrain(summary("critical"), champion=CHAMPION, as_of=AS_OF, policy=policy)[
        "retrain"
    ]
    assert not decide_retrain(summary("warn"), champion=CHAMPION, as_of=AS_OF, policy=policy)[
        "retrain"
    ]
    eager = RetrainPolicy(drift="warn")
    assert fired(decide_retrain(summary("warn"), champion=CHAMPION, as_of=AS_OF, policy=eager)) == {
        "drift"
    }


def test_an_estimated_drop_counts_only_beyond_its_noise() -> None:
    policy = RetrainPolicy(max_estimated_drop=0.03)
    clear = decide_retrain(summary(estimated=0.74), champion=CHAMPION, as_of=AS_OF, policy=policy)
    assert fired(clear) == {"estimated_drop"}
    # the same drop on a batch so small its estimate is +-0.05 is not evidence
    noisy = decide_retrain(
        summary(estimated=0.74, se=0.04), champion=CHAMPION, as_of=AS_OF, policy=policy
    )
    assert not noisy["retrain"]


def test_realised_performance_once_labels_arrive() -> None:
    late = summary(realised_performance={"roc_auc": 0.70})
    decision = decide_retrain(late, champion=CHAMPION, as_of=AS_OF, policy=RetrainPolicy())
    assert fired(decision) == {"realised_drop"}
    assert "realised_drop: 0.7 < 0.7700" in decision["reasons"][0]


def test_an_old_champion_is_refreshed_on_the_data_clock() -> None:
    policy = RetrainPolicy(max_age_days=20)
    decision = decide_retrain(summary(), champion=CHAMPION, as_of=AS_OF, policy=policy)
    assert fired(decision) == {"age"}
    (age,) = [t for t in decision["triggers"] if t["trigger"] == "age"]
    assert age["value"] == 31.0


def test_the_cooldown_holds_back_a_retrain_and_no_champion_always_trains() -> None:
    policy = RetrainPolicy(min_days_between=14)
    recent = AS_OF - timedelta(days=5)
    held = decide_retrain(
        summary("critical"), champion=CHAMPION, as_of=AS_OF, policy=policy, last_retrain_at=recent
    )
    assert held["retrain"] is False and "5.0 days ago" in held["reasons"][0]
    assert decide_retrain(summary(), champion=None, as_of=AS_OF, policy=policy)["retrain"]


def test_a_trigger_can_be_switched_off() -> None:
    policy = RetrainPolicy(
        drift=None, max_estimated_drop=None, max_realised_drop=None, max_age_days=None
    )
    decision = decide_retrain(
        summary("critical", estimated=0.5), champion=CHAMPION, as_of=AS_OF, policy=policy
    )
    assert decision["triggers"] == [] and decision["retrain"] is False
