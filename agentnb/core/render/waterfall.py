"""A run's spans as a waterfall: one bar per span, indented under its parent, placed on the
run's own time axis. An SVG of escaped text and numbers (no script, no style attribute), so it
shows the same live, in a saved notebook and in nbconvert's HTML."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..timing import in_tree_order
from .escape import clip, esc

MAX_SPANS = 80          # bars drawn per run; the rest are counted
ROW_H, LABEL_W, BAR_W, WIDTH = 16, 250, 330, 660
_KINDS = (("invoke_", "run"), ("invocation", "run"), ("generate_content", "model"),
          ("call_llm", "model"), ("execute_tool", "tool"))


def span_kind(name: str) -> str:
    """What a span times, as the waterfall colours it: a run, a model call, a tool, other."""
    return next((kind for prefix, kind in _KINDS if name.startswith(prefix)), "other")


def duration_words(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def waterfall_html(spans: Sequence[dict[str, Any]],
                   calls: dict[str, int] | None = None) -> str:
    """The waterfall of one run's spans (`core.timing.SPAN_FIELDS` dicts); a tool span names
    its call's number in the card (`calls`: call id -> number) as the Timeline does."""
    if not spans:
        return ""
    calls = calls or {}
    ordered = in_tree_order(spans)
    start = min(float(s["start"]) for s in spans)
    total = max(float(s["end"]) for s in spans) - start or 1e-9
    shown = ordered[:MAX_SPANS]
    height = ROW_H * (len(shown) + (1 if len(ordered) > MAX_SPANS else 0)) + 4
    out = [f'<svg class=anb-wf xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
           f'height="{height}" role=img aria-label="where the time went">']
    for i, (depth, s) in enumerate(shown):
        y = ROW_H * i + 12
        x1 = LABEL_W + BAR_W * (float(s["start"]) - start) / total
        x2 = max(x1 + 1.5, LABEL_W + BAR_W * (float(s["end"]) - start) / total)
        number = calls.get(s.get("call_id") or "")
        label = clip(str(s["name"]), 40 - 2 * min(depth, 8)) + (f" #{number}" if number else "")
        out.append(f'<text x="{4 + 10 * min(depth, 8)}" y="{y}" class=anb-wf-label>'
                   f'{esc(label)}</text><line x1="{x1:.1f}" y1="{y - 4}" x2="{x2:.1f}" '
                   f'y2="{y - 4}" class="anb-wf-bar anb-wf-{span_kind(str(s["name"]))}"/>'
                   f'<text x="{WIDTH - 4}" y="{y}" text-anchor="end" class=anb-wf-label>'
                   f'{esc(duration_words(float(s["end"]) - float(s["start"])))}</text>')
    if len(ordered) > MAX_SPANS:
        out.append(f'<text x="4" y="{height - 4}" class=anb-wf-label>… '
                   f'{len(ordered) - MAX_SPANS} more spans (runner.spans() has them all)</text>')
    out.append("</svg>")
    return f'<div class="anb-row anb-waterfall">{"".join(out)}</div>'


def waterfall_text(spans: Sequence[dict[str, Any]]) -> str:
    """The text face: the run's root span and how long it took, and how many spans."""
    ordered = in_tree_order(spans)
    if not ordered:
        return "spans: none"
    root = ordered[0][1]
    return (f"spans: {len(spans)}, {root['name']} "
            f"{duration_words(float(root['end']) - float(root['start']))}")
