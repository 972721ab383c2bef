"""SourceTableDataset on small files written here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from modelworks.io import SourceTableDataset


@pytest.fixture()
def loans() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": [1, 2, 3],
            "applied_at": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-02 11:30", "2024-01-03 09:15"]
            ).tz_localize("UTC"),
            "amount": [500.0, 1200.0, 80.5],
        }
    )


def test_csv_and_parquet_read_back_the_same_table(tmp_path: Path, loans: pd.DataFrame) -> None:
    loans.to_csv(tmp_path / "loans.csv", index=False)
    loans.to_parquet(tmp_path / "loans.parquet")
    from_csv = SourceTableDataset(str(tmp_path / "loans.csv"), timestamps=["applied_at"]).load()
    from_parquet = SourceTableDataset(
        str(tmp_path / "loans.parquet"), timestamps=["applied_at"]
    ).load()
    pd.testing.assert_frame_equal(from_csv, loans, check_dtype=False)
    pd.testing.assert_frame_equal(from_parquet, loans, check_dtype=False)
    assert str(from_csv["applied_at"].dt.tz) == "UTC"


def test_naive_timestamps_are_read_as_utc(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,at\n1,2024-03-01 08:00:00\n2,2024-03-02T09:30:00+02:00\n")
    frame = SourceTableDataset(str(tmp_path / "t.csv"), timestamps=["at"]).load()
    assert frame["at"].tolist() == [
        pd.Timestamp("2024-03-01 08:00", tz="UTC"),
        pd.Timestamp("2024-03-02 07:30", tz="UTC"),
    ]


def test_a_value_that_is_not_a_time_is_named(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,at\n1,2024-03-01\n2,yesterday\n3,\n")
    expected = r"t\.csv:at: 1 value\(s\) are not timestamps.*yesterday"
    with pytest.raises(DatasetError, match=expected):
        SourceTableDataset(str(tmp_path / "t.csv"), timestamps=["at"]).load()


def test_saving_never_touches_the_file(tmp_path: Path, loans: pd.DataFrame) -> None:
    path = tmp_path / "loans.parquet"
    loans.to_parquet(path)
    before = path.read_bytes()
    dataset = SourceTableDataset(str(path))
    with pytest.raises(DatasetError, match="source table you supplied"):
        dataset.save(loans.head(1))  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert dataset.exists()


def test_missing_file_and_unknown_format_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        SourceTableDataset(str(tmp_path / "absent.csv")).load()
    with pytest.raises(DatasetError, match="set file_format"):
        SourceTableDataset(str(tmp_path / "loans.txt"))
    with pytest.raises(DatasetError, match=r"no column\(s\) \['applied_at'\]"):
        (tmp_path / "t.csv").write_text("id\n1\n")
        SourceTableDataset(str(tmp_path / "t.csv"), timestamps=["applied_at"]).load()
