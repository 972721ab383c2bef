"""Shadow challengers in a real MLflow SQLite registry: who enters shadow, slots and retirement,
promotion on live evidence, and a refit taking its fitted version's place."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient

from modelworks.registry import audit
from modelworks.registry.challengers import (
    ShadowPolicy,
    adopt_refit,
    after_gate,
    challengers,
    enter_shadow,
    promote_live,
)
from modelworks.registry.gate import GatePolicy
from modelworks.registry.live import LiveTest, judge_live
from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_REPLACED,
    RegistryError,
    promote,
)
from tests.modelworks.registry.versions import register_flipped

MODEL = "m"
GATE = GatePolicy.model_validate(
    {
        "thresholds": {"roc_auc": {"min": 0.6}},
        "improvement": {"metric": "roc_auc", "paired_test": {"n_resamples": 200}},
    }
)
SHADOW = ShadowPolicy(max_challengers=2, live_test=LiveTest(min_rows=50))


def _aliases(client: MlflowClient) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(MODEL).aliases.items()}


def _actions(client: MlflowClient) -> list[tuple[str, str]]:
    return [(e["action"], e["version"]) for e in audit.read_events(client, MODEL)]


def _evidence(champion: str, challenger: str, *, better: bool) -> object:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.05, 0.25, 2000)
    other = np.clip(base - (0.02 if better else 0.0) + rng.normal(0, 0.02, 2000), 0, 1)
    return judge_live(
        base, other, SHADOW.live_test, champion_version=champion, challenger_version=challenger,
        n_challengers=SHADOW.max_challengers,
    )  # fmt: skip


def test_a_version_rejected_only_on_improvement_shadows_the_champion(
    tracking: MlflowClient,
) -> None:
    champion = register_flipped(MODEL, 0.0)
    promote(MODEL, champion, GATE)
    same = register_flipped(MODEL, 0.0)  # no better on the holdout: improvement fails
    decision = after_gate(promote(MODEL, same, GATE), SHADOW)
    assert decision["action"] == "rejected" and decision["shadow"] == "challenger"
    assert _aliases(tracking) == {CHAMPION: champion, "challenger": same}
    assert _actions(tracking)[-2:] == [("rejected", same), ("shadowed", same)]
    assert "shadow.entered_at" in tracking.get_model_version(MODEL, same).tags


def test_a_version_failing_a_threshold_does_not(tracking: MlflowClient) -> None:
    promote(MODEL, register_flipped(MODEL, 0.0), GATE)
    noise = register_flipped(MODEL, 0.5)  # fails roc_auc >= 0.6 too
    decision = after_gate(promote(MODEL, noise, GATE), SHADOW)
    assert "shadow" not in decision
    assert challengers(MODEL) == []
    # nor does anything when shadowing is off
    off = after_gate(promote(MODEL, register_flipped(MODEL, 0.0), GATE), ShadowPolicy())
    assert "shadow" not in off and challengers(MODEL) == []


def test_slots_keep_the_newest_and_retire_the_oldest(tracking: MlflowClient) -> None:
    promote(MODEL, register_flipped(MODEL, 0.0), GATE)
    versions = [register_flipped(MODEL, 0.0, rounds=20 + i) for i in range(3)]
    for version in versions:
        enter_shadow(MODEL, version, SHADOW, reason="test", triggered_by=None)
    assert challengers(MODEL) == [versions[2], versions[1]]
    aliases = _aliases(tracking)
    assert aliases["challenger"] == versions[2] and aliases["challenger_2"] == versions[1]
    assert "shadow.retired_at" in tracking.get_model_version(MODEL, versions[0]).tags
    assert ("retired", versions[0]) in _actions(tracking)


def test_live_evidence_promotes_and_is_the_audit_event(tracking: MlflowClient) -> None:
    champion = register_flipped(MODEL, 0.0)
    promote(MODEL, champion, GATE)
    older, newer = (register_flipped(MODEL, 0.0, rounds=r) for r in (25, 35))
    for version in (older, newer):
        after_gate(promote(MODEL, version, GATE), SHADOW)
    assert challengers(MODEL) == [newer, older]
    evidence = _evidence(champion, older, better=True)
    assert evidence.passed  # type: ignore[attr-defined]
    decision = promote_live(MODEL, evidence, SHADOW, triggered_by="run-1")  # type: ignore[arg-type]
    assert decision.action == "promoted"
    aliases = _aliases(tracking)
    assert aliases[CHAMPION] == older and aliases[PREVIOUS_CHAMPION] == champion
    assert challengers(MODEL) == [newer] and aliases["challenger"] == newer
    assert "challenger_2" not in aliases
    assert tracking.get_model_version(MODEL, older).tags[TAG_REPLACED] == champion
    event = audit.read_events(tracking, MODEL)[-1]
    assert (event["action"], event["version"], event["triggered_by"]) == (
        "promoted", older, "run-1",
    )  # fmt: skip
    checks = {check["check"]: check["passed"] for check in event["checks"]}
    # the live test stands in for the improvement check; the threshold still counts
    assert checks == {"live_advantage": True, "holdout_roc_auc": True, "data_validation": True}
    assert "e-value" in event["reason"]


def test_stale_or_weak_evidence_moves_nothing(tracking: MlflowClient) -> None:
    champion = register_flipped(MODEL, 0.0)
    promote(MODEL, champion, GATE)
    challenger = register_flipped(MODEL, 0.0, rounds=25)
    after_gate(promote(MODEL, challenger, GATE), SHADOW)
    weak = _evidence(champion, challenger, better=False)
    assert not weak.passed  # type: ignore[attr-defined]
    assert promote_live(MODEL, weak, SHADOW, triggered_by=None).action == "rejected"  # type: ignore[arg-type]
    stale = _evidence("999", challenger, better=True)
    with pytest.raises(RegistryError, match="against champion v999"):
        promote_live(MODEL, stale, SHADOW, triggered_by=None)  # type: ignore[arg-type]
    assert _aliases(tracking) == {CHAMPION: champion, "challenger": challenger}


def test_a_refit_takes_the_place_of_the_version_it_repeats(tracking: MlflowClient) -> None:
    first = register_flipped(MODEL, 0.0)
    promote(MODEL, first, GATE)
    refit = register_flipped(MODEL, 0.0, rounds=31)
    adopt_refit(MODEL, first, refit, rows="train and holdout", triggered_by=None)
    assert _aliases(tracking)[CHAMPION] == refit
    tags = tracking.get_model_version(MODEL, refit).tags
    assert tags["modelworks.refit_of"] == first and tags["gate.holdout_roc_auc"].startswith("pass")
    shadowed = register_flipped(MODEL, 0.0, rounds=25)
    after_gate(promote(MODEL, shadowed, GATE), SHADOW)
    its_refit = register_flipped(MODEL, 0.0, rounds=26)
    adopt_refit(MODEL, shadowed, its_refit, rows="train and holdout", triggered_by=None)
    assert challengers(MODEL) == [its_refit]
    nobody = register_flipped(MODEL, 0.0, rounds=27)
    assert (
        adopt_refit(MODEL, nobody, register_flipped(MODEL, 0.0), rows="x", triggered_by=None)
        is None
    )


def test_with_live_evidence_required_even_a_better_version_shadows_first(
    tracking: MlflowClient,
) -> None:
    gate = GATE.model_copy(update={"require_live_evidence": True})
    champion = register_flipped(MODEL, 0.3)
    assert promote(MODEL, champion, gate).action == "promoted"  # nothing to replace yet
    better = register_flipped(MODEL, 0.0)
    decision = after_gate(promote(MODEL, better, gate), SHADOW)
    assert decision["action"] == "rejected" and decision["shadow"] == "challenger"
    assert [c["check"] for c in decision["checks"] if not c["passed"]] == ["live_evidence"]
    assert _aliases(tracking) == {CHAMPION: champion, "challenger": better}
