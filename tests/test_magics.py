"""Magics, through IPython's own shell: thin words over the runner and the frames."""
import asyncio

import pytest
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import ScriptedLlm, call, reply


async def slow_tool(note: str, tool_context: ToolContext) -> dict:
    await asyncio.sleep(0.01)
    tool_context.state["note"] = note
    tool_context.state["temp:t"] = 1
    await tool_context.save_artifact("n.txt", types.Part(text=note))
    return {"ok": True}


def cell(ip, source):
    result = ip.run_cell(source)
    return result


def test_adk_magics_run_cells_and_return_frames(shell):
    shell.user_ns["concierge"] = LlmAgent(
        name="concierge", model=ScriptedLlm([call("slow_tool", note="hello"), reply("ok")]),
        tools=[slow_tool])
    result = cell(shell, "runner = %adk concierge --app nb --user ada")
    assert result.success
    runner = shell.user_ns["runner"]
    assert (runner.app_name, runner.user_id) == ("nb", "ada")
    result = cell(shell, "%%adk\nremember hello")
    assert result.success, result.error_in_exec
    assert runner.last_invocation.status == "ok"
    frame = cell(shell, "%agentnb history").result
    assert frame.key.tolist() == ["note", "temp:t"]
    assert cell(shell, "%agentnb invocations").result.user_text.tolist() == ["remember hello"]


@pytest.mark.parametrize("source, message", [
    ("%adk", "agentnb: expected 1 argument, got 0"),
    ("%adk nothing_here", "agentnb: no variable named 'nothing_here'"),
    ("%adk 'os.system(1)'", "agentnb: no variable named"),
    ("%adk concierge --colour red", "agentnb: unknown option '--colour'"),
    ("%agentnb frobnicate", "agentnb: unknown command 'frobnicate'"),
    ("%agentnb load /nonexistent/trace.jsonl", "agentnb: "),
    ("%agentnb compare a", "agentnb: expected 2 arguments, got 1"),
])
def test_magic_errors_are_one_line_usage_errors(shell, source, message, capsys):
    shell.user_ns["concierge"] = LlmAgent(name="c", model=ScriptedLlm())
    result = cell(shell, source)
    assert not result.success
    error = result.error_in_exec
    assert type(error).__name__ == "UsageError" and str(error).startswith(message)
    assert "\n" not in str(error)


def test_unknown_agent_type_and_no_current_runner(shell):
    from agentnb.jupyter import magics as _magics
    _magics.current.update(adk=None, last=None)
    shell.user_ns["number"] = 3
    assert str(cell(shell, "%adk number").error_in_exec) == (
        "agentnb: 'number' is a int, not an ADK agent or NotebookRunner")
    assert str(cell(shell, "%%adk\nhi").error_in_exec).startswith("agentnb: no current ADK runner")


def test_unload_removes_transformer_and_magics():
    from IPython.testing.globalipapp import get_ipython
    from agentnb.jupyter.magics import rewrite_async_magics
    ip = get_ipython()
    ip.run_line_magic("load_ext", "agentnb")
    assert rewrite_async_magics in ip.input_transformers_cleanup
    ip.run_line_magic("unload_ext", "agentnb")
    assert rewrite_async_magics not in ip.input_transformers_cleanup
    assert "adk" not in ip.magics_manager.magics["line"]


def test_time_travel_and_save_load_magics(shell, tmp_path):
    from agentnb.jupyter import magics as _magics
    shell.user_ns["echo"] = LlmAgent(name="echo", model=ScriptedLlm())
    assert cell(shell, "runner = %adk echo").success
    for text in ("one", "two"):
        assert cell(shell, f"%%adk\n{text}").success
    runner = shell.user_ns["runner"]
    first = runner.invocations().invocation_id.iloc[0]
    result = cell(shell, f"child = %agentnb fork {first}")
    assert result.success, result.error_in_exec
    child = shell.user_ns["child"]
    assert child.trace.of("session")[0].forked_at == first and _magics.current["adk"] is child
    shell.user_ns["a"], shell.user_ns["b"] = runner, child
    assert cell(shell, "%agentnb compare a b").result.empty   # echo writes no state
    path = tmp_path / "t.jsonl"
    assert cell(shell, f"%agentnb save {path}").success
    loaded = cell(shell, f"%agentnb load {path}").result
    assert len(loaded.trace) == len(child.trace)
    assert str(cell(shell, "%agentnb rewind nope").error_in_exec).startswith("agentnb: no invocation 'nope'")


def test_adk_magic_makes_an_existing_runner_current(shell):
    from agentnb.adk import NotebookRunner
    runner = NotebookRunner(LlmAgent(name="e", model=ScriptedLlm()), state={"k": 1}, display=False)
    shell.user_ns["mine"] = runner
    assert cell(shell, "%adk mine").success
    assert cell(shell, "%%adk\nhello").success
    assert runner.last_invocation.text == "hello"
    assert str(cell(shell, "%adk mine --app x").error_in_exec).startswith("agentnb: --app, --user")


def test_adk_magic_takes_an_app_or_a_workflow(shell):
    from google.adk import Event, Workflow
    from google.adk.apps import App
    shell.user_ns["shop"] = App(name="shop", root_agent=LlmAgent(name="e", model=ScriptedLlm()))
    assert cell(shell, "r = %adk shop").success
    assert shell.user_ns["r"].app_name == "shop"
    def one(node_input: str):
        return Event(output=1)
    shell.user_ns["flow"] = Workflow(name="flow", edges=[("START", one)])
    assert cell(shell, "w = %adk flow --app flows").success
    assert cell(shell, "%%adk\nhello").success
    assert shell.user_ns["w"].last_invocation.status == "ok"


@pytest.mark.parametrize("name, kind, first_line", [
    ("agentnb", "line", "agentnb's magics"), ("adk", "line", "Make an ADK runner current"),
    ("adk", "cell", "The cell is one user message"), ("lk", "line", "Make a LiveKit job current"),
    ("lk", "cell", "The cell is one user turn")])
def test_each_magic_has_its_help(shell, name, kind, first_line, capsys):
    """What `%adk?` shows is the magic's docstring; `%agentnb` prints them all."""
    magic = (shell.find_line_magic if kind == "line" else shell.find_cell_magic)(name)
    assert magic.__doc__.startswith(first_line)
    shell.run_line_magic("agentnb", "")
    assert first_line in capsys.readouterr().out
