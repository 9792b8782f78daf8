"""Who wrote each state change (adk/provenance.py), on real ADK runs: every stage that can write
state in one event, told apart, and the replay invariant kept where ADK merges deltas."""
import asyncio

import pandas as pd
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


def run(coro):
    return asyncio.run(coro)


def replay(history: pd.DataFrame) -> dict:
    state = {}
    for _, row in history[history.persisted].sort_values("seq").iterrows():
        state[row.key] = row.new
    return state


def writers(runner, key):
    history = runner.history(reveal=True)
    rows = history[history.key == key].sort_values("seq")
    return list(zip(rows.source, rows.new))


def tag(tool_context: ToolContext, label: str) -> dict:
    """Writes `label` under `by_tool` and appends it to `trail`."""
    tool_context.state["by_tool"] = label
    tool_context.state["trail"] = [*tool_context.state.get("trail", []), f"tool {label}"]
    return {"ok": label}


def before_tool(tool, args, tool_context):
    tool_context.state["trail"] = [*tool_context.state.get("trail", []), "before"]
    tool_context.state["checked"] = args.get("label")
    if args.get("label") == "blocked":
        return {"blocked": True}    # the tool never runs
    return None


def after_tool(tool, args, tool_context, tool_response):
    tool_context.state["trail"] = [*tool_context.state.get("trail", []), "after"]


def test_one_tool_call_carries_three_writers_in_the_order_they_ran():
    agent = LlmAgent(name="tagger", model=ScriptedLlm([call("tag", label="x"), reply("done")]),
                     tools=[tag], before_tool_callback=before_tool, after_tool_callback=after_tool)
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("go"))
    session = run(runner.get_session())
    assert writers(runner, "trail") == [
        ("before_tool_callback:tagger", ["before"]),
        ("tool:tag", ["before", "tool x"]),
        ("after_tool_callback:tagger", ["before", "tool x", "after"])]
    assert writers(runner, "checked") == [("before_tool_callback:tagger", "x")]
    assert writers(runner, "by_tool") == [("tool:tag", "x")]
    assert replay(runner.history(reveal=True)) == session.state


def test_a_before_tool_callback_that_answers_is_the_only_writer():
    agent = LlmAgent(name="tagger", model=ScriptedLlm([call("tag", label="blocked"), reply("no")]),
                     tools=[tag], before_tool_callback=before_tool)
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("go"))
    assert writers(runner, "trail") == [("before_tool_callback:tagger", ["before"])]
    assert "by_tool" not in set(runner.history().key)


def collect(tool_context: ToolContext) -> dict:
    """Writes a list; the agent's after_tool callback then appends to it in place."""
    tool_context.state["items"] = ["tool"]
    return {"ok": True}


def append_in_place(tool, args, tool_context, tool_response):
    tool_context.state["items"].append("after, in place")   # no write: ADK's delta holds the list


def test_a_tools_write_is_its_value_when_it_returned_not_what_a_callback_made_of_it():
    agent = LlmAgent(name="collector", model=ScriptedLlm([call("collect"), reply("done")]),
                     tools=[collect], after_tool_callback=append_in_place)
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("go"))
    # The tool wrote ["tool"]; the event ADK stored holds the list as the callback left it,
    # which is one more row by the key's last writer.
    assert writers(runner, "items") == [("tool:collect", ["tool"]),
                                        ("tool:collect", ["tool", "after, in place"])]
    assert replay(runner.history(reveal=True)) == run(runner.get_session()).state


def merge(tool_context: ToolContext, part: str) -> dict:
    """Writes a dict under one key, as each parallel call does."""
    tool_context.state["parts"] = {part: True}
    return {"part": part}


def test_parallel_calls_deep_merged_by_adk_keep_the_replay_invariant():
    agent = LlmAgent(name="merger", model=ScriptedLlm([[call("merge", part="a"), call("merge", part="b")],
                                                       reply("merged")]), tools=[merge])
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("go"))
    session = run(runner.get_session())
    assert session.state["parts"] == {"a": True, "b": True}   # ADK deep-merges the deltas
    rows = writers(runner, "parts")
    assert [source for source, _ in rows] == ["tool:merge"] * 3
    assert rows[-1][1] == {"a": True, "b": True}
    assert replay(runner.history(reveal=True)) == session.state


def test_a_tool_shared_by_two_runners_is_wrapped_once_and_each_run_split():
    tagger = LlmAgent(name="tagger", model=ScriptedLlm([call("tag", label="1"), reply("a"),
                                                        call("tag", label="2"), reply("b")]),
                      tools=[tag], before_tool_callback=before_tool)
    first, second = NotebookRunner(tagger, display=False), NotebookRunner(tagger, display=False)
    run(first.ask("one"))
    run(second.ask("two"))
    for runner, label in ((first, "1"), (second, "2")):
        assert writers(runner, "by_tool") == [("tool:tag", label)]
        assert writers(runner, "checked") == [("before_tool_callback:tagger", label)]


def test_a_tool_subclass_calling_its_base_and_a_tool_wrapped_on_its_instance():
    """A tool's start is noted by its class's run_async: a subclass whose run_async writes and
    then calls its base's is one start (its write is the tool's). A tool with a run_async of its
    own on the instance is not wrapped: its own writes are the tool's (its callbacks' are too,
    unless its wrapper reaches a class agentnb already wraps)."""
    from google.adk.tools import FunctionTool

    class Loud(FunctionTool):
        async def run_async(self, *, args, tool_context):
            tool_context.state["loud"] = "before the function"
            return await super().run_async(args=args, tool_context=tool_context)

    def shout(tool_context: ToolContext) -> dict:
        tool_context.state["by_tool"] = "shouted"
        return {"ok": True}

    def hum(tool_context: ToolContext) -> dict:
        tool_context.state["by_tool"] = "hummed"
        return {"ok": True}
    hummer = FunctionTool(hum)
    plain_run = hummer.run_async

    async def logged(**kwargs):   # someone's own wrapper, on the instance
        return await plain_run(**kwargs)
    hummer.run_async = logged

    def checking(tool, args, tool_context):
        tool_context.state["checked"] = tool.name
    # `tag` first: FunctionTool's own run_async is then wrapped too, under Loud's.
    agent = LlmAgent(name="caller", model=ScriptedLlm([call("tag", label="x"), call("shout"),
                                                       call("hum"), reply("ok")]),
                     tools=[tag, Loud(shout), hummer], before_tool_callback=checking)
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("go"))
    assert writers(runner, "loud") == [("tool:shout", "before the function")]
    assert writers(runner, "by_tool") == [("tool:tag", "x"), ("tool:shout", "shouted"),
                                          ("tool:hum", "hummed")]
    assert writers(runner, "checked")[:2] == [("before_tool_callback:caller", "tag"),
                                              ("before_tool_callback:caller", "shout")]
    assert "run_async" not in vars(Loud(shout)) and vars(hummer)["run_async"] is logged
    assert replay(runner.history(reveal=True)) == run(runner.get_session()).state


def test_state_written_by_a_plugin_hook_is_never_lost():
    from google.adk.plugins.base_plugin import BasePlugin

    class Stamp(BasePlugin):
        def __init__(self):
            super().__init__(name="stamp")

        async def before_agent_callback(self, *, agent, callback_context):
            callback_context.state["stamped"] = agent.name
    agent = LlmAgent(name="plain", model=ScriptedLlm([reply("hi")]))
    runner = NotebookRunner(agent, display=False, plugins=[Stamp()])
    run(runner.ask("go"))
    # A plugin's before_agent hook shares the agent callbacks' context: the same event.
    assert writers(runner, "stamped") == [("before_agent_callback:plain", "plain")]
    assert replay(runner.history(reveal=True)) == run(runner.get_session()).state
