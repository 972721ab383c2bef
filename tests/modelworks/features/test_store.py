"""Point-in-time retrieval through a real Feast store (duckdb offline, SQLite online)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from modelworks.features import FeatureStoreDataset, FeatureStoreParams, FeatureTableDataset

T0 = pd.Timestamp("2024-03-01", tz="UTC")
PARAMS = FeatureStoreParams(
    service="score_service",
    materialize=["score_fv"],
    join_keys=["customer_id"],
    event_timestamp_column="asked_at",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    repo = tmp_path_factory.mktemp("feature_repo")
    (repo / "feature_store.yaml").write_text(
        "project: test\nprovider: local\nregistry: data/registry.db\n"
        "offline_store:\n  type: duckdb\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "entity_key_serialization_version: 3\n"
    )
    (repo / "data").mkdir()
    FeatureTableDataset(filepath=str(repo / "data" / "scores.parquet")).save(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 2],
                "event_timestamp": [
                    T0 - timedelta(days=20),  # superseded by the next one
                    T0 - timedelta(days=1),  # latest known at T0
                    T0 + timedelta(hours=1),  # stamped after T0: must never leak into T0's row
                    T0 - timedelta(days=40),  # older than the 30-day TTL at T0
                ],
                "score": [1.0, 2.0, 99.0, 5.0],
                "visits": [1, 2, 3, 4],
            }
        )
    )

    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="score_source", path="data/scores.parquet", timestamp_field="event_timestamp"
    )
    view = FeatureView(
        name="score_fv",
        entities=[customer],
        ttl=timedelta(days=30),
        schema=[Field(name="score", dtype=Float64), Field(name="visits", dtype=Int64)],
        source=source,
    )
    service = FeatureService(name="score_service", features=[view])
    feature_store = FeatureStoreDataset(repo_path=str(repo)).load()
    feature_store.apply([customer, source, view, service])
    return feature_store


def test_values_stamped_after_the_event_time_never_reach_the_row(store) -> None:
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2, 1, 3, 1],
            "asked_at": [T0, T0, T0 + timedelta(hours=2), T0, T0],
            "note": ["a", "b", "c", "d", "e"],
        },
        index=[10, 11, 12, 13, 14],
    )
    out = store.point_in_time(rows, PARAMS)
    # every row back once, in order, own columns untouched
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert out["note"].tolist() == ["a", "b", "c", "d", "e"]
    scores = out["score"].tolist()
    assert scores[0] == 2.0  # latest at or before T0, not the 99 stamped an hour later
    assert pd.isna(scores[1])  # only value is outside the TTL: missing, row kept
    assert scores[2] == 99.0  # asked after the late value became known
    assert pd.isna(scores[3])  # unknown entity: missing, row kept
    assert scores[4] == 2.0  # a duplicate request row gets the same answer


def test_integer_features_come_back_able_to_be_missing(store) -> None:
    rows = pd.DataFrame({"customer_id": [1, 1], "asked_at": [T0, T0]})
    out = store.point_in_time(rows, PARAMS)
    # the store holds ints, but an entity it has no value for must be missing, not refused
    assert out["visits"].dtype == "float64"
    assert out["visits"].tolist() == [2.0, 2.0]
    assert out["customer_id"].dtype == "int64"  # the caller's own columns keep their types


def test_missing_entity_columns_are_named(store) -> None:
    with pytest.raises(ValueError, match="asked_at"):
        store.point_in_time(pd.DataFrame({"customer_id": [1]}), PARAMS)


def test_materialize_fills_the_online_store(store) -> None:
    store.materialize(
        ["score_fv"],
        start=(T0 - timedelta(days=60)).to_pydatetime(),
        end=(T0 + timedelta(days=1)).to_pydatetime(),
    )
    online = store.store.get_online_features(
        features=["score_fv:score"], entity_rows=[{"customer_id": 1}]
    ).to_dict()
    assert online["score"] == [99.0]


def test_dataset_refuses_a_folder_without_feature_store_yaml(tmp_path: Path) -> None:
    from kedro.io import DatasetError

    with pytest.raises(DatasetError, match=r"feature_store\.yaml"):
        FeatureStoreDataset(repo_path=str(tmp_path)).load()
