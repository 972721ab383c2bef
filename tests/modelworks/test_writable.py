"""A run that could not write all of its outputs is refused before it writes any."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro_datasets.json import JSONDataset

from modelworks.io import AtomicParquetDataset
from modelworks.writable import (
    OutputsNotWritableError,
    check_outputs_writable,
    local_output_path,
    unwritable_folders,
)


def test_local_files_are_checked_and_other_stores_are_not(tmp_path: Path) -> None:
    assert local_output_path(JSONDataset(filepath=str(tmp_path / "a.json"))) == tmp_path / "a.json"
    assert local_output_path(JSONDataset(filepath="memory://bucket/a.json")) is None
    assert local_output_path(MemoryDataset()) is None


def test_a_folder_yet_to_be_made_is_judged_by_its_nearest_existing_parent(tmp_path: Path) -> None:
    fine = {"new": tmp_path / "07_model_output" / "uc" / "predictions.parquet"}
    assert unwritable_folders(fine) == {}

    (tmp_path / "08_reporting").write_text("a file where a folder should be")
    blocked = {
        "summary": tmp_path / "08_reporting" / "uc" / "summary.json",
        "report": tmp_path / "08_reporting" / "uc" / "report.json",
        "fine": tmp_path / "ok" / "x.json",
    }
    assert unwritable_folders(blocked) == {
        str(tmp_path / "08_reporting" / "uc"): ["summary", "report"]
    }


def test_the_error_names_every_folder_and_dataset(tmp_path: Path) -> None:
    (tmp_path / "reporting").write_text("not a folder")
    catalog = DataCatalog(
        {
            "predictions": AtomicParquetDataset(filepath=str(tmp_path / "out" / "p.parquet")),
            "summary": JSONDataset(filepath=str(tmp_path / "reporting" / "uc" / "s.json")),
            "in_memory": MemoryDataset(),
        }
    )
    with pytest.raises(OutputsNotWritableError) as raised:
        check_outputs_writable(["predictions", "summary", "in_memory", "unregistered"], catalog)
    assert raised.value.blocked == {str(tmp_path / "reporting" / "uc"): ["summary"]}
    assert str(raised.value).splitlines() == [
        "The run would write into 1 folder(s) it has no permission to write; nothing was written",
        f"  {tmp_path / 'reporting' / 'uc'}: for summary",
    ]
    check_outputs_writable(["predictions", "in_memory"], catalog)  # does not raise
