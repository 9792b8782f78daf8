"""Where the time went: the spans of one run (OpenTelemetry's, as an adapter recorded them),
joined to the run's invocations, events and tool calls, and as a DataFrame.

An adapter records the spans of one run as one `Fact` of topic `spans` whose `data["spans"]` is
a list of plain dicts (`SPAN_FIELDS`), so saved traces keep them and `load()` gives them back.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import Fact, Record

SPAN_FIELDS = ("span_id", "parent_id", "name", "start", "end", "invocation_id", "event_id",
               "call_id")
RUN_SPANS = ("invoke_", "invocation")   # the spans of a run itself, not of a step in it
SPAN_COLUMNS = ["session_id", "span_id", "parent_id", "name", "start", "end", "duration_s",
                "invocation_id", "event_id", "call_id"]


def join_invocations(spans: list[dict[str, Any]]) -> None:
    """Give every span of a run an invocation id. Only some spans carry one (ADK puts it on
    `generate_content`): a run's own spans (`invoke_workflow`, `invoke_agent`) take the id of
    their nearest descendant that has one, every other span (a tool call, a user's own span
    inside a tool) its parent's. So a nested run (an AgentTool's) keeps its own id, and the
    tool call that started it its caller's."""
    children: dict[Any, list[dict[str, Any]]] = {}
    for s in spans:
        children.setdefault(s.get("parent_id"), []).append(s)

    def below(span: dict[str, Any]) -> Any:
        level = children.get(span["span_id"], [])
        while level:
            found = next((s["invocation_id"] for s in level if s.get("invocation_id")), None)
            if found:
                return found
            level = [c for s in level for c in children.get(s["span_id"], [])]
        return None

    for s in spans:
        if not s.get("invocation_id") and str(s.get("name", "")).startswith(RUN_SPANS):
            s["invocation_id"] = below(s)
    by_id = {s["span_id"]: s for s in spans}
    for s in sorted(spans, key=lambda s: s["start"]):   # parents start before their children
        parent = by_id.get(s.get("parent_id"))
        if not s.get("invocation_id") and parent is not None:
            s["invocation_id"] = parent.get("invocation_id")


def in_tree_order(spans: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(depth, span) in waterfall order: each span after its parent, siblings by start time."""
    ids = {s["span_id"] for s in spans}
    children: dict[Any, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_id") if s.get("parent_id") in ids else None
        children.setdefault(parent, []).append(s)
    out: list[tuple[int, dict[str, Any]]] = []
    stack = [(0, s) for s in sorted(children.get(None, []), key=_start, reverse=True)]
    while stack:
        depth, span = stack.pop()
        out.append((depth, span))
        stack += [(depth + 1, c) for c in sorted(children.get(span["span_id"], []), key=_start,
                                                 reverse=True)]
    return out


def _start(span: dict[str, Any]) -> float:
    return float(span["start"])


def span_rows(records: Sequence[Record], session_id: str | None = None) -> list[dict[str, Any]]:
    """One dict per recorded span (`SPAN_COLUMNS`), in the order the runs were recorded."""
    rows = []
    for r in records:
        if isinstance(r, Fact) and r.topic == "spans" and (session_id is None
                                                           or r.session_id == session_id):
            for s in r.data.get("spans") or ():
                row = {"session_id": r.session_id, **{k: s.get(k) for k in SPAN_FIELDS}}
                row["duration_s"] = float(s["end"]) - float(s["start"])
                rows.append(row)
    return rows


def spans_frame(records: Sequence[Record], session_id: str | None = None) -> Any:
    """`spans()`: one row per span; `start` and `end` as UTC timestamps."""
    import numpy
    import pandas as pd
    rows = span_rows(records, session_id)
    frame = pd.DataFrame(rows, columns=SPAN_COLUMNS)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(numpy.asarray([r[column] for r in rows], dtype="float64"),
                                       unit="s", utc=True)
    for column in ("span_id", "parent_id", "name", "invocation_id", "event_id", "call_id"):
        frame[column] = pd.Series([r[column] for r in rows], dtype=object)
    return frame
