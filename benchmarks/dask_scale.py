"""Dask scale benchmark: partitioned scoring and drift of an N-row table within a memory budget.

    .venv/bin/python -m benchmarks.dask_scale                   # 10,000,000 rows
    .venv/bin/python -m benchmarks.dask_scale --rows 2000000    # a quicker check

The issue's target: "Batch scoring and drift of a 10M-row table on Dask within 4 GB peak". A
seeded generator writes the batch (20 features: 16 numeric, 4 categorical, plus an id) partition
by partition straight to parquet, so the table is never in memory, and a 1,000,000-row reference
from which the drift profile is built. A small LightGBM model is trained on a 20,000-row sample
and logged as the project logs models. Then, on a 2-worker ``LocalCluster`` (one thread each, a
memory limit per worker), ``score_parquet`` scores the batch (with its prediction drift) and
``partitioned_drift`` compares it with the profile. Peak memory is the whole process tree
(driver, scheduler, nannies, workers): a thread samples the summed RSS every 50 ms, per phase.
Results: ``benchmarks/results/dask_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from benchmarks.common import markdown_table, write_results

SEED = 20_260_801
N_NUMERIC, N_CATEGORICAL = 16, 4
TARGET_PEAK_GB = 4.0
# Which columns the batch shifts; every other one is drawn as the reference.
DRIFTED = {"num_00": "mean +0.5 sd", "num_01": "missing 0% -> 10%", "cat_00": "new category 8%"}


def make_partition(n: int, seed: int, *, start: int = 0, drift: bool = False) -> pd.DataFrame:
    """``n`` rows of the synthetic table; ``drift`` applies ``DRIFTED``."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"id": np.arange(start, start + n, dtype=np.int64)}
    for i in range(N_NUMERIC):
        data[f"num_{i:02d}"] = (
            rng.normal(0.0, 1.0, n) if i % 2 else rng.lognormal(0.0, 0.6, n)
        ).astype(np.float64)
    for i in range(N_CATEGORICAL):
        data[f"cat_{i:02d}"] = rng.choice(
            ["a", "b", "c", "d", "e"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]
        )
    if drift:
        data["num_00"] = data["num_00"] + 0.5 * 0.7
        data["num_01"][rng.uniform(size=n) < 0.10] = np.nan
        data["cat_00"] = np.where(rng.uniform(size=n) < 0.08, "new", data["cat_00"])
    return pd.DataFrame(data)


def write_table(folder: Path, rows: int, partition_rows: int, *, drift: bool) -> int:
    """The table, one parquet file per partition; never more than one partition in memory."""
    folder.mkdir(parents=True)
    parts = 0
    for start in range(0, rows, partition_rows):
        n = min(partition_rows, rows - start)
        frame = make_partition(n, SEED + 1 + parts, start=start, drift=drift)
        frame.to_parquet(folder / f"part-{parts:05d}.parquet", index=False)
        parts += 1
    return parts


class PeakSampler:
    """Peak summed RSS of this process and all its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(func: Callable[[], Any]) -> tuple[Any, float, float]:
    """``func()``'s result, seconds and peak GB of the process tree while it ran."""
    gc.collect()
    with PeakSampler() as sampler:
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
    return result, seconds, sampler.peak / 1e9


def build_model(root: Path, reference: pd.DataFrame) -> Any:
    """A small LightGBM classifier logged and loaded as the registry would serve it."""
    import mlflow

    from modelworks.monitoring import build_reference_profile
    from modelworks.registry.tracking import log_probability_model
    from modelworks.serving.datasets import ServedModel
    from modelworks.training import CandidateParams, FeatureSpec, get_adapter

    numeric = [f"num_{i:02d}" for i in range(N_NUMERIC)]
    categorical = [f"cat_{i:02d}" for i in range(N_CATEGORICAL)]
    train = reference.sample(20_000, random_state=0)
    logit = train["num_03"] - 0.5 * train["num_00"] + (train["cat_01"] == "a")
    rng = np.random.default_rng(SEED)
    y = (rng.uniform(size=len(train)) < 1 / (1 + np.exp(-logit))).astype(int)
    spec = FeatureSpec(numeric=numeric, categorical=categorical)
    fitted = get_adapter("lightgbm").fit(
        train, y, features=spec, candidate=CandidateParams(adapter="lightgbm"), seed=0, n_rounds=30
    )
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("dask_scale", artifact_location=(root / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        uri = log_probability_model(fitted, train)
    served = ServedModel(
        name="dask_scale", version="1", run_id=run.info.run_id, pyfunc=mlflow.pyfunc.load_model(uri)
    )
    profile = build_reference_profile(
        reference, numeric=numeric, categorical=categorical, scores=served.predict(reference)
    )
    return ServedModel(**{**served.__dict__, "reference_profile": profile})


def run(
    rows: int, partition_rows: int, reference_rows: int, memory_limit: str, root: Path
) -> dict[str, Any]:
    """Generate, build the model and profile, then time and measure both partitioned phases."""
    from distributed import Client, LocalCluster

    from modelworks.monitoring import DriftParams
    from modelworks.monitoring.partitioned import partitioned_drift
    from modelworks.serving.batch import ScoringParams
    from modelworks.serving.partitioned import score_parquet

    start = time.perf_counter()
    partitions = write_table(root / "batch", rows, partition_rows, drift=True)
    generate_s = time.perf_counter() - start
    reference = make_partition(reference_rows, SEED)
    model = build_model(root, reference)
    del reference
    params = DriftParams()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        scored, scoring_s, scoring_gb = timed(
            lambda: score_parquet(
                model,
                root / "batch",
                root / "scored",
                ScoringParams(id_columns=["id"]),
                client=client,
                drift=params,
            )
        )
        drift, drift_s, drift_gb = timed(
            lambda: partitioned_drift(model.reference_profile, root / "batch", params)
        )
    targets = [
        {"name": "scoring peak memory (process tree)", "measured": round(scoring_gb, 3),
         "target": TARGET_PEAK_GB, "unit": "GB", "holds": scoring_gb <= TARGET_PEAK_GB},
        {"name": "drift peak memory (process tree)", "measured": round(drift_gb, 3),
         "target": TARGET_PEAK_GB, "unit": "GB", "holds": drift_gb <= TARGET_PEAK_GB},
        {"name": "rows scored", "measured": scored.rows, "target": rows, "unit": "rows",
         "holds": scored.rows == rows},
    ]  # fmt: skip
    return {
        "rows": rows,
        "reference_rows": reference_rows,
        "partitions": partitions,
        "partition_rows": partition_rows,
        "features": {"numeric": N_NUMERIC, "categorical": N_CATEGORICAL},
        "workers": 2,
        "worker_memory_limit": memory_limit,
        "generate_seconds": round(generate_s, 1),
        "scoring_seconds": round(scoring_s, 1),
        "drift_seconds": round(drift_s, 1),
        "targets": targets,
        "drift_verdict": drift["verdict"],
        "critical_features": sorted(
            f["feature"] for f in drift["features"] if f["verdict"] == "critical"
        ),
        "expected_drifted": DRIFTED,
        "prediction_drift_verdict": (scored.prediction_drift or {}).get("verdict"),
        "score_mean": scored.summary["mean"],
    }


def main() -> None:
    """Parse the arguments, run once, write ``benchmarks/results/dask_scale.{json,md}``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partition-rows", type=int, default=500_000)
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default="1.5GB", help="per Dask worker")
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dask_scale-"))
    try:
        result = run(args.rows, args.partition_rows, args.reference_rows, args.memory_limit, root)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    rows = [
        [t["name"], t["measured"], t["target"], t["unit"], t["holds"]] for t in result["targets"]
    ]
    table = markdown_table(["target", "measured", "target", "unit", "holds"], rows)
    seconds = f"scoring {result['scoring_seconds']} s, drift {result['drift_seconds']} s"
    path = write_results(
        "dask_scale", result, f"# Dask scale, {args.rows:,} rows ({seconds})\n\n{table}"
    )
    print(table)
    print(f"{seconds}; results in {path}")


if __name__ == "__main__":
    main()
