"""Exercises for the teaching notebooks: a blank the learner fills, a hint, or "Right".

One exercise is one notebook cell tagged `exercise`. Above the line `# ---- check ----` the
learner fills a blank: a value (`answer = ...`) or a function whose body is `...`. Below it the
notebook's own check compares the answer with the truth it reads from the live objects (the
runner, its history, the session ADK stored), so the right answer is written nowhere in the
notebook:

    answer = ...
    # ---- check ----
    check(answer, runner.last_invocation.status, task="...", hint="...", right="...")

Every outcome is one printed line, and nothing raises, so Run All always finishes (and nothing
is returned, so a check as a cell's last line shows no `Out[]`):
`Not yet: <task>` for a blank, `Not quite: <hint>` for a wrong answer (the hint says where to
look), `Right: <why>` for the right one. Pure Python: no IPython, no framework.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["BLANK", "RIGHT", "WRONG", "check", "check_code", "is_blank"]

BLANK, WRONG, RIGHT = "Not yet", "Not quite", "Right"   # how each printed line starts

Hint = str | Callable[[Any], str]


def is_blank(answer: Any) -> bool:
    """True for what a learner has not filled in yet: `...` (also inside a dict, list, tuple or
    set) or a function whose body is only `...` or `pass` (a docstring may stay)."""
    if answer is Ellipsis:
        return True
    if isinstance(answer, dict):
        return any(is_blank(v) for v in answer.values())
    if isinstance(answer, (list, tuple, set, frozenset)):
        return any(v is Ellipsis for v in answer)
    if inspect.isfunction(answer):
        return _stub_body(answer)
    return False


def check(answer: Any, expected: Any, *, task: str, hint: Hint, right: str,
          key: Callable[[Any], Any] | None = None) -> None:
    """Print what the learner's `answer` deserves: a line starting `BLANK`, `WRONG` or `RIGHT`.

    `expected` is the truth, read from the live objects; `key` (e.g. `set`) is applied to both
    before they are compared with `==`. `hint` is text or `hint(answer) -> text`: where to look in
    the card, the frames or the code. Never raises."""
    if is_blank(answer):
        _say(BLANK, task)
        return
    try:
        same = (key(answer) == key(expected)) if key else bool(answer == expected)
    except Exception as error:              # e.g. key=set on a number: a wrong kind of answer
        same = False
        hint = f"{_hint_text(hint, answer)} (your answer could not be compared: {error})"
    _say(RIGHT, right) if same else _say(WRONG, _hint_text(hint, answer))


async def check_code(fn: Any, trial: Callable[[Any], Awaitable[str | None] | str | None], *,
                     task: str, right: str) -> None:
    """Run the learner's function `fn` through `trial` and print the outcome.

    `trial(fn)` (plain or async) runs `fn` against the real framework and returns None when it
    did what was asked, or a hint. If the learner's code raises, the hint names the error
    instead of a traceback. A stub (body `...`) is a blank. Never raises."""
    if is_blank(fn):
        _say(BLANK, task)
    elif not callable(fn):
        _say(WRONG, f"this should be a function (`def ...`), not a {type(fn).__name__}.")
    else:
        try:
            outcome = trial(fn)
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except Exception as error:
            outcome = f"your code raised {type(error).__name__}: {error}"
        _say(RIGHT, right) if outcome is None else _say(WRONG, outcome)


def _hint_text(hint: Hint, answer: Any) -> str:
    if callable(hint):
        try:
            return str(hint(answer))
        except Exception:
            return "compare your answer with what the cells above show."
    return hint


def _say(verdict: str, text: str) -> None:
    print(f"{verdict}: {text}")


def _stub_body(fn: Callable[..., Any]) -> bool:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):   # no source to read: not a stub we can tell
        return False
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]                          # the docstring
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                           and s.value.value is Ellipsis) for s in body)
