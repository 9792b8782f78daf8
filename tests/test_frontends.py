"""Issue 18 (6): where the front end cannot draw the live widget (Colab without its custom
widget manager, VS Code without widget support) the output is the static card and one line
on how to get the live one. And (1, 5): what the page's controls send reaches the runner."""
from __future__ import annotations

import asyncio
import types as pytypes
from pathlib import Path

import nbformat
import pytest
from google.adk.agents import LlmAgent
from nbclient import NotebookClient

from agentnb.adk import NotebookRunner, ScriptedLlm, reply
from agentnb.jupyter import frontends, views
from agentnb.jupyter.editor import parse_edit
from agentnb.jupyter.frontends import COLAB_LINE, OTHER_LINE, VSCODE_LINE, front_end
from agentnb.jupyter.widget import ACTION, WIDGET_MIME, _received, new_widget, offer


def colab(installed_url=None) -> dict:
    widgets = pytypes.SimpleNamespace(_installed_url=installed_url)
    return {"google.colab": object(), "google.colab.output._widgets": widgets}


def test_the_front_end_is_told_apart():
    assert front_end({}, {}).name == "jupyter" and front_end({}, {}).widgets
    assert front_end({}, colab()) == frontends.FrontEnd("colab", False, COLAB_LINE)
    assert front_end({}, colab("https://example/manager.min.js")).widgets
    assert front_end({"COLAB_RELEASE_TAG": "release-colab_2026"}, {}).name == "colab"
    assert front_end({"VSCODE_PID": "4242"}, {}) == frontends.FrontEnd("vscode", True, VSCODE_LINE)
    assert "google.colab.output.enable_custom_widget_manager()" in COLAB_LINE


def finished_runner() -> NotebookRunner:
    runner = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([reply("hello <there>")])),
                            display=False)
    asyncio.run(runner.ask("hi"))
    return runner


@pytest.mark.parametrize("where, widgets, line", [
    ({"modules": colab()}, False, COLAB_LINE),
    ({"modules": colab("https://example/manager.min.js")}, True, COLAB_LINE),
    ({"environ": {"VSCODE_PID": "1"}}, True, VSCODE_LINE),
    ({}, True, OTHER_LINE)])
def test_the_live_bundle_falls_back_to_the_card_and_one_line(monkeypatch, where, widgets, line):
    here = front_end(where.get("environ", {}), where.get("modules", {}))
    monkeypatch.setattr(views, "front_end", lambda: here)
    runner = finished_runner()
    assert front_end({}, colab()).hint() not in views.LiveView(runner.trace)._static_bundle()["text/html"]
    view = views.LiveView(runner.trace).follow(asyncio.new_event_loop())   # as a live view is
    live, static = view._live_bundle(), view._static_bundle()
    assert (WIDGET_MIME in live) is widgets
    html = live["text/html"]
    assert html.startswith(here.hint()) and html.count(line) == 1
    assert "hello &lt;there&gt;" in html and "<there>" not in html
    # the finished picture keeps the line only where no widget is ever drawn
    assert (line in static["text/html"]) is (not widgets)
    assert "hello" in live["text/plain"]


def test_in_a_kernel_colab_without_its_widget_manager_gets_the_card_and_the_line(tmp_path: Path):
    """A real kernel that looks like Colab's (google.colab imported, no custom widget manager):
    the card's output is the finished static card with the line, and no widget."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys, types\n"
                                  "sys.modules['google.colab'] = types.ModuleType('google.colab')"),
        nbformat.v4.new_code_cell(
            "from google.adk.agents import LlmAgent\n"
            "from agentnb.adk import NotebookRunner, ScriptedLlm, reply\n"
            "runner = NotebookRunner(LlmAgent(name='a', model=ScriptedLlm([reply('Hi from Colab')])))\n"
            "inv = await runner.ask('hello')"),
    ])
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[1].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    data = outputs[0].data
    assert WIDGET_MIME not in data
    assert COLAB_LINE in data["text/html"] and "Hi from Colab" in data["text/html"]


def test_a_control_reaches_only_the_view_it_was_used_on():
    widget = new_widget()
    used = []
    offer(widget, {"stop": lambda: used.append("stop")})
    assert widget.actions == ["stop"]
    _received(widget, {"kind": ACTION, "action": "stop", "uid": "an-old-view"}, [])
    _received(widget, {"kind": ACTION, "action": "edit", "uid": widget.uid}, [])
    _received(widget, "junk", [])
    assert used == []
    _received(widget, {"kind": ACTION, "action": "stop", "uid": widget.uid}, [])
    assert used == ["stop"]
    views.reset_widget(widget, "", "")   # the widget serves another view: nothing offered
    assert widget.actions == []
    _received(widget, {"kind": ACTION, "action": "stop", "uid": widget.uid}, [])
    assert used == ["stop"]


def test_the_editor_reads_json_and_says_what_it_refuses():
    assert parse_edit(" pref ", '"tea"') == {"pref": "tea"}
    assert parse_edit("user:n", '{"a": [1, 2]}') == {"user:n": {"a": [1, 2]}}
    for key, value, message in [("", "1", "type a key first"),
                                ("temp:x", "1", "temp: keys live only during one invocation"),
                                ("pref", "tea", "the value is not JSON")]:
        with pytest.raises(ValueError, match=message) as caught:
            parse_edit(key, value)
        assert "\n" not in str(caught.value)


def test_only_a_runner_view_can_edit():
    runner = finished_runner()
    assert runner.view(edit=True).owner is runner and runner.view().owner is None
    from agentnb.core.recorded import LoadedTrace
    with pytest.raises(TypeError, match=r"view\(edit=True\) needs a runner with set_state"):
        LoadedTrace(runner.trace, {}, "x").view(edit=True)
