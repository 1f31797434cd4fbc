"""Every command and option users type, declared once: the magics' parsers, their help, the CLI's arguments.

`%%component`, `%%pipeline`, each `%kfp` sub-command and each `kfp-notebook` sub-command is a
`Command` made of shared `Option`s, so a flag's spelling, value name, help and check exist in one
place. The README's usage blocks and option table are checked against these declarations by a test.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kfp_notebook.backends.defaults import DEFAULT_EXPERIMENT, DEFAULT_LOG_LINES, DEFAULT_RUNS_FOLDER

Check = Callable[[str, str], Any]  # (text, flag) → value, or raise OptionError
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def _escaped(text: str) -> str:
    """Help text as argparse wants it (it %-formats help strings)."""
    return text.replace("%", "%%")


def _whole_at_least_one(text: str, flag: str) -> int:
    from kfp_notebook.authoring.options import worker_count

    count = worker_count(text, flag)
    assert count is not None
    return count


@dataclass(frozen=True)
class Option:
    """One flag: its spellings, the value it takes (None: a switch), what it does, and how its value is checked."""

    flags: tuple[str, ...]
    help: str
    metavar: str | None = None  # None: a switch, no value
    repeat: bool = False  # may be given several times (values accumulate)
    many: bool = False  # takes one or more values at once (`--packages a b`)
    choices: tuple[str, ...] | None = None
    check: Check | None = None
    default: Any = None

    @property
    def name(self) -> str:
        return self.flags[-1]

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    def usage(self) -> str:
        if self.metavar is None:
            return f"[{self.flags[0]}]"
        value = "|".join(self.choices) if self.choices else self.metavar
        text = f"{self.flags[0]} {value}" + (f" [{self.metavar} ...]" if self.many else "")
        return f"[{text}]" + ("..." if self.repeat else "")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.metavar is None:
            parser.add_argument(*self.flags, action="store_true", help=self.help)
        elif self.many:
            parser.add_argument(
                *self.flags, nargs="+", action="extend", default=[], metavar=self.metavar, help=self.help
            )
        elif self.repeat:
            parser.add_argument(*self.flags, action="append", default=[], metavar=self.metavar, help=self.help)
        else:
            parser.add_argument(*self.flags, metavar=self.metavar, choices=self.choices, default=self.default,
                                help=self.help)  # fmt: skip


@dataclass(frozen=True)
class Argument:
    """A positional argument."""

    name: str
    help: str
    optional: bool = True
    many: bool = False
    metavar: str | None = None  # as shown in usages (default: the name in capitals)

    def usage(self) -> str:
        shown = (self.metavar or self.name.upper()) + (" ..." if self.many else "")
        return f"[{shown}]" if self.optional else shown

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        nargs = "*" if self.many else ("?" if self.optional else None)
        parser.add_argument(self.name, nargs=nargs, help=_escaped(self.help))


@dataclass(frozen=True)
class Command:
    """A command: its name as typed (`%kfp run`, `kfp-notebook run`), what it does, its arguments and options."""

    prog: str
    summary: str
    arguments: tuple[Argument, ...] = ()
    options: tuple[Option, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.prog.split()[-1]

    def flags(self) -> set[str]:
        return {flag for option in self.options for flag in option.flags if flag.startswith("--")}

    def usage(self) -> str:
        return " ".join([self.prog, *(a.usage() for a in self.arguments), *(o.usage() for o in self.options)])

    def build(self, parser: Parser) -> Parser:
        for argument in self.arguments:
            argument.add_to(parser)
        for option in self.options:
            option.add_to(parser)
        return parser

    def checked(self, namespace: argparse.Namespace) -> argparse.Namespace:
        """Apply each option's check to its value (once parsed, so every surface gives the same message)."""
        for option in self.options:
            value = getattr(namespace, option.dest, None)
            if option.check is not None and value is not None:
                setattr(namespace, option.dest, option.check(str(value), option.name))
        return namespace


def _index(text: str, flag: str) -> int:
    from kfp_notebook.errors import OptionError

    if not (text.isascii() and text.isdigit()):  # '²' and '٣' are digits to str.isdigit, not to int()
        raise OptionError(f"{flag} {text!r} is not an iteration index (0 for the first item, 1, 2, ...)")
    return int(text)


# -- options shared by several commands -----------------------------------------------------------------

PARAM = Option(("--param",), "a pipeline parameter, typed by the pipeline", "NAME=VALUE", repeat=True)
NO_WAIT = Option(("--no-wait",), "return once the run has started instead of following it")
WORKERS = Option(("--workers",), "tasks run at once (default: one per CPU)", "N", check=_whole_at_least_one)
NO_CACHE = Option(("--no-cache",), "run every task again (no outputs reused from earlier runs)")
PIPELINE_ROOT = Option(("--pipeline-root",), "where output artifacts go: s3://bucket/prefix, gs://..., minio://..., "
                       "or a local folder (default: the runs folder)", "URI")  # fmt: skip
EXPERIMENT = Option(("--experiment",), f"the Kubeflow experiment (default: {DEFAULT_EXPERIMENT})", "NAME")
RUN_NAME = Option(("--run-name",), "the run's name in Kubeflow", "NAME")
SKIP_CHECKS = Option(("--skip-checks",), "submit even when a secret, key or PVC it mounts looks missing")
RUN = Option(("--run",), "the run id (default: the latest run)", "RUN")
TAIL = Option(("--tail",), f"only the last N lines (default: {DEFAULT_LOG_LINES})", "N", check=_whole_at_least_one)
FOLLOW = Option(("--follow",), "stream the log until the task ends")
NAMESPACE = Option(("--namespace",), "the Kubernetes namespace (a Kubeflow profile)", "NS")
HOST = Option(("--host",), "the Pipelines API, e.g. http://localhost:8080/pipeline", "URL")
AUTH = Option(("--auth",), "how to authenticate (token, cookie, password: from the environment or a prompt)", "KIND",
              choices=("none", "token", "cookie", "sa", "dex"))  # fmt: skip
USER = Option(("--user",), "the Dex login's e-mail (with --auth dex)", "EMAIL")
CA_CERT = Option(("--ca-cert",), "a CA bundle to verify TLS with", "PATH")
UI_HOST = Option(("--ui-host",), "the KFP UI's address, when it is not the API's (run links, logs, artifacts)", "URL")
INSECURE = Option(("--insecure",), "do not verify TLS (test clusters only)")
CONNECTION = (HOST, NAMESPACE, AUTH, USER, CA_CERT, UI_HOST, INSECURE)

# -- the cell magics --------------------------------------------------------------------------------------

COMPONENT = Command("%%component", "turn the function in this cell into a component", options=(
    Option(("--name",), "the function that becomes the component (when the cell has several)", "NAME"),
    Option(("--base-image",), "the container image (default: kfp's)", "IMAGE"),
    Option(("--packages",), "pip packages to install in the container; `auto` pins the imports", "PKG", many=True),
    Option(("--pip-index-url",), "a package index", "URL", repeat=True),
    Option(("--cpu",), "CPU request of every task (500m, 2)", "Q"),
    Option(("--cpu-limit",), "CPU limit", "Q"),
    Option(("--memory",), "memory request (1G, 2Gi)", "Q"),
    Option(("--memory-limit",), "memory limit", "Q"),
    Option(("--gpu",), "accelerators per task", "N"),
    Option(("--gpu-type",), "accelerator type (default: nvidia.com/gpu)", "TYPE"),
    Option(("--env",), "an environment variable of every task", "NAME=VALUE", repeat=True),
    Option(("--secret",), "a Kubernetes secret's key as an environment variable", "SECRET:KEY=ENVVAR", repeat=True),
    Option(("--volume",), "an existing PVC mounted in every task", "PVC:/mount/path", repeat=True),
    Option(("--retries",), "retries of a failed task", "N"),
    Option(("--no-cache",), "never reuse this component's outputs"),
    Option(("--display-name",), "the tasks' name in the UI", "TEXT"),
    Option(("--output-component-file",), "also write the component's YAML", "PATH"),
    Option(("--freeze",), "ship the current value of a computed literal", "NAME", repeat=True),
))  # fmt: skip

PIPELINE = Command("%%pipeline", "turn the function in this cell into a pipeline", options=(
    Option(("--name",), "the pipeline's name (default: the function's)", "NAME"),
    Option(("--description",), "its description (default: the docstring)", "TEXT"),
    Option(("--output",), "compile it to this file right away", "FILE.yaml"),
))  # fmt: skip

# -- %kfp -----------------------------------------------------------------------------------------------

_PIPELINE_ARG = Argument("pipeline", "a pipeline of this kernel (default: the latest)")
_RUN_ARG = Argument("run", "a run id (default: the latest)")

KFP = {
    c.name: c
    for c in (
        Command("%kfp compile", "compile a pipeline (the latest by default) to PIPELINE.yaml", (_PIPELINE_ARG,),
                (Option(("-o", "--output"), "the file to write", "FILE"),)),
        Command("%kfp run", "run it on this machine, showing task states live (a COMPONENT instead runs on its own, "
                "as a one-task pipeline)", (_PIPELINE_ARG,),
                (PARAM, NO_WAIT, WORKERS, NO_CACHE, PIPELINE_ROOT)),
        Command("%kfp runs", "the runs of a pipeline, here and when connected on Kubeflow: state, times, "
                "parameters, metrics", (_PIPELINE_ARG,)),
        Command("%kfp compare", "runs side by side (the last 5 of the latest pipeline by default): differing "
                "parameters, best metrics, a plot per metric", (Argument("runs", "run ids", many=True, metavar="RUN"),),
                (Option(("--last",), "the last N runs", "N", check=_whole_at_least_one),
                 Option(("--by",), "plot metrics against this parameter", "PARAM"),
                 Option(("-o", "--output"), "write the comparison (.csv or .md)", "FILE"))),
        Command("%kfp show-artifact", "a task's artifacts drawn: confusion matrix, ROC, Markdown, HTML, dataset "
                "preview, model files", (Argument("target", "TASK or TASK.OUTPUT", metavar="TASK[.OUTPUT]"),), (RUN,)),
        Command("%kfp logs", "a task's output so far (of the latest run by default)",
                (Argument("task", "the task's name or id"),), (RUN, TAIL, FOLLOW)),
        Command("%kfp debug", "call a task's function here with the inputs it got in a run (the latest by default; "
                "outputs go to ./kfp_debug); on an exception the debugger opens", (Argument("task", "the task's "
                "name or id", optional=False),), (RUN, Option(("--item",), "the ParallelFor iteration (its index)",
                "N", check=_index), Option(("--current",), "call the kernel's current definition of the component, "
                "not the source the run shipped"), Option(("--no-pdb",), "do not open the debugger"))),
        Command("%kfp stop", "stop a running run (the latest by default); a run of another kernel, or LOST: "
                "what is left of it", (_RUN_ARG,)),
        Command("%kfp retry", "run again what did not succeed in a failed or canceled run (the latest by default), "
                "reusing the outputs of every task that succeeded; on Kubeflow the server retries the run in place",
                (Argument("run", "a run id (default: the latest failed or canceled run)"),), (NO_WAIT,)),
        Command("%kfp connect", "connect to Kubeflow Pipelines (secrets from the environment or a prompt); --ui-host: "
                "the KFP UI for links and logs (else $KF_PIPELINES_UI_ENDPOINT); settings are remembered",
                options=CONNECTION),
        Command("%kfp submit", "upload, create a run on Kubeflow, follow it live (refused first when a secret, "
                "key or PVC it mounts is missing)", (_PIPELINE_ARG,), (EXPERIMENT, RUN_NAME, PARAM, NO_WAIT,
                                                                       SKIP_CHECKS)),
        Command("%kfp doctor", "check the KFP API, auth, the namespace and what the pipeline needs there: "
                "OK/WARN/FAIL", (_PIPELINE_ARG,), (NAMESPACE,)),
        Command("%kfp status", "the states of a run (runs of other kernels from their folder)", (_RUN_ARG,)),
        Command("%kfp show", "the pipeline's panel: DAG, Compile / Run / Submit / Stop, live states", (_PIPELINE_ARG,)),
        Command("%kfp list", "the components and pipelines this kernel defined"),
        Command("%kfp help", "this text"),
    )
}  # fmt: skip


def kfp_help() -> str:
    """`%kfp help` and `%kfp?`: every sub-command's usage and what it does, from the declarations."""
    lines = ["%kfp SUBCOMMAND ...", ""]
    for command in KFP.values():
        usage = textwrap.wrap(command.usage(), 100, subsequent_indent="          ", break_on_hyphens=False)
        lines += ["  " + line for line in usage]
        lines += ["        " + line for line in textwrap.wrap(command.summary, 96)]
    return "\n".join(lines) + "\n"


def cell_usage(command: Command) -> str:
    """The usage block of `%%component?` / `%%pipeline?`."""
    return "\n".join(textwrap.wrap(command.usage(), 100, subsequent_indent=" " * (len(command.prog) + 1),
                                   break_on_hyphens=False))  # fmt: skip


# -- kfp-notebook (the command line) -------------------------------------------------------------------

JSON = Option(("--json",), "print one machine-readable JSON document")
KERNEL = Option(
    ("--kernel",),
    "execute the cells in a fresh Jupyter kernel of that name (default: in the command's "
    "own process, as a kernel would)",
    "NAME",
)
VERBOSE = Option(("--verbose",), "show the notebook's output and kernel tracebacks")
TIMEOUT = Option(("--timeout",), "seconds one cell may run (default: 600)", "SECONDS", check=_whole_at_least_one,
                 default="600")  # fmt: skip
RUNS_DIR = Option(("--runs-dir",), f"runs folder (default: $KFP_NOTEBOOK_RUNS, else {DEFAULT_RUNS_FOLDER})", "DIR")
KUBEFLOW = Option(("--kubeflow",), "from Kubeflow (connected as for submit)")
_NOTEBOOK = Argument("notebook", "the .ipynb file (never modified)", optional=False)
_CLI_PIPELINE = Argument("pipeline", "the pipeline's function name (default: the last one defined)")

CLI = {
    c.name: c
    for c in (
        Command("kfp-notebook compile", "compile a pipeline to YAML (byte-identical to %kfp compile)",
                (_NOTEBOOK, _CLI_PIPELINE), (Option(("-o", "--output"), "FILE.yaml, or a folder (default: .)",
                                                    "FILE|DIR"), KERNEL, TIMEOUT, JSON, VERBOSE)),
        Command("kfp-notebook run", "run a pipeline on this machine", (_NOTEBOOK, _CLI_PIPELINE),
                (PARAM, WORKERS, NO_CACHE, PIPELINE_ROOT, RUNS_DIR, TIMEOUT, JSON, VERBOSE)),
        Command("kfp-notebook submit", "submit a run to Kubeflow", (_NOTEBOOK, _CLI_PIPELINE),
                (PARAM, EXPERIMENT, RUN_NAME, NO_WAIT, SKIP_CHECKS, *CONNECTION, TIMEOUT, JSON, VERBOSE)),
        Command("kfp-notebook runs", "recent runs (local, or --kubeflow)", (Argument("pipeline", "only this "
                "pipeline's runs"),), (RUNS_DIR, KUBEFLOW, *CONNECTION, JSON, VERBOSE)),
        Command("kfp-notebook logs", "a task's log (local, or --kubeflow)", (Argument("task", "the task's name "
                "(or id)", optional=False),), (RUN, TAIL, RUNS_DIR, KUBEFLOW, *CONNECTION, JSON, VERBOSE)),
        Command("kfp-notebook stop", "stop a local run, whichever kernel runs it", (Argument("run", "the run id "
                "(kfp-notebook runs lists them)", optional=False),), (RUNS_DIR, JSON, VERBOSE)),
        Command("kfp-notebook doctor", "check KFP, the cluster and what a pipeline needs",
                (Argument("notebook", "the .ipynb file (never modified)"), _CLI_PIPELINE),
                (*CONNECTION, TIMEOUT, JSON, VERBOSE)),
    )
}  # fmt: skip
