"""The audit trail: every promotion, rejection and rollback of a registered model.

Each event is a run in the MLflow experiment ``modelworks-audit``, tagged with the model,
version and action and carrying the whole event as JSON, so the trail lives in the same
tracking backend as the models (SQLite here, PostgreSQL in production), reads as a table in
the MLflow UI, and comes back machine-readable through ``read_events``.
"""

from __future__ import annotations

import getpass
import json
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mlflow import MlflowClient
from mlflow.entities import RunStatus, ViewType
from mlflow.exceptions import MlflowException

AUDIT_EXPERIMENT = "modelworks-audit"
Action = Literal["promoted", "rejected", "forced", "rolled_back", "shadowed", "retired"]
_EVENT_TAG = "audit.event"
# MLflow keeps tag values up to 8000 characters; a larger event is truncated in the tag and
# kept whole in the run's event.json artifact.
_MAX_TAG = 8000


def new_event(
    *,
    model_name: str,
    version: str,
    action: Action,
    reason: str,
    checks: list[dict[str, Any]],
    champion_before: str | None,
    champion_after: str | None,
    triggered_by: str | None,
) -> dict[str, Any]:
    """An audit event, stamped with the time and the user who caused it."""
    return {
        "model": model_name,
        "version": version,
        "action": action,
        "reason": reason,
        "checks": checks,
        "champion_before": champion_before,
        "champion_after": champion_after,
        "triggered_by": triggered_by,
        "actor": _actor(),
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def record_event(client: MlflowClient, event: Mapping[str, Any]) -> str:
    """Write ``event`` as a finished run of the audit experiment; returns the run id."""
    experiment_id = _audit_experiment(client)
    document = json.dumps(event, sort_keys=True, default=str)
    run = client.create_run(
        experiment_id,
        run_name=f"{event['model']} v{event['version']} {event['action']}",
        tags={
            # the filters every modelworks run has (modelworks.registry.tracking)
            "use_case": _use_case(client, event["model"], str(event["version"])),
            "kind": "audit",
            "audit.model": event["model"],
            "audit.version": str(event["version"]),
            "audit.action": event["action"],
            "audit.reason": str(event["reason"])[:_MAX_TAG],
            "audit.actor": event["actor"],
            "audit.triggered_by": str(event.get("triggered_by") or ""),
            _EVENT_TAG: document[:_MAX_TAG],
        },
    )
    client.log_dict(run.info.run_id, dict(event), "event.json")
    client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
    return str(run.info.run_id)


def read_events(client: MlflowClient, model_name: str) -> list[dict[str, Any]]:
    """Every audit event of ``model_name``, oldest first.

    Promotions and rollbacks write their event under the registry lock, after the previous
    move finished and before their own alias move, so this order is the order of the moves:
    each event's ``champion_before`` is the ``champion_after`` of the move event before it.
    """
    experiment = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`audit.model` = '{_quoted(model_name)}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["attributes.start_time ASC"],
        max_results=50_000,
    )
    events = []
    for run in runs:
        document = run.data.tags.get(_EVENT_TAG, "")
        if len(document) >= _MAX_TAG:
            events.append(_artifact_json(client, run.info.run_id, "event.json"))
        else:
            events.append(json.loads(document))
    events.sort(key=lambda event: event["at"])
    return events


def _artifact_json(client: MlflowClient, run_id: str, path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return dict(json.loads(Path(local).read_text()))


def _use_case(client: MlflowClient, model_name: str, version: str) -> str:
    """The use case that trained the version (its ``use_case`` tag); else the model's name,
    which is its use case's unless ``registry.model_name`` says otherwise."""
    try:
        tags = client.get_model_version(model_name, version).tags
    except MlflowException:
        return model_name
    return str(tags.get("use_case") or model_name)


def _audit_experiment(client: MlflowClient) -> str:
    experiment = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(
        client.create_experiment(
            AUDIT_EXPERIMENT,
            tags={"mlflow.note.content": "Promotions, rejections and rollbacks (modelworks)"},
        )
    )


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")
