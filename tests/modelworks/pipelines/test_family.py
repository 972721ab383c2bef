"""Every use case's pipelines as Kedro builds them: each scoring run writes the champion's
monitoring report, ordered where it watches the right model and shows its retrain decision."""

from __future__ import annotations

import pickle

import pytest
from kedro.pipeline import Pipeline, node

from modelworks.discovery import discover_use_cases
from modelworks.pipelines.monitoring import past_runs, record_monitoring, waiting_for

MONITORED = ("monitoring_summary", "retrain_decision", "monitoring_history", "monitoring_report")


def _pipelines() -> dict[str, Pipeline]:
    found: dict[str, Pipeline] = {}
    for use_case in discover_use_cases():
        found.update(use_case.create_pipelines())
    return found


PIPELINES = _pipelines()
USE_CASES = sorted(use_case.name for use_case in discover_use_cases())


def test_the_project_has_the_four_use_cases() -> None:
    assert set(USE_CASES) >= {
        "credit_risk",
        "flight_delays",
        "hotel_recommendation",
        "repayment_uplift",
    }


@pytest.mark.parametrize("use_case", USE_CASES)
@pytest.mark.parametrize("suffix", ["", "_score", "_monitor", "_retrain"])
def test_every_scoring_or_monitoring_run_writes_the_monitoring_report(
    use_case: str, suffix: str
) -> None:
    outputs = PIPELINES[f"{use_case}{suffix}"].all_outputs()
    for dataset in MONITORED:
        assert f"{use_case}.{dataset}" in outputs


@pytest.mark.parametrize("use_case", USE_CASES)
def test_the_report_shows_the_decision_and_the_history(use_case: str) -> None:
    pipe = PIPELINES[use_case]
    report = next(n for n in pipe.nodes if f"{use_case}.monitoring_report" in n.outputs)
    assert f"{use_case}.retrain_decision" in report.inputs
    assert f"{use_case}.monitoring_history" in report.inputs


@pytest.mark.parametrize("use_case", USE_CASES)
def test_a_full_run_monitors_the_champion_the_registry_decision_left(use_case: str) -> None:
    """The champion is a registry alias: monitoring must wait for this run's gate and scoring."""
    pipe = PIPELINES[use_case]
    watching = [
        n
        for n in pipe.nodes
        if f"{use_case}.champion_model" in n.inputs
        and f"{use_case}.prediction_summary" not in n.outputs
    ]
    assert len(watching) >= 3  # the watch, the decision and the report
    for n in watching:
        upstream = set(pipe.to_nodes(n.name).all_outputs()) | set(n.inputs)
        assert f"{use_case}.registry_decision" in upstream, n.name
        assert f"{use_case}.prediction_summary" in upstream, n.name


@pytest.mark.parametrize("use_case", USE_CASES)
def test_a_retrain_monitors_before_it_trains(use_case: str) -> None:
    pipe = PIPELINES[f"{use_case}_retrain"]
    report = next(n for n in pipe.nodes if f"{use_case}.monitoring_report" in n.outputs)
    upstream = set(pipe.to_nodes(report.name).all_outputs())
    assert f"{use_case}.registry_decision" not in upstream


def _add(a: int, b: int) -> int:
    return a + b


def test_waiting_for_orders_champion_readers_after_a_dataset_and_ignores_it() -> None:
    pipe = Pipeline(
        [
            node(_add, ["champion_model", "batch"], "summary", name="watch"),
            node(_add, ["summary", "batch"], "report", name="render"),
        ]
    )
    waited = waiting_for(pipe, "prediction_summary")
    watch = next(n for n in waited.nodes if n.name == "watch")
    render = next(n for n in waited.nodes if n.name == "render")

    assert watch.inputs == ["champion_model", "batch", "prediction_summary"]
    assert render.inputs == ["summary", "batch"]  # not a reader of the champion
    assert watch.func(1, 2, "ignored") == 3
    assert watch.func.__name__ == "_add"
    assert pickle.loads(pickle.dumps(watch.func))(1, 2, "ignored") == 3


def test_the_report_reads_the_runs_before_this_one() -> None:
    this = {"run": "w3"}
    assert past_runs(this) == []  # held in memory: the record of this run alone
    history = [{"run": f"w{i}"} for i in range(60)] + [this]
    assert past_runs(history) == history[-53:-1]
    assert record_monitoring({"verdict": "ok"}, {"retrain": False}) == {
        "verdict": "ok",
        "retrain_decision": {"retrain": False},
    }


@pytest.mark.parametrize("use_case", USE_CASES)
def test_waiting_nodes_keep_their_typed_parameters(use_case: str) -> None:
    """Kedro validates ``params:`` inputs by the annotations it reads off the node's function:
    the watch that waits for scoring asks for the same types as the one that does not."""
    from kedro.validation.type_extractor import TypeExtractor

    def watch(pipe: Pipeline) -> object:
        return next(n for n in pipe.nodes if f"{use_case}.monitoring_summary" in n.outputs)

    waiting, alone = watch(PIPELINES[use_case]), watch(PIPELINES[f"{use_case}_monitor"])
    assert f"{use_case}.prediction_summary" in waiting.inputs
    assert f"{use_case}.prediction_summary" not in alone.inputs
    extract = TypeExtractor({})._extract_types_from_node
    assert extract(waiting) == extract(alone)


SHADOWED = ("credit_risk", "flight_delays")
"""The supervised use cases: their challengers shadow the champion (ranking and uplift
champions have no per-row loss to judge one on)."""


@pytest.mark.parametrize("use_case", SHADOWED)
def test_a_retrain_judges_the_challengers_before_it_monitors_the_champion(use_case: str) -> None:
    pipe = PIPELINES[f"{use_case}_retrain"]
    for n in pipe.nodes:
        if f"{use_case}.champion_model" in n.inputs:
            upstream = set(pipe.to_nodes(n.name).all_outputs()) | set(n.inputs)
            assert f"{use_case}.live_decisions" in upstream, n.name


@pytest.mark.parametrize("use_case", SHADOWED)
@pytest.mark.parametrize("suffix", ["", "_score", "_retrain"])
def test_every_scored_batch_is_scored_by_the_challengers_too(use_case: str, suffix: str) -> None:
    pipe = PIPELINES[f"{use_case}{suffix}"]
    scoring = next(n for n in pipe.nodes if f"{use_case}.shadow_predictions" in n.outputs)
    assert f"{use_case}.scoring_features" in scoring.inputs
    if suffix != "_score":  # after a training, the challengers the gate just left
        upstream = set(pipe.to_nodes(scoring.name).all_outputs()) | set(scoring.inputs)
        assert f"{use_case}.registry_decision" in upstream
