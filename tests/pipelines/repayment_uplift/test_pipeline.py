"""repayment_uplift's pipelines as Kedro builds them: names, and parameters typed by the use
case's own models (an uplift task's), from the project's YAML."""

from __future__ import annotations

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.validation.parameter_validator import ParameterValidator

from modelworks.uplift import TargetingPolicy
from modelworks.uplift.monitoring import UpliftRetrainPolicy
from modelworks.uplift.params import UpliftScoringParams, UpliftTrainingParams
from pipelines.repayment_uplift.pipeline import create_pipelines

ROOT = Path(__file__).resolve().parents[3]
NAME = "repayment_uplift"


def test_the_pipelines_of_before_are_all_there():
    assert set(create_pipelines()) == {
        NAME,
        f"{NAME}_ingest",
        f"{NAME}_train",
        f"{NAME}_score",
        f"{NAME}_monitor",
        f"{NAME}_retrain",
    }


def test_every_node_reads_the_yaml_through_the_use_case_models():
    params = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="local")[
        "parameters"
    ]
    typed = ParameterValidator(create_pipelines()).validate_raw_params(params)[NAME]
    assert isinstance(typed["training"], UpliftTrainingParams)
    assert typed["training"].task == "uplift"
    assert typed["training"].treatment_cost == typed["targeting"].cost
    # the lifecycle's nodes, annotated for the tabular families, get the uplift models
    assert isinstance(typed["scoring"], UpliftScoringParams)
    assert isinstance(typed["retrain"], UpliftRetrainPolicy)
    assert typed["retrain"].min_days_between > 0
    assert isinstance(typed["targeting"], TargetingPolicy)
