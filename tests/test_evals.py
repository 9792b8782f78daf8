"""ADK evals from the notebook, with the real ADK: `save_evalset` writes a recorded session as
an eval case that ADK's own loader and `adk eval` take; `evaluate` scores an eval set with
ADK's LocalEvalService and metrics, one card per case."""
import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.adk.agents import LlmAgent
from google.adk.evaluation.local_eval_sets_manager import load_eval_set_from_file

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
from agentnb.jupyter.views import LiveView
from hostile_payloads import check_agentnb_html

AGENT_SOURCE = '''
from google.adk.agents import LlmAgent
from agentnb.adk import ScriptedLlm, call, reply


def add(a: int, b: int) -> dict:
    """Adds two numbers."""
    return {"sum": a + b}


def make_agent(steps=None):
    steps = steps or [call("add", a=1, b=2), reply("The sum is 3."), reply("Goodbye, see you.")]
    return LlmAgent(name="calc", model=ScriptedLlm(steps), tools=[add])


root_agent = make_agent()
'''


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    """An agent package `calc` as `adk eval` loads one (agent.py with root_agent)."""
    root = tmp_path_factory.mktemp("agents")
    (root / "calc").mkdir()
    (root / "calc" / "__init__.py").write_text("from . import agent\n")
    (root / "calc" / "agent.py").write_text(AGENT_SOURCE)
    sys.path.insert(0, str(root))
    import calc.agent as module
    yield root, module
    sys.path.remove(str(root))


@pytest.fixture(scope="module")
def recorded(calc, tmp_path_factory):
    """A two-turn session, recorded and saved as an eval case."""
    root, module = calc
    runner = NotebookRunner(module.make_agent(), app_name="calc", display=False,
                            state={"unit": "plain"})

    async def go():
        await runner.ask("What is 1+2?")
        await runner.ask("bye")
        return await runner.save_evalset(root / "calc" / "calc.evalset.json", eval_id="sum")
    return runner, Path(asyncio.run(go()))


def test_saved_session_is_an_eval_set_adks_loader_reads(recorded):
    runner, path = recorded
    eval_set = load_eval_set_from_file(str(path), "calc")
    [case] = eval_set.eval_cases
    assert case.eval_id == "sum" and case.session_input.state == {"unit": "plain"}
    assert [t.user_content.parts[0].text for t in case.conversation] == ["What is 1+2?", "bye"]
    assert [t.final_response.parts[0].text for t in case.conversation] == \
        ["The sum is 3.", "Goodbye, see you."]
    from google.adk.evaluation.eval_case import get_all_tool_calls
    calls = [(c.name, c.args) for c in get_all_tool_calls(case.conversation[0].intermediate_data)]
    assert calls == [("add", {"a": 1, "b": 2})]
    assert [t.invocation_id for t in case.conversation] == list(runner.invocations().invocation_id)


def test_adk_eval_runs_the_saved_case_and_it_passes(recorded, calc):
    root, _ = calc
    _, path = recorded
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    adk = Path(sys.executable).with_name("adk")
    done = subprocess.run([str(adk), "eval", str(root / "calc"), str(path)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Tests passed: 1" in done.stdout and "Tests failed: 0" in done.stdout


def test_evaluate_scores_the_same_behaviour_as_passed(recorded, calc):
    _, module = calc
    _, path = recorded
    runner = NotebookRunner(module.make_agent(), app_name="calc", display=False)
    before = runner.session_id
    frame = asyncio.run(runner.evaluate(path))
    assert runner.session_id == before          # each case ran in a session of its own
    gated = frame[frame.status != "informational"]
    assert list(gated.metric) == ["tool_trajectory_avg_score", "response_match_score"]
    assert list(gated.threshold) == [1.0, 0.8]   # ADK's default criteria
    assert list(gated.score) == [1.0, 1.0] and list(gated.passed) == [True, True]
    informational = set(frame[frame.status == "informational"].metric)
    assert {"tool_call_count_v1", "invocation_duration_v1"} <= informational
    [session_id] = set(frame.session_id)
    session = asyncio.run(runner.get_session(session_id))
    assert session.state["unit"] == "plain"      # the case's session_input state
    assert list(runner.invocations(session_id).status) == ["ok", "ok"]


def test_a_regression_fails_and_its_card_shows_expected_beside_actual(recorded, calc):
    _, module = calc
    _, path = recorded
    drifted = module.make_agent([call("add", a=2, b=2), reply("Four, I think."), reply("Goodbye, see you.")])
    runner = NotebookRunner(drifted, app_name="calc", display=False)
    frame = asyncio.run(runner.evaluate(path))
    rows = frame.set_index("metric")
    assert rows.loc["tool_trajectory_avg_score", "score"] == 0.5   # one turn of two matches
    assert rows.loc["tool_trajectory_avg_score", "passed"] is False
    assert rows.loc["response_match_score", "passed"] is False
    card = LiveView(runner.trace, None, "eval case sum", session_id=frame.session_id[0])
    html = card.html()
    text = check_agentnb_html(html)
    assert 'data-view="card"' in html and 'data-status="error"' in html
    assert "Four, I think." in text and "The sum is 3." in text
    assert 'add({"a": 2, "b": 2})' in text and 'add({"a": 1, "b": 2})' in text
    assert html.count("class=anb-diff") == 2      # turn 1: the calls and the response differ
    assert "eval sum failed" in card.text()


def test_thresholds_come_from_test_config_beside_the_file(recorded, calc, tmp_path):
    _, module = calc
    _, path = recorded
    copy = tmp_path / "calc.evalset.json"
    copy.write_text(path.read_text())
    (tmp_path / "test_config.json").write_text(json.dumps(
        {"criteria": {"tool_trajectory_avg_score": 0.4}}))
    drifted = module.make_agent([call("add", a=2, b=2), reply("Four."), reply("Goodbye, see you.")])
    frame = asyncio.run(NotebookRunner(drifted, app_name="calc", display=False).evaluate(copy))
    gated = frame[frame.status != "informational"]
    assert list(gated.metric) == ["tool_trajectory_avg_score"]
    assert list(gated.threshold) == [0.4] and list(gated.passed) == [True]


def test_an_older_test_json_file_is_read_as_adk_reads_it(calc, tmp_path):
    _, module = calc
    old = tmp_path / "calc.test.json"
    old.write_text(json.dumps([{"query": "What is 1+2?",
                                "expected_tool_use": [{"tool_name": "add", "tool_input": {"a": 1, "b": 2}}],
                                "reference": "The sum is 3."}]))
    frame = asyncio.run(NotebookRunner(module.make_agent(), app_name="calc",
                                       display=False).evaluate(old, config={"tool_trajectory_avg_score": 1.0}))
    assert frame[frame.metric == "tool_trajectory_avg_score"].passed.tolist() == [True]


def test_a_case_whose_run_fails_is_failed_with_one_row(recorded):
    _, path = recorded

    def add(a: int, b: int) -> dict:
        raise RuntimeError("adder broke")
    broken = LlmAgent(name="calc", model=ScriptedLlm([call("add", a=1, b=2), reply("?")]), tools=[add])
    runner = NotebookRunner(broken, app_name="calc", display=False)
    frame = asyncio.run(runner.evaluate(path))
    assert len(frame) == 1 and frame.metric[0] is None and frame.passed[0] is False
    html = LiveView(runner.trace, None, "case", session_id=frame.session_id[0]).html()
    assert "adder broke" in check_agentnb_html(html)


def test_bad_input_is_one_clear_line(recorded, tmp_path):
    _, path = recorded
    runner = NotebookRunner(LlmAgent(name="calc", model=ScriptedLlm()), display=False)
    bad = tmp_path / "bad.evalset.json"
    bad.write_text("{not json")
    cases = [(tmp_path / "missing.json", FileNotFoundError, "no eval set file"),
             (bad, ValueError, "is not an ADK eval set"), (42, TypeError, "not int")]
    for evalset, error, words in cases:
        with pytest.raises(error) as caught:
            asyncio.run(runner.evaluate(evalset))
        assert str(caught.value).startswith("agentnb: ") and words in str(caught.value)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="no eval case 'nope'"):
        asyncio.run(runner.evaluate(path, eval_ids=["nope"]))
    with pytest.raises(ValueError, match="has no events"):
        asyncio.run(runner.save_evalset(tmp_path / "empty.evalset.json"))
    assert len(runner.trace.of("invocation_start")) == 0   # nothing ran


def test_a_conversation_scenario_is_refused_before_anything_runs(tmp_path):
    from google.adk.evaluation.conversation_scenarios import ConversationScenario
    from google.adk.evaluation.eval_case import EvalCase
    from google.adk.evaluation.eval_set import EvalSet
    eval_set = EvalSet(eval_set_id="sim", eval_cases=[EvalCase(
        eval_id="chat", conversation_scenario=ConversationScenario(
            starting_prompt="hi", conversation_plan="ask for the sum"))])
    runner = NotebookRunner(LlmAgent(name="calc", model=ScriptedLlm()), display=False)
    with pytest.raises(ValueError, match="conversation_scenario"):
        asyncio.run(runner.evaluate(eval_set))
    assert not runner.trace.of("invocation_start")


def test_save_evalset_adds_cases_to_an_existing_file(calc, tmp_path):
    _, module = calc
    target = tmp_path / "suite.evalset.json"
    for eval_id in ("one", "two", "one"):
        runner = NotebookRunner(module.make_agent(), app_name="calc", display=False)
        asyncio.run(runner.ask("What is 1+2?"))
        asyncio.run(runner.save_evalset(target, eval_id=eval_id))
    eval_set = load_eval_set_from_file(str(target), "suite")
    assert eval_set.eval_set_id == "suite"
    assert [c.eval_id for c in eval_set.eval_cases] == ["two", "one"]   # "one" replaced


def test_the_card_of_a_case_in_a_real_kernel_is_live_then_static(recorded, calc, tmp_path):
    """One card per case in a real kernel, no per-turn cards; it ends as its snapshot."""
    import nbformat
    from nbclient import NotebookClient
    root, _ = calc
    _, path = recorded
    source = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(root)!r})
        import agentnb
        from agentnb.adk import NotebookRunner
        from calc.agent import make_agent
        runner = NotebookRunner(make_agent(), app_name="calc")
        frame = await runner.evaluate({str(path)!r})
        print(frame[frame.status != "informational"][["metric", "passed"]].to_dict("records"))
    """)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    htmls = [o["data"]["text/html"] for o in outputs if o.get("output_type") == "display_data"]
    assert len(htmls) == 1, [o.get("output_type") for o in outputs]
    assert "eval case sum" in htmls[0] and 'data-status="ok"' in htmls[0]
    check_agentnb_html(htmls[0])
    printed = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "'metric': 'tool_trajectory_avg_score', 'passed': True" in printed


def test_hostile_text_in_an_eval_set_and_in_span_names_is_shown_as_text():
    import hostile_payloads as hp
    from google.adk.evaluation.eval_case import EvalCase, IntermediateData, Invocation
    from google.adk.evaluation.eval_set import EvalSet
    from google.genai import types

    from agentnb.core.render.waterfall import waterfall_html
    payloads = hp.texts("eval")

    def turn(text):
        return Invocation(user_content=types.Content(role="user", parts=[types.Part(text=text)]),
                          final_response=types.Content(role="model", parts=[types.Part(text=text)]),
                          intermediate_data=IntermediateData(tool_uses=[
                              types.FunctionCall(name="lookup", args={"q": text})]))
    eval_set = EvalSet(eval_set_id="hostile", eval_cases=[
        EvalCase(eval_id="payloads", conversation=[turn(t) for t in payloads])])
    runner = NotebookRunner(LlmAgent(name="echo", model=ScriptedLlm()), display=False)
    frame = asyncio.run(runner.evaluate(eval_set, config={"response_match_score": 0.8}))
    assert frame[frame.metric == "response_match_score"].passed.tolist() == [True]   # echoed
    html = LiveView(runner.trace, None, "case", session_id=frame.session_id[0]).html()
    text = check_agentnb_html(html)
    missing = [t for t in payloads if hp.shown(t) not in text]
    assert not missing, missing[:3]
    spans = [{"span_id": f"{i:016x}", "parent_id": None, "name": t, "start": i, "end": i + 1,
              "invocation_id": None, "event_id": None, "call_id": None}
             for i, t in enumerate(payloads)]
    check_agentnb_html(waterfall_html(spans))
