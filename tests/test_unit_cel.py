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


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'\t'", "\t"),  # a tab as kfp writes it: the character itself
        ("'\\t'", "\t"),
        ('"a\\"b"', 'a"b'),
        ("'it\\'s'", "it's"),
        ("'a\"b'", 'a"b'),
        ('"it\'s"', "it's"),
        ("'\\\\'", "\\"),
        ("'\\a\\b\\f\\n\\r\\v\\?\\`'", "\a\b\f\n\r\v?`"),
        ("'\\x41\\X42'", "AB"),
        ("'\\u00e9\\U0001F600'", "é😀"),
        ("'\\101\\377'", "A\xff"),  # octal escapes are code points in strings
        ("'é\u2028😀\x00'", "é\u2028😀\x00"),
        ("r'\\n\\d'", "\\n\\d"),
        ('R"\\"', "\\"),
        ("'''a\nb'c'''", "a\nb'c"),
        ('"""x\\ty"""', "x\ty"),
        ("r'''\\n\n'''", "\\n\n"),
        ("b'\\xff\\x00a'", b"\xff\x00a"),
        ("b'é'", "é".encode()),
        ("br'\\x'", b"\\x"),
        ("''", ""),
        ("0x1F", 31),
        ("7u", 7),
        ("0x10U", 16),
        ("1e3", 1000.0),
        ("1.5e-1", 0.15),
        (".5", 0.5),
        ("9223372036854775807", 2**63 - 1),
        ("18446744073709551615u", 2**64 - 1),
        ("true", True),
        ("null", None),
    ],
)
def test_literals_read_as_cel_reads_them(literal, value):
    assert evaluate(f"x == {literal}", {"x": value}) is True
    result = evaluate(literal, {})
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("'it's'", r"is not closed|unknown name"),  # a quote kfp did not escape: cel-go refuses it too
        ("'back\\slash'", r"the escape '\\\\s'.*backslash"),
        ("'a\nb'", r"line break"),
        ("'\\ud800'", r"not a Unicode code point"),
        ("'\\x4'", r"escape"),
        ("b'\\u00e9'", r"not allowed in a bytes literal"),
        ("9223372036854775808", r"out of range"),
        ("'open", r"not closed"),
        ("1. == 1", r"unexpected|cannot read"),
    ],
)
def test_literals_cel_refuses_are_refused_with_the_reason(expression, message):
    with pytest.raises(CelError, match=message):
        evaluate(expression, {})


def test_comments_and_heterogeneous_equality():
    assert evaluate("1 == 1.0 // a comment\n && true != 1 && 'a' != 1", {}) is True
    assert evaluate("x == '\t'", {"x": "\t"}) is True


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("int('42')", 42),
        ("int(-3.9)", -3),
        ("double('1_000.5')", 1000.5),
        ("double('inf') > 1e308", True),
        ("bool('T')", True),
        ("bool('False')", False),
    ],
)
def test_conversions_read_strings_as_cel_go_does(expression, expected):
    assert evaluate(expression, {}) == expected


@pytest.mark.parametrize(
    "expression", ["int('3.7')", "int('1_000')", "bool('yes')", "double('1,5')", "int(double('inf'))"]
)
def test_conversions_cel_go_refuses_are_refused(expression):
    with pytest.raises(CelError, match="failed"):
        evaluate(expression, {})
