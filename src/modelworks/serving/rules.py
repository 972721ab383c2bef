"""Request values checked against the rules the training data had to pass.

A use case declares its data rules once (``validation.tables.<table>.columns.<column>``); the
served model's request fields are held to the same ``min``, ``max``, ``allowed`` values and
whole-number dtype, so a value the gate would have stopped in a batch is not scored online
without notice. Which tables apply, and in which order, is ``scoring.online.rules_from``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from modelworks.serving.limits import KEY, echo
from modelworks.validation.spec import ColumnRule, ValidationSpec

_SHOWN_ALLOWED = 12


@dataclass(frozen=True)
class Violation:
    """One value against one rule: where, which rule, what it must be, what was sent."""

    field: str
    rule: str
    problem: str
    input: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def rules_for(
    fields: Iterable[str], spec: ValidationSpec, order: list[str] | None = None
) -> dict[str, ColumnRule]:
    """The rule of each field that a table of ``spec`` declares; the first table in ``order``
    (default: the spec's own order) that declares a column of that name wins."""
    tables = list(spec.tables) if order is None else order
    unknown = [table for table in tables if table not in spec.tables]
    if unknown:
        raise ValueError(
            f"{KEY}.rules_from names table(s) {unknown} that validation.tables does not "
            f"declare; it declares {list(spec.tables)}"
        )
    rules: dict[str, ColumnRule] = {}
    for name in fields:
        for table in tables:
            rule = spec.tables[table].columns.get(name)
            if rule is not None:
                rules[name] = rule
                break
    return rules


def violations(
    row: Mapping[str, Any], rules: Mapping[str, ColumnRule], prefix: str = ""
) -> list[Violation]:
    """Every value of ``row`` that breaks its field's rule (a missing value breaks none: the
    online store or the model's own handling of gaps stands in for it)."""
    found = []
    for name, value in row.items():
        rule = rules.get(name)
        if rule is None or value is None:
            continue
        broken = _broken(value, rule)
        if broken is not None:
            found.append(Violation(f"{prefix}{name}", *broken, echo(value)))
    return found


def _broken(value: Any, rule: ColumnRule) -> tuple[str, str] | None:
    """``(rule, what the value must be)`` for the first rule ``value`` breaks, else None."""
    if isinstance(value, str):
        if rule.allowed is not None and value not in rule.allowed:
            return "allowed", f"must be one of {_listed(rule.allowed)}"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if rule.dtype == "int" and isinstance(value, float) and not value.is_integer():
        return "dtype", "must be a whole number (the training data's dtype is int)"
    if rule.min is not None and value < rule.min:
        return "min", f"must be >= {_number(rule.min)}"
    if rule.max is not None and value > rule.max:
        return "max", f"must be <= {_number(rule.max)}"
    return None


def json_schema(rule: ColumnRule) -> dict[str, Any]:
    """The rule as JSON Schema keywords, for the published request schema."""
    keywords: dict[str, Any] = {}
    if rule.min is not None:
        keywords["minimum"] = rule.min
    if rule.max is not None:
        keywords["maximum"] = rule.max
    if rule.allowed is not None:
        keywords["enum"] = list(rule.allowed)
    return keywords


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _listed(values: list[str]) -> str:
    shown = ", ".join(values[:_SHOWN_ALLOWED])
    more = f" and {len(values) - _SHOWN_ALLOWED} more" if len(values) > _SHOWN_ALLOWED else ""
    return f"[{shown}{more}]"
