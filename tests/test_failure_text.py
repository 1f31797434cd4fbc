"""A failed task in the cell's text view: the traceback from the user's first frame, each frame as its notebook cell
and line (`In [7], line 12`), as the panel shows it; exact also for v1 metrics components (a line is inserted)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from kfp_notebook.view.tracebacks import cell_line, failure_text, user_traceback

HELPER = "def scale(x):\n    y = x * 2\n    raise ValueError(f'bad {y}')\n"
COMPONENT = "%%component\ndef boom(x: int) -> int:\n    print('starting')\n    return scale(x)\n"

V1_METRICS = '''%%component
def v1_metrics(threshold: float, mlpipeline_metrics: OutputPath("Metrics")):
    """A v1 metrics component."""
    import json
    if threshold > 0.5:
        raise ValueError("threshold too high")
    with open(mlpipeline_metrics, "w") as f:
        json.dump({"metrics": [{"name": "t", "numberValue": threshold}]}, f)
'''


def cell_number(ip, start: str) -> int:
    history = ip.history_manager.input_hist_raw
    return max(i for i, cell in enumerate(history) if cell.startswith(start))


def text_of_failure(ip, capsys, *cells: str) -> str:
    """What `%kfp run` and `%kfp status` print for the failed run, one after the other."""
    for cell in ("%config KfpMagics.panel = False", *cells):
        ip.run_cell(cell)
    capsys.readouterr()
    ip.run_cell("%kfp run")
    ran = capsys.readouterr().out
    ip.run_cell("%kfp status")
    status = capsys.readouterr().out
    ip.run_cell("import kfp_notebook\nkfp_notebook.run(p)")  # a handle shown by a cell
    return "\n----\n".join([ran, status, capsys.readouterr().out])


@pytest.mark.slow
def test_a_failed_task_shows_the_users_frames_with_cells_and_lines(ip, capsys):
    text = text_of_failure(ip, capsys, HELPER, COMPONENT, "%%pipeline\ndef p():\n    boom(x=4)\n")
    helper, component = cell_number(ip, "def scale"), cell_number(ip, "%%component\ndef boom")
    expected = [
        "Traceback (most recent call last):",
        f"  In [{component}], line 4, in boom",
        "    return scale(x)",
        f"  In [{helper}], line 3, in scale",
        "    raise ValueError(f'bad {y}')",
        "ValueError: bad 8",
    ]
    views = text.split("\n----\n")
    assert len(views) == 3 and "\nrun p-" in views[2] and "RunHandle(" not in views[2]
    for shown in views:  # %kfp run's final view, %kfp status from the run's folder, a handle shown by a cell
        lines = [line for line in shown.splitlines() if "^^^" not in line]
        start = lines.index(expected[0])
        assert lines[start - 1].endswith("boom failed: exited with code 1") or lines[start - 1].endswith(
            "boom  FAILED · exited with code 1"
        )
        assert lines[start : start + len(expected)] == expected
        assert "kfp/dsl/executor" not in shown and "executor_main" not in shown and "task_main" not in shown


@pytest.mark.slow
def test_a_v1_metrics_component_reports_the_line_of_its_cell(ip, capsys):
    text = text_of_failure(ip, capsys, V1_METRICS, "%%pipeline\ndef p():\n    v1_metrics(threshold=0.9)\n")
    number = cell_number(ip, "%%component\ndef v1_metrics")
    raising = V1_METRICS.splitlines().index('        raise ValueError("threshold too high")') + 1
    assert f"  In [{number}], line {raising}, in v1_metrics" in text.split("\n----\n")[0]


@pytest.mark.parametrize(
    ("copied", "cell", "line", "expected"),
    [
        (["def f():", "    a", "    b"], ["%%component", "def f():", "    a", "    b"], 3, 4),  # the same lines
        (["def f():", "    m = conv(m)", "    a", "    b"], ["%%c", "def f():", "    a", "    b"], 4, 4),  # inserted
        (["def f():", '    """d"""', "    m = conv(m)", "    a"], ["%%c", "def f():", '    """d"""', "    a"], 4, 4),
        (["def f():", "    m = conv(m)", "    a"], ["%%c", "def f():", "    a"], 2, 3),  # the inserted line itself
        (["def g(x: Output[Metrics]):", "    a"], ["%%c", 'def g(x: OutputPath("M")):', "    a"], 2, 3),  # edited
    ],
)
def test_a_line_of_the_copy_maps_to_its_line_in_the_cell(copied, cell, line, expected):
    assert cell_line(copied, 1, cell, 2, line) == expected


def test_a_message_without_user_frames_is_kept_as_it_is():
    message = "exited with code 137; end of its stderr:\nKilled"
    assert user_traceback(message, lambda name: None) == message == failure_text(message, lambda name: None)


def test_without_the_cell_a_frame_keeps_its_file_but_kfps_frames_are_cut(tmp_path):
    program = tmp_path / "ephemeral_component.py"
    program.write_text("import kfp\n\ndef boom():\n    raise ValueError('x')\n", encoding="utf-8")
    message = (
        "exited with code 1; end of its stderr:\nTraceback (most recent call last):\n"
        '  File "/venv/kfp/dsl/executor.py", line 453, in execute\n    result = self.func(**func_kwargs)\n'
        f"  File \"{program}\", line 4, in boom\n    raise ValueError('x')\nValueError: x"
    )
    assert failure_text(message, lambda name: None).splitlines() == [
        "exited with code 1",
        "Traceback (most recent call last):",
        f'  File "{program}", line 4, in boom',
        "    raise ValueError('x')",
        "ValueError: x",
    ]
    mapped = failure_text(message, lambda name: ("In [3]", ["%%component", "def boom():", "    raise"], 2))
    assert "  In [3], line 3, in boom" in mapped.splitlines()


def test_a_run_that_cannot_be_retried_is_one_line_in_the_magic(ip):
    with pytest.raises(UsageError, match="no failed or canceled run to retry"):
        ip.run_cell("%kfp retry")
