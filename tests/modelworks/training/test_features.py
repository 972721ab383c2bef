import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from modelworks.training import FeatureSpec
from modelworks.training.features import categorical_as_strings


def test_columns_are_numeric_then_categorical():
    spec = FeatureSpec(numeric=["b", "a"], categorical=["c"])
    assert spec.columns == ["b", "a", "c"]


def test_a_name_in_both_lists_is_rejected():
    with pytest.raises(ValidationError, match="repeated: \\['a'\\]"):
        FeatureSpec(numeric=["a"], categorical=["a"])


def test_unknown_keys_are_rejected():
    with pytest.raises(ValidationError, match="numerics"):
        FeatureSpec.model_validate({"numerics": ["a"]})


def test_select_orders_columns_drops_extras_and_reads_numeric_as_float():
    frame = pd.DataFrame({"c": ["x"], "extra": [0], "a": pd.array([1], dtype="Int64")})
    selected = FeatureSpec(numeric=["a"], categorical=["c"]).select(frame)
    assert list(selected.columns) == ["a", "c"]
    assert selected["a"].dtype == np.float64


def test_select_names_every_missing_column():
    with pytest.raises(ValueError, match=r"missing feature columns: \['a', 'c'\]"):
        FeatureSpec(numeric=["a", "b"], categorical=["c"]).select(pd.DataFrame({"b": [1.0]}))


def test_select_names_a_numeric_column_that_is_not_numeric():
    with pytest.raises(ValueError, match="numeric feature 'a'"):
        FeatureSpec(numeric=["a"]).select(pd.DataFrame({"a": ["high"]}))


def test_categorical_codes_read_the_same_whatever_the_dtype():
    as_int = categorical_as_strings(pd.Series([3, 1, 3]))
    as_float_with_gap = categorical_as_strings(pd.Series([3.0, np.nan, 1.0]))
    as_category = categorical_as_strings(pd.Series(["b", None, "a"], dtype="category"))
    assert as_int.tolist() == ["3", "1", "3"]
    assert as_float_with_gap.iloc[[0, 2]].tolist() == ["3", "1"]
    assert pd.isna(as_float_with_gap.iloc[1])
    assert as_category.iloc[[0, 2]].tolist() == ["b", "a"]
    assert pd.isna(as_category.iloc[1])
