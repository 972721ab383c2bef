"""Registered versions made quickly for registry tests: a small LightGBM model whose training
labels are flipped with a chosen probability, logged with its gate evidence."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from modelworks.registry.evidence import log_gate_evidence
from modelworks.registry.promotion import register_version
from modelworks.registry.tracking import log_probability_model
from modelworks.training import (
    CandidateParams,
    FeatureSpec,
    binary_classification_metrics,
    get_adapter,
)

FEATURES = FeatureSpec(numeric=["x"], categorical=["c"])


def labelled_rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``x`` and ``c`` with a 0/1 label they predict."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], size=n)})
    logit = 2 * frame["x"] + (frame["c"] == "a")
    return frame, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()


def register_flipped(model: str, flip: float, *, rows: int = 1500, rounds: int = 30) -> str:
    """Train, log and register a version of ``model`` on labels flipped with probability
    ``flip`` (0 learns the signal, 0.5 noise); the gate judges it on unflipped holdout rows."""
    train, y = labelled_rows(rows, 0)
    flipped = np.random.default_rng(5).uniform(size=len(y)) < flip
    holdout, y_hold = labelled_rows(rows, 1)
    fitted = get_adapter("lightgbm").fit(
        train,
        np.where(flipped, 1 - y, y),
        features=FEATURES,
        candidate=CandidateParams(
            adapter="lightgbm", params={"min_child_samples": 20, "num_threads": 1}
        ),
        seed=0,
        n_rounds=rounds,
    )
    with mlflow.start_run() as run:
        uri = log_probability_model(fitted, holdout)
    log_gate_evidence(
        run.info.run_id,
        task="binary_classification",
        label="label",
        holdout=holdout.assign(label=y_hold),
        holdout_metrics=binary_classification_metrics(y_hold, fitted.predict_proba(holdout)),
        validation_passed=True,
        drift_verdict="ok",
    )
    return register_version(
        model_name=model, model_uri=uri, run_id=run.info.run_id, tags={"origin": "test"}
    )
