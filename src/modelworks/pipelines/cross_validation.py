"""Cross-validation of one candidate, and the hyperparameter search built on it, for every task
family: folds come from the task, fits and metrics too; this only runs them, in nested MLflow
runs (candidate -> trial -> fold)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelworks.compute import FitExecutor, Result
from modelworks.registry import tracking
from modelworks.tasks import Fit, Task
from modelworks.training import summarise_folds
from modelworks.training.search import (
    SearchParams,
    pruner,
    sampler,
    storage_url,
    study_name,
    suggest,
)

logger = logging.getLogger(__name__)

FoldReport = Callable[[int, list[dict[str, float]]], None]
"""Called after each fold with its number and the metrics of the folds so far (a search
reports them to Optuna and may stop the trial there)."""


@dataclass(frozen=True)
class CrossValidated:
    """A candidate's cross-validation: metric summary, rounds to refit with, fitting seconds."""

    cv: dict[str, float]
    rounds: int
    fit_seconds: float


@dataclass(frozen=True)
class FoldFit:
    """One fold's fit, scored on the fold: what a worker sends back."""

    fitted: Any
    metrics: dict[str, float]
    rounds: int
    seconds: float


def fit_fold(
    task: Task,
    candidate: Any,
    fitting: pd.DataFrame,
    stopping: pd.DataFrame,
    scored: pd.DataFrame,
    params: Any,
    context: Mapping[str, Any],
) -> FoldFit:
    """Fit on ``fitting`` (early stopping on ``stopping``), score on ``scored``: pure, so it
    runs the same in this process or on a Dask worker."""
    start = time.perf_counter()
    fitted = task.fit(Fit(candidate, fitting, params, context, valid=stopping))
    seconds = time.perf_counter() - start
    metrics = task.evaluate(scored, task.predict(fitted, scored, context), params)
    return FoldFit(fitted, metrics, task.rounds(fitted), seconds)


def schedule_folds(
    executor: FitExecutor,
    task: Task,
    candidate: Any,
    train: pd.DataFrame,
    params: Any,
    context: Mapping[str, Any],
) -> list[Result[FoldFit]]:
    """Every fold fit of ``candidate``, handed to ``executor`` (started at once on Dask).

    Early stopping watches a part carved from each fold's fitting rows, never the fold the
    candidate is scored on, so the CV estimate is not tuned on its own test rows.
    """
    scheduled = []
    for fit_idx, score_idx in task.folds(train, params):
        fitting, scored = train.iloc[fit_idx], train.iloc[score_idx]
        keep_idx, stop_idx = task.stopping_split(fitting, params)
        pieces = (fitting.iloc[keep_idx], fitting.iloc[stop_idx], scored)
        scheduled.append(executor.submit(fit_fold, task, candidate, *pieces, params, context))
    return scheduled


def cross_validate(
    task: Task,
    name: str,
    candidate: Any,
    train: pd.DataFrame,
    params: Any,
    context: Mapping[str, Any],
    on_fold: FoldReport | None = None,
    *,
    executor: FitExecutor | None = None,
    scheduled: list[Result[FoldFit]] | None = None,
) -> CrossValidated:
    """K folds, one nested run each, read in fold order (``scheduled`` when the caller handed
    them to the executor already)."""
    if scheduled is None:
        scheduled = schedule_folds(
            executor or FitExecutor(), task, candidate, train, params, context
        )
    fold_metrics: list[dict[str, float]] = []
    rounds, fit_seconds = [], 0.0
    for fold, pending in enumerate(scheduled):
        with tracking.fold_run(name, fold):
            done = pending.result()
            fit_seconds += done.seconds
            tracking.log_metrics({**done.metrics, "best_iteration": done.rounds})
            for path, figure in task.fold_evidence(name, done.fitted, params).items():
                tracking.log_figure(figure, path)
        fold_metrics.append(done.metrics)
        rounds.append(done.rounds)
        if on_fold is not None:
            on_fold(fold, fold_metrics)
    return CrossValidated(
        summarise_folds(fold_metrics), max(1, round(float(np.mean(rounds)))), fit_seconds
    )


@dataclass(frozen=True)
class Searched:
    """A finished search: the candidate with the best trial's parameters, and its CV."""

    candidate: Any
    result: CrossValidated
    study: str
    best_params: dict[str, Any]


def search_candidate(
    task: Task,
    name: str,
    candidate: Any,
    train: pd.DataFrame,
    params: Any,
    context: Mapping[str, Any],
    executor: FitExecutor | None = None,
) -> Searched:
    """Run (or resume) the candidate's Optuna study, each trial a nested run of the
    candidate's run with its folds under it; log the study's summary and plots on the
    candidate's run. The study adds trials until it holds ``search.trials()`` finished ones
    (or ``timeout_s`` passes), so a killed search continues without refitting what finished.
    """
    import optuna

    search: SearchParams = candidate.search
    seed = getattr(params, "seed", None) or 0  # a ranking's seed is its candidates'
    metric = params.metric
    higher = task.higher_is_better(metric)
    fewer = search.n_splits not in (None, getattr(params, "n_splits", None))
    folded = params.model_copy(update={"n_splits": search.n_splits}) if fewer else params
    n_folds = len(task.folds(train, folded))
    name_of_study = study_name(
        tracking.active_tag(tracking.TAG_USE_CASE) or "",
        name,
        {
            "rows": int(pd.util.hash_pandas_object(train, index=True).sum() % (2**63)),
            "n_rows": len(train),
            "folds": [getattr(params, "n_splits", None), getattr(params, "seed", None), n_folds],
            "metric": metric,
            "candidate": candidate.model_dump(mode="json", exclude={"search"}),
            "search": search.model_dump(mode="json", exclude={"n_trials", "timeout_s"}),
        },
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        # the heartbeat fails trials of a killed worker, so a resumed search does not wait
        # on them; Optuna calls the argument experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            storage_url(search), heartbeat_interval=30, grace_period=120
        )
    study = optuna.create_study(
        study_name=name_of_study,
        storage=storage,
        load_if_exists=True,
        direction="maximize" if higher else "minimize",
        sampler=sampler(search, seed),
        pruner=pruner(search.pruner),
    )
    # a resumed study's sampler starts where the earlier workers left off, not at the seed's
    # first draws again (which would repeat their trials' parameters)
    study.sampler = sampler(search, seed + len(study.trials))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    target = search.trials()
    done_before = len(study.get_trials(deepcopy=False, states=finished))

    def objective(trial: optuna.Trial) -> float:
        sampled = suggest(trial, search.space)
        trial_candidate = with_values(candidate, sampled)
        with tracking.trial_run(name, trial.number, study=name_of_study):
            tracking.log_params(sampled, prefix="model.")

            def report(fold: int, folds: list[dict[str, float]]) -> None:
                trial.report(float(np.mean([f[metric] for f in folds])), fold)
                if trial.should_prune():
                    tracking.set_tags({tracking.TAG_TRIAL_STATE: "pruned"})
                    tracking.log_metrics({"folds_run": len(folds)})
                    raise optuna.TrialPruned(f"pruned after fold {fold}")

            result = cross_validate(
                task, name, trial_candidate, train, folded, context, report, executor=executor
            )
            tracking.log_metrics(result.cv, prefix="cv_")
            tracking.set_tags({tracking.TAG_TRIAL_STATE: "complete"})
        trial.set_user_attr("cv", result.cv)
        trial.set_user_attr("rounds", result.rounds)
        return float(result.cv[f"{metric}_mean"])

    start = time.perf_counter()
    if target is None or done_before < target:
        study.optimize(
            objective,
            n_trials=None if target is None else target - done_before,
            timeout=search.timeout_s,
            # other workers of the same study count too: stop once it holds enough
            callbacks=[] if target is None else [optuna.study.MaxTrialsCallback(target, finished)],
        )
    searching = time.perf_counter() - start
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise RuntimeError(
            f"search of {name!r}: no trial of study {name_of_study!r} completed "
            f"({len(study.trials)} trials, all pruned or failed)"
        )
    best = study.best_trial
    pruned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))
    tracking.log_params(
        {"study": name_of_study, "sampler": search.sampler, "pruner": search.pruner.type},
        prefix="search.",
    )
    tracking.log_metrics(
        {
            "search_best_value": float(best.value if best.value is not None else np.nan),
            "search_best_trial": best.number,
            "search_trials": len(complete) + len(pruned),
            "search_pruned": len(pruned),
            "search_trials_this_run": len(complete) + len(pruned) - done_before,
        }
    )
    for path, figure in _study_figures(study).items():
        tracking.log_figure(figure, path)
    best_candidate = with_values(candidate, best.params)
    if folded is params:
        result = CrossValidated(
            dict(best.user_attrs["cv"]), int(best.user_attrs["rounds"]), fit_seconds=searching
        )
    else:  # the best on the training's folds, like every other candidate
        full = cross_validate(task, name, best_candidate, train, params, context, executor=executor)
        result = CrossValidated(full.cv, full.rounds, searching + full.fit_seconds)
    return Searched(best_candidate, result, name_of_study, dict(best.params))


def with_values(candidate: Any, values: Mapping[str, Any]) -> Any:
    """``candidate`` with searched ``values``, without its search: in its ``params`` where it
    keeps the model library's parameters there (CatBoost, LightGBM, uplift learners), else in
    its own fields (a recommender's architecture and optimiser)."""
    if "params" in type(candidate).model_fields:
        return candidate.model_copy(
            update={"params": {**candidate.params, **values}, "search": None}
        )
    unknown = sorted(set(values) - set(type(candidate).model_fields))
    if unknown:
        raise ValueError(f"search space names {unknown}, which {type(candidate).__name__} lacks")
    return type(candidate).model_validate({**candidate.model_dump(exclude={"search"}), **values})


def _study_figures(study: Any) -> dict[str, Any]:
    """The optimisation history and, with enough completed trials, parameter importances."""
    import optuna
    from optuna.visualization import matplotlib as plots

    figures: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        figures["search/optimization_history.png"] = plots.plot_optimization_history(study).figure
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(complete) >= 2 and len(study.best_params) >= 1:
            try:
                axes = plots.plot_param_importances(study)
                figures["search/param_importances.png"] = axes.figure
            except (RuntimeError, ValueError) as exc:  # every trial with the same value
                logger.info("no parameter importances for %s: %s", study.study_name, exc)
    return figures
