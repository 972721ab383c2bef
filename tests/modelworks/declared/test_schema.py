"""The declared block: what it derives, and errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelworks.declared.params import params_model_for
from modelworks.params import ParameterError, parse_params, to_plain
from tests.modelworks.declared.toy import flight_block

MODEL = params_model_for("flight_delays")


def _parse(block: dict[str, Any]) -> Any:
    return parse_params(MODEL, block, where="flight_delays")


def test_flight_delays_derives_what_the_framework_needs() -> None:
    typed = _parse(flight_block())

    assert typed.features.service == "flight_delays__service"
    assert typed.features.materialize == [
        "flight_delays__weather_fv",
        "flight_delays__plane_fv",
        "flight_delays__origin_delays_fv",
    ]
    assert typed.features.join_keys == ["origin", "tailnum"]
    assert typed.features.event_timestamp_column == "time_hour"
    training = typed.training
    assert (training.task, training.label, training.time_column) == (
        "regression",
        "arr_delay",
        "time_hour",
    )
    assert training.features.categorical == [
        "carrier",
        "origin",
        "dest",
        "plane_type",
        "plane_engine",
    ]
    assert training.features.numeric[:4] == ["distance", "hour", "month", "day_of_week"]
    assert "dep_delay_mean_3h" in training.features.numeric
    assert "plane_year" in training.features.numeric
    # the label, the flight's own delay and the join key of planes are never model inputs
    assert not {"arr_delay", "dep_delay", "tailnum"} & set(training.features.columns)
    assert typed.scoring.id_columns == ["carrier", "flight", "origin", "time_hour"]
    assert typed.registry.model_name == "flight_delays"
    assert typed.registry.description == typed.declared.description
    assert set(typed.validation.tables) == {"flights", "weather", "planes"}
    assert typed.validation.tables["flights"].columns["origin"].allowed == ["EWR", "JFK", "LGA"]


def test_the_resolved_block_parses_back_to_itself() -> None:
    """A reproduction writes the recorded (resolved) block back into conf/local."""
    typed = _parse(flight_block())
    assert _parse(to_plain(typed)) == typed


def test_derived_keys_may_be_overridden() -> None:
    block = flight_block()
    block["training"]["features"] = {"numeric": ["distance"], "categorical": ["carrier"]}
    block["scoring"] = {"id_columns": ["flight", "time_hour"]}
    typed = _parse(block)
    assert typed.training.features.columns == ["distance", "carrier"]
    assert typed.scoring.id_columns == ["flight", "time_hour"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(block: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = block
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(block: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = block
        for key in parents:
            target = target[key]
        del target[last]

    return edit


DISTANCE_VIEW = {
    "table": "flights",
    "entity": "origin",
    "timestamp": "time_hour",
    "ttl_hours": 1,
    "features": ["distance"],
}

ERRORS = [
    (
        _set("declared.feature_views.weather.ttl_hour", 3),
        "flight_delays.declared.feature_views.weather.ttl_hour: Extra inputs",
    ),
    (
        _set("declared.feature_views.weather.table", "wether"),
        "flight_delays.declared: Value error, feature_views.weather.table: no table 'wether'",
    ),
    (
        _set("declared.feature_views.plane.features", ["year", "colour"]),
        "feature_views.plane.features: column 'colour' is not declared under tables.planes.columns",
    ),
    (
        _set(
            "declared.feature_views.origin_delays.aggregations",
            [{"column": "carrier", "functions": ["mean"], "windows_hours": [3]}],
        ),
        "feature_views.origin_delays.aggregations: tables.flights.columns.carrier is 'string'",
    ),
    (
        _set(
            "declared.feature_views.origin_delays.aggregations",
            [{"column": "dep_delay", "functions": ["median"], "windows_hours": [3]}],
        ),
        "flight_delays.declared.feature_views.origin_delays.aggregations.0.functions.0: "
        "Input should be",
    ),
    (
        _set("declared.feature_views.distance", DISTANCE_VIEW),
        "feature_views.distance: feature 'distance' is also named by entity_rows",
    ),
    (
        _drop("declared.tables.flights.columns.tailnum"),
        "feature_views.plane.entity: column 'tailnum' is not declared under tables.flights.columns",
    ),
    (
        _drop("declared.feature_views.weather.ttl_hours"),
        "flight_delays.declared.feature_views.weather: Value error, a view of timestamped "
        "snapshots needs ttl_hours",
    ),
    (
        _set("declared.entity_rows.timestamp", "carrier"),
        "entity_rows.timestamp: tables.flights.columns.carrier is 'string'; expected datetime",
    ),
    (
        _set("declared.entity_rows.calendar.timezone", "New York"),
        "flight_delays.declared.entity_rows.calendar.timezone: Value error, unknown time zone",
    ),
    (
        _set("declared.tables.Flights", {"path": "x.csv", "columns": {"a": {"dtype": "int"}}}),
        "tables must be lower_snake_case names",
    ),
    (
        _set("training.label", "dep_delay"),
        "training.label is 'dep_delay' but declared.entity_rows says 'arr_delay'",
    ),
    (
        _set("validation", {"tables": {}}),
        "validation is derived from declared.tables.<table>.columns",
    ),
    (
        _set("training.candidates.lightgbm.max_round", 10),
        "flight_delays.training.candidates.lightgbm.max_round: Extra inputs",
    ),
    (_set("registry.gates", {}), "flight_delays.registry.gates: Extra inputs"),
    (_set("training", "regression"), "flight_delays.training: Input should be a valid"),
]


@pytest.mark.parametrize(("edit", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_an_error_names_the_key(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    block = flight_block()
    edit(block)
    with pytest.raises(ParameterError) as caught:
        _parse(block)
    assert message in str(caught.value)


def test_an_invalid_declaration_reports_its_own_errors_only() -> None:
    """No cascade of 'field required' for the keys a valid declaration would derive."""
    block = flight_block()
    block["declared"]["feature_views"]["weather"]["ttl_hour"] = 3
    with pytest.raises(ParameterError) as caught:
        _parse(block)
    problems = str(caught.value).removeprefix("Invalid parameters: ").split("; ")
    assert len(problems) == 1, problems
