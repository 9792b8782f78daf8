"""What a run waits for, answered in the notebook, in a real JupyterLab: a tool's credential
request (the form's key resumes the invocation through ADK's auth flow and stays masked) and
a tool's confirmation request. The waiting card says it waits; a form answered, in the form
or in code, is disabled and says so, and its output becomes a static picture of the question,
the answer and the resumed run's card."""
import pytest
from jupyterlab_browser import jupyter_server, run_notebook_in_browser, write_notebook

pytestmark = pytest.mark.browser

SETUP = '''from fastapi.openapi.models import APIKey, APIKeyIn
from google.adk.agents import LlmAgent
from google.adk.auth import AuthConfig, AuthCredential, AuthCredentialTypes
from google.adk.tools import FunctionTool, ToolContext
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

CONFIG = AuthConfig(auth_scheme=APIKey(**{"in": APIKeyIn.header, "name": "X-Api-Key"}),
                    raw_auth_credential=AuthCredential(auth_type=AuthCredentialTypes.API_KEY))

def weather(city: str, tool_context: ToolContext) -> dict:
    credential = tool_context.get_auth_response(CONFIG)
    if credential is None:
        tool_context.request_credential(CONFIG)
        return {"status": "waiting for a key"}
    return {"forecast": "sunny", "key_tail": credential.api_key[-2:]}

def forecaster():
    return NotebookRunner(LlmAgent(name="forecaster", tools=[weather], model=ScriptedLlm(
        [call("weather", city="Paris"), reply("Sunny in Paris.")])))

def refund(amount: int) -> dict:
    """Give money back."""
    return {"refunded": amount}

clerk = NotebookRunner(LlmAgent(name="clerk", tools=[FunctionTool(refund, require_confirmation=True)],
                                model=ScriptedLlm([call("refund", amount=5), reply("Refunded 5.")])))'''

CELLS = [
    "%load_ext agentnb",
    SETUP,
    'runner = forecaster()\ninv = await runner.ask("Weather in Paris?")',          # a form
    'in_code = forecaster()\nasked = await in_code.ask("Weather in Paris, asked in code?")',
    'await in_code.answer_credential("key-CODE-77")',                               # answered in code
    'refund_asked = await clerk.ask("Refund 5, please")',                           # a confirmation
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = write_notebook(tmp_path_factory.mktemp("forms") / "auth.ipynb", CELLS)
    with jupyter_server(notebooks=[path]) as srv:
        yield srv


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index)


def disabled(form) -> list[bool]:
    return form.locator("input, button").evaluate_all("els => els.map(e => e.disabled)")


@pytest.mark.timeout(180)
def test_answered_forms_are_disabled_and_say_so_and_the_runs_resume(server, browser):
    """A form is a widget while it can be answered; answered, and its resumed run ended, its
    output is a static picture (question, answer, the resumed card) a saved notebook keeps."""
    from playwright.sync_api import expect

    def inspect(page):
        here_cell, in_code_cell, confirm_cell = cell(page, 2), cell(page, 3), cell(page, 5)
        here = here_cell.locator(".widget-vbox").filter(has=page.locator(".widget-button"))
        confirmation = confirm_cell.locator(".widget-vbox").filter(has=page.locator(".widget-button"))
        expect(here).to_have_count(1, timeout=60_000)
        expect(confirmation).to_have_count(1, timeout=60_000)
        in_code = in_code_cell.locator('[data-view="form"]')
        expect(in_code).to_contain_text("Answered in code", timeout=60_000)
        waiting = page.locator(".anb-root").filter(has_text="Weather in Paris?").first
        out = {"waiting": waiting.locator(".anb-head .anb-chip").first.inner_text(),
               "in_code": [in_code_cell.locator(".widget-button, input").count(), in_code.inner_text()],
               "before": [disabled(here), disabled(confirmation)]}
        # the credential typed into the form
        here.locator("input[type=password]").fill("key-SECRET-42")
        here.get_by_role("button", name="Send credential").click()
        resumed = here_cell.locator(".anb-root").filter(has_text="Sunny in Paris.")
        expect(resumed.locator(".anb-s-ok")).to_have_count(1, timeout=60_000)
        expect(here_cell.locator('[data-view="form"]')).to_contain_text("This form is closed",
                                                                        timeout=60_000)
        # the confirmation
        confirmation.get_by_role("button", name="Confirm").click()
        refunded = confirm_cell.locator(".anb-root").filter(has_text="Refunded 5.")
        expect(refunded.locator(".anb-s-ok")).to_have_count(1, timeout=60_000)
        expect(confirm_cell.locator('[data-view="form"]')).to_contain_text("This form is closed",
                                                                           timeout=60_000)
        out["after"] = [[c.locator(".widget-button, input").count(),
                         c.locator('[data-view="form"]').inner_text(),
                         c.locator('[data-mime-type="text/html"]:has([data-view="form"]) .anb-root').count()]
                        for c in (here_cell, confirm_cell)]
        out["text"] = page.locator(".jp-OutputArea, .jp-Cell-outputArea").all_inner_texts()
        return out

    result = run_notebook_in_browser(server, "auth.ipynb", ui="lab", browser=browser,
                                     inspect=inspect, timeout=120)
    assert result.errors == []
    got = result.inspected
    assert got["waiting"] == "waiting for a credential"             # the waiting run says so
    assert got["before"] == [[False, False], [False, False]]
    in_code_inputs, in_code_text = got["in_code"]
    assert in_code_inputs == 0 and "Answered in code" in in_code_text    # static: nothing to press
    (here_inputs, here_text, here_cards), (confirm_inputs, confirm_text, confirm_cards) = got["after"]
    assert here_inputs == 0 and "Answered here (a credential)" in here_text and here_cards == 1
    assert confirm_inputs == 0 and "Answered here (confirmed)" in confirm_text and confirm_cards == 1
    assert "refund({\"amount\": 5})" in confirm_text                # what it asked to confirm
    shown = "\n".join(got["text"])
    assert "Sunny in Paris." in shown and "Refunded 5." in shown
    assert "key-SECRET-42" not in shown and "key-CODE-77" not in shown   # masked everywhere
    assert result.xss_hits == [] and result.dialogs == []
