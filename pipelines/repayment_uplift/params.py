"""The typed parameters of repayment_uplift (conf/base/parameters/repayment_uplift.yml)."""

from __future__ import annotations

from modelworks.features import FeatureStoreParams
from modelworks.monitoring import DriftParams
from modelworks.params import StrictModel
from modelworks.pipelines.training import RegistryParams
from modelworks.uplift import TargetingPolicy
from modelworks.uplift.monitoring import UpliftRetrainPolicy
from modelworks.uplift.pipeline import UpliftScoringParams, UpliftTrainingParams
from modelworks.validation import ValidationSpec
from pipelines.repayment_uplift.generator import GeneratorParams


class RepaymentUpliftParams(StrictModel):
    generator: GeneratorParams
    validation: ValidationSpec
    features: FeatureStoreParams
    training: UpliftTrainingParams
    registry: RegistryParams
    monitoring: DriftParams
    targeting: TargetingPolicy
    scoring: UpliftScoringParams
    retrain: UpliftRetrainPolicy
