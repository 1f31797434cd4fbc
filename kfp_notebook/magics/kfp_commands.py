"""`%kfp SUBCOMMAND ...`: each sub-command parses its words, calls the session, and displays. Glue only."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.display import display

from kfp_notebook.authoring import options as opts
from kfp_notebook.commands import KFP
from kfp_notebook.errors import OptionError
from kfp_notebook.magics.help_texts import KFP_HELP
from kfp_notebook.tracking.handle import RunHandle

if TYPE_CHECKING:
    from kfp_notebook.magics import KfpMagics

Command = Callable[["KfpMagics", list[str]], Any]


def dispatch(magics: KfpMagics, words: list[str]) -> Any:
    """Run the sub-command the first word names, with the rest of the line."""
    __tracebackhide__ = True
    if not words:
        raise OptionError(f"%kfp needs a sub-command.\n{KFP_HELP}")
    command = COMMANDS.get(words[0])
    if command is None:
        close = difflib.get_close_matches(words[0], list(COMMANDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise OptionError(f"%kfp: unknown sub-command {words[0]!r}.{hint}\n{KFP_HELP}")
    return command(magics, words[1:])


def _parse(name: str, words: list[str]) -> Any:
    """The words of `%kfp NAME` read as its declaration (kfp_notebook/commands.py) says, values checked."""
    command = KFP[name]
    return command.checked(command.build(opts.magic_parser(command.prog)).parse_line(shlex.join(words)))


def compile_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.view.summaries import compiled_summary

    args = _parse("compile", words)
    if args.output:
        opts.yaml_path(args.output, "-o")
    session = magics.session
    entry = session.registry.pipeline(args.pipeline)
    path = args.output or str(Path(session.settings.output_dir) / f"{entry.name}.yaml")
    text = session.compile(session.registry.refreshed(entry), path)
    display(compiled_summary(entry.name, path, len(text.encode("utf-8"))))


def run_command(magics: KfpMagics, words: list[str]) -> RunHandle | None:
    args = _parse("run", words)
    settings = magics.session.settings
    workers = args.workers or settings.workers or None
    options = {"workers": workers, "cache": settings.cache and not args.no_cache, "runs_folder": settings.runs_dir,
               "pipeline_root": args.pipeline_root or settings.pipeline_root}  # fmt: skip
    return _start(magics, args, "local", options)


def submit_command(magics: KfpMagics, words: list[str]) -> RunHandle | None:
    args = _parse("submit", words)
    options = {"experiment": args.experiment, "run_name": args.run_name, "skip_checks": args.skip_checks}
    return _start(magics, args, "kubeflow", options)


def _start(magics: KfpMagics, args: Any, where: str, options: dict[str, Any]) -> RunHandle | None:
    session = magics.session
    parameters = opts.parameter_assignments(args.param)
    handle = session.start(session.runnable(args.pipeline), parameters, where, options)
    if handle.link:
        print("\n".join([*handle.notices, f"submitted run {handle.run_id}: {handle.link}"]))
    if args.no_wait:
        return handle
    follow(magics, handle)
    return None


def follow(magics: KfpMagics, handle: RunHandle) -> None:
    """Show the run's progress live until it ends (or until an interrupt, which does what the backend says)."""
    from kfp_notebook.view.run_summaries import handle_summary, pipeline_outputs, progress

    view = display(progress(handle), display_id=True)
    interrupted = magics.session.wait(handle, lambda h: view.update(progress(h)) if view is not None else None)
    if interrupted:
        print(interrupted)
        if not handle.done:
            return
    final = handle_summary(handle)
    if view is not None:
        view.update(final)
    result = handle.result()
    outputs = pipeline_outputs(result)
    if outputs is not None:
        display(outputs)
    table = result.metrics_table()
    if table.rows:
        display(table)


def runs_command(magics: KfpMagics, words: list[str]) -> None:
    args = _parse("runs", words)
    display(_history(magics, args.pipeline or magics.session.registry.latest_pipeline))


def _history(magics: KfpMagics, pipeline: str | None) -> Any:
    """Runs of a pipeline of this kernel (or one named as its runs are filed), from every backend."""
    entry = magics.session.registry.pipelines.get(pipeline or "")
    return magics.session.history(entry.pipeline.name if entry else pipeline)


def compare_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.view.compare import Comparison, compare_data, latest_runs

    args = _parse("compare", words)
    pipeline = magics.session.registry.latest_pipeline if not args.runs else None
    runs = latest_runs(_history(magics, pipeline), args.runs, args.last or 5)
    comparison = Comparison(compare_data(runs, args.by))
    if args.output:
        print(f"wrote {comparison.save(args.output)}")
    display(comparison)


def show_artifact_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.view.artifacts import show_artifact

    args = _parse("show-artifact", words)
    display(show_artifact(magics.session, args.target, args.run))


def logs_command(magics: KfpMagics, words: list[str]) -> None:
    args = _parse("logs", words)
    if not args.task:
        raise OptionError("%kfp logs needs a task name (example: %kfp logs train); `%kfp runs` lists the runs")
    from kfp_notebook.backends.local.details import DEFAULT_TAIL

    tail = args.tail or DEFAULT_TAIL
    if not args.follow:
        print(magics.session.task_log(args.task, args.run, tail))
        return
    try:
        state = magics.session.follow_log(args.task, args.run, lambda text: print(text, end="", flush=True))
        print(f"({args.task} is {state})")
    except KeyboardInterrupt:
        print(f"(stopped following {args.task}; the run goes on)")


def debug_command(magics: KfpMagics, words: list[str]) -> Any:
    """Call the task's function here; what it raises reaches the cell, then IPython's debugger opens on it."""
    __tracebackhide__ = True
    from kfp_notebook.debugging import Debugged

    args = _parse("debug", words)
    debugged = Debugged(magics.session, args.task, args.run, args.item, args.current)
    print(debugged.announcement())
    if not args.no_pdb and magics.shell is not None:
        from kfp_notebook.magics.post_mortem import open_debugger_after_this_cell

        open_debugger_after_this_cell(magics.shell)
    return debugged.call()


def stop_command(magics: KfpMagics, words: list[str]) -> None:
    args = _parse("stop", words)
    print(magics.session.stop(args.run))


def retry_command(magics: KfpMagics, words: list[str]) -> RunHandle | None:
    args = _parse("retry", words)
    handle = magics.session.retry(args.run)
    if handle.link:
        print(f"retrying run {handle.run_id}: {handle.link}")
    if args.no_wait:
        return handle
    follow(magics, handle)
    return None


def status_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.view.run_summaries import handle_summary, output_rows, recorded

    args = _parse("status", words)
    session = magics.session
    run_id = args.run or session.last_run
    if run_id not in session.runs:
        display(recorded(session.recorded_run(run_id)))  # a finished run, or another kernel's: as its folder shows it
        return
    handle = session.handle(run_id)
    summary = handle_summary(handle)
    summary.rows += output_rows(handle.result()) if handle.done else []
    display(summary)


def show_command(magics: KfpMagics, words: list[str]) -> None:
    args = _parse("show", words)
    magics._show_panel(magics.session.registry.pipeline(args.pipeline).name)


def connect_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.backends.kubeflow import connect
    from kfp_notebook.backends.kubeflow.connection import remember, resolve

    args = _parse("connect", words)
    options = {"ca_cert": args.ca_cert, "insecure": args.insecure, "ui_host": args.ui_host, "user": args.user}
    connection = resolve(args.host, args.namespace, args.auth, **options)
    magics.session.connect(connect(connection))
    remember(connection)
    print(f"connected to {connection.host} (auth: {connection.auth}); runs are submitted there with `%kfp submit`")


def doctor_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.backends.kubeflow.cluster.doctor import doctor_report
    from kfp_notebook.ir import PipelineIR

    args = _parse("doctor", words)
    registry = magics.session.registry
    pipeline = magics.session.pipeline(args.pipeline) if args.pipeline or registry.latest_pipeline else None
    ir = PipelineIR.from_pipeline(pipeline) if pipeline is not None else None
    print(doctor_report(ir, magics.session.connected.get("kubeflow"), args.namespace).text)


def list_command(magics: KfpMagics, words: list[str]) -> None:
    from kfp_notebook.view.summaries import definitions_summary

    _parse("list", words)
    display(definitions_summary(magics.session.registry))


def help_command(magics: KfpMagics, words: list[str]) -> None:
    print(KFP_HELP)


COMMANDS: dict[str, Command] = {
    "compile": compile_command,
    "run": run_command,
    "runs": runs_command,
    "compare": compare_command,
    "show-artifact": show_artifact_command,
    "logs": logs_command,
    "debug": debug_command,
    "stop": stop_command,
    "retry": retry_command,
    "connect": connect_command,
    "submit": submit_command,
    "doctor": doctor_command,
    "status": status_command,
    "show": show_command,
    "list": list_command,
    "help": help_command,
}
