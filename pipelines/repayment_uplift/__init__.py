"""repayment_uplift: which past-due borrowers does a collection call make repay?"""

from modelworks.use_cases import UseCase
from pipelines.repayment_uplift.features import definitions
from pipelines.repayment_uplift.params import RepaymentUpliftParams
from pipelines.repayment_uplift.pipeline import create_pipelines

USE_CASE = UseCase(
    name="repayment_uplift",
    params_model=RepaymentUpliftParams,
    create_pipelines=create_pipelines,
    feature_definitions=definitions,
)
