"""What a replay runs: its weeks, its shift, and the policies it compares side by side."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelworks.params import StrictModel
from modelworks.tasks.params import DriftRetraining


class ReplayPolicy(StrictModel):
    """One way of running the loop, replayed on the same weeks as the others."""

    promote: Literal["gate", "always", "never"] = "gate"
    """``gate``: the use case's promotion gate decides; ``always``: every retrain becomes
    champion (a baseline); ``never``: the first champion stays and nothing is retrained (the
    other baseline)."""
    shadow: bool = False
    """Retrains the gate rejected only on waivable checks shadow the champion and are promoted
    on live evidence (``registry.shadow`` of the use case: slots and the live test)."""
    live_only: bool = False
    """A champion is replaced only on live evidence (``gate.require_live_evidence``): a retrain
    that passes every holdout check still shadows it first."""
    on_drift: DriftRetraining | None = None
    """How a retrain the drift trigger asked for trains (recency, refit with the holdout)."""

    @model_validator(mode="after")
    def _coherent(self) -> ReplayPolicy:
        if self.promote != "gate" and (self.shadow or self.on_drift is not None):
            raise ValueError(
                f"promote: {self.promote} is a baseline; shadow and on_drift need promote: gate"
            )
        if self.live_only and not self.shadow:
            raise ValueError("live_only needs shadow: true (live evidence comes from shadow)")
        return self


def _default_policies() -> dict[str, ReplayPolicy]:
    return {
        "never_retrain": ReplayPolicy(promote="never"),
        "always_promote": ReplayPolicy(promote="always"),
        "gate": ReplayPolicy(),
    }


class SimulationParams(StrictModel):
    """How long the replay runs, where its world changes, and which policies it compares."""

    warmup_days: int = Field(default=360, ge=30)
    """History before the first replayed week: what the first champion is trained on."""
    weeks: int = Field(default=20, ge=2)
    shift_week: int | None = Field(default=8, ge=0)
    """The week the world changes (the generator injects the shift); marked on the plot."""
    shift_strength: float = Field(default=1.0, ge=0)
    """0: a world without a shift (every promotion after week 0 is then a false one)."""
    label_available_column: str = "label_known_at"
    n_splits: int | None = Field(default=None, ge=2)
    """Folds per retrain, if fewer than the use case's own (a replay retrains many times)."""
    candidates: list[str] | None = None
    """The candidates a retrain trains, if not all of the use case's."""
    search: bool = False
    """Whether a replay's retrains run the candidates' hyperparameter searches (each retrain
    is new data, so a new study); by default they train the candidates' fixed parameters."""
    min_days_between_retrains: float = Field(default=14, ge=0)
    policies: dict[str, ReplayPolicy] = Field(default_factory=_default_policies)
    """Replayed side by side on the same weeks; the first champion is shared."""
    current_policy: str = "gate"
    """The policy the others are compared with in the summary."""
    featured_policy: str | None = None
    """The policy whose champion and challengers the timeline plot draws (default: the first
    that shadows challengers, else the current one)."""

    @model_validator(mode="after")
    def _knows_its_policies(self) -> SimulationParams:
        for role in ("current_policy", "featured_policy"):
            name = getattr(self, role)
            if name is not None and name not in self.policies:
                raise ValueError(
                    f"{role} {name!r} is not among the policies {sorted(self.policies)}"
                )
        return self

    @property
    def featured(self) -> str:
        if self.featured_policy is not None:
            return self.featured_policy
        shadowing = [name for name, policy in self.policies.items() if policy.shadow]
        return shadowing[0] if shadowing else self.current_policy

    @property
    def shifted(self) -> bool:
        return self.shift_week is not None and self.shift_strength > 0
