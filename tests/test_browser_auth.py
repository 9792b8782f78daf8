"""A tool's credential request answered in the notebook, in a real JupyterLab: the form shows,
the key typed into it resumes the invocation through ADK's auth flow, and stays masked."""
import pytest
from jupyterlab_browser import (chromium_browser, jupyter_server, require_chromium,
                                run_notebook_in_browser, write_notebook)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext agentnb",
    '''from fastapi.openapi.models import APIKey, APIKeyIn
from google.adk.agents import LlmAgent
from google.adk.auth import AuthConfig, AuthCredential, AuthCredentialTypes
from google.adk.tools import ToolContext
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

CONFIG = AuthConfig(auth_scheme=APIKey(**{"in": APIKeyIn.header, "name": "X-Api-Key"}),
                    raw_auth_credential=AuthCredential(auth_type=AuthCredentialTypes.API_KEY))

def weather(city: str, tool_context: ToolContext) -> dict:
    credential = tool_context.get_auth_response(CONFIG)
    if credential is None:
        tool_context.request_credential(CONFIG)
        return {"status": "waiting for a key"}
    return {"forecast": "sunny", "key_tail": credential.api_key[-2:]}

runner = NotebookRunner(LlmAgent(name="forecaster", tools=[weather],
                                 model=ScriptedLlm([call("weather", city="Paris"), reply("Sunny in Paris.")])))''',
    'inv = await runner.ask("Weather in Paris?")',
]


@pytest.mark.timeout(180)
def test_credential_form_resumes_the_invocation(tmp_path):
    require_chromium()
    path = write_notebook(tmp_path / "auth.ipynb", CELLS)

    def inspect(page):
        from playwright.sync_api import expect
        field = page.locator("input[type=password]")
        expect(field).to_have_count(1, timeout=15_000)
        field.fill("key-SECRET-42")
        page.get_by_role("button", name="Send credential").click()
        resumed = page.locator(".anb-root").filter(has_text="Sunny in Paris.")
        expect(resumed).to_have_count(1, timeout=20_000)        # the resumed card, in the form
        expect(resumed.locator(".anb-s-ok")).to_have_count(1, timeout=10_000)
        return page.locator(".jp-OutputArea, .jp-Cell-outputArea").all_inner_texts()

    with chromium_browser() as browser, jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "auth.ipynb", ui="lab", browser=browser,
                                         inspect=inspect, timeout=120)
    assert result.errors == []
    shown = "\n".join(result.inspected)
    assert "Sunny in Paris." in shown
    assert "key-SECRET-42" not in shown          # masked in the resumed card
    assert result.xss_hits == [] and result.dialogs == []
