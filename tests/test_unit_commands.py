"""Commands and options are declared once (kfp_notebook/commands.py): parsers, help, CLI and README agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kfp_notebook import commands
from kfp_notebook.authoring.options import magic_parser
from kfp_notebook.errors import OptionError
from kfp_notebook.headless.cli import parser as cli_parser
from kfp_notebook.magics.help_texts import COMPONENT_HELP, KFP_HELP, PIPELINE_HELP

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-o)\b")


def _plain_code_blocks() -> list[str]:
    """The README's code blocks without a language (usages; ```python and ```bash blocks are examples)."""
    blocks, current = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current = [] if line.strip() == "```" else ["<other>"]
            else:
                blocks += ["\n".join(current)] if current[:1] != ["<other>"] else []
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _usage_blocks() -> dict[str, set[str]]:
    """Every command the README's code blocks show a usage of, with the flags shown for it."""
    found: dict[str, set[str]] = {}
    for block in _plain_code_blocks():
        current = None
        for line in block.splitlines():
            head = re.match(r"\s*(%%component|%%pipeline|%kfp [a-z-]+|kfp-notebook [a-z-]+)\b", line)
            if head:
                current = head.group(1)
                found.setdefault(current, set())
            elif not line.startswith(" ") or current is None:
                current = None
                continue
            text = line.split("#", 1)[0]  # a comment after a usage explains it
            for usage in re.split(r"\s{3,}(?=%kfp )", text):  # two usages on one line
                name = re.match(r"\s*(%%component|%%pipeline|%kfp [a-z-]+|kfp-notebook [a-z-]+)", usage)
                target = name.group(1) if name else current
                found.setdefault(target, set()).update(FLAG.findall(usage))
                if "CONNECTION" in usage:  # the CLI block names %kfp connect's options once
                    found[target] |= _flags(commands.KFP["connect"])
    for prog in found:
        if prog.startswith("kfp-notebook ") and "every command also takes [--json] [--verbose]" in README:
            found[prog] |= {"--json", "--verbose"}
    return found


ALL = {c.prog: c for c in [commands.COMPONENT, commands.PIPELINE, *commands.KFP.values(), *commands.CLI.values()]}


def _flags(command: commands.Command) -> set[str]:
    return {flag for option in command.options for flag in option.flags}


def test_every_usage_in_the_readme_shows_exactly_the_declared_options():
    shown = _usage_blocks()
    wrong = {}
    for prog, flags in shown.items():
        assert prog in ALL, f"the README shows {prog}, which is not a command"
        declared, usage = _flags(ALL[prog]), {option.flags[0] for option in ALL[prog].options}
        if not flags <= declared or not usage <= flags:
            wrong[prog] = {"undeclared": sorted(flags - declared), "not in the README": sorted(usage - flags)}
    assert not wrong, wrong
    undocumented = [prog for prog, c in ALL.items() if c.options and prog not in shown and prog != "%kfp help"]
    assert not undocumented, f"commands with options the README never shows: {undocumented}"


def test_the_component_option_table_lists_every_option():
    table = README.split("## `%%component`", 1)[1].split("\n\n", 3)[2]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    in_table = {flag for row in rows for flag in FLAG.findall(row.split("|")[1])}
    assert in_table == _flags(commands.COMPONENT)


def test_the_readme_names_the_connection_options_the_cli_takes():
    line = next(line for line in README.splitlines() if "CONNECTION is %kfp connect's options" in line)
    following = README.split(line, 1)[1].splitlines()[1]
    assert set(FLAG.findall(following)) == _flags(commands.KFP["connect"])


def test_help_texts_are_made_from_the_declarations():
    for command in commands.KFP.values():
        assert command.usage().split(" [")[0] in KFP_HELP
        for option in command.options:
            assert option.flags[0] in KFP_HELP, (command.prog, option.flags[0])
    assert all(flag in COMPONENT_HELP for flag in _flags(commands.COMPONENT))
    assert all(flag in PIPELINE_HELP for flag in _flags(commands.PIPELINE))
    assert "--ui-host" in KFP_HELP  # the flag %kfp connect accepted while its help did not say so


@pytest.mark.parametrize("name", sorted(commands.CLI))
def test_the_command_line_takes_exactly_the_declared_options(name):
    sub = cli_parser()._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
    taken = {flag for action in sub._actions for flag in action.option_strings} - {"-h", "--help"}
    assert taken == _flags(commands.CLI[name])


@pytest.mark.parametrize("name", sorted(commands.KFP))
def test_each_magic_parser_takes_exactly_the_declared_options(name):
    command = commands.KFP[name]
    built = command.build(magic_parser(command.prog))
    assert {flag for action in built._actions for flag in action.option_strings} == _flags(command)


def test_one_check_per_option_for_every_surface():
    """`--tail 0` was refused by the magic and accepted by the command line: now both read it the same way."""
    logs = commands.KFP["logs"]
    with pytest.raises(OptionError, match=r"--tail '0' must be a whole number of at least 1"):
        logs.checked(logs.build(magic_parser(logs.prog)).parse_line("train --tail 0"))
    cli = cli_parser().parse_args(["logs", "train", "--tail", "0"])
    with pytest.raises(OptionError, match=r"--tail '0' must be a whole number of at least 1"):
        commands.CLI["logs"].checked(cli)
    assert commands.CLI["logs"].checked(cli_parser().parse_args(["logs", "train", "--tail", "5"])).tail == 5


def test_a_magic_suggests_the_declared_spelling():
    run = commands.KFP["run"]
    with pytest.raises(OptionError, match="Did you mean --workers"):
        run.build(magic_parser(run.prog)).parse_line("--workrs 2")
