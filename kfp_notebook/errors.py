"""User-facing error types: one clear message, the bad value, what is valid, what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class KfpNotebookError(Exception):
    """Base class of every error a user should read (shown without a traceback inside magics)."""


class OptionError(KfpNotebookError, ValueError):
    """A magic option or API argument has a bad value."""


class ParameterValueError(OptionError):
    """A pipeline parameter's text is not a value of its type; the parameter and the problem are kept apart.

    The message is for the line magic (`--param n='x' is not an integer (example: --param n=3)`); the
    panel shows `problem` at the field `name`.
    """

    def __init__(self, name: str, problem: str, example: str):
        self.name, self.problem, self.example = name, problem, example
        super().__init__(f"--param {name}={problem} (example: --param {name}={example})")


class CellError(KfpNotebookError):
    """Something in a cell's code is wrong; carries the line inside the cell when known."""

    def __init__(self, message: str, line: int | None = None, code: str | None = None):
        self.line = line
        self.code = code
        super().__init__(self._format(message, line, code))

    @staticmethod
    def _format(message: str, line: int | None, code: str | None) -> str:
        if line is None:
            return message
        where = f"line {line} of the cell"
        if code:
            where += f": {code.strip()}"
        return f"{where}\n{message}"


class ComponentError(CellError):
    """A %%component cell cannot become a component."""


class StaleComponentError(ComponentError):
    """A component carries notebook definitions that changed since its cell ran, and cannot be rebuilt soundly."""


class PipelineError(CellError):
    """A %%pipeline cell cannot become a pipeline."""


class CompileError(KfpNotebookError):
    """kfp's compiler rejected a pipeline or a file could not be written."""


class UnknownNameError(KfpNotebookError, LookupError):
    """A component or pipeline name that this kernel has not defined."""


class RetryRefused(KfpNotebookError):
    """A run that cannot be retried: it succeeded (nothing to retry), it is still running, or its server refused."""


#: Where the user reads our messages: "notebook" (magics, the Python API) or "command" (the kfp-notebook command).
_AUDIENCE = {"where": "notebook"}


def speak_to_command_line() -> None:
    """From now on messages advise the kfp-notebook command's flags (`--runs-dir`) instead of `%config`."""
    _AUDIENCE["where"] = "command"


@contextmanager
def command_line_audience() -> Iterator[None]:
    """Messages advise the command's flags while the block runs (the kfp-notebook command in this process)."""
    before = _AUDIENCE["where"]
    _AUDIENCE["where"] = "command"
    try:
        yield
    finally:
        _AUDIENCE["where"] = before


def advice(in_notebook: str, on_command_line: str) -> str:
    """The advice that fits where the user reads the message."""
    return on_command_line if _AUDIENCE["where"] == "command" else in_notebook
