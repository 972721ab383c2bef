"""The served model's prepared online path: the same answers as MLflow's pyfunc, and the
same errors, from frames, from records and from LightGBM's numpy path."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import requests

from modelworks.serving.launch import SETTINGS_ENV, ServeSettings, app_from_environment
from modelworks.serving.limits import OnlineParams
from modelworks.serving.matrix import LightGBMMatrix
from modelworks.serving.pyfunc import (
    MissingFieldsError,
    OneThread,
    UnknownEntityError,
    conform_to_schema,
)
from modelworks.training import CandidateParams, FeatureSpec, get_adapter
from tests.modelworks.serving.conftest import running


def test_records_and_frames_score_as_mlflow_s_pyfunc(served) -> None:
    keys = pd.DataFrame({"customer_id": [3, 7, 150, 3], "amount": [20.0, 55.0, 90.0, 20]})
    schema = served.model.pyfunc.metadata.get_input_schema()
    through_mlflow = served.model.pyfunc.predict(conform_to_schema(keys, schema))
    records = keys.astype({"customer_id": object, "amount": object}).to_dict("records")
    np.testing.assert_array_equal(served.model.predict(keys), through_mlflow)
    np.testing.assert_array_equal(served.model.score_records(records), through_mlflow)


def test_a_stored_feature_a_row_sends_wins_and_one_it_leaves_out_is_missing(served) -> None:
    stored = served.latest.set_index("customer_id")
    rows = [{"customer_id": 3, "amount": 20.0, "x": 1.5}, {"customer_id": 4, "amount": 20.0}]
    complete = pd.DataFrame(
        {
            "customer_id": [3, 4],
            "amount": [20.0, 20.0],
            "x": [1.5, np.nan],
            "c": [stored.loc[3, "c"], stored.loc[4, "c"]],
        }
    )
    np.testing.assert_array_equal(served.model.score_records(rows), served.model.predict(complete))


def test_records_name_unknown_entities_and_missing_fields(served) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        served.model.score_records(
            [{"customer_id": 3, "amount": 1.0}, {"customer_id": 9999, "amount": 1.0}]
        )
    assert caught.value.keys == [{"customer_id": 9999}]
    with pytest.raises(MissingFieldsError) as missing:
        served.model.score_records([{"customer_id": 3}])
    assert missing.value.fields == ["amount"]


def test_the_lightgbm_matrix_predicts_what_the_model_does() -> None:
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {
            "count": rng.integers(0, 9, size=n),
            "amount": rng.uniform(10, 100, size=n),
            "region": rng.choice(["north", "south", "east"], size=n),
            "code": rng.choice([1, 2, 3], size=n),
        }
    )
    y = (rng.uniform(size=n) < 0.3 + 0.1 * (frame["region"] == "north")).astype(int)
    fitted = get_adapter("lightgbm").fit(
        frame,
        y,
        features=FeatureSpec(numeric=["count", "amount"], categorical=["region", "code"]),
        candidate=CandidateParams(adapter="lightgbm", params={"min_child_samples": 5}),
        seed=0,
        n_rounds=20,
    )
    scored = pd.DataFrame(
        {
            "count": [3, None, 7, 2],
            "amount": [50.5, 20.0, None, 99.0],
            "region": ["north", "west", None, "south"],  # an unseen and a missing category
            "code": [1, 3.0, 2, None],  # 3.0 is the category "3"
        }
    )
    matrix = LightGBMMatrix.of(fitted)
    assert matrix is not None
    batch = pd.concat([scored] * 20, ignore_index=True)  # coded by pandas, not one by one
    for rows in (scored, batch):
        columns = {name: rows[name].tolist() for name in rows.columns}
        np.testing.assert_array_equal(matrix.predict(columns, len(rows)), fitted.predict(rows))


def test_a_worker_builds_its_app_from_the_settings_in_its_environment(
    served, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServeSettings(model="served", online=OnlineParams(max_rows=2))
    monkeypatch.setenv(SETTINGS_ENV, settings.model_dump_json())
    with running(app_from_environment()) as url:
        answer = requests.post(f"{url}/predict", json={"customer_id": 3, "amount": 20}, timeout=30)
        too_many = requests.post(
            f"{url}/predict", json=[{"customer_id": 3, "amount": 20}] * 3, timeout=30
        )
    assert answer.status_code == 200
    assert answer.json()["score"] == pytest.approx(
        float(served.model.predict(pd.DataFrame({"customer_id": [3], "amount": [20.0]}))[0])
    )
    assert too_many.status_code == 422


def test_the_one_thread_limit_travels_to_another_process_and_applies_there() -> None:
    import lightgbm  # noqa: F401  (loads an OpenMP runtime)

    used = OneThread()
    with used.when(True):
        pass
    copy = pickle.loads(pickle.dumps(used))
    with copy.when(True):
        assert {info["num_threads"] for info in copy.runtimes().info()} == {1}
