"""Reproduce a registered version from its lineage, away from the user's workspace.

The recorded commit is exported with ``git archive`` into a scratch project; every recorded
raw file is found by its content hash, in the workspace or in DVC's cache, and copied there;
the recorded parameters override the exported configuration; the use case's training
pipeline runs up to candidate selection with its own MLflow store and feature store. The
reproduced holdout metrics are then compared with the recorded ones within a tolerance.
Nothing in the user's ``data/``, ``mlruns/`` or registry changes except a tag saying what the
check found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelworks.io import content_md5

DEFAULT_TOLERANCE = 1e-3


class ReproductionError(RuntimeError):
    """The recorded code or data is not available, or the run failed."""


@dataclass
class Reproduction:
    """Recorded against reproduced holdout metrics, and what was noticed on the way."""

    model_name: str
    version: str
    tolerance: float
    metrics: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(abs(m["difference"]) <= self.tolerance for m in self.metrics.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "version": self.version,
            "matches": self.matches,
            "tolerance": self.tolerance,
            "metrics": self.metrics,
            "notes": self.notes,
        }


def reproduce(
    root: Path,
    model_name: str,
    version: str,
    lineage: dict[str, Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    keep: Path | None = None,
) -> Reproduction:
    """Rebuild the training set from ``lineage``, retrain, and compare holdout metrics."""
    use_case = lineage["training"].get("use_case")
    if not use_case:
        raise ReproductionError(f"{model_name} v{version}: the lineage names no use case")
    notes: list[str] = []
    commit = _recorded_commit(root, lineage, notes)
    sources = _locate_data(root, lineage["data"])
    workdir = Path(tempfile.mkdtemp(prefix="modelworks-reproduce-")) if keep is None else keep
    try:
        _export_commit(root, commit, workdir)
        for relative, found in sources.items():
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, target)
        _write_parameters(workdir, use_case, lineage["parameters"])
        _run_training(workdir, use_case)
        reproduced = json.loads(
            (workdir / "data" / "08_reporting" / use_case / "holdout_metrics.json").read_text()
        )
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if reproduced.get("candidate") != lineage["training"]["name"]:
        notes.append(
            f"the reproduced run selected candidate {reproduced.get('candidate')!r}, "
            f"the recorded one {lineage['training']['name']!r}"
        )
    recorded = lineage["metrics"]["holdout"]
    metrics = {
        name: {
            "recorded": float(value),
            "reproduced": float(reproduced[f"holdout_{name}"]),
            "difference": float(reproduced[f"holdout_{name}"]) - float(value),
        }
        for name, value in recorded.items()
        if f"holdout_{name}" in reproduced
    }
    return Reproduction(model_name, version, tolerance, metrics, notes)


def _recorded_commit(root: Path, lineage: dict[str, Any], notes: list[str]) -> str:
    git = lineage["git"]
    commit = git.get("commit")
    if not commit:
        raise ReproductionError("the lineage records no git commit: the code cannot be recovered")
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root, capture_output=True
    )
    if known.returncode != 0:
        raise ReproductionError(f"commit {commit} is not in this repository (fetch it first)")
    if git.get("dirty"):
        notes.append(
            f"the work tree had uncommitted changes when the model was trained "
            f"({', '.join(git.get('changed_files', [])[:5])}); reproduced from {commit[:12]} "
            "without them"
        )
    return str(commit)


def _locate_data(root: Path, data: dict[str, Any]) -> dict[Path, Path]:
    """Where each recorded file's exact content is now, by project-relative path."""
    found: dict[Path, Path] = {}
    unavailable = []
    for table, source in data.items():
        if not source:
            unavailable.append(f"{table}: no content hash was recorded")
            continue
        recorded = Path(source["path"])
        if recorded.is_absolute():
            try:
                relative = recorded.resolve().relative_to(root.resolve())
            except ValueError:
                unavailable.append(f"{table}: {recorded} lies outside the project")
                continue
        else:
            relative = recorded
        candidates = [root / relative, _dvc_cache_path(root, source["md5"])]
        match = next(
            (
                path
                for path in candidates
                if path.is_file() and content_md5(str(path))[0] == source["md5"]
            ),
            None,
        )
        if match is None:
            unavailable.append(
                f"{table}: {relative} with md5 {source['md5']} is neither in the workspace nor "
                "in the DVC cache"
            )
            continue
        found[relative] = match
    if unavailable:
        raise ReproductionError(
            "the recorded data is no longer available:\n  "
            + "\n  ".join(unavailable)
            + "\n(restore it with `dvc checkout` at the recorded commit, or `dvc pull`)"
        )
    return found


def _dvc_cache_path(root: Path, md5: str) -> Path:
    """Where DVC 3 keeps a file with this content in the project's local cache."""
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def _export_commit(root: Path, commit: str, workdir: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=root, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    for folder in ("mlruns", "conf/local"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)


def _write_parameters(workdir: Path, use_case: str, parameters: dict[str, Any]) -> None:
    path = workdir / "conf" / "local" / "parameters.yml"
    path.write_text(yaml.safe_dump({use_case: parameters}, sort_keys=False))


def _run_training(workdir: Path, use_case: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # The exported code, not the installed one, is what runs.
    env["PYTHONPATH"] = os.pathsep.join([str(workdir / "src"), str(workdir)])
    env["KEDRO_DISABLE_TELEMETRY"] = "1"
    command = [
        sys.executable,
        "-m",
        "kedro",
        "run",
        "--pipelines",
        f"{use_case}_train",
        "--to-nodes",
        f"{use_case}.select_best_candidate",
    ]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReproductionError(
            f"the training run failed ({' '.join(command[2:])}):\n{done.stderr[-4000:]}"
        )
