"""``modelworks promote | rollback | history`` through the installed console script, in a copy
of the project whose MLflow is a temporary SQLite registry: exit codes, messages, and what the
registry holds afterwards."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from modelworks.registry.gate import GatePolicy
from modelworks.registry.promotion import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_REPLACED,
    history,
    promote,
)
from tests.modelworks.registry.versions import register_flipped
from tests.project import VENV_BIN, copy_project, edit_params, run_in

# A model a use case of the project registers: `promote` judges it by that use case's gate.
MODEL = "credit_risk"
GATE = {
    "thresholds": {"roc_auc": {"min": 0.55}},
    "improvement": {"metric": "roc_auc", "paired_test": {"n_resamples": 300}},
}
POLICY = GatePolicy.model_validate(GATE)
WEAK, STRONG = 0.45, 0.0  # label flips of register_flipped: noise almost, then the signal


@pytest.fixture()
def project(tracking: MlflowClient, tmp_path: Path) -> Path:
    """A project copy whose ``conf/local/mlflow.yml`` points at this test's registry (where
    this process registers versions) and whose credit_risk gate is ``GATE``, which the small
    versions of ``register_flipped`` can be judged by."""
    root = copy_project(tmp_path / "project")
    (root / "conf" / "local" / "mlflow.yml").write_text(
        "server:\n"
        f"  mlflow_tracking_uri: {mlflow.get_tracking_uri()}\n"
        f"  mlflow_registry_uri: {mlflow.get_registry_uri()}\n"
        "  credentials: null\n"
    )
    edit_params(root, MODEL, lambda params: params["registry"].update(gate=GATE))
    return root


def modelworks(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``modelworks`` command, run in ``root`` with MLflow as its conf says."""
    return run_in(root, [str(VENV_BIN / "modelworks"), *args], check=False)


def champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL, CHAMPION).version)


def promoted(flip: float) -> str:
    """A version registered and made champion in this process (the state a command starts in)."""
    version = register_flipped(MODEL, flip)
    assert promote(MODEL, version, POLICY).promoted
    return version


def checks_printed(stdout: str) -> list[tuple[str, str]]:
    """``(pass|FAIL, check)`` of each check line ``promote`` printed before its verdict."""
    fields = [line.split() for line in stdout.splitlines()[:-1]]
    return [(mark, check) for mark, check, *_ in fields]


def test_promote_makes_a_better_version_champion(tracking: MlflowClient, project: Path) -> None:
    weak = promoted(WEAK)
    strong = register_flipped(MODEL, STRONG)

    result = modelworks(project, "promote", MODEL, strong)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{MODEL} v{strong}: promoted (all 5 checks passed)"
    assert checks_printed(result.stdout) == [
        ("pass", "holdout_roc_auc"),
        ("pass", "improvement_roc_auc"),
        ("pass", "paired_bootstrap_roc_auc"),
        ("pass", "data_validation"),
        ("pass", "drift"),
    ]
    assert champion(tracking) == strong
    assert str(tracking.get_model_version_by_alias(MODEL, PREVIOUS_CHAMPION).version) == weak
    assert tracking.get_model_version(MODEL, strong).tags[TAG_REPLACED] == weak
    last = history(MODEL)[-1]
    assert (last["action"], last["version"], last["champion_before"], last["champion_after"]) == (
        "promoted",
        strong,
        weak,
        strong,
    )


def test_promote_of_a_worse_version_exits_2_and_keeps_the_champion(
    tracking: MlflowClient, project: Path
) -> None:
    strong = promoted(STRONG)
    weak = register_flipped(MODEL, WEAK)

    result = modelworks(project, "promote", MODEL, weak)

    assert result.returncode == 2, result.stderr
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith(
        f"{MODEL} v{weak}: rejected (failed checks: improvement_roc_auc FAIL: -"
    )
    assert checks_printed(result.stdout) == [
        ("pass", "holdout_roc_auc"),
        ("FAIL", "improvement_roc_auc"),
        ("FAIL", "paired_bootstrap_roc_auc"),
        ("pass", "data_validation"),
        ("pass", "drift"),
    ]
    assert champion(tracking) == strong
    assert [(e["action"], e["version"]) for e in history(MODEL)] == [
        ("promoted", strong),
        ("rejected", weak),
    ]


def test_promote_of_an_unknown_version_is_refused_and_changes_nothing(
    tracking: MlflowClient, project: Path
) -> None:
    version = promoted(STRONG)
    events = history(MODEL)

    result = modelworks(project, "promote", MODEL, "7")

    assert result.returncode == 1
    assert result.stderr == f"Error: {MODEL} has no version 7\n"
    assert result.stdout == ""
    assert champion(tracking) == version
    assert history(MODEL) == events
    assert [str(v.version) for v in tracking.search_model_versions(f"name='{MODEL}'")] == [version]


def test_promote_of_a_model_no_use_case_registers_is_refused(
    tracking: MlflowClient, project: Path
) -> None:
    tracking.create_registered_model("nope")  # in the registry, but no use case's model

    result = modelworks(project, "promote", "nope", "1")

    assert result.returncode == 1
    assert re.fullmatch(
        r"Error: no use case registers a model named 'nope'; known: \[.*'credit_risk'.*\]\n",
        result.stderr,
    ), result.stderr
    assert history("nope") == []


def test_rollback_gives_the_alias_back_to_the_previous_champion(
    tracking: MlflowClient, project: Path
) -> None:
    weak = promoted(WEAK)
    strong = promoted(STRONG)

    result = modelworks(project, "rollback", MODEL, "--reason", "strong misbehaves online")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{MODEL}: champion v{strong} -> v{weak}\n"
    assert champion(tracking) == weak
    assert tracking.get_model_version(MODEL, strong).tags["rollback.reason"] == (
        "strong misbehaves online"
    )
    last = history(MODEL)[-1]
    assert (last["action"], last["version"], last["champion_before"], last["reason"]) == (
        "rolled_back",
        weak,
        strong,
        f"rolled back from v{strong}: strong misbehaves online",
    )


def test_rollback_without_a_previous_champion_is_refused_and_changes_nothing(
    tracking: MlflowClient, project: Path
) -> None:
    only = promoted(STRONG)
    events = history(MODEL)

    result = modelworks(project, "rollback", MODEL, "--reason", "bad")

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {MODEL} v{only} replaced no earlier champion: nothing to roll back to\n"
    )
    assert champion(tracking) == only
    assert history(MODEL) == events


def test_rollback_and_history_of_an_unknown_model_fail(
    tracking: MlflowClient, project: Path
) -> None:
    tracking.create_registered_model(MODEL)
    unknown = f"Error: no registered model named 'nope'; registered models: {MODEL}\n"

    for command in (["history", "nope"], ["rollback", "nope", "--reason", "bad"]):
        result = modelworks(project, *command)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", unknown), command
    assert [m.name for m in tracking.search_registered_models()] == [MODEL]
