"""credit_risk: raw tables -> GE gate -> Feast -> CatBoost vs LightGBM -> registry -> drift."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from modelworks.pipelines import (
    feature_retrieval_pipeline,
    feature_store_pipeline,
    lifecycle_pipelines,
    validation_pipeline,
)
from modelworks.simulation import simulation_pipeline
from pipelines.credit_risk.generator import generate_credit_data, generate_simulation_world
from pipelines.credit_risk.nodes import (
    build_borrower_profile,
    build_loan_entity_rows,
    build_repayment_history,
    build_scoring_entity_rows,
    label_simulation_rows,
)

NAME = "credit_risk"
RAW_TABLES = ["borrowers", "loans", "repayments", "scoring_loans"]
FEATURE_TABLES = ["borrower_profile", "borrower_repayment_history"]


def create_pipelines() -> dict[str, Pipeline]:
    """The use case's pipelines:

    * ``credit_risk_ingest``: generator -> raw tables;
    * ``credit_risk_train``: validation gate, features, training, registry gate, drift;
    * ``credit_risk_score``: the champion on the scoring batch;
    * ``credit_risk_monitor``: the champion's monitoring run and the retrain decision;
    * ``credit_risk_retrain``: monitor -> decide -> train -> gate -> promote -> score, training
      only when the decision says so;
    * ``credit_risk_simulation``: weekly batches of a world that shifts, replayed through the
      loop, in its own namespace, feature store and registered model;
    * ``credit_risk``: ingest, train and score in order.
    """
    ingest = Pipeline(
        [
            node(
                generate_credit_data,
                inputs="params:generator",
                outputs={t: f"raw_{t}" for t in RAW_TABLES},
                name="generate_credit_data",
            )
        ]
    )
    feature_tables = Pipeline(
        [
            node(
                build_borrower_profile,
                "validated_borrowers",
                "borrower_profile",
                name="build_borrower_profile",
            ),
            node(
                build_repayment_history,
                ["validated_repayments", "validated_loans"],
                "borrower_repayment_history",
                name="build_repayment_history",
            ),
            node(
                build_loan_entity_rows,
                "validated_loans",
                "loan_entity_rows",
                name="build_loan_entity_rows",
            ),
            node(
                build_scoring_entity_rows,
                "validated_scoring_loans",
                "scoring_entity_rows",
                name="build_scoring_entity_rows",
            ),
        ]
    )
    prepare = (
        validation_pipeline(RAW_TABLES)
        + feature_tables
        + feature_store_pipeline(FEATURE_TABLES)
        + feature_retrieval_pipeline("loan_entity_rows", "training_set")
        + feature_retrieval_pipeline("scoring_entity_rows", "scoring_features")
    )
    world = Pipeline(
        [
            node(
                generate_simulation_world,
                inputs=["params:generator", "params:simulation"],
                outputs={t: f"raw_{t}" for t in RAW_TABLES},
                name="generate_simulation_world",
            ),
            node(
                label_simulation_rows,
                "training_set",
                "rows",
                name="label_simulation_rows",
            ),
        ]
    )
    # The replayed world runs through the same preparation under its own names
    # (credit_risk.simulation.*) and its own feature store, leaving the real ones alone.
    outcome = ("simulation_timeline", "simulation_scores", "simulation_summary", "simulation_plot")
    simulation = pipeline(
        world + prepare + simulation_pipeline(use_case=NAME),
        namespace="simulation",
        parameters={
            f"params:{key}": f"params:{key}"
            for key in (
                "generator",
                "simulation",
                "validation",
                "features",
                "training",
                "registry",
                "monitoring",
                "retrain",
            )
        },
        outputs={name: name for name in outcome},
    )
    family = lifecycle_pipelines(
        NAME, ingest=ingest, prepare=prepare, entity_rows="loan_entity_rows"
    )
    family[f"{NAME}_simulation"] = simulation
    return {name: pipeline(pipe, namespace=NAME) for name, pipe in family.items()}
