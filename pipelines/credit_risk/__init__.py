"""credit_risk: will a new app loan default? (borrowers with no formal credit history)"""

from modelworks.use_cases import UseCase
from pipelines.credit_risk.features import definitions
from pipelines.credit_risk.params import CreditRiskParams
from pipelines.credit_risk.pipeline import create_pipelines

USE_CASE = UseCase(
    name="credit_risk",
    params_model=CreditRiskParams,
    create_pipelines=create_pipelines,
    feature_definitions=definitions,
)
