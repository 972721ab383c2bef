"""Drift-aware retraining: what a retrain changes when drift asked for it, and the refit that
puts the holdout rows into the model after the gate has judged it without them."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow import MlflowClient

from modelworks.registry import challengers, promotion, tracking
from modelworks.registry.evidence import run_json
from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE
from modelworks.scheduling.decision import driven_by_drift
from modelworks.tasks import Fit, get_task
from modelworks.training.recency import recent_rows


def training_for(params: Any, retrain_decision: dict[str, Any] | None) -> Any:
    """``params`` with ``on_drift``'s recency in force when the decision's drift trigger
    fired (the rest of the training unchanged)."""
    on_drift = getattr(params, "on_drift", None)
    if on_drift is None or on_drift.recency is None or not driven_by_drift(retrain_decision):
        return params
    return params.model_copy(update={"recency": on_drift.recency})


def refits_with_holdout(params: Any, retrain_decision: dict[str, Any] | None) -> bool:
    """Whether this retrain refits its winner on the holdout rows too."""
    on_drift = getattr(params, "on_drift", None)
    return bool(on_drift and on_drift.refit_with_holdout and driven_by_drift(retrain_decision))


def refit_best(
    best: dict[str, Any],
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    feature_service: dict[str, Any],
    params: Any,
) -> dict[str, Any]:
    """The winning candidate refitted with its rounds on the training and holdout rows, logged
    in a run of its own (role ``refit``); ``best`` with that run and model."""
    task = get_task(params.task)
    rows = recent_rows(pd.concat([train, holdout]), params.time_column, params.recency)
    candidate = params.candidates[best["name"]]
    context = task.prepare(rows, params)
    serving = {
        "feature_service": feature_service["service"],
        "join_keys": feature_service["join_keys"],
        "online_features": feature_service["features"],
        "feature_repo": feature_service["repo_path"],
    }
    tags = {
        **best.get("tags", {}),
        "modelworks.role": "refit",
        "modelworks.refit_of": best["run_id"],
    }
    with tracking.candidate_run(best["name"], tags=tags) as run_id:
        job = Fit(candidate, rows, params, context, n_rounds=best["rounds"])
        fitted = task.fit(job)
        tracking.log_params({"refit_rows": len(rows), "refit_of": best["run_id"]})
        model_uri = task.log_model(fitted, holdout, job, serving)
    return {**best, "run_id": run_id, "model_uri": model_uri, "refit_of": best["run_id"]}


def register_refit(
    refit: dict[str, Any], decision: dict[str, Any], registry: Any, *, rows: str
) -> dict[str, Any]:
    """Register ``refit`` beside the version its gate decision was about, and put it in that
    version's place (champion or challenger); ``decision`` with the refit's version and move
    added (unchanged when the judged version holds neither)."""
    fitted = decision["version"]
    client = MlflowClient()
    for path in (LINEAGE_FILE, PROFILE_FILE):  # what serving and monitoring read of a version
        tracking.log_dict_to(refit["run_id"], run_json(client, refit["refit_of"], path), path)
    tags = client.get_model_version(registry.model_name, fitted).tags
    version = promotion.register_version(
        model_name=registry.model_name,
        model_uri=refit["model_uri"],
        run_id=refit["run_id"],
        tags={k: v for k, v in tags.items() if not k.startswith(("gate.", "promotion."))},
        description=registry.description,
    )
    moved = challengers.adopt_refit(
        registry.model_name, fitted, version, rows=rows, triggered_by=tracking.active_run_id()
    )
    if moved is None:
        return decision
    return {**decision, "refit": {"version": version, "action": moved.action}}
