"""Temporary copies of the project, so tests never touch the user's mlruns/ or data/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def project_files(root: Path = REPO_ROOT) -> list[str]:
    """The project's files, as git sees them: tracked or new, never ignored ones (virtual
    environments, data, runs, caches, DVC's cache, servers' state, conf/local's secrets)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def copy_project(destination: Path) -> Path:
    """Copy code, conf and the empty data layers into ``destination``, as a git work tree."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    for layer in (REPO_ROOT / "data").glob("0*"):
        (destination / "data" / layer.name).mkdir(parents=True, exist_ok=True)
    (destination / "mlruns").mkdir(exist_ok=True)
    (destination / "conf" / "local").mkdir(parents=True, exist_ok=True)
    # lineage and DVC want a repository; a throwaway one keeps the user's untouched
    git = ["git", "-c", "user.name=modelworks-tests", "-c", "user.email=tests@modelworks.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "test copy"], cwd=destination, check=True)
    return destination


def project_env(root: Path) -> dict[str, str]:
    """Environment for commands in a project copy: its code first, the venv's tools on PATH."""
    # A tracking or registry URI exported by the test process must not redirect the copy's runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "src")])
    env["KEDRO_DISABLE_TELEMETRY"] = "1"
    env["DO_NOT_TRACK"] = "1"
    return env


def run_in(
    root: Path, args: Sequence[str], *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in the project copy (``env`` added to its environment); on unexpected
    failure show its output."""
    result = subprocess.run(
        list(args),
        cwd=root,
        env={**project_env(root), **(env or {})},
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
            f"\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def edit_params(root: Path, use_case: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change ``conf/base/parameters/<use_case>.yml`` in a project copy."""
    path = root / "conf" / "base" / "parameters" / f"{use_case}.yml"
    params = yaml.safe_load(path.read_text())
    edit(params[use_case])
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def few_trials(params: dict[str, Any], trials: int = 4) -> None:
    """Keep each candidate's search (the default configuration's) but run ``trials`` trials:
    end-to-end tests prove the path, not the optimum."""
    for candidate in params["training"]["candidates"].values():
        if candidate.get("search"):
            candidate["search"]["n_trials"] = trials
