"""Kedro datasets for Feast's side of the catalog."""

from __future__ import annotations

import pandas as pd
from kedro.io import DatasetError

from modelworks.features.store import EVENT_TIMESTAMP
from modelworks.io import AtomicParquetDataset


class FeatureTableDataset(AtomicParquetDataset):
    """Parquet that a Feast ``FileSource`` reads: checked and written the way Feast expects.

    Timestamps are stored as UTC microseconds: Feast's DuckDB offline store cannot cast
    nanosecond, zone-aware timestamps while materialising.
    """

    def save(self, data: pd.DataFrame) -> None:
        if EVENT_TIMESTAMP not in data.columns:
            raise DatasetError(
                f"Feature table for {self._filepath} has no '{EVENT_TIMESTAMP}' column; "
                f"columns are {list(data.columns)}"
            )
        data = data.copy()
        for column in data.columns:
            if pd.api.types.is_datetime64_any_dtype(data[column]):
                data[column] = pd.to_datetime(data[column], utc=True).astype("datetime64[us, UTC]")
        super().save(data)
