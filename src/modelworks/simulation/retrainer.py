"""Retrains of a replay: each trained once per week and training setup, then registered and
gated under every policy that asked for it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelworks.monitoring import DriftParams
from modelworks.pipelines.monitoring import detect_drift, profile_reference
from modelworks.pipelines.retraining import refit_best, refits_with_holdout, register_refit
from modelworks.pipelines.training import (
    RegistryParams,
    TrainingParams,
    describe_lineage,
    register_best_candidate,
    select_best_candidate,
    split_out_of_time,
    train_candidates,
)


@dataclass(frozen=True)
class Trained:
    """One retrain's winner and everything its registration needs."""

    best: dict[str, Any]
    entity_rows: pd.DataFrame
    holdout: pd.DataFrame
    drift: dict[str, Any]
    profile: dict[str, Any]
    refit: dict[str, Any] | None
    training: TrainingParams


@dataclass
class Retrainer:
    """What every retrain of a replay trains with, besides the rows known by then."""

    validation_report: dict[str, Any]
    feature_service: dict[str, Any]
    parameters: dict[str, Any]
    monitoring: DriftParams
    use_case: str
    _trained: dict[tuple[str, str], Trained] = field(default_factory=dict)

    def train(
        self,
        labelled: pd.DataFrame,
        batch: pd.DataFrame,
        training: TrainingParams,
        decision: dict[str, Any],
    ) -> Trained:
        """The retrain of ``decision``'s week under ``training``, through the nodes every
        training run uses; a second policy asking for the same one gets it from memory."""
        key = (decision["as_of"], _fingerprint(training, decision))
        if key not in self._trained:
            self._trained[key] = self._train(labelled, batch, training, decision)
        return self._trained[key]

    def register(self, trained: Trained, registry: RegistryParams) -> dict[str, Any]:
        """Register ``trained`` under ``registry`` and let its gate decide; a refit with the
        holdout rows then takes the judged version's place, champion or challenger."""
        parameters = {
            **self.parameters,
            self.use_case: {
                **self.parameters[self.use_case],
                "training": trained.training,
                "registry": registry,
            },
        }
        lineage = describe_lineage(
            trained.best,
            trained.entity_rows,
            self.validation_report,
            self.feature_service,
            parameters,
            use_case=self.use_case,
        )
        decision = register_best_candidate(
            trained.best,
            lineage,
            trained.holdout,
            trained.drift,
            trained.profile,
            trained.training,
            registry,
        )
        if trained.refit is not None and (decision.get("promoted") or decision.get("shadow")):
            decision = register_refit(
                trained.refit, decision, registry, rows="its training and holdout rows"
            )
        return decision

    def _train(
        self,
        labelled: pd.DataFrame,
        batch: pd.DataFrame,
        training: TrainingParams,
        decision: dict[str, Any],
    ) -> Trained:
        train, holdout = split_out_of_time(labelled, training)
        candidates = train_candidates(
            train, holdout, self.feature_service, training, retrain_decision=decision
        )
        best, _, _ = select_best_candidate(candidates, training)
        profile = profile_reference(holdout, best, training, self.monitoring)
        drift = detect_drift(profile, batch, self.monitoring)
        entity_columns = [c for c in labelled.columns if c not in self.feature_service["features"]]
        refit = None
        if refits_with_holdout(training, decision):
            refit = refit_best(best, train, holdout, self.feature_service, training)
        return Trained(best, labelled[entity_columns], holdout, drift, profile, refit, training)


def _fingerprint(training: TrainingParams, decision: dict[str, Any]) -> str:
    """What makes two retrains of the same week differ: the training setup, and whether drift
    drove the decision (``on_drift`` applies only then)."""
    from modelworks.pipelines.retraining import training_for

    effective = training_for(training, decision)
    document = {
        "training": effective.model_dump(mode="json"),
        "refit": refits_with_holdout(training, decision),
    }
    return json.dumps(document, sort_keys=True, default=str)
