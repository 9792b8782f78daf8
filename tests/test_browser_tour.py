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
        expect(cards).to_have_count(3, timeout=60_000)
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
    assert "Not yet: fill in `answer` with the `persisted` value" in result.outputs_text   # committed blank
    assert "user:drink" in result.inspected and "ToolContext" in result.inspected
    assert result.xss_hits == [] and result.dialogs == [] and result.blocked_requests == []
    assert result.screenshot.is_file()


@pytest.fixture(scope="module")
def saved_tour(tmp_path_factory):
    """The tour executed with nbclient and saved, as a user's notebook would be: one copy as
    it is (its kernel starts again on opening), one naming a kernel that does not exist."""
    import nbformat
    from nbclient import NotebookClient
    notebook = nbformat.read(TOUR, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(TOUR.parent)}}).execute()
    folder = tmp_path_factory.mktemp("saved")
    nbformat.write(notebook, folder / "saved_tour.ipynb")
    # (no kernel of that name or language: JupyterLab asks which kernel to start)
    notebook.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "gone",
                                       "language": "no-such-language"}
    notebook.metadata.pop("language_info", None)
    nbformat.write(notebook, folder / "saved_tour_no_kernel.ipynb")
    with jupyter_server(files=[folder / "saved_tour.ipynb", folder / "saved_tour_no_kernel.ipynb"],
                        clear_outputs=False) as srv:
        yield srv


@pytest.mark.parametrize("name", ["saved_tour.ipynb", "saved_tour_no_kernel.ipynb"],
                         ids=["new kernel", "no kernel"])
@pytest.mark.timeout(400)
def test_the_saved_tour_reopened_shows_every_finished_view(saved_tour, browser, name):
    from jupyterlab_browser import ARTIFACTS, OPEN_TIMEOUT_S
    from playwright.sync_api import expect
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    context.route(lambda url: not url.startswith(saved_tour.base_url), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(saved_tour.url_for(name), wait_until="domcontentloaded", timeout=OPEN_TIMEOUT_S * 1000)
        if "no_kernel" in name:   # JupyterLab asks which kernel: the user picks none
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_be_visible(timeout=OPEN_TIMEOUT_S * 1000)
            no_kernel = dialog.get_by_role("button", name="No Kernel")
            if no_kernel.count():
                no_kernel.first.click()
            else:
                page.keyboard.press("Escape")
        # A reopened notebook is untrusted: JupyterLab sanitises its HTML (no style, no data
        # attributes), and what is left must still show the run.
        views = page.locator(".jp-OutputArea-output .anb-root")
        expect(views).to_have_count(3, timeout=OPEN_TIMEOUT_S * 1000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"reopened-{name.removesuffix('.ipynb')}.png"))
        dashboard, first, second = (views.nth(i).inner_text() for i in range(3))
        assert "user:drink" in first and '"tea"' in first and "order.txt" in first
        assert '"coffee"' in second and "order.txt" in second
        assert "coffee" in dashboard and "Invocations" in dashboard
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
    finally:
        context.close()
