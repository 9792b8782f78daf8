"""The live-patch wire format, defined once (the page's side is `static/view.js`).

A following view sends custom widget messages `{"kind": "agentnb-patch", "ops": [...]}`. Each
op replaces the view's head, appends rendered rows to a section, or replaces a section's tail
(what is going on now: a tool that has not returned), creating the section from its shell
(the widget's `shells` trait) when it is not on the page yet:

    {"op": "head",   "html": "<div class=anb-head>…"}
    {"op": "append", "section": "events" | "lane-<scope>" | …, "html": ["<div …>", …],
     "skipped": N}          # rows left out of this message to stay in budget (counted)
    {"op": "tail",   "section": "events", "html": "<div …>…"}     # "" when nothing is going on

Every fragment is HTML rendered and escaped in Python; the page only places it. The `shells`
trait lists the sections in the order the snapshot draws them, and the page puts a new one in
that place. Like a snapshot, the page keeps at most `MAX_ROWS` rows a section (`CONTEXT_ROWS`
for the context explorer) and shows the newest `SHOWN_ROWS` of them, the rest behind a "show
all" (the widget's `limits` trait says so).
"""
from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

PATCH_KIND: Literal["agentnb-patch"] = "agentnb-patch"
MAX_ROWS = 200              # rows a section keeps, in a snapshot and on the page
CONTEXT_ROWS = 50           # context rows are many (about ten per invocation): fewer are kept
SHOWN_ROWS = 20             # rows a section shows; the others it keeps are behind "show all"
MESSAGE_BUDGET = 4_000      # bytes of rows per patch: at ~10 patches/s, under 50 kB/s


class HeadOp(TypedDict):
    op: Literal["head"]
    html: str


class AppendOp(TypedDict):
    op: Literal["append"]
    section: str
    html: list[str]
    skipped: NotRequired[int]


class TailOp(TypedDict):
    op: Literal["tail"]
    section: str
    html: str


Op = HeadOp | AppendOp | TailOp


class PatchMessage(TypedDict):
    kind: Literal["agentnb-patch"]
    ops: list[Op]


def limits() -> dict[str, int]:
    """What the page must know of the limits above (the widget's `limits` trait)."""
    return {"maxRows": MAX_ROWS, "contextRows": CONTEXT_ROWS, "shownRows": SHOWN_ROWS}


def message(ops: list[Op], budget: int = MESSAGE_BUDGET) -> PatchMessage:
    """A patch that stays small under a burst: each section sends its newest rows that fit its
    share of `budget` bytes (at least one, at most the MAX_ROWS the page keeps), and says how
    many it skipped, so the page's counts stay right. The saved snapshot has them all."""
    appends: list[AppendOp] = []
    for op in ops:
        if op["op"] == "append":
            appends.append(op)
    share = budget // max(1, len(appends))
    for op in appends:
        rows, size = op["html"], 0
        kept: list[str] = []
        for row in reversed(rows[-MAX_ROWS:]):
            if kept and size + len(row) > share:
                break
            kept.append(row)
            size += len(row)
        if len(kept) < len(rows):
            op["skipped"] = len(rows) - len(kept)
            op["html"] = kept[::-1]
    return PatchMessage(kind=PATCH_KIND, ops=ops)
