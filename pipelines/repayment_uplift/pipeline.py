"""repayment_uplift: credit_risk's loan book -> collections experiment -> GE gate -> Feast ->
S/T-learners over LightGBM and CatBoost -> registry -> call list with random holdouts ->
realised uplift on the holdouts, drift and the retrain decision."""

from __future__ import annotations

import warnings

from kedro.pipeline import Pipeline, node, pipeline

from modelworks.pipelines import (
    batch_scoring_pipeline,
    champion_monitoring_pipeline,
    drift_monitoring_pipeline,
    feature_retrieval_pipeline,
    feature_store_pipeline,
    monitor_scored,
    training_pipeline,
    typed_params,
    validation_pipeline,
)
from modelworks.uplift.targeting import holdout_uplift_pipeline, targeting_pipeline
from pipelines.repayment_uplift.nodes import (
    build_app_activity,
    build_call_history,
    build_episode_entity_rows,
    build_scoring_entity_rows,
    generate_collections_tables,
    reveal_call_outcomes,
)
from pipelines.repayment_uplift.params import RepaymentUpliftParams

NAME = "repayment_uplift"
RAW_TABLES = ["episodes", "scoring_episodes", "call_log", "app_events"]
FEATURE_TABLES = ["borrower_call_history", "borrower_app_activity"]
# credit_risk's datasets this use case reads, by the names its nodes use: the loan book, and the
# feature tables behind the views both use cases share (Feast reads those files, so the sync of
# our views waits for them).
CREDIT_RISK_DATASETS = {
    "credit_risk_borrowers": "credit_risk.raw_borrowers",
    "credit_risk_loans": "credit_risk.raw_loans",
    "credit_risk_repayments": "credit_risk.raw_repayments",
    "credit_risk_borrower_profile": "credit_risk.published_borrower_profile",
    "credit_risk_repayment_history": "credit_risk.published_borrower_repayment_history",
}


def _namespaced(pipe: Pipeline) -> Pipeline:
    """``pipe`` under this use case's namespace, its parameters typed by this use case's model
    (an uplift task's), reading credit_risk's datasets in place."""
    shared = {name: outer for name, outer in CREDIT_RISK_DATASETS.items() if name in pipe.inputs()}
    with warnings.catch_warnings():
        # Kedro warns about any dataset name whose dotted prefix is not the node's namespace;
        # reading another use case's datasets is exactly what is meant here.
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        return pipeline(typed_params(pipe, RepaymentUpliftParams), namespace=NAME, inputs=shared)


def create_pipelines() -> dict[str, Pipeline]:
    """The use case's pipelines:

    * ``repayment_uplift_ingest``: credit_risk's raw tables -> the collections experiment;
    * ``repayment_uplift_train``: validation gate, features, S/T-learners, registry gate, drift;
    * ``repayment_uplift_score``: the champion scores the scoring episodes, writes its call
      list, and monitors it (realised uplift on its holdouts, drift, the retrain decision and
      the monitoring report);
    * ``repayment_uplift_monitor``: outcomes of the call list -> realised uplift on its
      holdouts, drift, retrain decision (with its cooldown);
    * ``repayment_uplift_retrain``: monitor -> decide -> train -> gate -> promote;
    * ``repayment_uplift``: ingest, train, call list and its monitoring, in order.

    All of them need credit_risk's raw and feature tables (``kedro run`` runs credit_risk first).
    They are the lifecycle's pipelines (task ``uplift``) plus the call list and its holdouts.
    """
    ingest = Pipeline(
        [
            node(
                generate_collections_tables,
                inputs={
                    "borrowers": "credit_risk_borrowers",
                    "loans": "credit_risk_loans",
                    "repayments": "credit_risk_repayments",
                    "params": "params:generator",
                },
                outputs={t: f"raw_{t}" for t in RAW_TABLES} | {"effects": "true_effects"},
                name="generate_collections_data",
            )
        ]
    )
    feature_tables = Pipeline(
        [
            node(
                build_call_history,
                "validated_call_log",
                "borrower_call_history",
                name="build_call_history",
            ),
            node(
                build_app_activity,
                "validated_app_events",
                "borrower_app_activity",
                name="build_app_activity",
            ),
            node(
                build_episode_entity_rows,
                "validated_episodes",
                "episode_entity_rows",
                name="build_episode_entity_rows",
            ),
            node(
                build_scoring_entity_rows,
                "validated_scoring_episodes",
                "scoring_entity_rows",
                name="build_scoring_entity_rows",
            ),
        ]
    )
    prepare = (
        validation_pipeline(RAW_TABLES)
        + feature_tables
        + feature_store_pipeline(
            FEATURE_TABLES,
            published_elsewhere=["credit_risk_borrower_profile", "credit_risk_repayment_history"],
        )
        + feature_retrieval_pipeline("episode_entity_rows", "training_set")
        + feature_retrieval_pipeline("scoring_entity_rows", "scoring_features")
    )
    train = (
        prepare
        + training_pipeline(use_case=NAME, entity_rows="episode_entity_rows")
        + drift_monitoring_pipeline()
    )
    outcomes = Pipeline(
        [
            node(
                reveal_call_outcomes,
                ["call_list", "true_effects"],
                "call_outcomes",
                name="reveal_call_outcomes",
            )
        ]
    )
    measured = outcomes + holdout_uplift_pipeline(
        treatment_list="call_list", outcomes="call_outcomes"
    )
    monitor = measured + champion_monitoring_pipeline("scoring_features", measured="holdout_uplift")
    # Every call list is monitored once its holdouts' outcomes are in (revealed at once in
    # this generated world), with the model that scored it.
    monitor_after_scoring = measured + monitor_scored("scoring_features", measured="holdout_uplift")
    # The call list that was monitored is the champion's last one; the next one comes from
    # repayment_uplift_score, after the gate has had its say.
    retrain = (
        prepare
        + monitor
        + training_pipeline(
            use_case=NAME, entity_rows="episode_entity_rows", retrain_decision="retrain_decision"
        )
        + drift_monitoring_pipeline()
    )
    call_list = targeting_pipeline("predictions", output="call_list")
    score = batch_scoring_pipeline("scoring_features") + call_list + monitor_after_scoring
    score_new_champion = batch_scoring_pipeline("scoring_features", after_training=True) + call_list
    return {
        f"{NAME}_ingest": _namespaced(ingest),
        f"{NAME}_train": _namespaced(train),
        f"{NAME}_score": _namespaced(score),
        f"{NAME}_monitor": _namespaced(monitor),
        f"{NAME}_retrain": _namespaced(retrain),
        NAME: _namespaced(ingest + train + score_new_champion + monitor_after_scoring),
    }
