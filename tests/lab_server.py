"""JupyterLab on 127.0.0.1 and headless Chromium driven by Playwright, for the panel's browser tests."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
KERNEL_READY = """() => {
  const w = window.jupyterapp?.shell.currentWidget, sc = w?.sessionContext, k = sc?.session?.kernel;
  return !!(sc && sc.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle');
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(config: Path) -> None:
    """What a fresh `pip install` gives, whatever a development environment has: the server extension that saves
    the panels' state with a notebook enabled (as pip installs its config file), and the old lab extension of this
    project (`kfp-notebook`, before the panel became an anywidget), which may still be linked, disabled."""
    path = config / "labconfig" / "page_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"disabledExtensions": {"kfp-notebook": True}}), encoding="utf-8")
    enabled = config / "jupyter_server_config.d" / "kfp_notebook.json"
    enabled.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "jupyter-config" / "jupyter_server_config.d" / "kfp_notebook.json", enabled)


def _settings(folder: Path) -> None:
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


@contextmanager
def jupyterlab(root: Path, scratch: Path, app: str = "jupyterlab") -> Iterator[str]:
    """Start JupyterLab (or Notebook 7: app="notebook") serving `root` on a loopback port.

    Yields the URL of a notebook, with `{path}` to fill in and the token.
    """
    port, token = free_port(), secrets.token_hex(16)
    _settings(scratch / "settings")
    _config(scratch / "config")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(scratch / "config"), "JUPYTER_RUNTIME_DIR": str(scratch / "runtime")}
    command = [
        sys.executable, "-m", app, "--no-browser", "--ServerApp.allow_root=True", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if app == "notebook":
        command += [
            "--JupyterNotebookApp.expose_app_in_browser=True",
            f"--JupyterNotebookApp.user_settings_dir={scratch / 'settings'}",
        ]
    else:
        command += [
            "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={scratch / 'settings'}", f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
        ]  # fmt: skip
    log = open(scratch / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/api/status?token={token}", server, scratch / "jupyterlab.log")
        page = "notebooks" if app == "notebook" else "lab/tree"
        yield f"{base}/{page}/{{path}}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not start in 60 s:\n{log.read_text()[-3000:]}")


def browser_marks() -> list:
    """The marks of a browser test module: browser, slow, and skipped (saying how to fix it) without Chromium."""
    import pytest

    return [
        pytest.mark.browser,
        pytest.mark.slow,
        pytest.mark.skipif(
            not os.path.exists(CHROMIUM),
            reason="Chromium missing: apt-get install chromium (make test does it as root)",
        ),
    ]
