"""Real JupyterLab / Notebook 7 in Debian's Chromium: smoke test of the browser harness.

The notebook exercises what only a real frontend shows: an ipywidgets HTML widget updated live
from a top-level `await asyncio.sleep` loop, and an anywidget with an inline ESM module.
"""

from __future__ import annotations


import pytest

import jupyterlab_browser
from jupyterlab_browser import (
    SELF_FIRING_KINDS,
    BrowserRunError,
    hostile_strings,
    jupyter_server,
    require_chromium,
    run_notebook_in_browser,
    write_notebook,
)

pytestmark = pytest.mark.browser

CELLS = [
    "# Browser smoke test\nMarkdown renders too.",
    """
    import asyncio
    import ipywidgets as widgets
    from IPython.display import display

    live = widgets.HTML(value="<b>live:start</b>")
    display(live)
    """,
    """
    for i in range(5):
        live.value = f"<b>live:{i}</b>"
        await asyncio.sleep(0.1)
    live.value = "<b>live:final-42</b>"
    """,
    'print("smoke-print-ok", 6 * 7)',
    """
    import anywidget
    import traitlets

    class Echo(anywidget.AnyWidget):
        _esm = '''
        function render({ model, el }) {
          const span = document.createElement("span");
          span.className = "agentnb-echo";
          const show = () => { span.textContent = "echo:" + model.get("value"); };
          show();
          model.on("change:value", show);
          el.appendChild(span);
        }
        export default { render };
        '''
        value = traitlets.Unicode("initial").tag(sync=True)

    echo = Echo()
    display(echo)
    """,
    """
    await asyncio.sleep(0.2)
    echo.value = "anywidget-final-7"
    """,
    "",  # an empty code cell must not block completion
]


SAFE = hostile_strings("safe")  # shown as text: must never execute
CONTROL = hostile_strings("control")  # rendered as trusted HTML output: does execute

HOSTILE_CELLS = [
    f"""
    import ipywidgets as widgets
    from IPython.display import HTML, display
    SAFE = {SAFE!r}
    print("\\n".join(SAFE))
    display(widgets.Label(value=" ".join(SAFE)))
    display(widgets.Textarea(value="\\n".join(SAFE)))
    """,
    # Positive control: trusted HTML output runs scripts in JupyterLab, so the detector must fire.
    f"display(HTML({''.join(CONTROL)!r}))",
    "print('before-error')",
    "1 / 0",
    "print('after-error')",  # Run All stops at the error: never runs
]

HANG_CELLS = ["import asyncio", "await asyncio.sleep(600)", "print('unreachable')"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("nb")
    nbs = [
        write_notebook(d / "smoke.ipynb", CELLS),
        write_notebook(d / "hostile.ipynb", HOSTILE_CELLS),
        write_notebook(d / "hang.ipynb", HANG_CELLS),
    ]
    with jupyter_server(notebooks=nbs) as srv:
        yield srv


@pytest.mark.parametrize("ui", ["lab", "notebook"])
@pytest.mark.timeout(120)
def test_widgets_render_and_update_in_real_browser(server, browser, ui):
    from playwright.sync_api import expect

    def inspect(page):
        # ipywidgets HTML: its final value is visible in the page.
        expect(page.locator(".widget-html-content", has_text="live:final-42")).to_be_visible(timeout=60_000)
        # anywidget: our ESM ran and followed the later model change.
        echo = page.locator("span.agentnb-echo")
        expect(echo).to_have_count(1)
        expect(echo).to_have_text("echo:anywidget-final-7", timeout=60_000)
        return echo.inner_text()

    result = run_notebook_in_browser(server, "smoke.ipynb", ui=ui, browser=browser, inspect=inspect)
    print(f"\n{ui}: run via {result.run_method}, timings {result.timings}")

    assert result.errors == [], result.errors
    assert result.stderr == [], result.stderr
    assert "smoke-print-ok 42" in result.outputs_text, result.outputs_text
    assert "live:final-42" in result.outputs_text, result.outputs_text
    assert "echo:anywidget-final-7" in result.outputs_text, result.outputs_text
    assert "Error displaying widget" not in result.page_text
    assert "jupyter news" not in result.page_text.lower()  # the news toast is switched off
    assert result.jupyter_dialogs == []  # the kernelspec in metadata: no kernel picker
    assert result.inspected == "echo:anywidget-final-7"
    # every non-empty code cell ran, in order
    counts = [c["execution_count"] for c in result.cells if c["cell_type"] == "code" and c["source"]]
    assert counts == list(range(1, len(counts) + 1)), counts
    assert result.screenshot.is_file() and result.screenshot.stat().st_size > 10_000
    assert result.xss_hits == [] and result.dialogs == []
    assert result.page_errors == [], result.page_errors
    assert result.blocked_requests == [], result.blocked_requests


@pytest.mark.parametrize("ui", ["lab", "notebook"])
@pytest.mark.timeout(120)
def test_harness_reports_errors_and_executed_scripts(server, browser, ui):
    result = run_notebook_in_browser(server, "hostile.ipynb", ui=ui, browser=browser)
    print(f"\n{ui}: xss {sorted(result.xss_hits)} dialogs {result.dialogs} timings {result.timings}")

    # the error is reported with its traceback, and Run All stopped there
    assert len(result.errors) == 1 and result.errors[0].startswith("ZeroDivisionError"), result.errors
    assert "1 / 0" in result.errors[0]
    assert any("ZeroDivisionError" in s for s in result.stderr), result.stderr
    assert "before-error" in result.outputs_text and "after-error" not in result.outputs_text
    assert result.cells[-1]["execution_count"] is None
    # payloads shown as text never ran ...
    assert "<script>" in result.outputs_text
    assert [h for h in result.xss_hits if h.startswith("safe:")] == []
    # ... while the positive control proves the detectors are live
    assert {f"control:{k}" for k in SELF_FIRING_KINDS} <= set(result.xss_hits), result.xss_hits
    assert {"type": "alert", "message": "agentnb-xss"} in result.dialogs, result.dialogs


@pytest.mark.timeout(60)
def test_harness_times_out_on_a_hung_cell(server, browser):
    with pytest.raises(BrowserRunError, match=r"cells did not finish") as info:
        run_notebook_in_browser(server, "hang.ipynb", ui="lab", browser=browser, timeout=15)
    message = str(info.value)
    assert "prompt='[*]:'" in message, message
    assert (jupyterlab_browser.ARTIFACTS / "hang-lab.png").is_file()
    # the harness shut the busy kernel down
    assert not [s for s in server.sessions() if s["path"] == "hang.ipynb"]


def test_missing_chromium_fails_loudly(monkeypatch):
    monkeypatch.setattr(jupyterlab_browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        require_chromium()
