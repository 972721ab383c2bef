"""The typed parameters of hotel_recommendation (conf/base/parameters/hotel_recommendation.yml)."""

from __future__ import annotations

from modelworks.features import FeatureStoreParams
from modelworks.params import StrictModel
from modelworks.pipelines.training import RegistryParams
from modelworks.recommenders.params import RecommenderMonitoringParams, RecommenderTrainingParams
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.batch import ScoringParams
from modelworks.validation import ValidationSpec
from pipelines.hotel_recommendation.generator import GeneratorParams


class HotelRecommendationParams(StrictModel):
    generator: GeneratorParams
    validation: ValidationSpec
    features: FeatureStoreParams
    training: RecommenderTrainingParams
    registry: RegistryParams
    monitoring: RecommenderMonitoringParams
    scoring: ScoringParams
    retrain: RetrainPolicy
