"""`%kfp debug`'s post-mortem: IPython's debugger opens on what the cell raised, after its traceback, as `%pdb on`
does, for this one cell only."""

from __future__ import annotations

from typing import Any


def open_debugger_after_this_cell(shell: Any) -> None:
    """Turn IPython's automatic post-mortem on until the running cell ends (then back to what it was)."""
    before = shell.call_pdb

    def restore(*_: Any) -> None:
        shell.call_pdb = before
        shell.events.unregister("post_run_cell", restore)

    shell.call_pdb = True
    shell.events.register("post_run_cell", restore)
