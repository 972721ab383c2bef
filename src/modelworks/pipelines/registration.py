"""Registration: the winner registered with its lineage and evidence, judged by the gate,
shadowed when the gate's objections are ones live data can settle, and refitted on the
holdout rows after the gate when a drift-driven retrain asks for it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelworks.pipelines.retraining import refit_best, refits_with_holdout, register_refit
from modelworks.registry import challengers, promotion, tracking
from modelworks.registry.evidence import log_gate_evidence
from modelworks.registry.lineage import LINEAGE_FILE, PROFILE_FILE, lineage_tags
from modelworks.tasks import get_task
from modelworks.tasks.params import RegistryParams

_VERDICT_ORDER = ("ok", "warn", "critical")


def skipped(reason: str) -> dict[str, Any]:
    """What a step outputs when there is nothing to do (Kedro saves no None)."""
    return {"skipped": reason}


def was_skipped(output: Any) -> bool:
    """Whether an earlier step had nothing to do."""
    return isinstance(output, dict) and "skipped" in output


def register_best_candidate(
    best: dict[str, Any],
    lineage: dict[str, Any],
    holdout: pd.DataFrame,
    drift_summary: dict[str, Any],
    reference_profile: dict[str, Any],
    training: Any,
    registry: RegistryParams,
) -> dict[str, Any]:
    """Register the winner with its lineage, gate evidence and reference profile, then let the
    gate decide on it; the version is tagged with its ``use_case`` and ``task``.

    The gate rescores both models on the rows the task names (the holdout, or the holdout's
    units: both arms, users). A model whose training data failed validation is refused before
    anything is written.
    """
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
    task = get_task(training.task)
    gate_rows, label = task.gate_rows(holdout, training)
    run_id = best["run_id"]
    tracking.log_dict_to(run_id, lineage, LINEAGE_FILE)
    if not was_skipped(reference_profile):
        tracking.log_dict_to(run_id, reference_profile, PROFILE_FILE)
    log_gate_evidence(
        run_id,
        task=task.name,
        label=label,
        holdout=gate_rows,
        holdout_metrics=best["holdout"],
        validation_passed=True,
        drift_verdict=worst_verdict(drift_summary),
    )
    version = promotion.register_version(
        model_name=registry.model_name,
        model_uri=best["model_uri"],
        run_id=run_id,
        tags={
            "use_case": lineage["training"]["use_case"],
            "task": task.name,
            "modelworks.candidate": best["name"],
            **best.get("tags", {}),
            **(
                {promotion.TRAINED_AS_OF_TAG: best["trained_as_of"]}
                if "trained_as_of" in best
                else {}
            ),
            **{f"holdout.{k}": f"{v:.6f}" for k, v in best["holdout"].items()},
            **{f"cv.{k}": f"{v:.6f}" for k, v in best["cv"].items()},
            **lineage_tags(lineage),
        },
        description=registry.description,
    )
    decision = promotion.promote(
        registry.model_name, version, registry.gate, triggered_by=tracking.active_run_id()
    )
    return challengers.after_gate(decision, registry.shadow)


def worst_verdict(drift_summary: dict[str, Any] | None) -> str | None:
    """The most severe per-feature drift verdict of a drift summary (None: not measured)."""
    if drift_summary is None or was_skipped(drift_summary):
        return None
    verdicts = [feature["verdict"] for feature in drift_summary.get("features", [])]
    return max(verdicts, key=_VERDICT_ORDER.index, default="ok")


def refit_after_gate(
    decision: dict[str, Any],
    best: dict[str, Any],
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    feature_service: dict[str, Any],
    params: Any,
    registry: RegistryParams,
    retrain_decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The gate's ``decision``; when the retrain was driven by drift and ``on_drift`` asks for
    it, the winner promoted or shadowed is refitted on the holdout rows too, and the refit
    takes its place."""
    placed = decision.get("promoted") or decision.get("shadow")
    if was_skipped(best) or not placed or not refits_with_holdout(params, retrain_decision):
        return decision
    refit = refit_best(best, train, holdout, feature_service, params)
    return register_refit(refit, decision, registry, rows="its training and holdout rows")
