"""The VolumeOp replacement: create a PVC, mount it into tasks, delete it after them (kfp-kubernetes)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from kfp_notebook.authoring.volumes import access_modes
from kfp_notebook.errors import OptionError

from helpers import documents, same_as_handwritten

STEP = "def step(x: int) -> int:\n    return x\n"

WITH_HELPER = """def p():
    with kfp_notebook.Volume("exam-pvc", size="1Gi", modes="RWM") as vol:
        first = step(x=1)
        vol.mount(step(x=first.output), "/test_2")
        vol.mount(step(x=3), "/other")
"""

BY_HAND = """def p():
    pvc = kubernetes.CreatePVC(pvc_name_suffix="-exam-pvc", access_modes=["ReadWriteMany"], size="1Gi")
    first = step(x=1)
    a = step(x=first.output)
    kubernetes.mount_pvc(a, pvc_name=pvc.outputs["name"], mount_path="/test_2")
    b = step(x=3)
    kubernetes.mount_pvc(b, pvc_name=pvc.outputs["name"], mount_path="/other")
    kubernetes.DeletePVC(pvc_name=pvc.outputs["name"]).after(a, b)
"""


def test_volume_helper_is_createpvc_mount_deletepvc(ip):
    ours, theirs = same_as_handwritten(
        ip,
        ["import kfp_notebook", "%%component\n" + STEP, "%%pipeline\n" + WITH_HELPER],
        ["from kfp import kubernetes", "@dsl.component\n" + STEP, "@dsl.pipeline\n" + BY_HAND],
        "p",
    )
    assert ours == theirs
    spec, platform = documents(ours)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks["deletepvc"]["dependentTasks"]) == {"createpvc", "step-2", "step-3"}
    mounts = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert mounts["exec-step-2"]["pvcMount"][0]["mountPath"] == "/test_2"


def test_volume_failure_inside_with_adds_no_delete_task(ip):
    ip.run_cell("import kfp_notebook")
    ip.run_cell("%%component\n" + STEP)
    with pytest.raises(UsageError, match="mount path 'relative' must be absolute"):
        ip.run_cell(
            '%%pipeline\ndef p():\n    with kfp_notebook.Volume("v") as vol:\n        vol.mount(step(x=1), "relative")\n'
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("RWM", ["ReadWriteMany"]), ("rwo", ["ReadWriteOnce"]), ("ReadOnlyMany", ["ReadOnlyMany"]),
     (["RWO", "ROX"], ["ReadWriteOnce", "ReadOnlyMany"]), ("RWOP", ["ReadWriteOncePod"])],
)  # fmt: skip
def test_access_modes(given, expected):
    assert access_modes(given) == expected


def test_bad_access_mode():
    with pytest.raises(OptionError, match="access mode 'RW' is not one of ReadOnlyMany, ReadWriteMany"):
        access_modes("RW")
