"""Two sessions' states side by side, turn by turn, differences marked."""
from __future__ import annotations

from typing import Any

from ..fold import State
from ..mask import mask_value
from ..records import SCOPES, scope_of
from .escape import clip, esc, show, stylesheet
from .rows import short

Turn = tuple[str | None, State]
_ABSENT = object()


def turn_label(said: str | None) -> str:
    """A turn's heading: the start of the session, or what the user said in it."""
    return "start" if said is None else f"after “{clip(mask_value(said), 40)}”"


def comparison(a_turns: list[Turn], b_turns: list[Turn], names: tuple[str, str] = ("a", "b"),
               reveal: bool = False) -> tuple[str, str]:
    """Two sessions' states side by side, aligned by turn, differences marked: (html, text)."""
    rows, lines = [], []
    for i in range(max(len(a_turns), len(b_turns))):
        (a_label, a_state), (b_label, b_state) = [
            (turn_label(turns[i][0]), turns[i][1]) if i < len(turns) else ("—", None)
            for turns in (a_turns, b_turns)]
        keys = sorted(set(a_state or {}) | set(b_state or {}),
                      key=lambda k: (SCOPES.index(scope_of(k)), k))
        cells = []
        for key in keys:
            va = (a_state or {}).get(key, _ABSENT)
            vb = (b_state or {}).get(key, _ABSENT)
            differs = a_state is not None and b_state is not None and va != vb
            mark = " anb-diff" if differs else ""
            cells.append(f'<tr class="anb-cmp-row{mark}"><td class="anb-key">{esc(clip(key, 80))}</td>'
                         f'<td>{_cmp_value(va, key, reveal)}</td><td>{_cmp_value(vb, key, reveal)}</td></tr>')
            if differs:
                lines.append(f"turn {i}: {key}: {short(None if va is _ABSENT else va, key, reveal)} | "
                             f"{short(None if vb is _ABSENT else vb, key, reveal)}")
        rows.append(f'<tr class="anb-cmp-turn"><th>turn {i}</th><th>{esc(a_label)}</th>'
                    f'<th>{esc(b_label)}</th></tr>' + "".join(cells))
    head = f'<tr><th>key</th><th>{esc(names[0])}</th><th>{esc(names[1])}</th></tr>'
    html = (f'<div class="anb-root mathjax_ignore"><style>{stylesheet()}</style><div class="anb-head">'
            f'<span class="anb-title">{esc(names[0])} vs {esc(names[1])}</span> '
            f'<span class="anb-sub">{len(lines)} differing values</span></div>'
            f'<table class="anb-cmp">{head}{"".join(rows)}</table></div>')
    text = "\n".join([f"{names[0]} vs {names[1]}: {len(lines)} differing values", *lines])
    return html, text


def _cmp_value(value: Any, key: str, reveal: bool) -> str:
    if value is _ABSENT:
        return '<span class="anb-note">absent</span>'
    return show(value, key, reveal, 120)
