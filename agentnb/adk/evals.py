"""ADK evals from the notebook: `evaluate` runs an ADK eval set on this runner and scores it
with ADK's own evaluation service; `save_evalset` makes a recorded session an eval case.

Each case runs in a new session of the runner (its `session_input.state` as the starting
state), turn by turn on the runner's own ADK `Runner`, so everything is recorded and the case
has one live card. The session's events become ADK eval `Invocation`s through ADK's own
`EvaluationGenerator.convert_events_to_eval_invocations` (what `adk eval` and `adk web` use),
and ADK's `LocalEvalService.evaluate` scores them with the metrics of the eval config, read as
`adk eval` reads it: `test_config.json` beside the eval set file, else ADK's default criteria
(`tool_trajectory_avg_score` 1.0, `response_match_score` 0.8, plus ADK's informational
efficiency metrics). Neither of the default criteria needs a judge model (response match is
ROUGE-1, from the `rouge-score` package); metrics that do need one call the model they name.
"""
from __future__ import annotations

import os
import re
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..core.evals import evals_frame
from ..core.faces import faces
from ..core.recorded import Invocation
from ..core.records import Fact, InvocationEnd, InvocationStart
from ..core.trace import Trace
from .mapping import text_of

_ID = re.compile(r"[^A-Za-z0-9_]")   # ADK's eval set and case ids: letters, digits, _


def eval_set_path(evalset: Any) -> str | None:
    """The path of an eval set file, or None for an `EvalSet`; a clear error for anything else."""
    from google.adk.evaluation.eval_set import EvalSet

    if isinstance(evalset, EvalSet):
        return None
    if not isinstance(evalset, str | os.PathLike):
        raise TypeError(f"agentnb: evaluate() takes an ADK EvalSet or the path of an eval set "
                        f"file, not {type(evalset).__name__}")
    path = os.fspath(evalset)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"agentnb: no eval set file {path!r}")
    return path


def load_eval_set(evalset: Any, config: Any = None) -> Any:
    """An `EvalSet`, from itself or from a file, read by ADK's own loaders: an eval set file
    (`*.evalset.json`, or its older list of cases) as `adk eval` reads it, else a `.test.json`
    list of turns as ADK's `AgentEvaluator` reads it (checked against `config`)."""
    from google.adk.evaluation.agent_evaluator import AgentEvaluator
    from google.adk.evaluation.local_eval_sets_manager import load_eval_set_from_file

    path = eval_set_path(evalset)
    if path is None:
        return evalset
    try:
        return load_eval_set_from_file(path, _ID.sub("_", Path(path).name))
    except Exception:
        pass
    try:
        return AgentEvaluator._load_eval_set_from_file(path, config or eval_config(None, path), {})
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"agentnb: {path!r} is not an ADK eval set: {first}") from None


def eval_config(config: Any, evalset_path: str | None) -> Any:
    """The `EvalConfig` ADK would use: `config` (an `EvalConfig`, a dict of criteria, or the
    path of an eval config file), else `test_config.json` beside the eval set file (as `adk
    eval` and `AgentEvaluator` look for it), else ADK's default criteria."""
    from google.adk.evaluation.eval_config import EvalConfig, get_evaluation_criteria_or_default

    if config is None:
        beside = os.path.join(os.path.dirname(evalset_path), "test_config.json") if evalset_path else None
        return get_evaluation_criteria_or_default(beside)
    if isinstance(config, dict):
        return EvalConfig(criteria=config)
    if isinstance(config, str | os.PathLike):
        if not os.path.isfile(config):
            raise FileNotFoundError(f"agentnb: no eval config file {os.fspath(config)!r}")
        return get_evaluation_criteria_or_default(os.fspath(config))
    if not isinstance(config, EvalConfig):
        raise TypeError(f"agentnb: config must be an ADK EvalConfig, a dict of criteria or a "
                        f"path, not {type(config).__name__}")
    return config


def _calls(invocation: Any) -> list[dict[str, Any]]:
    from google.adk.evaluation.eval_case import get_all_tool_calls
    if invocation is None:
        return []
    return [{"name": c.name, "args": dict(c.args or {})}
            for c in get_all_tool_calls(invocation.intermediate_data)]


def _side(invocation: Any) -> dict[str, Any]:
    if invocation is None:
        return {"tool_calls": [], "response": None}
    final = invocation.final_response
    return {"tool_calls": _calls(invocation), "response": text_of(final) if final else None}


def _metric(result: Any) -> dict[str, Any]:
    return {"metric": result.metric_name, "score": result.score,
            "threshold": result.threshold, "status": result.eval_status.name.lower()}


def case_data(eval_set_id: str, case: Any, result: Any, error: str | None) -> dict[str, Any]:
    """What the `eval` fact keeps of ADK's `EvalCaseResult` (shape: core/render/evals.py)."""
    turns = []
    per_invocation = result.eval_metric_result_per_invocation if result else []
    for i, expected in enumerate(case.conversation or ()):
        done = per_invocation[i] if i < len(per_invocation) else None
        turns.append({"invocation_id": done.actual_invocation.invocation_id if done else None,
                      "user": text_of(expected.user_content),
                      "expected": _side(expected),
                      "actual": _side(done.actual_invocation if done else None),
                      "metrics": [_metric(m) for m in done.eval_metric_results] if done else []})
    data: dict[str, Any] = {
        "eval_set_id": eval_set_id, "eval_id": case.eval_id,
        "status": result.final_eval_status.name.lower() if result else "failed",
        "metrics": [_metric(m) for m in result.overall_eval_metric_results] if result else [],
        "turns": turns}
    if error:
        data["error"] = error
    return data


def _durations(trace: Trace, session_id: str) -> dict[str, float]:
    starts = {r.invocation_id: r.time for r in trace.of("invocation_start", session_id)
              if isinstance(r, InvocationStart)}
    return {r.invocation_id: round(r.time - starts[r.invocation_id], 3)
            for r in trace.of("invocation_end", session_id)
            if isinstance(r, InvocationEnd) and r.invocation_id in starts}


class Evals:
    """`evaluate` and `save_evalset` for `NotebookRunner` (a base class of it)."""

    # What NotebookRunner provides.
    trace: Trace
    app_name: str
    user_id: str
    session_id: str
    display: bool
    app: Any
    agent: Any
    session_service: Any
    ask: Callable[..., Awaitable[Invocation]]
    get_session: Callable[..., Awaitable[Any]]
    _ensure_session: Callable[..., Awaitable[None]]

    async def evaluate(self, evalset: Any, *, config: Any = None,
                       eval_ids: list[str] | None = None) -> Any:
        """Run an ADK eval set (an `EvalSet`, or a `*.evalset.json` / `.test.json` path) on
        this runner and score it with ADK's `LocalEvalService` and the metrics of `config`
        (default: as `adk eval` reads them). Each case runs in a new session, with one live
        card. Returns one row per case and metric: `eval_id, metric, score, threshold,
        passed, status, session_id, eval_set_id`."""
        from google.adk.evaluation.eval_config import get_eval_metrics_from_config

        config = eval_config(config, eval_set_path(evalset))
        eval_set = load_eval_set(evalset, config)
        metrics = get_eval_metrics_from_config(config)
        cases = [c for c in eval_set.eval_cases if eval_ids is None or c.eval_id in eval_ids]
        if eval_ids is not None and len(cases) != len(set(eval_ids)):
            missing = sorted(set(eval_ids) - {c.eval_id for c in cases})
            raise ValueError(f"agentnb: no eval case {missing[0]!r} in eval set "
                             f"{eval_set.eval_set_id!r}")
        scripted = [c.eval_id for c in cases if c.conversation is None]
        if scripted:
            raise ValueError(f"agentnb: eval case {scripted[0]!r} has a conversation_scenario "
                             f"(an LLM plays the user): evaluate() runs static conversations")
        sessions = []
        with warnings.catch_warnings():   # ADK marks its eval service [EXPERIMENTAL], each use
            warnings.filterwarnings("ignore", r"\[EXPERIMENTAL\]", UserWarning)
            for case in cases:
                sessions.append(await self._evaluate_case(eval_set, case, metrics))
        return evals_frame(self.trace.snapshot(), sessions)

    async def _score(self, eval_set: Any, case: Any, metrics: list[Any], session_id: str) -> Any:
        """ADK's `EvalCaseResult` of a case run in `session_id`, from ADK's `LocalEvalService`."""
        from google.adk.evaluation.base_eval_service import (EvaluateConfig, EvaluateRequest,
                                                             InferenceResult, InferenceStatus)
        from google.adk.evaluation.evaluation_generator import EvaluationGenerator
        from google.adk.evaluation.in_memory_eval_sets_manager import InMemoryEvalSetsManager
        from google.adk.evaluation.local_eval_service import LocalEvalService

        session = await self.get_session(session_id)
        actual = EvaluationGenerator.convert_events_to_eval_invocations(
            session.events, None, _durations(self.trace, session_id))
        sets = InMemoryEvalSetsManager()
        sets.create_eval_set(self.app_name, eval_set.eval_set_id)
        sets.add_eval_case(self.app_name, eval_set.eval_set_id, case)
        service = LocalEvalService(root_agent=self.agent, eval_sets_manager=sets,
                                   session_service=self.session_service, app=self.app)
        inference = InferenceResult(
            app_name=self.app_name, eval_set_id=eval_set.eval_set_id, eval_case_id=case.eval_id,
            inferences=actual, session_id=session_id, status=InferenceStatus.SUCCESS)
        request = EvaluateRequest(inference_results=[inference],
                                  evaluate_config=EvaluateConfig(eval_metrics=metrics))
        results = [r async for r in service.evaluate(request)]   # one case: one result
        return results[0]

    async def _evaluate_case(self, eval_set: Any, case: Any, metrics: list[Any]) -> str:
        session_id = f"eval-{_ID.sub('_', case.eval_id)[:40]}-{uuid.uuid4().hex[:8]}"
        state = dict(case.session_input.state) if case.session_input else {}
        shown, self.display = self.display, False   # the case's card, not one per turn
        error, result = None, None
        try:
            with faces().live_session_card(self.trace, session_id, f"eval case {case.eval_id}",
                                           shown):
                await self._ensure_session(session_id, state)
                try:
                    for turn in case.conversation or ():
                        await self.ask(turn.user_content, session_id=session_id)
                except Exception as exc:   # ADK's inference: a failing run fails the case
                    error = f"{type(exc).__name__}: {exc}"
                if error is None:
                    result = await self._score(eval_set, case, metrics, session_id)
                self.trace.append(Fact(session_id, None, time.time(), "eval",
                                       case_data(eval_set.eval_set_id, case, result, error)))
        finally:
            self.display = shown
        return session_id

    async def save_evalset(self, path: str | os.PathLike[str], *, session_id: str | None = None,
                           eval_id: str | None = None) -> str | os.PathLike[str]:
        """Write a session of this runner (default: the current one) as an ADK eval case,
        its expected turns being what the session did, into the eval set file `path` (made,
        or the case added to it: a case of the same id is replaced). `adk eval` and
        `evaluate()` take the file. Returns `path`."""
        from google.adk.evaluation.eval_case import EvalCase, SessionInput
        from google.adk.evaluation.eval_set import EvalSet
        from google.adk.evaluation.evaluation_generator import EvaluationGenerator

        session_id = session_id or self.session_id
        session = await self.get_session(session_id)
        if session is None or not session.events:
            raise ValueError(f"agentnb: session {session_id!r} has no events to save as an "
                             f"eval case")
        starts = [r for r in self.trace.of("session", session_id)]
        state = dict(starts[0].state) if starts else {}
        case = EvalCase(
            eval_id=eval_id or _ID.sub("_", session_id),
            conversation=EvaluationGenerator.convert_events_to_eval_invocations(session.events),
            session_input=SessionInput(app_name=self.app_name, user_id=self.user_id,
                                       state=state),
            creation_timestamp=time.time())
        target = Path(path)
        if target.exists():
            eval_set = load_eval_set(target)
            eval_set.eval_cases = [c for c in eval_set.eval_cases if c.eval_id != case.eval_id]
        else:
            name = target.name.removesuffix(".json").removesuffix(".evalset")
            eval_set = EvalSet(eval_set_id=_ID.sub("_", name), eval_cases=[],
                               creation_timestamp=time.time())
        eval_set.eval_cases.append(case)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(eval_set.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")
        os.replace(partial, target)
        return path
