"""The one log reader: tails read from the end, exactly as reading the whole file would give them, in bounded memory."""

import random
import tracemalloc

import pytest

from kfp_notebook.backends.local import details, logs
from kfp_notebook.backends.local.executor import _failure_message
from kfp_notebook.tracking.results import TaskResult

ENDINGS = ["\n", "\r\n", "\r", "\n\n"]


def texts(count: int = 400):
    """Short logs with every kind of line ending, blank lines, text after the last break and UTF-8."""
    pick = random.Random(20)
    for _ in range(count):
        parts = [
            pick.choice(["", "a", "bb", "ccc é", "x" * 30]) + pick.choice(ENDINGS) for _ in range(pick.randint(0, 9))
        ]
        yield "".join(parts) + pick.choice(["", "no break at the end"])


def test_a_tail_is_what_the_whole_file_would_give(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "CHUNK", 5)  # many chunks: breaks (and "\r\n") fall across their edges
    path = tmp_path / "stderr.log"
    for text in texts():
        path.write_bytes(text.encode())
        assert logs.line_count(path) == len(text.splitlines()), text
        for count in range(12):
            assert logs.last_lines(path, count) == (text.splitlines()[-count:] if count else []), (text, count)


def test_missing_logs_read_as_empty(tmp_path):
    assert logs.last_lines(tmp_path / "none.log", 3) == [] and logs.line_count(tmp_path / "none.log") == 0
    assert logs.task_log(str(tmp_path), 5) == "" and logs.task_log(None) == ""
    assert logs.read_added(tmp_path / "none.log", 0) == ("", 0)


def test_a_line_longer_than_the_tail_limit_shows_its_end(tmp_path):
    path = tmp_path / "stdout.log"
    path.write_text("start" + "y" * (3 * logs.TAIL_BYTES_PER_LINE) + "end\n")
    (line,) = logs.last_lines(path, 1)
    assert line.endswith("yend") and len(line) == logs.TAIL_BYTES_PER_LINE - 1


@pytest.fixture(scope="module")
def huge_task(tmp_path_factory):
    """A task folder whose stderr is 48 MB of lines and whose stdout is one 16 MB line."""
    folder = tmp_path_factory.mktemp("task")
    line = "".join(f"{i:05d} " for i in range(16)) + "\n"
    with open(folder / "stderr.log", "w") as handle:
        for _ in range(48 * (1 << 20) // (len(line) * 1000)):
            handle.write(line * 1000)
        handle.write("Traceback (most recent call last):\nValueError: the end\n")
    (folder / "stdout.log").write_text("z" * (16 << 20))
    return folder


READERS = {
    "failure message": lambda folder: _failure_message(folder, 1),
    "TaskResult.log": lambda folder: TaskResult("t", "t", "c", "FAILED", folder=str(folder)).log(15),
    "panel details": lambda folder: details.task_log(str(folder), details.DETAIL_LOG_LINES),
    "%kfp logs (default tail, counts lines)": lambda folder: details.task_log(str(folder), details.DEFAULT_TAIL),
    "%kfp logs --follow": lambda folder: details.LogFollower(str(folder)).read_new(),
}


@pytest.mark.parametrize("reader", READERS)
def test_the_end_of_a_huge_log_is_read_in_bounded_memory(huge_task, reader):
    """A 48 MB stderr once raised the kernel's peak memory by twice its size to show 15 lines."""
    tracemalloc.start()
    try:
        shown = READERS[reader](huge_task)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limit = 8 * logs.FOLLOW_BYTES if "follow" in reader else 4 * logs.TAIL_BYTES + (1 << 20)
    assert peak < limit, f"{reader}: peak {peak:,} bytes"
    if "follow" not in reader:
        assert "ValueError: the end" in shown


def test_the_default_tail_says_how_many_lines_it_left_out(huge_task):
    shown = details.task_log(str(huge_task), details.DEFAULT_TAIL).splitlines()
    total = logs.line_count(huge_task / "stderr.log")
    assert f"({total - 200:,} earlier lines of stderr left out; --tail N shows the last N)" in shown
    assert shown[-1] == "ValueError: the end"


def test_following_reads_whole_lines_and_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "stdout.log"
    path.write_text("one\ntw")
    text, offset = logs.read_added(path, 0)
    assert text == "one\n" and offset == 4
    with open(path, "a") as handle:
        handle.write("o\nthree\n")
    assert logs.read_added(path, offset) == ("two\nthree\n", 14)


def test_the_users_lines_are_the_bytes_its_function_wrote_however_the_logs_are_cut(tmp_path, monkeypatch):
    """The task records where the function started and ended writing; the reader takes the last N lines of that
    range, the executor's lines are the rest, and a byte limit that cuts a line drops the partial line."""
    executor_before = "[KFP Executor x]: Got executor_input:\n{\n" + '    "inputs": {}\n' * 500 + "}\n"
    user = "".join(f"user {i}\n" for i in range(300))
    after = "[KFP Executor x]: Wrote executor output file\n"
    (tmp_path / "stdout.log").write_text(executor_before + user + after, encoding="utf-8")
    (tmp_path / "stderr.log").write_text("warning: mine\nTraceback (most recent call last):\n", encoding="utf-8")
    start, end = len(executor_before), len(executor_before) + len(user)
    (tmp_path / logs.USER_BOUNDS_FILE).write_text(f'{{"stdout": [{start}, {end}], "stderr": [0, 14]}}')
    assert logs.user_lines(str(tmp_path), 5) == "user 295\nuser 296\nuser 297\nuser 298\nuser 299\nwarning: mine"
    assert (
        logs.executor_lines(str(tmp_path), 2) == '    "inputs": {}\n}\n' + after + "Traceback (most recent call last):"
    )
    monkeypatch.setattr(logs, "TAIL_BYTES_PER_LINE", 12)  # 3 lines → 36 bytes: "user 296" partly, so dropped
    assert logs.user_lines(str(tmp_path), 3).splitlines()[:2] == ["user 297", "user 298"]
    assert logs.user_lines(str(tmp_path / "none"), 3) is None and logs.executor_lines(None, 3) is None


def test_a_running_function_writes_up_to_the_logs_end_and_a_retry_starts_again(tmp_path, monkeypatch):
    import json
    import os

    out = tmp_path / "stdout.log"
    with open(out, "w", encoding="utf-8") as handle:
        monkeypatch.setattr(logs, "_positions", lambda: {"stdout": handle.tell()})
        (tmp_path / logs.USER_BOUNDS_FILE).write_text("stale")
        before, after = logs.mark_user_function(tmp_path)
        assert not (tmp_path / logs.USER_BOUNDS_FILE).exists()
        handle.write("executor\n")
        handle.flush()
        before()
        handle.write("mine 1\nmine 2\n")
        handle.flush()
        assert logs.user_lines(str(tmp_path), 10) == "mine 1\nmine 2"  # still running: up to the end
        after()
        handle.write("executor again\n")
        handle.flush()
    assert json.loads((tmp_path / logs.USER_BOUNDS_FILE).read_text()) == {"stdout": [9, 23]}
    assert logs.user_lines(str(tmp_path), 10) == "mine 1\nmine 2"
    assert logs.executor_lines(str(tmp_path), 10) == "executor\nexecutor again"
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))
