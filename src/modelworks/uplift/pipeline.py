"""Uplift use cases as Kedro pipelines: train, register, target, monitor.

The uplift counterpart of the classification factories in ``modelworks.pipelines``, over the
same conventional dataset names (``training_set``, ``holdout_rows``, ``best_candidate``,
``lineage``, ``registry_decision``, ``reference_profile``, ``drift_summary``, ...), so a use
case composes them with the shared validation, feature-store and drift pieces and wraps the sum
in its namespace.

* Training: each candidate is a meta-learner (S or T) over a registered classifier adapter,
  cross-validated on uplift metrics in one MLflow run per candidate with one nested run per
  fold, refitted, and evaluated on an out-of-time holdout (Qini, uplift at 10/30/50 %, revenue
  and profit at the treatment's cost) with its charts and persuadable segments.
* Registration: the candidate with the best cross-validated selection metric is registered with
  lineage and gate evidence for task ``uplift`` (judged by ``uplift.evaluation``).
* Targeting: the champion scores a batch and ``TargetingPolicy`` decides whom to treat, around
  two random holdouts.
* Monitoring: realised uplift on those holdouts once outcomes arrive, drift of the batch against
  the champion's reference, and the retrain decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial, update_wrapper
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node
from pydantic import Field, model_validator

from modelworks.monitoring import DriftParams, build_reference_profile, monitor_batch
from modelworks.params import StrictModel
from modelworks.pipelines.monitoring import (
    detect_drift,
    record_monitoring,
    render_champion_report,
    render_drift_report,
)
from modelworks.pipelines.training import (
    RegistryParams,
    describe_lineage,
    skipped,
    was_skipped,
    worst_verdict,
)
from modelworks.registry import promotion, tracking
from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE, lineage_tags
from modelworks.serving.datasets import ServedModel
from modelworks.training import FeatureSpec, out_of_time_split
from modelworks.training.plots import feature_importance_figure
from modelworks.uplift.cv import cross_validate_uplift
from modelworks.uplift.evaluation import TASK, evidence_rows
from modelworks.uplift.explain import explain_uplift
from modelworks.uplift.learners import UpliftCandidateParams, UpliftData, fit_uplift_model
from modelworks.uplift.metrics import (
    profit_metrics,
    qini_coefficient,
    regression_adjusted,
    revenue_uplift_by_decile,
    uplift_by_decile,
    uplift_metrics,
)
from modelworks.uplift.monitoring import (
    UpliftRetrainPolicy,
    decide_uplift_retrain,
    holdouts_with_outcomes,
    measure_holdouts,
    table_records,
)
from modelworks.uplift.plots import (
    qini_figure,
    revenue_uplift_by_decile_figure,
    uplift_by_decile_figure,
    uplift_segments_figure,
)
from modelworks.uplift.policy import TargetingPolicy, assign_treatments
from modelworks.uplift.serving import (
    REVENUE_UPLIFT,
    UPLIFT,
    log_uplift_model,
    predict_served,
    predict_uplift_table,
)

if TYPE_CHECKING:
    from modelworks.uplift.learners import UpliftModel

UpliftMetric = Literal[
    "qini_coefficient", "qini_area", "uplift_at_10", "uplift_at_30", "uplift_at_50"
]


class ExplanationParams(StrictModel):
    """The tree that turns predicted uplift into readable persuadable segments."""

    max_depth: int = Field(default=3, ge=1, le=6)
    min_segment_share: float = Field(default=0.05, gt=0.0, lt=0.5)


class UpliftTrainingParams(StrictModel):
    """What the experiment recorded, and how uplift candidates are trained and compared."""

    treatment: str  # 0/1, assigned at random
    outcome: str  # 0/1, the outcome the treatment should move
    value: str  # what each row realised (e.g. the amount repaid), for the revenue metrics
    value_at_stake: str  # what a positive outcome is worth per row: revenue uplift = uplift x it
    time_column: str
    features: FeatureSpec
    holdout_days: int = Field(gt=0)
    n_splits: int = Field(default=5, ge=2)
    seed: int = 42
    selection_metric: UpliftMetric = "qini_coefficient"
    candidates: dict[str, UpliftCandidateParams]
    explanation: ExplanationParams = ExplanationParams()

    @model_validator(mode="after")
    def _experiment_columns_are_not_features(self) -> UpliftTrainingParams:
        leaking = [
            c for c in (self.treatment, self.outcome, self.value) if c in self.features.columns
        ]
        if leaking:
            raise ValueError(
                f"{leaking} describe the experiment's treatment or result and cannot be features"
            )
        return self


class UpliftScoringParams(StrictModel):
    """How rows of a treatment list are identified."""

    key: str  # one row's identity; its holdout draw is a hash of it
    id_columns: list[str]  # copied from the scored rows into the list


# ---------------------------------------------------------------------------------------------
# Training and registration
# ---------------------------------------------------------------------------------------------


def split_holdout(
    training_set: pd.DataFrame, params: UpliftTrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest ``holdout_days`` become the holdout; the rest is for cross-validation."""
    train, holdout = out_of_time_split(
        training_set, time_column=params.time_column, holdout_days=params.holdout_days
    )
    for frame, role in ((train, "training"), (holdout, "holdout")):
        arms = frame[params.treatment].value_counts().to_dict()
        if sorted(arms) != [0, 1]:
            raise ValueError(
                f"The {role} rows hold treatment values {arms}: uplift needs treated (1) and "
                "control (0) rows on both sides of the split"
            )
    return train, holdout


def realised_value(frame: pd.DataFrame, params: UpliftTrainingParams) -> np.ndarray:
    """What each row realised, regression-adjusted on its value at stake (``regression_adjusted``):
    comparisons of the arms stay unbiased and a few large balances stop dominating them."""
    return regression_adjusted(
        frame[params.value], frame[params.treatment], frame[params.value_at_stake]
    )


def holdout_uplift_metrics(
    holdout: pd.DataFrame, predicted: pd.DataFrame, params: UpliftTrainingParams, cost: float
) -> dict[str, float]:
    """Uplift metrics of the predicted uplift, and revenue and profit of the revenue uplift.

    ``uplift_metrics`` on the outcome; ``revenue_qini_coefficient`` and ``profit_metrics`` at
    ``cost`` per treatment on the realised value (profits are totals over the holdout rows).
    """
    y = holdout[params.outcome].to_numpy()
    t = holdout[params.treatment].to_numpy()
    value = realised_value(holdout, params)
    metrics = uplift_metrics(y, t, predicted[UPLIFT])
    metrics["revenue_qini_coefficient"] = qini_coefficient(value, t, predicted[REVENUE_UPLIFT])
    metrics.update(profit_metrics(value, t, predicted[REVENUE_UPLIFT], cost))
    return metrics


def _log_fold(fold: int, valid: UpliftData, metrics: dict[str, float]) -> None:
    treated = int(valid.treatment.sum())
    tracking.log_metrics({**metrics, "n_treated": treated, "n_control": len(valid) - treated})


def _log_holdout_evaluation(
    name: str,
    run_id: str,
    model: UpliftModel,
    holdout: pd.DataFrame,
    predicted: pd.DataFrame,
    params: UpliftTrainingParams,
    cost: float,
) -> None:
    """The charts a reader judges an uplift model by, and their tables, in the candidate's run."""
    y = holdout[params.outcome].to_numpy()
    t = holdout[params.treatment].to_numpy()
    deciles = uplift_by_decile(y, t, predicted[UPLIFT])
    revenue_deciles = revenue_uplift_by_decile(
        realised_value(holdout, params), t, predicted[REVENUE_UPLIFT]
    )
    segments = explain_uplift(
        holdout,
        predicted[UPLIFT],
        features=params.features,
        max_depth=params.explanation.max_depth,
        min_segment_share=params.explanation.min_segment_share,
        treatment=t,
        outcome=y,
        seed=params.seed,
    )
    tracking.log_figure(qini_figure(y, t, predicted[UPLIFT], label=name), "plots/qini.png")
    tracking.log_figure(uplift_by_decile_figure(deciles), "plots/uplift_by_decile.png")
    tracking.log_figure(
        revenue_uplift_by_decile_figure(revenue_deciles, cost=cost),
        "plots/revenue_uplift_by_decile.png",
    )
    tracking.log_figure(uplift_segments_figure(segments), "plots/persuadable_segments.png")
    tracking.log_figure(
        feature_importance_figure(model.feature_importance()), "plots/feature_importance.png"
    )
    tables = {
        "uplift_by_decile": table_records(deciles),
        "revenue_uplift_by_decile": table_records(revenue_deciles),
        "persuadable_segments": table_records(segments.segments),
        "segments_r_squared": segments.r_squared,
        "segments_feature_importance": segments.importance.to_dict(),
    }
    tracking.log_dict_to(run_id, tables, "evaluation/holdout_tables.json")


def _train_candidate(
    name: str,
    candidate: UpliftCandidateParams,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    params: UpliftTrainingParams,
    cost: float,
    serving: dict[str, Any],
) -> dict[str, Any]:
    data = UpliftData.from_frame(train, treatment=params.treatment, outcome=params.outcome)
    tags = {"modelworks.adapter": candidate.adapter, "modelworks.learner": candidate.learner}
    with tracking.candidate_run(name, tags=tags) as run_id:
        tracking.log_params(
            {
                "learner": candidate.learner,
                "adapter": candidate.adapter,
                "n_splits": params.n_splits,
                "seed": params.seed,
            }
        )
        tracking.log_params(candidate.params, prefix="model.")
        cv = cross_validate_uplift(
            data,
            features=params.features,
            candidate=candidate,
            n_splits=params.n_splits,
            seed=params.seed,
            fold_scope=partial(tracking.fold_run, name),
            on_fold=_log_fold,
        )
        tracking.log_metrics(cv.summary, prefix="cv_")
        model = fit_uplift_model(
            data,
            features=params.features,
            candidate=candidate,
            seed=params.seed,
            n_rounds=cv.rounds,
        )
        predicted = predict_uplift_table(model, holdout, params.value_at_stake)
        metrics = holdout_uplift_metrics(holdout, predicted, params, cost)
        tracking.log_metrics(metrics, prefix="holdout_")
        tracking.log_metrics({f"rounds_{k}": v for k, v in cv.rounds.items()}, prefix="refit_")
        _log_holdout_evaluation(name, run_id, model, holdout, predicted, params, cost)
        model_uri = log_uplift_model(
            model, holdout, value_at_stake=params.value_at_stake, serving=serving
        )
    return {
        "name": name,
        "learner": candidate.learner,
        "adapter": candidate.adapter,
        "run_id": run_id,
        "model_uri": model_uri,
        "rounds": cv.rounds,
        "cv": cv.summary,
        "holdout": metrics,
        # Out-of-sample predicted uplift: the reference profile's score distribution.
        "holdout_scores": predicted[UPLIFT].tolist(),
    }


def train_uplift_candidates(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    feature_service: dict[str, Any],
    params: UpliftTrainingParams,
    targeting: TargetingPolicy,
    retrain_decision: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Cross-validate, refit and evaluate every candidate, each in its own MLflow run.

    Each model is packaged to read its features from the online store of ``feature_service``
    when a caller sends only entity keys and request-time fields; ``targeting.cost`` prices a
    treatment in the revenue charts and profit metrics. Given a retrain decision that says no,
    nothing is trained and the steps after this skip too.
    """
    if retrain_decision is not None and not retrain_decision["retrain"]:
        return []
    serving = {
        "feature_service": feature_service["service"],
        "join_keys": feature_service["join_keys"],
        "online_features": feature_service["features"],
        "feature_repo": feature_service["repo_path"],
    }
    return [
        _train_candidate(name, candidate, train, holdout, params, targeting.cost, serving)
        for name, candidate in params.candidates.items()
    ]


def select_best_uplift_candidate(
    candidates: list[dict[str, Any]], params: UpliftTrainingParams
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The candidate with the best cross-validated selection metric (the holdout stays unbiased).

    Returns the winner, its metrics as a flat JSON document (DVC metrics) and the same metrics
    for kedro-mlflow's metrics dataset.
    """
    if not candidates:
        nothing = skipped("no candidate was trained")
        return nothing, {"candidate": None, **nothing}, {}
    key = f"{params.selection_metric}_mean"
    best = max(candidates, key=lambda c: c["cv"][key])
    metrics = {
        "candidate": best["name"],
        **{f"holdout_{k}": round(v, 6) for k, v in best["holdout"].items()},
        **{f"cv_{k}": round(v, 6) for k, v in best["cv"].items()},
    }
    mlflow_metrics = {
        k: {"value": v, "step": 0}
        for k, v in metrics.items()
        if k != "candidate" and np.isfinite(v)
    }
    return best, metrics, mlflow_metrics


def register_uplift_candidate(
    best: dict[str, Any],
    lineage: dict[str, Any],
    holdout: pd.DataFrame,
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    training: UpliftTrainingParams,
    registry: RegistryParams,
) -> dict[str, Any]:
    """Register the winner with its lineage, evidence and reference profile, then let the gate
    decide on it."""
    if was_skipped(best) or was_skipped(lineage):
        return {
            "model_name": registry.model_name,
            "action": "skipped",
            "reason": "no candidate was trained",
            "promoted": False,
        }
    if not lineage["validation"]["success"]:
        raise RuntimeError(
            f"Refusing to register {registry.model_name}: its training data failed validation"
        )
    run_id = best["run_id"]
    tracking.log_dict_to(run_id, lineage, LINEAGE_FILE)
    if not was_skipped(reference_profile):
        tracking.log_dict_to(run_id, reference_profile, PROFILE_FILE)
    promotion.log_gate_evidence(
        run_id,
        task=TASK,
        label=training.outcome,
        holdout=evidence_rows(holdout, treatment=training.treatment),
        holdout_metrics=best["holdout"],
        validation_passed=True,
        drift_verdict=worst_verdict(drift_summary),
    )
    version = promotion.register_version(
        model_name=registry.model_name,
        model_uri=best["model_uri"],
        run_id=run_id,
        tags={
            "modelworks.candidate": best["name"],
            "modelworks.learner": best["learner"],
            "modelworks.adapter": best["adapter"],
            **{f"holdout.{k}": f"{v:.6f}" for k, v in best["holdout"].items()},
            **{f"cv.{k}": f"{v:.6f}" for k, v in best["cv"].items()},
            **lineage_tags(lineage),
        },
        description=registry.description,
    )
    decision = promotion.promote(
        registry.model_name, version, registry.gate, triggered_by=tracking.active_run_id()
    )
    return decision.to_dict()


def profile_uplift_reference(
    holdout: pd.DataFrame,
    best: dict[str, Any],
    training: UpliftTrainingParams,
    monitoring: DriftParams,
) -> dict[str, Any]:
    """Summarise the holdout once: its features, the new model's predicted uplift on it, and the
    model's holdout metrics, the yardstick of the realised uplift in production."""
    if was_skipped(best):
        return best
    profile = build_reference_profile(
        holdout,
        numeric=training.features.numeric,
        categorical=training.features.categorical,
        n_bins=monitoring.n_bins,
        scores=best["holdout_scores"],
    )
    return profile | {"holdout_metrics": best["holdout"]}


# ---------------------------------------------------------------------------------------------
# Targeting
# ---------------------------------------------------------------------------------------------


def build_treatment_list(
    model: ServedModel,
    rows: pd.DataFrame,
    policy: TargetingPolicy,
    params: UpliftScoringParams,
    training: UpliftTrainingParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every row ranked by predicted revenue uplift, with its holdout group and the decision,
    and a summary of what the list costs and is expected to bring.

    The list keeps each row's value at stake, which measuring its holdouts adjusts for.
    """
    kept = list(dict.fromkeys([params.key, *params.id_columns, training.value_at_stake]))
    missing = [c for c in kept if c not in rows.columns]
    if missing:
        raise ValueError(f"Rows to target lack column(s) {missing}; they have {list(rows.columns)}")
    scored_at = datetime.now(UTC)
    predicted = predict_served(model.pyfunc, rows)
    frame = pd.concat([rows[kept], predicted], axis=1).reset_index(drop=True)
    assigned = assign_treatments(frame, score=REVENUE_UPLIFT, key=params.key, policy=policy)
    assigned["model_name"] = model.name
    assigned["model_version"] = model.version
    assigned["scored_at"] = pd.Timestamp(scored_at)
    return assigned, summarise_treatment_list(assigned, policy, model, scored_at)


def summarise_treatment_list(
    assigned: pd.DataFrame, policy: TargetingPolicy, model: ServedModel, scored_at: datetime
) -> dict[str, Any]:
    """Counts per group, treatments, and the revenue they are predicted to add over their cost."""
    treated = assigned["treat"] == 1
    gain = float(assigned.loc[treated, REVENUE_UPLIFT].sum())
    cost = policy.cost * int(treated.sum())
    return {
        "model_name": model.name,
        "model_version": model.version,
        "scored_at": scored_at.isoformat(timespec="seconds"),
        "rows": len(assigned),
        "groups": {str(k): int(v) for k, v in assigned["group"].value_counts().items()},
        "treated": int(treated.sum()),
        "treated_share": float(treated.mean()) if len(assigned) else 0.0,
        "profitable_fraction": float((assigned[REVENUE_UPLIFT] > policy.cost).mean())
        if len(assigned)
        else 0.0,
        "predicted_uplift_mean": float(assigned[UPLIFT].mean()) if len(assigned) else None,
        "predicted_revenue_gain": gain,
        "treatment_cost": cost,
        "predicted_net_gain": gain - cost,
    }


def build_treatment_list_after_registration(
    model: ServedModel,
    rows: pd.DataFrame,
    policy: TargetingPolicy,
    params: UpliftScoringParams,
    training: UpliftTrainingParams,
    registry_decision: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``build_treatment_list``, ordered after this run's registry decision (its champion)."""
    return build_treatment_list(model, rows, policy, params, training)


# ---------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------


def measure_holdout_uplift(
    treatment_list: pd.DataFrame,
    outcomes: pd.DataFrame,
    training: UpliftTrainingParams,
    scoring: UpliftScoringParams,
) -> tuple[dict[str, Any], Any]:
    """Realised uplift on the list's random holdouts, per decile and overall, and its chart
    (a matplotlib figure; Kedro resolves node annotations at run time, matplotlib loads late)."""
    held = holdouts_with_outcomes(
        treatment_list, outcomes, key=scoring.key, columns=[training.outcome, training.value]
    )
    report = measure_holdouts(
        held,
        outcome=training.outcome,
        score=UPLIFT,
        value=training.value,
        value_score=REVENUE_UPLIFT,
        value_at_stake=training.value_at_stake,
    )
    versions = sorted(treatment_list["model_version"].astype(str).unique())
    report = {"list_model_versions": versions, **report}
    figure = uplift_by_decile_figure(
        pd.DataFrame(report["deciles"]),
        title="Realised uplift on the random holdouts, by decile of the targeting score",
    )
    return report, figure


def monitor_uplift_champion(
    champion: ServedModel,
    batch: pd.DataFrame,
    holdout_uplift: dict[str, Any],
    training: UpliftTrainingParams,
    monitoring: DriftParams,
) -> dict[str, Any]:
    """The champion on the newest batch: feature drift and drift of its predicted uplift against
    its own reference, with the realised uplift on the holdouts."""
    if champion.reference_profile is None:
        raise ValueError(
            f"{champion.name} v{champion.version} was registered without a reference profile: "
            "retrain it with this version of modelworks to monitor it"
        )
    scores = predict_served(champion.pyfunc, batch)[UPLIFT].to_numpy()
    summary = monitor_batch(
        champion.reference_profile,
        batch,
        monitoring,
        scores=scores,
        run=pd.Timestamp(batch[training.time_column].max()).date().isoformat(),
    )
    return summary | {
        "model_name": champion.name,
        "model_version": champion.version,
        "holdout_uplift": holdout_uplift,
    }


def decide_retraining(
    summary: dict[str, Any],
    champion: ServedModel,
    batch: pd.DataFrame,
    training: UpliftTrainingParams,
    policy: UpliftRetrainPolicy,
) -> dict[str, Any]:
    """Whether to retrain, with every trigger's value, threshold and outcome."""
    reference = (champion.reference_profile or {}).get("holdout_metrics") or {}
    return decide_uplift_retrain(
        summary,
        champion={
            "version": champion.version,
            "data_through": champion.data_through,
            "qini_coefficient": reference.get("qini_coefficient"),
        },
        as_of=pd.Timestamp(batch[training.time_column].max()).to_pydatetime(),
        policy=policy,
    )


# ---------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------


def uplift_training_pipeline(
    *, use_case: str, entity_rows: str, retrain_decision: str | None = None
) -> Pipeline:
    """``training_set`` -> candidates in MLflow -> best -> lineage -> gate and registry.

    As ``modelworks.pipelines.training_pipeline``: ``entity_rows`` names the dataset the
    training set was retrieved for, ``use_case`` the parameter block recorded in the lineage,
    and ``retrain_decision``, when given, the decision that lets training happen at all. Needs
    ``drift_summary`` and ``reference_profile`` from ``uplift_drift_pipeline``.
    """
    lineage = update_wrapper(partial(describe_lineage, use_case=use_case), describe_lineage)
    decision = [retrain_decision] if retrain_decision else []
    return Pipeline(
        [
            node(
                split_holdout,
                inputs=["training_set", "params:training"],
                outputs=["training_rows", "holdout_rows"],
                name="split_out_of_time",
            ),
            node(
                train_uplift_candidates,
                inputs=[
                    "training_rows",
                    "holdout_rows",
                    "feature_service",
                    "params:training",
                    "params:targeting",
                    *decision,
                ],
                outputs="candidates",
                name="train_candidates",
            ),
            node(
                select_best_uplift_candidate,
                inputs=["candidates", "params:training"],
                outputs=["best_candidate", "holdout_metrics", "holdout_metrics_mlflow"],
                name="select_best_candidate",
            ),
            node(
                lineage,
                inputs=[
                    "best_candidate",
                    entity_rows,
                    "validation_report",
                    "feature_service",
                    "parameters",
                ],
                outputs="lineage",
                name="describe_lineage",
            ),
            node(
                register_uplift_candidate,
                inputs=[
                    "best_candidate",
                    "lineage",
                    "holdout_rows",
                    "drift_summary",
                    "reference_profile",
                    "params:training",
                    "params:registry",
                ],
                outputs="registry_decision",
                name="register_best_candidate",
            ),
        ]
    )


def uplift_drift_pipeline(batch: str = "scoring_features") -> Pipeline:
    """``holdout_rows`` + ``best_candidate`` + ``batch`` -> ``reference_profile``,
    ``drift_summary`` (JSON) and ``drift_report`` (HTML)."""
    return Pipeline(
        [
            node(
                profile_uplift_reference,
                inputs=["holdout_rows", "best_candidate", "params:training", "params:monitoring"],
                outputs="reference_profile",
                name="profile_reference",
            ),
            node(
                detect_drift,
                inputs=["reference_profile", batch, "params:monitoring"],
                outputs="drift_summary",
                name="detect_drift",
            ),
            node(
                render_drift_report,
                inputs=["drift_summary", "reference_profile", batch, "params:registry"],
                outputs="drift_report",
                name="render_drift_report",
            ),
        ]
    )


def targeting_pipeline(
    rows: str = "scoring_features", *, output: str = "treatment_list", after_training: bool = False
) -> Pipeline:
    """``champion_model`` + ``rows`` -> ``output`` (ranked rows, holdout groups, decisions) and
    ``<output>_summary``.

    ``after_training`` makes the list wait for the same run's ``registry_decision``: the
    champion is a registry alias, not a node output, so Kedro cannot see that dependency.
    """
    inputs = ["champion_model", rows, "params:targeting", "params:scoring", "params:training"]
    func: Any = build_treatment_list
    if after_training:
        inputs.append("registry_decision")
        func = build_treatment_list_after_registration
    return Pipeline(
        [node(func, inputs=inputs, outputs=[output, f"{output}_summary"], name=f"build_{output}")]
    )


def uplift_monitoring_pipeline(
    *,
    treatment_list: str = "treatment_list",
    outcomes: str = "outcomes",
    batch: str = "scoring_features",
) -> Pipeline:
    """``treatment_list`` + its ``outcomes`` + ``champion_model`` + ``batch`` ->
    ``holdout_uplift`` (JSON and chart), ``monitoring_summary``, ``monitoring_history``,
    ``monitoring_report`` (HTML) and ``retrain_decision``."""
    return Pipeline(
        [
            node(
                measure_holdout_uplift,
                inputs=[treatment_list, outcomes, "params:training", "params:scoring"],
                outputs=["holdout_uplift", "holdout_uplift_plot"],
                name="measure_holdout_uplift",
            ),
            node(
                monitor_uplift_champion,
                inputs=[
                    "champion_model",
                    batch,
                    "holdout_uplift",
                    "params:training",
                    "params:monitoring",
                ],
                outputs="monitoring_summary",
                name="monitor_champion",
            ),
            node(
                record_monitoring,
                inputs="monitoring_summary",
                outputs="monitoring_history",
                name="record_monitoring",
            ),
            node(
                render_champion_report,
                inputs=["monitoring_summary", "monitoring_history", "champion_model", batch],
                outputs="monitoring_report",
                name="render_champion_report",
            ),
            node(
                decide_retraining,
                inputs=[
                    "monitoring_summary",
                    "champion_model",
                    batch,
                    "params:training",
                    "params:retrain",
                ],
                outputs="retrain_decision",
                name="decide_retrain",
            ),
        ]
    )
