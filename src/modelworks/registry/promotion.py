"""Registry moves: register the winning candidate, compare it with the champion on the same
holdout rows, and move the ``champion`` alias only when the challenger wins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


@dataclass(frozen=True)
class PromotionDecision:
    """What happened to one registered version, as recorded on the version and returned."""

    model_name: str
    version: str
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_version: str | None
    champion_score: float | None
    run_id: str
    decided_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_champion(client: MlflowClient, model_name: str) -> str | None:
    """The version holding the ``champion`` alias, or None when there is none yet."""
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def score_version(model_name: str, version: str, frame: pd.DataFrame) -> Any:
    """Predictions of a registered version on ``frame`` through its packaged pyfunc."""
    from modelworks.serving.pyfunc import conform_to_schema

    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return model.predict(conform_to_schema(frame, model.metadata.get_input_schema()))


def register_and_promote(
    *,
    model_name: str,
    model_uri: str,
    run_id: str,
    metric: str,
    challenger_score: float,
    score_champion: Callable[[str], float],
    min_improvement: float,
    tags: Mapping[str, str],
    description: str,
) -> PromotionDecision:
    """Register ``model_uri`` as a new version of ``model_name``; promote it if it wins.

    ``score_champion(version)`` evaluates the current champion on the challenger's holdout
    rows, so both scores come from the same data. The first version becomes champion. Every
    outcome is written to the version's tags; the alias moves last, after everything else
    about the version is written.
    """
    client = MlflowClient()
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(model_name, description=description)
    champion = current_champion(client, model_name)
    champion_score = score_champion(champion) if champion is not None else None

    registered = mlflow.register_model(model_uri, model_name, tags=dict(tags))
    version = str(registered.version)

    if champion_score is None:
        promoted, reason = True, "first registered version of this model"
    elif challenger_score > champion_score + min_improvement:
        promoted = True
        reason = (
            f"holdout {metric} {challenger_score:.4f} beats champion v{champion} "
            f"({champion_score:.4f}) by more than {min_improvement}"
        )
    else:
        promoted = False
        reason = (
            f"holdout {metric} {challenger_score:.4f} does not beat champion v{champion} "
            f"({champion_score:.4f}) by more than {min_improvement} on the same holdout rows"
        )

    decision = PromotionDecision(
        model_name=model_name,
        version=version,
        promoted=promoted,
        reason=reason,
        metric=metric,
        challenger_score=challenger_score,
        champion_version=champion,
        champion_score=champion_score,
        run_id=run_id,
        decided_at=datetime.now(UTC).isoformat(),
    )
    for key, value in {
        "promotion.decision": "promoted" if promoted else "rejected",
        "promotion.reason": reason,
        "promotion.metric": metric,
        "promotion.challenger_score": f"{challenger_score:.6f}",
        "promotion.champion_version": champion or "",
        "promotion.champion_score": "" if champion_score is None else f"{champion_score:.6f}",
        "promotion.decided_at": decision.decided_at,
    }.items():
        client.set_model_version_tag(model_name, version, key, value)
    if promoted:
        if champion is not None:
            client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION, champion)
        client.set_registered_model_alias(model_name, CHAMPION, version)
    return decision
