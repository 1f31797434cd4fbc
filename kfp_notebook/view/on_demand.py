"""What the panel sends when its front end asks: a task's whole log, an output artifact's bytes, the pipeline's
runs and a comparison of some of them (a mixin of PipelinePanel; each answer is read off the kernel's event
loop and sent as one message; a problem shows in the panel's `message` trait instead).

    {"action": "log", "task": TASK_ID}                → {"event": "log", "task", "log_user", "log_executor"}
    {"action": "download", "task", "output", "name"?} → {"event": "download", "task", "output", "name", "mime",
                                                          "size", "cut", "data": base64}
    {"action": "runs", "count"?: N}                    → {"event": "runs", "pipeline", "columns", "rows", "notes"}
    {"action": "compare", "runs": [RUN_ID, …], "by"?}  → {"event": "compare", "runs", "pipelines", "notice",
                                                          "parameters", "metrics", "plots"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.tracking.strict_json import jsonable
from kfp_notebook.view.artifacts import download
from kfp_notebook.view.details import log_parts

if TYPE_CHECKING:
    from kfp_notebook.session import Session
    from kfp_notebook.tracking.handle import RunHandle

#: The lines of a task's log (the user's and the executor's each) sent when the front end asks for them.
FULL_LOG_LINES = 5000
#: The newest runs of the pipeline the Runs list gets (the front end may ask for fewer or more).
RUNS_SHOWN = 50


class OnDemand:
    """The panel's answers to `log`, `download`, `runs` and `compare` messages."""

    handle: RunHandle | None
    session: Session
    pipeline: Any

    def send_log(self, content: dict[str, Any]) -> None:
        """A task's log on demand, beyond what its details carry: {"event": "log", "task", "log_user",
        "log_executor"}, the last FULL_LOG_LINES of each (`{"action": "log", "task": TASK_ID}`)."""
        task, handle = str(content.get("task", "")), self.handle
        if handle is None or task not in handle.tasks:
            raise KfpNotebookError(f"no task {task!r} in the run this panel shows")

        def read() -> dict[str, Any]:
            user, executor = log_parts(dict(handle.task_log_parts(task, FULL_LOG_LINES)), FULL_LOG_LINES)
            return {"event": "log", "task": task, "log_user": user, "log_executor": executor}

        in_background(read, self.send, self._failed)  # type: ignore[attr-defined]

    def send_download(self, content: dict[str, Any]) -> None:
        """An output artifact's bytes through the kernel, for hosts that cannot open the file's path:
        `{"action": "download", "task": TASK_ID, "output": NAME, "name": FILE_IN_A_FOLDER}` is answered with
        `{"event": "download", "task", "output", "name", "mime", "size", "cut", "data": base64}`."""
        handle = self.handle
        if handle is None:
            raise KfpNotebookError("no run to download an artifact of: run the pipeline first")
        task, output, name = (str(content.get(key, "")) for key in ("task", "output", "name"))
        send, failed = self.send, self._failed  # type: ignore[attr-defined]
        in_background(lambda: download(self.session, task, handle.run_id, output, name), send, failed)

    def send_runs(self, content: dict[str, Any]) -> None:
        """The pipeline's runs, newest first, for the Runs list: `{"action": "runs", "count": N}` is answered with
        `{"event": "runs", "pipeline", "columns", "rows", "notes"}` (RunHistory.table: run_id, pipeline, where,
        state, started, duration_s, params.*, metrics.*)."""
        count = _count(content.get("count"), RUNS_SHOWN)

        def read() -> dict[str, Any]:
            history = self.session.history(self.pipeline)
            shown = type(history)(history[:count], history.notes)
            return {"event": "runs", "pipeline": self.pipeline.name, **shown.table()}

        send, failed = self.send, self._failed  # type: ignore[attr-defined]
        in_background(read, send, failed)

    def send_comparison(self, content: dict[str, Any]) -> None:
        """Runs side by side for the Compare view: `{"action": "compare", "runs": [RUN_ID, …], "by": PARAMETER}`
        is answered with `{"event": "compare", "runs", "pipelines", "notice", "parameters", "metrics", "plots"}`
        (view/compare.py compare_data: differing parameters marked, the best value of each metric marked)."""
        wanted = [str(run) for run in content.get("runs") or []]
        by = str(content["by"]) if content.get("by") else None
        if not wanted:
            raise KfpNotebookError("choose the runs to compare (two or more from the Runs list)")

        def read() -> dict[str, Any]:
            from kfp_notebook.view.compare import compare_data

            history = self.session.history(self.pipeline)
            found = {record.run_id: record for record in history}
            missing = [run for run in wanted if run not in found]
            if missing:
                known = ", ".join(list(found)[:10]) or "none"
                raise KfpNotebookError(f"no run {', '.join(missing)} of {self.pipeline.name} (its runs: {known})")
            return {"event": "compare", **compare_data([found[run] for run in wanted], by)}

        send, failed = self.send, self._failed  # type: ignore[attr-defined]
        in_background(read, lambda data: send(jsonable(data)), failed)


def _count(value: Any, default: int) -> int:
    try:
        return max(1, int(value)) if value is not None else default
    except (TypeError, ValueError):
        return default


def in_background(work: Any, then: Any, failed: Any) -> None:
    from kfp_notebook.view.panel import in_background as background

    background(work, then, failed)
