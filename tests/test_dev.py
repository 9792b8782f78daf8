"""`./dev lab`, the way in: it says what the install is doing, runs as root, prints a URL that
opens the tour (not the Launcher), and opens copies of the notebooks, so running them leaves
no outputs in the repository's notebooks/. Each test runs `dev` in a copy of the repository's
entry files (`dev`, pyproject.toml, notebooks/)."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Stands in for the virtual environment's python (pip as it prints) and jupyter (its arguments).
FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    if [ "$1 $2 $3" = "-m pip install" ]; then
      echo "Collecting google-adk==2.13.0"
      echo "  Downloading google_adk-2.13.0-py3-none-any.whl (2.1 MB)"
      echo "Collecting livekit-agents==1.8.6"
      echo "Installing collected packages: google-adk, livekit-agents, agentnb"
      echo "Successfully installed agentnb google-adk livekit-agents"
      echo "$@" >> "$(dirname "$0")/pip-calls"
      exit 0
    fi
    exit 3
    """)
FAKE_JUPYTER = '#!/bin/sh\necho "jupyter $*"\n'


def checkout(tmp_path: Path) -> Path:
    """The files `dev` works with, in a fresh directory."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    for name in ("dev", "pyproject.toml"):
        shutil.copy2(ROOT / name, repo / name)
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy2(notebook, repo / "notebooks")
    return repo


def dev(repo: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(repo / "dev"), *args], cwd=repo, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})}, **kwargs)


def test_dev_lab_says_what_the_install_does_and_opens_the_tour_from_copies(tmp_path):
    repo = checkout(tmp_path)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("jupyter", FAKE_JUPYTER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    first = dev(repo, "lab", "--port=8999")
    assert first.returncode == 0, first.stderr
    said = first.stderr
    assert "dev: installing agentnb and what it needs into .venv: JupyterLab, Google ADK" in said
    for line in ("dev:   pip [1] Collecting google-adk==2.13.0", "dev:   pip [2] Collecting livekit-agents",
                 "dev:   pip installing 3 packages", "dev:   pip Successfully installed"):
        assert line in said, said
    assert re.search(r"dev: installed in \d+ s", said), said
    assert (bin_dir / "pip-calls").read_text().splitlines()[-1].endswith("-e .[dev]")
    assert "Downloading google_adk" in (repo / ".venv" / "pip.log").read_text()   # all of it, kept
    # JupyterLab on the copies, the tour as the URL it prints, allowed to run as root
    args = first.stdout.split()
    assert args[:5] == ["jupyter", "lab", "--ip=127.0.0.1", "--ServerApp.root_dir=my-notebooks",
                        "--LabApp.default_url=/lab/tree/00_tour.ipynb"], args
    assert ("--allow-root" in args) == (os.geteuid() == 0) and args[-1] == "--port=8999"
    copies = sorted(p.name for p in (repo / "my-notebooks").glob("*.ipynb"))
    assert copies == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert f"({len(copies)} new)" in said
    # the second time: nothing to install, and the copies (maybe edited) are kept as they are
    (repo / "my-notebooks" / "00_tour.ipynb").write_text("{}")
    again = dev(repo, "lab")
    assert again.returncode == 0 and "installing" not in again.stderr and "(0 new)" in again.stderr
    assert (repo / "my-notebooks" / "00_tour.ipynb").read_text() == "{}"
    assert "my-notebooks/" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_failed_install_shows_the_end_of_pips_log(tmp_path):
    repo = checkout(tmp_path)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\necho 'ERROR: No matching distribution found for google-adk'\nexit 1\n")
    (bin_dir / "python").chmod(0o755)
    failed = dev(repo, "lab")
    assert failed.returncode != 0
    assert "pip install --upgrade pip failed" in failed.stderr
    assert "No matching distribution found for google-adk" in failed.stderr


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_dev_lab_prints_a_url_that_opens_the_tour_and_leaves_notebooks_clean(tmp_path, browser):
    """The real JupyterLab of this virtual environment, started by `./dev lab` (as root when
    the tests run as root): the URL it prints opens the tour; the tour run and saved there
    leaves the repository's notebooks/ as they were."""
    import json

    from jupyterlab_browser import (DEFAULT_LAB_SETTINGS, JupyterServer, _free_port, _stop_server,
                                    run_notebook_in_browser)
    repo = checkout(tmp_path)
    # A .venv that is this environment (its python and jupyter), stamped as installed for this
    # pyproject.toml: `dev` installs nothing and runs the real JupyterLab.
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "jupyter").symlink_to(Path(sys.executable).parent / "jupyter")
    (repo / ".venv" / ".agentnb-stamp").write_text(
        hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()[:16] + "\n")
    home = tmp_path / "jupyter"
    env = {name: str(home / name.lower()) for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    for plugin, values in DEFAULT_LAB_SETTINGS.items():   # no news, no extension manager
        pkg, name = plugin.rsplit(":", 1)
        settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / pkg / f"{name}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    committed = {p.name: p.read_bytes() for p in (repo / "notebooks").glob("*.ipynb")}
    log_path = tmp_path / "lab.log"
    with open(log_path, "w") as log:
        # (window.jupyterapp: the harness reads cells and runs commands through it)
        proc = subprocess.Popen([str(repo / "dev"), "lab", "--no-browser", f"--port={_free_port()}",
                                 "--LabApp.expose_app_in_browser=True"], cwd=repo,
                                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None:
            assert proc.poll() is None, log_path.read_text()     # root or not, it keeps running
            assert time.monotonic() < deadline, log_path.read_text()
            found = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)\?token=(\w+)", log_path.read_text())
            url = found and found[0]
            time.sleep(0.2)
        port, path, token = found[1], found[2], found[3]
        assert path == "/lab/tree/00_tour.ipynb", url
        server = JupyterServer(f"http://127.0.0.1:{port}", token, repo / "my-notebooks", home,
                               log_path, proc)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            from playwright.sync_api import expect
            current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
            expect(current).to_have_text("00_tour.ipynb", timeout=30_000)    # the tour
            expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible()
            assert page.locator(".jp-Launcher").count() == 0                # not the Launcher
        finally:
            context.close()
        def save(page):
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        result = run_notebook_in_browser(server, "00_tour.ipynb", ui="lab", browser=browser,
                                         timeout=150, screenshot_name="dev-lab-tour", inspect=save,
                                         shutdown_kernel=False)
        assert result.errors == []
        copy = repo / "my-notebooks" / "00_tour.ipynb"
        deadline = time.monotonic() + 15
        while not any(c.get("outputs") for c in json.loads(copy.read_text())["cells"]):
            assert time.monotonic() < deadline, "the run was not saved into the copy"
            time.sleep(0.3)
        assert {p.name: p.read_bytes() for p in (repo / "notebooks").glob("*.ipynb")} == committed
    finally:
        _stop_server(JupyterServer("", "", repo, home, log_path, proc))


def test_the_readme_and_docs_link_only_files_in_the_repository():
    """Everything a user or contributor needs is in the repository: no link leads out of it."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        links = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"<(https?://[^>]+)>", text)
        assert not re.search(r"https?://", " ".join(links)), (doc.name, links)
        for link in links:
            target = (doc.parent / link.split("#")[0]).resolve()
            assert target.exists() and ROOT in target.parents, (doc.name, link)
        assert "../shared" not in text and "](../.." not in text, doc.name


def test_dev_test_installs_chromium_where_the_browser_tests_look_for_it(tmp_path):
    """`./dev test`'s chromium step on a machine without the browser: apt-get installs
    Debian's chromium. (It once asked `command -v chromium`, which inside `dev` finds its own
    shell function of that name, and so never installed anything.)"""
    text = (ROOT / "dev").read_text()
    function = text[text.index("chromium() {"):]
    function = function[:function.index("\n}\n") + 3]
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("apt-get", "sudo"):
        (fake / name).write_text(f'#!/bin/sh\n[ "$(basename "$0")" = sudo ] && exec "$@"\n'
                                 f'echo "$@" >> "{tmp_path}/apt-calls"\n')
        (fake / name).chmod(0o755)
    script = f"set -euo pipefail\nchromium_bin={tmp_path}/no-chromium\n{function}chromium\n"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "apt-calls").read_text().splitlines() == [
        "update -qq", "install -y -qq chromium"]
    (tmp_path / "no-chromium").write_text("#!/bin/sh\n")
    (tmp_path / "no-chromium").chmod(0o755)
    (tmp_path / "apt-calls").unlink()
    again = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                           env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert again.returncode == 0 and not (tmp_path / "apt-calls").exists()   # there: nothing
