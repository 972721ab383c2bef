"""modelworks: Kedro pipelines around Feast, MLflow, DVC, Great Expectations, Optuna and Dask.

Importing the package defers Feast's MLflow plug-in (``modelworks.plugins``), so processes
that talk to MLflow do not import Feast unless they use it.
"""

from modelworks.plugins import defer_feast_header_provider

defer_feast_header_provider()
