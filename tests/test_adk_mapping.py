"""The ADK adapter's pure mapping functions, on real ADK and genai objects."""
from google.adk.events import Event, EventActions
from google.genai import types

from agentnb.adk.mapping import call_dicts, describe_part, event_kind, last_user_text, text_of


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
