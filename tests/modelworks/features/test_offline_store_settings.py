"""DuckDBAsofOfflineStore's engine settings: memory limit, threads and spill folder.

Each setting is read from ``feature_store.yaml``, defaults to what the machine offers, and
reaches the DuckDB connection that answers a retrieval: a retrieval that cannot fit its memory
limit spills to the configured folder and still returns what an unbounded one returns.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore
from feast.repo_config import FeastConfigError, load_repo_config

from modelworks.features.offline_sql import EngineSettings, connect
from modelworks.features.offline_store import (
    STORE_TYPE,
    DuckDBAsofOfflineStoreConfig,
    default_memory_limit,
    engine_settings,
    machine_memory,
)

GIB = 1 << 30
START = pd.Timestamp("2024-01-01", tz="UTC")
FEATURES = ["amount_fv:amount", "amount_fv:count"]


def _yaml(settings: str = "") -> str:
    return (
        "project: settings\nprovider: local\nregistry: data/registry.db\n"
        f"offline_store:\n  type: {STORE_TYPE}\n{settings}"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "entity_key_serialization_version: 3\n"
    )


def _config(path: Path, settings: str) -> DuckDBAsofOfflineStoreConfig:
    (path / "feature_store.yaml").write_text(_yaml(settings))
    return load_repo_config(path, path / "feature_store.yaml")


def test_settings_are_read_from_feature_store_yaml(tmp_path: Path) -> None:
    config = _config(
        tmp_path, "  memory_limit: 1.5GiB\n  threads: 1\n  temp_directory: spill/duckdb\n"
    )
    assert engine_settings(config) == EngineSettings(
        memory_limit="1.5GiB", threads=1, temp_directory=str(tmp_path / "spill" / "duckdb")
    )


def test_defaults_follow_the_machine(tmp_path: Path) -> None:
    settings = engine_settings(_config(tmp_path, ""))
    assert settings.memory_limit == default_memory_limit(machine_memory())
    assert settings.threads == len(os.sched_getaffinity(0))
    assert settings.temp_directory == str(Path(tempfile.gettempdir()) / "modelworks-duckdb")


def test_default_memory_limit_is_a_tenth_of_memory_and_at_least_a_gib() -> None:
    assert default_memory_limit(24 * GIB) == f"{int(24 * GIB * 0.1) >> 20}MiB"
    assert default_memory_limit(4 * GIB) == "1024MiB"


def test_machine_memory_is_capped_by_the_cgroup_limit(tmp_path: Path) -> None:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = tmp_path / "memory.max"
    limit.write_text(f"{GIB}\n")
    assert machine_memory(limit) == min(physical, GIB)
    limit.write_text("max\n")
    assert machine_memory(limit) == physical
    assert machine_memory(tmp_path / "absent") == physical


@pytest.mark.parametrize(
    ("setting", "field"),
    [("  memory_limit: lots\n", "memory_limit"), ("  threads: 0\n", "threads")],
)
def test_a_bad_setting_fails_at_load_naming_the_field(
    tmp_path: Path, setting: str, field: str
) -> None:
    with pytest.raises(FeastConfigError, match=field):
        _config(tmp_path, setting)


def test_connection_applies_the_settings(tmp_path: Path) -> None:
    settings = EngineSettings(memory_limit="300MiB", threads=1, temp_directory=str(tmp_path))
    with connect(settings) as con:
        applied = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory'), current_setting('preserve_insertion_order')"
        ).fetchone()
    assert applied == ("300.0 MiB", 1, str(tmp_path), False)


# --- a retrieval under a small memory limit ---------------------------------------------------


def _write_repo(path: Path, settings: str, source: pd.DataFrame) -> FeatureStore:
    """A repo with one view over ``source``, its offline store configured by ``settings``."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    (path / "data").mkdir(parents=True)
    source.to_parquet(path / "data" / "amounts.parquet", index=False)
    (path / "feature_store.yaml").write_text(_yaml(settings))
    account = Entity(name="account", join_keys=["account_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="amount_fv",
        entities=[account],
        ttl=pd.Timedelta(days=3).to_pytimedelta(),
        schema=[Field(name="amount", dtype=Float64), Field(name="count", dtype=Int64)],
        source=FileSource(
            name="amount_source", path="data/amounts.parquet", timestamp_field="event_timestamp"
        ),
    )
    store = FeatureStore(repo_path=str(path))
    store.apply([account, view])
    return store


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two million source rows over 23 days (a sort too big for 64 MiB), 200,000 entity rows."""
    rng = np.random.default_rng(7)
    n, m = 2_000_000, 200_000
    source = pd.DataFrame(
        {
            "account_id": rng.integers(0, 20_000, n),
            "event_timestamp": START + pd.to_timedelta(rng.permutation(n), unit="s"),
            "amount": rng.random(n),
            "count": rng.integers(0, 100, n),
        }
    )
    entity = pd.DataFrame(
        {
            "account_id": rng.integers(0, 20_500, m),
            "event_timestamp": START + pd.to_timedelta(rng.integers(0, n, m), unit="s"),
        },
        index=pd.RangeIndex(m)[::-1],  # a reversed index: the result is indexed 0..n-1
    )
    return source, entity


def test_a_retrieval_past_its_memory_limit_spills_and_agrees(
    tmp_path: Path, rows: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    source, entity = rows
    unbounded = _write_repo(tmp_path / "unbounded", "  memory_limit: 4GB\n", source)
    spill = tmp_path / "spill"
    bounded = _write_repo(
        tmp_path / "bounded",
        f"  memory_limit: 64MiB\n  threads: 1\n  temp_directory: {spill}\n",
        source,
    )
    expected = unbounded.get_historical_features(entity, FEATURES).to_df()
    actual = bounded.get_historical_features(entity, FEATURES).to_df()
    pd.testing.assert_frame_equal(actual, expected)
    assert actual.index.equals(pd.RangeIndex(len(entity)))
    assert (actual["account_id"].to_numpy() == entity["account_id"].to_numpy()).all()
    assert 0 < actual["amount"].notna().sum() < len(entity)


def test_the_spill_folder_is_the_configured_one(
    tmp_path: Path, rows: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A spill folder that cannot be created fails the retrieval that needs to spill."""
    source, entity = rows
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    store = _write_repo(
        tmp_path / "repo",
        f"  memory_limit: 64MiB\n  threads: 1\n  temp_directory: {blocked / 'spill'}\n",
        source,
    )
    with pytest.raises(Exception, match="a_file"):
        store.get_historical_features(entity, FEATURES).to_df()


def test_to_df_and_to_arrow_agree(tmp_path: Path, rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    source, entity = rows
    store = _write_repo(tmp_path, "", source.head(100_000))
    job = store.get_historical_features(entity.head(5_000), FEATURES)
    pd.testing.assert_frame_equal(job.to_df(), job.to_arrow().to_pandas())
