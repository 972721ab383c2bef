"""Tabular use cases declared in YAML alone: one ``conf/base/parameters/<name>.yml`` whose
``declared:`` block names the source tables, the entity rows and label, and the Feast views.

* ``schema``: the ``declared:`` block (``DeclaredSpec``); ``params``: the whole parameter
  block, with what the declaration implies derived (``DeclaredUseCaseParams``);
* ``discovery``: a top-level block with ``declared:`` is a use case (``use_cases`` asks);
* ``pipeline``: the standard pipeline family, from the framework's factories;
* ``tables``: entity rows and feature tables; ``definitions``: the Feast objects;
* ``datasets``: source tables read from a project file or an installed package;
* ``scaffold``: ``modelworks new NAME --task TASK``.
"""

from modelworks.declared.params import DeclaredUseCaseParams, params_model_for
from modelworks.declared.schema import DeclaredSpec

__all__ = ["DeclaredSpec", "DeclaredUseCaseParams", "params_model_for"]
