"""The kfp-notebook command: compile, run, submit, runs, logs, stop and doctor for a notebook, from a terminal or CI.

Exit codes: 0 success, 1 the run failed (or the doctor found a FAIL), 2 a usage or notebook error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_notebook.commands import CLI, CONNECTION
from kfp_notebook.errors import KfpNotebookError, command_line_audience
from kfp_notebook.tracking import strict_json
from kfp_notebook.tracking.states import TaskState

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Output:
    """Results on stdout (text, or one JSON document with --json); progress and errors on stderr."""

    def __init__(self, as_json: bool, verbose: bool):
        self.as_json, self.verbose = as_json, verbose
        self.live = sys.stderr.isatty()
        self._partial = ""

    def progress(self, text: str) -> None:
        if self.live:
            sys.stderr.write(f"\r\x1b[K{text[:150]}")
        else:
            sys.stderr.write(f"{text}\n")
        sys.stderr.flush()

    def end_progress(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")

    def kernel_text(self, text: str) -> None:
        """What the kernel printed: progress lines shown, the notebook's own prints only with --verbose."""
        from kfp_notebook.headless.kernel import PROGRESS, RESULT

        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.startswith(PROGRESS):
                self.progress(line[len(PROGRESS) :])
            elif self.verbose and not line.startswith(RESULT):
                sys.stderr.write(f"{line}\n")

    def result(self, data: Any, text: str) -> None:
        self.end_progress()
        print(strict_json.dumps(data, indent=2) if self.as_json else text)

    def error(self, message: str, details: str = "") -> None:
        self.end_progress()
        if self.verbose and details:
            sys.stderr.write(f"{details}\n")
        sys.stderr.write(f"kfp-notebook: {message}\n")
        if self.as_json:
            print(strict_json.dumps({"error": message}))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    output = Output(args.json, args.verbose)
    try:
        with command_line_audience():
            return int(COMMANDS[args.command](CLI[args.command].checked(args), output))
    except KfpNotebookError as exc:
        output.error(str(exc), getattr(exc, "traceback", ""))
        return EXIT_USAGE
    except KeyboardInterrupt:
        output.error("interrupted: a local run was stopped; a submitted run goes on in Kubeflow")
        return EXIT_FAILED


# -- the subcommands ----------------------------------------------------------------------------


def compile_command(args: argparse.Namespace, output: Output) -> int:
    target, into_folder = _target(args.output)
    with _kernel(args, output, in_process=True) as notebook:
        data = notebook.act(_call("compile_and_report", args.pipeline, target, into_folder))
    output.result(data, f"compiled {data['pipeline']} to {data['path']} ({data['bytes']} bytes)")
    return EXIT_OK


def run_command(args: argparse.Namespace, output: Output) -> int:
    words = ["run", *_given(args.pipeline), "--no-wait", *_params(args.param)]
    words += ["--workers", str(args.workers)] if args.workers else []
    words += ["--no-cache"] if args.no_cache else []
    words += ["--pipeline-root", args.pipeline_root] if args.pipeline_root else []
    runs_dir = _runs_dir(args)
    with _kernel(args, output) as notebook:
        data = notebook.act(_call("run_and_report", shlex.join(words), runs_dir, True))
    return _outcome(data, output)


def submit_command(args: argparse.Namespace, output: Output) -> int:
    words = ["submit", *_given(args.pipeline), "--no-wait", *_params(args.param)]
    for flag in ("experiment", "run_name"):
        words += [f"--{flag.replace('_', '-')}", getattr(args, flag)] if getattr(args, flag) else []
    words += ["--skip-checks"] if args.skip_checks else []
    _ask_for_credentials(args)
    with _kernel(args, output) as notebook:
        data = notebook.act(_call("submit_and_report", _connect_line(args), shlex.join(words), not args.no_wait))
    return _outcome(data, output)


def runs_command(args: argparse.Namespace, output: Output) -> int:
    from dataclasses import asdict

    from kfp_notebook.view.history import RunHistory

    backend = _backend(args) if args.kubeflow else _local_backend(args)
    records = backend.runs(args.pipeline)
    where = f"runs on {backend.connection.host}" if args.kubeflow else f"local runs in {_runs_dir(args)}"
    history = RunHistory(records, [r.message for r in records if r.message])
    output.result([asdict(r) for r in records], f"{where}\n{history!r}" if records else f"no {where}")
    return EXIT_OK


def logs_command(args: argparse.Namespace, output: Output) -> int:
    if args.kubeflow and not args.run:
        raise KfpNotebookError("--kubeflow logs need --run RUN_ID (kfp-notebook runs --kubeflow lists them)")
    from kfp_notebook.backends.local.details import DEFAULT_TAIL

    backend = _backend(args) if args.kubeflow else _local_backend(args)
    text = backend.task_log(args.run, args.task, args.tail or DEFAULT_TAIL)  # as `%kfp logs`: the last 200 lines
    output.result({"run_id": args.run, "task": args.task, "log": text}, text)
    return EXIT_OK


def stop_command(args: argparse.Namespace, output: Output) -> int:
    """Ask the kernel that runs a local run to stop it (it ends CANCELED); a LOST run's processes are stopped."""
    backend = _local_backend(args)
    said = backend.stop_foreign(args.run)
    output.result({"run_id": args.run, "state": backend.run_record(args.run).state, "message": said}, said)
    return EXIT_OK


def _local_backend(args: argparse.Namespace) -> Any:
    from kfp_notebook.backends.local.runner import LocalBackend

    return LocalBackend(_runs_dir(args))


def _runs_dir(args: argparse.Namespace) -> str:
    """--runs-dir, else the folder a notebook uses: $KFP_NOTEBOOK_RUNS, else ./kfp_runs (absolute)."""
    from kfp_notebook.backends.local.store import default_runs_folder

    return str(Path(args.runs_dir).resolve()) if args.runs_dir else str(default_runs_folder())


def doctor_command(args: argparse.Namespace, output: Output) -> int:
    import tempfile

    from kfp_notebook.backends.kubeflow.cluster.doctor import doctor_report
    from kfp_notebook.ir import PipelineIR

    ir = None
    if args.notebook:
        with tempfile.TemporaryDirectory(prefix="kfp-notebook-") as folder, _kernel(args, output) as notebook:
            data = notebook.act(_call("compile_and_report", args.pipeline, folder, True))
            ir = PipelineIR.from_yaml(Path(data["path"]).read_text(encoding="utf-8"))
    report = doctor_report(ir, namespace=args.namespace, connection=_connection(args))
    output.result({"checks": report.as_dicts(), "failed": report.failed}, report.text)
    return EXIT_FAILED if report.failed else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "compile": compile_command,
    "run": run_command,
    "submit": submit_command,
    "runs": runs_command,
    "logs": logs_command,
    "stop": stop_command,
    "doctor": doctor_command,
}


# -- helpers of the subcommands ------------------------------------------------------------------


@contextmanager
def _kernel(args: argparse.Namespace, output: Output, in_process: bool = False) -> Iterator[Any]:
    """The notebook's definitions executed in a fresh kernel (or, `in_process` and no --kernel given, in this
    process's own IPython shell), ready for the command's cell."""
    path = Path(args.notebook)
    if not path.is_file():
        raise KfpNotebookError(f"notebook {args.notebook!r} not found (give the path of an .ipynb file)")
    check_notebook(path)
    notebook: Any
    from kfp_notebook.headless.in_process import InProcessNotebook

    if in_process and not getattr(args, "kernel", None) and InProcessNotebook.possible():
        output.progress(f"executing {path.name}")
        notebook = InProcessNotebook(path, args.timeout, output.kernel_text)
    else:
        from kfp_notebook.headless.kernel import HeadlessNotebook

        kernel = getattr(args, "kernel", None) or "python3"
        output.progress(f"executing {path.name} in a fresh {kernel} kernel")
        notebook = HeadlessNotebook(path, args.timeout, output.kernel_text, not args.verbose, kernel)
    with notebook.started():
        notebook.define()
        yield notebook


def check_notebook(path: Path) -> None:
    """Refuse, in one line, a file that is not a Jupyter notebook (empty, not JSON, JSON of another kind)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise KfpNotebookError(f"{path} cannot be read as a notebook ({reason})") from None
    if not text.strip():
        raise KfpNotebookError(f"{path} is empty, not a notebook (give the path of an .ipynb file)")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KfpNotebookError(f"{path} is not a notebook: not JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list) or "nbformat" not in document:
        raise KfpNotebookError(f"{path} is JSON but not a Jupyter notebook (no 'cells' list and 'nbformat' version)")
    broken = next((n for n, cell in enumerate(document["cells"], 1) if not _is_cell(cell)), None)
    if broken is not None:
        raise KfpNotebookError(f"{path} is not a valid notebook: its cell {broken} has no cell_type and source")


def _is_cell(cell: Any) -> bool:
    return isinstance(cell, dict) and isinstance(cell.get("cell_type"), str) and "source" in cell


def _call(function: str, *arguments: Any) -> str:
    """The command's cell: one call of a headless.kernel function with literal arguments."""
    listed = ", ".join(repr(a) for a in arguments)
    return f"from kfp_notebook.headless import kernel as _kfp_command\n_kfp_command.{function}({listed})"


def _target(given: str | None) -> tuple[str, bool]:
    """-o FILE.yaml writes that file; -o DIR (or nothing: the current folder) writes DIR/PIPELINE.yaml."""
    target = Path(given or ".").expanduser().resolve()
    return str(target), target.suffix not in (".yaml", ".yml")


def _given(pipeline: str | None) -> list[str]:
    return [pipeline] if pipeline else []


def _params(assignments: list[str]) -> list[str]:
    return [word for text in assignments for word in ("--param", text)]


def _outcome(data: dict[str, Any], output: Output) -> int:
    lines = [
        f"run {data['run_id']} ({data['backend']}): {data['state']}" + (f" · {data['link']}" if data["link"] else "")
    ]
    lines += [f"  {task}: {info['state']}" + _task_extra(info) for task, info in data["tasks"].items()]
    lines += [f"  outputs: {_pipeline_outputs(data)}"] if data.get("outputs") else []
    lines += [f"  {data['message']}"] if data["message"] else []
    output.result(data, "\n".join(lines))
    return EXIT_FAILED if TaskState.parse(data["state"]).unsuccessful else EXIT_OK


def _task_extra(info: dict[str, Any]) -> str:
    outputs = ", ".join(f"{k}={v!r}" for k, v in info["outputs"].items())
    metrics = ", ".join(f"{k}={v}" for k, v in info["metrics"].items())
    message = info["message"].strip().splitlines()[-1] if info["state"] == TaskState.FAILED and info["message"] else ""
    return "".join(f" · {part}" for part in (outputs, metrics, message) if part)


def _pipeline_outputs(data: dict[str, Any]) -> str:
    from kfp_notebook.view.run_summaries import output_text

    return ", ".join(f"{name}={output_text(value)}" for name, value in data["outputs"].items())


def _connect_line(args: argparse.Namespace) -> str:
    words = ["connect"]
    for option in CONNECTION:
        value = getattr(args, option.dest)
        words += ([option.name] if value is True else [option.name, value]) if value else []
    return shlex.join(words)


def _connection(args: argparse.Namespace) -> Any:
    """The connection `%kfp connect` would make from these flags, the environment or the remembered settings."""
    from kfp_notebook.backends.kubeflow.connection import KubeflowConnectionError, resolve

    options = {"ca_cert": args.ca_cert, "insecure": args.insecure, "ui_host": args.ui_host, "user": args.user}
    try:
        return resolve(args.host, args.namespace, args.auth, **options)
    except KubeflowConnectionError:
        if args.host or args.auth:
            raise
        return None


def _backend(args: argparse.Namespace) -> Any:
    from kfp_notebook.backends.kubeflow import connect

    connection = _connection(args)
    if connection is None:
        raise KfpNotebookError(
            "no Kubeflow Pipelines host: pass --host https://HOST/pipeline or set KF_PIPELINES_ENDPOINT"
        )
    return connect(connection)


def _ask_for_credentials(args: argparse.Namespace) -> None:
    """The kernel cannot prompt: a token, cookie or Dex password missing from the environment is asked for here."""
    import getpass

    from kfp_notebook.backends.kubeflow.connection import COOKIE_ENV, PASSWORD_ENV, TOKEN_ENV

    variable = {"token": TOKEN_ENV, "cookie": COOKIE_ENV, "dex": PASSWORD_ENV}.get(args.auth or "")
    if variable and not os.environ.get(variable):
        if not sys.stdin.isatty():
            raise KfpNotebookError(f"--auth {args.auth} needs {variable} in the environment (no terminal to ask on)")
        os.environ[variable] = getpass.getpass(f"{variable}: ")


# -- the command line ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command line's parser, built from the declarations in kfp_notebook/commands.py."""
    main_parser = argparse.ArgumentParser(
        prog="kfp-notebook", description="Compile, run and submit the Kubeflow pipelines a notebook defines."
    )
    subcommands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in CLI.items():
        summary = command.summary.replace("%", "%%")
        command.build(subcommands.add_parser(name, help=summary, description=summary))
    return main_parser


if __name__ == "__main__":
    sys.exit(main())
