"""The packaged model: complete feature rows, or entity keys read from the online store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from modelworks.serving.pyfunc import MissingFieldsError, UnknownEntityError


def test_keys_and_request_fields_score_like_the_complete_rows(served) -> None:
    keys = pd.DataFrame({"customer_id": [3, 7, 150], "amount": [20.0, 55.0, 90.0]})
    complete = keys.merge(served.latest[["customer_id", "x", "c"]], on="customer_id")
    from_store = served.model.predict(keys)
    from_rows = served.model.predict(complete)
    np.testing.assert_allclose(from_store, from_rows, rtol=0, atol=1e-12)
    assert ((from_store > 0) & (from_store < 1)).all()


def test_supplied_features_win_over_the_stored_ones(served) -> None:
    row = served.latest.loc[served.latest["customer_id"] == 3, ["x", "c"]].iloc[0]
    base = pd.DataFrame({"customer_id": [3], "amount": [20.0]})
    overridden = base.assign(x=row["x"] + 3.0)
    assert served.model.predict(overridden)[0] != pytest.approx(served.model.predict(base)[0])
    same = base.assign(x=row["x"], c=row["c"])
    assert served.model.predict(same)[0] == pytest.approx(served.model.predict(base)[0])


def test_an_unknown_entity_is_named(served) -> None:
    keys = pd.DataFrame({"customer_id": [3, 9999], "amount": [20.0, 20.0]})
    with pytest.raises(UnknownEntityError, match="'customer_id': 9999") as caught:
        served.model.predict(keys)
    assert caught.value.keys == [{"customer_id": 9999}]


def test_the_signature_requires_keys_and_request_fields_and_types_them(served) -> None:
    schema = served.model.pyfunc.metadata.get_input_schema()
    required = {spec.name for spec in schema.inputs if spec.required}
    assert required == {"customer_id", "amount"}
    with pytest.raises(MlflowException, match="amount"):
        served.model.pyfunc.predict(pd.DataFrame({"customer_id": [3], "amount": ["a lot"]}))
    with pytest.raises(MlflowException, match="amount"):
        served.model.pyfunc.predict(pd.DataFrame({"customer_id": [3]}))


def test_missing_request_fields_are_named_when_the_schema_is_bypassed(served) -> None:
    python_model = served.model.pyfunc.unwrap_python_model()
    with pytest.raises(MissingFieldsError, match="amount"):
        python_model.predict(None, pd.DataFrame({"customer_id": [3]}))
