"""Feast objects of declared use cases: namespaced names, and point-in-time values through a
real Feast repository (the project's feature_store.yaml in a scratch folder)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelworks import discovery
from modelworks.declared.definitions import FEATURE_DIR, feature_definitions
from modelworks.declared.discovery import declared_use_case
from modelworks.declared.params import feature_store_params
from modelworks.declared.schema import DeclaredSpec
from modelworks.declared.tables import build_entity_rows, build_feature_table
from modelworks.features import FeatureRepo, FeatureStoreDataset, FeatureTableDataset
from tests.modelworks.declared import toy
from tests.modelworks.declared.toy import T0, H, flight_block

USE_CASES = ("flight_delays", "flight_delays_copy")


def test_every_name_is_namespaced_with_its_suffix(spec: DeclaredSpec) -> None:
    objects = {(type(o).__name__, o.name): o for o in feature_definitions("flight_delays", spec)}
    assert set(objects) == {
        ("Entity", "flight_delays__origin"),
        ("Entity", "flight_delays__tailnum"),
        *(("FileSource", f"flight_delays__{v}_source") for v in spec.feature_views),
        *(("FeatureView", f"flight_delays__{v}_fv") for v in spec.feature_views),
        ("FeatureService", "flight_delays__service"),
    }
    views = {name: o for (kind, name), o in objects.items() if kind == "FeatureView"}
    assert views["flight_delays__weather_fv"].ttl == timedelta(hours=3)
    assert views["flight_delays__plane_fv"].ttl == timedelta(0)  # static: never expires
    assert views["flight_delays__origin_delays_fv"].ttl == timedelta(hours=24)
    assert views["flight_delays__plane_fv"].entities == ["flight_delays__tailnum"]
    source = objects[("FileSource", "flight_delays__weather_source")]
    assert source.path == f"../{FEATURE_DIR}/flight_delays/weather.parquet"
    service = objects[("FeatureService", "flight_delays__service")]
    assert {p.name for p in service.feature_view_projections} == set(views)


def test_gathering_keeps_use_cases_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    block = flight_block()
    use_cases = tuple(declared_use_case(name, block) for name in USE_CASES)
    monkeypatch.setattr(discovery, "discover_use_cases", lambda: use_cases)
    gathered = discovery.gather_feature_definitions()
    assert len(gathered) == 2 * 9
    for name in USE_CASES:
        assert sum(o.name.startswith(f"{name}__") for o in gathered) == 9


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    """Two declared use cases applied to one repo laid out like the project's."""
    root = tmp_path_factory.mktemp("project")
    (root / "feature_repo").mkdir()
    shutil.copy(toy.REPO_ROOT / "feature_repo" / "feature_store.yaml", root / "feature_repo")
    spec = toy.unsampled_spec()
    sources = {"flights": toy.flights(), "weather": toy.weather(), "planes": toy.planes()}
    objects: list[Any] = []
    for name in USE_CASES:
        for view, declared in spec.feature_views.items():
            table = build_feature_table(sources[declared.table], spec, view=view)
            path = root / FEATURE_DIR / name / f"{view}.parquet"
            FeatureTableDataset(filepath=str(path)).save(table)
        objects += feature_definitions(name, spec)
    store = FeatureStoreDataset(repo_path=str(root / "feature_repo")).load()
    store.apply(objects)
    return store


def test_both_use_cases_are_registered_side_by_side(repo: FeatureRepo) -> None:
    views = {view.name for view in repo.store.list_feature_views()}
    assert views == {
        f"{uc}__{v}_fv" for uc in USE_CASES for v in ("weather", "plane", "origin_delays")
    }
    for name in USE_CASES:
        assert repo.store.get_feature_service(f"{name}__service").name == f"{name}__service"


def test_point_in_time_values(repo: FeatureRepo, spec: DeclaredSpec) -> None:
    training, _, _ = build_entity_rows(toy.flights(), spec)
    late = training.iloc[[0]].assign(time_hour=T0 + 4 * H, flight=99)  # EWR, 4 h after T0
    rows = pd.concat([training, late], ignore_index=True)
    out = repo.point_in_time(rows, feature_store_params("flight_delays", spec)).set_index("flight")

    # f3 and f4 at T0 see f1 and f2 only, never themselves or each other
    for flight in (3, 4):
        assert out.loc[flight, "dep_delay_count_3h"] == 2
        assert out.loc[flight, "dep_delay_mean_3h"] == 15.0
    assert out.loc[5, "dep_delay_max_3h"] == 1000.0  # an hour later, T0's flights are known
    assert out.loc[7, "dep_delay_count_24h"] == 0  # JFK's first flight: nothing before it
    # weather: the origin's latest hour at or before the flight, within 3 hours
    assert out.loc[1, "temp"] == 60.0  # 08:00 sees 06:00
    assert out.loc[3, "temp"] == 70.0 and out.loc[7, "temp"] == 65.0
    assert np.isnan(out.loc[99, "temp"])  # 10:00 is 4 hours old at 14:00: expired
    # planes: static, whatever the time
    assert out.loc[3, "plane_year"] == 2004.0 and out.loc[2, "plane_seats"] == 182
    assert np.isnan(out.loc[5, "plane_year"])  # N3's year is unknown in the planes table


def test_materialising_serves_the_latest_values_online(
    repo: FeatureRepo, spec: DeclaredSpec
) -> None:
    params = feature_store_params("flight_delays", spec)
    repo.materialize(
        params.materialize,
        start=(pd.Timestamp("1970-01-01", tz="UTC") - pd.Timedelta(seconds=1)).to_pydatetime(),
        end=(T0 + pd.Timedelta(days=30)).to_pydatetime(),
    )
    online = repo.store.get_online_features(
        features=repo.store.get_feature_service(params.service),
        entity_rows=[{"origin": "EWR", "tailnum": "N2"}],
    ).to_dict()
    assert online["plane_seats"] == [182]
    assert online["temp"] == [70.0]
    # EWR's newest snapshot is f8's, twenty days after the others: nothing in its window
    assert online["dep_delay_count_24h"] == [0]
