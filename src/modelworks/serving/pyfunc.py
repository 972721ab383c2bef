"""The pyfunc wrapper that turns any fitted adapter into an MLflow model."""

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

MODEL_ARTIFACT = "fitted_model"
_FLOATING = frozenset({"double", "float"})


def conform_to_schema(frame: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """The schema's columns of ``frame``, those declared floating point cast to float64.

    Numeric features are logged as double (a column of counts turns float as soon as it has a
    gap), and MLflow refuses int64 for a double column, although no value changes.
    """
    if schema is None or not schema.has_input_names():
        return frame
    floating = [
        spec.name
        for spec in schema.inputs
        if spec.name in frame.columns and str(getattr(spec.type, "name", "")) in _FLOATING
    ]
    columns = [name for name in schema.input_names() if name in frame.columns]
    return frame[columns].astype(dict.fromkeys(floating, "float64"))


class ProbabilityModel(PythonModel):
    """Scores complete feature rows with the probability of the positive class.

    The fitted model travels as an artifact in its library's native format and this class as
    code (``model_code.py``), never as a pickle, so the MLflow model stays loadable across
    library patch releases.
    """

    def load_context(self, context: Any) -> None:
        from modelworks.training.adapters import load_fitted

        self._model = load_fitted(Path(context.artifacts[MODEL_ARTIFACT]))

    # Left unannotated: MLflow reads type hints on predict as a schema and would override the
    # signature logged with the model.
    def predict(self, context, model_input, params=None):
        return self._model.predict_proba(model_input)
