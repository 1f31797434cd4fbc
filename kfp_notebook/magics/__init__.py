"""The %%component, %%pipeline and %kfp magics: parse, call the pure modules, display. Glue only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display
from traitlets import Bool, Integer, List, Unicode, default, observe

from kfp_notebook import kfp_compat
from kfp_notebook.authoring import options as opts
from kfp_notebook.authoring.history import NotebookHistory
from kfp_notebook.errors import ComponentError, KfpNotebookError, PipelineError
from kfp_notebook.magics.help_texts import COMPONENT_HELP, KFP_HELP, PIPELINE_HELP
from kfp_notebook.registry import Registry
from kfp_notebook.session import Session
from kfp_notebook.tracking.handle import RunHandle


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
    runs_dir = Unicode(
        help="Folder where local runs keep their files ($KFP_NOTEBOOK_RUNS, else kfp_runs; made absolute when set)."
    ).tag(config=True)
    workers = Integer(0, help="Tasks a local run executes at once (0: one per CPU).").tag(config=True)
    cache = Bool(True, help="Reuse outputs of tasks already run with the same component and inputs.").tag(config=True)
    task_env_passthrough = List(
        Unicode(), help="Kernel environment variables local tasks get (others: only their --env and secrets)."
    ).tag(config=True)
    pipeline_root = Unicode(
        None,
        allow_none=True,
        help="Where local runs put output artifacts: s3://bucket/prefix, gs://, minio:// or a "
        "local folder (None: the runs folder); %kfp run --pipeline-root overrides it.",
    ).tag(config=True)
    panel = Bool(True, help="Show the pipeline panel (DAG and buttons) after a %%pipeline cell.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = Session()
        self.session.registry.namespace = shell.user_ns if shell is not None else None
        self._settings_changed()
        self._notebook = NotebookHistory(self._cell_sources)
        if shell is not None:  # a run handle shown by a cell: its progress and failures, not its repr
            shell.display_formatter.formatters["text/plain"].for_type(RunHandle, _handle_text)

    @default("runs_dir")
    def _default_runs_dir(self) -> str:
        from kfp_notebook.backends.local.store import default_runs_folder

        return str(default_runs_folder())

    @observe("base_image", "pip_index_urls", "output_dir", "runs_dir", "workers", "cache", "task_env_passthrough",
             "pipeline_root")  # fmt: skip
    def _settings_changed(self, change: Any = None) -> None:
        """`%config KfpMagics.<name> = value` reaches the session (which the panels and the Python API use)."""
        settings = self.session.settings
        settings.base_image, settings.pip_index_urls = self.base_image, tuple(self.pip_index_urls)
        settings.output_dir = self.output_dir
        settings.runs_dir = str(Path(self.runs_dir).expanduser().resolve())  # fixed now: a later %cd moves nothing
        settings.workers, settings.cache = self.workers, self.cache
        settings.task_env_passthrough = tuple(self.task_env_passthrough)
        settings.pipeline_root = self.pipeline_root or None

    @property
    def registry(self) -> Registry:
        return self.session.registry

    @cell_magic
    def component(self, line: str, cell: str) -> None:
        self._guarded(self._component, line, cell)

    @cell_magic
    def pipeline(self, line: str, cell: str) -> None:
        self._guarded(self._pipeline, line, cell)

    @line_magic
    def kfp(self, line: str) -> Any:
        __tracebackhide__ = True
        return self._guarded(self._kfp, line)

    component.__doc__ = COMPONENT_HELP
    pipeline.__doc__ = PIPELINE_HELP
    kfp.__doc__ = KFP_HELP

    def _guarded(self, action: Callable[..., Any], *args: str) -> Any:
        """Run an action; user errors become one message without a traceback (what a function `%kfp debug` called
        raised reaches the cell as it is)."""
        __tracebackhide__ = True
        try:
            return action(*args)
        except KfpNotebookError as exc:
            if _raised_by_debugged_code(exc):
                raise
            if self.show_tracebacks:
                raise
            raise UsageError(str(exc)) from None
        except Exception as exc:
            if self.show_tracebacks or _raised_by_debugged_code(exc):
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
        kfp_compat.fast_task_setters()  # kfp loads with the first cell; patched here, never by an import
        kfp_compat.linear_spec_building()
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
        config = ComponentConfig(self.session.settings.base_image, self.session.settings.pip_index_urls)
        with namespace_transaction(self._namespace):
            run_cell(cell, self._namespace, ComponentError)
            context = self._notebook.context(self._namespace, cell.text)
            function = self._namespace[node.name]
            component = build_component(cell, node, function, options, config, context, rename=name)
            self._namespace[name] = component
        self.registry.add_component(name, component)
        display(component_summary(name, component))

    def _pipeline(self, line: str, text: str) -> None:
        kfp_compat.fast_task_setters()
        kfp_compat.linear_spec_building()
        from kfp_notebook.authoring.cells import (
            check_plain_def,
            namespace_transaction,
            parse_cell,
            pick_function,
            run_cell,
        )
        from kfp_notebook.authoring.pipelines import build_pipeline
        from kfp_notebook.ir.compiling import compile_yaml
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
        entry = self.registry.pipeline(name)
        panel = self.session.show(self.registry.refreshed(entry), entry.name)
        panel.summary_text = repr(summary) if summary is not None else ""
        panel.display_handle = display(panel, display_id=True)

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
        __tracebackhide__ = True
        from kfp_notebook.magics.kfp_commands import dispatch

        return dispatch(self, opts.split_line(line))


def _raised_by_debugged_code(error: BaseException) -> bool:
    from kfp_notebook.debugging import raised_by_the_function

    return raised_by_the_function(error)


def _function_named(cell: Any, name: str | None) -> str | None:
    """`%%pipeline --name` is kfp's pipeline name; it also picks the function when it is one's name."""
    from kfp_notebook.authoring.cells import top_level_functions

    return name if any(f.name == name for f in top_level_functions(cell)) else None


def python_of_cell(shell: Any, text: str) -> str:
    """A cell as Python: IPython syntax transformed; %%component/%%pipeline bodies kept; other cell magics dropped."""
    if text.startswith("%%"):
        magic, _, body = text.partition("\n")
        return body if magic.split()[0] in ("%%component", "%%pipeline") else ""
    try:
        return shell.transform_cell(text)
    except Exception:
        return ""


def _handle_text(handle: RunHandle, printer: Any, cycle: bool) -> None:
    from kfp_notebook.view.run_summaries import handle_summary

    printer.text(repr(handle_summary(handle)))
