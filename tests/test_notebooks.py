"""Every notebook runs in a real kernel (nbclient); the tour's saved widget state and its
nbconvert HTML hold what the live views showed."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(path: Path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def tour():
    return execute(NOTEBOOKS[0])


# What some cells must print, by notebook and cell id: the promises a notebook shows a learner.
PRINTED = {
    "06_livekit_jobcontext.ipynb": {
        "lk06-left-behind": "threads the job left running: []",
        "lk06-refused": "could not connect to the LiveKit server at ws://127.0.0.1:",
        "lk06-live-mode": "No LiveKit server configured (LIVEKIT_URL is not set)",
    },
}
LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"
                   and o.get("name") == "stdout")


def errors_of(notebook) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_notebook_runs_without_errors(path, monkeypatch):
    for name in LIVEKIT_ENV:     # no server: the LiveKit notebooks run on the console room
        monkeypatch.delenv(name, raising=False)
    notebook = execute(path)
    assert not errors_of(notebook)
    cells = {c.get("id"): c for c in notebook.cells}
    for cell_id, text in PRINTED.get(path.name, {}).items():
        assert text in printed(cells[cell_id]), printed(cells[cell_id])


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_notebook_06_runs_its_last_section_on_a_real_server(livekit_server, monkeypatch):
    """With LIVEKIT_URL and its keys set, notebook 06's last section joins a real room with a
    real guest, who chats with the agent; the sections before still run on the console room."""
    for name, value in zip(LIVEKIT_ENV, (livekit_server.url, livekit_server.api_key,
                                         livekit_server.api_secret), strict=True):
        monkeypatch.setenv(name, value)
    [path] = [p for p in NOTEBOOKS if p.name == "06_livekit_jobcontext.ipynb"]
    notebook = execute(path)
    assert not errors_of(notebook)
    cells = {c.get("id"): c for c in notebook.cells}
    assert livekit_server.url in printed(cells["lk06-live-mode"])
    chat = printed(cells["lk06-live-chat"])
    for text in ("the guest heard: Welcome to the hotel desk!", "the guest heard: Room 12 is ready.",
                 "ctx.room is a livekit.rtc.room.Room", "ctx.room.name: hotel-desk-live | "
                 "ctx.job.room.name: hotel-desk-live", "('guest', 'PARTICIPANT_KIND_STANDARD', "
                 "{'floor': '2'})"):
        assert text in chat, chat
    assert "guest" in printed(cells["lk06-live-close"])
    assert "threads the job left running: []" in printed(cells["lk06-left-behind"])


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["kernelspec"]["name"] == "python3", path.name
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), path.name


def test_tour_saved_widget_state_holds_context_state_and_artifacts(tour):
    assert NOTEBOOKS[0].name == "00_tour.ipynb"
    states = [w["state"] for w in tour.metadata["widgets"][WIDGET_STATE]["state"].values()
              if w.get("model_name") == "AnyModel"]
    cards = [s for s in states if s["status"] == "ok"]
    assert len(cards) == 2                       # one live card per invocation
    first = cards[0]["html"]
    assert "I like tea" in first and "ToolContext" in first and "InvocationContext" in first
    assert "user:drink" in first and "&quot;tea&quot;" in first and "order.txt" in first
    assert "invocation-only" in first            # temp: is marked as such
    dashboard = next(s for s in states if s["status"] == "")
    assert "&quot;coffee&quot;" in dashboard["html"] and "Invocations" in dashboard["html"]


def test_tour_nbconvert_html_shows_state_changes_and_artifacts(tour):
    from nbconvert import HTMLExporter
    html, _ = HTMLExporter().from_notebook_node(tour)
    assert "user:drink" in html and "order.txt" in html and "one coffee, please" in html
    assert "<script>alert" not in html


def test_headless_tour_prints_what_it_showed_and_fails_loudly(tmp_path):
    """`./dev tour` (`python -m agentnb.tour`): the tour in a real kernel, summed up in a few
    lines; a notebook that fails makes it say which error and exit 1."""
    import re
    import subprocess
    import sys

    def tour(*args):
        return subprocess.run([sys.executable, "-m", "agentnb.tour", *map(str, args)],
                              capture_output=True, text=True, timeout=300)
    ok = tour()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ran = re.search(r"00_tour\.ipynb: (\d+)/(\d+) code cells ran", ok.stdout)
    assert ran and ran[1] == ran[2], ok.stdout
    assert "1 dashboard(s), 2 invocation card(s) ended ok, ok" in ok.stdout, ok.stdout
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")])
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(broken, tmp_path / "broken.ipynb")
    failed = tour(tmp_path / "broken.ipynb")
    assert failed.returncode == 1 and "FAILED: ValueError: boom" in failed.stdout, failed.stdout


def test_binder_installs_every_framework_on_a_python_agentnb_supports():
    import tomllib
    root = NOTEBOOKS[0].parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    runtime = (root / "binder" / "runtime.txt").read_text().strip()
    wanted = project["requires-python"].removeprefix(">=")
    def version(text):
        return tuple(int(part) for part in text.split(".")[:2])
    assert version(runtime.removeprefix("python-")) >= version(wanted), (runtime, wanted)
    requirements = (root / "binder" / "requirements.txt").read_text().splitlines()
    assert "-e .[all]" in requirements and "all" in project["optional-dependencies"]
