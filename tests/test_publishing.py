"""The publishing workflow (.github/workflows/book.yml) and the system-package step of `make book` and
`make test` (scripts/system_packages.sh), tested as far as they can be without GitHub and without root."""
from __future__ import annotations

import os
import re
import subprocess

import yaml
from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
SCRIPT = ROOT / "scripts" / "system_packages.sh"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _makefile_recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"the Makefile has no {target} target"
    return match.group(1)


def test_workflow_builds_on_every_push_to_main_and_deploys_to_pages():
    wf = _workflow()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as True
    assert on["push"]["branches"] == ["main"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert build["env"]["CI"] == "true", "the build must not skip a check"
    runs = [step.get("run", "") for step in build["steps"]]
    assert "make book" in runs, "the workflow must build with the Makefile's own command"
    assert any("scripts/system_packages.sh" in r for r in runs)
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_make_book_builds_strictly_into_what_the_workflow_uploads():
    recipe = _makefile_recipe("book")
    assert "jupyter-book build . --warningiserror --nitpick" in recipe
    assert "scripts/check_site.py _build/html" in recipe and "scripts/check_browser.py _build/html" in recipe
    assert "book: env system" in (ROOT / "Makefile").read_text()
    assert "test: env system" in (ROOT / "Makefile").read_text()


def _run_script(tmp_path, env_extra: dict, tools: dict[str, str]) -> subprocess.CompletedProcess:
    """The script with a PATH of fake tools only: ``tools`` maps a name to its shell body."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in tools.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), **env_extra}
    bash = "/bin/bash" if os.path.exists("/bin/bash") else "bash"
    return subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True)


def test_system_packages_present_says_nothing(tmp_path):
    result = _run_script(tmp_path, {}, {"chromium": "exit 0", "bwrap": "exit 0", "id": "echo 1000"})
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_system_packages_missing_without_root_say_what_to_run(tmp_path):
    result = _run_script(tmp_path, {}, {"id": "echo 1000"})
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1, result.stdout
    assert "not installed: chromium bubblewrap" in result.stdout
    assert "sudo apt-get install chromium bubblewrap" in result.stdout


def test_system_packages_missing_under_ci_fail(tmp_path):
    result = _run_script(tmp_path, {"CI": "true"}, {"id": "echo 1000", "chromium": "exit 0"})
    assert result.returncode == 1 and "bubblewrap" in result.stdout and "chromium" not in result.stdout


def test_system_packages_are_installed_as_root(tmp_path):
    """As root with apt-get, the missing packages are installed (a fake apt-get records its arguments)."""
    log = tmp_path / "apt.log"
    result = _run_script(tmp_path, {}, {"id": "echo 0", "bwrap": "exit 0", "apt-get": f'echo "$@" >> {log}'})
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
