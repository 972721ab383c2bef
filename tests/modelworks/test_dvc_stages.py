"""Generated DVC stages: the committed dvc.yaml is what `modelworks dvc-stages` writes, and a
new use case gets its stages from its pipelines and the catalog's conventions."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.pipeline import Pipeline, node, pipeline

from modelworks.dvc_stages import (
    DvcStagesError,
    ExtraDeps,
    catalog_paths,
    load_extra_deps,
    render_stages,
    stale_stages,
    to_yaml,
)
from tests.project import REPO_ROOT, run_in


@dataclass(frozen=True)
class FakeUseCase:
    name: str


def _identity(*args: Any) -> Any:
    return args


def _fake_pipelines(name: str, *, ingest: bool = True) -> dict[str, Pipeline]:
    """A use case laid out like the real ones: ingest -> raw table; train -> features, training
    set, model files, reports, metrics; score -> predictions and a report beside the train's."""
    raw = Pipeline([node(_identity, "params:generator", "raw_events", name="generate")])
    train = Pipeline(
        [
            node(_identity, ["raw_events", "params:features"], "event_features", name="features"),
            node(_identity, "event_features", "training_set", name="retrieve"),
            node(
                _identity,
                ["training_set", "params:training", "parameters"],
                ["reference_profile", "holdout_metrics", "validation_report"],
                name="train",
            ),
        ]
    )
    score = Pipeline(
        [node(_identity, "training_set", ["predictions", "prediction_summary"], name="score")]
    )
    pipes = {
        f"{name}_train": pipeline(train, namespace=name),
        f"{name}_score": pipeline(score, namespace=name),
    }
    if ingest:
        pipes[f"{name}_ingest"] = pipeline(raw, namespace=name)
    return pipes


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project with one parameters file; no pipelines/ folder or catalog file for it."""
    params = tmp_path / "conf" / "base" / "parameters"
    params.mkdir(parents=True)
    block = {"generator": {"n": 10}, "features": {}, "training": {}, "scoring": {}}
    (params / "fraud.yml").write_text(yaml.safe_dump({"fraud": block}, sort_keys=False))
    return tmp_path


@pytest.fixture(scope="module")
def dataset_path() -> Any:
    """The project's own catalog conventions (layers.yml), which a new use case inherits."""
    layers = yaml.safe_load((REPO_ROOT / "conf" / "base" / "catalog" / "layers.yml").read_text())
    extra = {
        "{use_case}.event_features": {
            "type": "pandas.ParquetDataset",
            "filepath": "data/04_feature/{use_case}/event_features.parquet",
        }
    }
    return catalog_paths({**layers, **extra})


def test_the_committed_dvc_yaml_is_the_generated_one() -> None:
    """A use case added (or a pipeline changed) without `make dvc-stages` fails here."""
    result = run_in(REPO_ROOT, ["modelworks", "dvc-stages", "--check"], check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "up to date" in result.stdout


def test_a_new_use_case_gets_an_ingest_and_a_train_stage(project: Path, dataset_path: Any) -> None:
    stages = render_stages(
        [FakeUseCase("fraud")], _fake_pipelines("fraud"), dataset_path, root=project
    )["stages"]
    assert list(stages) == ["fraud_ingest", "fraud_train"]
    ingest, train = stages["fraud_ingest"], stages["fraud_train"]

    assert ingest["cmd"] == "kedro run --pipelines fraud_ingest"
    assert ingest["outs"] == ["data/01_raw/fraud"]
    assert ingest["params"] == [{"conf/base/parameters/fraud.yml": ["fraud.generator"]}]
    assert "src/modelworks" in ingest["deps"]

    assert train["cmd"] == "kedro run --pipelines fraud_train"
    assert train["deps"][0] == "data/01_raw/fraud"  # the ingest stage's out
    assert {"src/modelworks", "conf/base/catalog/layers.yml", "conf/base/mlflow.yml"} <= set(
        train["deps"]
    )
    assert not any("pipelines/fraud" in dep for dep in train["deps"])  # no such folder here
    # the lineage reads the whole parameter tree: every section of the use case
    assert train["params"] == [
        {
            "conf/base/parameters/fraud.yml": [
                "fraud.generator",
                "fraud.features",
                "fraud.training",
                "fraud.scoring",
            ]
        }
    ]
    # a layer folder only this stage writes is one out; scoring also writes into
    # 08_reporting, so the train stage's files there are listed one by one
    assert train["outs"] == [
        "data/04_feature/fraud",
        "data/05_model_input/fraud",
        "data/06_models/fraud",
        "data/08_reporting/fraud/validation_report.json",
    ]
    assert train["metrics"] == ["data/08_reporting/fraud/holdout_metrics.json"]


def test_a_use_case_without_an_ingest_pipeline_gets_a_train_stage_only(
    project: Path, dataset_path: Any
) -> None:
    stages = render_stages(
        [FakeUseCase("fraud")], _fake_pipelines("fraud", ingest=False), dataset_path, root=project
    )["stages"]
    assert list(stages) == ["fraud_train"]
    # its raw tables are nobody's out: the folder is a dep, supplied by the user
    assert stages["fraud_train"]["deps"][0] == "data/01_raw/fraud"


def test_a_use_case_reading_another_ones_tables_depends_on_that_stage(
    project: Path, dataset_path: Any
) -> None:
    """Like repayment_uplift on credit_risk: the reader's deps name the writer's outs."""
    reader = Pipeline(
        [node(_identity, ["credit_events", "params:generator"], "raw_events", name="gen")]
    )
    with warnings.catch_warnings():  # a dotted dataset name: another use case's, as meant
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        borrowing = pipeline(
            reader, namespace="fraud", inputs={"credit_events": "credit.raw_events"}
        )
    pipes = {**_fake_pipelines("credit"), **_fake_pipelines("fraud"), "fraud_ingest": borrowing}
    extra = {"fraud": ExtraDeps(train_deps=["pipelines/credit/features.py"])}
    stages = render_stages(
        [FakeUseCase("credit"), FakeUseCase("fraud")],
        pipes,
        dataset_path,
        root=project,
        extra_deps=extra,
    )["stages"]
    assert list(stages) == ["credit_ingest", "credit_train", "fraud_ingest", "fraud_train"]
    assert stages["fraud_ingest"]["deps"][0] == "data/01_raw/credit"
    assert stages["fraud_train"]["deps"][-1] == "pipelines/credit/features.py"


def test_stale_stages_name_what_regenerating_would_change(project: Path, dataset_path: Any) -> None:
    one = render_stages(
        [FakeUseCase("fraud")], _fake_pipelines("fraud"), dataset_path, root=project
    )
    committed = to_yaml(one)
    assert stale_stages(committed, one) == []
    assert committed.startswith("# Generated by `modelworks dvc-stages`")

    pipes = {**_fake_pipelines("fraud"), **_fake_pipelines("churn")}
    two = render_stages(
        [FakeUseCase("churn"), FakeUseCase("fraud")], pipes, dataset_path, root=project
    )
    assert stale_stages(committed, two) == ["churn_ingest (missing)", "churn_train (missing)"]

    edited = yaml.safe_load(committed)
    edited["stages"]["fraud_train"]["deps"].remove("src/modelworks")
    assert stale_stages(yaml.safe_dump(edited), one) == ["fraud_train (changed)"]
    assert stale_stages(None, one) == ["fraud_ingest (missing)", "fraud_train (missing)"]


def test_extra_deps_name_known_use_cases_and_keys(project: Path, dataset_path: Any) -> None:
    conf = project / "conf" / "base" / "dvc.yml"
    conf.write_text("fraud:\n  train_dep: [x.py]\n")
    with pytest.raises(DvcStagesError, match=r"fraud\.train_dep"):
        load_extra_deps(project)
    with pytest.raises(DvcStagesError, match="unknown use cases: churn"):
        render_stages(
            [FakeUseCase("fraud")],
            _fake_pipelines("fraud"),
            dataset_path,
            root=project,
            extra_deps={"churn": ExtraDeps()},
        )


def test_the_project_declares_its_cross_use_case_code_dep() -> None:
    extra = load_extra_deps(REPO_ROOT)
    assert "pipelines/credit_risk/features.py" in extra["repayment_uplift"].train_deps
