"""Packaged inference: the MLflow pyfunc every registered model is logged as."""
