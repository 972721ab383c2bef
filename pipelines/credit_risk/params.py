"""The typed parameters of credit_risk (conf/base/parameters/credit_risk.yml)."""

from __future__ import annotations

from modelworks.features import FeatureStoreParams
from modelworks.monitoring import DriftParams
from modelworks.params import StrictModel
from modelworks.pipelines.training import RegistryParams, TrainingParams
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.batch import ScoringParams
from modelworks.simulation import SimulationParams
from modelworks.validation import ValidationSpec
from pipelines.credit_risk.generator import GeneratorParams


class CreditRiskParams(StrictModel):
    generator: GeneratorParams
    validation: ValidationSpec
    features: FeatureStoreParams
    training: TrainingParams
    registry: RegistryParams
    monitoring: DriftParams
    scoring: ScoringParams
    retrain: RetrainPolicy
    simulation: SimulationParams
