"""The Feast feature store as pipelines see it: ``FeatureRepo``, loaded by a Kedro dataset.

Nodes never construct Feast clients; they receive a ``FeatureRepo`` from the catalog and use
its few operations. Feast itself is imported on load (it costs about ten seconds).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from modelworks.features.publication import PublicationParams
from modelworks.params import StrictModel
from modelworks.root import under_root

if TYPE_CHECKING:
    from feast import FeatureStore

EVENT_TIMESTAMP = "event_timestamp"
FS_YAML_ENV = "FEAST_FS_YAML_FILE_PATH"
"""Feast's own variable for a ``feature_store.yaml`` other than the repo's: a served model
reads its online features through the file it names (the production profile's, say)."""


def open_feature_store(
    repo_path: str | Path, fs_yaml_file: str | Path | None = None
) -> FeatureStore:
    """Feast's ``FeatureStore`` for the repo at ``repo_path``, configured by ``fs_yaml_file``
    (default: ``$FEAST_FS_YAML_FILE_PATH``, else the repo's ``feature_store.yaml``).

    ``${NAME}`` references in the file are filled from the environment or
    ``conf/local/credentials.yml`` (``modelworks.secrets``); a missing one is named in the
    error, where Feast would pass the literal text on to Redis or SQLAlchemy.
    """
    import yaml
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    from modelworks import secrets

    repo = Path(repo_path).resolve()
    chosen = fs_yaml_file or os.environ.get(FS_YAML_ENV) or repo / "feature_store.yaml"
    config_file = under_root(chosen)
    if not config_file.is_file():
        raise DatasetError(f"No Feast configuration {config_file} for feature repo {repo}")
    text = secrets.expand(config_file.read_text(), needed_by=str(config_file))
    raw = yaml.safe_load(text)
    registry = raw.get("registry")
    if isinstance(registry, dict) and str(registry.get("path", "")).startswith("postgresql://"):
        # the psycopg 3 driver, which Feast would otherwise substitute with a warning
        registry["path"] = registry["path"].replace("postgresql://", "postgresql+psycopg://", 1)
    config = RepoConfig(**raw)
    config.repo_path = repo
    return FeatureStore(repo_path=str(repo), config=config)


class FeatureStoreParams(StrictModel):
    """Which Feast objects a use case trains on and keeps fresh online."""

    service: str
    materialize: list[str]
    join_keys: list[str]
    event_timestamp_column: str
    publication: PublicationParams = PublicationParams()
    """The checks a batch of feature tables passes before Feast reads it."""


class FeatureRepo:
    """A Feast feature repository: apply definitions, materialise, retrieve point in time."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    @contextmanager
    def _in_repo(self) -> Iterator[None]:
        """Run Feast with the repo as working directory, as its CLI does (it chdirs).

        Feast documents source paths as relative to the feature repo, but its DuckDB offline
        store resolves them against the working directory; this makes both agree.
        """
        previous = Path.cwd()
        os.chdir(self.store.repo_path)
        try:
            yield
        finally:
            os.chdir(previous)

    def apply(self, objects: Iterable[Any]) -> list[str]:
        """Register Feast objects, as ``feast apply`` does; returns ``Kind:name`` of each."""
        objects = list(objects)
        with self._in_repo():
            self.store.apply(objects)
        return sorted(f"{type(o).__name__}:{o.name}" for o in objects)

    def materialize(self, feature_views: list[str], *, start: datetime, end: datetime) -> None:
        """Load each entity's latest value in ``[start, end]`` of each view into the online store.

        An explicit interval, not ``materialize_incremental``: that one starts at ``now - ttl``
        and would skip sources whose events are older than their TTL.
        """
        with self._in_repo():
            self.store.materialize(start_date=start, end_date=end, feature_views=feature_views)

    def point_in_time(self, entity_rows: pd.DataFrame, params: FeatureStoreParams) -> pd.DataFrame:
        """Join the feature service onto each entity row as of that row's event time.

        Every entity row comes back once, in its original order and index, with its own
        columns untouched; a feature with no value inside its view's TTL is missing (NaN),
        never a dropped row.
        """
        keys = [*params.join_keys, EVENT_TIMESTAMP]
        needed = [*params.join_keys, params.event_timestamp_column]
        missing = [c for c in needed if c not in entity_rows.columns]
        if missing:
            raise ValueError(f"Entity rows lack columns {missing} needed for feature retrieval")
        request = entity_rows[needed].rename(
            columns={params.event_timestamp_column: EVENT_TIMESTAMP}
        )
        request[EVENT_TIMESTAMP] = _utc(request[EVENT_TIMESTAMP])
        # Feast identifies a request row by its keys and timestamp: ask once per distinct pair.
        distinct = request.drop_duplicates(ignore_index=True)
        service = self.store.get_feature_service(params.service)
        with self._in_repo():
            retrieved = self.store.get_historical_features(
                entity_df=distinct, features=service
            ).to_df()
        if len(retrieved) != len(distinct):
            raise RuntimeError(
                f"Feature service {params.service!r} returned {len(retrieved)} rows for "
                f"{len(distinct)} distinct entity rows; point-in-time retrieval must keep each"
            )
        retrieved[EVENT_TIMESTAMP] = _utc(retrieved[EVENT_TIMESTAMP])
        features = request.merge(retrieved, on=keys, how="left", validate="many_to_one")
        features = _missing_capable(features.drop(columns=keys))
        overlap = set(features.columns) & set(entity_rows.columns)
        if overlap:
            raise ValueError(f"Feature names collide with entity-row columns: {sorted(overlap)}")
        features.index = entity_rows.index
        return pd.concat([entity_rows, features], axis=1)


class FeatureStoreDataset(AbstractDataset[None, FeatureRepo]):
    """Loads the ``FeatureRepo`` at ``repo_path`` (a folder with ``feature_store.yaml``).

    ``fs_yaml_file`` configures it from another file instead (the production profile's Redis
    online store and SQL registry); the definitions and the offline data stay the repo's.
    With ``template``, a missing ``feature_store.yaml`` is copied from that file first: a
    scratch feature store (a simulation's, say) laid out like the project's, whose relative
    paths then resolve inside its own folder.
    """

    def __init__(
        self,
        repo_path: str,
        fs_yaml_file: str | None = None,
        template: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        # Kedro makes only filepath-like keys absolute: these follow the project root too.
        self._repo_path = under_root(repo_path)
        self._fs_yaml_file = under_root(fs_yaml_file) if fs_yaml_file else None
        self._template = under_root(template) if template else None
        self.metadata = metadata

    def load(self) -> FeatureRepo:
        config = self._fs_yaml_file or self._repo_path / "feature_store.yaml"
        if not config.is_file() and self._template is not None:
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(self._template.read_text())
        return FeatureRepo(open_feature_store(self._repo_path, config))

    def save(self, data: None) -> None:
        raise DatasetError("FeatureStoreDataset is read-only: change features through nodes")

    def _describe(self) -> dict[str, Any]:
        described = {"repo_path": str(self._repo_path)}
        if self._fs_yaml_file is not None:
            described["fs_yaml_file"] = str(self._fs_yaml_file)
        return described


def _missing_capable(features: pd.DataFrame) -> pd.DataFrame:
    """Integer features as float64: a feature is missing for an entity the store has no value
    for (a new borrower, a user who never searched), so a model trained on it, its signature
    and everything that scores with it must accept a gap even where training had none."""
    ints = [c for c in features.columns if pd.api.types.is_integer_dtype(features[c])]
    return features.astype(dict.fromkeys(ints, "float64")) if ints else features


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC nanoseconds, whatever unit or zone they arrived in."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
