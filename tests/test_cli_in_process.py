"""`kfp-notebook compile` executes the notebook in its own process by default: the same YAML as in a kernel."""

from __future__ import annotations

import shutil

import pytest
from test_cli import NOTEBOOKS, cli, write_notebook

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")))
def test_each_example_notebook_compiles_to_the_same_bytes_in_process_and_in_a_kernel(tmp_path, name):
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    here = cli("compile", f"{name}.ipynb", "-o", "here", "--json", cwd=tmp_path)
    kernel = cli("compile", f"{name}.ipynb", "-o", "kernel", "--kernel", "python3", "--verbose", cwd=tmp_path)
    assert here.returncode == 0 and kernel.returncode == 0, here.stderr + kernel.stderr
    assert "in a fresh python3 kernel" in kernel.stderr and "kernel" not in here.stderr
    written = sorted(p.name for p in (tmp_path / "here").iterdir())
    assert written and written == sorted(p.name for p in (tmp_path / "kernel").iterdir())
    for file in written:
        assert (tmp_path / "here" / file).read_bytes() == (tmp_path / "kernel" / file).read_bytes(), file


def test_in_process_cells_see_kfp_as_a_kernel_does_and_run_in_the_notebooks_folder(tmp_path):
    """kfp's client is imported on first use only, but `kfp.Client`, `from kfp import Client` and
    `kfp.components` work as in a kernel; the working folder's modules import; the user's history file is left alone."""
    (tmp_path / "helpers_module.py").write_text("VALUE = 7\n", encoding="utf-8")
    write_notebook(
        tmp_path / "client.ipynb",
        [
            ("%load_ext kfp_notebook", []),
            ("import sys, kfp\nfrom kfp import Client\nassert kfp.Client is Client and kfp.components\n"
             "from helpers_module import VALUE\nimport os\nopen('cwd.txt', 'w').write(os.getcwd())", []),
            ("%%component\ndef seven() -> int:\n    return 7\n", []),
            ("%%pipeline\ndef sevens():\n    seven()\n", []),
        ],
    )  # fmt: skip
    done = cli("compile", "client.ipynb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "sevens.yaml").exists() and (tmp_path / "cwd.txt").read_text() == str(tmp_path)
    assert not list(tmp_path.glob(".ipython/**/history.sqlite"))  # the cells' history stayed in memory


def test_an_unknown_kernel_is_one_line(tmp_path):
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", tmp_path)
    done = cli("compile", "quickstart.ipynb", "--kernel", "no-such-kernel", cwd=tmp_path)
    assert done.returncode == 2 and "no-such-kernel" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_called_where_a_shell_runs_already_the_notebook_runs_in_a_kernel_not_in_that_shell(ip, tmp_path):
    """`cli.main` called from a notebook (or a test): the caller's shell, namespace and folder stay as they were."""
    from IPython.core.interactiveshell import InteractiveShell

    from kfp_notebook.headless import cli as command

    write_notebook(
        tmp_path / "other.ipynb",
        [("%load_ext kfp_notebook", []), ("leaked = 1", []), ("%%component\ndef one() -> int:\n    return 1\n", []),
         ("%%pipeline\ndef ones():\n    one()\n", [])],
    )  # fmt: skip
    publish = ip.display_pub.publish
    assert command.main(["compile", str(tmp_path / "other.ipynb"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "ones.yaml").exists()
    assert "leaked" not in ip.user_ns and "ones" not in ip.user_ns
    assert InteractiveShell.instance() is ip and ip.display_pub.publish == publish
