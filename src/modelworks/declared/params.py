"""The whole parameter block of a declared use case, with what ``declared:`` implies filled in.

A reader writes ``declared``, ``training`` (task, candidates, holdout), ``registry.gate`` and
``retrain``; the rest is derived when absent: ``validation`` (the tables' column rules),
``features`` (the Feast service, views and keys), ``training.label``, ``training.time_column``
and ``training.features``, ``registry.model_name`` and ``registry.description``, ``scoring``.
A derived key may still be written (a reproduction writes the recorded block back): given,
``features``, ``scoring``, ``training.features`` and the registry's name win, while
``validation``, ``training.label`` and ``training.time_column`` must agree with the declaration.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from pydantic import ValidationError, model_validator

from modelworks.declared.schema import DeclaredSpec
from modelworks.features import FeatureStoreParams
from modelworks.monitoring import DriftParams
from modelworks.params import StrictModel, to_plain
from modelworks.pipelines.training import RegistryParams, TrainingParams
from modelworks.scheduling.decision import RetrainPolicy
from modelworks.serving.batch import ScoringParams
from modelworks.validation import ValidationSpec

SEPARATOR = "__"
"""Between the use case's name and a Feast object's own name: ``<use_case>__<view>_fv``."""

# What a block whose ``declared`` is invalid gets in place of derived keys, so that the errors
# reported are the declaration's own, not a cascade of "field required".
_PLACEHOLDER_FEATURES: dict[str, Any] = {"numeric": [], "categorical": []}
_PLACEHOLDER_SERVICE: dict[str, Any] = {
    "service": "",
    "materialize": [],
    "join_keys": [],
    "event_timestamp_column": "",
}


def feast_name(use_case: str, name: str) -> str:
    """A Feast object's name, namespaced by its use case so no two use cases collide."""
    return f"{use_case}{SEPARATOR}{name}"


def feature_store_params(use_case: str, spec: DeclaredSpec) -> FeatureStoreParams:
    """The one feature service over every declared view, materialised whole."""
    return FeatureStoreParams(
        service=feast_name(use_case, "service"),
        materialize=[feast_name(use_case, f"{view}_fv") for view in spec.feature_views],
        join_keys=spec.join_keys,
        event_timestamp_column=spec.entity_rows.timestamp,
    )


class DeclaredUseCaseParams(StrictModel):
    """``conf/base/parameters/<use_case>.yml`` of a use case declared in YAML alone."""

    use_case: ClassVar[str] = "declared"

    declared: DeclaredSpec
    validation: ValidationSpec
    features: FeatureStoreParams
    training: TrainingParams
    registry: RegistryParams
    monitoring: DriftParams = DriftParams()
    scoring: ScoringParams
    retrain: RetrainPolicy = RetrainPolicy()

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            spec: DeclaredSpec | None = DeclaredSpec.model_validate(data.get("declared"))
        except ValidationError:
            spec = None  # reported by field validation, without derived keys' noise
        data = dict(data)
        training = dict(data.get("training") or {}) if _mapping(data.get("training")) else None
        registry = dict(data.get("registry") or {}) if _mapping(data.get("registry")) else None
        if training is None or registry is None:
            return data  # a section that is no mapping: reported as such by field validation
        registry.setdefault("model_name", cls.use_case)
        if spec is None:
            data.setdefault("validation", {"tables": {}})
            data.setdefault("features", _PLACEHOLDER_SERVICE)
            data.setdefault("scoring", {"id_columns": []})
            training.setdefault("label", "")
            training.setdefault("time_column", "")
            training.setdefault("features", _PLACEHOLDER_FEATURES)
        else:
            rows = spec.entity_rows
            derived = spec.validation()
            if "validation" in data and not _same(data["validation"], derived):
                raise ValueError(
                    "validation is derived from declared.tables.<table>.columns: declare the "
                    "rules there, not under validation"
                )
            data["validation"] = to_plain(derived)
            data.setdefault("features", to_plain(feature_store_params(cls.use_case, spec)))
            data.setdefault("scoring", {"id_columns": [*rows.keys, rows.timestamp]})
            for key, value in (("label", rows.label), ("time_column", rows.timestamp)):
                if training.setdefault(key, value) != value:
                    raise ValueError(
                        f"training.{key} is {training[key]!r} but declared.entity_rows says "
                        f"{value!r}: leave it out, it is derived"
                    )
            training.setdefault("features", to_plain(spec.model_features()))
            registry.setdefault("description", spec.description)
        data["training"] = training
        data["registry"] = registry
        return data

    def resolved(self) -> dict[str, Any]:
        """Each section as the framework's pipeline factories read it."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "declared"}


def _mapping(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _same(given: Any, derived: ValidationSpec) -> bool:
    """Whether ``given`` (a reproduction's recorded block, say) means the derived rules."""
    try:
        return ValidationSpec.model_validate(to_plain(given)) == derived
    except ValidationError:
        return False


@cache
def params_model_for(use_case: str) -> type[DeclaredUseCaseParams]:
    """The parameter model of the declared use case ``use_case`` (its name fills defaults)."""
    model = type(
        f"DeclaredParams[{use_case}]",
        (DeclaredUseCaseParams,),
        {"use_case": use_case, "__module__": __name__, "__doc__": DeclaredUseCaseParams.__doc__},
    )
    return model
