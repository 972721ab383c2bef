"""Candidate x fold fits of credit_risk on a 2-worker Dask ``LocalCluster`` against the same fits
one after another in this process.

    .venv/bin/python -m benchmarks.dask_fits [--pairs 2]

It reads credit_risk's training set (``data/05_model_input/credit_risk/training_set.parquet``,
written by ``kedro run --pipelines credit_risk``) and its typed parameters, and runs
``train_candidates`` (CatBoost and LightGBM, 5 folds each, then the refits, with MLflow in a
scratch folder; searches left out) in turn: sequential with one thread per fit, on Dask with one
thread per fit (a ``LocalCluster`` started for the step, as ``training.compute`` does),
sequential with the adapters' default threads (every core), and on a 2-worker cluster already
running, ``--pairs`` times. Ratios are taken pair by pair (the machine is shared); the metrics
of the sequential and Dask runs must be equal. Target: Dask at least 1.7 times as fast as the
sequential run with the same threads per fit. Results: ``benchmarks/results/dask_fits.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
TRAINING_SET = ROOT / "data" / "05_model_input" / "credit_risk" / "training_set.parquet"
FEATURE_SERVICE = {"service": "bench", "join_keys": ["loan_id"], "features": [], "repo_path": "."}


def _setup() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    os.chdir(ROOT)
    from modelworks.pipelines.training import split_out_of_time
    from modelworks.project import load_project
    from pipelines.credit_risk.params import CreditRiskParams

    params = CreditRiskParams.model_validate(load_project().params["credit_risk"]).training
    candidates = {k: c.model_copy(update={"search": None}) for k, c in params.candidates.items()}
    params = params.model_copy(update={"candidates": candidates})
    if not TRAINING_SET.is_file():
        raise SystemExit(f"{TRAINING_SET} missing: run `kedro run --pipelines credit_risk` first")
    train, holdout = split_out_of_time(pd.read_parquet(TRAINING_SET), params)
    return params, train, holdout


def _train(params: Any, train: pd.DataFrame, holdout: pd.DataFrame, compute: dict[str, Any]):
    import mlflow

    from modelworks.compute import ComputeParams
    from modelworks.pipelines.training import train_candidates

    chosen = params.model_copy(update={"compute": ComputeParams.model_validate(compute)})
    start = time.perf_counter()
    with mlflow.start_run(run_name=str(compute)):
        candidates = train_candidates(train, holdout, FEATURE_SERVICE, chosen)
    seconds = time.perf_counter() - start
    return seconds, {c["name"]: (c["cv"], c["holdout"], c["rounds"]) for c in candidates}


WARM = "Dask LocalCluster already running, 2 workers x 1 thread"


def _import_fit_libraries() -> None:
    import catboost  # noqa: F401
    import lightgbm  # noqa: F401

    import modelworks.pipelines.cross_validation  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    params, train, holdout = _setup()
    variants = {
        "sequential, 1 thread per fit": {"engine": "local", "threads_per_fit": 1},
        "Dask LocalCluster, 2 workers x 1 thread": {"engine": "dask", "workers": 2,
                                                    "threads_per_fit": 1},
        "sequential, every core per fit": {"engine": "local"},
    }  # fmt: skip
    from distributed import Client, LocalCluster

    seconds: dict[str, list[float]] = {name: [] for name in [*variants, WARM]}
    metrics: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as scratch,
        # a cluster that is already up, its workers' imports done: the steady state of a
        # cluster that outlives one training step
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as warm,
        Client(warm) as client,
    ):
        import mlflow

        client.run(_import_fit_libraries)
        mlflow.set_tracking_uri(f"sqlite:///{scratch}/mlflow.db")
        warm_compute = {"engine": "dask", "scheduler": warm.scheduler_address,
                        "threads_per_fit": 1}  # fmt: skip
        for _ in range(args.pairs):
            for name, compute in [*variants.items(), (WARM, warm_compute)]:
                took, found = _train(params, train, holdout, compute)
                seconds[name].append(took)
                metrics.setdefault(name, found)
    sequential, dask, default = (seconds[name] for name in variants)
    warm_speedups = [s / d for s, d in zip(sequential, seconds[WARM], strict=True)]
    speedups = [s / d for s, d in zip(sequential, dask, strict=True)]
    over_default = [s / d for s, d in zip(default, dask, strict=True)]
    names = list(variants)
    same = metrics[names[0]] == metrics[names[1]] == metrics[WARM]
    speedup = statistics.median(speedups)
    targets = [
        {
            "name": "candidate x fold fits on a 2-worker LocalCluster vs sequential (1 thread)",
            "measured": speedup,
            "target": 1.7,
            "unit": "x faster",
            "holds": speedup >= 1.7,
        },
        {
            "name": "the same fits on a 2-worker cluster already running (context)",
            "measured": statistics.median(warm_speedups),
            "target": 1.7,
            "unit": "x faster",
            "holds": statistics.median(warm_speedups) >= 1.7,
        },
        {
            "name": "same metrics as the sequential run",
            "measured": same,
            "target": True,
            "unit": "",
            "holds": same,
        },
    ]
    rows = [
        [name, min(values), statistics.median(values), max(values)]
        for name, values in seconds.items()
    ]
    markdown = (
        markdown_table(["fits", "min s", "median s", "max s"], rows)
        + f"\n\nDask vs sequential with one thread per fit: {speedup:.2f}x (pairs: "
        + ", ".join(f"{s:.2f}" for s in speedups)
        + f"); on a cluster already running: {statistics.median(warm_speedups):.2f}x"
        + f"; vs sequential on every core: {statistics.median(over_default):.2f}x. "
        + f"Metrics equal: {same}. {len(train):,} training rows, "
        + f"{len(params.candidates)} candidates x {params.n_splits} folds + refits."
    )
    path = write_results(
        "dask_fits",
        {"targets": targets, "seconds": seconds, "speedups": speedups,
         "warm_speedups": warm_speedups,
         "speedups_over_every_core": over_default, "rows": len(train)},
        markdown,
    )  # fmt: skip
    print(markdown)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
