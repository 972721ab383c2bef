"""End-to-end ``kedro run --pipelines <pipeline>`` at default size, with each node's time.

    .venv/bin/python -m benchmarks.pipeline [--pipeline credit_risk]

The run happens in a scratch copy of the project (code and conf; empty data, MLflow and
Feast), so the user's workspace is untouched and every run starts from the same state. The
per-node breakdown is read back from the run's MLflow metrics, which the project's
NodeTimingHook records on every run (``node_seconds.<node>``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.project import copy_project, project_env  # noqa: E402


def run_pipeline(root: Path, pipeline: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of ``kedro run --pipelines <pipeline>`` in ``root``."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", pipeline],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"kedro run failed:\n{done.stderr[-4000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def _use_case(pipeline: str) -> str:
    """The use case a pipeline belongs to, whose experiment holds its runs."""
    from modelworks.discovery import discover_use_cases

    names = sorted((u.name for u in discover_use_cases()), key=len, reverse=True)
    return next(name for name in names if pipeline == name or pipeline.startswith(f"{name}_"))


def run_metrics(root: Path, pipeline: str) -> tuple[dict[str, float], float]:
    """The ``node_seconds.*`` metrics of the pipeline's MLflow run, and the ``fit_seconds`` of
    the candidate runs under it (every fold's fit and the refit, inside the library)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(_use_case(pipeline))
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.runName` = '{pipeline}'", max_results=1
    )
    prefix = "node_seconds."
    nodes = {k.removeprefix(prefix): v for k, v in run.data.metrics.items() if k.startswith(prefix)}
    candidates = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    fitting = sum(c.data.metrics.get("fit_seconds", 0.0) for c in candidates)
    return nodes, fitting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="credit_risk")
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    with tempfile.TemporaryDirectory(prefix="modelworks-bench-") as scratch:
        root = copy_project(Path(scratch) / "project")
        seconds, peak_mb = run_pipeline(root, args.pipeline)
        nodes, fitting = run_metrics(root, args.pipeline)
    ranked = sorted(nodes.items(), key=lambda item: item[1], reverse=True)
    table = markdown_table(
        ["node", "seconds", "share"],
        [[name, value, f"{value / seconds:.0%}"] for name, value in ranked],
    )
    outside = seconds - sum(nodes.values())
    text = (
        f"`kedro run --pipelines {args.pipeline}` at default size: **{seconds:.1f} s** wall, "
        f"peak {peak_mb:,.0f} MB. Model fitting (every fold and refit, inside the library): "
        f"{fitting:.1f} s ({fitting / seconds:.0%}); everything else: {seconds - fitting:.1f} s "
        f"({1 - fitting / seconds:.0%}), of which {outside:.1f} s outside any node (interpreter, "
        f"imports, Kedro and MLflow set-up and teardown).\n\n{table}"
    )
    path = write_results(
        f"pipeline_{args.pipeline}",
        {
            "pipeline": args.pipeline,
            "seconds": seconds,
            "peak_mb": peak_mb,
            "fit_seconds": fitting,
            "outside_nodes_seconds": outside,
            "nodes": nodes,
        },
        text,
    )
    print(text)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
