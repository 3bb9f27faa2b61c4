"""A real JupyterLab on 127.0.0.1 and Debian's Chromium driven by Playwright (never a downloaded browser).

One fresh server per test session (a reused one keeps the old kernel), on a free port with a
random token and throwaway settings; every server, kernel and browser is stopped in teardown.
Without /usr/bin/chromium these tests skip, saying why; CI installs it (`.ci/run`).
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
from helpers import marked_processes

CHROMIUM = "/usr/bin/chromium"
ROOT = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_gone(find, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A running JupyterLab serving a copy of notebooks/; yields (base_url, token, root_dir)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it")
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root, dirs_exist_ok=True)
    settings = root / ".settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # else a news toast covers the page
    # The server lives for the whole session, so it must not carry the per-test leak mark; it
    # carries a mark of its own instead, checked when it is stopped.
    e2e_mark = secrets.token_hex(8)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), PROCWIDGETS_E2E_MARK=e2e_mark,
               JUPYTERLAB_WORKSPACES_DIR=tempfile.mkdtemp(), JUPYTER_RUNTIME_DIR=tempfile.mkdtemp())
    env.pop("PROCWIDGETS_TEST_MARK", None)
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / ".lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(root / '.lab.log').read_text()}") from None
                time.sleep(0.2)
        yield base, token, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down on TERM
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        left = wait_gone(lambda: marked_processes(f"PROCWIDGETS_E2E_MARK={e2e_mark}"), timeout=15)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not left, f"the JupyterLab session left processes behind: {left}"


@pytest.fixture
def browser_context(lab, tmp_path_factory):
    """A fresh headless Chromium per test, closed (with Playwright's driver) before the leak check."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1600})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def artifacts() -> pathlib.Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
