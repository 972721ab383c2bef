"""hotel_recommendation: which hotels will a traveller book next? (warm and cold-start users)"""

from modelworks.use_cases import UseCase
from pipelines.hotel_recommendation.features import definitions
from pipelines.hotel_recommendation.params import HotelRecommendationParams
from pipelines.hotel_recommendation.pipeline import create_pipelines

USE_CASE = UseCase(
    name="hotel_recommendation",
    params_model=HotelRecommendationParams,
    create_pipelines=create_pipelines,
    feature_definitions=definitions,
)
