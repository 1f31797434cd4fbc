"""A notebook's definitions in a fresh kernel (nbclient) for the command line; the file itself is never written.

Code cells tagged `kfp-skip` and cells made only of `%kfp ...` lines (actions such as `%kfp run`) are
not executed: the command decides what to do with the pipelines the notebook defines. The command's
action then runs in the same kernel through the same magics (`%kfp compile`, `%kfp run`, ...), and
reports back on stdout as one JSON line after RESULT (progress lines start with PROGRESS).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_notebook.errors import KfpNotebookError, speak_to_command_line
from kfp_notebook.tracking import strict_json

SKIP_TAG = "kfp-skip"
COMMAND = "the command"
RESULT = "::kfp-notebook-result:: "
PROGRESS = "::kfp-notebook-progress:: "
_ACTION_LINE = re.compile(r"\s*(%kfp\b.*|#.*)?")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NotebookCellError(KfpNotebookError):
    """A cell of the notebook failed: which one, and its error (the kernel's traceback kept apart)."""

    def __init__(self, where: str, ename: str, evalue: str, traceback: str = ""):
        own = where == COMMAND and ename == "UsageError"  # the magics' own message says it all
        super().__init__(evalue if own else f"{where} failed: {ename}: {evalue}")
        self.traceback = traceback


def runnable(cell: Any) -> bool:
    """A code cell the command executes: not tagged kfp-skip, not only `%kfp` action lines."""
    if cell.cell_type != "code" or SKIP_TAG in cell.get("metadata", {}).get("tags", []):
        return False
    return not all(_ACTION_LINE.fullmatch(line) for line in cell.source.splitlines())


class HeadlessNotebook:
    """An in-memory copy of a notebook executing in a fresh kernel whose working folder is the notebook's."""

    def __init__(self, path: Path, timeout: int, echo: Callable[[str], None], quiet: bool = True,
                 kernel_name: str = "python3"):  # fmt: skip
        _without_iri_grammar()
        import nbformat

        self.path, self.echo, self.quiet = path, echo, quiet
        self.notebook = nbformat.read(path, as_version=4)
        self.client = _echoing_client()(
            self.notebook,
            timeout=timeout,
            kernel_name=kernel_name,
            resources={"metadata": {"path": str(path.resolve().parent)}},
            store_widget_state=False,
            shutdown_kernel="immediate",
        )
        self.client.echo = echo

    @contextmanager
    def started(self) -> Iterator[HeadlessNotebook]:
        """The kernel running (its own stderr, e.g. its startup warnings, hidden when quiet)."""
        import subprocess

        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        try:
            with self.client.setup_kernel(**({"stderr": subprocess.DEVNULL} if self.quiet else {})):
                yield self
        except NoSuchKernel:
            known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
            raise KfpNotebookError(
                f"no Jupyter kernel named {self.client.kernel_name!r} (installed: {known}); "
                "`jupyter kernelspec list` lists them"
            ) from None

    def define(self) -> None:
        """Execute the definition cells in order; the first failing cell ends it with NotebookCellError."""
        for index, cell in enumerate(list(self.notebook.cells)):
            if runnable(cell):
                first = (cell.source.strip().splitlines() or [""])[0]
                self._execute(cell, index, f"cell {index + 1} ({first[:60]!r})")

    def act(self, code: str) -> dict[str, Any]:
        """Execute the command's own cell; return the JSON it reported."""
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(code)
        self.notebook.cells.append(cell)
        self.client.timeout = None  # a run takes as long as it takes; --timeout is for the notebook's cells
        try:
            self._execute(cell, len(self.notebook.cells) - 1, COMMAND)
        except KeyboardInterrupt:
            self.interrupt()
            raise
        outputs = self.notebook.cells[-1].get("outputs", [])  # nbclient stores the executed cell anew
        texts = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
        found = [line for line in "".join(texts).splitlines() if line.startswith(RESULT)]
        if not found:
            raise KfpNotebookError("the kernel reported no result (did the notebook's code exit the kernel?)")
        return dict(json.loads(found[-1][len(RESULT) :]))

    def interrupt(self, grace: float = 40.0) -> None:
        """Ctrl-C: interrupt the kernel, whose cell then stops the run (a local run's tasks end; a Kubeflow
        run goes on there), and wait until it is idle again before the kernel is shut down."""
        from nbclient.util import run_sync

        run_sync(_interrupt_and_wait)(self.client.km, self.client.kc, grace)

    def _execute(self, cell: Any, index: int, where: str) -> None:
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        try:
            self.client.execute_cell(cell, index)
        except CellExecutionError as exc:
            traceback = _ANSI.sub("", exc.traceback or "")
            raise NotebookCellError(where, exc.ename, _ANSI.sub("", exc.evalue), traceback) from None
        except CellTimeoutError:  # --timeout ran out: one line, not nbclient's traceback
            raise NotebookCellError(where, "Timeout", f"ran longer than {self.client.timeout} s (--timeout)") from None
        except DeadKernelError:
            raise NotebookCellError(where, "DeadKernel", "the notebook's kernel died while running it") from None


async def _interrupt_and_wait(manager: Any, client: Any, grace: float) -> None:
    import time
    from queue import Empty

    from nbclient.util import ensure_async

    await ensure_async(manager.interrupt_kernel())
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            message = await ensure_async(client.get_iopub_msg(timeout=1))
        except Empty:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return


def _without_iri_grammar() -> None:
    """nbformat imports jsonschema, which builds rfc3987_syntax's grammar (0.8 s) only to check the "iri"
    string format; notebook validation never uses it, so the command does without (its process only)."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _echoing_client() -> type:
    from nbclient import NotebookClient

    class EchoingClient(NotebookClient):
        """Passes each stream output line to `echo` as it arrives (progress, and the notebook's prints)."""

        echo: Callable[[str], None] = staticmethod(lambda text: None)  # type: ignore[assignment]

        def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            if msg["msg_type"] == "stream":
                self.echo(msg["content"]["text"])
            return super().output(outs, msg, display_id, cell_index)

    return EchoingClient


# -- what the command's cell calls inside the kernel --------------------------------------------


def _shell() -> Any:
    from IPython import get_ipython

    shell = get_ipython()
    shell.extension_manager.load_extension("kfp_notebook")
    return shell


def _pipeline_name(shell: Any, pipeline: str | None) -> str:
    """The pipeline's name as the magics know it (the latest one defined when none is given)."""
    return str(shell.magics_manager.registry["KfpMagics"].registry.pipeline(pipeline).name)


def compile_and_report(pipeline: str | None, target: str, into_folder: bool) -> None:
    """`%kfp compile NAME -o PATH` (the magic itself, so the YAML is the magic's), then report where."""
    shell = _shell()
    name = _pipeline_name(shell, pipeline)
    path = str(Path(target) / f"{name}.yaml") if into_folder else target
    shell.run_line_magic("kfp", shlex.join(["compile", name, "-o", path]))
    report({"pipeline": name, "path": path, "bytes": Path(path).stat().st_size})


def run_and_report(line: str, runs_dir: str, wait: bool) -> None:
    """`%kfp run ... --no-wait` in the command's runs folder, then follow the run and report it."""
    shell = _shell()
    speak_to_command_line()
    shell.run_line_magic("config", f"KfpMagics.runs_dir = {runs_dir!r}")
    follow_and_report(shell.run_line_magic("kfp", line), wait)


def submit_and_report(connect_line: str, line: str, wait: bool) -> None:
    """`%kfp connect ...` then `%kfp submit ... --no-wait`, then follow the run and report it."""
    shell = _shell()
    shell.run_line_magic("kfp", connect_line)
    follow_and_report(shell.run_line_magic("kfp", line), wait)


def follow_and_report(handle: Any, wait: bool = True) -> None:
    """Print a PROGRESS line per state change until the run ends (unless not `wait`), then its RESULT."""
    seen = 0
    try:
        while wait and not handle.wait(0.2):
            seen = _progress(handle, seen)
    except KeyboardInterrupt:
        _stop(handle)
    _progress(handle, seen)
    report(run_report(handle))


def _stop(handle: Any) -> None:
    """An interrupted command stops a local run (its tasks end) and only stops following a Kubeflow run."""
    print(f"{PROGRESS}{handle.interrupt()}", flush=True)


def _progress(handle: Any, seen: int) -> int:
    events = list(handle.events)
    for event in events[seen:]:
        message = f" · {event.message.splitlines()[0]}" if event.message else ""
        print(f"{PROGRESS}{event.task_id or 'run'} {event.state.value}{message}", flush=True)
    return len(events)


def run_report(handle: Any) -> dict[str, Any]:
    """Run id, state, link, each task's state, outputs and metrics (what `--json` prints)."""
    result = handle.result()
    tasks = {
        task_id: {"state": task.state, "outputs": task.parameters, "metrics": _metrics(task), "message": task.message}
        for task_id, task in result.tasks.items()
    }
    metrics = {task_id: values["metrics"] for task_id, values in tasks.items() if values["metrics"]}
    return {
        "run_id": handle.run_id,
        "pipeline": handle.pipeline_name,
        "backend": handle.backend,
        "state": handle.state.value,
        "message": handle.message,
        "link": handle.link,
        "outputs": result.outputs,
        "tasks": tasks,
        "metrics": metrics,
    }


def _metrics(task: Any) -> dict[str, Any]:
    """The values a task logged as metrics (numbers, not the formatted text of the metrics table)."""
    from kfp_notebook.tracking.artifacts import is_metrics

    artifacts = [a for items in task.artifacts.values() for a in items]
    metrics = [a for a in artifacts if is_metrics(a)]
    return {name: value for a in metrics for name, value in (a.get("metadata") or {}).items()}


def report(data: dict[str, Any]) -> None:
    print(RESULT + strict_json.dumps(data), flush=True)
