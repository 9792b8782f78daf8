"""The tour in a real JupyterLab (and Notebook 7) in Debian's Chromium: `%%adk` cells and
top-level `await runner.ask(...)` cells mixed, Run All, and what a person sees."""
from pathlib import Path

import pytest
from jupyterlab_browser import jupyter_server, run_notebook_in_browser

TOUR = Path(__file__).resolve().parent.parent / "notebooks" / "00_tour.ipynb"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with jupyter_server(notebooks=[TOUR]) as srv:
        yield srv


@pytest.mark.parametrize("ui", ["lab", "notebook"])
@pytest.mark.timeout(180)
def test_tour_runs_all_and_shows_live_cards(server, browser, ui):
    from playwright.sync_api import expect

    def inspect(page):
        cards = page.locator(".anb-root")
        # the dashboard and one card per invocation, rendered by agentnb's own widget script
        expect(cards).to_have_count(3, timeout=15_000)
        card = cards.nth(1)
        expect(card.locator(".anb-s-ok")).to_have_count(1)
        change = card.locator('[data-section="lane-user"] .anb-change').first
        expect(change.locator(".anb-key")).to_have_text("user:drink")
        expect(change.locator(".anb-new")).to_have_text('"tea"')
        second_change = cards.nth(2).locator('[data-section="lane-user"] .anb-change').first
        expect(second_change.locator(".anb-old")).to_have_text('"tea"')
        expect(second_change.locator(".anb-new")).to_have_text('"coffee"')
        expect(cards.nth(2).locator(".anb-artifact").first).to_contain_text("v1")
        expect(page.locator("table.dataframe").first).to_be_visible()
        return card.inner_text()

    result = run_notebook_in_browser(server, "00_tour.ipynb", ui=ui, browser=browser,
                                     inspect=inspect, timeout=120)
    assert result.errors == [], result.errors
    counts = [c["execution_count"] for c in result.cells if c["cell_type"] == "code" and c["source"]]
    assert counts == list(range(1, len(counts) + 1)), counts        # every cell finished, in order
    assert "is gone from the stored session" in result.outputs_text
    assert "user:drink" in result.inspected and "ToolContext" in result.inspected
    assert result.xss_hits == [] and result.dialogs == [] and result.blocked_requests == []
    assert result.screenshot.is_file()
