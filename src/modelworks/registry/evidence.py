"""What the gate judges a version on: the evidence stored with its run at registration (task,
label, holdout metrics and rows, validation and drift), and what is measured again when the
gate runs (model size, single-row latency, both models on the same holdout rows)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from modelworks.registry.evaluation import evaluator_for
from modelworks.registry.gate import Comparison, GateEvidence, GatePolicy

EVIDENCE_FILE = "gate_evidence.json"
HOLDOUT_DIR = "evaluation"
HOLDOUT_FILE = f"{HOLDOUT_DIR}/holdout.parquet"
LATENCY_CALLS = 200
LATENCY_WARMUP = 20

Timer = Callable[[], float]
"""Seconds from an arbitrary origin, read before and after each timed prediction: the latency
check's clock. ``time.perf_counter`` by default; a test passes a scripted one, so the check is
judged on timings it chose rather than on how busy the machine happens to be."""


class RegistryError(RuntimeError):
    """A registry move that cannot be made, with the reason a person can act on."""


def log_gate_evidence(
    run_id: str,
    *,
    task: str,
    label: str,
    holdout: pd.DataFrame,
    holdout_metrics: Mapping[str, float],
    validation_passed: bool,
    drift_verdict: str | None,
) -> None:
    """Store with the run what the gate needs to judge its model later, from any machine."""
    client = MlflowClient()
    client.log_dict(
        run_id,
        {
            "task": task,
            "label": label,
            "holdout_metrics": dict(holdout_metrics),
            "validation_passed": validation_passed,
            "drift_verdict": drift_verdict,
            "holdout_rows": len(holdout),
        },
        EVIDENCE_FILE,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(HOLDOUT_FILE).name
        holdout.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), HOLDOUT_DIR)


def gather_evidence(
    client: MlflowClient,
    model_name: str,
    version: str,
    policy: GatePolicy,
    champion: str | None,
    *,
    timer: Timer = time.perf_counter,
) -> GateEvidence:
    """Everything the gate judges about ``version``, measured now where it can be; ``timer``
    times the single-row predictions of the latency check."""
    run_id = str(client.get_model_version(model_name, version).run_id)
    stored = run_json(client, run_id, EVIDENCE_FILE)
    holdout = _run_parquet(client, run_id, HOLDOUT_FILE)
    evaluator = evaluator_for(stored)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=tmp)
        size_mb = sum(f.stat().st_size for f in Path(local).rglob("*") if f.is_file()) / 2**20
        model = mlflow.pyfunc.load_model(local)
        challenger_scores = evaluator.predict(model, holdout)
        latency = (
            latency_p99_ms(model, evaluator, holdout, timer=timer)
            if policy.max_latency_ms is not None
            else None
        )
    comparison = None
    if champion is not None and policy.improvement is not None:
        metric = policy.improvement.metric
        champion_model = mlflow.pyfunc.load_model(f"models:/{model_name}/{champion}")
        champion_scores = evaluator.predict(champion_model, holdout)
        comparison = Comparison(
            champion_version=champion,
            challenger=evaluator.metric(metric, holdout, challenger_scores),
            champion=evaluator.metric(metric, holdout, champion_scores),
            n_units=evaluator.n_units(holdout),
            higher_is_better=evaluator.higher_is_better(metric),
        )
    return GateEvidence(
        holdout_metrics=dict(stored["holdout_metrics"]),
        validation_passed=stored.get("validation_passed"),
        drift_verdict=stored.get("drift_verdict"),
        model_size_mb=size_mb,
        latency_p99_ms=latency,
        comparison=comparison,
        champion_version=champion,
    )


def latency_p99_ms(
    model: Any,
    evaluator: Any,
    holdout: pd.DataFrame,
    *,
    timer: Timer = time.perf_counter,
) -> float:
    """p99, in milliseconds, of ``LATENCY_CALLS`` single-row predictions on holdout rows, each
    timed by ``timer``; the ``LATENCY_WARMUP`` predictions before them are timed too but left
    out, since they pay for lazy initialisation that a served model pays once."""
    timings = [
        _timed_prediction(model, evaluator, holdout.iloc[[i % len(holdout)]], timer)
        for i in range(LATENCY_WARMUP + LATENCY_CALLS)
    ]
    return float(np.percentile(timings[LATENCY_WARMUP:], 99) * 1000)


def _timed_prediction(model: Any, evaluator: Any, row: pd.DataFrame, timer: Timer) -> float:
    """Seconds ``timer`` says one prediction of ``row`` took."""
    start = timer()
    evaluator.predict(model, row)
    return timer() - start


def run_json(client: MlflowClient, run_id: str, path: str) -> dict[str, Any]:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError):
            raise RegistryError(
                f"run {run_id} has no {path}: it was not registered by modelworks"
            ) from None
        return dict(json.loads(Path(local).read_text()))


def _run_parquet(client: MlflowClient, run_id: str, path: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_parquet(client.download_artifacts(run_id, path, tmp))
