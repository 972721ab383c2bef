"""The promotion gate on hand-made evidence: every check evaluated, each outcome recorded; its
latency check on a scripted clock, never the wall clock of a busy machine."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from pydantic import ValidationError

from modelworks.registry.evidence import (
    LATENCY_CALLS,
    LATENCY_WARMUP,
    gather_evidence,
    latency_p99_ms,
)
from modelworks.registry.gate import (
    Comparison,
    GateEvidence,
    GatePolicy,
    ImprovementRule,
    PairedTest,
    evaluate_gate,
    paired_bootstrap,
)
from modelworks.training.metrics import subset_metric
from tests.modelworks.registry.versions import register_flipped

POLICY = GatePolicy.model_validate(
    {
        "thresholds": {"roc_auc": {"min": 0.7}, "brier": {"max": 0.2}},
        "improvement": {"metric": "roc_auc", "min_delta": 0.0, "paired_test": {"n_resamples": 400}},
        "max_drift": "warn",
        "max_model_size_mb": 10,
        "max_latency_ms": 20,
    }
)


def scores_pair(n: int, seed: int, challenger_noise: float, champion_noise: float):
    """Labels and two models' scores: each is the truth plus its own noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * signal))).astype(int)

    def model(noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(signal + noise * rng.normal(size=n))))

    return y, model(challenger_noise), model(champion_noise)


def comparison(y, challenger, champion) -> Comparison:
    return Comparison(
        champion_version="1",
        challenger=subset_metric("roc_auc", y, challenger),
        champion=subset_metric("roc_auc", y, champion),
        n_units=len(y),
    )


def evidence(**overrides) -> GateEvidence:
    base = {
        "holdout_metrics": {"roc_auc": 0.8, "brier": 0.1},
        "validation_passed": True,
        "drift_verdict": "ok",
        "model_size_mb": 1.0,
        "latency_p99_ms": 5.0,
        "comparison": None,
    }
    return GateEvidence(**{**base, **overrides})


def by_name(outcomes):
    return {outcome.check: outcome for outcome in outcomes}


def test_a_first_version_that_meets_every_limit_passes_every_check() -> None:
    outcomes = evaluate_gate(POLICY, evidence())
    assert [o.check for o in outcomes] == [
        "holdout_roc_auc",
        "holdout_brier",
        "improvement_roc_auc",
        "data_validation",
        "drift",
        "model_size_mb",
        "latency_p99_ms",
    ]
    assert all(o.passed for o in outcomes)
    assert by_name(outcomes)["holdout_roc_auc"].value == 0.8


def test_every_check_is_evaluated_and_each_failure_recorded_with_its_value() -> None:
    outcomes = by_name(
        evaluate_gate(
            POLICY,
            evidence(
                holdout_metrics={"roc_auc": 0.65, "brier": 0.25},
                validation_passed=False,
                drift_verdict="critical",
                model_size_mb=11.0,
                latency_p99_ms=25.0,
            ),
        )
    )
    failed = {name for name, o in outcomes.items() if not o.passed}
    assert failed == {
        "holdout_roc_auc",
        "holdout_brier",
        "data_validation",
        "drift",
        "model_size_mb",
        "latency_p99_ms",
    }
    assert outcomes["holdout_roc_auc"].value == 0.65
    assert outcomes["holdout_roc_auc"].threshold == ">= 0.7"
    assert outcomes["drift"].value == "critical"
    assert outcomes["latency_p99_ms"].threshold == "<= 20"


def test_a_metric_the_policy_names_but_nobody_measured_fails_and_says_so() -> None:
    policy = GatePolicy.model_validate({"thresholds": {"ndcg": {"min": 0.1}}})
    outcome = by_name(evaluate_gate(policy, evidence()))["holdout_ndcg"]
    assert not outcome.passed
    assert "no holdout metric 'ndcg'" in outcome.detail


def test_a_clearly_better_challenger_passes_the_paired_test() -> None:
    y, challenger, champion = scores_pair(3000, 0, challenger_noise=0.3, champion_noise=1.5)
    outcomes = by_name(
        evaluate_gate(POLICY, evidence(comparison=comparison(y, challenger, champion)))
    )
    assert outcomes["improvement_roc_auc"].passed
    assert outcomes["paired_bootstrap_roc_auc"].passed
    assert outcomes["paired_bootstrap_roc_auc"].value > 0


def test_an_improvement_within_noise_is_refused_by_the_paired_test() -> None:
    # Same quality, different noise: one of the two wins by a hair on this sample.
    y, challenger, champion = scores_pair(600, 3, challenger_noise=1.0, champion_noise=1.0)
    if subset_metric("roc_auc", y, challenger)(np.arange(600)) <= subset_metric(
        "roc_auc", y, champion
    )(np.arange(600)):
        challenger, champion = champion, challenger  # make the challenger the lucky one
    outcomes = by_name(
        evaluate_gate(POLICY, evidence(comparison=comparison(y, challenger, champion)))
    )
    assert outcomes["improvement_roc_auc"].passed  # it did score higher on these rows
    assert outcomes["improvement_roc_auc"].value > 0
    assert not outcomes["paired_bootstrap_roc_auc"].passed  # but not beyond the noise
    assert outcomes["paired_bootstrap_roc_auc"].value < 0


def test_a_worse_challenger_fails_both_improvement_checks() -> None:
    y, challenger, champion = scores_pair(2000, 1, challenger_noise=1.5, champion_noise=0.3)
    outcomes = by_name(
        evaluate_gate(POLICY, evidence(comparison=comparison(y, challenger, champion)))
    )
    assert not outcomes["improvement_roc_auc"].passed
    assert not outcomes["paired_bootstrap_roc_auc"].passed


def test_min_delta_is_required_on_top_of_the_paired_test() -> None:
    y, challenger, champion = scores_pair(3000, 0, challenger_noise=0.3, champion_noise=1.5)
    observed, _, _ = paired_bootstrap(comparison(y, challenger, champion), PairedTest())
    strict = POLICY.model_copy(
        update={"improvement": ImprovementRule(metric="roc_auc", min_delta=observed + 0.01)}
    )
    outcomes = by_name(
        evaluate_gate(strict, evidence(comparison=comparison(y, challenger, champion)))
    )
    assert not outcomes["improvement_roc_auc"].passed
    assert outcomes["paired_bootstrap_roc_auc"].passed


def test_paired_bootstrap_is_reproducible_and_orients_lower_is_better_metrics() -> None:
    y, good, bad = scores_pair(1000, 2, challenger_noise=0.3, champion_noise=1.5)
    brier = Comparison(
        champion_version="1",
        challenger=subset_metric("brier", y, good),
        champion=subset_metric("brier", y, bad),
        n_units=len(y),
        higher_is_better=False,
    )
    first = paired_bootstrap(brier, PairedTest(n_resamples=200, seed=7))
    again = paired_bootstrap(brier, PairedTest(n_resamples=200, seed=7))
    assert first[0] > 0 and first[1] > 0  # a lower Brier score is an improvement
    np.testing.assert_array_equal(first[2], again[2])


def test_policy_typos_and_impossible_bounds_fail_at_start_up() -> None:
    with pytest.raises(ValidationError, match="max_drfit"):
        GatePolicy.model_validate({"max_drfit": "ok"})
    with pytest.raises(ValidationError, match="greater than max"):
        GatePolicy.model_validate({"thresholds": {"roc_auc": {"min": 0.9, "max": 0.8}}})
    with pytest.raises(ValidationError, match="needs min, max or both"):
        GatePolicy.model_validate({"thresholds": {"roc_auc": {}}})


# Durations in powers of two seconds, read from whole-second starts: every difference the
# latency check computes is exact in floating point, so its p99 can be compared with ==.
FAST_S = 2.0**-9  # 1.953125 ms
SLOW_S = 2.0**-7  # 7.8125 ms


@dataclass
class ScriptedTimer:
    """A latency clock on which the i-th timed prediction lasts ``durations[i]`` seconds; it
    starts at second i. Reading it more often than the script allows raises IndexError."""

    durations: list[float]
    reads: int = 0

    def __call__(self) -> float:
        call, is_end = divmod(self.reads, 2)
        self.reads += 1
        return call + (self.durations[call] if is_end else 0.0)


@dataclass
class RowRecorder:
    """A stand-in evaluator: predicts nothing, remembers which rows it was asked about."""

    rows: list[int] = field(default_factory=list)

    def predict(self, model: object, rows: pd.DataFrame) -> None:
        self.rows.extend(rows["row"])


def test_latency_p99_is_the_99th_percentile_of_the_timed_calls_after_the_warmup() -> None:
    # Warm-up calls of half a second must not count; of the 200 timed calls, 3 slow ones fill
    # the 99th percentile and the single 1 s outlier above it must not decide it.
    timed = [FAST_S] * LATENCY_CALLS
    for position in (13, 101, 177):
        timed[position] = SLOW_S
    timed[58] = 1.0
    timer = ScriptedTimer([0.5] * LATENCY_WARMUP + timed)
    evaluator = RowRecorder()
    holdout = pd.DataFrame({"row": range(7)})

    p99 = latency_p99_ms(object(), evaluator, holdout, timer=timer)

    assert p99 == 7.8125  # SLOW_S, in milliseconds
    assert timer.reads == 2 * (LATENCY_WARMUP + LATENCY_CALLS)  # one start and one end per call
    # one row per call, cycling through the holdout
    assert evaluator.rows == [i % 7 for i in range(LATENCY_WARMUP + LATENCY_CALLS)]


@pytest.mark.parametrize(
    ("seconds", "p99_ms", "passed"),
    [(SLOW_S, 7.8125, False), (FAST_S, 1.953125, True)],
    ids=["over_limit", "under_limit"],
)
def test_a_registered_versions_latency_check_judges_the_p99_its_clock_measured(
    tracking: MlflowClient, seconds: float, p99_ms: float, passed: bool
) -> None:
    version = register_flipped("m", 0.0, rows=300, rounds=5)
    policy = GatePolicy(max_latency_ms=5)
    timer = ScriptedTimer([seconds] * (LATENCY_WARMUP + LATENCY_CALLS))

    evidence = gather_evidence(tracking, "m", version, policy, champion=None, timer=timer)

    assert evidence.latency_p99_ms == p99_ms
    assert timer.reads == 2 * (LATENCY_WARMUP + LATENCY_CALLS)
    outcome = by_name(evaluate_gate(policy, evidence))["latency_p99_ms"]
    assert (outcome.passed, outcome.value, outcome.threshold) == (passed, p99_ms, "<= 5")


def test_requiring_live_evidence_holds_back_all_but_the_first_version() -> None:
    policy = GatePolicy(require_live_evidence=True)
    first = by_name(evaluate_gate(policy, evidence()))
    assert first["live_evidence"].passed
    later = by_name(evaluate_gate(policy, evidence(champion_version="3")))
    assert not later["live_evidence"].passed
    assert "champion v3" in later["live_evidence"].detail
    assert all(o.passed for name, o in later.items() if name != "live_evidence")
    assert "live_evidence" not in by_name(evaluate_gate(GatePolicy(), evidence()))
