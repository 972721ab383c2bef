"""Training, selection and registration nodes, shared by every classification use case."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.params import StrictModel
from modelworks.registry import tracking
from modelworks.registry.promotion import register_and_promote, score_version
from modelworks.training import (
    CandidateParams,
    FeatureSpec,
    binary_classification_metrics,
    get_adapter,
    out_of_time_split,
    plots,
    stratified_folds,
    summarise_folds,
)

Metric = Literal["roc_auc", "pr_auc", "ks", "log_loss", "brier"]
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


class TrainingParams(StrictModel):
    """How candidates are trained and compared."""

    label: str
    time_column: str
    features: FeatureSpec
    holdout_days: int
    n_splits: int = 5
    seed: int = 42
    selection_metric: Metric = "roc_auc"
    candidates: dict[str, CandidateParams]


class RegistryParams(StrictModel):
    """Where the winner is registered and what it must do to become champion."""

    model_name: str
    min_improvement: float = 0.0
    description: str = ""


def _oriented(metric: str, value: float) -> float:
    """A score where larger is always better."""
    return -value if metric in LOWER_IS_BETTER else value


def split_out_of_time(
    training_set: pd.DataFrame, params: TrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest ``holdout_days`` become the holdout; the rest is for cross-validation."""
    return out_of_time_split(
        training_set, time_column=params.time_column, holdout_days=params.holdout_days
    )


def _cross_validate(
    name: str, candidate: CandidateParams, X: pd.DataFrame, y: pd.Series, params: TrainingParams
) -> tuple[dict[str, float], int]:
    """Stratified K-fold with early stopping, one nested run per fold; summary and rounds."""
    adapter = get_adapter(candidate.adapter)
    fold_metrics, rounds = [], []
    for fold, (fit_idx, valid_idx) in enumerate(
        stratified_folds(y, n_splits=params.n_splits, seed=params.seed)
    ):
        with tracking.fold_run(name, fold):
            fitted = adapter.fit(
                X.iloc[fit_idx],
                y.iloc[fit_idx],
                features=params.features,
                candidate=candidate,
                seed=params.seed,
                X_valid=X.iloc[valid_idx],
                y_valid=y.iloc[valid_idx],
            )
            metrics = binary_classification_metrics(
                y.iloc[valid_idx], fitted.predict_proba(X.iloc[valid_idx])
            )
            tracking.log_metrics({**metrics, "best_iteration": fitted.best_iteration})
        fold_metrics.append(metrics)
        rounds.append(fitted.best_iteration)
    return summarise_folds(fold_metrics), max(1, round(float(np.mean(rounds))))


def _train_candidate(
    name: str,
    candidate: CandidateParams,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    params: TrainingParams,
) -> dict[str, Any]:
    X, y = train[params.features.columns], train[params.label]
    y_hold = holdout[params.label].to_numpy()
    with tracking.candidate_run(name, tags={"modelworks.adapter": candidate.adapter}) as run_id:
        tracking.log_params(
            {"adapter": candidate.adapter, "n_splits": params.n_splits, "seed": params.seed}
        )
        tracking.log_params(candidate.params, prefix="model.")
        cv, n_rounds = _cross_validate(name, candidate, X, y, params)
        tracking.log_metrics(cv, prefix="cv_")
        final = get_adapter(candidate.adapter).fit(
            X, y, features=params.features, candidate=candidate, seed=params.seed, n_rounds=n_rounds
        )
        scores = final.predict_proba(holdout[params.features.columns])
        holdout_metrics = binary_classification_metrics(y_hold, scores)
        tracking.log_metrics({**holdout_metrics, "rounds": n_rounds}, prefix="holdout_")
        tracking.log_figure(plots.roc_curve_figure(y_hold, scores, label=name), "plots/roc.png")
        tracking.log_figure(
            plots.precision_recall_figure(y_hold, scores, label=name), "plots/precision_recall.png"
        )
        tracking.log_figure(
            plots.calibration_figure(y_hold, scores, label=name), "plots/calibration.png"
        )
        tracking.log_figure(
            plots.feature_importance_figure(final.feature_importance()),
            "plots/feature_importance.png",
        )
        model_uri = tracking.log_probability_model(final, holdout)
    return {
        "name": name,
        "adapter": candidate.adapter,
        "run_id": run_id,
        "model_uri": model_uri,
        "rounds": n_rounds,
        "cv": cv,
        "holdout": holdout_metrics,
    }


def train_candidates(
    train: pd.DataFrame, holdout: pd.DataFrame, params: TrainingParams
) -> list[dict[str, Any]]:
    """Cross-validate, refit and evaluate every candidate; each logged in its own MLflow run."""
    for frame, role in ((train, "training"), (holdout, "holdout")):
        counts = frame[params.label].value_counts()
        if len(counts) < 2:
            raise ValueError(f"The {role} rows hold a single label class: {counts.to_dict()}")
    return [
        _train_candidate(name, candidate, train, holdout, params)
        for name, candidate in params.candidates.items()
    ]


def select_best_candidate(
    candidates: list[dict[str, Any]], params: TrainingParams
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The candidate with the best cross-validated selection metric (the holdout stays unbiased).

    Returns the winner, its metrics as a flat JSON document (DVC metrics) and the same metrics
    for kedro-mlflow's metrics dataset.
    """
    key = f"{params.selection_metric}_mean"
    best = max(candidates, key=lambda c: _oriented(params.selection_metric, c["cv"][key]))
    metrics = {
        "candidate": best["name"],
        **{f"holdout_{k}": round(v, 6) for k, v in best["holdout"].items()},
        **{f"cv_{k}": round(v, 6) for k, v in best["cv"].items()},
    }
    mlflow_metrics = {k: {"value": v, "step": 0} for k, v in metrics.items() if k != "candidate"}
    return best, metrics, mlflow_metrics


def register_best_candidate(
    best: dict[str, Any],
    holdout: pd.DataFrame,
    validation_report: dict[str, Any],
    training: TrainingParams,
    registry: RegistryParams,
) -> dict[str, Any]:
    """Register the winner; it becomes champion only if it beats the champion on this holdout."""
    if not validation_report.get("success"):
        raise RuntimeError("Refusing to register a model trained on data that failed validation")
    metric = training.selection_metric
    # The champion reads its own feature columns from the frame (extra ones are ignored), so a
    # challenger with a different feature set is still compared on the same rows.
    X_hold = holdout.drop(columns=[training.label])
    y_hold = holdout[training.label].to_numpy()

    def score_champion(version: str) -> float:
        scores = np.asarray(score_version(registry.model_name, version, X_hold)).ravel()
        return binary_classification_metrics(y_hold, scores)[metric]

    orient = -1.0 if metric in LOWER_IS_BETTER else 1.0
    decision = register_and_promote(
        model_name=registry.model_name,
        model_uri=best["model_uri"],
        run_id=best["run_id"],
        metric=metric,
        challenger_score=best["holdout"][metric] * orient,
        score_champion=lambda v: score_champion(v) * orient,
        min_improvement=registry.min_improvement,
        tags={
            "modelworks.candidate": best["name"],
            "modelworks.adapter": best["adapter"],
            "modelworks.validation": "passed",
            **{f"holdout.{k}": f"{v:.6f}" for k, v in best["holdout"].items()},
            **{f"cv.{k}": f"{v:.6f}" for k, v in best["cv"].items()},
        },
        description=registry.description,
    )
    return decision.to_dict()


def training_pipeline() -> Pipeline:
    """``training_set`` -> candidates in MLflow -> best -> registry decision."""
    return Pipeline(
        [
            node(
                split_out_of_time,
                inputs=["training_set", "params:training"],
                outputs=["training_rows", "holdout_rows"],
                name="split_out_of_time",
            ),
            node(
                train_candidates,
                inputs=["training_rows", "holdout_rows", "params:training"],
                outputs="candidates",
                name="train_candidates",
            ),
            node(
                select_best_candidate,
                inputs=["candidates", "params:training"],
                outputs=["best_candidate", "holdout_metrics", "holdout_metrics_mlflow"],
                name="select_best_candidate",
            ),
            node(
                register_best_candidate,
                inputs=[
                    "best_candidate",
                    "holdout_rows",
                    "validation_report",
                    "params:training",
                    "params:registry",
                ],
                outputs="registry_decision",
                name="register_best_candidate",
            ),
        ]
    )
