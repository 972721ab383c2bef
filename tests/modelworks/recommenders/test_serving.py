"""The recommender as a registered pyfunc: top-k lists, exclusions, cold start, the gate's
evaluator and the HTTP app, on a toy model (no online store: requests carry their features)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import torch
import uvicorn
from mlflow.exceptions import MlflowException

from modelworks.recommenders import HybridRecommender, evaluate_recommender, fit_recommender
from modelworks.recommenders.evaluation import RankingEvaluator
from modelworks.recommenders.serving import log_recommender
from modelworks.registry.gate import Comparison, PairedTest, paired_bootstrap
from modelworks.serving.app import create_app
from modelworks.serving.datasets import ServedModel
from tests.modelworks.recommenders.test_trainer import FAST, NEW_USER, toy_data

CONFIG = {"user_key": "user_id", "exclude_feature": "seen"}


@dataclass(frozen=True)
class Logged:
    """The toy model, its pyfunc loaded back from MLflow, and requests as a caller sends them."""

    model: HybridRecommender
    model_uri: str
    pyfunc: mlflow.pyfunc.PyFuncModel
    requests: pd.DataFrame


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = toy_data()
    model = fit_recommender(
        data["interactions"], users=data["users"], items=data["items"], params=FAST, device="cpu"
    )
    seen = data["interactions"].groupby("user_id")["item_id"].agg(lambda s: sorted(set(s)))
    requests_ = data["users"].head(20).assign(seen=lambda f: f["user_id"].map(seen))
    root = tmp_path_factory.mktemp("recommender")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.create_experiment("toy", artifact_location=(root / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            model_uri = log_recommender(model, requests_.head(5), config=CONFIG)
        yield Logged(model, model_uri, mlflow.pyfunc.load_model(model_uri), requests_)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        torch.set_num_threads(threads)


def test_top_k_per_user_never_returns_the_items_to_leave_out(logged):
    answer = logged.pyfunc.predict(logged.requests)
    assert answer.columns.tolist() == ["user_id", "rank", "item_id", "score"]
    assert answer.groupby("user_id")["rank"].apply(list).tolist() == [list(range(1, 11))] * 20
    for user, items in answer.groupby("user_id")["item_id"]:
        left_out = logged.requests.set_index("user_id").loc[user, "seen"]
        assert not set(items) & set(left_out)
    scores = answer.groupby("user_id")["score"].apply(np.asarray)
    assert all((np.diff(s) <= 0).all() for s in scores)


def test_the_answer_is_the_models_own_ranking(logged):
    row = logged.requests.iloc[[0]]
    answer = logged.pyfunc.predict(row.assign(k=5))
    features = row.set_index("user_id")[["segment"]]
    expected = logged.model.top_k(
        row["user_id"].iloc[0], 5, exclude=row["seen"].iloc[0], user_features=features
    )
    assert answer["item_id"].tolist() == list(expected)


def test_an_unseen_user_gets_an_answer_from_content_alone(logged):
    nobody = logged.pyfunc.predict(pd.DataFrame({"user_id": [NEW_USER]}))
    assert len(nobody) == 10 and nobody["user_id"].eq(NEW_USER).all()
    by_segment = {
        segment: logged.pyfunc.predict(pd.DataFrame({"user_id": [NEW_USER], "segment": [segment]}))
        for segment in ("a", "b")
    }
    assert by_segment["a"]["item_id"].tolist() != by_segment["b"]["item_id"].tolist()


def test_k_is_per_request_and_the_key_is_required(logged):
    answer = logged.pyfunc.predict(logged.requests.head(2).assign(k=[3, 1]))
    assert answer.groupby("user_id").size().tolist() == [3, 1]
    schema = logged.pyfunc.metadata.get_input_schema()
    assert [spec.name for spec in schema.inputs if spec.required] == ["user_id"]
    assert {"k", "segment", "seen"} <= {spec.name for spec in schema.inputs}
    with pytest.raises(MlflowException, match="user_id"):
        logged.pyfunc.predict(pd.DataFrame({"segment": ["a"]}))


def test_the_logged_requirements_pin_torch_without_a_local_build_label(logged):
    requirements = Path(mlflow.pyfunc.get_model_dependencies(logged.model_uri)).read_text()
    assert f"torch=={torch.__version__.split('+')[0]}" in requirements.splitlines()


def test_the_gate_evaluator_agrees_with_the_pipelines_evaluation(logged):
    data = toy_data()
    last = data["interactions"].groupby("user_id").tail(1)
    holdout = logged.requests.assign(
        relevant_items=logged.requests["user_id"]
        .map(last.set_index("user_id")["item_id"])
        .map(lambda item: [item]),
        cold_start=np.arange(20) >= 15,
        seen=[[] for _ in range(20)],  # nothing left out, so every relevant item can be found
    )
    evaluator = RankingEvaluator("relevant_items")
    predictions = evaluator.predict(logged.pyfunc, holdout)
    assert len(predictions) == 20 and all(len(items) == 10 for items in predictions)
    everyone = np.arange(20)
    expected = evaluate_recommender(
        logged.model,
        last[last["user_id"].isin(holdout["user_id"])][["user_id", "item_id"]],
        history=data["interactions"],
        columns=logged.model.columns,
        user_features=holdout.set_index("user_id")[["segment"]],
    )
    assert evaluator.metric("ndcg_at_10", holdout, predictions)(everyone) == pytest.approx(
        expected["ndcg_at_10"]
    )
    assert evaluator.metric("recall_at_5", holdout, predictions)(everyone) == pytest.approx(
        expected["recall_at_5"]
    )
    warm = evaluator.metric("ndcg_at_10_warm", holdout, predictions)(everyone)
    cold = evaluator.metric("ndcg_at_10_cold", holdout, predictions)(everyone)
    overall = evaluator.metric("ndcg_at_10", holdout, predictions)(everyone)
    assert overall == pytest.approx((15 * warm + 5 * cold) / 20)
    same = evaluator.metric("ndcg_at_10", holdout, predictions)
    observed, lower, _ = paired_bootstrap(
        Comparison(champion_version="1", challenger=same, champion=same, n_units=20),
        PairedTest(n_resamples=100),
    )
    assert observed == 0.0 and lower == 0.0
    with pytest.raises(ValueError, match="unknown ranking metric"):
        evaluator.metric("roc_auc", holdout, predictions)


@pytest.fixture(scope="module")
def url(logged) -> Iterator[str]:
    served = ServedModel(name="toy", version="1", run_id="r", pyfunc=logged.pyfunc)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(served), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_app_answers_with_the_top_k_rows(url):
    answer = requests.post(f"{url}/predict", json={"user_id": 3, "k": 3}, timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["model"] == "toy" and [row["rank"] for row in body["predictions"]] == [1, 2, 3]
    assert {row["user_id"] for row in body["predictions"]} == {3}
    missing = requests.post(f"{url}/predict", json={"k": 3}, timeout=30)
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "user_id"


def test_importing_the_task_pipeline_and_serving_modules_leaves_torch_unimported():
    code = (
        "import sys, modelworks.tasks.ranking, modelworks.recommenders.rows, "
        "modelworks.recommenders.watch, modelworks.recommenders.serving, "
        "modelworks.recommenders.evaluation; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
