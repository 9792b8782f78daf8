"""Where the time went, with the real ADK and OpenTelemetry's SDK: ADK's own spans, recorded in
memory when a runner asks, joined to its events, drawn as a waterfall in the card, beside the
user's own exporter. OpenTelemetry's global provider is set once per process: each scenario
runs in a fresh interpreter."""
import subprocess
import sys
import textwrap

import pytest

SCENARIO = '''
import asyncio, json, sys
from google.adk.agents import LlmAgent
from google.adk.tools.agent_tool import AgentTool
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


def add(a: int, b: int) -> dict:
    """Adds two numbers."""
    return {"sum": a + b}


def make_agent():
    helper = LlmAgent(name="helper", description="Helps.", model=ScriptedLlm([reply("helped")]))
    return LlmAgent(name="calc", model=ScriptedLlm([call("add", a=1, b=2), call("helper", request="x"),
                                                    reply("3")]), tools=[add, AgentTool(agent=helper)])
'''


def run_scenario(body: str) -> str:
    code = SCENARIO + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def joined():
    """A run with a tool call and an AgentTool's nested run, spans on, no provider set."""
    return run_scenario('''
        from opentelemetry import trace
        from agentnb.jupyter.views import LiveView
        import agentnb
        runner = NotebookRunner(make_agent(), display=False, spans=True)
        inv = asyncio.run(runner.ask("1+2?"))
        spans = runner.spans()
        events = runner.events(reveal=True)
        invocations = runner.invocations()
        calls = [c for cs in events.function_calls for c in cs]
        out = {
            "provider": type(trace.get_tracer_provider()).__module__,
            "names": list(spans.name),
            "columns": list(spans.columns),
            "event_ids": sorted(set(spans.event_id.dropna()) - set(events.event_id)),
            "generate_events": len(spans[spans.name.str.startswith("generate_content")].event_id.dropna()),
            "call_ids": sorted(set(spans.call_id.dropna())),
            "calls": sorted(c["id"] for c in calls),
            "tool_invocations": sorted(set(spans[spans.name.str.startswith("execute_tool")].invocation_id)),
            "nested": sorted(set(spans[spans.name.str.endswith("helper")
                                       & ~spans.name.str.startswith("execute_tool")].invocation_id)),
            "invocations": {r.invocation_id: r.parent_invocation_id for r in invocations.itertuples()},
            "outer": inv.invocation_id,
            "roots": int(spans.parent_id.isna().sum()),
            "parents_known": bool(spans.parent_id.dropna().isin(spans.span_id).all()),
            "inside": bool(all(
                spans.set_index("span_id").loc[r.parent_id, "start"] <= r.start
                and r.end <= spans.set_index("span_id").loc[r.parent_id, "end"]
                for r in spans.itertuples() if r.parent_id is not None)),
            "durations": bool((spans.duration_s >= 0).all()),
            "card": LiveView(runner.trace, inv.invocation_id).html(),
            "dashboard": LiveView(runner.trace).html(),
        }
        import tempfile, os
        path = os.path.join(tempfile.mkdtemp(), "t.jsonl")
        loaded = agentnb.load(runner.save(path))
        out["loaded_equal"] = loaded.spans().equals(spans)
        print(json.dumps(out))
    ''')


def test_spans_are_adks_own_joined_to_events_calls_and_invocations(joined):
    import json
    out = json.loads(joined.splitlines()[-1])
    assert out["provider"].startswith("opentelemetry.sdk")   # none was set: one was set up
    assert out["columns"] == ["session_id", "span_id", "parent_id", "name", "start", "end",
                              "duration_s", "invocation_id", "event_id", "call_id"]
    for name in ("invoke_agent calc", "execute_tool add", "execute_tool helper",
                 "invoke_agent helper", "generate_content gemini-scripted"):
        assert name in out["names"]
    assert out["event_ids"] == []                 # every span's event id is a recorded event
    assert out["generate_events"] == 4            # calc's three model calls and helper's one
    assert out["call_ids"] == out["calls"]        # each tool span names its function call
    assert out["tool_invocations"] == [out["outer"]]
    [nested] = out["nested"]                      # the AgentTool's run keeps its own id
    assert out["invocations"][nested] == out["outer"]
    assert out["roots"] == 1 and out["parents_known"] and out["inside"] and out["durations"]
    assert out["loaded_equal"]                    # a saved trace keeps its spans


def test_the_card_draws_a_waterfall_of_escaped_svg(joined):
    import json

    from hostile_payloads import check_agentnb_html
    out = json.loads(joined.splitlines()[-1])
    card = out["card"]
    text = check_agentnb_html(card)
    assert "data-section=time" in card and card.count("class=\"anb-wf-bar") == len(out["names"])
    assert "execute_tool add #1" in text and "execute_tool helper #2" in text
    assert "data-section=time" not in out["dashboard"]    # a waterfall per card, not per dashboard


def test_beside_the_users_own_exporter_and_off_by_default():
    out = run_scenario('''
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        theirs = TracerProvider()
        exporter = InMemorySpanExporter()
        theirs.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(theirs)
        quiet = NotebookRunner(make_agent(), display=False)
        asyncio.run(quiet.ask("1+2?"))
        before = len(exporter.get_finished_spans())
        loud = NotebookRunner(make_agent(), display=False)
        loud.record_spans()
        asyncio.run(loud.ask("1+2?"))
        exported = exporter.get_finished_spans()[before:]
        print(json.dumps({
            "same_provider": trace.get_tracer_provider() is theirs,
            "quiet": len(quiet.spans()), "exported_before": before > 0,
            "theirs": sorted(f"{s.context.span_id:016x}" for s in exported),
            "ours": sorted(loud.spans().span_id),
        }))
    ''')
    import json
    result = json.loads(out.splitlines()[-1])
    assert result["same_provider"]                # theirs was not replaced
    assert result["quiet"] == 0 and result["exported_before"]   # off by default; they still export
    assert result["theirs"] == result["ours"] and result["ours"]   # both saw the same spans


def test_a_users_span_inside_a_tool_is_recorded_under_it():
    out = run_scenario('''
        from opentelemetry import trace

        def measured(a: int) -> dict:
            """Measures."""
            with trace.get_tracer("mine").start_as_current_span("my step"):
                return {"a": a}
        agent = LlmAgent(name="m", model=ScriptedLlm([call("measured", a=1), reply("ok")]),
                         tools=[measured])
        runner = NotebookRunner(agent, display=False, spans=True)
        with trace.get_tracer("mine").start_as_current_span("my cell"):   # around the run
            inv = asyncio.run(runner.ask("go"))
        spans = runner.spans().set_index("name")
        print(json.dumps({
            "names": sorted(spans.index),
            "parent": spans.loc["my step", "parent_id"] == spans.loc["execute_tool measured", "span_id"],
            "invocation": spans.loc["my step", "invocation_id"] == inv.invocation_id,
        }))
    ''')
    import json
    result = json.loads(out.splitlines()[-1])
    assert "my step" in result["names"] and "my cell" not in result["names"]
    assert result["parent"] and result["invocation"]


def test_the_default_runner_sets_up_no_opentelemetry():
    out = run_scenario('''
        from opentelemetry import trace
        import agentnb.adk.spans as spans
        runner = NotebookRunner(make_agent(), display=False)
        asyncio.run(runner.ask("1+2?"))
        print(json.dumps({"provider": type(trace.get_tracer_provider()).__name__,
                          "hub": spans._hub is not None, "spans": len(runner.spans()),
                          "records_spans": runner.records_spans}))
    ''')
    import json
    assert json.loads(out.splitlines()[-1]) == {"provider": "ProxyTracerProvider", "hub": False,
                                                "spans": 0, "records_spans": False}
