"""Training, selection and registration nodes, shared by every classification use case."""

from __future__ import annotations

import time
from functools import partial, update_wrapper
from typing import Any, Literal

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.params import StrictModel, to_plain
from modelworks.registry import promotion, tracking
from modelworks.registry.gate import GatePolicy
from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE, build_lineage, lineage_tags
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
TASK = "binary_classification"
_VERDICT_ORDER = ("ok", "warn", "critical")


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
    """Where the winner is registered and the gate it must pass to become champion."""

    model_name: str
    description: str = ""
    gate: GatePolicy = GatePolicy()


def skipped(reason: str) -> dict[str, Any]:
    """What a step outputs when there is nothing to do (Kedro saves no None)."""
    return {"skipped": reason}


def was_skipped(output: Any) -> bool:
    """Whether an earlier step had nothing to do."""
    return isinstance(output, dict) and "skipped" in output


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
) -> tuple[dict[str, float], int, float]:
    """Stratified K-fold with early stopping, one nested run per fold; summary, rounds and the
    seconds spent inside the library's fit."""
    adapter = get_adapter(candidate.adapter)
    fold_metrics, rounds, fit_seconds = [], [], 0.0
    for fold, (fit_idx, valid_idx) in enumerate(
        stratified_folds(y, n_splits=params.n_splits, seed=params.seed)
    ):
        with tracking.fold_run(name, fold):
            start = time.perf_counter()
            fitted = adapter.fit(
                X.iloc[fit_idx],
                y.iloc[fit_idx],
                features=params.features,
                candidate=candidate,
                seed=params.seed,
                X_valid=X.iloc[valid_idx],
                y_valid=y.iloc[valid_idx],
            )
            fit_seconds += time.perf_counter() - start
            metrics = binary_classification_metrics(
                y.iloc[valid_idx], fitted.predict_proba(X.iloc[valid_idx])
            )
            tracking.log_metrics({**metrics, "best_iteration": fitted.best_iteration})
        fold_metrics.append(metrics)
        rounds.append(fitted.best_iteration)
    return summarise_folds(fold_metrics), max(1, round(float(np.mean(rounds)))), fit_seconds


def _train_candidate(
    name: str,
    candidate: CandidateParams,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    params: TrainingParams,
    serving: dict[str, Any],
) -> dict[str, Any]:
    X, y = train[params.features.columns], train[params.label]
    y_hold = holdout[params.label].to_numpy()
    with tracking.candidate_run(name, tags={"modelworks.adapter": candidate.adapter}) as run_id:
        tracking.log_params(
            {"adapter": candidate.adapter, "n_splits": params.n_splits, "seed": params.seed}
        )
        tracking.log_params(candidate.params, prefix="model.")
        cv, n_rounds, fit_seconds = _cross_validate(name, candidate, X, y, params)
        tracking.log_metrics(cv, prefix="cv_")
        start = time.perf_counter()
        final = get_adapter(candidate.adapter).fit(
            X, y, features=params.features, candidate=candidate, seed=params.seed, n_rounds=n_rounds
        )
        # Folds and refit: what the pipeline benchmark counts as model fitting.
        tracking.log_metrics({"fit_seconds": fit_seconds + time.perf_counter() - start})
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
        model_uri = tracking.log_probability_model(final, holdout, serving=serving)
    return {
        "name": name,
        "adapter": candidate.adapter,
        "run_id": run_id,
        "model_uri": model_uri,
        "rounds": n_rounds,
        "cv": cv,
        "holdout": holdout_metrics,
        # Out-of-sample scores: the reference profile's score distribution and calibration.
        "holdout_scores": scores.tolist(),
    }


def train_candidates(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    feature_service: dict[str, Any],
    params: TrainingParams,
    retrain_decision: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Cross-validate, refit and evaluate every candidate; each logged in its own MLflow run.

    Each model is packaged to fetch its features from the online store of ``feature_service``
    when a caller sends only entity keys and request-time fields. Given a retrain decision
    that says no, nothing is trained: the steps after it see no candidates and skip too.
    """
    if retrain_decision is not None and not retrain_decision["retrain"]:
        return []
    serving = {
        "feature_service": feature_service["service"],
        "join_keys": feature_service["join_keys"],
        "online_features": feature_service["features"],
        "feature_repo": feature_service["repo_path"],
    }
    for frame, role in ((train, "training"), (holdout, "holdout")):
        counts = frame[params.label].value_counts()
        if len(counts) < 2:
            raise ValueError(f"The {role} rows hold a single label class: {counts.to_dict()}")
    return [
        _train_candidate(name, candidate, train, holdout, params, serving)
        for name, candidate in params.candidates.items()
    ]


def select_best_candidate(
    candidates: list[dict[str, Any]], params: TrainingParams
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The candidate with the best cross-validated selection metric (the holdout stays unbiased).

    Returns the winner, its metrics as a flat JSON document (DVC metrics) and the same metrics
    for kedro-mlflow's metrics dataset.
    """
    if not candidates:
        nothing = skipped("no candidate was trained")
        return nothing, {"candidate": None, **nothing}, {}
    key = f"{params.selection_metric}_mean"
    best = max(candidates, key=lambda c: _oriented(params.selection_metric, c["cv"][key]))
    metrics = {
        "candidate": best["name"],
        **{f"holdout_{k}": round(v, 6) for k, v in best["holdout"].items()},
        **{f"cv_{k}": round(v, 6) for k, v in best["cv"].items()},
    }
    mlflow_metrics = {k: {"value": v, "step": 0} for k, v in metrics.items() if k != "candidate"}
    return best, metrics, mlflow_metrics


def describe_lineage(
    best: dict[str, Any],
    entity_rows: pd.DataFrame,
    validation_report: dict[str, Any],
    feature_service: dict[str, Any],
    parameters: dict[str, Any],
    *,
    use_case: str,
) -> dict[str, Any]:
    """Which code, data, features, parameters and packages produced the best candidate."""
    if was_skipped(best):
        return best
    params = to_plain(parameters[use_case])
    time_column = params["training"]["time_column"]
    return build_lineage(
        validation_report=validation_report,
        features={
            key: feature_service[key] for key in ("service", "definitions_sha256", "feature_views")
        },
        entity_rows=entity_rows,
        parameters=params,
        metrics={"cv": best["cv"], "holdout": best["holdout"]},
        training={
            "use_case": use_case,
            **{key: best[key] for key in ("name", "adapter", "run_id", "model_uri", "rounds")},
            # The newest labelled event: how old the model's knowledge is, on the data's clock.
            "data_through": pd.Timestamp(entity_rows[time_column].max()).isoformat(),
        },
    )


def register_best_candidate(
    best: dict[str, Any],
    lineage: dict[str, Any],
    holdout: pd.DataFrame,
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    training: TrainingParams,
    registry: RegistryParams,
) -> dict[str, Any]:
    """Register the winner with its lineage, evidence and reference profile, then let the gate
    decide on it."""
    if was_skipped(best) or was_skipped(lineage):
        return {
            "model_name": registry.model_name,
            "action": "skipped",
            "reason": "no candidate was trained",
            "promoted": False,
        }
    if not lineage["validation"]["success"]:
        raise RuntimeError(
            f"Refusing to register {registry.model_name}: its training data failed validation"
        )
    run_id = best["run_id"]
    tracking.log_dict_to(run_id, lineage, LINEAGE_FILE)
    if not was_skipped(reference_profile):
        tracking.log_dict_to(run_id, reference_profile, PROFILE_FILE)
    promotion.log_gate_evidence(
        run_id,
        task=TASK,
        label=training.label,
        holdout=holdout,
        holdout_metrics=best["holdout"],
        validation_passed=True,
        drift_verdict=worst_verdict(drift_summary),
    )
    version = promotion.register_version(
        model_name=registry.model_name,
        model_uri=best["model_uri"],
        run_id=run_id,
        tags={
            "modelworks.candidate": best["name"],
            "modelworks.adapter": best["adapter"],
            **{f"holdout.{k}": f"{v:.6f}" for k, v in best["holdout"].items()},
            **{f"cv.{k}": f"{v:.6f}" for k, v in best["cv"].items()},
            **lineage_tags(lineage),
        },
        description=registry.description,
    )
    decision = promotion.promote(
        registry.model_name, version, registry.gate, triggered_by=tracking.active_run_id()
    )
    return decision.to_dict()


def worst_verdict(drift_summary: dict[str, Any] | None) -> str | None:
    """The most severe per-feature drift verdict of a drift summary (None: not measured)."""
    if drift_summary is None or was_skipped(drift_summary):
        return None
    verdicts = [feature["verdict"] for feature in drift_summary.get("features", [])]
    return max(verdicts, key=_VERDICT_ORDER.index, default="ok")


def training_pipeline(
    *, use_case: str, entity_rows: str, retrain_decision: str | None = None
) -> Pipeline:
    """``training_set`` -> candidates in MLflow -> best -> lineage -> gate and registry.

    ``entity_rows`` names the dataset the training set was retrieved for (its digest goes into
    the lineage); ``use_case`` picks the use case's block of the Kedro parameters;
    ``retrain_decision``, when given, names the decision that lets training happen at all.
    """
    lineage = update_wrapper(partial(describe_lineage, use_case=use_case), describe_lineage)
    decision = [retrain_decision] if retrain_decision else []
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
                inputs=[
                    "training_rows",
                    "holdout_rows",
                    "feature_service",
                    "params:training",
                    *decision,
                ],
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
                lineage,
                inputs=[
                    "best_candidate",
                    entity_rows,
                    "validation_report",
                    "feature_service",
                    "parameters",
                ],
                outputs="lineage",
                name="describe_lineage",
            ),
            node(
                register_best_candidate,
                inputs=[
                    "best_candidate",
                    "lineage",
                    "holdout_rows",
                    "drift_summary",
                    "reference_profile",
                    "params:training",
                    "params:registry",
                ],
                outputs="registry_decision",
                name="register_best_candidate",
            ),
        ]
    )
