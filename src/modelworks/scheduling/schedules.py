"""Schedules as declared in ``conf/<env>/schedules.yml``: which pipeline runs when.

    <use_case>:
      - name: weekly_retrain
        cron: "0 3 * * 1"          # Mondays, 03:00
        pipeline: <use_case>_retrain

Cron expressions are read by croniter, in the schedule's time zone (UTC unless given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from modelworks.params import StrictModel, parse_params


class Schedule(StrictModel):
    """One pipeline on one cron expression."""

    use_case: str
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str
    pipeline: str
    timezone: str = "UTC"
    env: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, cron: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(cron):
            raise ValueError(f"{cron!r} is not a cron expression (minute hour day month weekday)")
        return cron

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @property
    def key(self) -> str:
        return f"{self.use_case}.{self.name}"

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` this schedule fires (aware, in UTC)."""
        from croniter import croniter

        local = moment.astimezone(ZoneInfo(self.timezone))
        fire: datetime = croniter(self.cron, local).get_next(datetime)
        return fire.astimezone(ZoneInfo("UTC"))


def parse_schedules(
    config: Mapping[str, Any], *, use_cases: Iterable[str], pipelines: Iterable[str]
) -> list[Schedule]:
    """Typed schedules from the ``schedules`` configuration, checked against the project."""
    known_cases, known_pipelines = set(use_cases), set(pipelines)
    schedules = []
    for use_case, entries in (config or {}).items():
        if use_case not in known_cases:
            raise ValueError(
                f"schedules.yml names use case {use_case!r}; known: {sorted(known_cases)}"
            )
        for position, entry in enumerate(entries or []):
            schedule = parse_params(
                Schedule, {"use_case": use_case, **entry}, where=f"schedules.{use_case}[{position}]"
            )
            if schedule.pipeline not in known_pipelines:
                raise ValueError(
                    f"schedule {schedule.key} runs pipeline {schedule.pipeline!r}, which is not "
                    f"registered; known: {sorted(known_pipelines)}"
                )
            schedules.append(schedule)
    keys = [s.key for s in schedules]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"schedule names must be unique per use case; repeated: {repeated}")
    return schedules
