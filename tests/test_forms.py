"""A form's outputs in a real kernel (nbclient): while a run waits, the form is a widget (with a
static face beside it); answered, it is a static picture with no widget left to save."""
import nbformat
from nbclient import NotebookClient

from test_failure_output import text_lines

SETUP = """\
%load_ext agentnb
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
from corpus_adk.credential import AUTH

def weather(city: str, tool_context: ToolContext) -> dict:
    if tool_context.get_auth_response(AUTH) is None:
        tool_context.request_credential(AUTH)
        return {"status": "waiting for a key"}
    return {"forecast": "sunny"}

def forecaster():
    return NotebookRunner(LlmAgent(name="forecaster", tools=[weather], model=ScriptedLlm(
        [call("weather", city="Paris"), reply("Sunny in Paris.")])))
"""
WIDGET = "application/vnd.jupyter.widget-view+json"


def form_outputs(cell) -> list[dict]:
    return [out for out in cell.outputs if 'data-view="form"' in out.get("data", {}).get("text/html", "")]


def test_a_form_answered_in_code_becomes_a_static_picture(tmp_path):
    import shutil
    from pathlib import Path
    shutil.copytree(Path(__file__).parent / "corpus_adk", tmp_path / "corpus_adk")
    cells = [SETUP, 'waiting = forecaster()\nawait waiting.ask("Weather?")',
             'answered = forecaster()\nawait answered.ask("Weather?")',
             'await answered.answer_credential("key-CODE-77")']
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert all(text_lines(c.outputs) == [] for c in notebook.cells), [c.outputs for c in notebook.cells]
    (open_form,), (closed_form,) = form_outputs(notebook.cells[1]), form_outputs(notebook.cells[2])
    assert WIDGET in open_form["data"]                    # still answerable: the live form
    assert "Answered in code" not in open_form["data"]["text/html"]
    assert WIDGET not in closed_form["data"]              # answered: nothing live to save
    assert "Answered in code" in closed_form["data"]["text/html"]
    assert "This form is closed" in closed_form["data"]["text/plain"]
    assert "key-CODE-77" not in str([c.outputs for c in notebook.cells])   # masked in every output
