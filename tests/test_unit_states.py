"""The state vocabulary (tracking/states.py) and the task-id grammar (tracking/task_ids.py): one place each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kfp_notebook.tracking import states
from kfp_notebook.tracking.states import LOOKS, ShownState, TaskState, count_tasks, fold
from kfp_notebook.tracking.task_ids import TaskId, find_task_id, path_of, spellings

ROOT = Path(__file__).resolve().parent.parent
STATE_NAMES = {look.state for look in LOOKS} | {states.UNREADABLE}


def test_every_reported_and_shown_state_has_one_look():
    assert {s.value for s in TaskState} | {s.value for s in ShownState} == STATE_NAMES - {states.UNREADABLE}
    assert len(LOOKS) == len(STATE_NAMES) - 1
    assert all(look.label and look.icon and look.meaning for look in LOOKS)


def test_fold_takes_the_most_telling_state():
    assert fold([TaskState.SUCCEEDED, TaskState.FAILED, TaskState.RUNNING]) is TaskState.FAILED
    assert fold([TaskState.SKIPPED, TaskState.CACHED]) is TaskState.CACHED
    assert fold([TaskState.SUCCEEDED, TaskState.RUNNING]) is TaskState.RUNNING
    assert fold([]) is TaskState.PENDING
    assert list(states.PRECEDENCE) == sorted(TaskState, key=states.PRECEDENCE.index)


def test_counts_fix_the_total_from_the_expected_instances_and_count_failures_as_finished():
    expected = {"prepare": 1, "loop/work": 20, "branch/report": 1}
    seen = [("prepare", TaskState.SUCCEEDED), ("loop/work", TaskState.FAILED), ("loop/work", TaskState.RUNNING)]
    counts = count_tasks(seen, expected)
    assert counts.to_dict() == {"finished": 2, "failed": 1, "canceled": 0, "running": 1, "total": 22}
    assert counts.text() == "2/22 tasks · 1 failed"
    assert counts.text((3, 20)) == "2/22 tasks · 3/20 iterations · 1 failed"


def test_tasks_of_a_branch_not_taken_finish_with_their_group():
    expected = {"draw": 1, "branches/small/report": 1, "branches/large/report": 1}
    seen = [("draw", TaskState.SUCCEEDED), ("branches/large/report", TaskState.SUCCEEDED)]
    groups = {
        "branches": TaskState.SUCCEEDED,
        "branches/small": TaskState.SKIPPED,
        "branches/large": TaskState.SUCCEEDED,
    }
    assert count_tasks(seen, expected, groups).text() == "3/3 tasks"
    running = {"branches": TaskState.RUNNING, "branches/large": TaskState.RUNNING}
    assert count_tasks(seen[:1], expected, running).text() == "1/3 tasks", "a group still going says nothing yet"


def test_counts_grow_with_a_loop_whose_items_are_not_known_before_the_run():
    dynamic = count_tasks([("loop/work", TaskState.SUCCEEDED)] * 7, {"loop/work": 0, "end": 1})
    assert dynamic.total == 8 and dynamic.finished == 7


def test_parse_reads_records_and_calls_unknown_words_lost():
    assert TaskState.parse("succeeded") is TaskState.SUCCEEDED
    assert TaskState.parse("EXPLODED") is TaskState.LOST
    assert TaskState.FAILED.unsuccessful and not TaskState.SKIPPED.unsuccessful


def test_the_front_end_copy_is_generated_from_the_vocabulary(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "style").mkdir()
    from kfp_notebook.view import front_end

    front_end.write_generated(tmp_path)
    typescript = (tmp_path / "src" / "states.ts").read_text(encoding="utf-8")
    css = (tmp_path / "style" / "states.css").read_text(encoding="utf-8")
    union = re.search(r"export type NodeState = (.*);", typescript)
    assert union is not None and set(re.findall(r"'([A-Z_]+)'", union.group(1))) == STATE_NAMES - {states.UNREADABLE}
    assert set(re.findall(r"\[data-state='([A-Z_]+)'\]", css)) == STATE_NAMES - {states.UNREADABLE}
    assert "--kfp-state-fill: none;" in css  # NOT_EXECUTED is drawn unfilled
    built = ROOT / "frontend" / "src" / "states.ts"
    if built.exists():  # a build made from an older vocabulary would style states that no longer exist
        assert built.read_text(encoding="utf-8") == typescript


def _string_literals(text: str) -> set[str]:
    return set(re.findall(r"""["']([A-Z_]{4,})["']""", text))


def test_state_names_are_written_once():
    """Outside the vocabulary, Python names states through TaskState/ShownState; the front end has no copy."""
    allowed = {
        ROOT / "kfp_notebook/tracking/states.py",
        ROOT / "kfp_notebook/backends/kubeflow/tasks.py",  # Kubeflow's words for states, mapped to ours once
        ROOT / "kfp_notebook/backends/local/instances.py",  # kfp's PipelineTaskFinalStatus words (COMPLETE, FAILED…)
    }
    offenders = []
    for path in (ROOT / "kfp_notebook").rglob("*.py"):
        if path not in allowed:
            found = _string_literals(path.read_text(encoding="utf-8")) & STATE_NAMES
            offenders += [f"{path.relative_to(ROOT)}: {sorted(found)}"] if found else []
    for path in [*(ROOT / "labextension/src").glob("*.ts"), *(ROOT / "labextension/style").glob("*.css")]:
        if path.name not in ("states.ts", "states.css"):
            found = _string_literals(path.read_text(encoding="utf-8")) & STATE_NAMES
            offenders += [f"{path.relative_to(ROOT)}: {sorted(found)}"] if found else []
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("text", "path", "name", "indexes"),
    [
        ("train", "train", "train", ()),
        ("for-loop-2[3]/square", "for-loop-2/square", "square", (("for-loop-2", 3),)),
        (
            "a/for-loop-2[3]/for-loop-4[11]/b",
            "a/for-loop-2/for-loop-4/b",
            "b",
            (("a/for-loop-2", 3), ("a/for-loop-2/for-loop-4", 11)),
        ),
        ("for-loop-2[0]", "for-loop-2", "for-loop-2", (("for-loop-2", 0),)),
    ],
)
def test_task_ids_are_read_by_one_grammar(text, path, name, indexes):
    parsed = TaskId(text)
    assert (parsed.path, parsed.name, parsed.indexes) == (path, name, indexes)
    assert path_of(text) == path
    assert str(parsed.segments[-1]).startswith(name)


def test_an_iteration_and_the_scopes_of_a_task():
    parsed = TaskId("a/for-loop-2[3]/for-loop-4[11]/b")
    assert parsed.iteration("a/for-loop-2") == "a/for-loop-2[3]"
    assert parsed.iteration("a/for-loop-2/for-loop-4") == "a/for-loop-2[3]/for-loop-4[11]"
    assert parsed.iteration("other") is None
    assert parsed.scopes() == ["a", "a/for-loop-2", "a/for-loop-2/for-loop-4"]
    assert parsed.last_index == 11


def test_what_the_user_types_finds_the_first_instance():
    ids = ["prepare", "for-loop-2[0]/train-model", "for-loop-2[1]/train-model"]
    assert find_task_id(ids, "Train_Model") == "for-loop-2[0]/train-model"
    assert find_task_id(ids, "for-loop-2[1]/train-model") == "for-loop-2[1]/train-model"
    assert find_task_id(ids, "evaluate") is None
    assert spellings("Train_Model") >= {"Train_Model", "Train-Model", "train-model"}
