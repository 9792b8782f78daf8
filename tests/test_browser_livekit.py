"""The LiveKit notebooks in a real JupyterLab in Debian's Chromium: Run All, every cell finishes,
and the views show what the job did (a `userdata` change, the job and room facts). Screenshots:
tests/artifacts/06_livekit_jobcontext-lab.png and 07_livekit_agentsession-lab.png."""
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyterlab_browser import jupyter_server, run_notebook_in_browser

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
JOBCONTEXT = NOTEBOOKS / "06_livekit_jobcontext.ipynb"
AGENTSESSION = NOTEBOOKS / "07_livekit_agentsession.ipynb"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with jupyter_server(notebooks=[JOBCONTEXT, AGENTSESSION]) as srv:
        yield srv


def finished_in_order(result):
    assert result.errors == [], result.errors
    counts = [c["execution_count"] for c in result.cells if c["cell_type"] == "code" and c["source"]]
    assert counts == list(range(1, len(counts) + 1)), counts        # every cell finished, in order
    assert result.xss_hits == [] and result.dialogs == [] and result.blocked_requests == []
    assert result.page_errors == [], result.page_errors
    assert result.screenshot.is_file()


@pytest.fixture(scope="module")
def agentsession_run(server, browser):
    from playwright.sync_api import expect

    def inspect(page):
        views = page.locator(".anb-root")
        # the job's dashboard, one card per turn (one ask, two %%lk cells), then the
        # example-shaped job's section: two turns, and the weather job's own card... (7 in all)
        expect(views).to_have_count(7, timeout=60_000)
        dashboard, first, second = views.nth(0), views.nth(1), views.nth(2)
        # the dashboard was shown before the job started and follows its turns
        expect(dashboard.locator(".anb-title").first).to_contain_text("LiveKit job · room hotel-desk")
        lane = dashboard.locator('[data-section="lane-userdata"] .anb-change')
        expect(lane).to_have_count(7)                 # 3 starting values, then 4 writes
        nights = lane.filter(has_text="tool:book_room").filter(
            has=page.locator(".anb-key", has_text="nights"))
        expect(nights.locator(".anb-old")).to_have_text("0")
        expect(nights.locator(".anb-new")).to_have_text("2")
        facts = dashboard.locator('[data-section="job"]')
        for text in ("hotel-desk", "console", "mock-job-", "THREAD"):
            expect(facts).to_contain_text(text)
        # each turn's card: its status and its own userdata change
        expect(first.locator(".anb-head .anb-s-ok")).to_have_count(1)   # (expect checks held are ok chips too)
        change = first.locator('[data-section="lane-userdata"] .anb-change').first
        expect(change.locator(".anb-key")).to_have_text("room_type")
        expect(change.locator(".anb-new")).to_have_text('"double"')
        expect(second.locator(".anb-head .anb-s-ok")).to_have_count(1)
        requests = second.locator('[data-section="lane-userdata"] .anb-change').nth(1)
        expect(requests.locator(".anb-new")).to_have_text('["late checkout"]')
        expect(requests.locator(".anb-prov")).to_contain_text("userdata")
        return SimpleNamespace(dashboard=dashboard.inner_text(), first=first.inner_text())

    return run_notebook_in_browser(server, AGENTSESSION.name, ui="lab", browser=browser,
                                   inspect=inspect, timeout=90)


@pytest.fixture(scope="module")
def jobcontext_run(server, browser):
    from playwright.sync_api import expect

    def inspect(page):
        views = page.locator(".anb-root")
        expect(views).to_have_count(1, timeout=60_000)
        facts = views.first.locator('[data-section="job"], [data-section="logs"]')
        for text in ("mock-job-", "hotel-desk", "console", "THREAD", "Job started!", "job_id"):
            expect(views.first).to_contain_text(text)
        # JupyterLab draws the tutorial's sequence diagram from its Mermaid source
        diagram = page.locator(".jp-RenderedMermaid").first
        expect(diagram).to_be_visible(timeout=60_000)
        expect(diagram.locator("img, svg").first).to_be_visible()   # drawn, not its source
        # Records that arrived after the dashboard was shown (the shutdown, during aclose())
        # reach it only as live patches: give them time to land.
        try:
            expect(views.first.locator('[data-section="job"]')).to_contain_text(
                "parent process shutdown", timeout=2_000)
        except AssertionError:
            pass
        return SimpleNamespace(facts="\n".join(facts.all_inner_texts()))

    return run_notebook_in_browser(server, JOBCONTEXT.name, ui="lab", browser=browser,
                                   inspect=inspect, timeout=90)


@pytest.mark.timeout(120)
def test_agentsession_notebook_runs_all_and_shows_userdata_changes(agentsession_run):
    result = agentsession_run
    finished_in_order(result)
    assert "Not yet: fill in `answer` with the `source`" in result.outputs_text   # committed blank
    assert "The history replays to" in result.outputs_text
    assert "the turn was: tool call, tool output, answer" in result.outputs_text
    assert "book_room" in result.inspected.first


@pytest.mark.timeout(120)
def test_jobcontext_notebook_runs_all_and_shows_the_job_room_process_and_log(jobcontext_run):
    result = jobcontext_run
    finished_in_order(result)
    assert "Room name: console" in result.outputs_text
    assert "InvalidSignatureError" in result.outputs_text
    assert "Not yet: fill in the room name the entrypoint printed" in result.outputs_text


def test_jobcontext_dashboard_follows_the_job_to_its_shutdown(jobcontext_run):
    assert "parent process shutdown" in jobcontext_run.inspected.facts
