"""The promotion gate: a declarative policy, every check evaluated, each outcome recorded.

A policy lives in a use case's parameters (``registry.gate``). ``evaluate_gate`` is pure: it
receives the evidence (holdout metrics, both models' scores on the same holdout rows, the
validation and drift results, the model's size and latency) and returns one ``CheckOutcome``
per check. Whoever calls it decides what a pass means for the registry (``promotion.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from modelworks.params import StrictModel

# Metric on the evaluation units picked by an index array (a bootstrap resample, or all of them).
SubsetMetric = Callable[[np.ndarray], float]


class Threshold(StrictModel):
    """Bounds a holdout metric must respect; either or both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class PairedTest(StrictModel):
    """Paired bootstrap of the metric difference on the same holdout rows."""

    n_resamples: int = Field(default=1000, ge=100)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    seed: int = 0


class ImprovementRule(StrictModel):
    """What a challenger must show against the current champion on the same holdout rows.

    Both conditions: the observed difference exceeds ``min_delta`` and the lower end of the
    one-sided bootstrap confidence bound on the difference exceeds zero.
    """

    metric: str
    min_delta: float = Field(default=0.0, ge=0.0)
    paired_test: PairedTest = PairedTest()


class GatePolicy(StrictModel):
    """Everything a model version must pass before it may take the alias ``champion``."""

    thresholds: dict[str, Threshold] = {}
    improvement: ImprovementRule | None = None
    require_validation: bool = True
    max_drift: Literal["ok", "warn", "critical"] = "warn"
    """Worst drift verdict of the latest data against the training data still allowed."""
    max_model_size_mb: float | None = Field(default=None, gt=0)
    max_latency_ms: float | None = Field(default=None, gt=0)
    """Limit on the p99 single-row prediction latency, in process."""
    require_live_evidence: bool = False
    """Whether a version may replace an existing champion only on live evidence: it then fails
    the ``live_evidence`` check here whatever its holdout shows, and with ``registry.shadow``
    it shadows the champion until its realised advantage passes the live test."""


@dataclass(frozen=True)
class CheckOutcome:
    """One check of the gate: what was measured, what it had to be, and whether it passed."""

    check: str
    passed: bool
    value: float | str | None
    threshold: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """The challenger and champion metric on the same holdout units."""

    champion_version: str
    challenger: SubsetMetric
    champion: SubsetMetric
    n_units: int
    higher_is_better: bool = True


@dataclass(frozen=True)
class GateEvidence:
    """What the gate judges: everything measured about one model version."""

    holdout_metrics: dict[str, float]
    validation_passed: bool | None
    drift_verdict: Literal["ok", "warn", "critical"] | None
    model_size_mb: float | None
    latency_p99_ms: float | None
    comparison: Comparison | None
    champion_version: str | None = None


_DRIFT_ORDER = {"ok": 0, "warn": 1, "critical": 2}


def evaluate_gate(policy: GatePolicy, evidence: GateEvidence) -> list[CheckOutcome]:
    """Every check the policy names, each evaluated even when an earlier one failed."""
    outcomes = [_threshold_check(name, rule, evidence) for name, rule in policy.thresholds.items()]
    if policy.improvement is not None:
        outcomes.extend(_improvement_checks(policy.improvement, evidence))
    if policy.require_validation:
        outcomes.append(_validation_check(evidence.validation_passed))
    outcomes.append(_drift_check(policy.max_drift, evidence.drift_verdict))
    if policy.max_model_size_mb is not None:
        outcomes.append(
            _limit_check("model_size_mb", evidence.model_size_mb, policy.max_model_size_mb)
        )
    if policy.max_latency_ms is not None:
        outcomes.append(
            _limit_check("latency_p99_ms", evidence.latency_p99_ms, policy.max_latency_ms)
        )
    if policy.require_live_evidence:
        outcomes.append(_live_evidence_check(evidence.champion_version))
    return outcomes


def paired_bootstrap(comparison: Comparison, test: PairedTest) -> tuple[float, float, np.ndarray]:
    """Observed difference (challenger - champion, oriented so larger is better), its one-sided
    lower confidence bound, and the bootstrap differences.

    Both models are scored on the same resampled units in each round, so the noise shared by
    the two (an easy or hard sample of rows) cancels out of the difference.
    """
    sign = 1.0 if comparison.higher_is_better else -1.0
    everything = np.arange(comparison.n_units)
    observed = sign * (comparison.challenger(everything) - comparison.champion(everything))
    rng = np.random.default_rng(test.seed)
    differences = np.empty(test.n_resamples)
    for i in range(test.n_resamples):
        sample = rng.integers(0, comparison.n_units, comparison.n_units)
        differences[i] = sign * (comparison.challenger(sample) - comparison.champion(sample))
    lower = float(np.quantile(differences, 1.0 - test.confidence))
    return float(observed), lower, differences


def _threshold_check(name: str, rule: Threshold, evidence: GateEvidence) -> CheckOutcome:
    bound = " and ".join(
        text
        for text in (
            f">= {rule.min:g}" if rule.min is not None else "",
            f"<= {rule.max:g}" if rule.max is not None else "",
        )
        if text
    )
    check = f"holdout_{name}"
    value = evidence.holdout_metrics.get(name)
    if value is None:
        known = sorted(evidence.holdout_metrics)
        return CheckOutcome(check, False, None, bound, f"no holdout metric {name!r}; have {known}")
    passed = (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)
    return CheckOutcome(check, passed, value, bound)


def _improvement_checks(rule: ImprovementRule, evidence: GateEvidence) -> Sequence[CheckOutcome]:
    comparison = evidence.comparison
    if comparison is None:
        return [
            CheckOutcome(
                f"improvement_{rule.metric}",
                True,
                None,
                f"> {rule.min_delta:g} over the champion",
                "no champion yet: nothing to improve on",
            )
        ]
    observed, lower, _ = paired_bootstrap(comparison, rule.paired_test)
    level = f"{rule.paired_test.confidence:.0%}"
    against = f"champion v{comparison.champion_version} on the same {comparison.n_units} units"
    return [
        CheckOutcome(
            f"improvement_{rule.metric}",
            observed > rule.min_delta,
            observed,
            f"> {rule.min_delta:g}",
            f"challenger minus {against}",
        ),
        CheckOutcome(
            f"paired_bootstrap_{rule.metric}",
            lower > 0.0,
            lower,
            "> 0",
            f"{level} one-sided lower bound of the difference over "
            f"{rule.paired_test.n_resamples} paired resamples against {against}",
        ),
    ]


def _validation_check(passed: bool | None) -> CheckOutcome:
    value = {True: "passed", False: "failed", None: "unknown"}[passed]
    return CheckOutcome("data_validation", passed is True, value, "passed")


def _drift_check(
    allowed: Literal["ok", "warn", "critical"],
    verdict: Literal["ok", "warn", "critical"] | None,
) -> CheckOutcome:
    if verdict is None:
        return CheckOutcome("drift", True, None, f"at most {allowed}", "no drift summary given")
    return CheckOutcome(
        "drift",
        _DRIFT_ORDER[verdict] <= _DRIFT_ORDER[allowed],
        verdict,
        f"at most {allowed}",
        "worst feature verdict of the latest data against the training data",
    )


def _live_evidence_check(champion: str | None) -> CheckOutcome:
    if champion is None:
        return CheckOutcome("live_evidence", True, None, "required", "no champion to replace")
    return CheckOutcome(
        "live_evidence",
        False,
        "none yet",
        "required",
        f"replacing champion v{champion} needs a realised advantage on live rows (shadow)",
    )


def _limit_check(name: str, value: float | None, limit: float) -> CheckOutcome:
    if value is None:
        return CheckOutcome(name, False, None, f"<= {limit:g}", "not measured")
    return CheckOutcome(name, value <= limit, value, f"<= {limit:g}")
