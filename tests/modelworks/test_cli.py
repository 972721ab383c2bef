"""The registry commands refuse a model or version the registry does not know."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from modelworks import cli
from modelworks.project import ProjectError
from modelworks.registry.gate import GatePolicy

KNOWN = ("credit_risk", "hotel_recommendation")


class _Project:
    """The configuration's side of the project: every model of KNOWN has a use case."""

    root = Path()

    def use_case_of(self, model: str) -> tuple[Any, Any]:
        if model not in KNOWN:
            raise ProjectError(f"no use case registers a model named {model!r}; known: {KNOWN}")
        return None, SimpleNamespace(registry=SimpleNamespace(gate=GatePolicy()))


@pytest.fixture()
def registry(tracking: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """The temporary registry holds credit_risk (no versions) and hotel_recommendation."""
    monkeypatch.setattr(cli, "_project", lambda ctx: _Project())
    for name in KNOWN:
        tracking.create_registered_model(name)
    return tracking


def _invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli.main, list(args))


UNKNOWN = (
    "Error: no registered model named 'nope'; registered models: "
    "credit_risk, hotel_recommendation\n"
)


def test_history_of_an_unknown_model_fails(registry: MlflowClient) -> None:
    result = _invoke("history", "nope")
    assert result.exit_code == 1
    assert result.output == UNKNOWN


def test_history_of_a_model_without_events_still_succeeds(registry: MlflowClient) -> None:
    result = _invoke("history", "credit_risk")
    assert result.exit_code == 0, result.output
    assert result.output == "credit_risk: no promotions, rejections or rollbacks recorded yet\n"


def test_history_with_an_empty_registry_says_so(tracking: MlflowClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(cli, "_project", lambda ctx: _Project())
    result = _invoke("history", "credit_risk")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no registered model named 'credit_risk'; "
        "registered models: none yet (train a use case first)\n"
    )


def test_rollback_of_an_unknown_model_fails(registry: MlflowClient) -> None:
    result = _invoke("rollback", "nope", "--reason", "bad")
    assert result.exit_code == 1
    assert result.output == UNKNOWN


def test_promote_of_a_model_no_use_case_registers_fails(registry: MlflowClient) -> None:
    result = _invoke("promote", "nope", "1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no use case registers a model named 'nope'; "
        "known: ('credit_risk', 'hotel_recommendation')\n"
    )


def test_promote_of_a_configured_but_unregistered_model_fails(
    tracking: MlflowClient, monkeypatch: Any
) -> None:
    monkeypatch.setattr(cli, "_project", lambda ctx: _Project())
    tracking.create_registered_model("hotel_recommendation")
    result = _invoke("promote", "credit_risk", "1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no registered model named 'credit_risk'; registered models: hotel_recommendation\n"
    )


def test_promote_of_an_unknown_version_fails(registry: MlflowClient) -> None:
    result = _invoke("promote", "credit_risk", "7")
    assert result.exit_code == 1
    assert result.output == "Error: credit_risk has no version 7\n"


def test_rollback_without_a_champion_fails(registry: MlflowClient) -> None:
    result = _invoke("rollback", "credit_risk", "--reason", "bad")
    assert result.exit_code == 1
    assert result.output == "Error: credit_risk has no 'champion': nothing to roll back\n"
