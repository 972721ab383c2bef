"""Typed monitoring parameters: reference bins and warn / critical thresholds per statistic."""

from __future__ import annotations

from pydantic import Field, model_validator

from modelworks.params import StrictModel

# (warn field, critical field) pairs that must be ordered.
_THRESHOLD_PAIRS = (
    ("psi_warn", "psi_critical"),
    ("wasserstein_warn", "wasserstein_critical"),
    ("js_warn", "js_critical"),
    ("missing_rate_warn", "missing_rate_critical"),
    ("unseen_rate_warn", "unseen_rate_critical"),
)


class DriftThresholds(StrictModel):
    """Where a feature's drift turns from ok to warn to critical.

    Every threshold but ``p_value`` is on an effect size, which does not grow with the batch:
    PSI over the reference buckets; Wasserstein distance divided by the reference standard
    deviation (numeric); Jensen-Shannon distance, base 2, in [0, 1] (categorical); the absolute
    change of the missing-value rate; the share of rows in categories never seen in training.
    """

    psi_warn: float = Field(default=0.1, gt=0)
    psi_critical: float = Field(default=0.25, gt=0)
    wasserstein_warn: float = Field(default=0.1, gt=0)
    wasserstein_critical: float = Field(default=0.25, gt=0)
    js_warn: float = Field(default=0.1, gt=0, le=1)
    js_critical: float = Field(default=0.2, gt=0, le=1)
    missing_rate_warn: float = Field(default=0.02, gt=0, le=1)
    missing_rate_critical: float = Field(default=0.1, gt=0, le=1)
    unseen_rate_warn: float = Field(default=0.01, gt=0, le=1)
    unseen_rate_critical: float = Field(default=0.05, gt=0, le=1)
    # Family-wise level for the KS / chi-squared p-values, after Holm's correction across features.
    p_value: float = Field(default=0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _warn_below_critical(self) -> DriftThresholds:
        for warn, critical in _THRESHOLD_PAIRS:
            if getattr(self, warn) > getattr(self, critical):
                raise ValueError(
                    f"{warn} ({getattr(self, warn)}) must not exceed "
                    f"{critical} ({getattr(self, critical)})"
                )
        return self


class DriftParams(StrictModel):
    """Drift monitoring parameters: bins for the reference profile and verdict thresholds."""

    n_bins: int = Field(default=10, ge=2)
    thresholds: DriftThresholds = DriftThresholds()
