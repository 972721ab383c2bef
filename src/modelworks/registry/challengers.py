"""Shadow challengers: versions the holdout gate turned down for reasons live data can settle.

A version the gate rejects *only* on waivable checks (by default: no significant improvement
on the out-of-time holdout, or training data that drifted from the latest batch, both of which
a population shift makes likely and neither of which says the model is bad) keeps an alias in
the registry: ``challenger`` for the newest, ``challenger_2`` .. ``challenger_<m>`` for older
ones, at most ``max_challengers`` of them (the oldest retires). Every batch is scored by the
champion and the challengers; as labels arrive, ``registry.live`` tests each challenger's
realised advantage on the rows both scored, and ``promote_live`` gives ``champion`` to one whose
advantage passed. Every move (shadowed, retired, promoted on live evidence, a refit adopted)
is an audit event, written under the same registry lock as champion moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlflow import MlflowClient
from pydantic import Field

from modelworks.params import StrictModel
from modelworks.registry import audit
from modelworks.registry.evidence import RegistryError
from modelworks.registry.gate import CheckOutcome
from modelworks.registry.live import LiveEvidence, LiveTest
from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_REPLACED,
    Decision,
    alias_version,
    champion_lock,
    current_champion,
    move_champion,
    record_decision,
    write_decision,
)

CHALLENGER = "challenger"
TAG_REFIT_OF = "modelworks.refit_of"


class ShadowPolicy(StrictModel):
    """Whether rejected versions shadow the champion, and how they may win on live rows."""

    max_challengers: int = Field(default=0, ge=0, le=9)
    """How many challengers are scored beside the champion at once (0: no shadow scoring)."""
    waivable: list[str] = ["improvement_", "paired_bootstrap_", "drift", "live_evidence"]
    """Gate checks (by name prefix) whose failure still lets a version shadow the champion;
    every other check (thresholds, validation, size, latency) must have passed."""
    live_test: LiveTest = LiveTest()
    label_available_column: str | None = None
    """A column of the labelled rows saying when each label became known: a challenger is then
    also judged on rows scored before it came whose labels arrived after it was trained (it
    could not have learnt them). Without it, only rows that happened after both models were
    trained count."""


def challenger_alias(slot: int) -> str:
    """The alias of challenger slot ``slot`` (0: the newest)."""
    return CHALLENGER if slot == 0 else f"{CHALLENGER}_{slot + 1}"


def challengers(model_name: str) -> list[str]:
    """The versions in shadow, newest first."""
    aliases = MlflowClient().get_registered_model(model_name).aliases
    slots = sorted(
        (_slot(alias), str(version)) for alias, version in aliases.items() if _slot(alias) >= 0
    )
    return [version for _, version in slots]


def may_shadow(decision: Decision, policy: ShadowPolicy) -> bool:
    """Whether a gate decision lets its version into shadow: rejected, and only on waivable
    checks."""
    if policy.max_challengers == 0 or decision.action != "rejected":
        return False
    failed = [check["check"] for check in decision.checks if not check["passed"]]
    return bool(failed) and all(_waivable(name, policy) for name in failed)


def after_gate(decision: Decision, policy: ShadowPolicy) -> dict[str, Any]:
    """The gate's ``decision`` as a document; a version rejected only on waivable checks
    enters shadow, and the document says so (``shadow``: its alias)."""
    result = decision.to_dict()
    if may_shadow(decision, policy):
        enter_shadow(
            decision.model_name,
            decision.version,
            policy,
            reason=f"rejected only on waivable checks: {decision.reason}",
            triggered_by=decision.triggered_by,
        )
        result["shadow"] = challenger_alias(0)
    return result


def enter_shadow(
    model_name: str, version: str, policy: ShadowPolicy, *, reason: str, triggered_by: str | None
) -> Decision:
    """Give ``version`` the newest challenger slot; the oldest beyond ``max_challengers``
    retires. Both are audit events."""
    client = MlflowClient()
    with champion_lock(model_name):
        champion = current_champion(client, model_name)
        current = challengers(model_name)
        ordered = [version, *(v for v in current if v != version)]
        kept, retired = ordered[: policy.max_challengers], ordered[policy.max_challengers :]
        decision = _event(model_name, version, "shadowed", reason, champion, triggered_by)
        record_decision(client, decision)
        for old in retired:
            client.set_model_version_tag(model_name, old, "shadow.retired_at", decision.decided_at)
            record_decision(
                client,
                _event(
                    model_name,
                    old,
                    "retired",
                    f"challenger slots full ({policy.max_challengers}): v{version} is newer",
                    champion,
                    triggered_by,
                ),
            )
        client.set_model_version_tag(model_name, version, "shadow.entered_at", decision.decided_at)
        _set_slots(client, model_name, kept, before=current)
    return decision


def promote_live(
    model_name: str, evidence: LiveEvidence, policy: ShadowPolicy, *, triggered_by: str | None
) -> Decision:
    """Move ``champion`` to the challenger whose live test passed, if it is still a challenger
    and the champion is still the one it was judged against; the evidence and the checks the
    version passed at registration are its audit event."""
    client = MlflowClient()
    version = evidence.challenger_version
    with champion_lock(model_name):
        champion = current_champion(client, model_name)
        current = challengers(model_name)
        if version not in current:
            raise RegistryError(f"{model_name} v{version} is not a challenger: {current}")
        if champion != evidence.champion_version:
            raise RegistryError(
                f"{model_name}: the live evidence for v{version} was against champion "
                f"v{evidence.champion_version}, but the champion is now v{champion}"
            )
        checks = [_live_check(evidence), *_registration_checks(client, model_name, version, policy)]
        failed = [check for check in checks if not check.passed]
        action: audit.Action = "rejected" if failed else "promoted"
        reason = (
            f"live evidence: {evidence.describe()}"
            if not failed
            else "failed: " + "; ".join(f"{c.check} ({c.value})" for c in failed)
        )
        decision = _event(
            model_name, version, action, reason, champion, triggered_by, checks=checks
        )
        write_decision(client, decision, checks)
        if decision.promoted:
            client.set_model_version_tag(model_name, version, TAG_REPLACED, champion or "")
        record_decision(client, decision)
        if decision.promoted:
            _set_slots(client, model_name, [v for v in current if v != version], before=current)
            move_champion(client, model_name, version, previous=champion)
    return decision


def adopt_refit(
    model_name: str, fitted: str, refit: str, *, rows: str, triggered_by: str | None
) -> Decision | None:
    """Put ``refit`` (the same candidate and rounds as ``fitted``, trained on ``rows`` too) in
    ``fitted``'s place, champion or challenger, on ``fitted``'s gate decision. None when
    ``fitted`` holds neither."""
    client = MlflowClient()
    with champion_lock(model_name):
        champion = current_champion(client, model_name)
        current = challengers(model_name)
        if fitted not in (champion, *current):
            return None
        client.set_model_version_tag(model_name, refit, TAG_REFIT_OF, fitted)
        for key, value in client.get_model_version(model_name, fitted).tags.items():
            if key.startswith(("gate.", "promotion.")):
                client.set_model_version_tag(model_name, refit, key, value)
        reason = f"refit of v{fitted} on {rows}, in its place on its gate decision"
        if fitted == champion:
            decision = _event(model_name, refit, "promoted", reason, champion, triggered_by)
            replaced = client.get_model_version(model_name, fitted).tags.get(TAG_REPLACED) or ""
            client.set_model_version_tag(model_name, refit, TAG_REPLACED, replaced)
            record_decision(client, decision)
            previous = alias_version(client, model_name, PREVIOUS_CHAMPION)
            move_champion(client, model_name, refit, previous=previous)
        else:
            decision = _event(model_name, refit, "shadowed", reason, champion, triggered_by)
            record_decision(client, decision)
            _set_slots(
                client, model_name, [refit if v == fitted else v for v in current], before=current
            )
    return decision


def _set_slots(
    client: MlflowClient, model_name: str, versions: Sequence[str], *, before: Sequence[str]
) -> None:
    for slot, version in enumerate(versions):
        client.set_registered_model_alias(model_name, challenger_alias(slot), version)
    for slot in range(len(versions), len(before)):
        client.delete_registered_model_alias(model_name, challenger_alias(slot))


def _slot(alias: str) -> int:
    if alias == CHALLENGER:
        return 0
    prefix, _, number = alias.rpartition("_")
    return int(number) - 1 if prefix == CHALLENGER and number.isdigit() else -1


def _waivable(check: str, policy: ShadowPolicy) -> bool:
    return any(check.startswith(prefix) for prefix in policy.waivable)


def _live_check(evidence: LiveEvidence) -> CheckOutcome:
    return CheckOutcome(
        "live_advantage",
        evidence.passed,
        evidence.e_value,
        f">= {evidence.threshold:g} (alpha {evidence.alpha:g}, advantage > {evidence.min_delta:g})",
        evidence.describe(),
    )


def _registration_checks(
    client: MlflowClient, model_name: str, version: str, policy: ShadowPolicy
) -> list[CheckOutcome]:
    """The checks recorded when the version was gated, but the waivable ones: the live test
    stands in for those."""
    tags = client.get_model_version(model_name, version).tags
    recorded = {k.removeprefix("gate."): text for k, text in tags.items() if k.startswith("gate.")}
    return [
        CheckOutcome(name, text.startswith("pass"), text, "at registration")
        for name, text in sorted(recorded.items())
        if not _waivable(name, policy) and name != "live_advantage"
    ]


def _event(
    model_name: str,
    version: str,
    action: audit.Action,
    reason: str,
    champion: str | None,
    triggered_by: str | None,
    *,
    checks: Sequence[CheckOutcome] = (),
) -> Decision:
    return Decision.now(
        model_name, version, action, reason, list(checks),
        champion=champion, triggered_by=triggered_by,
    )  # fmt: skip


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ShadowPolicy",
    "adopt_refit",
    "after_gate",
    "challenger_alias",
    "challengers",
    "enter_shadow",
    "may_shadow",
    "promote_live",
]
