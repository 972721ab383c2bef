"""Screenshots of the MLflow UI for the reviewer's guide in the README, from a real run.

After `make run`, from the project root:

    .venv/bin/python docs/screenshots.py

starts `mlflow ui` on the project's tracking store and saves, under docs/review/, what a
reviewer looks at: a use case's pipeline runs, its candidates, the champion's version page
with the gate's decision, and the audit trail of promotions.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlflow import MlflowClient  # noqa: E402

from tests.browser import (  # noqa: E402
    browser_page,
    mlflow_ui,
    model_version_url,
    open_page,
    runs_url,
)

OUT = ROOT / "docs" / "review"
USE_CASE = "credit_risk"


def _shoot(page: object, url: str, wait_for: str, name: str, expand: str | None = None) -> None:
    open_page(page, url, wait_for=wait_for, expand=expand)
    close = page.get_by_role("button", name="Close")  # type: ignore[attr-defined]
    if close.count():
        close.first.click()  # the assistant's side panel hides half the table
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    page.screenshot(path=str(OUT / name))  # type: ignore[attr-defined]
    print(f"saved docs/review/{name}")


def main() -> None:
    database = ROOT / "mlruns" / "mlflow.db"
    client = MlflowClient(
        tracking_uri=f"sqlite:///{database}", registry_uri=f"sqlite:///{database}"
    )
    experiment = client.get_experiment_by_name(USE_CASE)
    audit = client.get_experiment_by_name("modelworks-audit")
    if experiment is None or audit is None:
        raise SystemExit("no credit_risk experiment or audit trail: run `make run` first")
    champion = client.get_model_version_by_alias(USE_CASE, "champion")
    OUT.mkdir(parents=True, exist_ok=True)
    with mlflow_ui(database, ROOT / "mlruns") as ui, browser_page() as page:
        _shoot(page, runs_url(ui, experiment.experiment_id), USE_CASE, "1_pipeline_runs.png")
        candidates = runs_url(ui, experiment.experiment_id, "tags.kind = 'candidate'")
        _shoot(page, candidates, "catboost", "2_candidates.png", expand=USE_CASE)
        version = model_version_url(ui, USE_CASE, str(champion.version))
        _shoot(page, version, "checks passed", "3_champion_gate.png")
        _shoot(page, runs_url(ui, audit.experiment_id), "promoted", "4_audit_trail.png")


if __name__ == "__main__":
    main()
