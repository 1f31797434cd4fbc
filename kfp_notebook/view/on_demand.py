"""What the panel sends when its front end asks: a task's whole log, an output artifact's bytes (a mixin of
PipelinePanel; each answer is read off the kernel's event loop and sent as one message)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.view.artifacts import download
from kfp_notebook.view.details import log_parts

if TYPE_CHECKING:
    from kfp_notebook.session import Session
    from kfp_notebook.tracking.handle import RunHandle

#: The lines of a task's log (the user's and the executor's each) sent when the front end asks for them.
FULL_LOG_LINES = 5000


class OnDemand:
    """The panel's answers to `log` and `download` messages."""

    handle: RunHandle | None
    session: Session

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


def in_background(work: Any, then: Any, failed: Any) -> None:
    from kfp_notebook.view.panel import in_background as background

    background(work, then, failed)
