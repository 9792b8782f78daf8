"""The ADK adapter's pure mapping functions, on real ADK and genai objects."""
from google.adk.events import Event, EventActions
from google.genai import types

from agentnb.adk.mapping import (
    call_dicts,
    code_parts,
    describe_part,
    event_kind,
    event_output,
    interrupt_ids,
    last_user_text,
    node_path,
    pending_rows,
    text_of,
    written,
)


def content(role, *parts):
    return types.Content(role=role, parts=list(parts))


def test_text_of_joins_text_parts_and_skips_thoughts():
    c = content("model", types.Part(text="a"), types.Part(text="hidden", thought=True), types.Part(text="b"))
    assert text_of(c) == "ab" and text_of(None) == ""


def test_last_user_text_is_the_newest_user_turn_with_text():
    contents = [content("user", types.Part(text="first")), content("model", types.Part(text="x")),
                content("user", types.Part(text="second")),
                content("user", types.Part(function_response=types.FunctionResponse(name="f", response={})))]
    assert last_user_text(contents) == "second" and last_user_text([]) == ""


def test_calls_and_responses_are_copied_dicts():
    args = {"items": ["tea"]}
    event = Event(author="a", content=content(
        "model", types.Part(function_call=types.FunctionCall(id="c1", name="f", args=args)),
        types.Part(function_response=types.FunctionResponse(id="c0", name="g", response={"ok": 1}))))
    calls, responses = call_dicts(event)
    assert calls == [{"id": "c1", "name": "f", "args": {"items": ["tea"]}}]
    assert responses == [{"id": "c0", "name": "g", "response": {"ok": 1}}]
    args["items"].append("milk")
    assert calls[0]["args"] == {"items": ["tea"]}


def test_event_kinds():
    model = Event(author="a", content=content("model", types.Part(text="hi")))
    assert event_kind(model, [], [], "hi") == "model"
    assert event_kind(Event(author="user"), [], [], "") == "user"
    assert event_kind(Event(author="user", actions=EventActions(rewind_before_invocation_id="i")),
                      [], [], "") == "rewind"
    assert event_kind(Event(author="a", error_code="X"), [], [], "") == "error"
    assert event_kind(Event(author="a"), [{}], [], "") == "function_call"
    assert event_kind(Event(author="a"), [], [{}], "") == "function_response"
    assert event_kind(Event(author="a", actions=EventActions(transfer_to_agent="b")), [], [], "") == "transfer"
    assert event_kind(Event(author="a", actions=EventActions(state_delta={"k": 1})), [], [], "") == "state"
    assert event_kind(Event(author="a"), [], [], "") == "other"


def test_describe_part_bounds_previews_by_type():
    assert describe_part(None) == (None, 0, "")
    assert describe_part(types.Part(text="héllo")) == ("text/plain", 6, "héllo")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 10
    mime, size, preview = describe_part(types.Part(inline_data=types.Blob(mime_type="image/png", data=png)))
    assert (mime, size) == ("image/png", len(png)) and preview.startswith("data:image/png;base64,")
    big = types.Part(inline_data=types.Blob(mime_type="image/png", data=b"0" * 70_000))
    assert describe_part(big)[2] == ""                          # too big to inline
    svg = types.Part(inline_data=types.Blob(mime_type="image/svg+xml", data=b"<svg/>"))
    assert describe_part(svg) == ("image/svg+xml", 6, "<svg/>")   # text, never an <img>
    ref = types.Part(file_data=types.FileData(mime_type="text/plain", file_uri="gs://b/f"))
    assert describe_part(ref) == ("text/plain", 0, "reference: gs://b/f")


# --- issue 20 -----------------------------------------------------------------------------------

def test_written_compares_snapshots_by_identity():
    value = {"a": 1}
    before = {"kept": value, "same": 1}
    after = {"kept": value, "same": 1, "new": 2, "replaced": None}
    after_replace = dict(after, kept={"a": 1})   # an equal value written again is a write
    assert written(before, after) == ["new", "replaced"]
    assert written(before, after_replace) == ["kept", "new", "replaced"]


def test_code_execution_parts_have_their_own_kinds():
    code = Event(author="a", content=content("model", types.Part(
        executable_code=types.ExecutableCode(code="print(1)", language=types.Language.PYTHON))))
    result = Event(author="a", content=content("model", types.Part(
        code_execution_result=types.CodeExecutionResult(outcome=types.Outcome.OUTCOME_OK, output="1\n"))))
    assert code_parts(code) == ("executable_code", "print(1)", {"language": "PYTHON"})
    assert code_parts(result) == ("code_execution_result", "1\n", {"outcome": "OUTCOME_OK"})
    assert event_kind(code, [], [], "", code_parts(code)) == "executable_code"
    assert code_parts(Event(author="a")) is None


def test_node_path_and_output_as_adk_stores_them():
    from google.adk.events.event import NodeInfo
    routed = Event(author="wf", output={"ticket": 1}, node_info=NodeInfo(path="wf@1/route@1"))
    assert node_path(routed) == "wf@1/route@1" and event_output(routed) == {"ticket": 1}
    # an LLM node's output is its message: the runner stores it with output None
    message = Event(author="llm", output="BUG", content=content("model", types.Part(text="BUG")),
                    node_info=NodeInfo(path="wf@1/llm@1", message_as_output=True))
    assert event_output(message) is None
    assert node_path(Event(author="user")) is None


def _call(call_id, name, **args):
    return types.Part(function_call=types.FunctionCall(id=call_id, name=name, args=args))


def _answer(call_id, name, response):
    return Event(author="user", content=content("user", types.Part(function_response=types.FunctionResponse(
        id=call_id, name=name, response=response))))


def _record(event):
    from agentnb.core.records import Event as Record
    calls, responses = call_dicts(event)
    return Record("s", event.invocation_id, event.id, 0.0, event.author, "x", "", calls, responses,
                  long_running=interrupt_ids(event, calls))


def test_pending_rows_follow_adks_own_index_of_open_interrupts():
    from google.adk.events._interrupts import extract_event_interrupt_ids, index_open_interrupts
    long_running = Event(author="a", invocation_id="i1", long_running_tool_ids={"c1"},
                         content=content("model", _call("c1", "ask_for_approval", amount=200)))
    confirmation = Event(author="a", invocation_id="i2", long_running_tool_ids={"c3"},
                         content=content("model", _call("c3", "adk_request_confirmation", **{
                             "originalFunctionCall": {"id": "c2", "name": "transfer", "args": {"n": 5}},
                             "toolConfirmation": {"hint": "Send 5?", "confirmed": False, "payload": {"n": 5}}})))
    tool = Event(author="a", invocation_id="i3", content=content("model", _call("c4", "forecast", city="Oslo")))
    credential = Event(author="a", invocation_id="i3",   # no long_running_tool_ids: found by name
                       content=content("model", _call("c5", "adk_request_credential", functionCallId="c4",
                                                      authConfig={"authScheme": {"type": "apiKey"}})))
    events = [long_running, confirmation, tool, credential]
    for event in events:
        assert interrupt_ids(event, call_dicts(event)[0]) == sorted(extract_event_interrupt_ids(event))
    rows = pending_rows(map(_record, events))
    assert [r["call_id"] for r in rows] == sorted(index_open_interrupts(events)) == ["c1", "c3", "c5"]
    assert [(r["kind"], r["tool"], r["args"], r["hint"]) for r in rows] == [
        ("long_running", "ask_for_approval", {"amount": 200}, None),
        ("confirmation", "transfer", {"n": 5}, "Send 5?"),
        ("credential", "forecast", {"city": "Oslo"}, "apiKey")]
    assert rows[1]["payload"] == {"n": 5} and rows[1]["function_call_id"] == "c2"
    assert [r["request"] for r in rows] == ["ask_for_approval", "adk_request_confirmation",
                                            "adk_request_credential"]
    # answered by the user: closed; answered by the agent (a long-running tool's first result): open
    answered = [*events, Event(author="a", content=content("model", types.Part(
        function_response=types.FunctionResponse(id="c1", name="ask_for_approval", response={})))),
        _answer("c3", "adk_request_confirmation", {"confirmed": True})]
    assert [r["call_id"] for r in pending_rows(map(_record, answered))] == sorted(
        index_open_interrupts(answered)) == ["c1", "c5"]
