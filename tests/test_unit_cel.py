"""The CEL subset the local backend evaluates: kfp's conditions and item selectors, as a table."""

import pytest

from kfp_notebook.backends.local.cel import CelError, evaluate


def inputs(**values):
    return {"inputs": {"parameter_values": values}}


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        # conditions kfp writes for dsl.If / Elif / Else
        (
            "int(inputs.parameter_values['pipelinechannel--n-Output']) < 30",
            inputs(**{"pipelinechannel--n-Output": 7}),
            True,
        ),
        (
            "int(inputs.parameter_values['pipelinechannel--n-Output']) < 30",
            inputs(**{"pipelinechannel--n-Output": "42"}),
            False,
        ),
        ("!(int(inputs.parameter_values['x']) < 30) && int(inputs.parameter_values['x']) > 30", inputs(x=31), True),
        ("!(int(inputs.parameter_values['x']) < 30) && !(int(inputs.parameter_values['x']) > 30)", inputs(x=30), True),
        ("inputs.parameter_values['pipelinechannel--flag'] == true", inputs(**{"pipelinechannel--flag": True}), True),
        ("inputs.parameter_values['pipelinechannel--flag'] == true", inputs(**{"pipelinechannel--flag": False}), False),
        ("inputs.parameter_values['pipelinechannel--name'] == 'y'", inputs(**{"pipelinechannel--name": "y"}), True),
        ("inputs.parameter_values['a'] != 'y' || inputs.parameter_values['b'] == 2", inputs(a="y", b=2), True),
        ("double(inputs.parameter_values['p']) >= 0.5", inputs(p="0.5"), True),
        ("string(inputs.parameter_values['p']) == '3'", inputs(p=3.0), True),
        # item selectors (ParallelFor over dicts, outputs of a dict)
        ('parseJson(string_value)["a"]', {"string_value": '{"a": [1, 2]}'}, [1, 2]),
        ('parseJson(string_value)["b"]["c"]', {"string_value": '{"b": {"c": "x"}}'}, "x"),
        ("size(parseJson(string_value))", {"string_value": "[1, 2, 3]"}, 3),
        ("2 in parseJson(string_value)", {"string_value": "[1, 2, 3]"}, True),
        # arithmetic and literals
        ("1 + 2 * 3 - 4 % 3", {}, 6),
        ("7 / 2", {}, 3),
        ("7.0 / 2", {}, 3.5),
        ("-(2 + 3)", {}, -5),
        ("[1, 2][1]", {}, 2),
        ('{"k": 1}["k"]', {}, 1),
        ("null == null", {}, True),
        ("'it\\'s' == \"it's\"", {}, True),
    ],
)
def test_expressions(expression, variables, expected):
    assert evaluate(expression, variables) == expected


@pytest.mark.parametrize(
    ("expression", "variables", "message"),
    [
        ("inputs.parameter_values['missing'] == 1", inputs(), r"no 'missing' in"),
        ("unknown_name == 1", {}, r"unknown name 'unknown_name'"),
        ("matches('a', 'b')", {}, r"the function 'matches' .* is not supported locally"),
        ("int('x') == 1", {}, r"int\('x'\) failed"),
        ("1 <", {}, r"ends too early"),
        ("(1 == 1", {}, r"ends too early|expected"),
        ("1 == 1 )", {}, r"unexpected"),
        ("'a' < 1", {}, r"cannot compare"),
        ("1 # 2", {}, r"cannot read the condition"),
    ],
)
def test_errors_name_the_expression_and_what_is_wrong(expression, variables, message):
    with pytest.raises(CelError, match=message):
        evaluate(expression, variables)
