"""Kedro datasets for data modelworks reads but does not own."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

SAMPLE_SIZE = 5


class SourceTableDataset(AbstractDataset[None, pd.DataFrame]):
    """A raw table you supply (parquet or CSV, local or any fsspec URL), read-only.

    Point a use case's ``raw_<table>`` at it in ``conf/local/catalog.yml`` to train on your
    own data instead of generated data. Saving raises: a pipeline that would write the table
    (the generator, say) stops before it can overwrite your file. Columns in ``timestamps``
    are parsed as UTC; a value that is not a time is an error that names the column and shows
    the values, not a silent NaT.
    """

    def __init__(
        self,
        filepath: str,
        file_format: Literal["parquet", "csv"] | None = None,
        timestamps: list[str] | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = filepath
        self._format = file_format or _format_of(filepath)
        self._timestamps = list(timestamps or [])
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        try:
            if self._format == "parquet":
                frame = pd.read_parquet(self._filepath, **self._load_args)
            else:
                frame = pd.read_csv(self._filepath, **self._load_args)
        except FileNotFoundError:
            raise DatasetError(f"Source table {self._filepath} does not exist") from None
        missing = [c for c in self._timestamps if c not in frame.columns]
        if missing:
            raise DatasetError(
                f"Source table {self._filepath} has no column(s) {missing} declared as "
                f"timestamps; columns are {list(frame.columns)}"
            )
        for column in self._timestamps:
            frame[column] = _parse_utc(frame[column], where=f"{self._filepath}:{column}")
        return frame

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{self._filepath} is a source table you supplied; modelworks never writes it. "
            "Run the use case's pipeline that starts from the raw tables "
            "(kedro run --pipelines <use_case>_train), not the one that generates them."
        )

    def _exists(self) -> bool:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self._filepath)
        return bool(fs.exists(path))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "format": self._format, "timestamps": self._timestamps}


def _format_of(filepath: str) -> Literal["parquet", "csv"]:
    suffixes = PurePosixPath(filepath).suffixes
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".csv" in suffixes:
        return "csv"
    raise DatasetError(
        f"Cannot tell the format of {filepath} from its name: set file_format to parquet or csv"
    )


def _parse_utc(values: pd.Series, *, where: str) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        samples = values[bad].astype(str).unique()[:SAMPLE_SIZE].tolist()
        raise DatasetError(f"{where}: {int(bad.sum())} value(s) are not timestamps, e.g. {samples}")
    return parsed
