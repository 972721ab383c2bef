"""The training lifecycle, written once for every task family: split, cross-validate each
candidate in nested MLflow runs, refit, evaluate on the out-of-time holdout, select, describe
the lineage, register and gate. What a label, a fit and a metric are is the task's business
(``modelworks.tasks``); these nodes only ask it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks import compute
from modelworks.compute import FitExecutor, Result
from modelworks.params import to_plain
from modelworks.pipelines.cross_validation import (
    FoldFit,
    cross_validate,
    schedule_folds,
    search_candidate,
)
from modelworks.pipelines.registration import (
    refit_after_gate,
    register_best_candidate,
    skipped,
    was_skipped,
    worst_verdict,
)
from modelworks.pipelines.retraining import training_for
from modelworks.registry import tracking
from modelworks.registry.lineage import build_lineage
from modelworks.tasks import Fit, Task, get_task
from modelworks.tasks.params import RegistryParams, TrainingParams
from modelworks.training import out_of_time_split
from modelworks.training.recency import recent_rows

__all__ = [
    "RegistryParams",
    "TrainingParams",
    "refit_after_gate",
    "register_best_candidate",
    "select_best_candidate",
    "skipped",
    "train_candidates",
    "training_pipeline",
    "was_skipped",
    "worst_verdict",
]


def split_out_of_time(training_set: pd.DataFrame, params: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest ``holdout_days`` become the holdout; the rest is for cross-validation."""
    return out_of_time_split(
        training_set, time_column=params.time_column, holdout_days=params.holdout_days
    )


def _train_candidate(
    task: Task,
    name: str,
    candidate: Any,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    params: Any,
    context: Mapping[str, Any],
    serving: dict[str, Any],
    executor: FitExecutor,
    scheduled: list[Result[FoldFit]] | None,
) -> dict[str, Any]:
    tags = {"modelworks.task": task.name, **task.candidate_tags(candidate)}
    with tracking.candidate_run(name, tags=tags) as run_id:
        tracking.log_params(
            {"task": task.name, **tags, "n_splits": params.n_splits, "seed": params.seed}
        )
        if getattr(candidate, "search", None) is not None:
            # the best trial's parameters and cross-validation become the candidate's; it is
            # refit below like any other
            searched = search_candidate(task, name, candidate, train, params, context, executor)
            candidate, validated = searched.candidate, searched.result
        else:
            validated = cross_validate(
                task, name, candidate, train, params, context, scheduled=scheduled
            )
        tracking.log_params(getattr(candidate, "params", {}), prefix="model.")
        cv, n_rounds, fit_seconds = validated.cv, validated.rounds, validated.fit_seconds
        tracking.log_metrics(cv, prefix="cv_")
        start = time.perf_counter()
        refit = Fit(candidate, train, params, context, n_rounds=n_rounds)
        final = executor.submit(task.fit, refit).result()  # on a worker too, under Dask
        # Folds and refit: what the pipeline benchmark counts as model fitting.
        tracking.log_metrics({"fit_seconds": fit_seconds + time.perf_counter() - start})
        predictions = task.predict(final, holdout, context)
        holdout_metrics = task.evaluate(holdout, predictions, params)
        tracking.log_metrics({**holdout_metrics, "rounds": n_rounds}, prefix="holdout_")
        for path, item in task.evidence(name, final, holdout, predictions, params).items():
            log = tracking.log_dict if isinstance(item, Mapping) else tracking.log_figure
            log(item, path)
        model_uri = task.log_model(final, holdout, refit, serving)
    return {
        "name": name,
        "task": task.name,
        "adapter": getattr(candidate, "adapter", name),
        "tags": tags,
        "run_id": run_id,
        "model_uri": model_uri,
        "rounds": n_rounds,
        "cv": cv,
        "holdout": holdout_metrics,
        # Out-of-sample scores: the reference profile's score distribution and calibration.
        "holdout_scores": task.monitored_scores(predictions).tolist(),
        "holdout_signals": {
            signal: list(map(str, values))
            for signal, values in task.monitoring_signals(predictions).items()
        },
    }


def train_candidates(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    feature_service: dict[str, Any],
    params: Any,
    retrain_decision: dict[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Cross-validate, refit and evaluate every candidate; each logged in its own MLflow run.
    The task's baselines follow, judged on the same holdout (role ``baseline``).

    Each model is packaged to fetch its features from the online store of ``feature_service``
    when a caller sends only entity keys and request-time fields. Given a retrain decision
    that says no, nothing is trained: the steps after it see no candidates and skip too.
    ``context``: what every fit needs beyond the rows (a ranking's users and catalogue at its
    cutoff), supplied by the use case and added to what ``Task.prepare`` learns from them.
    """
    if retrain_decision is not None and not retrain_decision["retrain"]:
        return []
    params = training_for(params, retrain_decision)
    if getattr(params, "recency", None) is not None:
        train = recent_rows(train, params.time_column, params.recency)
    task = get_task(params.task)
    task.check_rows(train, params, role="training")
    task.check_rows(holdout, params, role="holdout")
    serving = {
        "feature_service": feature_service["service"],
        "join_keys": feature_service["join_keys"],
        "online_features": feature_service["features"],
        "feature_repo": feature_service["repo_path"],
    }
    shared = {**task.prepare(train, params), **(context or {})}
    # On the data's clock: the batch that asked for this retrain, or the newest training row.
    trained_as_of = (
        retrain_decision["as_of"]
        if retrain_decision is not None
        else pd.Timestamp(holdout[params.time_column].max()).isoformat()
    )
    with compute.executor(getattr(params, "compute", None)) as fits:
        if fits.dashboard:
            tracking.set_tags({"dask.dashboard": fits.dashboard})
        # every candidate's folds at once (they start together on Dask); a search schedules
        # its trials' folds as it goes
        scheduled = {
            name: schedule_folds(fits, task, candidate, train, params, shared)
            for name, candidate in params.candidates.items()
            if getattr(candidate, "search", None) is None
        }
        candidates = [
            _train_candidate(
                task, name, candidate, train, holdout, params, shared, serving, fits,
                scheduled.get(name),
            )
            | {"trained_as_of": trained_as_of}
            for name, candidate in params.candidates.items()
        ]  # fmt: skip
    baselines = task.baselines(Fit(None, train, params, shared), holdout)
    return candidates + [{**baseline, "role": "baseline"} for baseline in baselines]


def select_best_candidate(
    candidates: list[dict[str, Any]], params: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The candidate with the best cross-validated selection metric (the holdout stays unbiased).

    Returns the winner, its metrics as a flat JSON document (DVC metrics) and the same metrics
    for kedro-mlflow's metrics dataset. Baselines' holdout metrics stand beside the winner's
    (``baselines`` in the document, ``<baseline>.holdout_<metric>`` for MLflow), and its lead
    over them (``Task.over_baselines``) among its own.
    """
    rivals = [c for c in candidates if c.get("role") == "baseline"]
    candidates = [c for c in candidates if c.get("role") != "baseline"]
    if not candidates:
        nothing = skipped("no candidate was trained")
        return nothing, {"candidate": None, **nothing}, {}
    task, metric = get_task(params.task), params.metric
    best = max(candidates, key=lambda c: task.oriented(metric, c["cv"][f"{metric}_mean"]))
    best = {**best, "holdout": {**best["holdout"], **task.over_baselines(best["holdout"], rivals)}}
    metrics = {
        "candidate": best["name"],
        **{f"holdout_{k}": round(v, 6) for k, v in best["holdout"].items()},
        **{f"cv_{k}": round(v, 6) for k, v in best["cv"].items()},
    }
    flat = {k: v for k, v in metrics.items() if k != "candidate"}
    if rivals:
        beside = {
            r["name"]: {f"holdout_{k}": round(v, 6) for k, v in r["holdout"].items()}
            for r in rivals
        }
        metrics["baselines"] = beside
        flat |= {f"{name}.{k}": v for name, values in beside.items() for k, v in values.items()}
    return best, metrics, {k: {"value": v, "step": 0} for k, v in flat.items()}


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


def training_pipeline(
    *,
    use_case: str,
    entity_rows: str,
    retrain_decision: str | None = None,
    rows: tuple[str, str] | None = None,
    context: str | None = None,
) -> Pipeline:
    """``training_set`` -> candidates in MLflow -> best -> lineage -> gate and registry.

    ``entity_rows`` names the dataset the training set was retrieved for (its digest goes into
    the lineage); ``use_case`` picks the use case's block of the Kedro parameters;
    ``retrain_decision``, when given, names the decision that lets training happen at all.
    ``rows`` names the training and holdout rows of a use case that splits them itself (a
    ranking judges the holdout's users, not its interactions), in place of ``training_set``
    split out of time; ``context``, what every fit needs beyond them (``train_candidates``).
    """
    lineage = update_wrapper(partial(describe_lineage, use_case=use_case), describe_lineage)
    training_rows, holdout_rows = rows or ("training_rows", "holdout_rows")
    split = [
        node(
            split_out_of_time,
            inputs=["training_set", "params:training"],
            outputs=["training_rows", "holdout_rows"],
            name="split_out_of_time",
        )
    ]
    extra = {"retrain_decision": retrain_decision, "context": context}
    return Pipeline(
        [
            *([] if rows else split),
            node(
                train_candidates,
                inputs={
                    "train": training_rows,
                    "holdout": holdout_rows,
                    "feature_service": "feature_service",
                    "params": "params:training",
                    **{name: dataset for name, dataset in extra.items() if dataset},
                },
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
                    holdout_rows,
                    "drift_summary",
                    "reference_profile",
                    "params:training",
                    "params:registry",
                ],
                outputs="gate_decision",
                name="register_best_candidate",
            ),
            node(
                refit_after_gate,
                inputs={
                    "decision": "gate_decision",
                    "best": "best_candidate",
                    "train": training_rows,
                    "holdout": holdout_rows,
                    "feature_service": "feature_service",
                    "params": "params:training",
                    "registry": "params:registry",
                    **({"retrain_decision": retrain_decision} if retrain_decision else {}),
                },
                outputs="registry_decision",
                name="refit_after_gate",
            ),
        ]
    )
