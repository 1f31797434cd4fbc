"""Output parameters read as KFP's launcher reads them (TextToPbValue, protobuf JSON), as a table."""

import math

import pytest

from kfp_notebook.backends.local.go_strconv import go_parse_float
from kfp_notebook.backends.local.output_values import (
    OutputValueError,
    as_received,
    driver_mismatch,
    file_output,
    missing_output,
    read_file_value,
    returned_output,
)

N, D, B, S, L, M = "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "STRING", "LIST", "STRUCT"


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        # STRING: as it is, nothing trimmed
        ("False", S, "False"),
        (" a b \n", S, " a b \n"),
        ("", S, ""),
        ("héllo\t", S, "héllo\t"),
        # NUMBER_INTEGER: strconv.ParseInt of the trimmed text, then a double
        ("3", N, 3),
        (" -12\n", N, -12),
        ("+7", N, 7),
        ("007", N, 7),
        ("9223372036854775807", N, 9223372036854775808),  # float64(int64 max), as the next task receives it
        ("9007199254740993", N, 9007199254740992),  # beyond 2**53: the nearest double
        ("\u00a05\u2003", N, 5),  # Go trims Unicode spaces
        # NUMBER_DOUBLE: strconv.ParseFloat
        ("0.5", D, 0.5),
        ("2", D, 2),  # an integral double arrives as an int
        ("2.0", D, 2),
        (" 1e-3 ", D, 0.001),
        ("1E+21", D, 1e21),  # from 1e21 on protobuf JSON writes an exponent: a float arrives
        (".5", D, 0.5),
        ("5.", D, 5),
        ("1_000.5", D, 1000.5),  # Go's literal syntax allows underscores between digits
        ("0x1p-2", D, 0.25),  # hexadecimal with its p exponent
        ("0x1.8p1", D, 3),
        ("-0x_1p0", D, -1),
        ("inf", D, math.inf),
        ("-Infinity", D, -math.inf),
        ("+INF", D, math.inf),
        ("1e-400", D, 0),  # underflow is zero, no error
        # BOOLEAN: strconv.ParseBool
        *[(t, B, True) for t in ("1", "t", "T", "TRUE", "true", "True", " True\n")],
        *[(t, B, False) for t in ("0", "f", "F", "FALSE", "false", "False", "False\n")],
        # LIST / STRUCT: JSON of that kind
        ('[1, 2.0, "a", true, null]', L, [1, 2, "a", True, None]),
        (' {"a": {"b": [1.5]}} \n', M, {"a": {"b": [1.5]}}),
        ("[]", L, []),
        ("{}", M, {}),
    ],
)
def test_a_file_is_read_by_its_declared_type(text, kind, expected):
    value = read_file_value(text, kind)
    assert value == expected
    assert type(value) is type(expected)


def test_nan_is_a_go_float():
    assert math.isnan(read_file_value("NaN", D))
    assert math.isnan(read_file_value(" nan\n", D))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("3.7", N),  # Python's int(float()) would give 3
        ("true", N),
        ("1_000", N),  # ParseInt with base 10 takes no underscores
        ("", N),
        ("0x10", N),
        ("9223372036854775808", N),  # beyond int64
        ("1 000", N),
        ("\x1c5", N),  # Python strips \x1c, Go does not
        ("\ufeff5", N),  # a byte order mark is not space
        ("true", D),
        ("", D),
        ("1e400", D),  # out of range
        ("-nan", D),  # only unsigned NaN
        ("infinit", D),
        ("1__0", D),
        ("_1", D),
        ("1_", D),
        ("1_.5", D),
        ("0x10", D),  # hexadecimal needs its p exponent
        ("1e", D),
        ("1,5", D),
        ("½", D),
        ("٣", D),  # Python's float reads Arabic-Indic digits; Go does not
        ("yes", B),
        ("tRUE", B),
        ("on", B),
        ("", B),
        ("2", B),
        ('{"a": 1}', L),
        ("[1, 2", L),
        ("'[1]'", L),
        ("[NaN]", L),
        ("[1e400]", L),
        ("[1]", M),
        ('{"a": 1, "a": 2}', M),  # protobuf's JSON reader refuses a repeated key
        ('{"a": "\\ud800"}', M),
    ],
)
def test_anything_else_cannot_be_read(text, kind):
    with pytest.raises(ValueError):
        read_file_value(text, kind)


def test_the_message_names_the_output_the_text_and_the_type():
    with pytest.raises(OutputValueError) as caught:
        file_output("count", b"3.7", N)
    message = str(caught.value)
    assert "'count'" in message and "'3.7'" in message and "int" in message and "str(n)" in message


def test_a_file_that_is_not_utf8_is_refused_naming_the_output():
    with pytest.raises(OutputValueError, match="'blob'"):
        file_output("blob", b"\xff\xfe", S)


def test_an_empty_int_file_names_the_output():
    with pytest.raises(OutputValueError, match=r"output 'n' \(int\) holds ''"):
        file_output("n", b"", N)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (3.0, 3),
        (2.5, 2.5),
        (True, True),
        (10**21, 1e21),
        (2**53 + 1, 2**53),
        ("3", "3"),
        ([1.0, {"a": 2.0}], [1, {"a": 2}]),
        (None, None),
    ],
)
def test_returned_values_arrive_as_protobuf_json_gives_them(value, expected):
    received = returned_output("Output", value)
    assert received == expected
    assert type(received) is type(expected)


@pytest.mark.parametrize("value", [math.nan, math.inf, [1, -math.inf], {"a": math.nan}, 10**400, "\udc80"])
def test_a_returned_value_protobuf_json_cannot_hold_fails(value):
    with pytest.raises(OutputValueError, match="'Output'"):
        returned_output("Output", value)


def test_the_missing_output_message_names_the_output_and_the_file():
    message = str(missing_output("flag", "/x/outputs/flag"))
    assert "'flag'" in message and "/x/outputs/flag" in message and "os._exit" in message


def test_as_received_keeps_strings_and_bools():
    assert as_received({"a": [True, "1.0"]}) == {"a": [True, "1.0"]}
    assert go_parse_float("-0") == 0


def test_outputs_cached_under_an_earlier_way_of_reading_are_not_reused(monkeypatch):
    from kfp_notebook.backends.local import cache

    key = cache.cache_key({"c": 1}, {"x": 1}, {})
    monkeypatch.setattr(cache, "OUTPUTS_READ_AS", "loose")
    assert cache.cache_key({"c": 1}, {"x": 1}, {}) != key


def test_a_function_returning_none_for_a_declared_output_fails_it(tmp_path):
    from kfp_notebook.backends.local.executor import Outcome, TaskRun, _outputs

    task = TaskRun(tmp_path, None, {}, {}, {"Output": "STRING"}, {}, tmp_path)  # type: ignore[arg-type]
    (tmp_path / "executor_output.json").write_text("{}")
    outcome = _outputs(task, {"outputs": {"outputFile": str(tmp_path / "executor_output.json")}})
    assert outcome == Outcome(False, message=str(missing_output("Output", str(tmp_path / "outputs" / "Output"))))


@pytest.mark.parametrize(
    ("value", "kind", "refused"),
    [
        (3, N, None),
        (2.5, N, None),  # a number is a number: the driver passes 2.5 to an int input
        (True, N, "bool"),
        ("3", N, "string"),
        (1, B, "number"),
        (False, B, None),
        ({"a": 1}, L, "struct"),
        ([], M, "list"),
        (None, M, "null"),
        (7, S, None),  # a string input takes any value, as its text
        ({"state": "COMPLETE"}, "TASK_FINAL_STATUS", None),
    ],
)
def test_the_driver_refuses_an_input_of_another_kind(value, kind, refused):
    assert driver_mismatch(value, kind) == refused
