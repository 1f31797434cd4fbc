"""Third-party imports mapped to distributions: a warning with the kernel's pin, or pinned with --packages auto."""

from __future__ import annotations

from importlib import metadata

import pytest
from IPython.core.error import UsageError

from kfp_notebook.authoring.packages import imported_modules, missing, requirement_name, third_party

YAML_PIN = f"PyYAML=={metadata.version('PyYAML')}"
GRAPHVIZ_PIN = f"graphviz=={metadata.version('graphviz')}"


def test_a_missing_package_is_a_warning_with_the_kernels_pin(ip, capsys):
    ip.run_cell("import yaml")
    ip.run_cell("%%component\ndef f(x: dict) -> str:\n    return yaml.dump(x)\n")
    out = capsys.readouterr().out
    assert (
        f"warning: f imports yaml, which python:3.11 does not have: add --packages {YAML_PIN} (the kernel's version)"
        in out
    )
    assert ip.user_ns["f"].packages == ()


def test_imports_inside_the_function_are_checked_too(ip):
    ip.run_cell("%%component\ndef f() -> str:\n    import graphviz\n    import json\n    return graphviz.__name__\n")
    assert ip.user_ns["f"].warnings == (
        f"f imports graphviz, which python:3.11 does not have: add --packages {GRAPHVIZ_PIN} (the kernel's version), "
        "or --packages auto to pin every import from the kernel",
    )


def test_a_module_not_in_the_kernel_is_named_without_a_pin(ip):
    ip.run_cell("%%component\ndef f() -> str:\n    import sklearn\n    return sklearn.__name__\n")
    assert "add --packages scikit-learn (not installed in this kernel)" in ip.user_ns["f"].warnings[0]


@pytest.mark.parametrize(
    "line",
    ["--packages pyyaml", "--packages PyYAML==6.0", "--packages 'pyyaml>=6'", "--base-image ghcr.io/org/image:1"],
)
def test_no_warning_when_listed_or_for_a_custom_image(ip, line):
    ip.run_cell(f"%%component {line}\ndef f(x: dict) -> str:\n    import yaml\n    return yaml.dump(x)\n")
    assert ip.user_ns["f"].warnings == ()


def test_packages_auto_pins_every_import_from_the_kernel(ip):
    ip.run_cell("import yaml")
    ip.run_cell(
        "%%component --packages auto requests==2.33.0\ndef f(x: dict) -> str:\n    import graphviz\n    return yaml.dump(x) + graphviz.__name__\n"
    )
    component = ip.user_ns["f"]
    assert component.packages == ("requests==2.33.0", GRAPHVIZ_PIN, YAML_PIN)
    assert component.warnings == ()
    command = component.component_spec.implementation.container.command[2]
    assert f"'{YAML_PIN}'" in command and f"'{GRAPHVIZ_PIN}'" in command


def test_packages_auto_refuses_what_it_cannot_pin(ip):
    with pytest.raises(
        UsageError, match=r"--packages auto cannot pin 'sklearn': no scikit-learn is installed in this kernel"
    ):
        ip.run_cell("%%component --packages auto\ndef f() -> str:\n    import sklearn\n    return ''\n")


def test_module_analysis():
    source = "import os, numpy.linalg as la\nfrom PIL import Image\nfrom . import x\nfrom kfp import dsl\ndef f():\n    import yaml\n"
    assert imported_modules(source) == {"os", "numpy", "PIL", "kfp", "yaml"}
    assert [r.module for r in third_party(imported_modules(source))] == ["PIL", "numpy", "yaml"]
    assert requirement_name("Py_YAML.x>=1") == "py-yaml-x" and requirement_name("git+https://x/y") is None
    assert missing(third_party({"yaml"}), ("https://example.com/pyyaml.whl",)) == []
