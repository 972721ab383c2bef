"""Targets in the results files, and the README table generated from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import common, report
from benchmarks.common import Target


@pytest.mark.parametrize(
    ("measured", "target", "bound", "holds"),
    [
        (1.10, 1.15, "at_most", True),
        (1.15, 1.15, "at_most", True),
        (1.20, 1.15, "at_most", False),
        (1600.0, 1500.0, "at_least", True),
        (1400.0, 1500.0, "at_least", False),
        (None, 60.0, "at_most", False),
    ],
)
def test_holds_is_computed_from_the_measurement(
    measured: float | None, target: float, bound: str, holds: bool
) -> None:
    found = Target("t", measured, target, "s", bound=bound).as_dict()  # type: ignore[arg-type]
    assert found["holds"] is holds
    assert set(found) >= {"name", "measured", "target", "unit", "holds"}


def test_results_file_holds_targets_command_and_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    path = common.write_results(
        "demo",
        {"seconds": 2.5},
        "| a |",
        targets=[Target("wall", 2.5, 3.0, "s"), Target("rps", 900.0, 1500.0, "req/s", "at_least")],
    )
    document = json.loads(path.read_text())
    assert [t["holds"] for t in document["targets"]] == [True, False]
    assert document["seconds"] == 2.5
    assert document["command"] and document["machine"]["cpus"] >= 1
    assert (tmp_path / "demo.md").read_text() == "| a |\n"
    assert not list(tmp_path.glob(".*partial"))


def test_readme_table_is_generated_between_the_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    common.write_results("drift", {}, "", targets=[Target("drift wall", 12.5, 30.0, "s")])
    common.write_results("pipeline_overhead", {}, "", targets=[Target("overhead", 1.3, 1.15, "x")])
    common.write_results("untargeted", {}, "")
    readme = f"intro\n{report.BEGIN}\nold table\n{report.END}\noutro\n"
    rendered = report.render(readme, report.load(tmp_path))
    assert rendered.startswith("intro\n") and rendered.endswith(f"{report.END}\noutro\n")
    assert "old table" not in rendered
    rows = [line for line in rendered.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1].startswith("| overhead | 1.3x | ≤ 1.15x | **no** |")
    assert rows[2].startswith("| drift wall | 12.5 s | ≤ 30 s | yes |")
    assert len(rows) == 3  # header + the two targeted files' rows


def test_a_readme_without_markers_is_refused() -> None:
    with pytest.raises(SystemExit, match="targets:begin"):
        report.render("no markers here\n", [])
