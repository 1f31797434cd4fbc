"""Every `%kfp` sub-command and flag, given bad values, answers with a plain message: never "unexpectedly"."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from kfp_notebook.commands import KFP
from kfp_notebook.magics.help_texts import KFP_HELP
from kfp_notebook.magics.kfp_commands import COMMANDS

# Tests that run a pipeline first (the `defined` fixture) are marked slow; the others are fast.

BAD_VALUES = ["²", "٣x", "-1", "0", "nan", "inf", "", "no-such-thing", "x" * 300, "a b", "../..", "=", "--"]


def flags_by_command() -> dict[str, list[str]]:
    """The flags each sub-command declares (kfp_notebook/commands.py: the parsers and the help are made from it)."""
    return {name: [flag for option in command.options for flag in option.flags] for name, command in KFP.items()}


def test_the_help_lists_every_sub_command():
    assert set(flags_by_command()) == set(COMMANDS)
    assert all(f"%kfp {name}" in KFP_HELP for name in COMMANDS)


@pytest.fixture
def defined(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("KFP_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    ip.run_line_magic("config", f"KfpMagics.runs_dir = {str(tmp_path / 'runs')!r}")
    ip.run_cell("%%component\ndef double(x: int = 1) -> int:\n    return 2 * x\n")
    ip.run_cell("%%pipeline\ndef twice(x: int = 1):\n    double(x=x)\n")
    ip.run_line_magic("kfp", "run twice")
    return ip


def attempt(ip, line: str, capsys) -> str:
    try:
        ip.run_line_magic("kfp", line)
    except UsageError as exc:
        return str(exc) + capsys.readouterr().out
    return capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_values_for_every_flag_get_a_plain_message(defined, command, capsys):
    lines = [f"{command} {value!r}" if value else command for value in BAD_VALUES]
    for flag in flags_by_command()[command]:
        lines += [f"{command} twice {flag} {value!r}" for value in BAD_VALUES if value]
        lines += [f"{command} double {flag} {value!r}" for value in BAD_VALUES[:3]]
    for line in lines:
        said = attempt(defined, line, capsys)
        assert "unexpectedly" not in said and "Traceback" not in said, (line, said)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("logs no-such-task", r"no task 'no-such-task' in run twice-.*\(tasks: double\)"),
        ("logs double --tail ²", r"--tail '²' must be a whole number"),
        ("run twice --workers ٣", r"--workers '٣' must be a whole number"),
        ("status no-such-run", r"no run 'no-such-run' in .*recent runs: twice-"),
        ("stop no-such-run", r"no run 'no-such-run' in"),
    ],
)
def test_each_reported_case_names_the_value_and_the_fix(defined, line, expected):
    with pytest.raises(UsageError, match=expected):
        defined.run_line_magic("kfp", line)


@pytest.mark.parametrize("default", ["float('nan')", "float('inf')", "-float('inf')"])
def test_a_non_finite_default_is_refused_naming_the_parameter(ip, default):
    ip.run_cell("%%component\ndef scale(x: float = 1.0) -> float:\n    return x\n")
    with pytest.raises(UsageError, match=r"parameter 'factor' of weighted defaults to -?(nan|inf).*finite default"):
        ip.run_cell(f"%%pipeline\ndef weighted(factor: float = {default}):\n    scale(x=factor)\n")
    with pytest.raises(UsageError, match=r"parameter 'x' of scale defaults to"):
        ip.run_cell(f"%%component\ndef scale(x: float = {default}) -> float:\n    return x\n")
        ip.run_cell("%%pipeline\ndef plain():\n    scale()\n")


@pytest.mark.parametrize(("flag", "expected"), [("--gpu", "is not a GPU count"), ("--retries", "is not a retry count")])
@pytest.mark.parametrize("digits", ["²", "١", "٣٣"])
def test_digits_int_refuses_or_that_are_not_ascii_are_refused_plainly(ip, flag, expected, digits):
    with pytest.raises(UsageError, match=f"{flag} '{digits}' {expected}"):
        ip.run_cell(f"%%component {flag} {digits}\ndef one() -> int:\n    return 1\n")
