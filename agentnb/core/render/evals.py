"""An eval case's result as a card row: each metric's score against its threshold, and, turn by
turn, the expected and the actual tool calls and responses side by side (differences marked).

An adapter records one case's result as a `Fact` of topic `eval` whose data is plain values:
`eval_set_id, eval_id, status` (`passed`, `failed`, `not_evaluated`), `metrics` (one dict per
metric: `metric, score, threshold, status`) and `turns` (one dict per turn: `invocation_id,
user`, `expected` and `actual` as `{"tool_calls": [{"name", "args"}], "response": text}`, and
the turn's own `metrics`)."""
from __future__ import annotations

from typing import Any

from ..mask import mask_text, mask_value
from .escape import chip, clip, esc, show

STATUS_CLASS = {"passed": "anb-s-ok", "failed": "anb-s-error", "not_evaluated": "anb-s-waiting",
                "informational": ""}


def score_words(score: Any) -> str:
    return "—" if not isinstance(score, int | float) or score != score else f"{score:.3g}"


def eval_chip(status: str) -> str:
    return chip(status.replace("_", " "), STATUS_CLASS.get(status, ""))


def _calls(calls: list[dict[str, Any]], reveal: bool) -> str:
    if not calls:
        return '<span class=anb-note>none</span>'
    return "".join(f'<div class=anb-call>{esc(clip(c.get("name", "?"), 80))}('
                   f'{show(c.get("args", {}), None, reveal, 200)})</div>' for c in calls)


def _text(text: str | None, reveal: bool) -> str:
    if text is None:
        return '<span class=anb-note>none</span>'
    return f'<span class=anb-text>{esc(clip(text if reveal else mask_value(text), 600))}</span>'


def _calls_key(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(c.get("name")), repr(sorted((c.get("args") or {}).items()))) for c in calls]


def eval_html(data: dict[str, Any], reveal: bool = False) -> str:
    """One case: its verdict, each metric's score and threshold, and the turns side by side."""
    metrics = "".join(
        f'<tr><td class=anb-key>{esc(clip(m.get("metric", ""), 80))}</td>'
        f'<td>{esc(score_words(m.get("score")))}</td>'
        f'<td>{esc(score_words(m.get("threshold")))}</td>'
        f'<td>{eval_chip(str(m.get("status", "")))}</td></tr>' for m in data.get("metrics") or ())
    turns = []
    for i, turn in enumerate(data.get("turns") or (), 1):
        expected, actual = turn.get("expected") or {}, turn.get("actual") or {}
        same_calls = _calls_key(expected.get("tool_calls") or []) == _calls_key(
            actual.get("tool_calls") or [])
        same_text = (expected.get("response") or "").strip() == (actual.get("response") or "").strip()
        scores = " · ".join(f'{esc(m.get("metric", ""))} {esc(score_words(m.get("score")))}'
                            for m in turn.get("metrics") or () if m.get("score") is not None)
        turns.append(
            f'<tr class=anb-cmp-turn><th>turn {i}: <q>{esc(clip(mask_value(turn.get("user") or ""), 200))}'
            f'</q></th><th>expected</th><th>actual</th></tr>'
            f'<tr{"" if same_calls else " class=anb-diff"}><td>tool calls</td>'
            f'<td>{_calls(expected.get("tool_calls") or [], reveal)}</td>'
            f'<td>{_calls(actual.get("tool_calls") or [], reveal)}</td></tr>'
            f'<tr{"" if same_text else " class=anb-diff"}><td>response</td>'
            f'<td>{_text(expected.get("response"), reveal)}</td>'
            f'<td>{_text(actual.get("response"), reveal)}</td></tr>'
            + (f'<tr><td>scores</td><td></td><td>{scores}</td></tr>' if scores else ""))
    return (f'<div class="anb-row anb-eval"><span class=anb-key>{esc(clip(data.get("eval_id", ""), 120))}'
            f'</span> {eval_chip(str(data.get("status", "")))} <span class=anb-prov>eval set '
            f'{esc(clip(data.get("eval_set_id", ""), 120))}</span>'
            + (f' <span class=anb-error>the run failed: {esc(clip(mask_text(str(data["error"])), 300))}'
               f'</span>' if data.get("error") else "") +
            f'<table class=anb-cmp><tr><th>metric</th><th>score</th><th>threshold</th>'
            f'<th>status</th></tr>{metrics}</table>'
            f'<table class=anb-cmp>{"".join(turns)}</table></div>')


def eval_text(data: dict[str, Any]) -> str:
    metrics = ", ".join(f'{m.get("metric")} {score_words(m.get("score"))}/'
                        f'{score_words(m.get("threshold"))} {m.get("status")}'
                        for m in data.get("metrics") or () if m.get("status") != "informational")
    return f'eval {data.get("eval_id")} {data.get("status")}: {metrics}'
