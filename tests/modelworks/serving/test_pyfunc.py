"""The packaged model: complete feature rows, or entity keys read from the online store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from modelworks.registry.tracking import log_probability_model
from modelworks.serving.pyfunc import (
    InputTypeError,
    MissingFieldsError,
    UnknownEntityError,
    conform_to_schema,
)
from modelworks.training import CandidateParams, FeatureSpec, get_adapter


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


# --- the training data's own dtypes -------------------------------------------------------

TYPED_FEATURES = FeatureSpec(numeric=["term_days", "amount"], categorical=["region"])


@dataclass(frozen=True)
class Typed:
    """A model trained on an int64, a float64 and a text column, loaded back from MLflow, and
    its holdout as stored (a parquet round trip) with the predictions made at training time."""

    pyfunc: Any
    holdout: pd.DataFrame
    expected: np.ndarray


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Typed]:
    root = tmp_path_factory.mktemp("typed")
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame(
        {
            "term_days": rng.choice(np.array([7, 14, 30], dtype=np.int64), size=n),
            "amount": rng.uniform(10, 100, size=n),
            "region": rng.choice(["north", "south", "east"], size=n),
        }
    )
    logit = 0.05 * (frame["term_days"] - 14) + 0.02 * (frame["amount"] - 50)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    train, holdout = frame.iloc[:200], frame.iloc[200:]
    fitted = get_adapter("lightgbm").fit(
        train,
        y[:200],
        features=TYPED_FEATURES,
        candidate=CandidateParams(adapter="lightgbm", params={"min_child_samples": 5}),
        seed=0,
        n_rounds=20,
    )
    holdout.to_parquet(root / "holdout.parquet")
    stored = pd.read_parquet(root / "holdout.parquet")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("typed", artifact_location=root.as_uri())
        with mlflow.start_run(experiment_id=experiment):
            model_uri = log_probability_model(fitted, holdout)
        yield Typed(mlflow.pyfunc.load_model(model_uri), stored, fitted.predict(holdout))
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None: back to the default


def test_the_signature_types_columns_as_the_training_data_holds_them(typed: Typed) -> None:
    schema = typed.pyfunc.metadata.get_input_schema()
    types = {spec.name: str(spec.type.name) for spec in schema.inputs}
    assert types == {"term_days": "long", "amount": "double", "region": "string"}


def test_the_model_scores_its_own_stored_holdout_without_a_cast(typed: Typed) -> None:
    assert typed.holdout["term_days"].dtype == np.int64
    answer = typed.pyfunc.predict(typed.holdout)
    np.testing.assert_allclose(answer, typed.expected, rtol=0, atol=1e-12)


def test_whole_floats_for_an_integer_column_are_accepted(typed: Typed) -> None:
    schema = typed.pyfunc.metadata.get_input_schema()
    # A count column read back as float (it had a gap elsewhere in the batch's source).
    floated = typed.holdout.astype({"term_days": "float64"})
    answer = typed.pyfunc.predict(conform_to_schema(floated, schema))
    np.testing.assert_allclose(answer, typed.expected, rtol=0, atol=1e-12)


def test_integers_for_a_float_column_are_accepted(typed: Typed) -> None:
    schema = typed.pyfunc.metadata.get_input_schema()
    whole = typed.holdout.assign(amount=typed.holdout["amount"].round().astype(np.int64))
    as_floats = whole.astype({"amount": "float64"})
    np.testing.assert_allclose(
        typed.pyfunc.predict(conform_to_schema(whole, schema)),
        typed.pyfunc.predict(as_floats),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("term_days", "abc", "column 'term_days': expected numbers, got object, e.g. 'abc'"),
        ("term_days", 14.5, "column 'term_days': expected whole numbers .* got 14.5"),
        ("term_days", None, "column 'term_days': 1 missing value"),
        ("amount", "abc", "column 'amount': expected numbers, got object, e.g. 'abc'"),
        ("region", 3, "column 'region': expected text .* got int64"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_column(
    typed: Typed, column: str, value: Any, message: str
) -> None:
    schema = typed.pyfunc.metadata.get_input_schema()
    rows = typed.holdout.head(3).copy()
    if column == "region":
        rows[column] = value
    else:
        rows[column] = rows[column].astype(object)
        rows.loc[rows.index[1], column] = value
    with pytest.raises(InputTypeError, match=message) as caught:
        conform_to_schema(rows, schema)
    assert caught.value.column == column


def test_text_where_numbers_were_trained_is_refused_by_the_pyfunc_too(typed: Typed) -> None:
    rows = typed.holdout.head(2).assign(term_days=["abc", "14"])
    with pytest.raises(MlflowException, match="term_days"):
        typed.pyfunc.predict(rows)


def test_a_category_column_is_read_as_its_labels(typed: Typed) -> None:
    schema = typed.pyfunc.metadata.get_input_schema()
    categorical = typed.holdout.astype({"region": "category"})
    answer = typed.pyfunc.predict(conform_to_schema(categorical, schema))
    np.testing.assert_allclose(answer, typed.expected, rtol=0, atol=1e-12)
