"""Registry moves: register a version with its evidence, run the gate, promote, roll back.

Order matters, so a reader of the registry never sees a half-made decision: a version is
registered with its lineage and evidence first; the gate's outcomes are written to the
version's tags and description, then to the audit trail; the alias ``champion`` moves last.
The replaced champion keeps the alias ``previous_champion`` and the new one records which
version it replaced, so ``rollback`` can walk back one step at a time.

Champion moves are compare-and-set under ``locks.registry_lock``: the gate is first run
outside the lock against the champion read then; under the lock the champion is read again
and, if another promotion or rollback moved it meanwhile, the gate runs again against the new
one. The decision's tags, the audit event and the alias moves are all written before the
lock is released, so the audit trail is in the order of the moves and each event's
``champion_before`` is the champion that move really replaced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException

from modelworks.registry import audit, locks
from modelworks.registry.evidence import (
    RegistryError,
    gather_evidence,
)
from modelworks.registry.gate import (
    CheckOutcome,
    GatePolicy,
    evaluate_gate,
)

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"
TAG_REPLACED = "promotion.replaced_version"
_MOVES = ("promoted", "forced", "rolled_back")


@dataclass(frozen=True)
class Decision:
    """The outcome of one promotion attempt or rollback, as recorded."""

    model_name: str
    version: str
    action: audit.Action
    reason: str
    checks: list[dict[str, Any]]
    champion_before: str | None
    champion_after: str | None
    triggered_by: str | None
    decided_at: str

    @classmethod
    def now(
        cls,
        model_name: str,
        version: str,
        action: audit.Action,
        reason: str,
        checks: list[CheckOutcome],
        *,
        champion: str | None,
        triggered_by: str | None,
    ) -> Decision:
        """A decision taken now about ``version``; it holds ``champion`` after it when the
        action moves the alias."""
        moves = action in _MOVES
        return cls(
            model_name=model_name,
            version=version,
            action=action,
            reason=reason,
            checks=[check.to_dict() for check in checks],
            champion_before=champion,
            champion_after=version if moves else champion,
            triggered_by=triggered_by,
            decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @property
    def promoted(self) -> bool:
        return self.action in _MOVES

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "promoted": self.promoted}


def current_champion(client: MlflowClient, model_name: str) -> str | None:
    """The version holding ``champion``, or None when there is none yet."""
    return alias_version(client, model_name, CHAMPION)


TRAINED_AS_OF_TAG = "modelworks.trained_as_of"
"""Tag of every version: the data-clock time of the training run (the batch time of the retrain
decision that started it, or the newest training row), which the retrain cooldown counts from."""


def last_trained_as_of(model_name: str) -> str | None:
    """The newest ``TRAINED_AS_OF_TAG`` over every version of ``model_name``, promoted or not (a
    rejected challenger was still a retrain); None before the first version."""
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{model_name}'")
    stamps = [v.tags[TRAINED_AS_OF_TAG] for v in versions if TRAINED_AS_OF_TAG in v.tags]
    return max(stamps, key=pd.Timestamp) if stamps else None


def trained_as_of(model_name: str, version: str) -> pd.Timestamp | None:
    """``TRAINED_AS_OF_TAG`` of one version, in UTC (None: not recorded)."""
    stamp = MlflowClient().get_model_version(model_name, version).tags.get(TRAINED_AS_OF_TAG)
    if stamp is None:
        return None
    parsed = pd.Timestamp(stamp)
    return parsed.tz_localize("UTC") if parsed.tzinfo is None else parsed.tz_convert("UTC")


def register_version(
    *,
    model_name: str,
    model_uri: str,
    run_id: str,
    tags: Mapping[str, str],
    description: str = "",
) -> str:
    """A new version of ``model_name`` (created on first use) from a logged model."""
    client = MlflowClient()
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        try:
            client.create_registered_model(model_name, description=description)
        except MlflowException as exc:
            # Another process registering the first version at the same time created it.
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    # mlflow.register_model resolves MLflow 3's models:/<model id> URIs to the logged model.
    version = mlflow.register_model(model_uri, model_name, tags=dict(tags))
    if str(version.run_id) != run_id:
        raise RegistryError(f"{model_uri} was logged by run {version.run_id}, not {run_id}")
    return str(version.version)


def promote(
    model_name: str,
    version: str,
    policy: GatePolicy,
    *,
    force_reason: str | None = None,
    triggered_by: str | None = None,
) -> Decision:
    """Run the gate on ``version``; move ``champion`` to it if every check passes.

    ``force_reason`` moves the alias even when checks fail; the reason and the failed checks
    are recorded. The first version of a model has no champion to beat: its improvement check
    passes as such, every other check still applies. Safe to run concurrently with other
    promotions and rollbacks of the same model (see the module docstring).
    """
    client = MlflowClient()
    require_version(client, model_name, version)
    champion = current_champion(client, model_name)
    _refuse_champion(model_name, version, champion)
    # The slow part (loading models, timing predictions) runs outside the lock, optimistically.
    evidence = gather_evidence(client, model_name, version, policy, champion)
    with champion_lock(model_name):
        now = current_champion(client, model_name)
        if now != champion:
            # Another move won the race: judge (and, if forced, record) against its champion.
            _refuse_champion(model_name, version, now)
            champion = now
            evidence = gather_evidence(client, model_name, version, policy, champion)
        checks = evaluate_gate(policy, evidence)
        decision = _decide(model_name, version, checks, champion, force_reason, triggered_by)
        write_decision(client, decision, checks)
        if decision.promoted:
            client.set_model_version_tag(model_name, version, TAG_REPLACED, champion or "")
        record_decision(client, decision)
        if decision.promoted:
            move_champion(client, model_name, version, previous=champion)
    return decision


def rollback(model_name: str, *, reason: str, triggered_by: str | None = None) -> Decision:
    """Give ``champion`` back to the version the current champion replaced."""
    client = MlflowClient()
    with champion_lock(model_name):
        champion = current_champion(client, model_name)
        if champion is None:
            raise RegistryError(f"{model_name} has no '{CHAMPION}': nothing to roll back")
        restored = client.get_model_version(model_name, champion).tags.get(TAG_REPLACED) or None
        if restored is None:
            raise RegistryError(
                f"{model_name} v{champion} replaced no earlier champion: nothing to roll back to"
            )
        decision = Decision(
            model_name=model_name,
            version=restored,
            action="rolled_back",
            reason=f"rolled back from v{champion}: {reason}",
            checks=[],
            champion_before=champion,
            champion_after=restored,
            triggered_by=triggered_by,
            decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        client.set_model_version_tag(
            model_name, champion, "rollback.rolled_back_at", decision.decided_at
        )
        client.set_model_version_tag(model_name, champion, "rollback.reason", reason)
        record_decision(client, decision)
        before = client.get_model_version(model_name, restored).tags.get(TAG_REPLACED) or None
        move_champion(client, model_name, restored, previous=before)
    return decision


def history(model_name: str) -> list[dict[str, Any]]:
    """The audit trail of ``model_name``, oldest event first."""
    return audit.read_events(MlflowClient(), model_name)


def resolve_version(model_name: str, reference: str) -> str:
    """A version number from ``"3"`` or an alias such as ``"champion"``."""
    client = MlflowClient()
    if reference.isdigit():
        require_version(client, model_name, reference)
        return reference
    version = alias_version(client, model_name, reference)
    if version is None:
        raise RegistryError(f"{model_name} has no version with alias '{reference}'")
    return version


@contextmanager
def champion_lock(model_name: str) -> Iterator[None]:
    """Hold the lock around every move of ``model_name``'s champion, in its registry."""
    lock = locks.registry_lock(mlflow.get_registry_uri(), model_name)
    try:
        lock.acquire()
    except locks.RegistryLockTimeoutError as exc:
        raise RegistryError(str(exc)) from None
    try:
        yield
    finally:
        lock.release()


def _refuse_champion(model_name: str, version: str, champion: str | None) -> None:
    if champion == version:
        raise RegistryError(f"{model_name} v{version} already holds the alias '{CHAMPION}'")


def _decide(
    model_name: str,
    version: str,
    checks: list[CheckOutcome],
    champion: str | None,
    force_reason: str | None,
    triggered_by: str | None,
) -> Decision:
    failed = [check for check in checks if not check.passed]
    if not failed:
        action: audit.Action = "promoted"
        reason = f"all {len(checks)} checks passed"
    elif force_reason:
        action = "forced"
        reason = f"forced: {force_reason}; failed checks: {_summary(failed)}"
    else:
        action = "rejected"
        reason = f"failed checks: {_summary(failed)}"
    return Decision.now(
        model_name, version, action, reason, checks, champion=champion, triggered_by=triggered_by
    )


def write_decision(client: MlflowClient, decision: Decision, checks: list[CheckOutcome]) -> None:
    name, version = decision.model_name, decision.version
    tags = {
        "promotion.decision": decision.action,
        "promotion.reason": decision.reason,
        "promotion.decided_at": decision.decided_at,
        "promotion.champion_before": decision.champion_before or "",
        **{f"gate.{check.check}": _check_text(check) for check in checks},
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=_description(decision, checks))


def record_decision(client: MlflowClient, decision: Decision) -> None:
    event = audit.new_event(
        model_name=decision.model_name,
        version=decision.version,
        action=decision.action,
        reason=decision.reason,
        checks=decision.checks,
        champion_before=decision.champion_before,
        champion_after=decision.champion_after,
        triggered_by=decision.triggered_by,
    )
    audit.record_event(client, event)


def move_champion(
    client: MlflowClient, model_name: str, version: str, *, previous: str | None
) -> None:
    if previous is not None:
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION, previous)
    elif alias_version(client, model_name, PREVIOUS_CHAMPION) is not None:
        client.delete_registered_model_alias(model_name, PREVIOUS_CHAMPION)
    client.set_registered_model_alias(model_name, CHAMPION, version)


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def require_version(client: MlflowClient, model_name: str, version: str) -> None:
    """Refuse a version that does not exist or is not complete: the alias only ever moves onto
    a version whose model files are in place (MLflow marks it READY once they are; its lineage
    and evidence were logged before it was registered, its tags with its creation)."""
    try:
        found = client.get_model_version(model_name, version)
    except MlflowException:
        raise RegistryError(f"{model_name} has no version {version}") from None
    if found.status != ModelVersionStatus.to_string(ModelVersionStatus.READY):
        raise RegistryError(
            f"{model_name} v{version} is {found.status}, not READY: its registration is not "
            "complete"
        )


def _check_text(check: CheckOutcome) -> str:
    # No value (nothing to compare with yet) reads as n/a, not Python's None; detail says why.
    if check.value is None:
        value = "n/a"
    else:
        value = f"{check.value:.6g}" if isinstance(check.value, float) else str(check.value)
    return f"{'pass' if check.passed else 'FAIL'}: {value} ({check.threshold})"


def _summary(failed: list[CheckOutcome]) -> str:
    return "; ".join(f"{check.check} {_check_text(check)}" for check in failed)


def _description(decision: Decision, checks: list[CheckOutcome]) -> str:
    rows = "\n".join(
        f"| {check.check} | {'pass' if check.passed else '**FAIL**'} | "
        f"{_check_text(check).split(': ', 1)[1]} | {check.detail} |"
        for check in checks
    )
    return (
        f"**{decision.action}** at {decision.decided_at}: {decision.reason}\n\n"
        "| check | result | value (threshold) | detail |\n|---|---|---|---|\n"
        f"{rows}\n"
    )
