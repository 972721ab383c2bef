"""modelworks.io's datasets on small files written here."""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset
from kedro_datasets.text import TextDataset

from modelworks.io import (
    _UMASK,
    AtomicJSONDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
    JSONLinesDataset,
    RawParquetDataset,
    SourceTableDataset,
    atomic_path,
)


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


# --- writes are whole or absent; a torn JSON-lines log stays readable ------------------------


def _history(tmp_path: Path) -> tuple[Path, JSONLinesDataset]:
    path = tmp_path / "reporting" / "history.jsonl"
    return path, JSONLinesDataset(str(path))


def test_json_lines_round_trip_and_no_temporary_left(tmp_path: Path) -> None:
    path, dataset = _history(tmp_path)
    assert dataset.load() == []
    dataset.save({"run": 1})
    dataset.save({"run": 2, "at": pd.Timestamp("2024-01-01")})
    assert dataset.load() == [{"run": 1}, {"run": 2, "at": "2024-01-01 00:00:00"}]
    assert [p.name for p in path.parent.iterdir()] == ["history.jsonl"]
    assert path.read_text().endswith("}\n")


def test_torn_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, dataset = _history(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"run": 1}\n{"run": 2}\n{"run": 3, "verdict')
    with caplog.at_level(logging.WARNING, logger="modelworks.io"):
        assert dataset.load() == [{"run": 1}, {"run": 2}]
    assert f"{path}:3 is not a JSON document" in caplog.text


def test_torn_middle_line_is_skipped_and_the_rest_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, dataset = _history(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"run": 1}\n{"run": 2, "ver\n\n{"run": 3}\n[1, 2]\n')
    with caplog.at_level(logging.WARNING, logger="modelworks.io"):
        assert dataset.load() == [{"run": 1}, {"run": 3}]
    assert f"{path}:2 is not a JSON document" in caplog.text
    assert f"{path}:5 holds a JSON list" in caplog.text


def test_append_after_a_torn_line_keeps_the_new_record_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, dataset = _history(tmp_path)
    path.parent.mkdir(parents=True)
    # what a kill -9 mid-append left: the old dataset then glued the next record onto it
    path.write_text('{"run": 1}\n{"run": 2, "model_version": "1", "verdict')
    with caplog.at_level(logging.WARNING, logger="modelworks.io"):
        dataset.save({"run": 3})
        dataset.save({"run": 4})
    assert "unterminated (torn) line" in caplog.text
    assert dataset.load() == [{"run": 1}, {"run": 3}, {"run": 4}]
    # the torn bytes are kept on their own line (evidence), never merged with a record
    assert path.read_text().splitlines()[1] == '{"run": 2, "model_version": "1", "verdict'


def test_a_save_killed_mid_write_leaves_the_previous_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, dataset = _history(tmp_path)
    dataset.save({"run": 1})
    before = path.read_bytes()
    write_bytes = Path.write_bytes

    def half_then_die(self: Path, data: bytes) -> int:
        write_bytes(self, data[: len(data) // 2 + 3])
        raise OSError("killed mid-write")

    monkeypatch.setattr(Path, "write_bytes", half_then_die)
    with pytest.raises((OSError, DatasetError)):
        dataset.save({"run": 2, "verdict": "critical"})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["history.jsonl"]


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out" / "table.json"
    with atomic_path(target) as temporary:
        temporary.write_text('{"a": 1}')
        assert temporary.parent == target.parent and not target.exists()
    assert json.loads(target.read_text()) == {"a": 1}
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text('{"a": 2, "torn')
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["table.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_UMASK


def _fail_after_writing(self: Any, data: Any) -> None:
    path = get_filepath_str(self._get_save_path(), self._protocol)
    Path(path).write_text("torn")
    raise OSError("killed mid-write")


@pytest.mark.parametrize(
    ("cls", "name", "data", "parent"),
    [
        (RawParquetDataset, "t.parquet", pd.DataFrame({"a": [1, 2]}), ParquetDataset),
        (AtomicParquetDataset, "t.parquet", pd.DataFrame({"a": [1, 2]}), ParquetDataset),
        (AtomicJSONDataset, "t.json", {"a": [1, 2]}, JSONDataset),
        (AtomicTextDataset, "t.html", "<p>report</p>", TextDataset),
    ],
)
def test_file_datasets_save_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: Any, name: str, data: Any, parent: Any
) -> None:
    dataset = cls(filepath=str(tmp_path / name))
    dataset.save(data)
    loaded = dataset.load()
    if isinstance(data, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, data)
    else:
        assert loaded == data
    before = (tmp_path / name).read_bytes()
    # the parent class's save dies half-way through writing: the file keeps its content
    monkeypatch.setattr(parent, "save", _fail_after_writing)
    with pytest.raises((OSError, DatasetError)):
        dataset.save(data)
    assert (tmp_path / name).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert dataset._filepath == PurePosixPath(str(tmp_path / name))
