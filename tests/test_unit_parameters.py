"""Pipeline parameter values are checked, not converted: the Python API, `--param` text and the form, as tables."""

from typing import Optional

import pytest
from kfp import dsl

from kfp_notebook.errors import OptionError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.ir.parameters import coerce, parameter_text, parse_parameter, pipeline_parameters, protobuf_json


# kfp reads `Optional[str]`, not `str | None`
@dsl.component(base_image="python:3.11")
def take(i: int, f: float, b: bool, s: str, items: list, mapping: dict, note: Optional[str] = None):  # noqa: UP045
    pass


@dsl.pipeline
def typed(i: int, f: float, b: bool, s: str, items: list, mapping: dict, note: Optional[str] = None):  # noqa: UP045
    take(i=i, f=f, b=b, s=s, items=items, mapping=mapping, note=note)


GOOD = {"i": 2, "f": 0.5, "b": True, "s": "x", "items": [1], "mapping": {"a": 1}}


@pytest.fixture(scope="module")
def ir():
    return PipelineIR.from_pipeline(typed)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("i", 2, 2),
        ("f", 2, 2.0),  # an int is a number
        ("f", 0.25, 0.25),
        ("b", False, False),
        ("s", "", ""),
        ("items", (1, 2), [1, 2]),
        ("items", [1.0, "a"], [1, "a"]),
        ("mapping", {"k": [True]}, {"k": [True]}),
        ("i", "7", 7),  # text, as --param gives it, is parsed
        ("b", "false", False),
        ("note", None, "absent"),  # None where None is the default: the default stands
    ],
)
def test_values_of_the_declared_type_are_taken(ir, name, value, expected):
    values = pipeline_parameters(ir, {**GOOD, name: value})
    assert values.get(name, "absent") == expected
    assert type(values.get(name, "absent")) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("i", 2.7, "'i' of typed is an integer, not 2.7 (float)"),
        ("i", 2.0, "not 2.0 (float)"),
        ("i", True, "not True (bool)"),
        ("f", True, "not True (bool)"),
        ("f", float("nan"), "not nan (float)"),
        ("b", 1, "'b' of typed is true or false, not 1 (int)"),
        ("b", 0, "not 0 (int)"),
        ("s", None, "'s' of typed is a string, not None (NoneType)"),
        ("s", 3, "not 3 (int)"),
        ("items", {"a": 1}, "is a JSON list"),
        ("items", [object()], "is a JSON list"),
        ("mapping", [1], "is a JSON object"),
        ("mapping", {"x": float("inf")}, "is a JSON object"),
        ("i", "2.7", "--param i='2.7' is not an integer"),
        ("f", "NaN", "--param f='NaN' is not a number"),
        ("f", "1e400", "--param f='1e400' is not a number"),
        ("f", "Infinity", "is not a number"),
        ("b", "yes", "is not true or false"),
    ],
)
def test_values_of_another_type_are_refused_with_one_message(ir, name, value, words):
    with pytest.raises(OptionError) as caught:
        pipeline_parameters(ir, {**GOOD, name: value})
    assert words in str(caught.value)
    assert "example" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "kind"), [("1e400", "NUMBER_DOUBLE"), ("NaN", "NUMBER_DOUBLE"), ("3.0", "NUMBER_INTEGER")]
)
def test_the_form_and_param_refuse_what_the_api_refuses(text, kind):
    with pytest.raises(OptionError):
        parse_parameter("x", text, kind)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.0, 3), (1e21, 1e21), (1e300, 1e300), (10**22, 1e22), (2.5, 2.5), (True, True), ([2.0], [2]), ("3.0", "3.0")],
)
def test_numbers_travel_as_protobuf_json_writes_doubles(value, expected):
    received = protobuf_json(value)
    assert received == expected and type(received) is type(expected)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a b", "a b"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (3.0, "3"),
        (-0.5, "-0.5"),
        (1e-07, "0.0000001"),  # Go's FormatFloat(v, 'f', -1): never an exponent
        (1e21, "1000000000000000000000"),
        (2**60, "1152921504606847000"),  # a double's shortest digits
        (0.1, "0.1"),
        ([1, 2.0, "a"], '[1,2,"a"]'),
        ({"b": 1, "a": [True]}, '{"a":[true],"b":1}'),
    ],
)
def test_values_become_text_as_the_launcher_writes_them(value, text):
    assert parameter_text(value) == text
    assert coerce(value, "STRING") == text
