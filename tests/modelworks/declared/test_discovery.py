"""A parameter block with ``declared:`` is a use case: found, registered, kept apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from modelworks import discovery
from modelworks.declared.definitions import feature_table_path
from modelworks.discovery import discover_use_cases
from modelworks.params import ParameterError, StrictModel, parse_params
from modelworks.pipeline_registry import register_pipelines
from modelworks.use_cases import UseCase, use_session_env
from tests.modelworks.declared.toy import REPO_ROOT, flight_block

FAMILY = ("_ingest", "_train", "_score", "_monitor", "_retrain", "")


def _write(root: Path, env: str, name: str, block: dict) -> None:
    folder = root / "conf" / env / "parameters"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yml").write_text(yaml.safe_dump({name: block}, sort_keys=False))


@pytest.fixture()
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_discovery: None
) -> Iterator[Path]:
    """A project with flight_delays, a broken declared block and a block that is no use case;
    no packaged use cases (pipelines/ is left out of these tests)."""
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\npackage_name = 'modelworks'\n")
    _write(tmp_path, "base", "flight_delays", flight_block())
    broken = flight_block()
    broken["declared"]["feature_views"]["weather"]["ttl_hour"] = 3
    _write(tmp_path, "base", "broken_delays", broken)
    _write(tmp_path, "base", "settings_only", {"threshold": 3})
    (tmp_path / "conf" / "local").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(discovery, "_packaged_use_cases", lambda: [])
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    yield tmp_path
    use_session_env(None)


def test_declared_blocks_are_use_cases(project: Path) -> None:
    found = {use_case.name: use_case for use_case in discover_use_cases()}
    assert set(found) == {"broken_delays", "flight_delays"}
    pipelines = found["flight_delays"].create_pipelines()
    assert set(pipelines) == {f"flight_delays{suffix}" for suffix in FAMILY}
    ingest = pipelines["flight_delays_ingest"]
    assert ingest.inputs() == {
        "params:flight_delays",
        *(f"flight_delays.source_{t}" for t in ("flights", "weather", "planes")),
    }
    assert {
        "flight_delays.training_entity_rows",
        "flight_delays.scoring_batch_rows",
        "flight_delays.scoring_batch_labels",
        *(f"flight_delays.feature_table_{v}" for v in ("weather", "plane", "origin_delays")),
    } <= ingest.all_outputs()
    # the framework's factories read the resolved sections, never a parameter left underived
    whole = pipelines["flight_delays"]
    assert {n for n in whole.inputs() if n.startswith("params:")} == {"params:flight_delays"}
    assert "flight_delays.resolved_parameters" in {i for n in whole.nodes for i in n.inputs}


def test_an_invalid_block_is_registered_and_fails_naming_the_key(project: Path) -> None:
    found = {use_case.name: use_case for use_case in discover_use_cases()}
    broken = found["broken_delays"]
    block = yaml.safe_load(
        (project / "conf" / "base" / "parameters" / "broken_delays.yml").read_text()
    )["broken_delays"]
    key = "broken_delays.declared.feature_views.weather.ttl_hour"
    with pytest.raises(ParameterError, match=key):
        parse_params(broken.params_model, block, where="broken_delays")  # as the hook does
    pipelines = broken.create_pipelines()
    assert set(pipelines) == {f"broken_delays{suffix}" for suffix in FAMILY}
    (first,) = pipelines["broken_delays_ingest"].nodes
    with pytest.raises(ParameterError, match=key):
        first.run({"params:broken_delays": block})
    assert list(broken.feature_definitions()) == []
    # the valid one is untouched
    assert len(list(found["flight_delays"].feature_definitions())) == 9


def test_the_registry_holds_every_declared_pipeline(project: Path) -> None:
    registered = register_pipelines()
    assert {f"flight_delays{s}" for s in FAMILY} | {f"broken_delays{s}" for s in FAMILY} <= set(
        registered
    )
    default_nodes = {n.name for n in registered["__default__"].nodes}
    assert "flight_delays.build_feature_table_origin_delays" in default_nodes


def test_the_session_environment_is_read(project: Path) -> None:
    extra = flight_block()
    _write(project, "prod", "prod_delays", extra)
    assert "prod_delays" not in {u.name for u in discover_use_cases()}
    use_session_env("prod")
    assert "prod_delays" in {u.name for u in discover_use_cases()}


def test_a_name_may_not_be_both_a_package_and_a_declaration(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = UseCase(name="flight_delays", params_model=StrictModel, create_pipelines=dict)
    monkeypatch.setattr(discovery, "_packaged_use_cases", lambda: [twin])
    with pytest.raises(ValueError, match=r"\['flight_delays'\] are both a package"):
        discover_use_cases()


def test_the_catalog_patterns_cover_a_declared_use_case_and_no_other_dataset() -> None:
    config = OmegaConfigLoader(str(REPO_ROOT / "conf"), base_env="base", default_run_env="local")[
        "catalog"
    ]
    catalog = DataCatalog.from_config(config)
    source = catalog.get("flight_delays.source_flights")
    assert type(source).__name__ == "DeclaredSourceDataset"
    staged = catalog.get("flight_delays.feature_table_weather")
    assert (
        str(staged._describe()["filepath"])
        == "data/04_feature/flight_delays/staged/weather.parquet"
    )
    table = catalog.get("flight_delays.published_feature_table_weather")
    # Kedro publishes the table where Feast's source reads it (relative to feature_repo/)
    written = str(table._describe()["filepath"])
    assert f"../{written}" == feature_table_path("flight_delays", "weather")
    for name in ("training_entity_rows", "scoring_batch_rows", "scoring_batch_labels"):
        assert type(catalog.get(f"flight_delays.{name}")).__name__ == "AtomicParquetDataset"
    resolver = catalog._config_resolver
    # other use cases' in-memory datasets stay in memory
    for name in (
        "credit_risk.feature_service",
        "credit_risk.scoring_entity_rows",
        "credit_risk.loan_entity_rows",
        "hotel_recommendation.entity_rows",
    ):
        assert resolver.match_dataset_pattern(name) is None, name
