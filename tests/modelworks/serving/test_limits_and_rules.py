"""The online limits as configuration, the depth scan, the short echo, and rules from a spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelworks.params import ParameterError, parse_params
from modelworks.serving.batch import ScoringParams
from modelworks.serving.limits import OnlineParams, echo, nesting_depth
from modelworks.serving.rules import rules_for, violations
from tests.modelworks.serving.test_app import FIELDS, SPEC


def test_no_yaml_is_needed_for_the_limits() -> None:
    params = ScoringParams(id_columns=["loan_id"])
    assert params.online == OnlineParams(
        max_body_bytes=1_048_576, max_rows=1000, max_depth=8, on_rule_violation="reject"
    )


def test_a_use_case_overrides_them_under_scoring_online() -> None:
    params = ScoringParams.model_validate(
        {"id_columns": ["loan_id"], "online": {"max_rows": 10, "on_rule_violation": "flag"}}
    )
    assert (params.online.max_rows, params.online.on_rule_violation) == (10, "flag")


def test_a_misspelt_limit_fails_naming_its_key() -> None:
    with pytest.raises(ParameterError) as raised:
        parse_params(
            ScoringParams, {"id_columns": ["a"], "online": {"max_row": 10}}, where="scoring"
        )
    assert (
        str(raised.value)
        == "Invalid parameters: scoring.online.max_row: Extra inputs are not permitted"
    )


def test_a_policy_other_than_reject_or_flag_is_refused() -> None:
    with pytest.raises(ValidationError, match="on_rule_violation"):
        OnlineParams.model_validate({"on_rule_violation": "ignore"})


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b'[{"a": 1}]', 2),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[["}', 1),
        (b"[[[[1]]]]", 4),
        (b"42", 0),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


def test_echo_is_at_most_80_characters() -> None:
    assert echo("x" * 10_000) == "'" + "x" * 76 + "..."
    assert echo(2**70) == "1180591620717411303424"
    assert echo(True) == "True"
    assert len(echo({"k": list(range(10_000))})) <= 80


def test_the_first_table_declaring_a_column_gives_its_rule() -> None:
    assert rules_for(FIELDS, SPEC)["amount"].min == 1
    assert rules_for(FIELDS, SPEC, ["customers", "requests"])["amount"].min == 0
    assert set(rules_for(FIELDS, SPEC, ["requests"])) == {"amount"}


def test_rules_from_an_undeclared_table_is_an_error() -> None:
    with pytest.raises(ValueError) as raised:
        rules_for(FIELDS, SPEC, ["loans"])
    assert str(raised.value) == (
        "scoring.online.rules_from names table(s) ['loans'] that validation.tables does not "
        "declare; it declares ['requests', 'customers']"
    )


def test_a_missing_value_breaks_no_rule_and_a_whole_float_passes_dtype_int() -> None:
    rules = rules_for(FIELDS, SPEC)
    assert violations({"amount": None, "x": 10.0, "c": "a"}, rules) == []
