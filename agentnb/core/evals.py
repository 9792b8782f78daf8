"""Eval results as a DataFrame: one row per case and metric, from the `eval` facts an adapter
recorded (their shape: `core.render.evals`)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import Fact, Record

EVAL_COLUMNS = ["eval_id", "metric", "score", "threshold", "passed", "status", "session_id",
                "eval_set_id"]


def evals_frame(records: Sequence[Record], session_ids: Sequence[str] | None = None) -> Any:
    """One row per case and metric: `passed` is True or False for a metric that passes or
    fails, None for one ADK did not evaluate or that only informs (`status` says which). A
    case whose run failed before any metric has one row, its `metric` None."""
    import pandas as pd
    rows = []
    for r in records:
        if not (isinstance(r, Fact) and r.topic == "eval"):
            continue
        if session_ids is not None and r.session_id not in session_ids:
            continue
        # A case whose run failed has no metric (as ADK reports it): one row says so.
        metrics = r.data.get("metrics") or [{"metric": None, "status": r.data.get("status")}]
        for m in metrics:
            status = m.get("status")
            rows.append({"eval_id": r.data.get("eval_id"), "metric": m.get("metric"),
                         "score": m.get("score"), "threshold": m.get("threshold"),
                         "passed": {"passed": True, "failed": False}.get(status),
                         "status": status, "session_id": r.session_id,
                         "eval_set_id": r.data.get("eval_set_id")})
    frame = pd.DataFrame(rows, columns=EVAL_COLUMNS)
    for column in ("score", "threshold"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["passed"] = pd.Series([r["passed"] for r in rows], dtype=object)
    return frame
