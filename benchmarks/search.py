"""Hyperparameter search on credit_risk: TPE with pruning against an exhaustive grid of the
same size over the same space, and scikit-learn's ``GridSearchCV`` on the same folds.

    .venv/bin/python -m benchmarks.search [--trials 36]

It reads credit_risk's training set (``data/05_model_input/credit_risk/training_set.parquet``,
written by ``kedro run --pipelines credit_risk``) and its typed parameters, keeps the
cross-validation part (the out-of-time holdout is never looked at) and runs, one after another
in this process, with MLflow and Optuna in a scratch folder:

1. modelworks' grid search (``sampler: grid``): every point of the grid, every fold;
2. modelworks' TPE search with median pruning, the same number of trials;
3. ``GridSearchCV`` over the same grid and folds (LightGBM's scikit-learn estimator with the
   number of rounds the grid's best point kept), the reference a user would reach for.

Target: TPE reaches the grid's best CV ROC-AUC (within 0.0005) in at most a third of the
grid's time. Results: ``benchmarks/results/search.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
TRAINING_SET = ROOT / "data" / "05_model_input" / "credit_risk" / "training_set.parquet"
# Wide enough that the grid's points differ: a poor corner exists for a search to avoid.
GRID = {
    "num_leaves": [4, 16, 64, 256],
    "min_child_samples": [5, 50, 500],
    "feature_fraction": [0.3, 0.65, 1.0],
}
TOLERANCE = 0.0005


def _space(sampler: str) -> dict[str, Any]:
    """The grid as a search space: categorical dimensions, so grid and TPE see the same."""
    del sampler
    return {name: {"type": "categorical", "choices": values} for name, values in GRID.items()}


def _setup() -> tuple[Any, pd.DataFrame]:
    os.chdir(ROOT)
    from modelworks.pipelines.training import split_out_of_time
    from modelworks.project import load_project
    from pipelines.credit_risk.params import CreditRiskParams

    params = CreditRiskParams.model_validate(load_project().params["credit_risk"]).training
    params = params.model_copy(update={"n_splits": 3})
    if not TRAINING_SET.is_file():
        raise SystemExit(f"{TRAINING_SET} missing: run `kedro run --pipelines credit_risk` first")
    train, _ = split_out_of_time(pd.read_parquet(TRAINING_SET), params)
    return params, train


def _search(params: Any, train: pd.DataFrame, sampler: str, trials: int) -> dict[str, Any]:
    import mlflow
    import optuna

    from modelworks.pipelines.cross_validation import search_candidate
    from modelworks.tasks import get_task

    base = params.candidates["lightgbm"]
    search = {
        "sampler": sampler,
        "n_trials": trials,
        "space": _space(sampler),
        "pruner": {
            "type": "median" if sampler == "tpe" else "none",
            "n_startup_trials": 5,
            "n_warmup_steps": 0,
        },
    }
    candidate = type(base).model_validate(
        {**base.model_dump(exclude={"search"}), "params": {**base.params, "learning_rate": 0.1},
         "search": search}
    )  # fmt: skip
    task = get_task(params.task)
    context = task.prepare(train, params)
    start = time.perf_counter()
    with mlflow.start_run(run_name=f"bench-{sampler}", tags={"use_case": f"bench_{sampler}"}):
        found = search_candidate(task, "lightgbm", candidate, train, params, context)
    seconds = time.perf_counter() - start
    storage = os.environ["MODELWORKS_OPTUNA_STORAGE"]
    study = optuna.load_study(study_name=found.study, storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    first = min(t.datetime_start for t in study.trials)
    trajectory = sorted(
        ((t.datetime_complete - first).total_seconds(), float(t.value)) for t in complete
    )
    return {
        "seconds": seconds,
        "best": float(study.best_value),
        "best_params": study.best_params,
        "rounds": found.result.rounds,
        "trials": len(study.trials),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "trajectory": trajectory,
    }


def _sklearn_grid(params: Any, train: pd.DataFrame, rounds: int) -> dict[str, Any]:
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import GridSearchCV

    from modelworks.tasks import get_task

    task = get_task(params.task)
    folds = task.folds(train, params)
    features = [*params.features.numeric, *params.features.categorical]
    X = train[features].copy()
    for column in params.features.categorical:
        X[column] = X[column].astype("category")
    base = params.candidates["lightgbm"].params
    estimator = LGBMClassifier(
        n_estimators=rounds,
        learning_rate=0.1,
        random_state=params.seed,
        verbose=-1,
        bagging_fraction=base.get("bagging_fraction", 1.0),
        bagging_freq=base.get("bagging_freq", 0),
        n_jobs=len(os.sched_getaffinity(0)),
    )
    grid = GridSearchCV(estimator, GRID, scoring="roc_auc", cv=folds, n_jobs=1, refit=False)
    start = time.perf_counter()
    grid.fit(X, train[params.label])
    return {
        "seconds": time.perf_counter() - start,
        "best": float(grid.best_score_),
        "best_params": grid.best_params_,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=len(list(itertools.product(*GRID.values()))))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    params, train = _setup()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch}/mlflow.db"
        os.environ["MODELWORKS_OPTUNA_STORAGE"] = f"sqlite:///{scratch}/optuna.db"
        import mlflow

        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
        grid = _search(params, train, "grid", args.trials)
        tpe = _search(params, train, "tpe", args.trials)
    reference = _sklearn_grid(params, train, grid["rounds"])
    reached = [s for s, value in tpe["trajectory"] if value >= grid["best"] - TOLERANCE]
    to_reach = reached[0] if reached else None
    ratio = None if to_reach is None else to_reach / grid["seconds"]
    targets = [
        {
            "name": "TPE reaches the grid's best CV ROC-AUC in a third of the grid's time",
            "measured": ratio,
            "target": 1 / 3,
            "unit": "fraction of the grid's time",
            "holds": ratio is not None and ratio <= 1 / 3,
        }
    ]
    rows = [
        ["modelworks grid", grid["trials"], 0, grid["best"], grid["seconds"]],
        ["modelworks TPE + median pruning", tpe["trials"], tpe["pruned"], tpe["best"],
         tpe["seconds"]],
        ["scikit-learn GridSearchCV", grid["trials"], 0, reference["best"],
         reference["seconds"]],
    ]  # fmt: skip
    markdown = markdown_table(
        ["search", "trials", "pruned", "best CV ROC-AUC", "seconds"], rows
    ) + (
        f"\n\nTPE reached the grid's best (within {TOLERANCE}) after "
        + (f"{to_reach:.1f} s, {ratio:.2f} of the grid's time" if to_reach else "never")
        + f"; {len(train):,} rows, 3 folds, {np.prod([len(v) for v in GRID.values()])} points."
    )
    path = write_results(
        "search",
        {"targets": targets, "grid": grid, "tpe": tpe, "sklearn_grid": reference,
         "rows": len(train), "tpe_seconds_to_grid_best": to_reach},
        markdown,
    )  # fmt: skip
    print(markdown)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
