"""The file MLflow logs as the model's code (models from code): nothing is pickled.

MLflow executes this file when the model is loaded, with the logged copy of ``modelworks`` on
the path; the fitted model itself travels as an artifact in its library's native format.
"""

from mlflow.models import set_model

from modelworks.serving.pyfunc import ProbabilityModel

set_model(ProbabilityModel())
