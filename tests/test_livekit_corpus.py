"""Issue 12, "Truthful on every real LiveKit agent": the agents of `tests/corpus_livekit/`, written
the way LiveKit's own examples are, run UNCHANGED under `NotebookJob(entrypoint=..., llm=
ScriptedLLM(...), prewarm=...)` on LiveKit's console/fake-job path, offline, and what agentnb
records is checked against what LiveKit itself reports (`RunResult.events`, the session's own
history, userdata, `JobProcess.userdata`).

The numbers in the test names are the issue's items:
  1 replies arrive as text on the console room, no traceback
  2 honest turn status (a ToolError marks its call; a reply that never reached the user is no ok)
  3 userdata rows only for real changes, replay equals the final userdata
  4 card data masked in the view, the frames and saved traces
  5 prewarm=, llm= on an entrypoint job, `%lk AGENT --llm VAR --userdata VAR`
  6 handoffs and AgentTask steps visible: who is speaking, the handoff in the timeline
  7 ScriptedLLM callable steps get the chat ctx, the tools, tool_choice and the agent
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from pydantic import BaseModel

from agentnb.livekit import NotebookJob, call, reply
from corpus_livekit import basic, drive_thru, multi_agent, restaurant, survey
from corpus_livekit._standins import CloudLLM, CloudSTT, CloudTTS, QuietVAD
from livekit.agents import Agent, AgentSession, JobContext, RunResult, function_tool, llm
from livekit.agents.voice.run_result import (AgentHandoffEvent, ChatMessageEvent,
                                             FunctionCallEvent, FunctionCallOutputEvent)

from agentnb.livekit import ScriptedLLM  # built on first use: it subclasses LiveKit's llm.LLM

CARD = "4539148803436467"          # passes the Luhn check
CARD_SPACED = "4539 1488 0343 6467"
NOT_A_CARD = "4539148803436468"    # the same digits, failing the Luhn check
EXPIRY, CVV = "12/29", "381"
PHONE = "555-0100"


def run(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def real_threads() -> set:
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


@pytest.fixture(autouse=True)
def fresh_standins():
    for kind in (CloudLLM, CloudSTT, CloudTTS):
        kind.made.clear()
    yield


def new_job(module, model, **kwargs):
    """The job an example runs in, unchanged: `NotebookJob(entrypoint=, llm=, prewarm=)`."""
    return NotebookJob(entrypoint=module.entrypoint, llm=model,
                       prewarm=getattr(module, "prewarm", None), display=False, **kwargs)


async def wait_for(condition, what: str, timeout: float = 10.0):
    """Poll `condition()` on the notebook's loop until it holds; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def model_texts(job, invocation_id=None, *, any_turn=False):
    ev = job.events(reveal=True)
    ev = ev[ev["kind"] == "model"]
    if not any_turn:
        ev = ev[ev["invocation_id"].isna()] if invocation_id is None else \
            ev[ev["invocation_id"] == invocation_id]
    return list(ev["text"])


def run_result_texts(result: RunResult) -> list:
    return [e.item.text_content for e in result.events if isinstance(e, ChatMessageEvent)
            and e.item.role == "assistant"]


def assert_turn_matches(job, invocation_id: str, result: RunResult) -> None:
    """What agentnb recorded for the turn is what LiveKit's RunResult says happened in it:
    the same messages (ids, texts, order), tool calls and outputs (call ids), handoffs."""
    ev = job.events(reveal=True)
    mine = ev[ev["invocation_id"] == invocation_id]
    recorded, ordered = [], []
    for row in mine.itertuples():
        if row.kind == "model":
            recorded.append(("message", row.event_id, row.text))
            ordered.append(("message", row.event_id))
        elif row.kind == "handoff":
            recorded.append(("agent_handoff", row.event_id, row.transfer_to_agent))
            ordered.append(("agent_handoff", row.event_id))
        elif row.kind == "function_call":
            recorded += [("function_call", c["id"], c["name"]) for c in row.function_calls]
        elif row.kind == "function_response":
            recorded += [("function_call_output", r["id"], r["name"])
                         for r in row.function_responses]
    expected, expected_order = [], []
    for e in result.events:
        if isinstance(e, ChatMessageEvent) and e.item.role == "assistant":
            expected.append(("message", e.item.id, e.item.text_content))
            expected_order.append(("message", e.item.id))
        elif isinstance(e, AgentHandoffEvent):
            expected.append(("agent_handoff", e.item.id, e.item.new_agent_id))
            expected_order.append(("agent_handoff", e.item.id))
        elif isinstance(e, FunctionCallEvent):
            expected.append(("function_call", e.item.call_id, e.item.name))
        elif isinstance(e, FunctionCallOutputEvent):
            expected.append(("function_call_output", e.item.call_id, e.item.name))
    assert sorted(recorded) == sorted(expected)
    assert ordered == expected_order


def livekit_errors(caplog) -> list:
    """What LiveKit logged as errors or with a traceback: what a notebook cell would print."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.name.startswith("livekit") and (r.levelno >= logging.ERROR or r.exc_info)]


def frames_text(job, reveal=False) -> str:
    parts = [getattr(job, name)(reveal=reveal).to_dict("records")
             for name in ("events", "history", "timeline", "invocations")]
    return repr(parts)


# --- the scenarios: each example's conversation, scripted ------------------------------------

GREETING = "Hi, I'm Kelly. What can I do for you?"
BASIC_STEPS = [
    reply(GREETING),
    call("lookup_weather", location="Paris", latitude="48.85", longitude="2.35"),
    reply("It's sunny in Paris, 70 degrees."),
    call("lookup_weather", location="Atlantis", latitude="0", longitude="0"),
    reply("Sorry, I have no weather data for Atlantis."),
]
BASIC_ASKS = ["What's the weather in Paris?", "And in Atlantis?"]
BASIC_REPLIES = [["It's sunny in Paris, 70 degrees."],
                 ["Sorry, I have no weather data for Atlantis."]]

MULTI_STEPS = [
    reply("Hi, I'm Echo, a storyteller. What's your name, and where are you from?"),
    call("information_gathered", name="Ana", location="Lisbon"),
    reply("Once upon a time in Lisbon, Ana found a map. Shall I go on?"),
    call("story_finished"),
    reply("Goodbye, Ana!"),
]
MULTI_ASKS = ["I'm Ana, from Lisbon.", "That's enough, thank you."]
MULTI_REPLIES = [["Once upon a time in Lisbon, Ana found a map. Shall I go on?"],
                 ["Goodbye, Ana!"]]

RESTAURANT_STEPS = [
    reply("Welcome! Would you like a reservation or takeaway?"),
    call("to_takeaway"), reply("Transferring you to takeaway."),
    reply("What would you like to order?"),
    call("update_order", items=["Pizza", "Coffee"]), reply("A pizza and a coffee. Anything else?"),
    call("to_checkout"), reply("Transferring you to checkout."),
    reply("That's $12. Shall I confirm?"),
    call("confirm_expense", expense=12), reply("May I have your name, phone number and card?"),
    [call("update_name", name="Ana"), call("update_phone", phone=PHONE),
     call("update_credit_card", number=CARD, expiry=EXPIRY, cvv=CVV)],
    reply("Thanks Ana, your card is saved."),
    call("confirm_checkout"), reply("Transferring you back to the front desk."),
    reply("Welcome back! Anything else?"),
]
RESTAURANT_ASKS = ["I'd like to order takeaway.", "A pizza and a coffee.", "That's all.",
                   f"Yes, 12 dollars is right. My loyalty number is {NOT_A_CARD}.",
                   f"I'm Ana, {PHONE}, my card is {CARD_SPACED}.",
                   "Please confirm."]
RESTAURANT_REPLIES = [
    ["Transferring you to takeaway.", "What would you like to order?"],
    ["A pizza and a coffee. Anything else?"],
    ["Transferring you to checkout.", "That's $12. Shall I confirm?"],
    ["May I have your name, phone number and card?"],
    ["Thanks Ana, your card is saved."],
    ["Transferring you back to the front desk.", "Welcome back! Anything else?"],
]

DRIVE_STEPS = [
    call("order_combo_meal", meal_id="combo_big_mac", drink_id="coke", drink_size="L",
         fries_size="L"),
    reply("One Big Mac combo with a large Coke."),
    call("order_regular_item", item_id="apple_pie", size="null"),
    reply("Sorry, we have no apple pie today."),
    call("remove_order_item", order_id=["O_NOPE00"]),
    reply("I couldn't find that item in your order."),
    call("list_order_items"),
    reply("You have one Big Mac combo."),
]
DRIVE_ASKS = ["A Big Mac combo with a large Coke.", "And an apple pie.", "Remove item O_NOPE00.",
              "What's in my order?"]
DRIVE_REPLIES = [["One Big Mac combo with a large Coke."], ["Sorry, we have no apple pie today."],
                 ["I couldn't find that item in your order."], ["You have one Big Mac combo."]]

SURVEY_THANKS = "Thank you, Sam. You'll hear back within 3 days."
SURVEY_STEPS = [
    reply("Welcome, I'm Alex. Please introduce yourself."),
    call("record_intro", name="Sam", intro_notes="backend developer"),
    reply("Thanks Sam. What's your email address?"),
    call("update_email_address", email="sam at example dot com"),
    reply("That doesn't look like an email address. Could you spell it?"),
    call("update_email_address", email="sam@example.com"),
    reply("Can you commute to the office three days a week?"),
    call("record_commute_flexibility", can_commute=True, commute_method="bus"),
    reply("How many years of experience do you have?"),
    call("record_experience", years_of_experience=5, experience_description="5 years at Acme"),
    reply("Sam introduced himself, gave sam@example.com, commutes by bus, 5 years at Acme."),
    reply("A good fit."),
    reply(SURVEY_THANKS),
]
SURVEY_ASKS = ["I'm Sam, a backend developer.", "sam at example dot com", "sam@example.com",
               "Yes, by bus.", "Five years at Acme."]
SURVEY_REPLIES = [["Thanks Sam. What's your email address?"],
                  ["That doesn't look like an email address. Could you spell it?"],
                  ["Can you commute to the office three days a week?"],
                  ["How many years of experience do you have?"],
                  []]   # LiveKit's run ends as the group resumes the survey agent (see below)

SCENARIOS = {
    "basic": (basic, BASIC_STEPS, BASIC_ASKS, BASIC_REPLIES, True),
    "multi_agent": (multi_agent, MULTI_STEPS, MULTI_ASKS, MULTI_REPLIES, True),
    "restaurant": (restaurant, RESTAURANT_STEPS, RESTAURANT_ASKS, RESTAURANT_REPLIES, True),
    "drive_thru": (drive_thru, DRIVE_STEPS, DRIVE_ASKS, DRIVE_REPLIES, False),
    "survey": (survey, SURVEY_STEPS, SURVEY_ASKS, SURVEY_REPLIES, True),
}


async def play(name, *, after=None, steps=None):
    """Start the example, wait for its greeting (when it has one), ask every question, let
    `after(job)` look at the running job, close. Returns the job, the model, the results."""
    module, default_steps, asks, _, greets = SCENARIOS[name]
    model = ScriptedLLM(steps if steps is not None else default_steps)
    job = new_job(module, model)
    await job.start()
    if greets:
        await wait_for(lambda: model_texts(job), "the greeting of on_enter")
    results = []
    for text in asks:
        results.append(await job.ask(text))
    if name == "survey":   # the group's summary, evaluation and the thanks come after the run
        await wait_for(lambda: SURVEY_THANKS in model_texts(job, any_turn=True),
                       "the survey's closing reply")
    extra = after(job) if after is not None else None
    began = time.monotonic()
    await job.aclose()
    job.close_seconds = time.monotonic() - began
    return job, model, results, extra


# --- 1. replies arrive as text on the console room ------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_1_each_example_replies_in_text_and_the_turns_match_livekits_run_results(
        name, caplog):
    threads_before = real_threads()
    job, model, results, session = run(play(name, after=lambda job: job.session))
    _, steps, asks, replies, greets = SCENARIOS[name]
    invocations = job.invocations(reveal=True)
    assert list(invocations["user_text"]) == asks
    for invocation_id, result, expected in zip(invocations["invocation_id"], results, replies):
        assert isinstance(result, RunResult)
        assert run_result_texts(result) == expected          # LiveKit's own record of the turn
        assert model_texts(job, invocation_id) == expected   # agentnb's
        assert_turn_matches(job, invocation_id, result)
    if greets:   # the greeting of on_enter reached the user too, before any turn
        assert model_texts(job)[0] == steps[0].text
    assert model.calls == len(steps)
    # text output on the console room: no audio output, the example's own voice and ears
    # (hosted models, like inference.TTS/STT) never used
    assert session.output.audio is None or not session.output.audio_enabled
    assert [m.uses for m in CloudTTS.made + CloudSTT.made] == \
        [0] * len(CloudTTS.made + CloudSTT.made)
    assert livekit_errors(caplog) == []
    assert not [d for d in (r.data for r in job.trace.of("fact")) if "tts_node" in repr(d)]
    assert list(invocations["status"]) == ["ok"] * len(asks)
    assert job.observer.failures == 0
    assert job.close_seconds < 5 and not (real_threads() - threads_before)


def test_1_an_ask_right_after_start_keeps_the_greeting_out_of_the_turn():
    async def main():
        model = ScriptedLLM(BASIC_STEPS[:3])
        job = new_job(basic, model)
        await job.start()
        result = await job.ask(BASIC_ASKS[0])   # on_enter's greeting may still be running
        await job.aclose()
        return job, result

    job, result = run(main())
    [invocation_id] = job.invocations()["invocation_id"]
    assert run_result_texts(result) == BASIC_REPLIES[0]
    assert_turn_matches(job, invocation_id, result)
    assert model_texts(job) == [GREETING]          # recorded, outside the turn


@pytest.mark.parametrize("name", ["basic", "restaurant"])
def test_1_no_traceback_is_printed_where_no_logging_is_configured(name):
    """As in a notebook's kernel: the root logger has no handler, so Python prints what LiveKit
    logs at WARNING and above, tracebacks included."""
    script = f"""if True:
        import asyncio, os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_livekit_corpus as t
        async def main():
            job, model, results, _ = await t.play({name!r})
            print(repr(t.run_result_texts(results[0])))
        asyncio.run(main())
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "tts_node" not in done.stderr
    assert done.stdout.strip() == repr(SCENARIOS[name][3][0])


# --- 2. honest turn status ------------------------------------------------------------------

@pytest.mark.parametrize("name, turn, call_name, message", [
    ("basic", 1, "lookup_weather", "no weather data for Atlantis"),
    ("drive_thru", 1, "order_regular_item", "error: Apple Pie is not available today."),
    ("drive_thru", 2, "remove_order_item", "error: no item(s) found with order_id(s): O_NOPE00"),
    ("survey", 1, "update_email_address", "Invalid email address provided: sam at example dot com"),
])
def test_2_a_tool_error_marks_its_call_and_the_turn_is_ok_when_the_agent_replies(
        name, turn, call_name, message):
    job, _, results, _ = run(play(name))
    result = results[turn]
    # LiveKit hands the ToolError's message to the model as an error output, and it replies
    [output] = [e.item for e in result.events if isinstance(e, FunctionCallOutputEvent)]
    assert (output.name, output.is_error, output.output) == (call_name, True, message)
    assert run_result_texts(result) == SCENARIOS[name][3][turn]
    invocations = job.invocations()
    invocation_id = invocations["invocation_id"].iloc[turn]
    ev = job.events(reveal=True)
    [response] = [r for rs in ev[(ev["invocation_id"] == invocation_id)
                                 & (ev["kind"] == "function_response")]["function_responses"]
                  for r in rs]
    assert (response["name"], response["is_error"], response["response"]) == \
        (call_name, True, message)
    assert invocations["status"].iloc[turn] == "ok"
    assert pd.isna(invocations["error"].iloc[turn])
    assert set(invocations["status"]) == {"ok"}


def test_2_a_reply_that_never_reaches_the_user_is_not_ok():
    """An agent whose `transcription_node` (the text path to the user) fails: LiveKit logs
    "Error in _text_forwarding_task", no assistant message is added and RunResult holds only
    the tool call, yet nothing raises. The turn must not say ok."""
    class Forecaster(Agent):
        def __init__(self):
            super().__init__(instructions="Answer about the weather.")

        async def transcription_node(self, text, model_settings):
            async for chunk in text:
                raise RuntimeError("the text output is broken")
                yield chunk

        @function_tool
        async def lookup_weather(self, location: str) -> str:
            """Called when the user asks about the weather."""
            return "sunny"

    model = ScriptedLLM([call("lookup_weather", location="Paris"),
                         reply("It's sunny in Paris.")])

    async def entrypoint(ctx: JobContext):
        session = AgentSession(llm=model)
        await session.start(agent=Forecaster(), room=ctx.room)

    async def main():
        job = NotebookJob(entrypoint=entrypoint, display=False)
        result = await job.ask("weather in Paris?")
        await job.aclose()
        return job, result

    job, result = run(main())
    assert run_result_texts(result) == []          # LiveKit: the reply was never delivered
    assert [e.type for e in result.events] == ["function_call", "function_call_output"]
    [status] = job.invocations()["status"]
    [error] = job.invocations()["error"]
    assert status == "error"
    assert "text" in error.lower()


# --- 3. userdata: rows for real changes, a replay that adds up -------------------------------

def _top_level_changes(history) -> list:
    """(source, top-level field) of each non-initial row, consecutive duplicates merged (a
    nested dataclass may be recorded as one row or one row per dotted sub-key)."""
    rows = []
    for row in history.itertuples():
        if row.source == "initial":
            continue
        item = (row.source, str(row.key).split(".")[0])
        if not rows or rows[-1] != item:
            rows.append(item)
    return rows


def _plain(value) -> bool:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def _as_plain(value):
    if isinstance(value, BaseModel):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_as_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_plain(v) for k, v in value.items()}
    return value


def _replay(history) -> dict:
    """The userdata the history's rows add up to; dotted sub-keys rebuild their field."""
    state: dict = {}
    for row in history.itertuples():
        top, *rest = str(row.key).split(".")
        if not rest:
            state[top] = row.new
            continue
        node = state.setdefault(top, {})
        node = _as_plain(node)
        state[top] = node
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = row.new
    return state


def assert_replay_matches(job, userdata) -> None:
    replayed = _replay(job.history(reveal=True))
    final = {f.name: getattr(userdata, f.name) for f in dataclasses.fields(userdata)}
    plain = {k: v for k, v in final.items() if _plain(v)}
    assert plain, "a scenario with no plain userdata tests nothing"
    for key, value in plain.items():
        assert key in replayed, key
        assert _as_plain(replayed[key]) == _as_plain(value), key


def test_3_restaurant_userdata_rows_are_only_real_changes_and_replay_adds_up():
    checks = []

    def after(job):
        checks.append(job.session.userdata)
        assert_replay_matches(job, job.session.userdata)   # while the job runs, after a turn

    job, _, _, _ = run(play("restaurant", after=after))
    [userdata] = checks
    history = job.history(reveal=True)
    assert _top_level_changes(history) == [
        ("tool:to_takeaway", "prev_agent"),
        ("tool:update_order", "order"),
        ("tool:to_checkout", "prev_agent"),
        ("tool:confirm_expense", "expense"),
        ("userdata", "customer"),        # three tools in one step: the batch's change
        ("userdata", "card"),
        ("tool:confirm_checkout", "checked_out"),
        ("tool:confirm_checkout", "prev_agent"),
    ]
    # the agents dict, the client and the unchanged fields have their initial row only
    for key in ("agents", "client", "reservation_time", "reservation_id"):
        assert list(history[history["key"] == key]["source"]) == ["initial"], key
    # objects that cannot be copied faithfully: compared by identity, shown bounded
    prev = history[(history["key"] == "prev_agent") & (history["source"] != "initial")]
    for value, name in zip(prev["new"].tolist(), ["Greeter", "Takeaway", "Checkout"]):
        assert name in repr(value)
    for value in history["new"].tolist() + history["old"].tolist():
        assert len(repr(value)) <= 1000
    assert_replay_matches(job, userdata)
    assert userdata.checked_out is True and userdata.card.card_number == CARD


@pytest.mark.parametrize("name", ["multi_agent", "drive_thru", "survey"])
def test_3_the_replay_of_userdata_history_equals_the_final_userdata(name):
    job, _, _, session = run(play(name, after=lambda job: job.session))
    assert_replay_matches(job, session.userdata)
    history = job.history(reveal=True)
    # every non-initial row is a change of value
    for row in history[history["source"] != "initial"].itertuples():
        assert _as_plain(row.old) != _as_plain(row.new) or row.old is not row.new, row.key
    if name == "drive_thru":
        assert [k for _, k in _top_level_changes(history)] == ["order"]
    if name == "survey":
        results = session.userdata.task_results
        assert results["evaluation"] == "A good fit."
        assert results["get_email_task"] == {"email_address": "sam@example.com"}


# --- 4. card data is masked -----------------------------------------------------------------

def test_4_card_data_is_masked_in_the_view_frames_and_saved_trace_and_revealed_on_request(
        tmp_path):
    job, _, _, _ = run(play("restaurant"))
    secrets = [CARD, CARD_SPACED, EXPIRY]

    shown = {"view": job.view().html(), "frames": frames_text(job),
             "saved": Path(job.save(tmp_path / "masked.jsonl")).read_text(encoding="utf-8")}
    import agentnb
    loaded = agentnb.load(tmp_path / "masked.jsonl")
    shown["loaded frames"] = frames_text(loaded)
    for where, text in shown.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} shown in the {where}"
    # not everything with digits: a phone number and a 16-digit run failing Luhn stay visible
    assert PHONE in shown["frames"] and NOT_A_CARD in shown["frames"]

    # by key: the card's cvv and expiry in the tool's arguments and in userdata
    ev = job.events()
    [args] = [c["args"] for cs in ev[ev["kind"] == "function_call"]["function_calls"] for c in cs
              if c["name"] == "update_credit_card"]
    assert CVV not in repr(args["cvv"]) and EXPIRY not in repr(args["expiry"])
    card_rows = job.history()[lambda h: h["key"].str.startswith("card")]
    assert CVV not in repr(card_rows["new"].tolist())

    revealed = {"view": job.view(reveal=True).html(), "frames": frames_text(job, reveal=True),
                "saved": Path(job.save(tmp_path / "revealed.jsonl", reveal=True)).read_text(
                    encoding="utf-8")}
    for where, text in revealed.items():
        assert CARD in text and EXPIRY in text, where
    args_revealed = [c["args"] for cs in job.events(reveal=True)["function_calls"] for c in cs
                     if c["name"] == "update_credit_card"]
    assert args_revealed == [{"number": CARD, "expiry": EXPIRY, "cvv": CVV}]


# --- 5. examples run unchanged: prewarm=, llm=, %lk ----------------------------------------

def test_5_prewarm_runs_in_the_job_process_like_livekits_setup_fnc():
    loads = QuietVAD.loads

    def after(job):
        proc_vad = job.context.proc.userdata.get("vad")
        return proc_vad, job.session.vad

    job, _, _, (proc_vad, session_vad) = run(play("basic", after=after))
    assert QuietVAD.loads == loads + 1
    assert isinstance(proc_vad, QuietVAD) and session_vad is proc_vad
    [process] = [r.data for r in job.trace.of("fact") if r.topic == "process"]
    assert "vad" in process["userdata_keys"]


def test_5_a_failing_prewarm_fails_start_with_its_error_fast_and_leaves_nothing_running(
        monkeypatch):
    """LiveKit calls setup_fnc in the job thread; raising there kills that thread, and LiveKit
    itself then waits for a job that never comes."""
    def prewarm(proc):
        raise ValueError("the VAD model file is missing")

    threads_before, died = real_threads(), []
    monkeypatch.setattr(threading, "excepthook", died.append)   # a thread killed by it

    async def main():
        job = NotebookJob(entrypoint=basic.entrypoint, llm=ScriptedLLM(), prewarm=prewarm,
                          display=False)
        began = time.monotonic()
        with pytest.raises(ValueError, match="the VAD model file is missing"):
            await job.start()
        return job, time.monotonic() - began

    job, seconds = run(main())
    assert seconds < 10 and job.closed
    assert died == [] and not (real_threads() - threads_before)


def test_5_prewarm_must_be_callable_and_entrypoint_jobs_take_llm():
    with pytest.raises(TypeError, match="prewarm"):
        NotebookJob(entrypoint=basic.entrypoint, prewarm="vad")
    job = NotebookJob(entrypoint=basic.entrypoint, llm=ScriptedLLM(), prewarm=basic.prewarm)
    assert job.llm is not None


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_5_llm_becomes_the_model_of_the_sessions_the_entrypoint_starts(name):
    _, model, _, session_llm = run(play(name, after=lambda job: job.session.llm))
    assert session_llm is model
    assert model.calls == len(SCENARIOS[name][1])
    # the example's own cloud models were made, but never prewarmed (network) nor called
    assert CloudLLM.made
    assert [(m.model, m.prewarms, m.chats) for m in CloudLLM.made] == \
        [(m.model, 0, 0) for m in CloudLLM.made]


def test_5_llm_also_replaces_an_agents_own_model():
    """The story agent brings its own model (the example: a realtime model): with llm=, the
    script answers for it too, and the agent's cloud model is never used."""
    job, _, results, _ = run(play("multi_agent"))
    assert run_result_texts(results[0]) == MULTI_REPLIES[0]
    story_models = [m for m in CloudLLM.made if m.model == "gpt-realtime"]
    assert story_models and all((m.prewarms, m.chats) == (0, 0) for m in story_models)
    assert set(job.invocations()["status"]) == {"ok"}


def test_5_lk_magic_takes_llm_and_userdata(shell):
    model, notes = ScriptedLLM([reply("hi")]), {"mood": "calm"}
    shell.user_ns.update(echo=Agent(instructions="Echo."), model=model, notes=notes,
                         entrypoint=basic.entrypoint)
    result = shell.run_cell("job = %lk echo --llm model --userdata notes")
    assert result.success, result.error_in_exec
    job = shell.user_ns["job"]
    assert job.llm is model and job.userdata is notes
    result = shell.run_cell("job2 = %lk entrypoint --llm model")
    assert result.success, result.error_in_exec
    assert shell.user_ns["job2"].llm is model
    result = shell.run_cell("%lk echo --llm nothing_here")
    assert not result.success and "nothing_here" in str(result.error_in_exec)


# --- 6. handoffs and tasks are visible --------------------------------------------------------

def _head(html: str) -> str:
    return html.split("</style>", 1)[1].split('<div class="anb-body">', 1)[0]


def test_6_a_handoff_shows_who_is_speaking_and_is_in_the_timeline():
    from agentnb.jupyter.views import LiveView
    job, _, results, _ = run(play("restaurant"))
    invocations = job.invocations()
    ev = job.events(reveal=True)
    for turn, (old, new) in ((0, ("greeter", "takeaway")), (2, ("takeaway", "checkout")),
                             (5, ("checkout", "greeter"))):
        result, invocation_id = results[turn], invocations["invocation_id"].iloc[turn]
        [handoff] = [e for e in result.events if isinstance(e, AgentHandoffEvent)]
        assert (handoff.old_agent.id, handoff.new_agent.id) == (old, new)   # LiveKit's word
        mine = ev[ev["invocation_id"] == invocation_id]
        [row] = mine[mine["kind"] == "handoff"].itertuples()
        assert (row.event_id, row.transfer_to_agent, row.author) == (handoff.item.id, new, old)
        assert row.text == f"{old} → {new}"
        # who said what: the old agent answers its tool, then the new one greets
        said = [(r.author, r.text) for r in mine[mine["kind"] == "model"].itertuples()]
        assert said == list(zip((old, new), RESTAURANT_REPLIES[turn]))
        calls = mine[mine["kind"].isin(["function_call", "function_response"])]
        assert set(calls["author"]) == {old}
        # the turn's card says who is speaking now
        head = _head(LiveView(job.trace, invocation_id).html())
        assert new in head, head
    assert list(invocations["agent"]) == ["greeter", "takeaway", "takeaway", "checkout",
                                          "checkout", "checkout"]


def test_6_agent_tasks_are_steps_with_their_own_authors():
    job, _, _, history = run(play(
        "survey", after=lambda job: [(i.old_agent_id, i.new_agent_id)
                                                  for i in job.session.history.items
                                                  if i.type == "agent_handoff"]))
    ev = job.events(reveal=True)
    recorded = [(r.author or None, r.transfer_to_agent) for r in ev[ev["kind"] == "handoff"]
                .itertuples()]
    assert recorded == history            # every handoff LiveKit made, in its order
    assert ("task_group", "intro_task") in history and ("task_group", "survey_agent") in history
    invocations = job.invocations()
    assert list(invocations["agent"]) == ["intro_task", "get_email_task", "get_email_task",
                                          "commute_task", "experience_task"]
    for turn, task in enumerate(["intro_task", "get_email_task", "get_email_task",
                                 "commute_task", "experience_task"]):
        mine = ev[ev["invocation_id"] == invocations["invocation_id"].iloc[turn]]
        calls = mine[mine["kind"].isin(["function_call", "function_response"])]
        assert set(calls["author"]) == {task}, turn   # the task's tool, not the group's
    closing = ev[(ev["kind"] == "model") & (ev["text"] == SURVEY_THANKS)]
    assert list(closing["author"]) == ["survey_agent"]


# --- 7. what a callable step gets ----------------------------------------------------------

def test_7_callable_steps_get_chat_ctx_tools_tool_choice_and_the_agent():
    seen = []

    def step(answer):
        def scripted(chat_ctx, *, tools, tool_choice, agent):
            seen.append({"chat_ctx": chat_ctx, "tools": sorted(t.id for t in tools),
                         "tool_choice": tool_choice, "agent": agent})
            return answer
        return scripted

    steps = [step(s) for s in RESTAURANT_STEPS[:4]]
    _, _, _, agents = run(_restaurant_first_turn(steps))
    greeting, transfer_call, transfer_reply, takeaway_greeting = seen
    assert isinstance(greeting["chat_ctx"], llm.ChatContext)
    assert any("You are Greeter agent" in (i.text_content or "")
               for i in greeting["chat_ctx"].items if i.type == "message")
    assert greeting["agent"] is agents["greeter"] and greeting["tool_choice"] == "none"
    assert {"to_reservation", "to_takeaway"} <= set(greeting["tools"])
    assert transfer_call["agent"] is agents["greeter"] and transfer_call["tool_choice"] != "none"
    assert [i.text_content for i in transfer_call["chat_ctx"].items
            if i.type == "message" and i.role == "user"][-1] == RESTAURANT_ASKS[0]
    assert transfer_reply["agent"] is agents["greeter"]   # it answers its own tool
    assert takeaway_greeting["agent"] is agents["takeaway"]
    assert takeaway_greeting["tool_choice"] == "none"
    assert {"update_order", "to_checkout", "to_greeter"} <= set(takeaway_greeting["tools"])


def _restaurant_first_turn(steps):
    async def main():
        model = ScriptedLLM(steps)
        job = new_job(restaurant, model)
        await job.start()
        await wait_for(lambda: model_texts(job), "the greeting of on_enter")
        result = await job.ask(RESTAURANT_ASKS[0])
        agents = dict(job.session.userdata.agents)
        await job.aclose()
        return job, model, [result], agents
    return main()
