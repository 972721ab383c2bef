"""The uplift pyfunc: each arm, uplift and revenue uplift, logged and loaded through MLflow."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from modelworks.serving.pyfunc import MissingFieldsError
from modelworks.uplift import UpliftCandidateParams, fit_uplift_model
from modelworks.uplift.serving import (
    OUTPUT_COLUMNS,
    log_uplift_model,
    predict_served,
    predict_uplift_table,
)
from tests.modelworks.uplift.synthetic import FEATURES, PARAMS, synthetic


@pytest.fixture(scope="module")
def fitted():
    data, _ = synthetic(1_500, 5)
    model = fit_uplift_model(
        data,
        features=FEATURES,
        candidate=UpliftCandidateParams(
            adapter="lightgbm", learner="t_learner", params=PARAMS["lightgbm"]
        ),
        seed=0,
        n_rounds=30,
    )
    rows = data.X.assign(owed=np.linspace(10.0, 1000.0, len(data)))
    return model, rows


def test_revenue_uplift_is_the_uplift_at_the_value_at_stake(fitted):
    model, rows = fitted
    table = predict_uplift_table(model, rows, "owed")
    assert list(table.columns) == list(OUTPUT_COLUMNS) and table.index.equals(rows.index)
    np.testing.assert_allclose(table["uplift"], table["p_treated"] - table["p_control"])
    np.testing.assert_allclose(table["uplift"], model.predict_uplift(rows))
    np.testing.assert_allclose(table["revenue_uplift"], table["uplift"] * rows["owed"])
    with pytest.raises(MissingFieldsError, match="owed"):
        predict_uplift_table(model, rows.drop(columns="owed"), "owed")


def test_the_logged_pyfunc_predicts_what_the_model_does(fitted, tracking: MlflowClient):
    model, rows = fitted
    with mlflow.start_run():
        uri = log_uplift_model(model, rows, value_at_stake="owed")
    pyfunc = mlflow.pyfunc.load_model(uri)
    schema = pyfunc.metadata.get_input_schema()
    assert {s.name for s in schema.inputs if s.required} == {*FEATURES.columns, "owed"}
    served = predict_served(pyfunc, rows.iloc[::-1])  # any row order, index kept
    expected = predict_uplift_table(model, rows, "owed").iloc[::-1]
    pd.testing.assert_frame_equal(served, expected, check_exact=False, rtol=1e-9)
