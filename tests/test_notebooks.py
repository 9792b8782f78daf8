"""Every notebook runs in a real kernel (nbclient); the saved tour and its nbconvert HTML hold
the finished views."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(path: Path, notebook=None):
    notebook = notebook or nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def tour():
    return execute(NOTEBOOKS[0])


# What some cells must print, by notebook and cell id: the promises a notebook shows a learner.
PRINTED = {
    "04_tools_memory_auth.ipynb": {
        "nb04-answer-credential": "status: ok | answer: 'Sunny in Oslo too.' | still waiting: []",
    },
    "08_history_with_pandas.ipynb": {
        "nb08-save-load": "the loaded trace has the same history: True",
    },
    "12_evals_and_time.ipynb": {
        "nb12-saved": "eval cases in the file: 1",
        "nb12-passed": "passed: [True, True]",
        "nb12-regression": "passed: [False, False]",
        "nb12-spans-join": "the tool span's event: ['function_response']",
        "nb12-exporter": "your exporter got the same spans as runner.spans(): True",
    },
    "11_edit_and_import.ipynb": {
        "nb11-set-state": "ADK stored an event by user with state_delta {'cart': ['coffee'], "
                          "'user:name': 'Ada', 'app:currency': 'EUR'}\nagentnb: cannot set "
                          "'temp:scratch': temp: keys live only during one invocation",
        "nb11-after-edit": "the tool read the cart the notebook set: ['coffee', 'milk']",
        "nb11-shared": "another session sees: {'app:currency': 'EUR', 'user:name': 'Ada'}\n"
                       "replay invariant holds: True",
        "nb11-from-session": "I can see 5 messages; the first was 'I like tea'.",
        "nb11-stop": "status: interrupted | why: stopped from the notebook",
    },
    "06_livekit_jobcontext.ipynb": {
        "lk06-left-behind": "threads the job left running: []",
        "lk06-17": "'message': 'Job shutting down: ",
        "lk06-refused": "could not connect to the LiveKit server at ws://127.0.0.1:",
        "lk06-live-mode": "No LiveKit server configured (LIVEKIT_URL is not set)",
    },
    "10_adk_in_livekit.ipynb": {
        "nb10-05": "what the tool saw: {'room': 'no room (No LiveKit call is in progress)'",
    },
}
LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"
                   and o.get("name") == "stdout")


def errors_of(notebook) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def test_the_edit_and_import_notebook_speaks_english_and_korean():
    """Notebook 11: each `## ` heading is `English · 한국어`, with a `> **요약:** …` line in
    the same cell."""
    import re
    notebook = nbformat.read(NOTEBOOKS[0].parent / "11_edit_and_import.ipynb", as_version=4)
    headed = [c.source for c in notebook.cells if c.cell_type == "markdown"
              and any(line.startswith("## ") for line in c.source.splitlines())]
    assert len(headed) == 4
    for source in headed:
        heading = next(line for line in source.splitlines() if line.startswith("## "))
        english, _, korean = heading[3:].partition(" · ")
        assert re.search("[A-Za-z]", english) and re.search("[가-힣]", korean), heading
        assert re.search(r"^> \*\*요약:\*\* .*[가-힣]", source, re.MULTILINE), heading


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


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_notebook_10_runs_an_adk_agent_in_a_real_room(livekit_server, monkeypatch):
    """With a server, notebook 10 runs ADK's own LiveKitRunner in a real room with a real
    guest (its exercises, blank, wrong and right, are in test_exercises.py)."""
    for name, value in zip(LIVEKIT_ENV, (livekit_server.url, livekit_server.api_key,
                                         livekit_server.api_secret), strict=True):
        monkeypatch.setenv(name, value)
    [path] = [p for p in NOTEBOOKS if p.name == "10_adk_in_livekit.ipynb"]
    notebook = execute(path)
    assert not errors_of(notebook)
    out = {c.get("id"): printed(c) for c in notebook.cells if c.cell_type == "code"}
    assert "a LiveKit server is configured: " + livekit_server.url in out["nb10-01"]
    assert ("the guest said \"I'd like green tea in the morning\" and heard 'Green tea, noted.'"
            in out["nb10-10"]) and "heard 'Good night!'" in out["nb10-10"]
    for shown in ("livekit.rtc.room.Room named 'hotel-desk-adk'", "'session_id': 'hotel-desk-adk'",
                  "tool:set_pref", "adk-agent.lk.agent.state", "guest.floor"):
        assert shown in out["nb10-12"], shown
    for shown in ("room_chat", "function_call", "room_transcript", "Good night!"):
        assert shown in out["nb10-14"], shown
    assert "interrupted" in out["nb10-16"] and "threads the call left running: []" in out["nb10-16"]


def test_notebook_10s_sections_are_bilingual_with_a_korean_summary():
    import re
    [path] = [p for p in NOTEBOOKS if p.name == "10_adk_in_livekit.ipynb"]
    sections = [c.source for c in nbformat.read(path, as_version=4).cells
                if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert len(sections) >= 7
    for source in sections:
        heading = source.splitlines()[0]
        assert re.fullmatch(r"## [ -~]+ · .*[\uac00-\ud7a3].*", heading), heading
        assert re.search(r"^> \*\*요약:\*\* .*[\uac00-\ud7a3]", source, re.M), heading


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["kernelspec"]["name"] == "python3", path.name
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), path.name


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def agentnb_outputs(notebook):
    """(kind, status, text/html) of every agentnb view the notebook's outputs hold."""
    import re
    out = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            match = re.match(r'<div class="anb-root[^"]*" data-view="(\w+)" data-status="(\w*)"', html)
            if match:
                out.append((match[1], match[2], html))
    return out


def test_the_saved_tour_holds_every_finished_view_as_html(tour):
    """What a saved notebook keeps for a view is the finished view itself, in its text/html,
    with no widget left to load: GitHub, nbviewer, nbconvert and a reopened JupyterLab show it."""
    assert NOTEBOOKS[0].name == "00_tour.ipynb"
    views = agentnb_outputs(tour)
    cards = [html for kind, status, html in views if kind == "card"]
    dashboards = [html for kind, _, html in views if kind == "dashboard"]
    assert [status for kind, status, _ in views if kind == "card"] == ["ok", "ok"]
    assert len(dashboards) == 1
    first, second = cards
    assert "I like tea" in first and "ToolContext" in first and "InvocationContext" in first
    assert "user:drink" in first and '"tea"' in first and "order.txt" in first
    assert "invocation-only" in first            # temp: is marked as such
    assert '"coffee"' in second and "order.txt" in second
    assert '"coffee"' in dashboards[0] and "Invocations" in dashboards[0] and "order.txt" in dashboards[0]
    left = [o for c in tour.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert left == []                            # no output depends on a widget model
    assert "<style>" in views[0][2]              # the first view carries the stylesheet


def test_tour_nbconvert_html_shows_state_changes_and_artifacts(tour, tmp_path):
    """nbconvert's HTML, opened in Chromium with every request that leaves the page refused:
    the cards are there and styled (their content is static HTML, no widget manager)."""
    from nbconvert import HTMLExporter
    html, _ = HTMLExporter().from_notebook_node(tour)
    assert "user:drink" in html and "order.txt" in html and "one coffee, please" in html
    assert "<script>alert" not in html
    shown_offline(html, tmp_path)


@pytest.mark.browser
def test_nbconvert_execute_offline_shows_the_cards(tmp_path):
    """`jupyter nbconvert --execute --to html` on the tour, then the page offline."""
    import shutil
    import subprocess
    import sys
    copy = tmp_path / "tour.ipynb"
    shutil.copy(NOTEBOOKS[0], copy)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html",
                    str(copy)], check=True, capture_output=True, timeout=300, cwd=NOTEBOOKS[0].parent)
    shown_offline((tmp_path / "tour.html").read_text(encoding="utf-8"), tmp_path)


def shown_offline(html: str, tmp_path):
    from jupyterlab_browser import chromium_browser, require_chromium
    require_chromium()
    page_file = tmp_path / "page.html"
    page_file.write_text(html, encoding="utf-8")
    with chromium_browser() as browser:
        context = browser.new_context()
        context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
        page = context.new_page()
        page.goto(page_file.as_uri())
        cards = page.locator('.anb-root[data-view="card"]')
        assert cards.count() == 2
        text = cards.nth(0).inner_text()
        assert "user:drink" in text and "order.txt" in text
        # styled by agentnb's own stylesheet, which one output carries for the page
        border = cards.nth(1).evaluate("e => getComputedStyle(e).borderTopStyle")
        assert border == "solid"
        context.close()


def test_a_saved_1000_event_notebook_with_a_card_per_invocation_stays_under_1_mb(tmp_path):
    """125 invocations of 8 events, each with its live card, and a dashboard: the saved file."""
    cells = [
        "from google.adk.agents import LlmAgent\n"
        "from agentnb.adk import NotebookRunner, ScriptedLlm, reply, call\n"
        "def bump(i: int, tool_context) -> dict:\n"
        "    \"\"\"Add one to the session's counter.\"\"\"\n"
        "    tool_context.state['count'] = tool_context.state.get('count', 0) + 1\n"
        "    return {'ok': i, 'count': tool_context.state['count']}\n"
        "steps = [call('bump', i=0), call('bump', i=1), call('bump', i=2), reply('done')] * 125\n"
        "agent = LlmAgent(name='bench_agent', model=ScriptedLlm(steps), instruction='Count.', tools=[bump])",
        "runner = NotebookRunner(agent, app_name='bench')\ndash = runner.view()\ndash",
        "for s in range(5):\n    await runner.new_session()\n"
        "    for _ in range(25):\n        await runner.ask('go')",
        "print(len(runner.events()))",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)
    assert notebook.cells[-1].outputs[0]["text"].strip() == "1000"
    views = agentnb_outputs(notebook)
    assert len([v for v in views if v[0] == "card"]) == 125
    assert path.stat().st_size <= 1_000_000, path.stat().st_size


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


def test_the_tour_survives_re_running_any_cell():
    """Run All, then every code cell once more, in the same kernel: nothing fails."""
    import asyncio
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS[0].parent)}})

    async def run_twice():
        async with client.async_setup_kernel():
            for _ in range(2):
                for index, cell in enumerate(notebook.cells):
                    if cell.cell_type == "code":
                        await client.async_execute_cell(cell, index)
    asyncio.run(run_twice())   # a cell that fails raises CellExecutionError here
