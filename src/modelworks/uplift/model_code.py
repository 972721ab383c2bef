"""The file MLflow logs as an uplift model's code (models from code): nothing is pickled.

MLflow executes this file when the model is loaded, with the logged copy of ``modelworks`` on
the path; the fitted meta-learner travels as an artifact in its libraries' native formats.
"""

from mlflow.models import set_model

from modelworks.uplift.serving import UpliftPyfunc

set_model(UpliftPyfunc())
