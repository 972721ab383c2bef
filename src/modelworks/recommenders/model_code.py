"""The file MLflow logs as a recommender's code (models from code): nothing is pickled.

MLflow executes this file when the model is loaded, with the logged copy of ``modelworks`` on
the path; the network travels as an artifact (state_dict and JSON metadata).
"""

from mlflow.models import set_model

from modelworks.recommenders.serving import TopKRecommender

set_model(TopKRecommender())
