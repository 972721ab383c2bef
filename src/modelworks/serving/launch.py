"""What ``modelworks serve`` hands the app: a use case's online limits and its request rules."""

from __future__ import annotations

from typing import Any

from modelworks.serving.datasets import ServedModel
from modelworks.serving.limits import OnlineParams
from modelworks.serving.rules import rules_for
from modelworks.validation.spec import ColumnRule


def online_settings(
    model: ServedModel, use_case_params: Any
) -> tuple[OnlineParams, dict[str, ColumnRule]]:
    """``scoring.online`` of the use case (defaults where absent), and the rule of each input
    field of the model's signature that the use case's validation tables declare."""
    scoring = getattr(use_case_params, "scoring", None)
    online = getattr(scoring, "online", None) or OnlineParams()
    spec = getattr(use_case_params, "validation", None)
    schema = model.pyfunc.metadata.get_input_schema()
    if spec is None or schema is None or not schema.has_input_names():
        return online, {}
    return online, rules_for(schema.input_names(), spec, online.rules_from)
