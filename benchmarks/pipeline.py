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


def node_seconds(root: Path, pipeline: str) -> dict[str, float]:
    """The ``node_seconds.*`` metrics of the pipeline's MLflow run."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("modelworks")
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.runName` = '{pipeline}'", max_results=1
    )
    prefix = "node_seconds."
    return {k.removeprefix(prefix): v for k, v in run.data.metrics.items() if k.startswith(prefix)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="credit_risk")
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    with tempfile.TemporaryDirectory(prefix="modelworks-bench-") as scratch:
        root = copy_project(Path(scratch) / "project")
        seconds, peak_mb = run_pipeline(root, args.pipeline)
        nodes = node_seconds(root, args.pipeline)
    ranked = sorted(nodes.items(), key=lambda item: item[1], reverse=True)
    table = markdown_table(
        ["node", "seconds", "share"],
        [[name, value, f"{value / seconds:.0%}"] for name, value in ranked],
    )
    text = (
        f"`kedro run --pipelines {args.pipeline}` at default size: **{seconds:.1f} s** wall "
        f"(Python start-up and imports included), peak {peak_mb:,.0f} MB.\n\n{table}"
    )
    path = write_results(
        f"pipeline_{args.pipeline}",
        {"pipeline": args.pipeline, "seconds": seconds, "peak_mb": peak_mb, "nodes": nodes},
        text,
    )
    print(text)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
