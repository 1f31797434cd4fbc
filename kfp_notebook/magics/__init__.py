"""The %%component, %%pipeline and %kfp magics: parse, call the pure modules, display. Glue only."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display
from traitlets import Bool, Integer, List, Unicode

from kfp_notebook.authoring import options as opts
from kfp_notebook.authoring.history import NotebookHistory
from kfp_notebook.errors import ComponentError, KfpNotebookError, OptionError, PipelineError
from kfp_notebook.magics.help_texts import COMPONENT_HELP, KFP_HELP, PIPELINE_HELP
from kfp_notebook.registry import Registry, activate


@magics_class
class KfpMagics(Magics):
    """kfp-notebook's magics; settings are changed with `%config KfpMagics.<name> = value`."""

    base_image = Unicode(
        None, allow_none=True, help="Base image for components without --base-image (None: kfp's default)."
    ).tag(config=True)
    pip_index_urls = List(Unicode(), help="Package indexes for components without --pip-index-url.").tag(config=True)
    output_dir = Unicode(".", help="Folder where `%kfp compile` writes PIPELINE.yaml when no -o is given.").tag(
        config=True
    )
    show_tracebacks = Bool(False, help="Show Python tracebacks instead of one-line messages (for debugging).").tag(
        config=True
    )
    runs_dir = Unicode("kfp_runs", help="Folder where local runs keep their files.").tag(config=True)
    workers = Integer(0, help="Tasks a local run executes at once (0: one per CPU).").tag(config=True)
    cache = Bool(True, help="Reuse outputs of tasks already run with the same component and inputs.").tag(config=True)
    panel = Bool(True, help="Show the pipeline panel (DAG and buttons) after a %%pipeline cell.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.registry = Registry()
        activate(self.registry)
        self.runs: dict[str, Any] = {}
        self.last_panel: Any = None
        self.kubeflow: Any = None
        self.panels: list[Any] = []
        self._notebook = NotebookHistory(self._cell_sources)

    @cell_magic
    def component(self, line: str, cell: str) -> None:
        self._guarded(self._component, line, cell)

    @cell_magic
    def pipeline(self, line: str, cell: str) -> None:
        self._guarded(self._pipeline, line, cell)

    @line_magic
    def kfp(self, line: str) -> Any:
        return self._guarded(self._kfp, line)

    component.__doc__ = COMPONENT_HELP
    pipeline.__doc__ = PIPELINE_HELP
    kfp.__doc__ = KFP_HELP

    def _guarded(self, action: Callable[..., Any], *args: str) -> Any:
        """Run an action; user errors become one message without a traceback."""
        try:
            return action(*args)
        except KfpNotebookError as exc:
            if self.show_tracebacks:
                raise
            raise UsageError(str(exc)) from None
        except Exception as exc:
            if self.show_tracebacks:
                raise
            raise UsageError(
                f"kfp-notebook failed unexpectedly: {type(exc).__name__}: {exc}\n"
                "Please report this; `%config KfpMagics.show_tracebacks = True` shows the details."
            ) from None

    def _cell_sources(self, start: int) -> list[str]:
        """Python source of every cell run since cell number `start` (magic cells reduced to their Python)."""
        assert self.shell is not None
        raw = self.shell.history_manager.input_hist_raw if self.shell.history_manager else []
        return [python_of_cell(self.shell, text) for text in raw[start:]]

    @property
    def _namespace(self) -> dict[str, Any]:
        assert self.shell is not None
        return self.shell.user_ns

    def _component(self, line: str, text: str) -> None:
        from kfp_notebook.authoring.cells import (
            check_plain_def,
            namespace_transaction,
            parse_cell,
            pick_function,
            run_cell,
        )
        from kfp_notebook.authoring.components import ComponentConfig, build_component
        from kfp_notebook.view.summaries import component_summary

        options = opts.parse_component_line(line)
        cell = parse_cell(text, "%%component", ComponentError)
        node = pick_function(cell, options.name, ComponentError, "component", rename_single=True)
        check_plain_def(cell, node, ComponentError, "component")
        name = options.name or node.name
        config = ComponentConfig(self.base_image, tuple(self.pip_index_urls))
        with namespace_transaction(self._namespace):
            run_cell(cell, self._namespace, ComponentError)
            context = self._notebook.context(self._namespace, cell.text)
            function = self._namespace[node.name]
            component = build_component(cell, node, function, options, config, context, rename=name)
            self._namespace[name] = component
        self.registry.add_component(name, component)
        display(component_summary(name, component))

    def _pipeline(self, line: str, text: str) -> None:
        from kfp_notebook.authoring.cells import (
            check_plain_def,
            namespace_transaction,
            parse_cell,
            pick_function,
            run_cell,
        )
        from kfp_notebook.authoring.pipelines import build_pipeline
        from kfp_notebook.compiling import compile_yaml
        from kfp_notebook.view.summaries import pipeline_summary

        options = opts.parse_pipeline_line(line)
        cell = parse_cell(text, "%%pipeline", PipelineError)
        node = pick_function(cell, _function_named(cell, options.name), PipelineError, "pipeline")
        check_plain_def(cell, node, PipelineError, "pipeline")
        with namespace_transaction(self._namespace):
            run_cell(cell, self._namespace, PipelineError)
            function = self._namespace[node.name]
            built = build_pipeline(cell, node, function, options)
            if options.output:
                compile_yaml(built.pipeline, options.output)
            self._namespace[node.name] = built.pipeline
        rebuild = self._rebuilder(cell, node, function, options)
        self.registry.add_pipeline(node.name, built, rebuild)
        summary = pipeline_summary(node.name, built.pipeline, options.output)
        if self.panel:
            self._show_panel(node.name, summary)
        else:
            display(summary)

    def _show_panel(self, name: str, summary: Any = None) -> None:
        """Display the pipeline's panel (its text form is the summary, for terminals and plain viewers)."""
        import kfp_notebook

        entry = self.registry.pipeline(name)
        pipeline = self.registry.refreshed(entry)
        panel = kfp_notebook.show(
            pipeline,
            entry.name,
            self.output_dir,
            workers=self.workers or None,
            cache=self.cache,
            runs_folder=self.runs_dir,
        )
        panel.summary_text = repr(summary) if summary is not None else ""
        panel.display_handle = display(panel, display_id=True)
        self.last_panel = panel
        self.panels.append(panel)
        if self.kubeflow is not None:
            panel.enable_submit(self._submit_to_kubeflow)

    def _rebuilder(self, cell: Any, node: Any, function: Any, options: opts.PipelineOptions) -> Callable[[], Any]:
        """Rebuild this pipeline with the components defined now (after a component cell was edited)."""
        from kfp_notebook.authoring.pipelines import build_pipeline

        def rebuild() -> Any:
            old = self.registry.pipelines[node.name].pipeline
            built = build_pipeline(cell, node, function, options)
            if self._namespace.get(node.name) is old:
                self._namespace[node.name] = built.pipeline
            return built

        return rebuild

    def _kfp(self, line: str) -> Any:
        words = opts.split_line(line)
        if not words:
            raise OptionError(f"%kfp needs a sub-command.\n{KFP_HELP}")
        handler = self._subcommands().get(words[0])
        if handler is None:
            close = difflib.get_close_matches(words[0], list(self._subcommands()), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"%kfp: unknown sub-command {words[0]!r}.{hint}\n{KFP_HELP}")
        return handler(words[1:])

    def _subcommands(self) -> dict[str, Callable[[list[str]], Any]]:
        return {
            "compile": self._kfp_compile,
            "run": self._kfp_run,
            "runs": self._kfp_runs,
            "logs": self._kfp_logs,
            "stop": self._kfp_stop,
            "connect": self._kfp_connect,
            "submit": self._kfp_submit,
            "doctor": self._kfp_doctor,
            "status": self._kfp_status,
            "show": self._kfp_show,
            "list": self._kfp_list,
            "help": self._kfp_help,
        }

    def _kfp_compile(self, words: list[str]) -> None:
        from pathlib import Path

        from kfp_notebook.compiling import compile_yaml
        from kfp_notebook.view.summaries import compiled_summary

        args = opts.subcommand_parser("%kfp compile", ["pipeline"], ["-o|--output"]).parse_line(_join(words))
        entry = self.registry.pipeline(args.pipeline)
        path = args.output or str(Path(self.output_dir) / f"{entry.name}.yaml")
        if args.output:
            opts.yaml_path(args.output, "-o")
        text = compile_yaml(self.registry.refreshed(entry), path)
        display(compiled_summary(entry.name, path, len(text.encode("utf-8"))))

    def _kfp_run(self, words: list[str]) -> Any:
        from kfp_notebook.backends.local.runner import LocalOptions, run_local
        from kfp_notebook.compiling import compile_yaml

        spec = ["--param*", "--no-wait!", "--workers", "--no-cache!"]
        args = opts.subcommand_parser("%kfp run", ["pipeline"], spec).parse_line(_join(words))
        parameters = opts.parameter_assignments(args.param)
        workers = opts.worker_count(args.workers) or self.workers or None
        entry = self.registry.pipeline(args.pipeline)
        text = compile_yaml(self.registry.refreshed(entry))
        options = LocalOptions(workers, self.cache and not args.no_cache, self.runs_dir)
        handle = run_local(text, parameters, options)
        self.runs[handle.run_id] = handle
        if args.no_wait:
            return handle
        self._follow(handle)
        return None

    def _follow(self, handle: Any) -> None:
        """Show the run's progress live until it ends.

        An interrupt stops a local run; for a Kubeflow run it stops following (the run goes on there).
        """
        from kfp_notebook.view.run_summaries import failures, progress

        view = display(progress(handle), display_id=True)
        try:
            while not handle.wait(0.3):
                if view is not None:
                    view.update(progress(handle))
        except KeyboardInterrupt:
            if handle.backend == "kubeflow":
                handle.detach()
                print(f"stopped following run {handle.run_id}; it goes on in Kubeflow: %kfp stop {handle.run_id}")
                return
            handle.cancel()
            handle.wait(30)
        final = progress(handle)
        final.warnings += failures(handle)
        if view is not None:
            view.update(final)
        table = handle.result().metrics_table()
        if table.rows:
            display(table)

    def _kfp_runs(self, words: list[str]) -> None:
        from kfp_notebook.backends.local.store import RunStore
        from kfp_notebook.view.run_summaries import runs_listing

        args = opts.subcommand_parser("%kfp runs", ["pipeline"]).parse_line(_join(words))
        if self.kubeflow is not None:
            name = (
                self.registry.pipeline(args.pipeline).pipeline.name
                if args.pipeline or self.registry.latest_pipeline
                else None
            )
            listing = runs_listing(self.kubeflow.recent_runs(name))
            listing.title = f"runs on {self.kubeflow.connection.host}" if listing.rows else "no runs on Kubeflow yet"
            display(listing)
        display(runs_listing(RunStore(self.runs_dir).list_runs()))

    def _kfp_logs(self, words: list[str]) -> None:
        from kfp_notebook.backends.local.store import RunStore

        args = opts.subcommand_parser("%kfp logs", ["task"], ["--run", "--tail"]).parse_line(_join(words))
        if not args.task:
            raise OptionError("%kfp logs needs a task name (example: %kfp logs train); `%kfp runs` lists the runs")
        tail = opts.worker_count(args.tail, "--tail")
        latest = list(self.runs.values())[-1] if self.runs else None
        remote = self.runs.get(args.run) if args.run else latest
        if remote is not None and remote.backend == "kubeflow" and self.kubeflow is not None:
            print(self.kubeflow.logs(remote.run_id, args.task, tail) or f"({args.task} wrote nothing)")
            return
        result = RunStore(self.runs_dir).load(args.run)
        task = result[args.task]
        print(task.log(tail) or f"({task.task_id} wrote nothing; it ended {task.state})")

    def _kfp_stop(self, words: list[str]) -> None:
        args = opts.subcommand_parser("%kfp stop", ["run"]).parse_line(_join(words))
        running = [h for h in self.runs.values() if not h.done]
        handle = self.runs.get(args.run) if args.run else (running[-1] if running else None)
        if handle is None:
            known = ", ".join(h.run_id for h in running) or "none"
            raise OptionError(f"no running run {args.run or ''} in this kernel (running: {known})")
        handle.cancel()
        handle.wait(30)
        print(f"run {handle.run_id}: {handle.state.value}")

    def _kfp_show(self, words: list[str]) -> None:
        args = opts.subcommand_parser("%kfp show", ["pipeline"]).parse_line(_join(words))
        self._show_panel(self.registry.pipeline(args.pipeline).name)

    def _kfp_connect(self, words: list[str]) -> None:
        from kfp_notebook.backends.kubeflow import connect
        from kfp_notebook.backends.kubeflow.connection import remember, resolve

        spec = ["--host", "--namespace", "--auth", "--user", "--ca-cert", "--ui-host", "--insecure!"]
        args = opts.subcommand_parser("%kfp connect", [], spec).parse_line(_join(words))
        options = {"ca_cert": args.ca_cert, "insecure": args.insecure, "ui_host": args.ui_host, "user": args.user}
        connection = resolve(args.host, args.namespace, args.auth, **options)
        self.kubeflow = connect(connection)
        remember(connection)
        for panel in self.panels:
            panel.enable_submit(self._submit_to_kubeflow)
        print(f"connected to {connection.host} (auth: {connection.auth}); runs are submitted there with `%kfp submit`")

    def _kfp_submit(self, words: list[str]) -> Any:
        from kfp_notebook.compiling import compile_yaml

        spec = ["--experiment", "--run-name", "--param*", "--no-wait!", "--skip-checks!"]
        args = opts.subcommand_parser("%kfp submit", ["pipeline"], spec).parse_line(_join(words))
        if self.kubeflow is None:
            raise OptionError("not connected to Kubeflow: run `%kfp connect --host https://HOST/pipeline` first")
        entry = self.registry.pipeline(args.pipeline)
        text = compile_yaml(self.registry.refreshed(entry))
        if not args.skip_checks:
            self._check_before_submit(text)
        handle = self.kubeflow.submit(text, opts.parameter_assignments(args.param), args.experiment, args.run_name)
        self.runs[handle.run_id] = handle
        print(f"submitted run {handle.run_id}: {handle.link}")
        if args.no_wait:
            return handle
        self._follow(handle)
        return None

    def _check_before_submit(self, text: str, quiet: bool = False) -> None:
        """Refuse a run whose pods would miss a secret, key or PVC (the panel shows the refusal)."""
        from kfp_notebook.cluster.doctor import check_before_submit
        from kfp_notebook.ir import PipelineIR

        line = check_before_submit(PipelineIR.from_yaml(text), self.kubeflow.connection.namespace)
        if line and not quiet:
            print(line)

    def _kfp_doctor(self, words: list[str]) -> None:
        from kfp_notebook.cluster.doctor import doctor_report
        from kfp_notebook.ir import PipelineIR

        args = opts.subcommand_parser("%kfp doctor", ["pipeline"], ["--namespace"]).parse_line(_join(words))
        entry = self.registry.pipeline(args.pipeline) if args.pipeline or self.registry.latest_pipeline else None
        ir = PipelineIR.from_pipeline(self.registry.refreshed(entry)) if entry is not None else None
        print(doctor_report(ir, self.kubeflow, args.namespace).text)

    def _submit_to_kubeflow(self, pipeline: Any, params: dict[str, Any]) -> Any:
        from kfp_notebook.compiling import compile_yaml
        from kfp_notebook.registry import refreshed

        text = compile_yaml(refreshed(pipeline))
        self._check_before_submit(text, quiet=True)
        handle = self.kubeflow.submit(text, params)
        self.runs[handle.run_id] = handle
        return handle

    def _kfp_status(self, words: list[str]) -> None:
        from kfp_notebook.view.run_summaries import failures, progress

        args = opts.subcommand_parser("%kfp status", ["run"]).parse_line(_join(words))
        if not self.runs:
            raise OptionError("no run started from this kernel yet: `%kfp run` or `%kfp submit`")
        handle = self.runs.get(args.run) if args.run else list(self.runs.values())[-1]
        if handle is None:
            raise OptionError(f"no run {args.run!r} in this kernel (runs: {', '.join(self.runs)})")
        summary = progress(handle)
        summary.warnings += failures(handle)
        display(summary)

    def _kfp_list(self, words: list[str]) -> None:
        from kfp_notebook.view.summaries import definitions_summary

        opts.subcommand_parser("%kfp list").parse_line(_join(words))
        display(definitions_summary(self.registry))

    def _kfp_help(self, words: list[str]) -> None:
        print(KFP_HELP)


def _function_named(cell: Any, name: str | None) -> str | None:
    """`%%pipeline --name` is kfp's pipeline name; it also picks the function when it is one's name."""
    from kfp_notebook.authoring.cells import top_level_functions

    return name if any(f.name == name for f in top_level_functions(cell)) else None


def _join(words: list[str]) -> str:
    import shlex

    return shlex.join(words)


def python_of_cell(shell: Any, text: str) -> str:
    """A cell as Python: IPython syntax transformed; %%component/%%pipeline bodies kept; other cell magics dropped."""
    if text.startswith("%%"):
        magic, _, body = text.partition("\n")
        return body if magic.split()[0] in ("%%component", "%%pipeline") else ""
    try:
        return shell.transform_cell(text)
    except Exception:
        return ""
