"""The typed parameters of repayment_uplift (conf/base/parameters/repayment_uplift.yml)."""

from __future__ import annotations

from pydantic import model_validator

from modelworks.features import FeatureStoreParams
from modelworks.monitoring import DriftParams
from modelworks.params import StrictModel
from modelworks.tasks.params import RegistryParams
from modelworks.uplift import TargetingPolicy
from modelworks.uplift.monitoring import UpliftRetrainPolicy
from modelworks.uplift.params import UpliftScoringParams, UpliftTrainingParams
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

    @model_validator(mode="after")
    def _one_price_per_call(self) -> RepaymentUpliftParams:
        # The profit metrics a model is judged by and the call list it makes must price a call
        # alike.
        if self.training.treatment_cost != self.targeting.cost:
            raise ValueError(
                f"training.treatment_cost ({self.training.treatment_cost}) and targeting.cost "
                f"({self.targeting.cost}) price the same call differently"
            )
        return self
