"""Shadow challengers in the lifecycle: every scored batch is scored by the challengers too,
their scores stored beside the champion's; before a retrain decision, each challenger is judged
against the champion on the labelled rows neither was trained on, and the strongest one whose
live advantage passed the test takes over (``registry.challengers``, ``registry.live``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from modelworks.registry import challengers, promotion, tracking
from modelworks.registry.live import judge_live, live_order
from modelworks.serving.batch import ScoringParams, score_batch
from modelworks.serving.datasets import ServedModel, ShadowModels
from modelworks.tasks import get_task


def score_challengers(
    models: ShadowModels, rows: pd.DataFrame, params: ScoringParams
) -> pd.DataFrame:
    """Each challenger's predictions for the batch, in the champion's prediction format with
    the challenger's alias; no rows when there is none in shadow."""
    frames = [
        score_batch(model, rows, params)[0].assign(alias=challengers.challenger_alias(slot))
        for slot, model in enumerate(models.challengers)
    ]
    if not frames:
        return pd.DataFrame(columns=[*params.id_columns, "model_version", "alias"])
    return pd.concat(frames, ignore_index=True)


def judge_challengers(
    models: ShadowModels, rows: pd.DataFrame, training: Any, registry: Any
) -> dict[str, Any]:
    """The live test of every challenger against the champion on ``rows`` (labelled rows with
    their features as of each row's time); the strongest passing challenger is promoted."""
    if models.champion is None or not models.challengers:
        return {"evidence": [], "promoted": None, "reason": "no champion or no challenger"}
    task = get_task(training.task)
    shadow = registry.shadow
    name = registry.model_name
    if task.live_loss is None:
        return {"evidence": [], "promoted": None, "reason": f"{task.name} has no per-row loss"}
    times = pd.to_datetime(rows[training.time_column], utc=True)
    column = shadow.label_available_column
    known = pd.to_datetime(rows[column], utc=True) if column else None
    champion_losses = _losses(task, models.champion, rows, training, shadow)
    results = []
    for model in models.challengers:
        after = max(_trained(name, models.champion), _trained(name, model))
        order = live_order(times, known, after=after)
        results.append(
            judge_live(
                champion_losses[order],
                _losses(task, model, rows.iloc[order], training, shadow),
                shadow.live_test,
                champion_version=models.champion.version,
                challenger_version=model.version,
                n_challengers=shadow.max_challengers,
            )
        )
    evidence = [r.to_dict() for r in results]
    passed = [r for r in results if r.passed]
    if not passed:
        return {"evidence": evidence, "promoted": None}
    best = max(passed, key=lambda r: r.mean_advantage or 0.0)
    try:
        decision = challengers.promote_live(
            name, best, shadow, triggered_by=tracking.active_run_id()
        )
    except promotion.RegistryError as exc:
        # Another run moved the champion or the challengers meanwhile: the next run judges
        # again against what it finds.
        return {"evidence": evidence, "promoted": None, "reason": str(exc)}
    return {"evidence": evidence, "promoted": decision.version if decision.promoted else None}


def _losses(task: Any, model: ServedModel, rows: pd.DataFrame, training: Any, shadow: Any) -> Any:
    return task.live_losses(rows, model.predict(rows), training, scale=shadow.live_test.loss_scale)


def _trained(model_name: str, model: ServedModel) -> pd.Timestamp:
    stamp = promotion.trained_as_of(model_name, model.version)
    if stamp is None:
        raise promotion.RegistryError(f"{model_name} v{model.version} has no training time tag")
    return stamp


def shadow_scoring_pipeline(
    rows: str = "scoring_features", *, after: str | None = None
) -> Pipeline:
    """``shadow_models`` + ``rows`` -> ``shadow_predictions``; ``after`` names a dataset to
    wait for (this run's registry decision, which may have added a challenger)."""
    from modelworks.pipelines.monitoring import waiting_for

    inputs = ["shadow_models", rows, "params:scoring"]
    pipe = Pipeline(
        [node(score_challengers, inputs, outputs="shadow_predictions", name="score_challengers")]
    )
    return pipe if after is None else waiting_for(pipe, after, reading="shadow_models")


def live_judging_pipeline(rows: str = "training_set") -> Pipeline:
    """``shadow_models`` + labelled ``rows`` -> ``live_decisions`` (and a promotion when a
    challenger's live test passed)."""
    return Pipeline(
        [
            node(
                judge_challengers,
                inputs=["shadow_models", rows, "params:training", "params:registry"],
                outputs="live_decisions",
                name="judge_challengers",
            )
        ]
    )
