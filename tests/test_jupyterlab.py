"""nbgrader's JupyterLab extensions load in the JupyterLab that requirements.txt installs: a Jupyter
server is started on a free local port, and its /lab page lists nbgrader's lab extension (formgrader,
assignment list, validate button) among the extensions it loads, with a JupyterLab major version the
extension was built for, and the formgrader's own page is served."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    home = tmp_path_factory.mktemp("jupyter-home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.allow_root=True",
         f"--ServerApp.root_dir={ROOT}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"HOME": str(home), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
             "JUPYTER_CONFIG_DIR": str(home / ".jupyter")})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _get(base + "/api")
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stdout.read()[-3000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 60 s")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_lab_loads_the_nbgrader_extension(server):
    status, page = _get(server + "/lab")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    names = {ext["name"] for ext in config["federated_extensions"]}
    assert "@jupyter/nbgrader" in names, sorted(names)
    import jupyterlab
    ext = next(e for e in config["federated_extensions"] if e["name"] == "@jupyter/nbgrader")
    package = json.loads((Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
                          / "package.json").read_text())
    wanted = package["dependencies"]["@jupyterlab/application"]
    assert wanted.lstrip("^~>=").split(".")[0] == jupyterlab.__version__.split(".")[0], (wanted, jupyterlab.__version__)
    assert ext["load"].endswith(".js")
    status, _ = _get(server + "/lab/extensions/@jupyter/nbgrader/" + ext["load"])
    assert status == 200


def test_formgrader_page_is_served(server):
    status, page = _get(server + "/formgrader")
    assert status == 200 and "formgrader" in page.lower()
