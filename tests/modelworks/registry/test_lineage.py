"""Lineage fields, the content hash DVC agrees with, and reproduction's refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from modelworks.io import RawParquetDataset, content_md5
from modelworks.registry.lineage import build_lineage, frame_digest, git_state, lineage_tags
from modelworks.registry.reproduce import ReproductionError, reproduce

DVC = str(Path(sys.executable).with_name("dvc"))


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_content_hash_is_the_md5_dvc_records(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    subprocess.run([DVC, "init", "-q"], cwd=tmp_path, check=True)
    frame = pd.DataFrame({"id": range(1000), "amount": [x * 1.5 for x in range(1000)]})
    frame.to_parquet(tmp_path / "loans.parquet")
    subprocess.run([DVC, "add", "-q", "loans.parquet"], cwd=tmp_path, check=True)
    recorded = (tmp_path / "loans.parquet.dvc").read_text()
    md5, size = content_md5(str(tmp_path / "loans.parquet"))
    assert f"md5: {md5}" in recorded
    assert f"size: {size}" in recorded
    # and DVC's cache holds it where reproduction looks
    assert (tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_a_loaded_raw_table_says_which_file_it_came_from(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data" / "loans.parquet"
    path.parent.mkdir()
    pd.DataFrame({"id": [1, 2]}).to_parquet(path)
    loaded = RawParquetDataset(filepath=str(path)).load()
    source = loaded.attrs["modelworks.source"]
    assert source == {
        "path": "data/loans.parquet",
        "md5": content_md5(str(path))[0],
        "bytes": path.stat().st_size,
    }


def test_git_state_names_the_commit_and_notices_changes(tmp_path: Path) -> None:
    assert git_state(tmp_path)["commit"] is None  # not a repository: recorded as unknown
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", "code.py")
    _git(tmp_path, "commit", "-qm", "first")
    clean = git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    dirty = git_state(tmp_path)
    assert dirty["dirty"] is True and dirty["changed_files"] == ["code.py"]
    assert dirty["commit"] == clean["commit"]


def test_frame_digest_follows_values_and_columns_not_the_index() -> None:
    frame = pd.DataFrame({"loan_id": [1, 2], "applied_at": pd.to_datetime(["2024-01-01"] * 2)})
    same = frame.set_axis([10, 11])
    changed = frame.assign(loan_id=[1, 3])
    renamed = frame.rename(columns={"loan_id": "id"})
    digest = frame_digest(frame)
    assert digest["rows"] == 2 and digest["columns"] == ["loan_id", "applied_at"]
    assert frame_digest(same)["sha256"] == digest["sha256"]
    assert frame_digest(changed)["sha256"] != digest["sha256"]
    assert frame_digest(renamed)["sha256"] != digest["sha256"]


def test_lineage_holds_every_field_and_its_ui_summary() -> None:
    report = {
        "success": True,
        "suite": "raw_tables",
        "validated_at": "2026-01-01T00:00:00+00:00",
        "failures": [],
        "tables": {
            "loans": {"source": {"path": "data/loans.parquet", "md5": "ab" * 16, "bytes": 9}}
        },
    }
    lineage = build_lineage(
        validation_report=report,
        features={"service": "s", "definitions_sha256": "f" * 64, "feature_views": {}},
        entity_rows=pd.DataFrame({"id": [1]}),
        parameters={"training": {"seed": 1}},
        metrics={"cv": {"roc_auc_mean": 0.8}, "holdout": {"roc_auc": 0.79}},
        training={"use_case": "u", "name": "lgb", "run_id": "r"},
    )
    assert set(lineage) == {
        "lineage_version",
        "git",
        "data",
        "features",
        "entity_rows",
        "validation",
        "parameters",
        "packages",
        "metrics",
        "training",
    }
    assert lineage["data"]["loans"]["md5"] == "ab" * 16
    assert {"mlflow", "kedro", "feast", "lightgbm"} <= set(lineage["packages"])
    tags = lineage_tags(lineage)
    assert tags["lineage.data.loans.md5"] == "ab" * 16
    assert tags["lineage.validation"] == "passed"
    assert tags["lineage.feature_service"] == "s"


def test_reproduce_refuses_when_the_recorded_data_is_gone(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "f.txt").write_text("x")
    _git(tmp_path, "add", "f.txt")
    _git(tmp_path, "commit", "-qm", "c")
    commit = git_state(tmp_path)["commit"]
    lineage = {
        "git": {"commit": commit, "dirty": False},
        "training": {"use_case": "u", "name": "lgb"},
        "data": {"loans": {"path": "data/01_raw/u/loans.parquet", "md5": "0" * 32, "bytes": 1}},
    }
    with pytest.raises(ReproductionError, match=r"loans: data/01_raw/u/loans.parquet with md5 0+"):
        reproduce(tmp_path, "m", "1", lineage)
    unknown = {**lineage, "git": {"commit": "f" * 40, "dirty": False}}
    with pytest.raises(ReproductionError, match="is not in this repository"):
        reproduce(tmp_path, "m", "1", unknown)
