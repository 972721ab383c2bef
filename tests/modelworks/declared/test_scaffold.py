"""``modelworks new``: a parameter file that validates, and never an overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modelworks.cli import main
from modelworks.declared.discovery import declared_use_case
from modelworks.declared.scaffold import TASKS, check, render


@pytest.mark.parametrize("task", TASKS)
def test_every_task_scaffolds_a_valid_use_case(task: str) -> None:
    text = render("shop_orders", task)
    check("shop_orders", text)  # raises the ParameterError naming the key otherwise
    block = yaml.safe_load(text)["shop_orders"]
    assert block["training"]["task"] == task
    pipelines = declared_use_case("shop_orders", block).create_pipelines()
    assert "shop_orders_ingest" in pipelines and "shop_orders" in pipelines


def test_the_command_writes_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\n")
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")  # anywhere inside the project
    runner = CliRunner()

    result = runner.invoke(main, ["new", "churn_risk", "--task", "regression"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "conf" / "base" / "parameters" / "churn_risk.yml"
    written = path.read_text()
    check("churn_risk", written)
    assert written.startswith("# churn_risk: a use case declared in YAML alone")

    again = runner.invoke(main, ["new", "churn_risk", "--task", "binary_classification"])
    assert again.exit_code == 1
    assert "never overwrites" in again.output
    assert path.read_text() == written

    bad = runner.invoke(main, ["new", "Churn-Risk", "--task", "regression"])
    assert bad.exit_code == 1 and "lower_snake_case" in bad.output
    uplift = runner.invoke(main, ["new", "calls", "--task", "uplift"])
    assert uplift.exit_code == 2  # not a family a declared use case can have
