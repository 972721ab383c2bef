"""Shadow scoring and live judging as lifecycle nodes, on a real MLflow SQLite registry."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from modelworks.pipelines.shadow import judge_challengers, score_challengers
from modelworks.registry import audit
from modelworks.registry.challengers import ShadowPolicy, enter_shadow
from modelworks.registry.gate import GatePolicy
from modelworks.registry.live import LiveTest
from modelworks.registry.promotion import CHAMPION, TRAINED_AS_OF_TAG, promote
from modelworks.serving.batch import ScoringParams
from modelworks.serving.datasets import ShadowModelsDataset
from modelworks.tasks.params import RegistryParams
from tests.modelworks.registry.versions import labelled_rows, register_flipped

MODEL = "m"
TRAINED = pd.Timestamp("2026-01-01", tz="UTC")
SHADOW = ShadowPolicy(max_challengers=2, live_test=LiveTest(min_rows=100))
REGISTRY = RegistryParams(model_name=MODEL, shadow=SHADOW)
TRAINING = SimpleNamespace(task="binary_classification", time_column="t", label="label")


def _version(client: MlflowClient, flip: float, rounds: int = 30) -> str:
    version = register_flipped(MODEL, flip, rounds=rounds)
    client.set_model_version_tag(MODEL, version, TRAINED_AS_OF_TAG, TRAINED.isoformat())
    return version


def _live_rows(n: int, *, start: pd.Timestamp) -> pd.DataFrame:
    frame, y = labelled_rows(n, 11)
    return frame.assign(
        label=y, t=start + pd.to_timedelta(np.arange(n), unit="min"), loan_id=np.arange(n)
    )


def _registry(client: MlflowClient) -> tuple[str, str, str]:
    """A poor champion (labels 30 % flipped), and two challengers: one as poor, one good."""
    champion = _version(client, 0.3)
    promote(MODEL, champion, GatePolicy())
    poor, good = _version(client, 0.3, rounds=31), _version(client, 0.0)
    for version in (poor, good):
        enter_shadow(MODEL, version, SHADOW, reason="test", triggered_by=None)
    return champion, poor, good


def test_challengers_score_the_batch_beside_the_champion(tracking: MlflowClient) -> None:
    _, poor, good = _registry(tracking)
    models = ShadowModelsDataset(MODEL).load()
    assert [m.version for m in models.challengers] == [good, poor]
    rows = _live_rows(50, start=TRAINED)
    scored = score_challengers(models, rows, ScoringParams(id_columns=["loan_id"]))
    assert len(scored) == 100
    assert scored.groupby("alias")["model_version"].first().to_dict() == {
        "challenger": good, "challenger_2": poor,
    }  # fmt: skip
    assert scored["score"].between(0, 1).all()


def test_a_better_challenger_takes_over_on_rows_labelled_after_training(
    tracking: MlflowClient,
) -> None:
    champion, poor, good = _registry(tracking)
    decided = judge_challengers(
        ShadowModelsDataset(MODEL).load(), _live_rows(3000, start=TRAINED), TRAINING, REGISTRY
    )
    assert decided["promoted"] == good
    evidence = {e["challenger_version"]: e for e in decided["evidence"]}
    assert evidence[good]["passed"] and evidence[good]["n_rows"] == 2999  # the first is at TRAINED
    assert not evidence[poor]["passed"]
    assert str(tracking.get_model_version_by_alias(MODEL, CHAMPION).version) == good
    event = audit.read_events(tracking, MODEL)[-1]
    assert (event["action"], event["version"], event["champion_before"]) == (
        "promoted", good, champion,
    )  # fmt: skip


def test_rows_from_before_training_are_no_evidence(tracking: MlflowClient) -> None:
    champion, _, _ = _registry(tracking)
    before = _live_rows(3000, start=TRAINED - pd.Timedelta(days=10))
    decided = judge_challengers(ShadowModelsDataset(MODEL).load(), before, TRAINING, REGISTRY)
    assert decided["promoted"] is None
    assert {e["n_rows"] for e in decided["evidence"]} == {0}
    assert str(tracking.get_model_version_by_alias(MODEL, CHAMPION).version) == champion


def test_a_champion_moved_meanwhile_leaves_the_decision_to_the_next_run(
    tracking: MlflowClient,
) -> None:
    _registry(tracking)
    models = ShadowModelsDataset(MODEL).load()
    other = _version(tracking, 0.3, rounds=29)
    promote(MODEL, other, GatePolicy())  # another run's promotion, after this one loaded
    decided = judge_challengers(models, _live_rows(3000, start=TRAINED), TRAINING, REGISTRY)
    assert decided["promoted"] is None and "the champion is now" in decided["reason"]
    assert str(tracking.get_model_version_by_alias(MODEL, CHAMPION).version) == other
