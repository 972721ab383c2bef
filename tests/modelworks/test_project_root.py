"""`kedro run` from a subdirectory tracks into the project's MLflow database and data layers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from modelworks.project import project_root
from tests.project import copy_project, edit_params, project_env

pytestmark = pytest.mark.e2e(seconds=30)


def test_project_root_is_found_from_a_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\npackage_name = 'x'\n")
    (tmp_path / "data" / "01_raw").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "data" / "01_raw")
    assert project_root() == tmp_path.resolve().as_posix()


def test_project_root_outside_a_project_is_this_package_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert project_root() == Path(__file__).resolve().parents[2].as_posix()


def _tiny(params: dict[str, Any]) -> None:
    params["generator"].update(n_loans=300, history_days=40, scoring_days=7)


def test_kedro_run_from_data_writes_into_the_project(tmp_path: Path) -> None:
    import subprocess

    root = copy_project(tmp_path / "project")
    edit_params(root, "credit_risk", _tiny)
    before = sorted(p.relative_to(root) for p in (root / "data").rglob("*"))

    result = subprocess.run(
        ["kedro", "run", "--pipelines", "credit_risk_ingest"],
        cwd=root / "data",
        env=project_env(root),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    # the run is in the project's database, its artifacts under the project's mlruns/
    with sqlite3.connect(root / "mlruns" / "mlflow.db") as db:
        runs = db.execute("SELECT name, status, artifact_uri FROM runs").fetchall()
        experiments = dict(db.execute("SELECT name, artifact_location FROM experiments"))
    assert [(name, status) for name, status, _ in runs] == [("credit_risk_ingest", "FINISHED")]
    mlruns = (root / "mlruns").resolve().as_uri()
    assert runs[0][2].startswith(f"{mlruns}/credit_risk/"), runs[0][2]
    assert experiments["credit_risk"] == f"{mlruns}/credit_risk"
    # the raw tables land in the project's data layer, nothing else appears under data/
    raw = sorted(p.name for p in (root / "data" / "01_raw" / "credit_risk").glob("*.parquet"))
    assert raw, "no raw tables written"
    after = sorted(p.relative_to(root) for p in (root / "data").rglob("*"))
    created = [p for p in after if p not in before]
    assert all(p.parts[:3] == ("data", "01_raw", "credit_risk") for p in created), created
    assert not (root / "data" / "mlruns").exists()
    assert not (root / "data" / "data").exists()
