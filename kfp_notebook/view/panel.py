"""The pipeline panel's Python side: synced traits, button actions, coalesced run events, static SVG.

An anywidget: its front end is one ES module shipped in the package (view/static/panel.js, built from
frontend/), loaded by every host's widget manager (JupyterLab, Notebook 7, VS Code, Colab, marimo). The
kernel lays the DAG out (view/svg.py) and sends SVG; the front end colours nodes from `node_states` in
place; buttons send messages handled here. Errors in actions are shown in the panel (`message`), never as
a traceback in the cell. A synced trait's `ts` tag is its TypeScript type (front_end.py generates traits.ts).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
from traitlets import Bool, Dict, List, Unicode

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.handle import RunHandle, TaskDetails, TaskStatus
from kfp_notebook.tracking.states import TaskState
from kfp_notebook.tracking.strict_json import jsonable
from kfp_notebook.tracking.task_ids import path_of
from kfp_notebook.view import dag as graph
from kfp_notebook.view import front_end, panel_actions, picture, saved_state
from kfp_notebook.view import states as run_states
from kfp_notebook.view.artifacts import with_previews
from kfp_notebook.view.details import details_for
from kfp_notebook.view.form import parameter_fields, validate
from kfp_notebook.view.on_demand import OnDemand
from kfp_notebook.view.recorded import ShownRun, picture_title

if TYPE_CHECKING:
    from kfp_notebook.session import Session

FLUSH_SECONDS = 0.1
SUBMIT_REASON = "Connect to Kubeflow first (%kfp connect --host URL); until then runs are local."
#: The buttons' actions, each acknowledged ("handled", naming it) once done: the front end keeps the buttons
#: disabled until its own action's ack (messages.ts ButtonAction, pendingAfterAck); other messages get none.
BUTTON_ACTIONS = ("compile", "run", "submit", "stop", "retry")
STRINGS = "Record<string, string>"


class PipelinePanel(picture.SavedPicture, ShownRun, OnDemand, anywidget.AnyWidget):
    """A pipeline's DAG with Compile / Run / Submit / Stop / Retry, a parameter form and live task states."""

    # The text, not the path: anywidget watches a path for changes through a signal that keeps every panel alive.
    _esm = front_end.ESM.read_text(encoding="utf-8")
    _css = front_end.CSS.read_text(encoding="utf-8")

    title = Unicode("").tag(sync=True)
    description = Unicode("").tag(sync=True)
    svg = Unicode("").tag(sync=True)  # the DAG laid out in the kernel; the front end colours it in place
    svg_error = Unicode("").tag(sync=True)  # why there is no SVG (no Graphviz of any kind in the kernel)
    node_states = Dict().tag(sync=True, ts=STRINGS)
    progress = Unicode("").tag(sync=True)
    run_id = Unicode("").tag(sync=True)
    run_link = Unicode("").tag(sync=True)
    parameters: List = List().tag(sync=True, ts="Parameter[]")
    values = Dict().tag(sync=True, ts=STRINGS)
    field_errors = Dict().tag(sync=True, ts=STRINGS)
    busy = Unicode("").tag(sync=True)
    submit_enabled = Bool(False).tag(sync=True)
    submit_reason = Unicode(SUBMIT_REASON).tag(sync=True)
    compiled_path = Unicode("").tag(sync=True)
    message = Dict().tag(sync=True, ts="Message")
    details = Dict().tag(sync=True, ts="Details")
    metrics = Dict().tag(sync=True, ts="Metrics")
    legend: List = List().tag(sync=True, ts="Look[]")  # the states' names, icons, meanings (tracking/states.py)
    run_view = Dict().tag(sync=True, ts="RunView")  # the run as shown: derived states, loop progress, the failure
    run_info = Dict().tag(sync=True, ts="RunInfo")  # which run: id, where, state, when, its parameters

    def __init__(self, pipeline: Any, name: str, session: Session, output_dir: str = ".",
                 options: dict[str, Any] | None = None, **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.legend = run_states.legend()
        self.pipeline, self.name, self.session = pipeline, name, session
        self._output_dir, self._options = output_dir, options
        self.handle: RunHandle | None = None
        self.static_svg: str | None = None
        self.display_handle: Any = None
        self._selected = ""
        self.summary_text = ""
        self._flush_scheduled = False
        self._lock = threading.Lock()
        self.on_msg(self._on_message)
        self.observe(self._new_run, names=["run_id"])
        self.observe(self._update_picture, names=["run_view"])
        self.picture_id = ""
        self._load(PipelineIR.from_pipeline(pipeline))
        if session.remote() is not None:
            self.enable_submit()
        self._reload_latest()

    def _load(self, ir: PipelineIR) -> None:
        self.ir = ir
        self.model = graph.dag_model(self.ir)
        dot = graph.to_dot(self.model).source
        self.title, self.description = self.ir.name, self.ir.description
        order = list(getattr(getattr(self.pipeline, "component_spec", None), "inputs", None) or {})
        fields = parameter_fields(self.ir)
        self.parameters = sorted(fields, key=lambda f: order.index(f["name"]) if f["name"] in order else len(order))
        self.values = {p["name"]: p["default"] for p in self.parameters}
        self.static_svg = graph.picture_svg(self.model, dot=dot)
        self.svg = self.static_svg or ""
        self.svg_error = "" if self.static_svg else panel_actions.NO_GRAPHVIZ

    def _picture_title(self) -> str:
        return picture_title(self.run_id, self.run_view, self.run_info)

    def _saved_metadata(self) -> dict[str, Any]:
        """A snapshot of the synced state, which the server extension saves as the notebook's widget state."""
        return {saved_state.KEY: saved_state.snapshot(self.model_id, jsonable(self.get_state()))}

    def _new_run(self, _change: Any) -> None:  # a new run: the last run's progress and details go
        self.run_view, self.details = {}, {}

    # -- what the notebook saves ----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is None:
            return bundle
        data["text/plain"] = self.summary_text or f"pipeline {self.name} ({len(self.model.nodes)} tasks)"
        if self.static_svg:
            data["image/svg+xml"] = self.static_svg
        return bundle

    # -- messages from the front end ------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        action = content.get("action", "")
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "compile": self.compile,
            "run": self.run,
            "stop": self.stop,
            "select": self.select,
            "submit": self.submit,
            "retry": self.retry,
            "log": self.send_log,
            "download": self.send_download,
            "runs": self.send_runs,
            "compare": self.send_comparison,
        }
        handler = handlers.get(action)
        if handler is None:
            return self._show_error(f"unknown panel action {action!r}", "")
        try:
            handler(content)
        except KfpNotebookError as exc:
            self._show_error(str(exc), "")
        except Exception as exc:
            self._show_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            if action == "compile" and self.busy == action:
                self.busy = ""
            if action in BUTTON_ACTIONS:
                self.send({"event": "handled", "action": action})

    def _show_error(self, text: str, details: str) -> None:
        self.message = {"kind": "error", "text": text, "details": details}
        if self.busy != "run" or self.handle is None or self.handle.done:
            self.busy = ""

    def compile(self, content: dict[str, Any] | None = None) -> str:
        """Write PIPELINE.yaml; the front end gets the text for a download link."""
        if self.busy:
            return ""
        self.busy = "compile"
        path = str(Path(self._output_dir) / f"{self.name}.yaml")
        text = self.session.compile(self.pipeline, path)
        self.compiled_path = path
        self.message = {"kind": "info", "text": f"compiled to {path}", "details": ""}
        self.send({"event": "compiled", "path": path, "yaml": text})
        self.busy = ""
        return text

    def run(self, content: dict[str, Any] | None = None) -> RunHandle | None:
        """Validate the form, then start a local run whose states colour the DAG as they change."""
        return self._start(content, "local", self._options)

    def submit(self, content: dict[str, Any] | None = None) -> RunHandle | None:
        """Validate the form, then submit a run to Kubeflow whose states colour the DAG as they change."""
        remote = self.session.remote()
        if remote is None:
            self.message = {"kind": "error", "text": self.submit_reason, "details": ""}
            return None
        return self._start(content, remote.name, None)

    def _start(self, content: dict[str, Any] | None, where: str, options: Any) -> RunHandle | None:
        if self.busy:
            return None
        values = dict((content or {}).get("values") or self.values)
        parsed, errors = validate(self.parameters, values)
        self.values, self.field_errors = values, errors
        if errors:
            self.message = {"kind": "error", "text": "fix the highlighted parameters", "details": ""}
            return None
        self.busy = "run"
        return self.session.start(self.pipeline, parsed, where, options, panel=self)

    def follow(self, handle: RunHandle) -> None:
        """Show this run: states colour the DAG, the progress line, then metrics and failures at the end."""
        self.busy = "run"
        self.message, self.metrics, self.node_states, self.details = {}, {}, {}, {}
        self.handle = handle
        self.run_id, self.run_link = handle.run_id, handle.link
        self._show_run_info(handle)
        handle.subscribe(self._on_event)

    def retry(self, content: dict[str, Any] | None = None) -> RunHandle | None:
        """Run again what did not succeed in the shown run (`Session.retry`), followed here like a run."""
        if self.busy or not self.run_id:
            return None
        return self.session.retry(self.run_id, panel=self)

    def stop(self, content: dict[str, Any] | None = None) -> None:
        if self.handle is not None and not self.handle.done:
            self.handle.cancel()

    def enable_submit(self) -> None:
        """Kubeflow is connected: the Submit button creates a run there."""
        self.submit_enabled, self.submit_reason = True, ""

    def select(self, content: dict[str, Any]) -> None:
        """The side pane for a clicked node, loop or loop iteration (view/details.py formats it).

        What the run did is read off the kernel's event loop (a Kubeflow task's log and values are remote).
        """
        selected, handle = str(content.get("node", "")), self.handle
        self._selected = selected

        def node_details(element_id: str) -> dict[str, Any]:
            details = static_details(self.ir, self.model, element_id)
            if details and handle is not None:
                details["runs"] = with_previews(self.session, handle.run_id, run_details(handle, details["id"]))
            return details

        def pane() -> dict[str, Any]:
            return panel_actions.with_debug_commands(details_for(selected, self.model, handle, node_details), handle)

        def show(details: dict[str, Any]) -> None:
            if self._selected == selected:
                self.details = jsonable(details)  # strict JSON for the front end: a NaN metric is "NaN"

        in_background(pane, show, self._failed)

    # -- run events, coalesced ------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        with self._lock:
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Send the states of every node at once (one message, however many events came in)."""
        with self._lock:
            self._flush_scheduled = False
        handle = self.handle
        if handle is None:
            return
        tasks = list(handle.tasks.values())  # one consistent copy for everything this update shows
        states = graph.node_states({t.task_id: t.state for t in tasks})
        self.node_states = {graph.node_element_id(k): v.value for k, v in states.items()}
        self.progress = progress_line(handle, tasks)
        self.run_view = run_states.run_view(self.model, handle, tasks)
        self._update_run_info(handle)
        if handle.connection_message:
            self.message = {"kind": "info", "text": handle.connection_message, "details": "", "connection": True}
        elif self.message.get("connection"):
            self.message = {}
        if handle.done and self.busy == "run":
            self.busy = "finishing"
            in_background(handle.result, self._finished, self._failed)

    def _failed(self, exc: Exception) -> None:
        """Reading a run's results or a task's details failed: say so in the panel; the buttons work again."""
        self.message = {"kind": "error", "text": f"{type(exc).__name__}: {exc}", "details": ""}
        if self.busy == "finishing":
            self.busy = ""

    def _finished(self, result: Any) -> None:
        """The run's results arrived (read off the event loop): metrics table, the first failure, done."""
        table = result.metrics_table()
        self.metrics = {
            "columns": table.columns,
            "rows": [[name, [row.get(c, "") for c in table.columns]] for name, row in table.rows],
        }
        failed = [t for t in result.tasks.values() if t.state == TaskState.FAILED]
        if failed:
            headline = self.run_view.get("failure", {}).get("text") or f"{failed[0].task_id} failed"
            self.message = {"kind": "error", "text": headline, "details": failed[0].message}
        elif result.state == TaskState.CANCELED:
            self.message = {"kind": "info", "text": "run stopped", "details": ""}
        self.busy = ""


def in_background(work: Callable[[], Any], then: Callable[[Any], None], failed: Callable[[Exception], None]) -> None:
    """Do `work` on a thread (it may wait on the network), then `then(result)` on the kernel's event loop.

    A failure reaches `failed` on the event loop (the panel shows it), never a traceback in the cell.
    """

    def run() -> None:
        try:
            value = work()
        except Exception as exc:  # shown in the panel by `failed`
            error = exc
            later(0, lambda: failed(error))
            return
        later(0, lambda: then(value))

    threading.Thread(target=run, name="kfp-panel-work", daemon=True).start()


def later(seconds: float, action: Callable[[], None]) -> None:
    """Run `action` after `seconds` on the kernel's event loop (thread-safe), or on a timer without a kernel."""
    kernel = _kernel()
    if kernel is not None and getattr(kernel, "io_loop", None) is not None:
        kernel.io_loop.add_callback(lambda: kernel.io_loop.call_later(seconds, action))
        return
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def progress_line(handle: RunHandle, tasks: list[TaskStatus] | None = None) -> str:
    """State, tasks done out of the tasks that run a container, elapsed time, run id."""
    counts = handle.task_counts(tasks).text()
    elapsed = (handle.finished or time.time()) - handle.started
    return f"{handle.state.value.lower()} · {counts} · {elapsed:.1f} s · run {handle.run_id}"


def static_details(ir: PipelineIR, model: graph.DagModel, element_id: str) -> dict[str, Any]:
    """What the panel shows for a clicked node before any run: label, component, image, badges, source."""
    member = next((m for m in model.nodes if graph.node_element_id(m) == element_id), None)
    if member is None:
        return {}
    node = model.nodes[member]
    return {
        "id": member,
        "element": element_id,
        "label": node.label,
        "component": node.component,
        "image": node.image,
        "badges": node.badges,
        "source": _source(ir, member),
    }


def run_details(handle: RunHandle, member: str, limit: int = 20) -> list[TaskDetails]:
    """What each instance of the node's task did in the run (iterations of a loop each have one)."""
    instances = [task_id for task_id in handle.tasks if path_of(task_id) == member][:limit]
    return [handle.task_details(task_id) for task_id in instances]


def _source(ir: PipelineIR, member: str) -> str:
    task = ir.task(member)
    program = task.component.program if task is not None else None
    if program is None:
        return ""
    start = program.source.find(f"\ndef {program.function}(")
    return program.source[start + 1 :] if start >= 0 else program.source
