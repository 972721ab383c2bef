"""Lineage: what produced a model version, recorded when it is registered.

Code (git commit, dirty or not), data (each raw file's content hash, as DVC computes it),
features (the Feast feature service and a hash of each feature view definition it uses), the
entity dataframe (a digest of its rows), the validation result, the Kedro parameters, package
versions, and the CV and holdout metrics. Stored as ``lineage.json`` with the version's run
and summarised in version tags, so the MLflow UI shows it and ``modelworks lineage`` prints it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

LINEAGE_FILE = "lineage.json"
PROFILE_FILE = "monitoring/reference_profile.json"
"""The monitoring reference of a version, stored with it so monitoring never reloads data."""
LINEAGE_VERSION = 1
PACKAGES = (
    "modelworks",
    "kedro",
    "kedro-mlflow",
    "mlflow",
    "feast",
    "great-expectations",
    "dvc",
    "catboost",
    "lightgbm",
    "torch",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
)


def git_state(root: Path | str = ".") -> dict[str, Any]:
    """The commit checked out in ``root`` and whether tracked or new files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        )
        return done.stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain")  # "XY path" lines: the status columns matter
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None, "changed_files": []}
    files = [line[3:] for line in changed.splitlines() if line.strip()]
    return {"commit": commit, "dirty": bool(files), "changed_files": files[:50]}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape a model; absent ones are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def frame_digest(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and a SHA-256 of the frame's values and column names (index ignored)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "sha256": digest.hexdigest(),
    }


def data_sources(validation_report: Mapping[str, Any]) -> dict[str, Any]:
    """The file and content hash of each validated table, as the validation report recorded."""
    return {
        table: summary.get("source")
        for table, summary in validation_report.get("tables", {}).items()
    }


def build_lineage(
    *,
    validation_report: Mapping[str, Any],
    features: Mapping[str, Any],
    entity_rows: pd.DataFrame,
    parameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    training: Mapping[str, Any],
    root: Path | str = ".",
) -> dict[str, Any]:
    """Everything above, as one JSON-serialisable document."""
    return {
        "lineage_version": LINEAGE_VERSION,
        "git": git_state(root),
        "data": data_sources(validation_report),
        "features": dict(features),
        "entity_rows": frame_digest(entity_rows),
        "validation": {
            "success": bool(validation_report.get("success")),
            "suite": validation_report.get("suite"),
            "validated_at": validation_report.get("validated_at"),
            "failures": len(validation_report.get("failures", [])),
        },
        "parameters": dict(parameters),
        "packages": package_versions(),
        "metrics": dict(metrics),
        "training": dict(training),
    }


def lineage_tags(lineage: Mapping[str, Any]) -> dict[str, str]:
    """The lineage fields a person scans for in the MLflow UI, as version tags."""
    git = lineage["git"]
    tags = {
        "lineage.git_commit": str(git.get("commit")),
        "lineage.git_dirty": str(git.get("dirty")),
        "lineage.feature_service": str(lineage["features"].get("service")),
        "lineage.feature_definitions_sha256": str(lineage["features"].get("definitions_sha256")),
        "lineage.entity_rows_sha256": lineage["entity_rows"]["sha256"],
        "lineage.entity_rows": str(lineage["entity_rows"]["rows"]),
        "lineage.validation": "passed" if lineage["validation"]["success"] else "failed",
    }
    for table, source in lineage["data"].items():
        if source:
            tags[f"lineage.data.{table}.md5"] = source["md5"]
    return tags


def lineage_text(model: str, version: str, doc: dict[str, Any]) -> str:
    """The lineage document of ``model`` v``version`` as a person reads it in a terminal."""
    git = doc["git"]
    lines = [
        f"{model} v{version}",
        f"  code        commit {git['commit']}{' (dirty work tree)' if git['dirty'] else ''}",
        f"  trained     candidate {doc['training']['name']} ({doc['training']['adapter']}), "
        f"run {doc['training']['run_id']}",
        f"  validation  {'passed' if doc['validation']['success'] else 'FAILED'} "
        f"({doc['validation']['suite']}, {doc['validation']['validated_at']})",
        f"  features    {doc['features']['service']}  "
        f"definitions {doc['features']['definitions_sha256'][:16]}",
    ]
    for view, info in doc["features"]["feature_views"].items():
        lines.append(
            f"              {view}: {len(info['features'])} features, "
            f"{info['definition_sha256'][:16]}"
        )
    entity = doc["entity_rows"]
    lines.append(f"  entity rows {entity['rows']} rows, sha256 {entity['sha256'][:16]}")
    for table, source in doc["data"].items():
        if source:
            lines.append(
                f"  data        {table}: {source['path']} "
                f"md5 {source['md5']} ({source['bytes']} bytes)"
            )
    holdout = doc["metrics"]["holdout"]
    lines.append("  holdout     " + ", ".join(f"{k} {v:.4f}" for k, v in holdout.items()))
    cv = doc["metrics"]["cv"]
    means = {k[: -len("_mean")]: v for k, v in cv.items() if k.endswith("_mean")}
    lines.append(
        "  cv          "
        + ", ".join(f"{k} {v:.4f}{_spread(cv.get(f'{k}_std'))}" for k, v in means.items())
    )
    lines.append("  packages    " + ", ".join(f"{k} {v}" for k, v in doc["packages"].items()))
    lines.append(f"  parameters  {len(doc['parameters'])} blocks: {', '.join(doc['parameters'])}")
    return "\n".join(lines)


def _spread(std: float | None) -> str:
    """`` ± std`` across folds; nothing for a single fold, which has no spread."""
    return "" if std is None else f" ± {std:.4f}"
