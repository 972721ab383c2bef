"""The pipelines of a declared use case: the framework's factories, composed as a hand-written
use case composes them in its package, around three declared steps.

* ``<uc>_ingest``: source tables -> raw tables -> GE gate -> entity rows and feature tables;
* ``<uc>_train``: Feast apply and materialise, point-in-time training set and scoring
  features, candidates, registry gate, drift of the scoring batch;
* ``<uc>_score``, ``<uc>_monitor``, ``<uc>_retrain``: as every use case has them;
* ``<uc>``: ingest, train and score in order.

The factories read ``params:validation``, ``params:features``, ``params:training``, ... A
declared block leaves most of these to be derived, so each pipeline starts with
``resolve_parameters`` (the whole block in, every section typed and complete out) and the
factories' parameter inputs are wired to its outputs (``resolved_<section>``).
"""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node, pipeline

from modelworks.declared.params import params_model_for
from modelworks.declared.schema import DeclaredSpec
from modelworks.declared.tables import build_entity_rows, build_feature_table, take_source_table
from modelworks.params import parse_params, to_plain
from modelworks.pipelines import (
    feature_retrieval_pipeline,
    feature_store_pipeline,
    lifecycle_pipelines,
    validation_pipeline,
)

SECTIONS = ("validation", "features", "training", "registry", "monitoring", "scoring", "retrain")
TRAINING_ROWS = "training_entity_rows"
SCORING_ROWS = "scoring_batch_rows"
SCORING_LABELS = "scoring_batch_labels"
SUFFIXES = ("_ingest", "_train", "_score", "_monitor", "_retrain", "")


def resolve_parameters(block: Any, *, use_case: str) -> dict[str, Any]:
    """Every section of the use case's block, typed, with what the declaration implies.

    A wrong key fails here, before any other node, with the ParameterError naming it.
    """
    typed = parse_params(params_model_for(use_case), block, where=use_case)
    return {
        "resolved_declared": typed.declared,
        **{f"resolved_{name}": value for name, value in typed.resolved().items()},
        # What the lineage records: the block as the run used it, derived keys included.
        "resolved_parameters": {use_case: to_plain(typed)},
    }


def _resolve_node(use_case: str) -> Node:
    func = update_wrapper(partial(resolve_parameters, use_case=use_case), resolve_parameters)
    outputs = ["resolved_declared", *(f"resolved_{s}" for s in SECTIONS), "resolved_parameters"]
    return node(
        func,
        inputs=f"params:{use_case}",
        outputs={name: name for name in outputs},
        name="resolve_parameters",
    )


def _rename(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {key: _rename(item, mapping) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rename(item, mapping) for item in value]
    return value


def _wired(pipe: Pipeline) -> Pipeline:
    """``pipe`` with the factories' parameter inputs read from ``resolve_parameters``."""
    mapping = {f"params:{s}": f"resolved_{s}" for s in SECTIONS}
    mapping["parameters"] = "resolved_parameters"
    # Node._copy keeps each node's function, names, tags and output structure; only the
    # inputs change (kedro.pipeline.pipeline() renames through the same method).
    return Pipeline([n._copy(inputs=_rename(n._inputs, mapping)) for n in pipe.nodes])


def _declared_nodes(spec: DeclaredSpec) -> Pipeline:
    """Sources -> raw tables, and validated tables -> entity rows and feature tables."""
    nodes = [
        node(take_source_table, f"source_{t}", f"raw_{t}", name=f"take_source_table_{t}")
        for t in spec.tables
    ]
    for name, view in spec.feature_views.items():
        func = update_wrapper(partial(build_feature_table, view=name), build_feature_table)
        nodes.append(
            node(
                func,
                [f"validated_{view.table}", "resolved_declared"],
                f"feature_table_{name}",
                name=f"build_feature_table_{name}",
            )
        )
    nodes.append(
        node(
            build_entity_rows,
            [f"validated_{spec.entity_rows.table}", "resolved_declared"],
            [TRAINING_ROWS, SCORING_ROWS, SCORING_LABELS],
            name="build_entity_rows",
        )
    )
    return Pipeline(nodes)


def create_pipelines(use_case: str, spec: DeclaredSpec) -> dict[str, Pipeline]:
    """The standard family of pipelines of the declared use case ``use_case``."""
    resolve = Pipeline([_resolve_node(use_case)])
    ingest = _declared_nodes(spec) + validation_pipeline(list(spec.tables))
    prepare = (
        feature_store_pipeline([f"feature_table_{view}" for view in spec.feature_views])
        + feature_retrieval_pipeline(TRAINING_ROWS, "training_set")
        + feature_retrieval_pipeline(SCORING_ROWS, "scoring_features")
    )
    family = lifecycle_pipelines(
        use_case, ingest=ingest, prepare=prepare, entity_rows=TRAINING_ROWS
    )
    return {name: _namespaced(use_case, resolve + _wired(pipe)) for name, pipe in family.items()}


def _namespaced(use_case: str, pipe: Pipeline) -> Pipeline:
    # The whole block stays ``params:<use_case>``: not ``params:<use_case>.<use_case>``.
    block = f"params:{use_case}"
    return pipeline(pipe, namespace=use_case, parameters={block: block})


def parameter_error_pipelines(use_case: str) -> dict[str, Pipeline]:
    """The family's names for a block whose declaration is invalid: each stops on its first
    node with the ParameterError naming the key (the parameter hook stops it before that)."""
    func = update_wrapper(partial(resolve_parameters, use_case=use_case), resolve_parameters)
    failing = Pipeline(
        [node(func, f"params:{use_case}", "resolved_parameters", name="resolve_parameters")]
    )
    return {f"{use_case}{suffix}": _namespaced(use_case, failing) for suffix in SUFFIXES}
