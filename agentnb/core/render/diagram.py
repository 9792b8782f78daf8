"""An invocation as a sequence diagram: arrows from records, drawn as Mermaid and as SVG."""
from __future__ import annotations

from ..mask import mask_value
from ..records import Event, InvocationEnd, InvocationStart, Record, StateChange
from .escape import clip, esc, stylesheet
from .rows import short

PARTICIPANTS = (("U", "user"), ("R", "runner"), ("A", "agent"), ("M", "model"), ("T", "tool"),
                ("S", "state"))


Step = tuple[str, str, str, bool]   # (from, to, label, is a reply)


def sequence_steps(r: Record) -> list[Step]:
    """The arrows one record adds to an invocation's sequence diagram."""
    if isinstance(r, InvocationStart):
        return [("U", "R", str(mask_value(r.user_text)), False), ("R", "A", f"run {r.agent}", False)]
    if isinstance(r, Event) and r.author != "user":
        steps: list[Step] = []
        if r.function_calls:
            steps.append(("A", "M", "request", False))
            steps += [("M", "A", f"call {c['name']}", True) for c in r.function_calls]
            steps += [("A", "T", f"{c['name']}({short(c['args'], None, False)})", False)
                      for c in r.function_calls]
        steps += [("T", "A", f"{c['name']} result", True) for c in r.function_responses]
        if r.event_kind == "model":
            steps += [("A", "M", "request", False), ("M", "A", str(mask_value(r.text)), True)]
        if r.transfer_to_agent:
            steps.append(("A", "A", f"transfer to {r.transfer_to_agent}", False))
        return steps
    if isinstance(r, StateChange) and r.source != "initial":
        writer = "T" if r.source.startswith("tool:") else ("U" if r.source == "user" else "A")
        return [(writer, "S", f"{r.key} = {short(r.new, r.key, False)}", False)]
    if isinstance(r, InvocationEnd):
        return [("R", "U", r.status, True)]
    return []


def mermaid(steps: list[Step]) -> str:
    """Mermaid sequence-diagram source for the steps of one invocation."""
    def label(text: str) -> str:  # Mermaid has no escaping: keep labels to plain, short words
        return "".join(ch if ch.isalnum() or ch in " _-.:=" else " " for ch in str(text))[:60].strip() or "."
    lines = ["sequenceDiagram", *(f"    participant {p} as {name}" for p, name in PARTICIPANTS)]
    lines += [f"    {a}{'-->>' if reply else '->>'}{b}: {label(text)}" for a, b, text, reply in steps]
    return "\n".join(lines)


def sequence_svg(steps: list[Step], max_steps: int = 120) -> str:
    """The same diagram drawn as an SVG (escaped text, no script), for every face."""
    column = {p: i for i, (p, _) in enumerate(PARTICIPANTS)}
    width, step_h, top = 130, 24, 34
    shown = steps[:max_steps]
    height = top + step_h * (len(shown) + 1)
    out = [f'<svg class="anb-seq" xmlns="http://www.w3.org/2000/svg" width="{width * len(PARTICIPANTS)}" '
           f'height="{height}" role="img" aria-label="sequence diagram">']
    for p, name in PARTICIPANTS:
        x = column[p] * width + width // 2
        out.append(f'<text x="{x}" y="16" text-anchor="middle" class="anb-seq-name">{esc(name)}</text>'
                   f'<line x1="{x}" y1="22" x2="{x}" y2="{height}" class="anb-seq-life"/>')
    for i, (a, b, text, reply) in enumerate(shown):
        y = top + step_h * i + 12
        x1, x2 = (column[a] * width + width // 2, column[b] * width + width // 2)
        if x1 == x2:
            x2 = x1 + 30
        mid = (x1 + x2) // 2
        dash = ' stroke-dasharray="4 3"' if reply else ""
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" class="anb-seq-arrow"{dash}/>'
                   f'<text x="{mid}" y="{y - 3}" text-anchor="middle" class="anb-seq-label">'
                   f'{esc(clip(text, 34))}</text>')
        tip = -6 if x2 > x1 else 6
        out.append(f'<path d="M{x2},{y} l{tip},-4 l0,8 z" class="anb-seq-head"/>')
    if len(steps) > max_steps:
        out.append(f'<text x="4" y="{height - 4}" class="anb-seq-label">… {len(steps) - max_steps} more steps</text>')
    out.append("</svg>")
    return "".join(out)


class SequenceDiagram:
    """A sequence diagram of one invocation, with a Mermaid face and an SVG face."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.source = mermaid(steps)

    def __repr__(self) -> str:
        return self.source

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        svg = f'<div class="anb-root mathjax_ignore"><style>{stylesheet()}</style>{sequence_svg(self.steps)}</div>'
        return {"text/plain": self.source, "text/vnd.mermaid": self.source, "text/html": svg}
