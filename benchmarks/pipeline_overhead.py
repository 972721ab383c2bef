"""The framework's overhead: ``kedro run --pipelines credit_risk_train`` against a plain script.

    .venv/bin/python -m benchmarks.pipeline_overhead [--pairs 3]

Both do credit_risk's training on the same raw tables (one ``credit_risk_ingest`` run in a
scratch copy of the project, copied afresh before every run so each starts from the same
state: no MLflow runs, no Feast registry, no champion). The script
(``benchmarks/handwritten/credit_risk_train.py``) does what a data scientist would write by
hand with the same libraries: feature code, one Feast ``get_historical_features``, the same
holdout, folds, candidates and rounds, MLflow metrics and both models logged, the better one
registered. The pipeline adds the validation gate, feature checks and materialisation, the
scoring batch's retrieval, lineage, plots, the promotion gate and the drift profile: the
framework's work, which the ratio prices. The candidates' search is switched off in both
(the script has none). Runs alternate, pipeline first; the ratio is of the medians, and each
pair's ratio is reported. The pipeline's own ``node_seconds`` metrics give the profile of where
its time outside model fitting goes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import Target, markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import run_metrics  # noqa: E402
from tests.project import copy_project, project_env  # noqa: E402

TARGET_RATIO = 1.15
PIPELINE = "credit_risk_train"
SCRIPT = "benchmarks.handwritten.credit_risk_train"


def without_search(root: Path) -> None:
    """Drop every candidate's ``search`` block from the copy's credit_risk parameters."""
    path = root / "conf" / "base" / "parameters" / "credit_risk.yml"
    params = yaml.safe_load(path.read_text())
    for candidate in params["credit_risk"]["training"]["candidates"].values():
        candidate.pop("search", None)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def prepared_project(scratch: Path) -> Path:
    """A project copy with credit_risk's raw tables written and no search."""
    root = copy_project(scratch / "ingested")
    without_search(root)
    timed(root, [sys.executable, "-m", "kedro", "run", "--pipelines", "credit_risk_ingest"])
    return root


def timed(root: Path, command: list[str]) -> float:
    """Wall seconds of ``command`` run in ``root``; its failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=project_env(root), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return seconds


def one_pair(ingested: Path, scratch: Path, index: int) -> dict[str, Any]:
    """The pipeline, then the script, each in a fresh copy of the ingested project."""
    pipeline_root = scratch / f"pipeline_{index}"
    script_root = scratch / f"script_{index}"
    for root in (pipeline_root, script_root):
        shutil.copytree(ingested, root, symlinks=True)
    pipeline = timed(pipeline_root, [sys.executable, "-m", "kedro", "run", "--pipelines", PIPELINE])
    script = timed(script_root, [sys.executable, "-m", SCRIPT, "--root", str(script_root)])
    nodes, fitting = run_metrics(pipeline_root, PIPELINE)
    for root in (pipeline_root, script_root):
        shutil.rmtree(root, ignore_errors=True)
    return {"pipeline_s": pipeline, "script_s": script, "nodes": nodes, "fit_s": fitting}


def markdown(pairs: list[dict[str, Any]], ratio: float) -> str:
    """The pairs, the ratio of medians, and the median pipeline run's slowest nodes."""
    rows = [
        [i + 1, p["pipeline_s"], p["script_s"], f"{p['pipeline_s'] / p['script_s']:.2f}x"]
        for i, p in enumerate(pairs)
    ]
    median_run = sorted(pairs, key=lambda p: p["pipeline_s"])[len(pairs) // 2]
    nodes = sorted(median_run["nodes"].items(), key=lambda kv: kv[1], reverse=True)
    outside = median_run["pipeline_s"] - sum(median_run["nodes"].values())
    return "\n".join(
        [
            f"`kedro run --pipelines {PIPELINE}` against `python -m {SCRIPT}`: the pipeline "
            f"takes **{ratio:.2f}x** the script's wall time (ratio of medians over "
            f"{len(pairs)} alternating pairs; target at most {TARGET_RATIO}x).",
            "",
            markdown_table(["pair", "pipeline (s)", "script (s)", "ratio"], rows),
            "",
            f"The median pipeline run: model fitting {median_run['fit_s']:.1f} s, "
            f"{outside:.1f} s outside any node; its slowest nodes:",
            "",
            markdown_table(["node", "seconds"], [[n, s] for n, s in nodes[:12]]),
        ]
    )


def main() -> None:
    """Prepare once, run the pairs, write ``benchmarks/results/pipeline_overhead.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelworks-overhead-") as tmp:
        scratch = Path(tmp)
        ingested = prepared_project(scratch)
        pairs = [one_pair(ingested, scratch, i) for i in range(args.pairs)]
    pipeline = statistics.median(p["pipeline_s"] for p in pairs)
    script = statistics.median(p["script_s"] for p in pairs)
    ratio = pipeline / script
    per_pair = [p["pipeline_s"] / p["script_s"] for p in pairs]
    text = markdown(pairs, ratio)
    path = write_results(
        "pipeline_overhead",
        {
            "pipeline": PIPELINE,
            "pairs": pairs,
            "pipeline_median_s": pipeline,
            "script_median_s": script,
            "ratio": ratio,
            "pair_ratios": per_pair,
        },
        text,
        targets=[
            Target(
                "credit_risk_train: pipeline / hand-written script, wall time",
                ratio,
                TARGET_RATIO,
                "x",
                note=f"median of {len(pairs)} pairs; pairs {min(per_pair):.2f}-"
                f"{max(per_pair):.2f}x",
            )
        ],
    )
    print(text)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
